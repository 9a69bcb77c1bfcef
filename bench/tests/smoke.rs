//! A short run of the load generator (seconds, small numbers): its correctness
//! checks must pass. No timing is asserted; speed is for docs/benchmarks.md.

use std::time::Duration;

use livedesk_bench::{durable, Credentials, DurableConfig, Spawn, Spread};

// The product's own test helpers: the server in-process on port 0, a fresh
// database per test, both backends.
#[path = "../../tests/api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use helpers::*;

fn who() -> Credentials {
    Credentials {
        admin_password: ADMIN_PASSWORD.into(),
        agent_password: "bench-agent-password".into(),
        captcha: CAPTCHA.into(),
    }
}

/// 12 visitors at 20 msg/s for 2 s to 3 agents, in two threads; the
/// database not checked.
fn short_run(url: &str) -> DurableConfig {
    DurableConfig {
        url: url.to_owned(),
        agent_url: None,
        visitors: 12,
        agents: 3,
        rate: 20.0,
        duration: Duration::from_secs(2),
        warmup: Duration::ZERO,
        who: who(),
        database_url: None,
        drain_timeout: Duration::from_secs(30),
        spread: Spread::threads(2),
    }
}

async fn smoke(backend: Backend, write_batch: usize, spread: Spread) -> livedesk_bench::Report {
    let app = spawn_app_with(backend, |s| {
        s.ws_rate = 1000;
        s.ws_burst = 1000;
        s.workers = 2;
        s.write_batch = write_batch;
    })
    .await;
    let report = durable(DurableConfig {
        database_url: Some(app.db.url().to_owned()),
        spread,
        ..short_run(&app.address)
    })
    .await
    .expect("the benchmark runs");
    println!("{}", report.render());
    assert!(report.sent >= 12 * 20, "{}", report.render());
    assert!(report.checked_storage);
    assert!(report.correct(), "{}", report.render());
    report
}

/// With group commit (the default).
async fn the_load_generator_finds_every_message_stored_once_and_in_order(backend: Backend) {
    smoke(backend, 256, Spread::threads(2)).await;
}

/// With one transaction per message.
async fn the_same_holds_on_the_plain_write_path(backend: Backend) {
    smoke(backend, 1, Spread::threads(1)).await;
}

both_backends!(
    the_load_generator_finds_every_message_stored_once_and_in_order,
    the_same_holds_on_the_plain_write_path,
);

/// The real binary, its visitors in three child processes, each connecting
/// from a loopback address of its own (127.0.0.2, .3, .4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_processes_connect_from_their_own_source_addresses() {
    let spread = Spread {
        workers: 3,
        spawn: Spawn::Processes(env!("CARGO_BIN_EXE_livedesk-bench").into()),
        source_addresses: true,
    };
    let report = smoke(Backend::Sqlite, 256, spread).await;
    let sources: Vec<String> = report.sources.iter().map(|s| s.to_string()).collect();
    assert_eq!(sources, ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
}

async fn idle_connections_and_churn_scenarios_run(backend: Backend) {
    use livedesk_bench::{churn, connections, ChurnConfig, ConnectionsConfig};
    let app = spawn_app_with(backend, |s| s.workers = 2).await;
    let r = connections(ConnectionsConfig {
        url: app.address.clone(),
        visitors: 30,
        server_pids: vec![std::process::id()],
        redis_url: None,
        hold: Duration::from_millis(300),
        parallel: 6,
        spread: Spread::threads(2),
    })
    .await
    .expect("connections scenario runs");
    println!("{}", r.render());
    assert_eq!(r.connected, 30);
    assert!(r.correct(), "{}", r.render());
    assert!(r.per_connection_kib().is_some());
    // Its sockets are closed again: the Dispatcher lets go of every one.
    app.wait_counts(|c| c.visitor_sockets == 0).await;

    let r = churn(ChurnConfig {
        url: app.address.clone(),
        rate: 20.0,
        duration: Duration::from_secs(1),
        agents: 2,
        who: who(),
        spread: Spread::threads(2),
    })
    .await
    .expect("churn scenario runs");
    println!("{}", r.render());
    assert_eq!(r.arrived, 20);
    assert_eq!(r.notified, 20, "every new visitor reached an agent");
}

both_backends!(idle_connections_and_churn_scenarios_run);

