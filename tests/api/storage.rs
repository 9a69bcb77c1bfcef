use std::collections::BTreeSet;

use diesel::sql_types::{Integer, Text};
use diesel::{QueryableByName, RunQueryDsl};
use livedesk::config::Secret;
use livedesk::domain::Clock;
use livedesk::startup::Application;
use livedesk::storage::{migrations, DatabaseUrl, DbConnection, Storage};

use crate::both_backends;
use crate::helpers::*;

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Integer)]
    not_null: i32,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

/// (table, column, nullable) for every table livedesk owns.
fn columns(conn: &mut DbConnection) -> BTreeSet<(String, String, bool)> {
    match conn {
        DbConnection::Pg(c) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name, is_nullable::text AS is_nullable \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
        )
        .load::<PgColumn>(c)
        .unwrap()
        .into_iter()
        .map(|r| (r.table_name, r.column_name, r.is_nullable == "YES"))
        .collect(),
        // The FTS5 index and its shadow tables are SQLite's form of
        // PostgreSQL's trigram index, not tables of their own.
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name, p.\"notnull\" AS not_null, p.pk AS pk \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations' \
             AND m.name NOT LIKE 'messages_fts%'",
        )
        .load::<SqliteColumn>(c)
        .unwrap()
        .into_iter()
        // An INTEGER PRIMARY KEY is never NULL even though SQLite reports notnull = 0.
        .map(|r| (r.table_name, r.column_name, r.not_null == 0 && r.pk == 0))
        .collect(),
    }
}

fn migrated(db: &TestDb) -> Storage {
    let s = Storage::connect(&DatabaseUrl::parse(db.url()).unwrap(), 2).unwrap();
    migrations::run_pending(&mut s.conn().unwrap()).unwrap();
    s
}

/// A migrated database holding one visitor with one conversation.
fn with_a_conversation(
    backend: Backend,
) -> (
    TestDb,
    Storage,
    livedesk::domain::VisitorId,
    livedesk::domain::ConversationId,
) {
    use livedesk::storage::{conversations, visitors};
    let db = TestDb::create(backend);
    let s = migrated(&db);
    let mut c = s.conn().unwrap();
    let now = Clock::default().now_naive();
    let v = visitors::create(&mut c, "hash", &Default::default(), now)
        .unwrap()
        .id;
    let conv = conversations::create(&mut c, v, now).unwrap().id;
    drop(c);
    (db, s, v, conv)
}

#[test]
fn both_backends_get_the_same_tables_and_columns() {
    let (pg_db, lite_db) = (
        TestDb::create(Backend::Postgres),
        TestDb::create(Backend::Sqlite),
    );
    let pg = columns(&mut migrated(&pg_db).conn().unwrap());
    let lite = columns(&mut migrated(&lite_db).conn().unwrap());
    assert!(pg.len() > 40, "{pg:?}");
    let only_pg: Vec<_> = pg.difference(&lite).collect();
    let only_lite: Vec<_> = lite.difference(&pg).collect();
    assert!(
        only_pg.is_empty() && only_lite.is_empty(),
        "only in postgres: {only_pg:?}\nonly in sqlite: {only_lite:?}"
    );
    for table in [
        "agents",
        "login_attempts",
        "sessions",
        "settings",
        "visitors",
        "conversations",
        "messages",
    ] {
        assert!(
            pg.iter().any(|(t, _, _)| t == table),
            "missing table {table}"
        );
    }
}

#[test]
fn migration_folders_hold_the_same_names() {
    let names = |dir: &str| -> BTreeSet<String> {
        std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    };
    assert_eq!(names("postgres"), names("sqlite"));
}

fn migrations_go_down_and_up_again(backend: Backend) {
    let db = TestDb::create(backend);
    let s = migrated(&db);
    let mut conn = s.conn().unwrap();
    let before = columns(&mut conn);
    migrations::revert_all(&mut conn).unwrap();
    assert!(columns(&mut conn).is_empty());
    let applied = migrations::run_pending(&mut conn).unwrap();
    assert!(!applied.is_empty());
    assert_eq!(columns(&mut conn), before);
    // Running again is a no-op.
    assert!(migrations::run_pending(&mut conn).unwrap().is_empty());
}

#[test]
fn migrations_go_down_and_up_again_sqlite() {
    migrations_go_down_and_up_again(Backend::Sqlite)
}

