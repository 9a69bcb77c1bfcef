//! Transcripts: an agent's has the notes marked, labels and visitor details,
//! for those who may read the conversation only; a visitor's has its messages
//! and the agents' replies, never a note.

use livedesk::domain::Role;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

async fn transcripts_for_agents_and_visitors(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (lb, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("Where is my parcel?").await["conversation_id"]
        .as_i64()
        .unwrap();
    let token = v.hello_token().await;
    lin.send(
        json!({"type": "message", "conversation_id": conv, "client_id": "n1",
                    "body": "SECRET-NOTE customer is a reseller", "private": true}),
    )
    .await;
    lin.expect("ack").await;
    lin.agent_say(conv, "a1", "It left this morning.").await;
    v.expect("message").await;

    let base = format!("/agent/conversations/{conv}/transcript");
    let (status, html) = lb.get_text(&base).await;
    assert_eq!(status, 200);
    assert!(html.contains("SECRET-NOTE") && html.contains("msg note") && html.contains("Vera"));
    let txt = lb.get(&format!("{base}.txt")).await;
    assert_eq!(txt.status().as_u16(), 200);
    assert!(txt.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let txt = txt.text().await.unwrap();
    let lines: Vec<&str> = txt.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), 3, "{txt}");
    assert!(lines[0].ends_with("Vera: Where is my parcel?"), "{txt}");
    assert!(
        lines[1].contains("lin (Note") && lines[1].ends_with("SECRET-NOTE customer is a reseller"),
        "{txt}"
    );
    assert!(lines[2].ends_with("lin: It left this morning."));
    let j: Value = lb.get(&format!("{base}.json")).await.json().await.unwrap();
    assert_eq!(j["conversation"]["id"], conv);
    assert_eq!(j["visitor"]["email"], "vera@example.com");
    let kinds: Vec<bool> = j["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["private"] == true)
        .collect();
    assert_eq!(kinds, [false, true, false]);

    // Not wang's conversation; not a conversation at all: the same 404.
    let (_wb2, _w, _) = app.agent_online("wang", PW).await;
    let wb = app.new_browser();
    wb.login_ok("wang", PW).await;
    assert_eq!(wb.get(&format!("{base}.txt")).await.status().as_u16(), 404);
    assert_eq!(
        wb.get("/agent/conversations/987654/transcript")
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        app.new_browser().get(&base).await.status().as_u16(),
        303,
        "signed out: to the sign-in page"
    );

    // The visitor's own: its messages and the replies, no note.
    let r = app
        .new_browser()
        .post_form("/transcript", &[("token", &token)])
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let mine = r.text().await.unwrap();
    assert!(mine.contains("Where is my parcel?") && mine.contains("It left this morning."));
    assert!(!mine.contains("SECRET") && !mine.contains("Note"), "{mine}");
    let r = app
        .new_browser()
        .post_form("/transcript", &[("token", "forged")])
        .await;
    assert_eq!(r.status().as_u16(), 404);
    // After closing, the visitor still gets the last conversation.
    lin.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    v.expect("closed").await;
    let r = app
        .new_browser()
        .post_form("/transcript", &[("token", &token)])
        .await;
    assert!(r.text().await.unwrap().contains("It left this morning."));
    // Its last agent can still read it, closed.
    assert_eq!(lb.get(&base).await.status().as_u16(), 200);
}

both_backends!(transcripts_for_agents_and_visitors);
