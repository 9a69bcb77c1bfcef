//! kill -9 under traffic, on both databases: the node (a process of its
//! own) dies with messages in flight and starts again on the same database
//! and port; clients come back with their token and resend what was not
//! acknowledged (same `client_id`s). Counted: every acknowledged message is
//! stored, each sent one exactly once, numbered without a gap; every
//! conversation still has its agent; the agent's history has them all.

use std::collections::HashSet;
use std::process::Child;

use livedesk::domain::ConversationId;
use livedesk::storage::{conversations, messages, DatabaseUrl, Storage};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;
use crate::process::{node_command, spawn_node};

const PW: &str = "agent-password";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real binary on `port`, started again while it refuses (as a
/// supervisor would: after a crash the dead node's lease must run out
/// first, `LIVEDESK_NODE_TTL_SECS`); returns once it serves.
fn start(db_url: &str, port: u16) -> Child {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(child) = try_start(db_url, port) {
            return child;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node never served again"
        );
    }
}

fn try_start(db_url: &str, port: u16) -> Option<Child> {
    let extra = [
        ("LIVEDESK_WS_RATE", "1000".to_owned()),
        ("LIVEDESK_WS_BURST", "1000".to_owned()),
        ("LIVEDESK_NODE_TTL_SECS", "2".to_owned()),
    ];
    let cmd = node_command(db_url, &format!("127.0.0.1:{port}"), &extra);
    // When it exits, it said why (the lease is still the dead node's).
    spawn_node(cmd).ok().map(|(child, _)| child)
}

