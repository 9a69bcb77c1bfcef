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
    let lines: Vec<&str> = txt
        .lines()
        .filter(|l| l.starts_with('[') && !l.contains("] — "))
        .collect();
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
    let (wb, mut wang, _) = app.agent_online("wang", PW).await;
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

    // Who had it when: assigned to lin, moved to wang, closed (by storage events).
    let wang_id = app.agent("wang").await.id.0;
    lin.send(json!({"type": "transfer", "conversation_id": conv, "agent_id": wang_id}))
        .await;
    lin.expect_where("unassigned", |f| f["conversation_id"] == conv)
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let txt = loop {
        // The ownership writer stores the transfer a moment after it is decided.
        let t = wb.get(&format!("{base}.txt")).await.text().await.unwrap();
        if t.contains("Moved from lin to wang") || tokio::time::Instant::now() > deadline {
            break t;
        }
        tokio::task::yield_now().await;
    };
    let events: Vec<&str> = txt.lines().filter(|l| l.contains("] — ")).collect();
    assert_eq!(events.len(), 2, "{txt}");
    assert!(
        txt.lines().nth(2).unwrap().ends_with("Assigned to lin"),
        "{txt}"
    );
    assert!(
        events[0].ends_with("Assigned to lin") && events[1].ends_with("Moved from lin to wang"),
        "{txt}"
    );
    let reply = txt
        .lines()
        .position(|l| l.contains("It left this morning"))
        .unwrap();
    let moved = txt
        .lines()
        .position(|l| l.ends_with("Moved from lin to wang"))
        .unwrap();
    assert!(moved > reply, "events sit where they happened: {txt}");

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
    wang.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    v.expect("closed").await;
    let r = app
        .new_browser()
        .post_form("/transcript", &[("token", &token)])
        .await;
    assert!(r.text().await.unwrap().contains("It left this morning."));
    // Its last agent (wang now) can still read it, closed; the close is in it.
    let (status, html) = wb.get_text(&base).await;
    assert_eq!(status, 200);
    assert!(html.contains("class=\"event\""));
    let j: Value = wb.get(&format!("{base}.json")).await.json().await.unwrap();
    let kinds: Vec<&str> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["assigned", "assigned", "closed"]);
    assert_eq!(j["events"][2]["from_agent_id"], wang_id);
}

both_backends!(transcripts_for_agents_and_visitors);
