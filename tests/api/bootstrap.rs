use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use livedesk::config::Secret;
use livedesk::domain::Clock;
use livedesk::startup::Application;

use crate::both_backends;
use crate::helpers::*;

async fn first_start_creates_admin_with_the_configured_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.agent("admin").await;
    assert!(admin.is_admin() && admin.active);
    assert_eq!(app.agent_count().await, 1);
    app.login_admin().await;
    let (status, body) = app.get_text("/agent").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"id="admin-link""#),
        "admins see the console link"
    );
}

async fn a_restart_creates_no_second_admin_and_keeps_sessions(backend: Backend) {
    let db = TestDb::create(backend);
    let url = db.url().to_owned();
    let first = spawn_on(db, test_settings(&url)).await;
    first.login_admin().await;
    let cookie = first.session_cookie().expect("session cookie");

    // A restart on the same database, with a different admin password set.
    first.stop().await;
    let mut settings = test_settings(&url);
    settings.admin_password = Some(Secret::new("another-password"));
    let second = Application::build_with_clock(settings, Clock::default())
        .await
        .unwrap();
    assert!(second.first_admin.is_none());
    let port = second.port();
    tokio::spawn(second.run_until_stopped());
    assert_eq!(first.agent_count().await, 1);

    // The session key was kept in the database: the first node's cookie works on the second.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/agent"))
        .header("Cookie", format!("livedesk_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

async fn without_a_configured_password_one_is_generated(backend: Backend) {
    let db = TestDb::create(backend);
    let mut settings = test_settings(db.url());
    settings.admin_password = None;
    let app = spawn_on(db, settings).await;
    let first = app.first_admin.clone().expect("admin created");
    let generated = first.generated_password.expect("password generated");
    assert!(generated.len() >= 16);
    app.login_ok("admin", &generated).await;
}

both_backends!(
    first_start_creates_admin_with_the_configured_password,
    a_restart_creates_no_second_admin_and_keeps_sessions,
    without_a_configured_password_one_is_generated,
);

/// The README's run command: the binary prints the URL and the first admin's credentials.
#[test]
fn the_binary_prints_its_url_and_the_admin_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_livedesk"))
        .current_dir(dir.path())
        .env_clear()
        .env("LIVEDESK_BIND", "127.0.0.1:0")
        .env("LIVEDESK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("is running at http://127.0.0.1:");
        seen.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = seen.join("\n");
    assert!(out.contains("username: admin"), "{out}");
    let pw_line = seen
        .iter()
        .find(|l| l.contains("password:"))
        .expect("password printed");
    assert!(
        pw_line
            .split_whitespace()
            .nth(1)
            .is_some_and(|p| p.len() >= 16),
        "{out}"
    );
    assert!(out.contains("is running at http://127.0.0.1:"), "{out}");
    // The default database is an SQLite file under ./data/.
    assert!(dir.path().join("data/livedesk.sqlite3").exists());
}
