//! The admin console's integrations page: tokens, webhooks and the identity
//! secret, each secret shown once; forms need their CSRF token; agents who
//! are not admins are kept out.

use scraper::{Html, Selector};

use crate::both_backends;
use crate::helpers::*;
use crate::receiver::Receiver;
use crate::rest::Api;
use livedesk::domain::Role;

both_backends!(tokens_webhooks_and_the_identity_secret_from_the_console);

const PAGE: &str = "/admin/integrations";

fn shown_once(html: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse("#shown-once").unwrap();
    doc.select(&sel).next().map(|e| e.text().collect())
}

async fn tokens_webhooks_and_the_identity_secret_from_the_console(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.webhook_allow_private = true).await;
    // Not for agents.
    app.add_agent("lin", "agent-password", Role::Agent).await;
    let agent = app.new_browser();
    agent.login_ok("lin", "agent-password").await;
    assert_ne!(agent.get(PAGE).await.status(), 200);
    app.login_admin().await;
    // A token: shown once, then only its first characters.
    let r = app
        .post_with_csrf_from(
            PAGE,
            "/admin/integrations/tokens",
            &[("name", "crm"), ("scope", "write"), ("expires_days", "30")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let token = shown_once(&html).expect("the token, once");
    assert!(token.starts_with("ldk_"));
    let (_, again) = app.get_text(PAGE).await;
    assert!(shown_once(&again).is_none() && !again.contains(&token));
    assert!(again.contains(&token[..10]));
    let api = Api::with_token(&app, &token);
    assert_eq!(api.get("/agents").await.0, 200);
    // Bad input: no name, a silly expiry; no CSRF token.
    let r = app
        .post_with_csrf_from(
            PAGE,
            "/admin/integrations/tokens",
            &[("name", " "), ("scope", "read")],
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .post_with_csrf_from(
            PAGE,
            "/admin/integrations/tokens",
            &[("name", "x"), ("expires_days", "-3")],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        app.post_form("/admin/integrations/tokens", &[("name", "x")])
            .await
            .status(),
        403
    );
    // Revoked from the console: refused from then on.
    let id = {
        let doc = Html::parse_document(&again);
        let sel = Selector::parse("tr[data-token=crm] form").unwrap();
        let action = doc
            .select(&sel)
            .next()
            .unwrap()
            .value()
            .attr("action")
            .unwrap()
            .to_owned();
        action
    };
    assert_eq!(app.post_with_csrf_from(PAGE, &id, &[]).await.status(), 303);
    assert_eq!(api.get("/agents").await.0, 401);
    // A webhook: its secret shown once; it signs what the receiver gets.
    let mut rx = Receiver::start().await;
    let r = app
        .post_with_csrf_from(
            PAGE,
            "/admin/integrations/webhooks",
            &[("url", &rx.url), ("message.created", "on")],
        )
        .await;
    let secret = shown_once(&r.text().await.unwrap()).expect("the secret, once");
    let mut v = Ws::visitor(&app).await;
    v.begin("hello").await;
    let hit = rx.next().await;
    assert!(crate::webhooks::signed_by(&hit, &secret));
    // Its page lists the delivery; "send again" sends the same one.
    let (_, list) = app.get_text(PAGE).await;
    let hook_page = {
        let doc = Html::parse_document(&list);
        let sel = Selector::parse("ul.hooks a").unwrap();
        let href = doc
            .select(&sel)
            .next()
            .unwrap()
            .value()
            .attr("href")
            .unwrap()
            .to_owned();
        href
    };
    let (s, html) = app.get_text(&hook_page).await;
    assert_eq!(s, 200);
    let redeliver = {
        let doc = Html::parse_document(&html);
        let sel = Selector::parse("tr[data-status=delivered] form").unwrap();
        let action = doc
            .select(&sel)
            .next()
            .expect("a delivered row")
            .value()
            .attr("action")
            .unwrap()
            .to_owned();
        action
    };
    assert_eq!(
        app.post_with_csrf_from(&hook_page, &redeliver, &[])
            .await
            .status(),
        303
    );
    assert_eq!(
        rx.next().await.header("x-livedesk-delivery"),
        hit.header("x-livedesk-delivery")
    );
    // A private address is refused unless allowed; no events, refused.
    let r = app
        .post_with_csrf_from(PAGE, "/admin/integrations/webhooks", &[("url", &rx.url)])
        .await;
    assert_eq!(r.status(), 400);
    // The identity secret: shown once; hashes made with it verify.
    let r = app
        .post_with_csrf_from(PAGE, "/admin/integrations/identity", &[])
        .await;
    let site = shown_once(&r.text().await.unwrap()).expect("the site secret, once");
    let hash = livedesk::domain::signing::hmac_hex(site.as_bytes(), b"c-1");
    let mut known = Ws::visitor(&app).await;
    known
        .send(serde_json::json!({"type": "hello", "identifier": "c-1", "identifier_hash": hash}))
        .await;
    let w = known.expect("welcome").await;
    let (_, visitor) = crate::rest::Api::new(&app, livedesk::storage::api_tokens::Scope::Read)
        .await
        .get(&format!("/visitors/{}", w["visitor_id"]))
        .await;
    assert_eq!(visitor["verified"], true);
}
