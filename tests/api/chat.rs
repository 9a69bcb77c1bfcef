//! The real-time core over real sockets: assignment, queue, reassignment,
//! agent actions, resume, idempotency, ordering, bad input, cleanup, authorisation.

use std::collections::BTreeSet;
use std::time::Duration;

use livedesk::domain::{ConversationId, Role};
use livedesk::storage::{conversations, messages};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

fn conv_id(v: &Value) -> i64 {
    v["conversation_id"].as_i64().expect("conversation_id")
}

/// The stored assignment once it matches `pred` (the Dispatcher writes it
/// right after telling the sockets, so storage may lag a moment).
async fn stored_conversation(
    app: &TestApp,
    conv: i64,
    pred: impl Fn(&conversations::Conversation) -> bool,
) -> conversations::Conversation {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let c = app
            .storage
            .run(move |db| conversations::find(db, ConversationId(conv)))
            .await
            .unwrap();
        if pred(&c) {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "storage never showed the change: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stored_count(app: &TestApp, conv: i64) -> i64 {
    app.storage
        .run(move |c| messages::count(c, ConversationId(conv)))
        .await
        .unwrap()
}

async fn a_new_conversation_goes_to_the_online_agent_and_messages_flow(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_b, mut agent, welcome) = app.agent_online("lin", PW).await;
    assert_eq!(welcome["agent"]["name"], "lin");
    assert_eq!(welcome["conversations"], json!([]));

    let mut v = Ws::visitor(&app).await;
    let w = v.hello(None, None).await;
    assert!(w["token"].as_str().unwrap().len() >= 22, "≥128-bit token");
    // Opening the widget is not a conversation yet: no agent hears of it.
    assert_eq!(
        (&w["conversation_id"], &w["status"]),
        (&Value::Null, &Value::Null)
    );
    agent
        .assert_no("conversation", Duration::from_millis(300))
        .await;
    assert_eq!(app.counts().await.conversations, 0);

    // The first message opens it, and it goes to the online agent.
    let m1 = v.say("v1", "Hello, my order is late").await;
    let conv = conv_id(&m1);
    assert_eq!(v.expect("assigned").await["agent"]["name"], "lin");
    let c = agent.expect("conversation").await;
    assert_eq!(c["conversation"]["id"], conv);
    assert_eq!(c["conversation"]["visitor"]["name"], "Vera");
    assert_eq!(c["conversation"]["visitor"]["online"], true);
    assert_eq!(
        c["conversation"]["visitor"]["page_url"],
        "https://shop.example/cart"
    );
    assert_eq!(
        c["conversation"]["visitor"]["user_agent"],
        "TestBrowser/1.0"
    );
    assert_eq!(c["conversation"]["visitor"]["timezone"], "Asia/Shanghai");

    assert_eq!(
        (m1["seq"].as_i64(), m1["sender"].as_str()),
        (Some(1), Some("visitor"))
    );
    let got = agent.expect("message").await;
    assert_eq!(got["message"]["body"], "Hello, my order is late");
    assert_eq!(got["message"]["seq"], 1);

    let reply = agent.agent_say(conv, "a1", "Sorry! Let me check.").await;
    assert_eq!(reply["seq"], 2);
    assert_eq!(reply["sender"], "agent");
    let got = v.expect("message").await;
    assert_eq!(got["message"]["body"], "Sorry! Let me check.");
    assert_eq!(got["message"]["seq"], 2);
    assert!(got["message"]["created_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert_eq!(stored_count(&app, conv).await, 2);

    // Typing travels live, both ways.
    v.send(json!({"type": "typing", "active": true})).await;
    let t = agent.expect("typing").await;
    assert_eq!(
        (t["conversation_id"].as_i64(), t["active"].as_bool()),
        (Some(conv), Some(true))
    );
    agent
        .send(json!({"type": "typing", "conversation_id": conv, "active": true}))
        .await;
    assert_eq!(v.expect("typing").await["active"], true);
}

async fn with_nobody_online_conversations_queue_and_drain_oldest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let mut v1 = Ws::visitor(&app).await;
    let w1 = v1.begin("anyone there?").await;
    assert_eq!(w1["status"], "queued");
    assert_eq!(w1["agent"], Value::Null);
    v1.say("b", "hello?").await;
    let mut v2 = Ws::visitor(&app).await;
    let w2 = v2.begin("me too").await;
    assert_eq!(w2["status"], "queued");
    assert_eq!(app.counts().await.queued, 2);

    let (_b, mut agent, welcome) = app.agent_online("lin", PW).await;
    let queue: Vec<i64> = welcome["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(queue, vec![conv_id(&w1), conv_id(&w2)], "oldest first");
    // Each one arrives, oldest first, with its history.
    let c = agent.expect("conversation").await;
    assert_eq!(c["conversation"]["id"], conv_id(&w1));
    let h = agent.expect("history").await;
    assert_eq!(h["conversation_id"], conv_id(&w1));
    let bodies: Vec<&str> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["anyone there?", "hello?"]);
    assert_eq!(
        agent.expect("conversation").await["conversation"]["id"],
        conv_id(&w2)
    );
    assert_eq!(v1.expect("assigned").await["agent"]["name"], "lin");
    assert_eq!(v2.expect("assigned").await["agent"]["name"], "lin");
    assert_eq!(app.counts().await.queued, 0);
}

async fn an_agents_conversations_move_after_the_grace_period(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.agent_grace_secs = 1).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (_lb, lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let w = v.begin("hi").await;
    assert_eq!(w["agent"]["name"], "lin");
    let (_wb, mut wang, _) = app.agent_online("wang", PW).await;

    lin.close().await;
    let a = v.expect("assigned").await;
    assert_eq!(a["agent"]["name"], "wang");
    let c = wang.expect("conversation").await;
    assert_eq!(c["conversation"]["id"], conv_id(&w));
    assert_eq!(c["conversation"]["agent"]["name"], "wang");
    // Stored too.
    let wang_id = app.agent("wang").await.id;
    stored_conversation(&app, conv_id(&w), |c| c.assignment.agent == Some(wang_id)).await;
}

async fn a_quick_reconnect_keeps_the_conversation(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.agent_grace_secs = 1).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (lb, lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let w = v.begin("hi").await;
    let (_wb, _wang, _) = app.agent_online("wang", PW).await;
    // A page reload: the socket closes and a new one opens at once.
    lin.close().await;
    let mut lin2 = Ws::agent(&lb).await;
    let welcome = lin2.expect("welcome").await;
    assert_eq!(welcome["conversations"][0]["id"], conv_id(&w));
    // Past the grace period nothing has moved.
    v.assert_no("assigned", Duration::from_millis(2000)).await;
    v.say("x", "still there?").await;
    assert_eq!(
        lin2.expect("message").await["message"]["body"],
        "still there?"
    );
}

async fn with_nobody_left_the_conversation_goes_back_to_the_queue(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.agent_grace_secs = 1).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    v.begin("hi").await;
    lin.close().await;
    assert_eq!(v.expect("queued").await["type"], "queued");
    v.say("m", "written while queued").await;
    let (_lb2, mut lin2, _) = app.agent_online("lin", PW).await;
    assert_eq!(v.expect("assigned").await["agent"]["name"], "lin");
    let h = lin2.expect("history").await;
    assert_eq!(h["messages"][1]["body"], "written while queued");
}