/// Signs `lin` in through the form; the session cookie.
async fn sign_in(port: u16) -> String {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = client_with(jar.clone());
    let base = format!("http://127.0.0.1:{port}");
    let html = client.get(format!("{base}/login")).send().await.unwrap();
    let csrf = csrf_of(&html.text().await.unwrap());
    let form = [
        ("csrf_token", csrf.as_str()),
        ("username", "lin"),
        ("password", PW),
        ("captcha", CAPTCHA),
    ];
    let r = client
        .post(format!("{base}/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    use reqwest::cookie::CookieStore;
    let header = jar.cookies(&base.parse().unwrap()).unwrap();
    header.to_str().unwrap().to_owned()
}

async fn agent_socket(port: u16, cookie: &str) -> Ws {
    let headers = [
        ("Cookie", cookie.to_owned()),
        ("Origin", format!("http://127.0.0.1:{port}")),
    ];
    let mut ws = Ws::connect_to(port, "/ws/agent", &headers).await.unwrap();
    ws.expect("welcome").await;
    ws
}

struct Visitor {
    ws: Ws,
    token: String,
    conv: i64,
    sent: Vec<String>,
    acked: HashSet<String>,
}

fn message(cid: &str) -> Value {
    json!({"type": "message", "client_id": cid, "body": format!("text of {cid}")})
}

async fn killed_under_traffic_nothing_acknowledged_is_lost(backend: Backend) {
    let db = TestDb::create(backend);
    let url = db.url().to_owned();
    crate::cli::ok(&crate::cli::livedesk(
        &url,
        &["agent", "add", "lin", "--password-stdin"],
        Some(PW),
    ));
    let port = free_port();
    let u = url.clone();
    let mut node = tokio::task::spawn_blocking(move || start(&u, port))
        .await
        .unwrap();
    let cookie = sign_in(port).await;
    let mut lin = agent_socket(port, &cookie).await;
    let mut visitors = Vec::new();
    for _ in 0..4 {
        let mut ws = Ws::connect_to(port, "/ws/visitor", &[]).await.unwrap();
        let w = ws.begin("hello").await;
        assert_eq!(w["status"], "assigned", "{w}");
        let conv = w["conversation_id"].as_i64().unwrap();
        let token = ws.hello_token().await;
        visitors.push(Visitor {
            ws,
            token,
            conv,
            sent: vec!["first".into()],
            acked: HashSet::from(["first".to_string()]),
        });
    }
    // Traffic: acknowledged messages, then more in flight as the node dies.
    for round in 0..5 {
        for v in &mut visitors {
            let cid = format!("m{round}");
            v.ws.send(message(&cid)).await;
            v.sent.push(cid.clone());
            assert_eq!(v.ws.expect("ack").await["client_id"], cid.as_str());
            v.acked.insert(cid);
        }
    }
    for round in 5..10 {
        for v in &mut visitors {
            let cid = format!("m{round}");
            v.ws.send(message(&cid)).await;
            v.sent.push(cid);
        }
    }
    node.kill().unwrap(); // SIGKILL, with those in flight
    node.wait().unwrap();
    // What the agent was sent before the node died: each message once.
    let mut delivered = HashSet::new();
    while let Some(f) = lin.try_frame().await {
        if f["type"] == "message" {
            let key = (
                f["message"]["conversation_id"].as_i64(),
                f["message"]["seq"].as_i64(),
            );
            assert!(delivered.insert(key), "delivered twice: {f}");
        }
    }
    assert!(
        delivered.len() >= 4 * 5,
        "the agent got the acknowledged ones live"
    );
    // Acks that made it out before it died count as acknowledged.
    for v in &mut visitors {
        while let Some(f) = v.ws.try_frame().await {
            if f["type"] == "ack" {
                v.acked.insert(f["client_id"].as_str().unwrap().to_owned());
            }
        }
    }

    let u = url.clone();
    let mut node = tokio::task::spawn_blocking(move || start(&u, port))
        .await
        .unwrap();
    let mut lin2 = agent_socket(port, &cookie).await;
    for v in &mut visitors {
        v.ws = Ws::connect_to(port, "/ws/visitor", &[]).await.unwrap();
        let w = v.ws.hello(Some(&v.token), None).await;
        assert_eq!(w["conversation_id"], v.conv, "the same conversation: {w}");
        // Everything not acknowledged goes again, with its own client_id.
        for cid in v.sent.iter().filter(|c| !v.acked.contains(*c)) {
            v.ws.send(message(cid)).await;
            assert_eq!(v.ws.expect("ack").await["client_id"], cid.as_str());
        }
    }

    let storage = Storage::connect(&DatabaseUrl::parse(&url).unwrap(), 2).unwrap();
    for v in &visitors {
        let conv = ConversationId(v.conv);
        let stored = storage
            .run(move |db| messages::after(db, conv, 0, 1000))
            .await
            .unwrap();
        let cids: Vec<String> = stored.iter().filter_map(|m| m.client_id.clone()).collect();
        let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
        assert_eq!(
            seqs,
            (1..=stored.len() as i64).collect::<Vec<_>>(),
            "no gap"
        );
        let unique: HashSet<&String> = cids.iter().collect();
        assert_eq!(
            unique.len(),
            cids.len(),
            "a client_id stored twice: {cids:?}"
        );
        let mut want = v.sent.clone();
        want.sort();
        let mut got = cids.clone();
        got.sort();
        assert_eq!(got, want, "every sent message stored once");
        let c = storage
            .run(move |db| conversations::find(db, conv))
            .await
            .unwrap();
        assert!(
            c.assignment.agent.is_some(),
            "conversation {conv} lost its agent"
        );
        // The agent's history, after the restart, has every one of them.
        lin2.send(json!({"type": "history", "conversation_id": v.conv, "limit": 200}))
            .await;
        let h = lin2
            .expect_where("history", |f| {
                f["conversation_id"] == v.conv
                    && f["messages"]
                        .as_array()
                        .is_some_and(|m| m.len() == stored.len())
            })
            .await;
        assert_eq!(h["messages"].as_array().unwrap().len(), v.sent.len());
    }
    node.kill().unwrap();
    node.wait().unwrap();
}

both_backends!(killed_under_traffic_nothing_acknowledged_is_lost);
