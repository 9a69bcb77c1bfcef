//! Team rooms over real agent sockets: delivered once and in order to every
//! member and no one else, membership checked on every action (an unknown
//! room and a room one is not in look the same), gapless seq under
//! concurrent senders, resends, resume, mentions, the `everyone` room.

use std::collections::BTreeSet;

use livedesk::domain::{AgentId, Role, RoomId};
use livedesk::storage::rooms;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

pub(crate) const PW: &str = "agent-password";

pub(crate) async fn make_room(app: &TestApp, name: &str, members: &[AgentId]) -> i64 {
    let (name, members) = (name.to_owned(), members.to_vec());
    let now = chrono::Utc::now().naive_utc();
    app.storage
        .run(move |db| rooms::create(db, &name, None, &members, now))
        .await
        .unwrap()
        .id
}

pub(crate) async fn everyone(app: &TestApp) -> i64 {
    app.storage
        .run(|db| rooms::find_by_name(db, rooms::EVERYONE))
        .await
        .unwrap()
        .id
}

pub(crate) async fn room_say(ws: &mut Ws, room: i64, client_id: &str, body: &str) -> Value {
    ws.send(json!({"type": "room_message", "room_id": room, "client_id": client_id, "body": body}))
        .await;
    let ack = ws
        .expect_where("room_ack", |f| f["client_id"] == client_id)
        .await;
    ack["message"].clone()
}

pub(crate) async fn room_heard(ws: &mut Ws, room: i64, body: &str) -> Value {
    ws.expect_where("room_message", |f| {
        f["message"]["room_id"] == room && f["message"]["body"] == body
    })
    .await["message"]
        .clone()
}

fn room_in(welcome: &Value, room: i64) -> Option<&Value> {
    welcome["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
}

/// Room messages, and who hears them; on `a` and `b` (one node, or two).
pub(crate) async fn rooms_reach_members_only(a: &TestApp, b: &TestApp) {
    let lin = a.add_agent("lin", PW, Role::Agent).await;
    let wang = a.add_agent("wang", PW, Role::Agent).await;
    a.add_agent("zhao", PW, Role::Agent).await;
    let room = make_room(a, "refunds", &[lin.id, wang.id]).await;
    let all = everyone(a).await;

    let (lb, mut lin1, w) = a.agent_online("lin", PW).await;
    let mut lin2 = Ws::agent(&lb).await;
    lin2.expect("welcome").await;
    let names: Vec<&str> = w["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["everyone", "refunds"], "{w}");
    let (_wb, mut wang_ws, _) = b.agent_online("wang", PW).await;
    let (_zb, mut zhao, zw) = b.agent_online("zhao", PW).await;
    assert!(room_in(&zw, room).is_none(), "not a member: not listed");
    assert!(room_in(&zw, all).is_some());

    let m = room_say(&mut lin1, room, "r1", "who knows the refund rules?").await;
    assert_eq!(
        (m["seq"].as_i64(), m["room_id"].as_i64()),
        (Some(1), Some(room))
    );
    assert_eq!(m["agent_name"], "lin");
    let heard = room_heard(&mut wang_ws, room, "who knows the refund rules?").await;
    assert_eq!(heard, m, "the same message object");
    room_heard(&mut lin2, room, "who knows the refund rules?").await;
    // Resent: the original, stored once, delivered once.
    let again = room_say(&mut lin1, room, "r1", "who knows the refund rules?").await;
    assert_eq!(again["id"], m["id"]);
    let next = room_say(&mut lin1, room, "r2", "anyone?").await;
    assert_eq!(next["seq"], 2);
    let after = wang_ws.expect("room_message").await;
    assert_eq!(after["message"]["seq"], 2, "no second copy of seq 1");

    // A non-member and an unknown room are told the same, and learn nothing.
    zhao.send(json!({"type": "room_message", "room_id": room, "client_id": "z1", "body": "hi"}))
        .await;
    let e1 = zhao.expect("error").await;
    zhao.send(json!({"type": "room_message", "room_id": 987_654, "client_id": "z2", "body": "hi"}))
        .await;
    let e2 = zhao.expect("error").await;
    assert_eq!(e1["code"], "not_found");
    assert_eq!((&e1["code"], &e1["message"]), (&e2["code"], &e2["message"]));
    for probe in [
        json!({"type": "room_history", "room_id": room}),
        json!({"type": "room_read", "room_id": room, "seq": 1}),
        json!({"type": "room_typing", "room_id": room, "active": true}),
    ] {
        zhao.send(probe).await;
        assert_eq!(zhao.expect_error().await, "not_found");
    }
    // Bad bodies.
    lin1.send(json!({"type": "room_message", "room_id": room, "client_id": "r3", "body": " "}))
        .await;
    assert_eq!(lin1.expect_error().await, "validation");
    lin1.send(json!({"type": "room_message", "room_id": room, "client_id": "r4", "body": "x".repeat(4097)}))
        .await;
    assert_eq!(lin1.expect_error().await, "validation");

    // Typing goes to the other members.
    lin1.send(json!({"type": "room_typing", "room_id": room, "active": true}))
        .await;
    let t = wang_ws.expect("room_typing").await;
    assert_eq!(
        (t["room_id"].as_i64(), &t["agent"]["name"]),
        (Some(room), &json!("lin"))
    );

    // `everyone` reaches zhao too; by then anything for refunds would have come.
    room_say(&mut wang_ws, all, "e1", "lunch at 12").await;
    room_heard(&mut zhao, all, "lunch at 12").await;
    room_heard(&mut lin1, all, "lunch at 12").await;
    assert!(!zhao.seen().contains("refund"), "{}", zhao.seen());
    assert!(!zhao.seen().contains("\"room_typing\""));

    // Removed while connected: the next message does not reach wang.
    let wid = wang.id;
    a.storage
        .run(move |db| rooms::remove_member(db, RoomId(room), wid))
        .await
        .unwrap();
    room_say(&mut lin1, room, "r5", "after wang left").await;
    room_say(&mut lin1, all, "e2", "sync").await;
    room_heard(&mut wang_ws, all, "sync").await;
    assert!(!wang_ws.seen().contains("after wang left"));
    wang_ws
        .send(json!({"type": "room_history", "room_id": room}))
        .await;
    assert_eq!(wang_ws.expect_error().await, "not_found");
}

async fn room_messages_reach_every_member_and_no_one_else(backend: Backend) {
    let app = spawn_app(backend).await;
    rooms_reach_members_only(&app, &app).await;
}

async fn room_seq_is_gapless_under_twenty_concurrent_senders(backend: Backend) {
    let app = spawn_app(backend).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    let wang = app.add_agent("wang", PW, Role::Agent).await;
    let room = make_room(&app, "busy", &[lin.id, wang.id]).await;
    let (_wb, mut listener, _) = app.agent_online("wang", PW).await;
    let b = app.new_browser();
    b.login_ok("lin", PW).await;
    let mut senders = Vec::new();
    for _ in 0..20 {
        let mut ws = Ws::agent(&b).await;
        ws.expect("welcome").await;
        senders.push(ws);
    }
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for k in 0..5 {
                    let m =
                        room_say(&mut ws, room, &format!("s{i}-{k}"), &format!("m {i} {k}")).await;
                    seqs.push(m["seq"].as_i64().unwrap());
                }
                seqs
            })
        })
        .collect();
    let mut acked = BTreeSet::new();
    for t in tasks {
        for s in t.await.unwrap() {
            assert!(acked.insert(s), "seq {s} given twice");
        }
    }
    assert_eq!(acked, (1..=100).collect::<BTreeSet<i64>>());
    // The listener hears all 100 in order, once.
    for want in 1..=100 {
        let m = listener.expect("room_message").await;
        assert_eq!(m["message"]["seq"], want);
    }
}

