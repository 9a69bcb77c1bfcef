//! Found from outside: redirects, headers on every page, and who may read /metrics.

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_switch_redirects_only_within_the_site() {
    let app = spawn_app(Backend::Sqlite).await;
    for bad in [
        "/%09/evil.example/",
        "/%0a/evil.example/",
        "//evil.example/",
        "/%5Cevil.example",
        "/..//evil.example",
        "https://evil.example/",
        "/%0aX:%20y",
        "/%0d%0aSet-Cookie:%20x=1",
    ] {
        let r = app.get(&format!("/lang/en?next={bad}")).await;
        assert_eq!(r.status().as_u16(), 303, "next={bad}");
        assert_eq!(location(&r), "/", "next={bad}");
        assert!(!r.headers().contains_key("x"), "next={bad}");
    }
    let r = app.get("/lang/zh?next=/admin/agents%3Fq%3D1").await;
    assert_eq!(location(&r), "/admin/agents?q=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_pages_carry_the_same_protection_as_other_pages() {
    let app = spawn_app(Backend::Sqlite).await;
    let big = "x".repeat(64 * 1024);
    let responses = vec![
        ("404", app.get("/no/such/page").await),
        (
            "413",
            app.client
                .post(app.url("/login"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!("username={big}"))
                .send()
                .await
                .unwrap(),
        ),
        (
            "405",
            app.client.delete(app.url("/login")).send().await.unwrap(),
        ),
    ];
    for (what, r) in responses {
        assert!(r.status().is_client_error(), "{what}: {}", r.status());
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{what} has no CSP"))
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert!(!h.contains_key("strict-transport-security"), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_is_sent_when_cookies_are_secure() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.secure_cookies = true).await;
    for path in ["/login", "/no/such/page", "/healthz"] {
        let r = app.get(path).await;
        assert_eq!(
            r.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_require_a_token() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.metrics_token = Some(livedesk::config::Secret::new(
            "m3trics-t0ken-of-some-length",
        ))
    })
    .await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status().as_u16(), 401);
    assert!(!r.text().await.unwrap().contains("livedesk_"));
    for wrong in [
        "Bearer nope",
        "Bearer m3trics-t0ken-of-some-lengtH",
        "m3trics-t0ken-of-some-length",
    ] {
        let r = app
            .client
            .get(app.url("/metrics"))
            .header("Authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{wrong}");
    }
    let r = app
        .client
        .get(app.url("/metrics"))
        .header("Authorization", "Bearer m3trics-t0ken-of-some-length")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("livedesk_"));

    // Without the setting, metrics stay public as before.
    let open = spawn_app(Backend::Sqlite).await;
    assert_eq!(open.get("/metrics").await.status().as_u16(), 200);
}