/// Two nodes of a cluster (the real Redis, one PostgreSQL database): the
/// visitors and the agents spread over both by the comma-separated `--url`
/// and `--agent-url`, every message acknowledged, delivered once and in
/// order, and stored; then idle sockets over both, with Redis's memory read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_drives_a_cluster_of_two_nodes() {
    use livedesk_bench::{connections, ConnectionsConfig};
    let db = TestDb::create(Backend::Postgres);
    let mut settings = cluster_settings(&db);
    settings.ws_rate = 1000;
    settings.ws_burst = 1000;
    let a = spawn_on(db, settings.clone()).await;
    let b = a.another_node(settings).await;
    let both = format!("{},{}", a.address, b.address);
    let report = durable(DurableConfig {
        url: both.clone(),
        agent_url: Some(format!("{},{}", b.address, a.address)),
        visitors: 12,
        agents: 3,
        rate: 20.0,
        duration: Duration::from_secs(2),
        warmup: Duration::from_secs(1),
        who: who(),
        database_url: Some(a.db.url().to_owned()),
        drain_timeout: Duration::from_secs(30),
        spread: Spread::threads(2),
    })
    .await
    .expect("the benchmark runs against two nodes");
    println!("{}", report.render());
    assert_eq!(report.warm, 12, "one warm-up message per visitor");
    assert!(report.sent >= 12 * 20, "{}", report.render());
    assert!(
        report.checked_storage && report.correct(),
        "{}",
        report.render()
    );

    let r = connections(ConnectionsConfig {
        url: both,
        visitors: 20,
        server_pids: vec![std::process::id()],
        redis_url: Some(redis_url()),
        hold: Duration::from_millis(300),
        parallel: 4,
        spread: Spread::threads(2),
    })
    .await
    .expect("connections scenario runs against two nodes");
    println!("{}", r.render());
    assert!(r.correct(), "{}", r.render());
    assert!(r.redis_bytes_per_connection().is_some(), "{}", r.render());
    // The leader counts the cluster's sockets: every one is let go.
    a.wait_counts(|c| c.visitor_sockets == 0).await;
}

/// The database-floor scenario stores batches as the server's writer does and
/// checks what it stored, on both write paths (no server involved).
async fn the_database_floor_scenario_stores_every_message_once_in_order(backend: Backend) {
    use livedesk_bench::{store, StoreConfig};
    for batch in [64, 1] {
        let db = TestDb::create(backend);
        let config = StoreConfig {
            database_url: db.url().to_owned(),
            conversations: 7,
            batch,
            duration: Duration::from_millis(500),
        };
        let r = tokio::task::spawn_blocking(move || store(config))
            .await
            .unwrap()
            .expect("the store scenario runs");
        println!("{}", r.render());
        assert!(r.correct(), "{}", r.render());
        assert!(r.stored >= batch as u64 && r.batches > 0);
        // The database runs on this machine, so its CPU time is readable.
        assert!(r.cpu_us_per_message().is_some(), "{}", r.render());
    }
}

both_backends!(the_database_floor_scenario_stores_every_message_once_in_order);

/// The search scenario fills the archive step by step and finds, through
/// the product's own search, what each kind of query should find.
async fn the_search_scenario_finds_what_each_query_should(backend: Backend) {
    use livedesk_bench::{search, SearchConfig};
    let db = TestDb::create(backend);
    let config = SearchConfig {
        database_url: db.url().to_owned(),
        sizes: vec![5_000, 2_000],
        queries: 3,
    };
    let r = tokio::task::spawn_blocking(move || search(config))
        .await
        .unwrap()
        .expect("the search scenario runs");
    println!("{}", r.render());
    let hits: Vec<(u64, usize)> = r.rows.iter().map(|row| (row.size, row.hits)).collect();
    // Sizes in order; per size: one order, a full page for the frequent
    // words (English, three and two Chinese characters), none for the rest.
    let per_size = [1, 51, 51, 51, 0, 0];
    let want: Vec<(u64, usize)> = [2_000, 5_000]
        .into_iter()
        .flat_map(|s| per_size.map(|h| (s, h)))
        .collect();
    assert_eq!(hits, want, "{}", r.render());
}

both_backends!(the_search_scenario_finds_what_each_query_should);

/// The upload scenario: every file is taken (201) and stored, once each.
async fn the_upload_scenario_stores_every_file(backend: Backend) {
    use livedesk_bench::{uploads, UploadsConfig};
    let app = spawn_app_with(backend, |s| s.uploads_per_minute = 0).await;
    let r = uploads(UploadsConfig {
        url: app.address.clone(),
        visitors: 4,
        rounds: 2,
        size: 256 * 1024,
        server_pid: Some(std::process::id()),
    })
    .await
    .expect("the upload scenario runs");
    println!("{}", r.render());
    assert_eq!(r.uploaded, 8);
    assert!(r.rss_peak_kib.is_some());
    let root = data_dir_for(app.db.url()).join("files");
    let stored: usize = std::fs::read_dir(&root)
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| !p.ends_with("tmp"))
        .map(|d| std::fs::read_dir(d).unwrap().count())
        .sum();
    assert_eq!(stored, 8, "one file each on disk");
}

both_backends!(the_upload_scenario_stores_every_file);

/// The plain relay livedesk is compared with: the same generator drives it
/// (sign-in pages, sockets, frames) and finds every message acknowledged
/// and delivered once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generator_drives_the_plain_relay() {
    use std::io::{BufRead, BufReader};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut relay = std::process::Command::new(env!("CARGO_BIN_EXE_livedesk-bench"))
        .args([
            "relay",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the relay starts");
    let out = relay.stdout.take().unwrap();
    let listening = tokio::task::spawn_blocking(move || {
        BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.starts_with("relay listening on "))
    });
    assert!(listening.await.unwrap(), "the relay says where it listens");
    let report = durable(short_run(&format!("http://127.0.0.1:{port}")))
        .await
        .expect("the benchmark runs");
    relay.kill().unwrap();
    relay.wait().unwrap();
    println!("{}", report.render());
    assert!(report.sent >= 12 * 20, "{}", report.render());
    assert!(report.correct(), "{}", report.render());
}
