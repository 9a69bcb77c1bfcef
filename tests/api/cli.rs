use std::io::Write;
use std::process::{Command, Output, Stdio};

use livedesk::domain::Role;

use crate::both_backends;
use crate::helpers::*;

pub(crate) fn livedesk(db_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_livedesk"))
        .args(args)
        .env_clear()
        .env("LIVEDESK_DATABASE_URL", db_url)
        .env("LIVEDESK_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

pub(crate) fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn fails_with(o: &Output, msg: &str) {
    assert!(
        !o.status.success(),
        "should fail: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(msg), "expected {msg:?} in {err}");
}

async fn the_cli_manages_accounts(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.db.url().to_owned();
    let run = move |args: &'static [&'static str], stdin: Option<&'static str>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || livedesk(&url, args, stdin))
    };

    assert!(ok(&run(&["migrate"], None).await.unwrap()).contains("up to date"));

    let out = ok(&run(
        &[
            "agent",
            "add",
            "Lin",
            "--name",
            "Lin Na",
            "--password-stdin",
        ],
        Some("lin-password\n"),
    )
    .await
    .unwrap());
    assert!(out.contains("created agent 'lin'"), "{out}");
    let lin = app.agent("lin").await;
    assert_eq!(
        (lin.display_name.as_str(), lin.role),
        ("Lin Na", Role::Agent)
    );
    app.new_browser().login_ok("lin", "lin-password").await;

    fails_with(
        &run(
            &["agent", "add", "lin", "--password-stdin"],
            Some("other-password\n"),
        )
        .await
        .unwrap(),
        "already exists",
    );
    fails_with(
        &run(&["agent", "add", "x y"], None).await.unwrap(),
        "username",
    );
    fails_with(
        &run(
            &["agent", "add", "shorty", "--password-stdin"],
            Some("short\n"),
        )
        .await
        .unwrap(),
        "8-128",
    );

    let out = ok(&run(&["agent", "add", "boss", "--admin"], None)
        .await
        .unwrap());
    let generated = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("generated password printed")
        .to_owned();
    assert!(app.agent("boss").await.is_admin());
    app.new_browser().login_ok("boss", &generated).await;

    let list = ok(&run(&["agent", "list"], None).await.unwrap());
    assert!(
        list.contains("lin")
            && list.contains("Lin Na")
            && list.contains("boss")
            && list.contains("admin")
    );

    // passwd: the old password stops working and the agent's sessions end.
    let lin_browser = app.new_browser();
    lin_browser.login_ok("lin", "lin-password").await;
    let out = ok(&run(
        &["agent", "passwd", "lin", "--password-stdin"],
        Some("lin-new-password\n"),
    )
    .await
    .unwrap());
    assert!(out.contains("session(s) ended"));
    assert_eq!(lin_browser.get("/agent").await.status().as_u16(), 303);
    assert_eq!(
        app.new_browser()
            .login("lin", "lin-password")
            .await
            .status()
            .as_u16(),
        401
    );
    app.new_browser().login_ok("lin", "lin-new-password").await;
    fails_with(
        &run(&["agent", "passwd", "ghost"], None).await.unwrap(),
        "no agent named 'ghost'",
    );

    ok(&run(&["agent", "disable", "lin"], None).await.unwrap());
    assert!(!app.agent("lin").await.active);
    assert_eq!(
        app.new_browser()
            .login("lin", "lin-new-password")
            .await
            .status()
            .as_u16(),
        401
    );
    ok(&run(&["agent", "enable", "lin"], None).await.unwrap());
    app.new_browser().login_ok("lin", "lin-new-password").await;

    // The last active admin cannot be disabled from the shell either.
    ok(&run(&["agent", "disable", "boss"], None).await.unwrap());
    fails_with(
        &run(&["agent", "disable", "admin"], None).await.unwrap(),
        "last active admin",
    );
    assert!(app.agent("admin").await.active);
}

both_backends!(the_cli_manages_accounts);

#[test]
fn an_unknown_database_scheme_is_a_clear_startup_error() {
    let o = livedesk("mysql://localhost/db", &["migrate"], None);
    fails_with(&o, "unsupported database URL scheme 'mysql'");
}

/// Regression: a short-lived process must exit cleanly even though libpq and
/// OpenSSL tear down at exit (the pool once opened connections in the
/// background and about one exit in ten crashed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_cli_runs_exit_cleanly_on_postgres() {
    let app = spawn_app(Backend::Postgres).await;
    let url = app.db.url().to_owned();
    let codes = tokio::task::spawn_blocking(move || {
        (0..30)
            .map(|_| livedesk(&url, &["agent", "list"], None).status)
            .filter(|s| !s.success())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert!(codes.is_empty(), "unclean exits: {codes:?}");
}

/// The README's configuration table has a row for every flag and variable.
#[test]
fn the_readme_lists_every_setting() {
    use clap::CommandFactory;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let cmd = livedesk::config::Cli::command();
    let (mut missing, mut checked) = (Vec::new(), 0);
    for arg in cmd.get_arguments() {
        let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
            continue;
        };
        checked += 1;
        let row = format!("| `--{long}` | `{}` |", env.to_string_lossy());
        if !readme.contains(&row) {
            missing.push(row);
        }
    }
    assert!(checked > 30, "only {checked} settings found");
    assert!(missing.is_empty(), "README rows missing: {missing:#?}");
}
