//! Private notes: delivered to the agents who see the conversation, never to
//! its visitor by any path (live, welcome, resume, history), and the
//! visitor's `seq` stays gapless around them.

use livedesk::domain::{ConversationId, Role};
use livedesk::storage::messages;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

fn note(conv: i64, client_id: &str, body: &str) -> Value {
    json!({"type": "message", "conversation_id": conv, "client_id": client_id,
           "body": body, "private": true})
}

/// The whole story on `agents` (where the agents' sockets are) and
/// `visitors` (where the visitor's are): one node, or two of a cluster.
pub(crate) async fn notes_stay_with_agents(agents: &TestApp, visitors: &TestApp) {
    agents.add_agent("lin", PW, Role::Agent).await;
    agents.add_agent("wang", PW, Role::Agent).await;
    let (b, mut lin, _) = agents.agent_online("lin", PW).await;
    let mut lin2 = Ws::agent(&b).await;
    lin2.expect("welcome").await;

    let mut v = Ws::visitor(visitors).await;
    let w = v.begin("my order is late").await;
    assert_eq!(w["agent"]["name"], "lin", "{w}");
    let conv = w["conversation_id"].as_i64().unwrap();
    lin.expect_where("message", |f| f["message"]["conversation_id"] == conv)
        .await;

    // A note: acknowledged as private, after the visitor's message (seq 1).
    lin.send(note(conv, "n1", "SECRET-refund-limit is 50"))
        .await;
    let ack = lin.expect("ack").await;
    assert_eq!(ack["client_id"], "n1");
    assert_eq!(ack["message"]["private"], true, "{ack}");
    assert_eq!(
        ack["message"]["seq"], 1,
        "a note sits after the last message"
    );
    let other_tab = lin2
        .expect_where("message", |f| f["message"]["client_id"] == "n1")
        .await;
    assert_eq!(other_tab["message"]["private"], true);
    assert_eq!(other_tab["message"]["body"], "SECRET-refund-limit is 50");

    // Resent: the original comes back, nothing new is stored or sent.
    lin.send(note(conv, "n1", "SECRET-refund-limit is 50"))
        .await;
    let again = lin.expect("ack").await;
    assert_eq!(again["message"]["id"], ack["message"]["id"]);

    // The agent's next reply reaches the visitor as seq 2: no gap, no note.
    let reply = lin.agent_say(conv, "a1", "looking into it").await;
    assert_eq!(reply["seq"], 2, "{reply}");
    let got = v.expect("message").await;
    assert_eq!(got["message"]["seq"], 2);
    assert_eq!(got["message"]["body"], "looking into it");
    // The visitor's next message is seq 3 and reaches the agent.
    let mine = v.say("v2", "thanks").await;
    assert_eq!(mine["seq"], 3);
    lin.expect_where("message", |f| f["message"]["seq"] == 3)
        .await;
    lin2.expect_where("message", |f| f["message"]["seq"] == 3)
        .await;

    // A second note, then a transfer carrying a note for the next agent.
    lin.send(note(conv, "n2", "SECRET-customer is a reseller"))
        .await;
    lin.expect_where("ack", |f| f["client_id"] == "n2").await;
    let (_wb, mut wang, _) = agents.agent_online("wang", PW).await;
    let wang_id = agents.agent("wang").await.id.0;
    lin.send(
        json!({"type": "transfer", "conversation_id": conv, "agent_id": wang_id,
                    "note": "SECRET-handover: promised a call back"}),
    )
    .await;
    wang.expect_where("conversation", |f| f["conversation"]["id"] == conv)
        .await;
    let history = wang
        .expect_where("history", |f| f["conversation_id"] == conv)
        .await;
    let items = history["messages"].as_array().unwrap();
    let bodies: Vec<(&str, bool)> = items
        .iter()
        .map(|m| (m["body"].as_str().unwrap(), m["private"] == true))
        .collect();
    assert_eq!(
        bodies,
        [
            ("my order is late", false),
            ("SECRET-refund-limit is 50", true),
            ("looking into it", false),
            ("thanks", false),
            ("SECRET-customer is a reseller", true),
            ("SECRET-handover: promised a call back", true),
        ],
        "the transferee's history holds the notes in place"
    );
    // Scrolling back by `seq` finds the note between messages 1 and 2.
    wang.send(json!({"type": "history", "conversation_id": conv, "before_seq": 3, "limit": 1}))
        .await;
    let page = wang.expect("history").await;
    let page: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(page, ["looking into it"]);
    wang.send(json!({"type": "history", "conversation_id": conv, "before_seq": 2, "limit": 1}))
        .await;
    let page = wang.expect("history").await;
    assert_eq!(page["messages"][0]["body"], "my order is late");
    assert_eq!(page["messages"][1]["body"], "SECRET-refund-limit is 50");

    // The visitor's side: a later reply comes after anything sent before it.
    wang.agent_say(conv, "w1", "wang here").await;
    v.expect_where("message", |f| f["message"]["body"] == "wang here")
        .await;
    assert!(!v.seen().contains("SECRET"), "{}", v.seen());
    // Welcome after a reconnect, from the start and from a cursor.
    let token = v.hello_token().await;
    for last_seq in [None, Some(0), Some(1), Some(2)] {
        let mut again = Ws::visitor(visitors).await;
        let w = again.hello(Some(&token), last_seq).await;
        let seqs: Vec<i64> = w["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect();
        let from = last_seq.unwrap_or(0) + 1;
        assert_eq!(seqs, (from..=4).collect::<Vec<_>>(), "{w}");
        assert!(!again.seen().contains("SECRET"), "{}", again.seen());
        assert!(!again.seen().contains("\"private\""));
    }
    // Storage: the notes are not messages (no visitor query can read them).
    let public = visitors
        .storage
        .run(move |db| messages::count(db, ConversationId(conv)))
        .await
        .unwrap();
    assert_eq!(public, 4);
}

async fn notes_reach_agents_and_never_the_visitor(backend: Backend) {
    let app = spawn_app(backend).await;
    notes_stay_with_agents(&app, &app).await;
}

async fn notes_are_checked_like_messages(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (_b, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    let (_wb, mut wang, _) = app.agent_online("wang", PW).await;
    // Not wang's conversation; an unknown one; an empty body.
    wang.send(note(conv, "x1", "mine now")).await;
    assert_eq!(wang.expect_error().await, "forbidden");
    wang.send(note(999_999, "x2", "ghost")).await;
    assert_eq!(wang.expect_error().await, "not_found");
    lin.send(note(conv, "x3", "  ")).await;
    assert_eq!(lin.expect_error().await, "empty_body");
    // Closed: no more notes.
    lin.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    lin.expect_where("conversation", |f| f["conversation"]["status"] == "closed")
        .await;
    lin.send(note(conv, "x4", "after the end")).await;
    assert_eq!(lin.expect_error().await, "closed");
}

both_backends!(
    notes_reach_agents_and_never_the_visitor,
    notes_are_checked_like_messages
);
