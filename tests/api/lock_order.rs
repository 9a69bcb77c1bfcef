//! PostgreSQL: every writer of several conversation rows in one transaction
//! (message batches, ownership batches, bulk closes) locks them in id order,
//! whatever order the rows lie in on disk. Batches that locked them in the
//! order their plan happened to visit them deadlocked each other on three
//! nodes under load (docs/benchmarks.md). Here another transaction holds the
//! higher row; the writer must then hold the lower one while it waits.

use diesel::{Connection, PgConnection, RunQueryDsl};
use livedesk::domain::{AgentId, Assignment, AssignmentChange, Clock, ConversationId, Sender};
use livedesk::storage::messages::{insert_batch, OwnedNewMessage};
use livedesk::storage::{conversations, migrations, visitors, DatabaseUrl, Storage};

use crate::helpers::*;

fn lock_nowait(c: &mut PgConnection, id: i64) -> bool {
    diesel::sql_query(format!(
        "SELECT id FROM conversations WHERE id = {id} FOR UPDATE NOWAIT"
    ))
    .execute(c)
    .is_ok()
}

/// A connection whose plans visit rows as they lie on disk (a sequential
/// scan and a hash join, as a large table gets), not in index order.
fn disk_order(s: &Storage) -> impl std::ops::DerefMut<Target = livedesk::storage::DbConnection> {
    let mut c = s.conn().unwrap();
    for set in [
        "enable_nestloop",
        "enable_indexscan",
        "enable_bitmapscan",
        "enable_mergejoin",
    ] {
        diesel::sql_query(format!("SET {set} = off"))
            .execute(&mut *c)
            .unwrap();
    }
    c
}

/// Runs `write` over rows `low < high` while another transaction holds
/// `high`; checks that `write` took `low` first, then lets it finish.
fn writer_locks_in_id_order(write: impl FnOnce(Storage, i64, i64) + Send + 'static) {
    let db = TestDb::create(Backend::Postgres);
    let s = Storage::connect(&DatabaseUrl::parse(db.url()).unwrap(), 3).unwrap();
    migrations::run_pending(&mut s.conn().unwrap()).unwrap();
    let now = Clock::default().now_naive();
    let (low, high) = {
        let mut c = s.conn().unwrap();
        let v = visitors::create(&mut c, "hash", &Default::default(), now).unwrap();
        let low = conversations::create(&mut c, v.id, now).unwrap().id.0;
        let high = conversations::create(&mut c, v.id, now).unwrap().id.0;
        (low, high)
    };
    let mut holder = PgConnection::establish(db.url()).unwrap();
    // New versions of the lower row: on disk it now lies after the higher one.
    for _ in 0..3 {
        diesel::sql_query(format!(
            "UPDATE conversations SET updated_at = now() WHERE id = {low}"
        ))
        .execute(&mut holder)
        .unwrap();
    }
    diesel::sql_query("BEGIN").execute(&mut holder).unwrap();
    assert!(lock_nowait(&mut holder, high));
    let writer = {
        let s = s.clone();
        std::thread::spawn(move || write(s, low, high))
    };
    // Wait (bounded) until the writer waits for a lock.
    let mut watcher = PgConnection::establish(db.url()).unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let waiting: N = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result(&mut watcher)
        .unwrap();
        if waiting.n > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never waited"
        );
        std::thread::yield_now();
    }
    diesel::sql_query("SAVEPOINT probe")
        .execute(&mut holder)
        .unwrap();
    let low_free = lock_nowait(&mut holder, low);
    diesel::sql_query("ROLLBACK").execute(&mut holder).unwrap();
    writer
        .join()
        .expect("the writer finishes once the row is free");
    assert!(
        !low_free,
        "the writer holds the lower row while it waits for the higher"
    );
}

#[test]
fn a_message_batch_locks_its_conversations_in_id_order() {
    writer_locks_in_id_order(|s, low, high| {
        let m = |conv: i64| OwnedNewMessage {
            conversation_id: ConversationId(conv),
            sender: Sender::Visitor,
            agent_id: None,
            client_id: None,
            body: "hello".into(),
        };
        let now = Clock::default().now_naive();
        let r = insert_batch(&mut disk_order(&s), &[m(high), m(low)], now).unwrap();
        assert!(r.iter().all(|r| r.is_ok()));
    });
}

#[test]
fn an_ownership_batch_locks_its_conversations_in_id_order() {
    writer_locks_in_id_order(|s, low, high| {
        let agent = add_agent_row(&s);
        let now = Clock::default().now_naive();
        let change = |id: i64| AssignmentChange {
            conversation: ConversationId(id),
            from: Assignment::queued(),
            to: Assignment {
                status: livedesk::domain::ConversationStatus::Assigned,
                agent: Some(agent),
            },
            at: now,
            version: 1,
        };
        let lost = livedesk::storage::assignments::compare_and_set(
            &mut disk_order(&s),
            &[change(high), change(low)],
        )
        .unwrap();
        assert!(lost.is_empty(), "{lost:?}");
    });
}

#[test]
fn a_bulk_close_locks_its_conversations_in_id_order() {
    writer_locks_in_id_order(|s, low, high| {
        let now = Clock::default().now_naive();
        let closed = conversations::close_open(
            &mut disk_order(&s),
            &[ConversationId(high), ConversationId(low)],
            now,
        )
        .unwrap();
        assert_eq!(closed.len(), 2);
    });
}

fn add_agent_row(s: &Storage) -> AgentId {
    livedesk::storage::agents::insert(
        &mut s.conn().unwrap(),
        &livedesk::storage::agents::NewAgent {
            username: "ann",
            display_name: "Ann",
            password_hash: "x",
            role: livedesk::domain::Role::Agent,
        },
        Clock::default().now_naive(),
    )
    .unwrap()
    .id
}
