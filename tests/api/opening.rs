//! First messages open conversations, many at once (on PostgreSQL they
//! share one statement and one commit): each visitor gets exactly one
//! conversation of its own, also when two of its tabs write at once.

use futures_util::future::join_all;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

async fn first_messages_at_once_open_one_conversation_per_visitor(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut visitors = Vec::new();
    for _ in 0..20 {
        let mut v = Ws::visitor(&app).await;
        v.hello(None, None).await;
        visitors.push(v);
    }
    // A second tab of the first visitor.
    let token = visitors[0].hello_token().await;
    let mut tab = Ws::visitor(&app).await;
    tab.hello(Some(&token), None).await;
    for (i, v) in visitors.iter_mut().enumerate() {
        v.send(json!({"type": "message", "client_id": format!("c{i}"), "body": "hi"}))
            .await;
    }
    tab.send(json!({"type": "message", "client_id": "tab", "body": "me too"}))
        .await;
    let acks = join_all(visitors.iter_mut().map(|v| v.expect("ack"))).await;
    let tab_ack = tab.expect("ack").await;
    let mut convs: Vec<i64> = acks
        .iter()
        .map(|a| a["message"]["conversation_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        tab_ack["message"]["conversation_id"].as_i64(),
        Some(convs[0]),
        "both tabs write into one conversation"
    );
    let mut seqs = vec![
        acks[0]["message"]["seq"].as_i64().unwrap(),
        tab_ack["message"]["seq"].as_i64().unwrap(),
    ];
    seqs.sort();
    assert_eq!(seqs, [1, 2]);
    convs.sort();
    convs.dedup();
    assert_eq!(convs.len(), 20, "one conversation per visitor");
}

both_backends!(first_messages_at_once_open_one_conversation_per_visitor);
