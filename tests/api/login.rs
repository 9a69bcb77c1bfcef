use livedesk::domain::Role;
use livedesk::storage::login_attempts;

use crate::both_backends;
use crate::helpers::*;

const FAILED: &str = "Wrong username, password or captcha.";

async fn assert_refused(res: reqwest::Response, status: u16) -> String {
    assert_eq!(res.status().as_u16(), status);
    let body = res.text().await.unwrap();
    assert!(body.contains(FAILED), "generic message expected:\n{body}");
    body
}

async fn login_lands_on_the_dashboard_with_the_agents_name(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", "lin-password", Role::Agent).await;
    app.login_ok("lin", "lin-password").await;
    let (status, body) = app.get_text("/agent").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"<strong id="agent-name">lin</strong>"#),
        "{body}"
    );
    assert!(
        !body.contains("admin-link"),
        "agents do not see the admin console link"
    );
    assert!(app.agent("lin").await.last_login_at.is_some());
    // Usernames are case-insensitive.
    let other = app.new_browser();
    other.login_ok("LIN", "lin-password").await;
}

async fn failures_all_look_the_same_and_are_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", "lin-password", Role::Agent).await;
    assert_refused(app.login("lin", "wrong-password").await, 401).await;
    assert_refused(app.login("nobody", "lin-password").await, 401).await;
    assert_refused(app.login_with("lin", "lin-password", "wrong").await, 401).await;
    // Still anonymous.
    let r = app.get("/agent").await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(location(&r), "/login");

    let trail = app
        .storage
        .run(|c| login_attempts::latest(c, 10))
        .await
        .unwrap();
    let outcomes: Vec<_> = trail.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        ["bad_captcha", "bad_credentials", "bad_credentials"]
    );
    assert!(trail.iter().all(|a| a.ip == "127.0.0.1" && !a.success));
}

async fn disabled_agents_cannot_log_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let lin = app.add_agent("lin", "lin-password", Role::Agent).await;
    app.storage
        .run(move |c| livedesk::storage::agents::set_active(c, lin.id, false))
        .await
        .unwrap();
    assert_refused(app.login("lin", "lin-password").await, 401).await;
}

async fn empty_and_oversized_fields_get_a_clear_4xx(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.login("", "").await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("Please fill in"));
    let long = "a".repeat(200);
    assert_eq!(app.login(&long, "pw-pw-pw-pw").await.status().as_u16(), 400);
    assert_eq!(app.login("admin", &long).await.status().as_u16(), 400);
    // A body past the form limit.
    let huge = "x".repeat(100_000);
    let r = app
        .post_with_csrf_from("/login", "/login", &[("username", &huge)])
        .await;
    assert_eq!(r.status().as_u16(), 413);
    let body = r.text().await.unwrap();
    assert!(body.contains("too large"), "{body}");
    // Garbage instead of a form.
    let r = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("%%%=&&=%zz")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    // Nothing of this was recorded as a login attempt, and nothing crashed.
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
}

async fn five_failures_per_ip_give_429_until_the_window_passes(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..5 {
        assert_refused(app.login("admin", "wrong-password").await, 401).await;
    }
    // Even the right password is refused now, without checking it.
    let r = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(r.status().as_u16(), 429);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    // Another username from the same IP is limited too.
    assert_eq!(
        app.login("someone", "whatever-pw").await.status().as_u16(),
        429
    );

    app.clock.advance(chrono::Duration::seconds(901));
    app.login_admin().await;
}

async fn a_success_resets_the_failure_count(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..4 {
        app.login("admin", "wrong-password").await;
    }
    app.login_admin().await;
    let b = app.new_browser();
    for _ in 0..4 {
        assert_refused(b.login("admin", "wrong-password").await, 401).await;
    }
    b.login_admin().await;
}

