//! Sign-in throttling that stops guessing without letting strangers lock
//! accounts: wrong captchas never count against an account, and an account's
//! limit binds only the addresses that guessed wrong for it.

use crate::both_backends;
use crate::helpers::*;

/// One sign-in attempt as a client at `ip` behind the trusted proxy; returns the status.
async fn attempt(app: &TestApp, ip: &str, username: &str, password: &str, captcha: &str) -> u16 {
    // What our proxy appends is what counts; the client's own entry is ignored.
    let xff = format!("10.9.9.9, {ip}");
    attempt_via(app, &xff, username, password, captcha).await
}

/// One sign-in attempt with this `X-Forwarded-For`; returns the status.
async fn attempt_via(
    app: &TestApp,
    xff: &str,
    username: &str,
    password: &str,
    captcha: &str,
) -> u16 {
    let token = app.csrf_of_page("/login").await;
    app.client
        .post(app.url("/login"))
        .header("X-Forwarded-For", xff)
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", username),
            ("password", password),
            ("captcha", captcha),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn wrong_captchas_cannot_lock_an_account(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.trust_proxy = true).await;
    let attacker = app.new_browser();
    for _ in 0..5 {
        assert_eq!(
            attempt(&attacker, "198.51.100.7", "admin", "guess", "wrong").await,
            401
        );
    }
    // The attacker's own address is throttled…
    assert_eq!(
        attempt(&attacker, "198.51.100.7", "admin", ADMIN_PASSWORD, CAPTCHA).await,
        429
    );
    // …the account is not: its owner signs in from elsewhere.
    let owner = app.new_browser();
    assert_eq!(
        attempt(&owner, "203.0.113.5", "admin", ADMIN_PASSWORD, CAPTCHA).await,
        303
    );
}

async fn password_guessing_is_still_throttled_per_account(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.trust_proxy = true).await;
    let attacker = app.new_browser();
    // Five real guesses (right captcha, wrong password) from five addresses.
    for i in 0..5 {
        let ip = format!("198.51.100.{i}");
        assert_eq!(
            attempt(&attacker, &ip, "admin", "nope-nope", CAPTCHA).await,
            401
        );
    }
    // An address that guessed wrong is refused even with the right password,
    // without the password being checked.
    assert_eq!(
        attempt(&attacker, "198.51.100.0", "admin", ADMIN_PASSWORD, CAPTCHA).await,
        429
    );
    // A new address gets one guess per window while the account is under attack…
    assert_eq!(
        attempt(&attacker, "198.51.100.77", "admin", "nope-again", CAPTCHA).await,
        401
    );
    assert_eq!(
        attempt(&attacker, "198.51.100.77", "admin", ADMIN_PASSWORD, CAPTCHA).await,
        429
    );
    // …so the owner from a clean address still gets in.
    let owner = app.new_browser();
    assert_eq!(
        attempt(&owner, "203.0.113.5", "admin", ADMIN_PASSWORD, CAPTCHA).await,
        303
    );
    // And once the window has passed, the guessing addresses may try again.
    app.clock.advance(chrono::Duration::seconds(901));
    assert_eq!(
        attempt(&attacker, "198.51.100.0", "admin", ADMIN_PASSWORD, CAPTCHA).await,
        303
    );
}

async fn forwarded_entries_the_client_wrote_are_not_believed(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.trust_proxy = true).await;
    let b = app.new_browser();
    // Five failures from one real address, each claiming another origin.
    for i in 0..5 {
        let xff = format!("10.0.0.{i}, 192.0.2.44");
        assert_eq!(
            attempt_via(&b, &xff, "someone", "whatever-1", CAPTCHA).await,
            401
        );
    }
    assert_eq!(
        attempt(&b, "192.0.2.44", "other", "whatever-2", CAPTCHA).await,
        429
    );
    let ips: Vec<String> = app
        .storage
        .run(|c| livedesk::storage::login_attempts::latest(c, 10))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.ip)
        .collect();
    assert!(ips.iter().all(|ip| ip == "192.0.2.44"), "{ips:?}");
}

async fn listed_proxies_are_skipped_and_others_not_believed(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.trusted_proxies = vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.20.0.0/16".parse().unwrap(),
        ]
    })
    .await;
    let b = app.new_browser();
    let xff = "1.1.1.1, 203.0.113.80, 10.20.3.4";
    assert_eq!(
        attempt_via(&b, xff, "someone", "whatever-1", CAPTCHA).await,
        401
    );
    let latest = app
        .storage
        .run(|c| livedesk::storage::login_attempts::latest(c, 1))
        .await
        .unwrap();
    assert_eq!(latest[0].ip, "203.0.113.80");

    // Without any trust configured the header is ignored altogether.
    let plain = spawn_app(backend).await;
    let xff = "203.0.113.80";
    assert_eq!(
        attempt_via(&plain, xff, "someone", "whatever-1", CAPTCHA).await,
        401
    );
    let latest = plain
        .storage
        .run(|c| livedesk::storage::login_attempts::latest(c, 1))
        .await
        .unwrap();
    assert_eq!(latest[0].ip, "127.0.0.1");
}

both_backends!(
    wrong_captchas_cannot_lock_an_account,
    password_guessing_is_still_throttled_per_account,
    forwarded_entries_the_client_wrote_are_not_believed,
    listed_proxies_are_skipped_and_others_not_believed,
);
