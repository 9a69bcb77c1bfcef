//! A conversation exists once the visitor writes; one address cannot take
//! every socket or flood the agents with conversations; admins can empty a
//! flooded queue.

use livedesk::domain::Role;
use livedesk::storage::conversations;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

async fn visitor_from(app: &TestApp, ip: &str) -> Ws {
    Ws::connect(app, "/ws/visitor", &[("X-Forwarded-For", ip.to_owned())])
        .await
        .expect("visitor socket")
}

async fn open_conversations(app: &TestApp) -> usize {
    app.storage
        .run(conversations::list_open)
        .await
        .unwrap()
        .len()
}

/// Storage once it shows `n` open conversations (assignment writes follow
/// the Dispatcher's decisions a moment later).
async fn wait_open_conversations(app: &TestApp, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = open_conversations(app).await;
        if now == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "storage shows {now} open conversations, not {n}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn opening_the_widget_creates_no_conversation(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_b, mut lin, _) = app.agent_online("lin", PW).await;
    let mut tabs = Vec::new();
    for _ in 0..10 {
        let mut v = Ws::visitor(&app).await;
        let w = v.hello(None, None).await;
        assert_eq!(w["conversation_id"], Value::Null);
        assert_eq!(w["status"], Value::Null);
        // Typing and reading before the first message go nowhere, harmlessly.
        v.send(json!({"type": "typing", "active": true})).await;
        v.send(json!({"type": "read", "seq": 1})).await;
        tabs.push(v);
    }
    lin.assert_no("conversation", std::time::Duration::from_millis(500))
        .await;
    let c = app.counts().await;
    assert_eq!((c.conversations, c.queued, c.visitors_online), (0, 0, 10));
    assert_eq!(open_conversations(&app).await, 0);

    // A returning visitor with no open conversation is welcomed the same way.
    let token = tabs[0].hello_token().await;
    let mut back = Ws::visitor(&app).await;
    let w = back.hello(Some(&token), None).await;
    assert_eq!(w["conversation_id"], Value::Null);

    // Writing is what opens one.
    let m = tabs[3].say("first", "hello?").await;
    let c = lin.expect("conversation").await;
    assert_eq!(c["conversation"]["id"], m["conversation_id"]);
    assert_eq!(open_conversations(&app).await, 1);
}

async fn sockets_per_address_are_capped(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.trust_proxy = true;
        s.visitor_sockets_per_ip = 3;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut v = visitor_from(&app, "198.51.100.9").await;
        v.hello(None, None).await;
        held.push(v);
    }
    let mut refused = visitor_from(&app, "198.51.100.9").await;
    assert_eq!(refused.expect_error().await, "too_many_connections");
    assert_eq!(refused.expect_close().await, 1013);
    // Another address is not affected.
    let mut other = visitor_from(&app, "203.0.113.4").await;
    other.hello(None, None).await;
    // A closed socket gives its place back.
    held.pop().unwrap().close().await;
    app.wait_counts(|c| c.visitor_sockets == 3).await;
    let mut again = visitor_from(&app, "198.51.100.9").await;
    again.hello(None, None).await;
}

async fn new_conversations_per_address_are_capped_per_minute(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.trust_proxy = true;
        s.new_conversations_per_ip = 2;
    })
    .await;
    for i in 0..2 {
        let mut v = visitor_from(&app, "198.51.100.9").await;
        v.hello(None, None).await;
        v.say(&format!("m{i}"), "hi").await;
    }
    let mut third = visitor_from(&app, "198.51.100.9").await;
    third.hello(None, None).await;
    third
        .send(json!({"type": "message", "client_id": "m3", "body": "let me in"}))
        .await;
    let e = third.expect("error").await;
    assert_eq!(
        (e["code"].as_str(), e["client_id"].as_str()),
        (Some("too_many_conversations"), Some("m3"))
    );
    assert_eq!(open_conversations(&app).await, 2);
    // Another address may still write.
    let mut other = visitor_from(&app, "203.0.113.4").await;
    other.hello(None, None).await;
    other.say("o1", "hello").await;
    // A minute later the same message goes through, once.
    app.clock.advance(chrono::Duration::seconds(61));
    let m = third.say("m3", "let me in").await;
    assert_eq!(m["seq"], 1);
    assert_eq!(open_conversations(&app).await, 4);
}

async fn admins_close_the_queue_in_bulk(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut visitors = Vec::new();
    for i in 0..5 {
        let mut v = Ws::visitor(&app).await;
        assert_eq!(v.begin(&format!("spam {i}")).await["status"], "queued");
        visitors.push(v);
    }
    assert_eq!(app.counts().await.queued, 5);
    app.login_admin().await;
    let (_, page) = app.get_text("/admin/agents").await;
    assert!(
        page.contains("Conversations waiting for an agent: 5."),
        "{page}"
    );

    // An agent may not; without the form token nobody may.
    app.add_agent("lin", PW, Role::Agent).await;
    let lin = app.new_browser();
    lin.login_ok("lin", PW).await;
    let r = lin
        .post_with_csrf_from("/agent", "/admin/queue/close", &[])
        .await;
    assert_eq!(r.status().as_u16(), 403);
    let r = app.post_form("/admin/queue/close", &[]).await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(app.counts().await.queued, 5);

    let r = app
        .post_with_csrf_from("/admin/agents", "/admin/queue/close", &[])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    for v in visitors.iter_mut() {
        v.expect("closed").await;
    }
    assert_eq!(app.counts().await.queued, 0);
    wait_open_conversations(&app, 0).await;
    let (_, page) = app.get_text("/admin/agents").await;
    assert!(page.contains("Queued conversations closed: 5."), "{page}");
    assert!(
        !page.contains("queue-card"),
        "an empty queue shows no button"
    );
}

/// The visitor writes the moment it hears "closed": the message must open the
/// next conversation (and reach an agent), never land unseen in the closed one.
async fn a_message_right_after_a_close_opens_the_next_conversation(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.ws_rate = 1000;
        s.ws_burst = 1000;
    })
    .await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_b, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await;
    let mut conv = v.say("m0", "first").await["conversation_id"]
        .as_i64()
        .unwrap();
    for round in 1..=15 {
        lin.expect_where("message", |f| f["message"]["conversation_id"] == conv)
            .await;
        lin.send(json!({"type": "close", "conversation_id": conv}))
            .await;
        assert_eq!(v.expect("closed").await["conversation_id"], conv);
        let m = v.say(&format!("m{round}"), "and one more thing").await;
        let next = m["conversation_id"].as_i64().unwrap();
        assert_ne!(
            next, conv,
            "round {round}: stored in the closed conversation"
        );
        assert_eq!(m["seq"], 1);
        conv = next;
    }
    lin.expect_where("message", |f| f["message"]["conversation_id"] == conv)
        .await;
}

both_backends!(
    a_message_right_after_a_close_opens_the_next_conversation,
    opening_the_widget_creates_no_conversation,
    sockets_per_address_are_capped,
    new_conversations_per_address_are_capped_per_minute,
    admins_close_the_queue_in_bulk,
);