async fn claim_transfer_and_close(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    let (_wb, mut wang, _) = app.agent_online("wang", PW).await;
    // Both away: a new conversation waits in the queue.
    lin.send(json!({"type": "status", "status": "away"})).await;
    assert_eq!(lin.expect("status").await["status"], "away");
    wang.send(json!({"type": "status", "status": "away"})).await;
    assert_eq!(wang.expect("status").await["status"], "away");
    let mut v = Ws::visitor(&app).await;
    let w = v.begin("hello").await;
    assert_eq!(w["status"], "queued");
    let conv = conv_id(&w);
    assert_eq!(
        lin.expect("conversation").await["conversation"]["status"],
        "queued"
    );

    lin.send(json!({"type": "claim", "conversation_id": conv}))
        .await;
    assert_eq!(v.expect("assigned").await["agent"]["name"], "lin");
    let c = lin
        .expect_where("conversation", |f| f["conversation"]["status"] != "queued")
        .await;
    assert_eq!(
        (
            c["conversation"]["id"].as_i64(),
            c["conversation"]["status"].as_str()
        ),
        (Some(conv), Some("assigned"))
    );
    // Wang can no longer claim it, nor act on it.
    wang.send(json!({"type": "claim", "conversation_id": conv}))
        .await;
    assert_eq!(wang.expect_error().await, "already_assigned");
    wang.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    assert_eq!(wang.expect_error().await, "forbidden");

    // Transfer to Wang.
    lin.send(json!({"type": "transfer", "conversation_id": conv, "agent_id": app.agent("wang").await.id.0})).await;
    assert_eq!(lin.expect("unassigned").await["conversation_id"], conv);
    wang.expect_where("conversation", |f| {
        f["conversation"]["agent"]["name"] == "wang"
    })
    .await;
    assert_eq!(v.expect("assigned").await["agent"]["name"], "wang");
    // Transfers only go to someone online.
    let ghost = app.add_agent("ghost", PW, Role::Agent).await;
    wang.send(json!({"type": "transfer", "conversation_id": conv, "agent_id": ghost.id.0}))
        .await;
    assert_eq!(wang.expect_error().await, "agent_offline");

    // Close: the visitor is told; writing again starts a new conversation.
    wang.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    assert_eq!(v.expect("closed").await["conversation_id"], conv);
    wang.expect_where("conversation", |f| f["conversation"]["status"] == "closed")
        .await;
    let m = v.say("after", "one more question").await;
    assert_ne!(m["conversation_id"], conv);
    assert_eq!(m["seq"], 1);
    stored_conversation(&app, conv, |c| {
        c.assignment.status == livedesk::domain::ConversationStatus::Closed
    })
    .await;
}