async fn history_resume_mentions_and_unread(backend: Backend) {
    let app = spawn_app(backend).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    let wang = app.add_agent("wang", PW, Role::Agent).await;
    let room = make_room(&app, "shift", &[lin.id, wang.id]).await;
    let (_lb, mut lin_ws, _) = app.agent_online("lin", PW).await;
    for i in 1..=5 {
        room_say(&mut lin_ws, room, &format!("h{i}"), &format!("note {i}")).await;
    }
    let m = room_say(&mut lin_ws, room, "h6", "@wang can you take my chats at 6?").await;
    assert_eq!(m["mentions"], json!([wang.id.0]));
    room_say(&mut lin_ws, room, "h7", "@nobody @lin me neither").await;

    // wang was away: its welcome counts them.
    let (wb, mut wang_ws, w) = app.agent_online("wang", PW).await;
    let r = room_in(&w, room).unwrap();
    assert_eq!(
        (r["unread"].as_i64(), r["mentions"].as_i64()),
        (Some(7), Some(1)),
        "{r}"
    );
    assert_eq!(r["last_seq"], 7);
    // Resume after seq 4; scroll back before 3.
    wang_ws
        .send(json!({"type": "room_history", "room_id": room, "after_seq": 4}))
        .await;
    let h = wang_ws.expect("room_history").await;
    let seqs: Vec<i64> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [5, 6, 7]);
    assert_eq!(h["messages"][1]["mentions"], json!([wang.id.0]));
    wang_ws
        .send(json!({"type": "room_history", "room_id": room, "before_seq": 3, "limit": 10}))
        .await;
    let h = wang_ws.expect("room_history").await;
    assert_eq!(h["messages"].as_array().unwrap().len(), 2);
    assert_eq!(h["messages"][0]["body"], "note 1");
    // Read up to 6: one unread (7), no mention left.
    wang_ws
        .send(json!({"type": "room_read", "room_id": room, "seq": 6}))
        .await;
    // `room_read` answers nothing: a fresh welcome shows it once stored.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut again = Ws::agent(&wb).await;
        let w = again.expect("welcome").await;
        let r = room_in(&w, room).unwrap();
        let counts = (r["unread"].as_i64(), r["mentions"].as_i64());
        if counts == (Some(1), Some(0)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "read never counted: {r}"
        );
        again.close().await;
    }
}

async fn everyone_follows_agents_coming_and_going(backend: Backend) {
    let app = spawn_app(backend).await;
    let all = everyone(&app).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, mut lin_ws, w) = app.agent_online("lin", PW).await;
    assert!(room_in(&w, all).is_some(), "a new agent is in everyone");
    room_say(&mut lin_ws, all, "e1", "welcome aboard").await;
    // Disabled: out of everyone.
    app.login_admin().await;
    let page = format!("/admin/agents/{}", lin.id);
    let r = app
        .post_with_csrf_from(&page, &format!("{page}/active"), &[("active", "false")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    lin_ws.expect_close().await;
    let lid = lin.id;
    let refused = app
        .storage
        .run(move |db| rooms::for_member(db, RoomId(all), lid))
        .await;
    assert!(refused.is_err(), "a disabled agent is no member");
    let members = app
        .storage
        .run(move |db| {
            let r = rooms::find(db, RoomId(all))?;
            rooms::members(db, &r)
        })
        .await
        .unwrap();
    assert_eq!(members, rooms::Members::All);
}

both_backends!(
    room_messages_reach_every_member_and_no_one_else,
    room_seq_is_gapless_under_twenty_concurrent_senders,
    history_resume_mentions_and_unread,
    everyone_follows_agents_coming_and_going
);