#[test]
fn migrations_go_down_and_up_again_postgres() {
    migrations_go_down_and_up_again(Backend::Postgres)
}

/// Nodes starting together: migrations are serialised by the advisory lock and all succeed.
#[test]
fn concurrent_starts_migrate_once_on_postgres() {
    let db = TestDb::create(Backend::Postgres);
    let url = db.url().to_owned();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let s = Storage::connect(&DatabaseUrl::parse(&url).unwrap(), 1).unwrap();
                let applied = migrations::run_pending(&mut s.conn().unwrap()).unwrap();
                applied.len()
            })
        })
        .collect();
    let counts: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(counts.iter().filter(|&&n| n > 0).count(), 1, "{counts:?}");
}

#[derive(QueryableByName)]
struct Pragma {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

#[derive(QueryableByName)]
struct Timeout {
    #[diesel(sql_type = Integer)]
    timeout: i32,
}

#[test]
fn sqlite_runs_in_wal_mode_with_a_busy_timeout() {
    let db = TestDb::create(Backend::Sqlite);
    let s = migrated(&db);
    let mut conn = s.conn().unwrap();
    let DbConnection::Sqlite(c) = &mut *conn else {
        panic!("sqlite expected")
    };
    let mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result::<Pragma>(c)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
    let t = diesel::sql_query("PRAGMA busy_timeout")
        .get_result::<Timeout>(c)
        .unwrap();
    assert!(t.timeout >= 1000);
}

async fn startup_errors(backend: Backend) {
    let db = TestDb::create(backend);
    // An unknown scheme is an error, never a silent fallback to SQLite.
    for (url, want) in [
        ("mysql://localhost/x", "unsupported database URL scheme"),
        ("livedesk.db", "no scheme"),
    ] {
        let mut s = test_settings(url);
        s.database_url = Secret::new(url);
        let err = Application::build_with_clock(s, Clock::default())
            .await
            .err()
            .expect("must fail");
        assert!(err.to_string().contains(want), "{url}: {err}");
    }
    let mut s = test_settings(db.url());
    s.session_secret = Some(Secret::new("too-short"));
    let err = Application::build_with_clock(s, Clock::default())
        .await
        .err()
        .expect("must fail");
    assert!(format!("{err:#}").contains("at least 32 bytes"), "{err:#}");
    let mut s = test_settings(db.url());
    s.session_secret = Some(Secret::new("x".repeat(40)));
    assert!(Application::build_with_clock(s, Clock::default())
        .await
        .is_ok());
}

both_backends!(startup_errors);

fn add(s: &Storage, name: &str, role: livedesk::domain::Role) -> livedesk::storage::agents::Agent {
    livedesk::storage::agents::insert(
        &mut s.conn().unwrap(),
        &livedesk::storage::agents::NewAgent {
            username: name,
            display_name: name,
            password_hash: "x",
            role,
        },
        Clock::default().now_naive(),
    )
    .unwrap()
}

/// The rule is "never from some active admin to none": without any admin, agents can still be disabled.
fn disabling_works_when_there_is_no_admin_at_all(backend: Backend) {
    use livedesk::storage::agents;
    let db = TestDb::create(backend);
    let s = migrated(&db);
    let lin = add(&s, "lin", livedesk::domain::Role::Agent);
    assert!(
        !agents::set_active(&mut s.conn().unwrap(), lin.id, false)
            .unwrap()
            .active
    );
}

/// Two admins disabling each other at the same moment: exactly one wins.
fn two_admins_cannot_disable_each_other_at_once(backend: Backend) {
    use livedesk::storage::{agents, StorageError};
    let db = TestDb::create(backend);
    let s = migrated(&db);
    let a = add(&s, "a", livedesk::domain::Role::Admin);
    let b = add(&s, "b", livedesk::domain::Role::Admin);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let results: Vec<_> = [a.id, b.id]
        .into_iter()
        .map(|id| {
            let (s, barrier) = (s.clone(), barrier.clone());
            let mut conn = s.conn().unwrap();
            std::thread::spawn(move || {
                barrier.wait();
                agents::set_active(&mut conn, id, false)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(StorageError::LastAdmin)))
        .count();
    assert_eq!(refused, 1, "{results:?}");
    let active = agents::list(&mut s.conn().unwrap())
        .unwrap()
        .iter()
        .filter(|x| x.active)
        .count();
    assert_eq!(active, 1);
}

#[test]
fn disabling_works_when_there_is_no_admin_at_all_sqlite() {
    disabling_works_when_there_is_no_admin_at_all(Backend::Sqlite)
}
#[test]
fn disabling_works_when_there_is_no_admin_at_all_postgres() {
    disabling_works_when_there_is_no_admin_at_all(Backend::Postgres)
}
#[test]
fn two_admins_cannot_disable_each_other_at_once_sqlite() {
    two_admins_cannot_disable_each_other_at_once(Backend::Sqlite)
}
#[test]
fn two_admins_cannot_disable_each_other_at_once_postgres() {
    two_admins_cannot_disable_each_other_at_once(Backend::Postgres)
}

/// Group commit keeps every promise of the single insert.
fn a_batch_numbers_dedupes_and_refuses_like_single_inserts(backend: Backend) {
    use livedesk::domain::{Assignment, ConversationStatus, Sender};
    use livedesk::storage::messages::{insert_batch, OwnedNewMessage, Stored};
    use livedesk::storage::{conversations, messages, visitors, StorageError};
    let db = TestDb::create(backend);
    let s = migrated(&db);
    let mut c = s.conn().unwrap();
    let now = Clock::default().now_naive();
    let v = visitors::create(&mut c, "hash", &Default::default(), now).unwrap();
    let vid = v.id;
    let a = conversations::create(&mut c, vid, now).unwrap().id;
    let b = conversations::create(&mut c, vid, now).unwrap().id;
    let closed = conversations::create(&mut c, vid, now).unwrap().id;
    let done = Assignment {
        status: ConversationStatus::Closed,
        agent: None,
    };
    conversations::set_assignment(&mut c, closed, done, now).unwrap();
    let m = |conv, cid: &str| OwnedNewMessage {
        conversation_id: conv,
        sender: Sender::Visitor,
        agent_id: None,
        client_id: Some(cid.to_owned()),
        body: format!("body {cid}"),
    };
    let first = insert_batch(&mut c, &[m(a, "a1"), m(b, "b1"), m(a, "a2")], now).unwrap();
    let seqs: Vec<(i64, bool)> = first
        .iter()
        .map(|r| match r.as_ref().unwrap() {
            Stored::New(x) => (x.seq, true),
            Stored::Duplicate(x) => (x.seq, false),
        })
        .collect();
    assert_eq!(seqs, vec![(1, true), (1, true), (2, true)]);
    let unknown = livedesk::domain::ConversationId(987_654);
    let second = insert_batch(
        &mut c,
        &[
            // A resend comes back as the original, whatever it carries now.
            OwnedNewMessage {
                body: "edited on resend".into(),
                ..m(a, "a1")
            },
            m(a, "a3"),
            m(a, "a3"),
            m(closed, "c1"),
            m(unknown, "u1"),
        ],
        now,
    )
    .unwrap();
    assert!(matches!(&second[0], Ok(Stored::Duplicate(x)) if x.seq == 1 && x.body == "body a1"));
    assert!(matches!(&second[1], Ok(Stored::New(x)) if x.seq == 3));
    assert!(matches!(&second[2], Ok(Stored::Duplicate(x)) if x.seq == 3));
    assert!(matches!(second[3], Err(StorageError::ConversationClosed)));
    assert!(matches!(second[4], Err(StorageError::NotFound)));
    // Only new messages, one of them twice: no stored resend to look up.
    let third = insert_batch(&mut c, &[m(b, "b2"), m(a, "a4"), m(b, "b2")], now).unwrap();
    assert!(matches!(&third[0], Ok(Stored::New(x)) if x.seq == 2 && x.conversation_id == b));
    assert!(matches!(&third[1], Ok(Stored::New(x)) if x.seq == 4 && x.conversation_id == a));
    assert!(
        matches!(&third[2], Ok(Stored::Duplicate(x)) if x.seq == 2 && x.client_id.as_deref() == Some("b2"))
    );
    let stored: Vec<i64> = messages::after(&mut c, a, 0, 100)
        .unwrap()
        .iter()
        .map(|x| x.seq)
        .collect();
    assert_eq!(stored, vec![1, 2, 3, 4]);
    assert_eq!(conversations::find(&mut c, a).unwrap().last_seq, 4);
    assert_eq!(messages::count(&mut c, b).unwrap(), 2);
    assert_eq!(messages::count(&mut c, closed).unwrap(), 0);
}

/// Ownership changes are compare-and-set: applied in order while the row
/// still holds their `from`; the loser learns what the row holds; a chain
/// within one batch is written through; closed is final.
fn assignments_in_one_batch_apply_in_order(backend: Backend) {
    use livedesk::domain::{Assignment, AssignmentChange, ConversationStatus};
    use livedesk::storage::{assignments::compare_and_set, conversations, visitors};
    let db = TestDb::create(backend);
    let s = migrated(&db);
    let mut c = s.conn().unwrap();
    let now = Clock::default().now_naive();
    let v = visitors::create(&mut c, "hash", &Default::default(), now).unwrap();
    let ann = add(&s, "ann", livedesk::domain::Role::Agent).id;
    let bob = add(&s, "bob", livedesk::domain::Role::Agent).id;
    let a = conversations::create(&mut c, v.id, now).unwrap().id;
    let b = conversations::create(&mut c, v.id, now).unwrap().id;
    let queued = Assignment::queued();
    let to = |agent| Assignment {
        status: ConversationStatus::Assigned,
        agent: Some(agent),
    };
    let change = |conversation, from, to, version| AssignmentChange {
        conversation,
        from,
        to,
        at: now,
        version,
    };
    let held = |c: &mut _, id| conversations::find(c, id).unwrap().assignment;

    // a: queued → ann → queued → bob, one chain; b: queued → ann.
    let batch = [
        change(a, queued, to(ann), 1),
        change(b, queued, to(ann), 1),
        change(a, to(ann), queued, 2),
        change(a, queued, to(bob), 3),
    ];
    assert_eq!(compare_and_set(&mut c, &batch).unwrap(), vec![]);
    assert_eq!(held(&mut c, a), to(bob));
    assert_eq!(held(&mut c, b), to(ann));

    // A decider that still thinks `b` is queued loses, and learns ann has it;
    // the other change of the batch applies.
    let batch = [
        change(b, queued, to(bob), 2),
        change(a, to(bob), to(ann), 4),
    ];
    let lost = compare_and_set(&mut c, &batch).unwrap();
    assert_eq!(lost, vec![(batch[0], to(ann))]);

    // Closed before its hand-over from the queue was written: it keeps the
    // agent it was handed to (who closed it); nothing else changes.
    let d = conversations::create(&mut c, v.id, now).unwrap().id;
    assert_eq!(conversations::close_open(&mut c, &[d], now).unwrap(), [d]);
    let late = [change(d, queued, to(ann), 1)];
    let closed_by_ann = Assignment {
        status: ConversationStatus::Closed,
        agent: Some(ann),
    };
    assert_eq!(
        compare_and_set(&mut c, &late).unwrap(),
        vec![(late[0], closed_by_ann)]
    );
    assert_eq!(held(&mut c, d), closed_by_ann);
    let history: Vec<(String, Option<i64>)> = livedesk::storage::events::of(&mut c, d)
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.agent_id))
        .collect();
    assert!(
        history.contains(&("assigned".to_owned(), Some(ann.0))),
        "{history:?}"
    );
    assert_eq!(
        compare_and_set(&mut c, &[change(d, queued, to(bob), 2)]).unwrap()[0].1,
        closed_by_ann,
        "a closed owner stays"
    );
    assert_eq!(held(&mut c, b), to(ann), "the loser changed nothing");
    assert_eq!(held(&mut c, a), to(ann));

    // Closed is final: a change decided before the close but written after
    // it (the writer was behind) loses and learns it is closed, on the
    // one-by-one path (SQLite) and the batch statement (PostgreSQL).
    assert_eq!(
        conversations::close_open(&mut c, &[b], now).unwrap(),
        vec![b]
    );
    let late = [change(b, to(ann), queued, 3), change(a, to(ann), queued, 5)];
    let lost = compare_and_set(&mut c, &late).unwrap();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].0, late[0]);
    assert_eq!(lost[0].1.status, ConversationStatus::Closed);
    assert_eq!(held(&mut c, b).status, ConversationStatus::Closed);
    assert_eq!(held(&mut c, a), queued);

    // An unknown conversation reads as closed.
    let ghost = livedesk::domain::ConversationId(987_654);
    let lost = compare_and_set(&mut c, &[change(ghost, queued, to(ann), 1)]).unwrap();
    assert_eq!(lost[0].1.status, ConversationStatus::Closed);
}

