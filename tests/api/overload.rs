//! Admission control: past `LIVEDESK_WRITE_QUEUE` messages waiting to be
//! stored, a message is refused at once with `unavailable` (the client sends
//! it again, same `client_id`) instead of waiting behind all the others.

use diesel::{Connection, RunQueryDsl, SqliteConnection};
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_write_queue_a_message_is_refused_at_once_and_taken_when_sent_again() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.write_queue = 1;
        s.write_batch = 8;
    })
    .await;
    let mut v1 = Ws::visitor(&app).await;
    v1.begin("hello").await;
    let mut v2 = Ws::visitor(&app).await;
    v2.begin("hello").await;
    // The writer gets stuck: another connection holds SQLite's write lock.
    let path = app.db.url().strip_prefix("sqlite://").unwrap().to_owned();
    let mut lock = SqliteConnection::establish(&path).unwrap();
    diesel::sql_query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .unwrap();
    v1.send(json!({"type": "message", "client_id": "m1", "body": "one"}))
        .await;
    v2.send(json!({"type": "message", "client_id": "m2", "body": "two"}))
        .await;
    // One waits for the writer; the other finds the queue full and is
    // refused at once (whichever came second).
    let (refused, mut waiting, mut turned_away) = tokio::select! {
        f = v1.expect("error") => (f, v2, v1),
        f = v2.expect("error") => (f, v1, v2),
    };
    assert_eq!(refused["code"], "unavailable", "{refused}");
    let cid = refused["client_id"].as_str().unwrap().to_owned();
    diesel::sql_query("COMMIT").execute(&mut lock).unwrap();
    let taken = waiting.expect("ack").await;
    assert_ne!(taken["client_id"], cid.as_str());
    // Sent again, it is stored (once, in its own conversation after "first").
    let again = turned_away.say(&cid, "again").await;
    assert_eq!(again["seq"], 2, "{again}");
}