async fn concurrent_claims_have_exactly_one_winner(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut agents = Vec::new();
    for i in 0..5 {
        let name = format!("a{i}");
        app.add_agent(&name, PW, Role::Agent).await;
        let (b, mut ws, _) = app.agent_online(&name, PW).await;
        ws.send(json!({"type": "status", "status": "away"})).await;
        ws.expect("status").await;
        agents.push((b, ws));
    }
    let mut v = Ws::visitor(&app).await;
    let conv = conv_id(&v.begin("hi").await);
    for (_, ws) in agents.iter_mut() {
        ws.expect("conversation").await;
    }
    let claims = agents.iter_mut().map(|(_, ws)| async move {
        ws.send(json!({"type": "claim", "conversation_id": conv}))
            .await;
        // The winner hears "conversation … assigned to me"; the others an error.
        loop {
            let f = ws.next_frame().await;
            match f["type"].as_str() {
                Some("error") => return f["code"].as_str().unwrap().to_owned(),
                Some("conversation") if f["conversation"]["status"] == "assigned" => {
                    return "won".to_owned()
                }
                _ => continue,
            }
        }
    });
    let results = futures_util::future::join_all(claims).await;
    assert_eq!(
        results.iter().filter(|r| *r == "won").count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| *r == "already_assigned").count(),
        4,
        "{results:?}"
    );
    let a = v.expect("assigned").await;
    v.assert_no("assigned", Duration::from_millis(300)).await;
    let winner = a["agent"]["id"].as_i64();
    let stored = stored_conversation(&app, conv, |c| c.assignment.agent.is_some()).await;
    assert_eq!(stored.assignment.agent.map(|x| x.0), winner);
}

