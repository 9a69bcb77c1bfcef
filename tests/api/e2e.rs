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
    let chromium = chromium();
    tokio::task::spawn_blocking(ensure_playwright)
        .await
        .unwrap();
    let app = spawn_app_with(backend, |s| s.agent_grace_secs = 2).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let host_port = host_site(app.port).await;
    let shots = std::env::var("LIVEDESK_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("screenshots-{backend:?}"))
        });

    let run = tokio::process::Command::new("node")
        .arg(e2e_dir().join("widget.e2e.mjs"))
        .current_dir(e2e_dir())
        .env("LIVEDESK_URL", &app.address)
        // "localhost" and "127.0.0.1" are different origins: the widget is cross-origin.
        .env("HOST_URL", format!("http://localhost:{host_port}/"))
        .env("SCREENSHOTS_DIR", &shots)
        .env("CAPTCHA", CAPTCHA)
        .env("AGENT_PASSWORD", PW)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CHROMIUM", chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("browser test timed out")
        .expect("node runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "browser test failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("[e2e] all good"), "{stdout}");
    for shot in ["widget.png", "dashboard.png", "admin.png"] {
        assert!(shots.join(shot).exists(), "missing screenshot {shot}");
    }
}

both_backends!(widget_dashboard_and_console_in_chromium);
