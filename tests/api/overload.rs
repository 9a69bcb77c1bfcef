//! Admission control: past `LIVEDESK_WRITE_QUEUE` messages waiting to be
//! stored, a message is refused at once with `unavailable` (the client sends
//! it again, same `client_id`) instead of waiting behind all the others.

use diesel::{Connection, RunQueryDsl, SqliteConnection};
use livedesk::domain::ConversationId;
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

/// A client that sends faster than its messages can be stored: a few wait
/// in the server (in order), the rest are refused at once instead of
/// waiting unread; one that waited past `LIVEDESK_WRITE_WAIT_MS` is refused
/// when its turn comes. Sent again, each is stored once, in the order sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_faster_than_it_is_stored_is_refused_quickly_and_keeps_its_order() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.write_queue = 0;
        s.write_batch = 8;
        // Stuck for longer than this (it is, for far more than 1 ms) is behind.
        s.write_wait_ms = 1;
        // The flood limit is another matter.
        (s.ws_rate, s.ws_burst) = (1000, 1000);
    })
    .await;
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    let path = app.db.url().strip_prefix("sqlite://").unwrap().to_owned();
    let mut lock = SqliteConnection::establish(&path).unwrap();
    diesel::sql_query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .unwrap();
    // m1 is being stored (stuck); 64 wait behind it; the rest are refused.
    for i in 1..=68 {
        v.send(json!({"type": "message", "client_id": format!("m{i}"), "body": format!("n{i}")}))
            .await;
    }
    for i in 66..=68 {
        let e = v
            .expect_where("error", |f| f["client_id"] == format!("m{i}"))
            .await;
        assert_eq!(e["code"], "unavailable", "{e}");
    }
    // Those waiting are past the wait a message is allowed (by the node's
    // clock), and the node is behind (stuck); the writer is released.
    app.clock.advance(chrono::Duration::seconds(11));
    diesel::sql_query("COMMIT").execute(&mut lock).unwrap();
    assert_eq!(v.expect("ack").await["client_id"], "m1");
    for i in 2..=65 {
        let e = v.expect("error").await;
        assert_eq!(
            (e["code"].as_str(), e["client_id"].as_str()),
            (Some("unavailable"), Some(format!("m{i}").as_str())),
            "refused in the order they came: {e}"
        );
    }
    for i in 2..=68 {
        let m = v.say(&format!("m{i}"), &format!("n{i}")).await;
        assert_eq!(m["seq"], i + 1, "{m}");
    }
    // Stored once each, in the order sent.
    let stored = app
        .storage
        .run(move |db| livedesk::storage::messages::after(db, ConversationId(conv), 0, 1000))
        .await
        .unwrap();
    let bodies: Vec<String> = stored.into_iter().map(|m| m.body).collect();
    let want: Vec<String> = std::iter::once("hello".to_owned())
        .chain((1..=68).map(|i| format!("n{i}")))
        .collect();
    assert_eq!(bodies, want);
}

crate::both_backends!(a_stuck_writer_takes_what_it_may_and_refuses_the_rest_at_once);

/// Storage stops answering (another connection holds the write lock) while
/// many visitors write: the first `FLOOR` messages are taken and wait, every
/// later one is refused at once (its answer comes while storage is still
/// stuck), and once storage answers again every acknowledged message, and
/// every refused one sent again, is stored exactly once.
async fn a_stuck_writer_takes_what_it_may_and_refuses_the_rest_at_once(backend: Backend) {
    use livedesk::storage::admission::FLOOR;
    let app = spawn_app_with(backend, |s| {
        s.write_queue = 0; // the pace alone
        s.visitor_sockets_per_ip = 0;
        s.new_conversations_per_ip = 0;
    })
    .await;
    let n = FLOOR + 40;
    let mut visitors = Vec::new();
    for _ in 0..n {
        let mut v = Ws::visitor(&app).await;
        v.begin("hello").await;
        visitors.push(v);
    }
    let mut lock = Locked::take(&app, backend);
    for (i, v) in visitors.iter_mut().enumerate() {
        v.send(json!({"type": "message", "client_id": format!("m{i}"), "body": format!("n{i}")}))
            .await;
    }
    // Exactly the excess is refused, while storage is still stuck.
    let mut refused = Vec::new();
    for (i, v) in visitors.iter_mut().enumerate().skip(FLOOR) {
        let e = v.expect("error").await;
        assert_eq!(
            (e["code"].as_str(), e["client_id"].as_str()),
            (Some("unavailable"), Some(format!("m{i}").as_str()))
        );
        refused.push(i);
    }
    assert_eq!(refused.len(), n - FLOOR);
    lock.release();
    for (i, v) in visitors.iter_mut().enumerate() {
        let m = if i < FLOOR {
            v.expect("ack").await["message"].clone()
        } else {
            v.say(&format!("m{i}"), &format!("n{i}")).await
        };
        assert_eq!(m["seq"], 2, "{m}");
        assert_eq!(m["body"], format!("n{i}"));
    }
    let stored = app
        .storage
        .run(|db| {
            use diesel::dsl::count_star;
            use diesel::prelude::*;
            use livedesk::storage::schema::messages::dsl::*;
            messages
                .select(count_star())
                .first::<i64>(db)
                .map_err(Into::into)
        })
        .await
        .unwrap();
    assert_eq!(stored, 2 * n as i64, "each message stored once");
}

/// Another connection holding storage's write lock.
enum Locked {
    Sqlite(SqliteConnection),
    Postgres(diesel::PgConnection),
}

impl Locked {
    fn take(app: &TestApp, backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let path = app.db.url().strip_prefix("sqlite://").unwrap();
                let mut c = SqliteConnection::establish(path).unwrap();
                diesel::sql_query("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .unwrap();
                Locked::Sqlite(c)
            }
            Backend::Postgres => {
                let mut c = diesel::PgConnection::establish(app.db.url()).unwrap();
                diesel::sql_query("BEGIN").execute(&mut c).unwrap();
                diesel::sql_query("LOCK TABLE messages IN EXCLUSIVE MODE")
                    .execute(&mut c)
                    .unwrap();
                Locked::Postgres(c)
            }
        }
    }

    fn release(&mut self) {
        let r = match self {
            Locked::Sqlite(c) => diesel::sql_query("COMMIT").execute(c),
            Locked::Postgres(c) => diesel::sql_query("COMMIT").execute(c),
        };
        r.unwrap();
    }
}