async fn a_visitor_resumes_with_exactly_what_it_missed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, mut agent, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let w = v.begin("visitor 1").await;
    let (token, conv) = (w["token"].as_str().unwrap().to_owned(), conv_id(&w));
    for i in 2..=3 {
        v.say(&format!("v{i}"), &format!("visitor {i}")).await;
    }
    v.close().await;
    agent
        .expect_where("conversation", |f| {
            f["conversation"]["visitor"]["online"] == false
        })
        .await;
    agent.agent_say(conv, "a4", "agent 4").await;
    agent.agent_say(conv, "a5", "agent 5").await;

    let mut v = Ws::visitor(&app).await;
    let w2 = v.hello(Some(&token), Some(3)).await;
    assert_eq!(w2["visitor_id"], w["visitor_id"]);
    assert_eq!(w2["conversation_id"], conv);
    let seqs: Vec<i64> = w2["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![4, 5]);
    agent
        .expect_where("conversation", |f| {
            f["conversation"]["visitor"]["online"] == true
        })
        .await;
    // Live delivery continues with the next seq, no repeat.
    agent.agent_say(conv, "a6", "agent 6").await;
    assert_eq!(v.expect("message").await["message"]["seq"], 6);

    // Without last_seq the whole history comes back.
    let mut v3 = Ws::visitor(&app).await;
    let w3 = v3.hello(Some(&token), None).await;
    assert_eq!(w3["messages"].as_array().unwrap().len(), 6);
    // A forged token is a new visitor and reveals nothing.
    let mut stranger = Ws::visitor(&app).await;
    let ws = stranger
        .hello(Some("forged-token-that-we-never-issued"), Some(0))
        .await;
    assert_ne!(ws["visitor_id"], w["visitor_id"]);
    assert_ne!(ws["conversation_id"], conv);
    assert_eq!(ws["messages"], json!([]));
    assert_ne!(ws["token"], "forged-token-that-we-never-issued");
}

async fn a_resend_is_stored_and_delivered_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, mut agent, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await;
    let first = v.say("same-id", "only once please").await;
    let conv = conv_id(&first);
    let again = v.say("same-id", "only once please").await;
    assert_eq!(first, again, "the resend returns the original");
    // The agent gets seq 1 once; the next thing it sees is seq 2.
    assert_eq!(agent.expect("message").await["message"]["seq"], 1);
    v.say("next-id", "second").await;
    let next = agent.expect("message").await;
    assert_eq!(next["message"]["seq"], 2);
    assert_eq!(stored_count(&app, conv).await, 2);
    // Same for agents.
    let a = agent.agent_say(conv, "agent-id", "hi").await;
    let b = agent.agent_say(conv, "agent-id", "hi").await;
    assert_eq!(a, b);
    assert_eq!(v.expect("message").await["message"]["seq"], 3);
    assert_eq!(stored_count(&app, conv).await, 3);
}

/// The visitor's message was stored but its answer lost; the agent closed
/// the conversation meanwhile. The resend is answered with the original and
/// is not stored again in a new conversation (nor shown to an agent twice).
async fn a_resend_after_the_conversation_closed_is_not_stored_again(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await;
    let first = v.say("answer-lost", "did my order ship?").await;
    let conv = conv_id(&first);
    assert_eq!(lin.expect("message").await["message"]["seq"], 1);
    lin.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    assert_eq!(v.expect("closed").await["conversation_id"], conv);

    let again = v.say("answer-lost", "did my order ship?").await;
    assert_eq!(again, first, "the resend gets its original back");
    assert_eq!(stored_count(&app, conv).await, 1);
    // The next new message starts the next conversation, at seq 1: the
    // resend opened none.
    let next = v.say("new-question", "and another thing").await;
    assert_ne!(conv_id(&next), conv);
    assert_eq!(next["seq"], 1);
    let m = lin.expect("message").await;
    assert_eq!(m["message"]["client_id"], "new-question");
}

