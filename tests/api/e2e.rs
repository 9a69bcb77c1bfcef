//! Browser tests: tests/e2e/widget.e2e.mjs drives a real headless Chromium
//! (Debian's `chromium`, through playwright-core) against the real server and
//! a host page on another origin. Chromium must be installed (`.ci/run` does
//! it); the npm package is installed here when missing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use livedesk::domain::Role;

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

fn chromium() -> String {
    let path = std::env::var("LIVEDESK_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&path).exists(),
        "the browser tests need Chromium at {path}: `apt-get install chromium` (bash .ci/run installs it), \
         or point LIVEDESK_CHROMIUM at one"
    );
    path
}

fn ensure_playwright() {
    let dir = e2e_dir();
    if dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return;
    }
    let out = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .expect("the browser tests need node and npm");
    assert!(
        out.status.success(),
        "npm ci failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A website on another origin that embeds the widget with one script tag.
async fn host_site(livedesk_port: u16) -> u16 {
    let page = format!(
        r##"<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<style>body{{font-family:serif;background:#fdf6e3}} button{{all:unset}} iframe{{display:none!important}}</style></head>
<body><h1>A shop somewhere else</h1><p>Its own CSS tries to break the widget.</p>
<script src="http://127.0.0.1:{livedesk_port}/widget.js" async data-title="Shop help" data-accent="#0e7c66"></script>
</body></html>"##
    );
    let server = HttpServer::new(move || {
        let page = page.clone();
        App::new().route(
            "/",
            web::get().to(move || {
                let page = page.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("text/html; charset=utf-8")
                        .body(page)
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind host site");
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    port
}

async fn widget_dashboard_and_console_in_chromium(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.agent_grace_secs = 2).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let host_port = host_site(app.port).await;
    let shots = std::env::var("LIVEDESK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("screenshots-{backend:?}"))
        });

    run_script(
        "widget.e2e.mjs",
        &app,
        &[
            // "localhost" and "127.0.0.1" are different origins: the widget is cross-origin.
            ("HOST_URL", format!("http://localhost:{host_port}/")),
            ("SCREENSHOTS_DIR", shots.display().to_string()),
        ],
    )
    .await;
    for shot in ["widget.png", "dashboard.png", "admin.png"] {
        assert!(shots.join(shot).exists(), "missing screenshot {shot}");
    }
}

both_backends!(widget_dashboard_and_console_in_chromium);

/// Runs one script of tests/e2e against `app` in Chromium; it must print "[e2e] all good".
async fn run_script(script: &str, app: &TestApp, env: &[(&str, String)]) {
    let chromium = chromium();
    tokio::task::spawn_blocking(ensure_playwright)
        .await
        .unwrap();
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(e2e_dir().join(script))
        .current_dir(e2e_dir())
        .env("LIVEDESK_URL", &app.address)
        .env("CAPTCHA", CAPTCHA)
        .env("AGENT_PASSWORD", PW)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CHROMIUM", chromium)
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(240), cmd.output())
        .await
        .expect("browser test timed out")
        .expect("node runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "browser test {script} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("[e2e] all good"), "{stdout}");
}

/// A page on a third origin that frames the widget panel directly (no loader).
async fn framing_site() -> u16 {
    let server = HttpServer::new(|| {
        App::new().route(
            "/",
            web::get().to(|q: web::Query<std::collections::HashMap<String, String>>| async move {
                let panel = q.get("panel").cloned().unwrap_or_default();
                let page = format!(
                    r#"<!doctype html><html><head><meta charset="utf-8"><title>Framer</title></head><body>
<iframe id="panel" src="{panel}" style="width:380px;height:560px"></iframe>
<script>window.__got = []; window.addEventListener("message", function (e) {{ window.__got.push(e.data); }});</script>
</body></html>"#
                );
                HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(page)
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind framing site");
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    port
}

/// The dashboard as agents use it in long chats and narrow windows, what it
/// shows or hides per conversation state, long texts in two languages, the
/// widget's messages to its page, and the small things of issue 11.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_widget_hold_up_in_daily_use() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.ws_rate = 1000;
        s.ws_burst = 1000;
    })
    .await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let host_port = host_site(app.port).await;
    let framer_port = framing_site().await;
    let shots = std::env::var("LIVEDESK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots-daily"));
    run_script(
        "dashboard.e2e.mjs",
        &app,
        &[
            ("HOST_URL", format!("http://localhost:{host_port}/")),
            ("FRAMER_URL", format!("http://localhost:{framer_port}/")),
            ("SCREENSHOTS_DIR", shots.display().to_string()),
        ],
    )
    .await;
}

/// Attachments as people send them: pasted, attached with the button, dropped;
/// thumbnails and downloads on the other side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_in_chromium() {
    let app = spawn_app(Backend::Sqlite).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let host_port = host_site(app.port).await;
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots-files");
    run_script(
        "files.e2e.mjs",
        &app,
        &[
            ("HOST_URL", format!("http://localhost:{host_port}/")),
            ("SCREENSHOTS_DIR", shots.display().to_string()),
        ],
    )
    .await;
}

/// Private notes, saved replies and team rooms as agents use them, and the
/// visitor's page never showing a note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_and_rooms_in_chromium() {
    let app = spawn_app(Backend::Postgres).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    let wang = app.add_agent("wang", PW, Role::Agent).await;
    crate::rooms::make_room(&app, "support", &[lin.id, wang.id]).await;
    let now = app.clock.now_naive();
    app.storage
        .run(move |db| {
            let replies = [
                ("thanks", "Thank you, {visitor.name|there}!"),
                ("bye", "Have a nice day. {agent.name}"),
                ("退款", "退款将在 5 天内到账。"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
            livedesk::storage::labels::save(db, None, "vip", "#cc0000", now)?;
            livedesk::storage::labels::save(db, None, "spam", "#777777", now)?;
            livedesk::storage::canned::put(db, None, &replies, now)
        })
        .await
        .unwrap();
    let host_port = host_site(app.port).await;
    let shots = std::env::var("LIVEDESK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots-rooms"));
    run_script(
        "rooms.e2e.mjs",
        &app,
        &[
            ("HOST_URL", format!("http://localhost:{host_port}/")),
            ("SCREENSHOTS_DIR", shots.display().to_string()),
        ],
    )
    .await;
}

/// A signed-in customer's verified identity through the widget's `setUser`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_identity_in_chromium() {
    let app = spawn_app(Backend::Sqlite).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let secret = app
        .storage
        .run(livedesk::storage::identity::new_secret)
        .await
        .unwrap();
    let hash = livedesk::domain::signing::hmac_hex(secret.as_bytes(), b"cust-42");
    let host_port = host_site(app.port).await;
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots-identity");
    run_script(
        "identity.e2e.mjs",
        &app,
        &[
            ("HOST_URL", format!("http://localhost:{host_port}/")),
            ("SCREENSHOTS_DIR", shots.display().to_string()),
            ("IDENTITY_HASH", hash),
        ],
    )
    .await;
}
