//! A short run of the load generator (seconds, small numbers): its correctness
//! checks must pass. No timing is asserted; speed is for docs/benchmarks.md.

use std::time::Duration;

use livedesk::bench::{durable, DurableConfig};

use crate::both_backends;
use crate::helpers::*;

async fn smoke(backend: Backend, write_batch: usize) {
    let app = spawn_app_with(backend, |s| {
        s.ws_rate = 1000;
        s.ws_burst = 1000;
        s.workers = 2;
        s.write_batch = write_batch;
    })
    .await;
    let report = durable(DurableConfig {
        url: app.address.clone(),
        visitors: 12,
        agents: 3,
        rate: 20.0,
        duration: Duration::from_secs(2),
        admin_password: ADMIN_PASSWORD.into(),
        agent_password: "bench-agent-password".into(),
        captcha: CAPTCHA.into(),
        database_url: Some(app.db.url().to_owned()),
        drain_timeout: Duration::from_secs(30),
    })
    .await
    .expect("the benchmark runs");
    println!("{}", report.render());
    assert!(report.sent >= 12 * 20, "{}", report.render());
    assert!(report.checked_storage);
    assert!(report.correct(), "{}", report.render());
}

/// With group commit (the default).
async fn the_load_generator_finds_every_message_stored_once_and_in_order(backend: Backend) {
    smoke(backend, 256).await
}

/// With one transaction per message.
async fn the_same_holds_on_the_plain_write_path(backend: Backend) {
    smoke(backend, 1).await
}

both_backends!(
    the_load_generator_finds_every_message_stored_once_and_in_order,
    the_same_holds_on_the_plain_write_path,
);

async fn idle_connections_and_churn_scenarios_run(backend: Backend) {
    use livedesk::bench::{churn, connections, ChurnConfig, ConnectionsConfig};
    let app = spawn_app_with(backend, |s| s.workers = 2).await;
    let r = connections(ConnectionsConfig {
        url: app.address.clone(),
        visitors: 30,
        server_pid: Some(std::process::id()),
        parallel: 6,
    })
    .await
    .expect("connections scenario runs");
    println!("{}", r.render());
    assert_eq!(r.connected, 30);
    assert!(r.per_connection_kib().is_some());
    // Its sockets are closed again: the Dispatcher lets go of every one.
    app.wait_counts(|c| c.visitor_sockets == 0).await;

    let r = churn(ChurnConfig {
        url: app.address.clone(),
        rate: 20.0,
        duration: Duration::from_secs(1),
        agents: 2,
        admin_password: ADMIN_PASSWORD.into(),
        agent_password: "bench-agent-password".into(),
        captcha: CAPTCHA.into(),
    })
    .await
    .expect("churn scenario runs");
    println!("{}", r.render());
    assert_eq!(r.arrived, 20);
    assert_eq!(r.notified, 20, "every new visitor reached an agent");
}

both_backends!(idle_connections_and_churn_scenarios_run);