async fn concurrent_senders_get_gapless_ordered_seqs(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.ws_rate = 1000;
        s.ws_burst = 1000;
    })
    .await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, mut agent, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let conv = conv_id(&v.begin("first").await);
    agent.expect("conversation").await;
    // The opening message (seq 1) is out of the way; the race starts at 2.
    assert_eq!(agent.expect("message").await["message"]["seq"], 1);
    const N: usize = 25;
    // Both sides fire all their messages without waiting, then read everything.
    for i in 0..N {
        v.send(json!({"type": "message", "client_id": format!("v{i}"), "body": format!("v{i}")}))
            .await;
        agent.send(json!({"type": "message", "conversation_id": conv, "client_id": format!("a{i}"), "body": format!("a{i}")})).await;
    }
    async fn collect(ws: &mut Ws, n: usize) -> (Vec<i64>, Vec<i64>) {
        let (mut acked, mut received) = (Vec::new(), Vec::new());
        while acked.len() < n || received.len() < n {
            let f = ws.next_frame().await;
            match f["type"].as_str() {
                Some("ack") => acked.push(f["message"]["seq"].as_i64().unwrap()),
                Some("message") => received.push(f["message"]["seq"].as_i64().unwrap()),
                Some("error") => panic!("unexpected error {f}"),
                _ => {}
            }
        }
        (acked, received)
    }
    let ((v_acked, v_recv), (a_acked, a_recv)) =
        tokio::join!(collect(&mut v, N), collect(&mut agent, N));
    for list in [&v_acked, &v_recv, &a_acked, &a_recv] {
        assert!(
            list.windows(2).all(|w| w[0] < w[1]),
            "out of order: {list:?}"
        );
    }
    // Each side saw every seq exactly once: its own as acks, the other's as messages.
    let all = |x: &Vec<i64>, y: &Vec<i64>| x.iter().chain(y).copied().collect::<BTreeSet<i64>>();
    let expected: BTreeSet<i64> = (2..=(2 * N as i64 + 1)).collect();
    assert_eq!(all(&v_acked, &v_recv), expected);
    assert_eq!(all(&a_acked, &a_recv), expected);
    assert_eq!(v_acked, a_recv);
    assert_eq!(a_acked, v_recv);
    assert_eq!(stored_count(&app, conv).await, 2 * N as i64 + 1);
}

async fn bad_input_gets_stable_error_codes_and_the_socket_stays_open(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut v = Ws::visitor(&app).await;
    v.send_raw(WsMessage::text("{not json")).await;
    assert_eq!(v.expect_error().await, "bad_json");
    v.send(json!({"type": "message", "client_id": "x", "body": "hi"}))
        .await;
    assert_eq!(v.expect_error().await, "hello_required");
    v.send(json!({"type": "dance"})).await;
    assert_eq!(v.expect_error().await, "unknown_type");
    v.send(json!({"type": "hello", "last_seq": "three"})).await;
    assert_eq!(v.expect_error().await, "bad_frame");
    v.hello(None, None).await;
    v.send(json!({"type": "hello"})).await;
    assert_eq!(v.expect_error().await, "already_hello");
    // No body and no files: an empty message (a body may be left out when files are sent).
    v.send(json!({"type": "message", "client_id": "x"})).await;
    assert_eq!(v.expect_error().await, "empty_body");
    v.send(json!({"type": "message", "client_id": "x", "body": 5}))
        .await;
    assert_eq!(v.expect_error().await, "bad_frame");
    v.send(json!({"type": "message", "client_id": "x", "body": "   "}))
        .await;
    assert_eq!(v.expect_error().await, "empty_body");
    v.send(json!({"type": "message", "client_id": "x", "body": "a".repeat(4097)}))
        .await;
    assert_eq!(v.expect_error().await, "body_too_long");
    v.send(json!({"type": "message", "client_id": "c".repeat(65), "body": "hi"}))
        .await;
    assert_eq!(v.expect_error().await, "bad_client_id");
    v.send_raw(WsMessage::binary(vec![1u8, 2, 3])).await;
    assert_eq!(v.expect_error().await, "binary_unsupported");
    // Still open, and nothing of the above was stored.
    let ok = v.say("ok", "fine now").await;
    assert_eq!(ok["seq"], 1);
    assert_eq!(stored_count(&app, conv_id(&ok)).await, 1);

    // Floods: the excess is refused, the rest goes through.
    let mut flood = Ws::visitor(&app).await;
    flood.hello(None, None).await;
    for i in 0..40 {
        flood
            .send(json!({"type": "typing", "active": i % 2 == 0}))
            .await;
    }
    assert_eq!(flood.expect_error().await, "rate_limited");

    // A frame over 64 KiB closes the socket with 1009 ("message too big").
    let mut big = Ws::visitor(&app).await;
    big.send_raw(WsMessage::text("x".repeat(70 * 1024))).await;
    assert_eq!(big.expect_close().await, 1009);
    // Others are unaffected.
    assert_eq!(v.say("ok2", "still fine").await["seq"], 2);
}