#[test]
fn assignments_in_one_batch_apply_in_order_sqlite() {
    assignments_in_one_batch_apply_in_order(Backend::Sqlite)
}
#[test]
fn assignments_in_one_batch_apply_in_order_postgres() {
    assignments_in_one_batch_apply_in_order(Backend::Postgres)
}

#[test]
fn a_batch_numbers_dedupes_and_refuses_like_single_inserts_sqlite() {
    a_batch_numbers_dedupes_and_refuses_like_single_inserts(Backend::Sqlite)
}
#[test]
fn a_batch_numbers_dedupes_and_refuses_like_single_inserts_postgres() {
    a_batch_numbers_dedupes_and_refuses_like_single_inserts(Backend::Postgres)
}

/// Regression: many visitors arriving at once. On SQLite a read-then-write
/// transaction used to fail at once (SQLITE_BUSY_SNAPSHOT) when another writer
/// committed in between, and the visitor's hello failed.
fn concurrent_conversation_opens_all_succeed(backend: Backend) {
    use livedesk::storage::{conversations, visitors};
    let db = TestDb::create(backend);
    let s = Storage::connect(&DatabaseUrl::parse(db.url()).unwrap(), 8).unwrap();
    migrations::run_pending(&mut s.conn().unwrap()).unwrap();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (s, barrier) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut c = s.conn().unwrap();
                barrier.wait();
                for i in 0..25 {
                    let now = Clock::default().now_naive();
                    let v =
                        visitors::create(&mut c, &format!("t{t}-{i}"), &Default::default(), now)
                            .unwrap();
                    conversations::open_or_create(&mut c, v.id, now).expect("open_or_create");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no thread failed");
    }
}