async fn a_captcha_answers_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.csrf_of_page("/login").await;
    let form = |pw: &'static str| {
        [
            ("csrf_token", token.clone()),
            ("username", "admin".into()),
            ("password", pw.into()),
            ("captcha", CAPTCHA.into()),
        ]
    };
    let r = app
        .client
        .post(app.url("/login"))
        .form(&form("wrong-password"))
        .send()
        .await
        .unwrap();
    assert_refused(r, 401).await;
    // Same challenge again, now with the right password: the challenge is spent.
    let r = app
        .client
        .post(app.url("/login"))
        .form(&form(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_refused(r, 401).await;
    // Loading the image arms a new challenge.
    let img = app.get("/captcha").await;
    assert_eq!(img.status().as_u16(), 200);
    assert_eq!(img.headers()["content-type"], "image/png");
    assert_eq!(&img.bytes().await.unwrap()[1..4], b"PNG");
    let r = app
        .client
        .post(app.url("/login"))
        .form(&form(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
}

async fn a_captcha_expires_after_five_minutes(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.csrf_of_page("/login").await;
    app.clock.advance(chrono::Duration::seconds(301));
    let form = [
        ("csrf_token", token.as_str()),
        ("username", "admin"),
        ("password", ADMIN_PASSWORD),
        ("captcha", CAPTCHA),
    ];
    let r = app
        .client
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_refused(r, 401).await;
    // Within the five minutes it works.
    let token = app.csrf_of_page("/login").await;
    app.clock.advance(chrono::Duration::seconds(290));
    let form = [
        ("csrf_token", token.as_str()),
        ("username", "admin"),
        ("password", ADMIN_PASSWORD),
        ("captcha", CAPTCHA),
    ];
    let r = app
        .client
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
}

async fn captcha_answers_ignore_case(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .login_with("admin", ADMIN_PASSWORD, &CAPTCHA.to_lowercase())
        .await;
    assert_eq!(r.status().as_u16(), 303);
}

async fn posts_without_the_right_csrf_token_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get("/login").await;
    let creds = [
        ("username", "admin"),
        ("password", ADMIN_PASSWORD),
        ("captcha", CAPTCHA),
    ];
    let r = app.post_form("/login", &creds).await;
    assert_eq!(r.status().as_u16(), 403);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("did not come from this site"));
    let mut wrong = vec![("csrf_token", "forged-token")];
    wrong.extend_from_slice(&creds);
    assert_eq!(app.post_form("/login", &wrong).await.status().as_u16(), 403);
    // A token from another session does not work either.
    let other = app.new_browser();
    let foreign = other.csrf_of_page("/login").await;
    let mut theirs = vec![("csrf_token", foreign.as_str())];
    theirs.extend_from_slice(&creds);
    assert_eq!(
        app.post_form("/login", &theirs).await.status().as_u16(),
        403
    );

    // Logged in, logout without a token does nothing.
    app.login_admin().await;
    assert_eq!(app.post_form("/logout", &[]).await.status().as_u16(), 403);
    assert_eq!(app.get("/agent").await.status().as_u16(), 200);
}

async fn login_renews_the_session_and_logout_ends_it(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get("/login").await;
    let before = app.session_cookie().expect("anonymous session");
    app.login_admin().await;
    let after = app.session_cookie().expect("session after login");
    assert_ne!(before, after, "session key must change at login");

    // The pre-login key is worthless: an attacker who planted it gains nothing.
    let planted = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = planted
        .get(app.url("/agent"))
        .header("Cookie", format!("livedesk_session={before}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);

    let r = app.post_with_csrf_from("/agent", "/logout", &[]).await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(location(&r), "/login");
    let r = app.get("/agent").await;
    assert_eq!(r.status().as_u16(), 303);
    // The logged-out key no longer works even if someone kept a copy.
    let r = planted
        .get(app.url("/agent"))
        .header("Cookie", format!("livedesk_session={after}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
}

async fn a_malformed_session_cookie_is_just_no_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for junk in ["garbage", "", "%%%%", &"A".repeat(5000)] {
        let r = c
            .get(app.url("/agent"))
            .header("Cookie", format!("livedesk_session={junk}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303, "cookie {junk:?}");
        let r = c
            .get(app.url("/login"))
            .header("Cookie", format!("livedesk_session={junk}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "cookie {junk:?}");
    }
}

both_backends!(
    login_lands_on_the_dashboard_with_the_agents_name,
    failures_all_look_the_same_and_are_audited,
    disabled_agents_cannot_log_in,
    empty_and_oversized_fields_get_a_clear_4xx,
    five_failures_per_ip_give_429_until_the_window_passes,
    a_success_resets_the_failure_count,
    a_captcha_answers_once,
    a_captcha_expires_after_five_minutes,
    captcha_answers_ignore_case,
    posts_without_the_right_csrf_token_are_refused,
    login_renews_the_session_and_logout_ends_it,
    a_malformed_session_cookie_is_just_no_session,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_http_only_and_lax_and_secure_when_configured() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app.get("/login").await;
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Secure"),
        "{set}"
    );

    let secure = spawn_app_with(Backend::Sqlite, |s| s.secure_cookies = true).await;
    let r = secure.get("/login").await;
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains("Secure") && set.contains("HttpOnly"), "{set}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_speaks_english_and_chinese() {
    let app = spawn_app(Backend::Sqlite).await;
    let zh = app
        .client
        .get(app.url("/login"))
        .header("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(zh.contains("客服登录") && zh.contains(r#"lang="zh-CN""#));
    let (_, en) = app.get_text("/login").await;
    assert!(en.contains("Agent sign-in"));

    // The switcher remembers the choice, and refuses to redirect off-site.
    let r = app.get("/lang/zh?next=/login").await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(location(&r), "/login");
    let (_, page) = app.get_text("/login").await;
    assert!(page.contains("客服登录"));
    let r = app.get("/lang/en?next=//evil.example/").await;
    assert_eq!(location(&r), "/");
    let (_, page) = app.get_text("/login").await;
    assert!(page.contains("Agent sign-in"));
    assert_eq!(app.get("/lang/fr").await.status().as_u16(), 404);
}

/// A burst of sign-ins: every one gets in (hashes take turns, a few at a
/// time), nobody gets an error page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sign_ins_all_get_in() {
    let app = spawn_app(Backend::Sqlite).await;
    for i in 0..20 {
        app.add_agent(&format!("burst{i}"), "burst-password", Role::Agent)
            .await;
    }
    let browsers: Vec<TestApp> = (0..20).map(|_| app.new_browser()).collect();
    let tries = browsers.iter().enumerate().map(|(i, b)| async move {
        let r = b.login(&format!("burst{i}"), "burst-password").await;
        (r.status().as_u16(), location(&r))
    });
    let results = futures_util::future::join_all(tries).await;
    assert!(
        results.iter().all(|(s, to)| *s == 303 && to == "/agent"),
        "{results:?}"
    );
}