async fn every_trace_of_a_socket_leaves_the_dispatcher(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let mut sockets = Vec::new();
    let (lb, a1, _) = app.agent_online("lin", PW).await;
    let mut a2 = Ws::agent(&lb).await;
    a2.expect("welcome").await;
    for _ in 0..40 {
        let mut v = Ws::visitor(&app).await;
        v.begin("hi").await;
        sockets.push(v);
    }
    // Half of them never say hello.
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(Ws::visitor(&app).await);
    }
    let c = app
        .wait_counts(|c| c.visitor_sockets == 40 && c.agent_sockets == 2)
        .await;
    assert_eq!(
        (c.visitors_online, c.agents_online, c.conversations),
        (40, 1, 40)
    );
    for s in sockets.into_iter().chain(silent) {
        s.close().await;
    }
    a1.close().await;
    a2.close().await;
    let c = app
        .wait_counts(|c| {
            c.visitor_sockets == 0
                && c.agent_sockets == 0
                && c.visitors_online == 0
                && c.agents_online == 0
        })
        .await;
    assert_eq!(c.pending_deliveries, 0);
}

async fn agents_act_only_on_their_own_conversations(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await;
    let conv = conv_id(&v.say("v1", "private matter").await);
    let (_wb, mut wang, _) = app.agent_online("wang", PW).await;
    lin.expect("message").await;

    for frame in [
        json!({"type": "history", "conversation_id": conv}),
        json!({"type": "message", "conversation_id": conv, "client_id": "w1", "body": "sneaky"}),
        json!({"type": "close", "conversation_id": conv}),
        json!({"type": "typing", "conversation_id": conv, "active": true}),
        json!({"type": "transfer", "conversation_id": conv, "agent_id": app.agent("wang").await.id.0}),
    ] {
        wang.send(frame.clone()).await;
        let e = wang.expect("error").await;
        assert_eq!(e["code"], "forbidden", "{frame}");
    }
    wang.send(json!({"type": "history", "conversation_id": 999_999}))
        .await;
    assert_eq!(wang.expect_error().await, "not_found");
    assert_eq!(stored_count(&app, conv).await, 1);
    // The owner reads it; an admin may too.
    lin.send(json!({"type": "history", "conversation_id": conv}))
        .await;
    let h = lin
        .expect_where("history", |f| {
            f["messages"].as_array().is_some_and(|m| !m.is_empty())
        })
        .await;
    assert_eq!(h["messages"][0]["body"], "private matter");
    let (_ab, mut admin, _) = app.agent_online("admin", ADMIN_PASSWORD).await;
    admin
        .send(json!({"type": "history", "conversation_id": conv, "after_seq": 0, "limit": 10}))
        .await;
    assert_eq!(
        admin.expect("history").await["messages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // After the close, only its agent (or an admin) can read it back.
    lin.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    lin.expect("conversation").await;
    wang.send(json!({"type": "history", "conversation_id": conv}))
        .await;
    assert_eq!(wang.expect_error().await, "forbidden");
    lin.send(json!({"type": "history", "conversation_id": conv}))
        .await;
    let h = lin
        .expect_where("history", |f| {
            f["messages"].as_array().is_some_and(|m| !m.is_empty())
        })
        .await;
    assert_eq!(h["messages"].as_array().unwrap().len(), 1);
}

async fn the_agent_socket_needs_a_session_and_this_origin(backend: Backend) {
    let app = spawn_app(backend).await;
    let err = Ws::connect(&app, "/ws/agent", &[])
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("401"), "{err}");
    app.login_admin().await;
    let cookie = format!("livedesk_session={}", app.session_cookie().unwrap());
    let err = Ws::connect(
        &app,
        "/ws/agent",
        &[
            ("Cookie", cookie.clone()),
            ("Origin", "https://evil.example".into()),
        ],
    )
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("403"), "{err}");
    let mut ok = Ws::connect(
        &app,
        "/ws/agent",
        &[("Cookie", cookie), ("Origin", app.address.clone())],
    )
    .await
    .unwrap();
    assert_eq!(ok.expect("welcome").await["agent"]["role"], "admin");
}