#[test]
fn concurrent_conversation_opens_all_succeed_sqlite() {
    concurrent_conversation_opens_all_succeed(Backend::Sqlite)
}
#[test]
fn concurrent_conversation_opens_all_succeed_postgres() {
    concurrent_conversation_opens_all_succeed(Backend::Postgres)
}

/// The writer hands every stored message (new, or the original of a resend)
/// to its caller's hook before answering, on both write paths: delivery
/// never waits for the sender.
fn the_writer_reports_stored_messages_before_answering(backend: Backend, batch: usize) {
    use livedesk::domain::Sender;
    use livedesk::storage::messages::{OwnedNewMessage, Stored};
    use livedesk::storage::writer::MessageWriter;
    let (_db, s, _, conv) = with_a_conversation(backend);
    let writer = MessageWriter::start(
        s.clone(),
        Clock::default(),
        (batch, std::time::Duration::from_micros(200)),
        Default::default(),
    );
    let (seen_tx, seen) = std::sync::mpsc::channel();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for (cid, expect_new) in [("c1", true), ("c2", true), ("c1", false)] {
            let tx = seen_tx.clone();
            let stored = writer
                .insert(
                    OwnedNewMessage {
                        conversation_id: conv,
                        sender: Sender::Visitor,
                        agent_id: None,
                        client_id: Some(cid.to_owned()),
                        body: format!("body {cid}"),
                    },
                    move |m| tx.send((m.client_id.clone(), m.seq)).unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(matches!(stored, Stored::New(_)), expect_new, "{cid}");
            // Already reported when the answer arrives.
            let reported = seen.try_recv().expect("reported before the answer");
            assert_eq!(reported, (Some(cid.to_owned()), stored.message().seq));
        }
    });
    assert!(seen.try_recv().is_err(), "each message reported once");
}

