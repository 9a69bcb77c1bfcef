//! Webhooks under faults: the real binary killed between a change's commit
//! and its delivery (the event still arrives, once it can), and two nodes of
//! a cluster sharing the outbox (each event delivered once, not twice).

use std::collections::HashSet;

use crate::both_backends;
use crate::helpers::*;
use crate::process::{node_command, spawn_node};
use crate::receiver::Receiver;
use crate::rest::Api;
use crate::webhooks::{register, signed_by};
use livedesk::storage::api_tokens::{self, Scope};
use livedesk::storage::{agents, DatabaseUrl, Storage};

both_backends!(an_event_committed_before_a_kill_is_delivered_after_the_restart);

fn node(db_url: &str, port: u16) -> std::process::Child {
    let extra = [
        ("LIVEDESK_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
        ("LIVEDESK_WEBHOOK_TIMEOUT_SECS", "1".to_owned()),
        ("LIVEDESK_NODE_TTL_SECS", "2".to_owned()),
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        // Refused while the dead node's lease runs out: started again.
        let cmd = node_command(db_url, &format!("127.0.0.1:{port}"), &extra);
        if let Ok((child, _)) = spawn_node(cmd) {
            return child;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node never served"
        );
    }
}

async fn an_event_committed_before_a_kill_is_delivered_after_the_restart(backend: Backend) {
    let db = TestDb::create(backend);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = node(db.url(), port);
    let storage = Storage::connect(&DatabaseUrl::parse(db.url()).unwrap(), 2).unwrap();
    let token = storage
        .run(|c| {
            let (admin, _) = agents::find_by_username(c, "admin")?.expect("first admin");
            let now = chrono::Utc::now().naive_utc();
            api_tokens::create(c, "t", Scope::Write, Some(admin.id), None, now).map(|(_, t)| t)
        })
        .await
        .unwrap();
    let api = Api::at(&format!("http://127.0.0.1:{port}"), &token);
    // The endpoint takes the request and never answers it.
    let mut rx = Receiver::start().await;
    rx.answer(&[None]);
    let (_, secret) = register(&api, &rx.url, &["message.created"], false).await;
    let mut v = Ws::connect_to(port, "/ws/visitor", &[]).await.unwrap();
    v.hello(None, None).await;
    v.say("m1", "before the crash").await; // committed: acknowledged
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut child = node(db.url(), port);
    // The first request (before the kill, or after the restart) is never
    // answered; the node sends the same delivery again until one is.
    // (A claim runs out 7 s after it was made; a failed attempt waits 8–12 s.)
    let mut hits = Vec::new();
    while hits.len() < 2 {
        hits.push(rx.next_within(std::time::Duration::from_secs(30)).await);
    }
    for h in &hits {
        assert_eq!(h.json()["data"]["message"]["body"], "before the crash");
        assert!(signed_by(h, &secret));
    }
    assert_eq!(
        hits[0].header("x-livedesk-delivery"),
        hits[1].header("x-livedesk-delivery")
    );
    rx.quiet_for(std::time::Duration::from_millis(800)).await;
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Two nodes, one outbox: every event is delivered, each by one node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_deliver_each_event_once() {
    let db = TestDb::create(Backend::Postgres);
    let mut settings = cluster_settings(&db);
    settings.webhook_allow_private = true;
    let a = spawn_on(db, settings.clone()).await;
    let b = a.another_node(settings).await;
    let nodes = vec![a, b];
    crate::cluster::wait_linked(&nodes).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let mut rx = Receiver::start().await;
    let api = Api::new(a, Scope::Write).await;
    register(
        &api,
        &rx.url,
        &["message.created", "conversation.created"],
        false,
    )
    .await;
    let mut sent = 0;
    for i in 0..20 {
        let node = if i % 2 == 0 { a } else { b };
        let mut v = Ws::visitor(node).await;
        v.begin(&format!("hello {i}")).await;
        v.say("m2", "and more").await;
        sent += 3; // conversation.created + two messages
    }
    let mut deliveries = HashSet::new();
    let mut events = HashSet::new();
    while events.len() < sent {
        let h = rx.next().await;
        assert!(
            deliveries.insert(h.header("x-livedesk-delivery").to_owned()),
            "delivered twice: {}",
            h.body
        );
        assert!(
            events.insert(h.json()["event_id"].as_i64().unwrap()),
            "an event twice: {}",
            h.body
        );
    }
    rx.quiet_for(std::time::Duration::from_millis(1500)).await;
}