async fn a_disabled_agent_is_disconnected_and_its_conversations_move_at_once(backend: Backend) {
    // A long grace period: only the disabling can explain a quick move.
    let app = spawn_app_with(backend, |s| s.agent_grace_secs = 600).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (_lb, mut lin_ws, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    assert_eq!(v.begin("hi").await["agent"]["name"], "lin");
    let (_wb, _wang, _) = app.agent_online("wang", PW).await;

    app.login_admin().await;
    let page = format!("/admin/agents/{}", lin.id);
    let r = app
        .post_with_csrf_from(&page, &format!("{page}/active"), &[("active", "false")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(lin_ws.expect_close().await, 1008);
    assert_eq!(v.expect("assigned").await["agent"]["name"], "wang");
}

async fn chat_metrics_are_exported(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await;
    v.say("m", "hello").await;
    let (_, body) = app.get_text("/metrics").await;
    for name in [
        "livedesk_visitors_connected 1",
        "livedesk_conversations_queued 1",
        "livedesk_agents_online 0",
        "livedesk_messages_stored_total 1",
        "livedesk_message_store_seconds_count 1",
        "livedesk_assignments_total 0",
        "livedesk_reassignments_total 0",
        "livedesk_assignment_latency_seconds_count 0",
    ] {
        assert!(body.contains(name), "missing {name:?} in\n{body}");
    }
    app.add_agent("lin", PW, Role::Agent).await;
    let (_b, mut a, _) = app.agent_online("lin", PW).await;
    a.expect("conversation").await;
    let (_, body) = app.get_text("/metrics").await;
    assert!(body.contains("livedesk_assignments_total 1"), "{body}");
    assert!(
        body.contains("livedesk_agent_open_conversations{agent_id="),
        "{body}"
    );
}

/// After a restart, conversations still queued wait in the queue, and owned
/// ones go to whoever is online once their agent's grace period passes.
async fn open_conversations_survive_a_restart(backend: Backend) {
    let db = TestDb::create(backend);
    let url = db.url().to_owned();
    let mut settings = test_settings(&url);
    settings.agent_grace_secs = 1;
    let first = spawn_on(db, settings.clone()).await;
    first.add_agent("lin", PW, Role::Agent).await;
    first.add_agent("wang", PW, Role::Agent).await;
    let (_lb, _lin, _) = first.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&first).await;
    let w = v.begin("before the restart").await;
    let token = w["token"].as_str().unwrap().to_owned();

    // A restart: a fresh process on the same database, its Dispatcher
    // starting from what storage says.
    first.stop().await;
    let node = livedesk::startup::Application::build_with_clock(
        settings,
        livedesk::domain::Clock::default(),
    )
    .await
    .unwrap();
    let port = node.port();
    let dispatcher = node.dispatcher();
    tokio::spawn(node.run_until_stopped());
    let c = dispatcher
        .send(livedesk::chat::messages::GetCounts)
        .await
        .unwrap();
    assert_eq!(c.conversations, 1, "{c:?}");
    let mut restarted = first.new_browser();
    restarted.address = format!("http://127.0.0.1:{port}");
    restarted.port = port;
    restarted.dispatcher = dispatcher;
    let (_wb, mut wang, _) = restarted.agent_online("wang", PW).await;
    let mut v2 = Ws::visitor(&restarted).await;
    let w2 = v2.hello(Some(&token), Some(1)).await;
    assert_eq!(w2["conversation_id"], w["conversation_id"]);
    // Lin never connected to this node: after the grace period Wang has it, with its history.
    let c = wang.expect("conversation").await;
    assert_eq!(c["conversation"]["agent"]["name"], "wang");
    assert_eq!(
        wang.expect("history").await["messages"][0]["body"],
        "before the restart"
    );
    assert_eq!(v2.expect("assigned").await["agent"]["name"], "wang");
}

async fn a_silent_client_is_dropped_by_the_heartbeat(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.ws_ping_secs = 1;
        s.ws_timeout_secs = 2;
    })
    .await;
    let mut quiet = Ws::visitor(&app).await;
    quiet.hello(None, None).await;
    // This client never reads again, so it never answers a ping.
    app.wait_counts(|c| c.visitor_sockets == 1).await;
    app.wait_counts(|c| c.visitor_sockets == 0 && c.visitors_online == 0)
        .await;
    drop(quiet);
}

