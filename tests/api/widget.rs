//! The widget's HTTP surface: the loader, the panel page (localized, framable,
//! escaping what the embedding site passes in) and the admin presence feed.

use livedesk::domain::Role;

use crate::both_backends;
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loader_is_javascript_any_site_can_load() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app.get("/widget.js").await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let body = r.text().await.unwrap();
    assert!(body.contains("window.livedesk") && body.contains("/widget?"));
    assert!(
        body.len() < 16 * 1024,
        "the loader stays small: {} bytes",
        body.len()
    );
    for asset in [
        "shared.js",
        "visitor.js",
        "dashboard.js",
        "admin.js",
        "widget.css",
        "app.css",
    ] {
        assert_eq!(
            app.get(&format!("/static/{asset}")).await.status().as_u16(),
            200,
            "{asset}"
        );
    }
    assert_eq!(
        app.get("/static/../Cargo.toml").await.status().as_u16(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_may_be_framed_by_any_site_other_pages_by_none() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app.get("/widget").await;
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors *"), "{csp}");
    assert!(!r.headers().contains_key("x-frame-options"));
    let r = app.get("/login").await;
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_follows_its_locale_and_escapes_what_it_is_given() {
    let app = spawn_app(Backend::Sqlite).await;
    let (_, zh) = app.get_text("/widget?locale=zh").await;
    assert!(
        zh.contains("开始咨询") && zh.contains(r#"lang="zh-CN""#),
        "{zh}"
    );
    let r = app
        .client
        .get(app.url("/widget"))
        .header("Accept-Language", "zh-CN")
        .send()
        .await
        .unwrap();
    assert!(
        r.text().await.unwrap().contains("开始咨询"),
        "browser language is the default"
    );
    let (_, en) = app.get_text("/widget?locale=en").await;
    assert!(en.contains("Start chatting"));

    let (_, page) = app
        .get_text(
            "/widget?greeting=%3Cscript%3Ealert(1)%3C%2Fscript%3E&accent=red%3Bx&title=%3Cb%3Ehi",
        )
        .await;
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(
        page.contains("&#60;script&#62;alert(1)") || page.contains("&lt;script&gt;alert(1)"),
        "{page}"
    );
    assert!(
        page.contains(r##"data-accent="#2764d8""##),
        "an invalid colour falls back: {page}"
    );
    assert!(!page.contains("<b>hi"));
    let (_, custom) = app
        .get_text("/widget?accent=%230e7c66&ask_name=false")
        .await;
    assert!(
        custom.contains(r##"data-accent="#0e7c66""##)
            && custom.contains(r#"data-ask-name="false""#)
    );
}

async fn presence_is_for_admins_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get("/admin/presence").await;
    assert_eq!(r.status().as_u16(), 303);
    app.add_agent("lin", "agent-password", Role::Agent).await;
    let (lin_browser, _ws, _) = app.agent_online("lin", "agent-password").await;
    assert_eq!(
        lin_browser.get("/admin/presence").await.status().as_u16(),
        403
    );
    app.login_admin().await;
    let r = app.get("/admin/presence").await;
    assert_eq!(r.status().as_u16(), 200);
    let list: serde_json::Value = r.json().await.unwrap();
    assert_eq!(list[0]["name"], "lin");
    assert_eq!(list[0]["status"], "online");
    assert_eq!(list[0]["open_conversations"], 0);
}

both_backends!(presence_is_for_admins_only);