#[test]
fn the_writer_reports_stored_messages_before_answering_postgres() {
    the_writer_reports_stored_messages_before_answering(Backend::Postgres, 64);
    the_writer_reports_stored_messages_before_answering(Backend::Postgres, 1);
}
#[test]
fn the_writer_reports_stored_messages_before_answering_sqlite() {
    the_writer_reports_stored_messages_before_answering(Backend::Sqlite, 64);
    the_writer_reports_stored_messages_before_answering(Backend::Sqlite, 1);
}

/// A message stored, its answer lost, the conversation closed meanwhile: the
/// resend gets its original back on every write path (a batch, a single
/// insert), so the sender does not store it again in a new conversation.
fn a_resend_into_a_closed_conversation_gets_its_original(backend: Backend) {
    use livedesk::domain::{Assignment, ConversationStatus, Sender};
    use livedesk::storage::messages::{insert, insert_batch, OwnedNewMessage, Stored};
    use livedesk::storage::{conversations, messages, StorageError};
    let (_db, s, _, conv) = with_a_conversation(backend);
    let mut c = s.conn().unwrap();
    let now = Clock::default().now_naive();
    let m = |cid: &str| OwnedNewMessage {
        conversation_id: conv,
        sender: Sender::Visitor,
        agent_id: None,
        client_id: Some(cid.to_owned()),
        body: format!("body {cid}"),
    };
    let first = insert_batch(&mut c, &[m("x1"), m("x2")], now).unwrap();
    assert!(first.iter().all(|r| matches!(r, Ok(Stored::New(_)))));
    let closed = Assignment {
        status: ConversationStatus::Closed,
        agent: None,
    };
    conversations::set_assignment(&mut c, conv, closed, now).unwrap();

    let again = insert_batch(&mut c, &[m("x1"), m("x3")], now).unwrap();
    assert!(
        matches!(&again[0], Ok(Stored::Duplicate(o)) if o.seq == 1 && o.body == "body x1"),
        "{:?}",
        again[0]
    );
    assert!(matches!(again[1], Err(StorageError::ConversationClosed)));
    let single = insert(&mut c, &m("x2").borrow(), now).unwrap();
    assert!(
        matches!(&single, Stored::Duplicate(o) if o.seq == 2),
        "{single:?}"
    );
    assert!(matches!(
        insert(&mut c, &m("x4").borrow(), now),
        Err(StorageError::ConversationClosed)
    ));
    assert_eq!(messages::count(&mut c, conv).unwrap(), 2);
}

