//! Labels: defined by admins, put on and taken off conversations by their
//! agents, carried by the conversation object and shown live to whoever sees
//! it; renames and deletions follow.

use livedesk::domain::Role;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";
const PAGE: &str = "/admin/labels";

fn names(conv: &Value) -> Vec<String> {
    conv["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_owned())
        .collect()
}

fn label_id(welcome: &Value, name: &str) -> i64 {
    welcome["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

pub(crate) async fn labels_reach_whoever_sees_the_conversation(agents: &TestApp, admin: &TestApp) {
    agents.add_agent("lin", PW, Role::Agent).await;
    agents.add_agent("wang", PW, Role::Agent).await;
    admin.login_admin().await;
    for (form, status) in [
        (vec![("name", "vip"), ("colour", "#CC0000")], 303),
        (vec![("name", "refund"), ("colour", "#2f6fdf")], 303),
        (vec![("name", "vip"), ("colour", "#000000")], 409),
        (vec![("name", "bad"), ("colour", "red")], 400),
        (vec![("name", " "), ("colour", "#000000")], 400),
    ] {
        let r = admin.post_with_csrf_from(PAGE, PAGE, &form).await;
        assert_eq!(r.status().as_u16(), status, "{form:?}");
    }
    assert_eq!(
        admin
            .post_form(PAGE, &[("name", "forged"), ("colour", "#000000")])
            .await
            .status()
            .as_u16(),
        403
    );

    let (lb, mut lin, w) = agents.agent_online("lin", PW).await;
    let (vip, refund) = (label_id(&w, "vip"), label_id(&w, "refund"));
    assert_eq!(
        w["labels"][1]["colour"], "#cc0000",
        "sorted by name, colour lowercased"
    );
    let mut lin2 = Ws::agent(&lb).await;
    lin2.expect("welcome").await;
    let mut v = Ws::visitor(agents).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    let (_wb, mut wang, _) = agents.agent_online("wang", PW).await;

    lin.send(json!({"type": "label", "conversation_id": conv, "label_id": vip, "on": true}))
        .await;
    let is = |want: Vec<&'static str>| {
        move |f: &Value| f["conversation"]["id"] == conv && names(&f["conversation"]) == want
    };
    lin.expect_where("conversation", is(vec!["vip"])).await;
    lin2.expect_where("conversation", is(vec!["vip"])).await;
    lin.send(json!({"type": "label", "conversation_id": conv, "label_id": refund, "on": true}))
        .await;
    lin2.expect_where("conversation", is(vec!["refund", "vip"]))
        .await;
    // Not wang's conversation; no such label.
    wang.send(json!({"type": "label", "conversation_id": conv, "label_id": vip, "on": false}))
        .await;
    assert_eq!(wang.expect_error().await, "forbidden");
    lin.send(json!({"type": "label", "conversation_id": conv, "label_id": 987_654, "on": true}))
        .await;
    assert_eq!(lin.expect_error().await, "not_found");

    // A rename and a deletion by an admin follow at once.
    let r = admin
        .post_with_csrf_from(
            PAGE,
            &format!("{PAGE}/{vip}"),
            &[("name", "VIP"), ("colour", "#cc0000")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    lin.expect_where("conversation", is(vec!["refund", "VIP"]))
        .await;
    let r = admin
        .post_with_csrf_from(PAGE, &format!("{PAGE}/{refund}/delete"), &[])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    lin.expect_where("conversation", is(vec!["VIP"])).await;

    // A reconnect sees them in the welcome; taken off, they are gone.
    let mut again = Ws::agent(&lb).await;
    let w = again.expect("welcome").await;
    assert_eq!(names(&w["conversations"][0]), ["VIP"]);
    lin.send(json!({"type": "label", "conversation_id": conv, "label_id": vip, "on": false}))
        .await;
    again.expect_where("conversation", is(vec![])).await;
    assert!(!wang.kept("conversation", |f| f["conversation"]["id"] == conv));
}

async fn labels_are_live_and_follow_renames(backend: Backend) {
    let app = spawn_app(backend).await;
    labels_reach_whoever_sees_the_conversation(&app, &app).await;
}

async fn a_closed_conversation_keeps_its_labels(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    app.login_admin().await;
    let r = app
        .post_with_csrf_from(PAGE, PAGE, &[("name", "bug"), ("colour", "#00aa00")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let (lb, mut lin, w) = app.agent_online("lin", PW).await;
    let bug = label_id(&w, "bug");
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("it crashed").await["conversation_id"]
        .as_i64()
        .unwrap();
    lin.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    lin.expect_where("conversation", |f| f["conversation"]["status"] == "closed")
        .await;
    // Labelled after closing (its last agent may), and listed with it after a reload.
    lin.send(json!({"type": "label", "conversation_id": conv, "label_id": bug, "on": true}))
        .await;
    // Stored (the socket answers nothing on success): wait for storage.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let id = livedesk::domain::ConversationId(conv);
        let has = app
            .storage
            .run(move |db| livedesk::storage::labels::of(db, &[id]))
            .await
            .unwrap();
        if !has.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the label was never stored"
        );
        tokio::task::yield_now().await;
    }
    let mut again = Ws::agent(&lb).await;
    let recent = again.expect("recent").await;
    assert_eq!(names(&recent["conversations"][0]), ["bug"], "{recent}");
}

both_backends!(
    labels_are_live_and_follow_renames,
    a_closed_conversation_keeps_its_labels
);