async fn bad_agent_frames_get_errors_and_the_socket_stays_open(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_b, mut a, _) = app.agent_online("admin", ADMIN_PASSWORD).await;
    a.send_raw(WsMessage::text("[1,2")).await;
    assert_eq!(a.expect_error().await, "bad_json");
    a.send(json!({"type": "launch"})).await;
    assert_eq!(a.expect_error().await, "unknown_type");
    a.send(json!({"type": "claim"})).await;
    assert_eq!(a.expect_error().await, "bad_frame");
    a.send(json!({"type": "status", "status": "asleep"})).await;
    assert_eq!(a.expect_error().await, "bad_frame");
    a.send(json!({"type": "message", "conversation_id": 1, "client_id": "x", "body": ""}))
        .await;
    assert_eq!(a.expect_error().await, "empty_body");
    a.send(json!({"type": "claim", "conversation_id": 424242}))
        .await;
    assert_eq!(a.expect_error().await, "not_found");
    a.send(json!({"type": "message", "conversation_id": 424242, "client_id": "x", "body": "hi"}))
        .await;
    assert_eq!(a.expect_error().await, "not_found");
    a.send(json!({"type": "status", "status": "away"})).await;
    assert_eq!(a.expect("status").await["status"], "away");
}

both_backends!(
    a_silent_client_is_dropped_by_the_heartbeat,
    bad_agent_frames_get_errors_and_the_socket_stays_open,
    a_new_conversation_goes_to_the_online_agent_and_messages_flow,
    with_nobody_online_conversations_queue_and_drain_oldest_first,
    an_agents_conversations_move_after_the_grace_period,
    a_quick_reconnect_keeps_the_conversation,
    with_nobody_left_the_conversation_goes_back_to_the_queue,
    claim_transfer_and_close,
    concurrent_claims_have_exactly_one_winner,
    a_visitor_resumes_with_exactly_what_it_missed,
    a_resend_is_stored_and_delivered_once,
    a_resend_after_the_conversation_closed_is_not_stored_again,
    concurrent_senders_get_gapless_ordered_seqs,
    bad_input_gets_stable_error_codes_and_the_socket_stays_open,
    every_trace_of_a_socket_leaves_the_dispatcher,
    agents_act_only_on_their_own_conversations,
    the_agent_socket_needs_a_session_and_this_origin,
    a_disabled_agent_is_disconnected_and_its_conversations_move_at_once,
    chat_metrics_are_exported,
    open_conversations_survive_a_restart,
);