#[test]
fn a_resend_into_a_closed_conversation_gets_its_original_sqlite() {
    a_resend_into_a_closed_conversation_gets_its_original(Backend::Sqlite)
}
#[test]
fn a_resend_into_a_closed_conversation_gets_its_original_postgres() {
    a_resend_into_a_closed_conversation_gets_its_original(Backend::Postgres)
}

#[derive(QueryableByName, Debug)]
struct Prepared {
    #[diesel(sql_type = Text)]
    statement: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    runs: i64,
}

/// On PostgreSQL the batch's statements are prepared once per connection and
/// then only executed (parsing and planning them for every batch was a large
/// part of the database's work per message).
#[test]
fn postgres_batches_reuse_their_prepared_statements() {
    use livedesk::domain::Sender;
    use livedesk::storage::messages::{insert_batch, OwnedNewMessage};
    let (_db, s, _, conv) = with_a_conversation(Backend::Postgres);
    let mut c = s.conn().unwrap();
    let now = Clock::default().now_naive();
    for k in 0..3 {
        let batch: Vec<OwnedNewMessage> = (0..4)
            .map(|i| OwnedNewMessage {
                conversation_id: conv,
                sender: Sender::Visitor,
                agent_id: None,
                client_id: Some(format!("p{k}-{i}")),
                body: "hello".into(),
            })
            .collect();
        assert!(insert_batch(&mut c, &batch, now)
            .unwrap()
            .iter()
            .all(|r| r.is_ok()));
    }
    let DbConnection::Pg(pg) = &mut *c else {
        unreachable!()
    };
    let prepared = diesel::sql_query(
        "SELECT statement, generic_plans + custom_plans AS runs FROM pg_prepared_statements \
         WHERE statement LIKE 'INSERT INTO messages%' OR statement LIKE 'UPDATE conversations c SET last_seq%'",
    )
    .load::<Prepared>(pg)
    .unwrap();
    let mut kinds: Vec<&str> = prepared
        .iter()
        .map(|p| p.statement.split_whitespace().next().unwrap_or(""))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["INSERT", "UPDATE"],
        "each prepared once: {prepared:?}"
    );
    assert!(prepared.iter().all(|p| p.runs == 3), "{prepared:?}");
}

/// A `hello` without a token creates the visitor and its queued conversation
/// (on PostgreSQL in one statement); what it returns is exactly what is stored.
fn a_new_visitor_arrives_without_a_conversation(backend: Backend) {
    use livedesk::domain::ConversationStatus;
    use livedesk::storage::visitors::{self, VisitorInfo};
    use livedesk::storage::{conversations, StorageError};
    let db = TestDb::create(backend);
    let s = migrated(&db);
    let mut c = s.conn().unwrap();
    let info = VisitorInfo {
        name: Some("Vera".into()),
        email: None,
        page_url: Some("https://shop.example/cart".into()),
        referrer: None,
        user_agent: Some("test agent".into()),
        timezone: Some("Asia/Shanghai".into()),
    };
    let now = Clock::default().now_naive();
    let (v, token, none, fresh) =
        livedesk::storage::arrivals::arrive(&mut c, None, || "token-one".into(), &info, now)
            .unwrap();
    assert!(fresh);
    assert_eq!(token, "token-one");
    assert_eq!(visitors::find(&mut c, v.visitor_id()).unwrap(), v);
    assert_eq!(v.name.as_deref(), Some("Vera"));
    assert_eq!(v.timezone.as_deref(), Some("Asia/Shanghai"));
    // Saying hello opens no conversation: the first message will.
    assert!(none.is_none());
    assert!(conversations::list_open(&mut c).unwrap().is_empty());
    let (again, _, still_none, fresh) = livedesk::storage::arrivals::arrive(
        &mut c,
        Some(token.clone()),
        || unreachable!(),
        &info,
        now,
    )
    .unwrap();
    assert!(!fresh && still_none.is_none());
    assert_eq!(again.id, v.id);
    // Once it has one, coming back with the token finds it.
    let conv = conversations::open_or_create(&mut c, v.visitor_id(), now).unwrap();
    assert_eq!(conv.assignment.status, ConversationStatus::Queued);
    assert_eq!(conv.last_seq, 0);
    let (again, _, same, _) =
        livedesk::storage::arrivals::arrive(&mut c, Some(token), || unreachable!(), &info, now)
            .unwrap();
    assert_eq!((again.id, same), (v.id, Some(conv)));
    // Token hashes are unique: a second new visitor with the same token fails.
    let clash =
        livedesk::storage::arrivals::arrive(&mut c, None, || "token-one".into(), &info, now);
    assert!(matches!(clash, Err(StorageError::Conflict)), "{clash:?}");
}

#[test]
fn a_new_visitor_arrives_without_a_conversation_sqlite() {
    a_new_visitor_arrives_without_a_conversation(Backend::Sqlite)
}
#[test]
fn a_new_visitor_arrives_without_a_conversation_postgres() {
    a_new_visitor_arrives_without_a_conversation(Backend::Postgres)
}

/// New visitors arriving together on PostgreSQL share one statement (group
/// commit); each caller still gets its own visitor and conversation, exactly
/// as stored.
#[test]
fn arrivals_written_together_each_get_their_own_rows() {
    use livedesk::domain::visitor::token_hash;
    use livedesk::storage::visitors::{self, VisitorInfo};
    use livedesk::storage::writer::ArrivalWriter;
    use livedesk::storage::{conversations, Backend as StorageBackend};
    let db = TestDb::create(Backend::Postgres);
    let s = migrated(&db);
    assert!(ArrivalWriter::start(
        s.clone(),
        Clock::default(),
        1,
        std::time::Duration::from_millis(20)
    )
    .is_none());
    assert_eq!(s.backend(), StorageBackend::Postgres);
    let writer = ArrivalWriter::start(
        s.clone(),
        Clock::default(),
        64,
        std::time::Duration::from_millis(20),
    )
    .expect("PostgreSQL with batches");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let arrived = rt.block_on(async {
        let calls = (0..20).map(|i| {
            let info = VisitorInfo {
                name: Some(format!("visitor {i}")),
                email: (i % 2 == 0).then(|| format!("v{i}@example.com")),
                ..Default::default()
            };
            writer.arrive(token_hash(&format!("token {i}")), info)
        });
        futures_util::future::join_all(calls).await
    });
    let mut c = s.conn().unwrap();
    let mut ids = BTreeSet::new();
    for (i, r) in arrived.into_iter().enumerate() {
        let v = r.expect("stored");
        assert_eq!(v.name.as_deref(), Some(format!("visitor {i}").as_str()));
        assert_eq!(visitors::find(&mut c, v.visitor_id()).unwrap(), v);
        let by_token = visitors::find_by_token_hash(&mut c, &token_hash(&format!("token {i}")))
            .unwrap()
            .expect("found by its token");
        assert_eq!(by_token.id, v.id);
        assert!(ids.insert(v.id));
    }
    // Visitors only: conversations come with first messages.
    assert!(conversations::list_open(&mut c).unwrap().is_empty());
}
