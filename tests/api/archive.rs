//! The archive: filters, text in messages (Chinese too), who sees what, pages.

use diesel::sql_types::BigInt;
use diesel::{Connection, RunQueryDsl};
use livedesk::domain::Role;
use livedesk::storage::archive::{self, Filter, Viewer};
use livedesk::storage::DbConnection;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

fn ids(html: &str) -> Vec<i64> {
    html.split("data-conversation=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse().unwrap())
        .collect()
}

async fn the_archive_finds_conversations_by_filter_and_text(backend: Backend) {
    let app = spawn_app(backend).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    app.add_agent("wang", PW, Role::Agent).await;
    let (lb, mut lin_ws, _) = app.agent_online("lin", PW).await;
    // Two of lin's: one about a refund in Chinese, one closed.
    let mut v1 = Ws::visitor(&app).await;
    let c1 = v1.begin("我想申请退款，订单 50%_off").await["conversation_id"]
        .as_i64()
        .unwrap();
    let mut v2 = Ws::visitor(&app).await;
    let c2 = v2.begin("Where is my parcel?").await["conversation_id"]
        .as_i64()
        .unwrap();
    lin_ws
        .send(json!({"type": "close", "conversation_id": c2}))
        .await;
    v2.expect("closed").await;
    // One of wang's (lin away: it goes to wang).
    lin_ws
        .send(json!({"type": "status", "status": "away"}))
        .await;
    lin_ws.expect("status").await;
    let (wb, _wang_ws, _) = app.agent_online("wang", PW).await;
    let mut v3 = Ws::visitor(&app).await;
    let w3 = v3.begin("hello from the other one").await;
    assert_eq!(w3["agent"]["name"], "wang");
    let c3 = w3["conversation_id"].as_i64().unwrap();

    // An agent finds its own, newest first; not wang's. (Owners and closes
    // reach the database just after the sockets hear of them.)
    assert_eq!(find_soon(&lb, "", &[c2, c1]).await, [c2, c1]);
    assert_eq!(find_soon(&wb, "", &[c3]).await, [c3]);
    // Text in messages, Chinese and LIKE's own characters taken literally.
    assert_eq!(find(&lb, "q=退款").await, [c1]);
    assert_eq!(find(&lb, "q=50%25_OFF").await, [c1]);
    assert_eq!(find(&lb, "q=5_%25").await, Vec::<i64>::new());
    assert_eq!(find(&lb, "q=PARCEL").await, [c2]);
    // FTS5's own syntax is taken as text, not as a query (nor an error).
    assert_eq!(
        find(&lb, "q=%22par*%20OR%20NEAR(x%22").await,
        Vec::<i64>::new()
    );
    assert_eq!(find(&lb, "q=%22parcel%22").await, Vec::<i64>::new());
    assert_eq!(
        find(&lb, &format!("q={}", "x".repeat(5000))).await,
        Vec::<i64>::new()
    );
    // As the form sends it: every field, the unused ones empty.
    assert_eq!(
        find(&lb, "q=parcel&visitor=&label=&status=&from=&to=").await,
        [c2]
    );
    // Visitor name or email; status.
    assert_eq!(find(&lb, "visitor=VERA@example").await, [c2, c1]);
    assert_eq!(find(&lb, "status=closed").await, [c2]);
    // Admins see all, and may filter by agent; dates.
    app.login_admin().await;
    assert_eq!(find(&app, "").await, [c3, c2, c1]);
    assert_eq!(find(&app, &format!("agent={}", lin.id)).await, [c2, c1]);
    assert_eq!(find(&app, "agent=&label=&q=").await, [c3, c2, c1]);
    let today = app.clock.now_naive().date();
    let tomorrow = today.succ_opt().unwrap();
    assert_eq!(
        find(&app, &format!("from={today}&to={today}")).await,
        [c3, c2, c1]
    );
    assert!(find(&app, &format!("from={tomorrow}")).await.is_empty());
    // Labels.
    let now = app.clock.now_naive();
    let label = app
        .storage
        .run(move |db| livedesk::storage::labels::save(db, None, "refund", "#cc0000", now))
        .await
        .unwrap();
    app.storage
        .run(move |db| {
            livedesk::storage::labels::set(db, livedesk::domain::ConversationId(c1), label.id, true)
        })
        .await
        .unwrap();
    assert_eq!(find(&app, &format!("label={}", label.id)).await, [c1]);
    // Pages: one at a time, then the next from the link.
    let (_, html) = app.get_text("/agent/archive?per=2").await;
    assert_eq!(ids(&html), [c3, c2]);
    let next = html
        .split("id=\"older-page\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/");
    let (_, html) = app.get_text(&next).await;
    assert_eq!(ids(&html), [c1]);
    assert!(!html.contains("older-page"));
    // Signed out: to the sign-in page.
    assert_eq!(
        app.new_browser()
            .get("/agent/archive")
            .await
            .status()
            .as_u16(),
        303
    );
}

/// What `find` gives once it gives `want`, or at the deadline.
async fn find_soon(b: &TestApp, q: &str, want: &[i64]) -> Vec<i64> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = find(b, q).await;
        if got == want || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::task::yield_now().await;
    }
}

async fn find(b: &TestApp, q: &str) -> Vec<i64> {
    let (status, html) = b.get_text(&format!("/agent/archive?{q}")).await;
    assert_eq!(status, 200, "{html}");
    ids(&html)
}

/// 5,000 conversations of 10 messages each (enough for PostgreSQL's
/// planner to prefer the index), one of them (message 7,777)
/// naming an order; ids of the first conversation and of that message.
fn fill(db: &mut DbConnection) -> (i64, i64) {
    let series = match db {
        DbConnection::Pg(_) => "SELECT generate_series(1, 50000) AS x",
        DbConnection::Sqlite(_) => {
            "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 50000) SELECT x FROM g"
        }
    };
    let run = |db: &mut DbConnection, q: String| {
        diesel::sql_query(q).execute(db).unwrap();
    };
    run(
        db,
        "INSERT INTO visitors (token_hash, name, first_seen_at, last_seen_at) \
         VALUES ('fill', 'Filler', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            .into(),
    );
    run(
        db,
        format!(
            "INSERT INTO conversations (visitor_id, status, last_seq, created_at, updated_at) \
         SELECT (SELECT max(id) FROM visitors), 'closed', 10, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP \
         FROM ({series}) s WHERE x <= 5000"
        ),
    );
    let first: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
        "(SELECT min(id) FROM conversations WHERE last_seq = 10)",
    ))
    .get_result(db)
    .unwrap();
    run(
        db,
        format!(
            "INSERT INTO messages (conversation_id, seq, sender, body, created_at) \
         SELECT {first} + (x - 1) / 10, 1 + (x - 1) % 10, 'visitor', \
         CASE WHEN x = 7777 THEN 'my order ORD-77777 never came' \
         ELSE 'a message about nothing in particular, number ' || x END, CURRENT_TIMESTAMP \
         FROM ({series}) s"
        ),
    );
    let hit: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
        "(SELECT id FROM messages WHERE body LIKE '%ORD-77777%')",
    ))
    .get_result(db)
    .unwrap();
    if let DbConnection::Pg(_) = db {
        run(db, "ANALYZE messages".into());
    }
    (first, hit)
}

fn text(q: &str) -> Filter {
    Filter {
        text: Some(q.into()),
        ..Filter::default()
    }
}

/// Text search is answered from each database's trigram index, which
/// follows messages as they change and go.
async fn text_search_is_answered_from_the_index(backend: Backend) {
    let app = spawn_app(backend).await;
    // Filled in one go, then merged into the index as the node does within
    // a second (a GIN pending list of 50,000 messages would make the
    // planner read the table instead).
    let (first, hit) = app
        .storage
        .run(|db| {
            let filled = fill(db);
            archive::tidy_search_index(db)?;
            Ok(filled)
        })
        .await
        .unwrap();
    let owner = first + 777; // message 7,777 is in the 778th conversation
    let found = app
        .storage
        .run(|db| {
            db.transaction(|db| {
                let found = archive::search(db, Viewer::Admin, &text("ord-77777"), 10)?;
                // PostgreSQL counts this transaction's index scans.
                if let DbConnection::Pg(_) = db {
                    let scans: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
                        "pg_stat_get_xact_numscans('messages_body_trgm'::regclass)",
                    ))
                    .get_result(db)?;
                    assert!(scans > 0, "the trigram index was not used");
                    // Nor kept prepared: one kept goes generic after five
                    // runs and then walks every conversation instead.
                    let kept: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
                        "(SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%LIKE%')",
                    ))
                    .get_result(db)?;
                    assert_eq!(kept, 0, "the search statement is kept prepared");
                }
                Ok(found)
            })
        })
        .await
        .unwrap();
    assert_eq!(found.iter().map(|f| f.id).collect::<Vec<_>>(), [owner]);
    // On SQLite the index is a table of its own, kept by triggers: an
    // edited body is found by its new text only, a deleted one not at all.
    let ids = |q: &'static str| {
        let storage = app.storage.clone();
        async move {
            storage
                .run(move |db| archive::search(db, Viewer::Admin, &text(q), 10))
                .await
                .unwrap()
                .into_iter()
                .map(|f| f.id)
                .collect::<Vec<_>>()
        }
    };
    app.storage
        .run(move |db| {
            diesel::sql_query(format!(
                "UPDATE messages SET body = 'redacted 退款单号, GROSSER ÄRGER' WHERE id = {hit}"
            ))
            .execute(db)?;
            Ok(())
        })
        .await
        .unwrap();
    assert!(ids("ORD-77777").await.is_empty());
    assert_eq!(ids("退款单").await, [owner]);
    assert_eq!(ids("REDACTED 退").await, [owner]);
    // Case folds beyond ASCII (SQLite's own lower() and LIKE fold ASCII only,
    // so this is found through FTS5 there).
    assert_eq!(ids("großer").await, Vec::<i64>::new());
    assert_eq!(ids("grosser ärger").await, [owner]);
    app.storage
        .run(move |db| {
            diesel::sql_query(format!("DELETE FROM conversations WHERE id = {owner}"))
                .execute(db)?;
            Ok(())
        })
        .await
        .unwrap();
    assert!(ids("退款单").await.is_empty());
    // The rest is all still there, found through the same index.
    assert_eq!(ids("number 49999").await, [first + 4999]);
    // Frequent text, with a trigram and without: the newest first.
    let newest: Vec<i64> = (first + 4990..=first + 4999).rev().collect();
    assert_eq!(ids("NOTHING in particular").await, newest);
    assert_eq!(ids("no").await, newest);
}

both_backends!(
    the_archive_finds_conversations_by_filter_and_text,
    text_search_is_answered_from_the_index
);

/// PostgreSQL: new messages' trigrams wait in the index's pending list and
/// the node merges it every second, so that no message's insert has to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_index_pending_list_is_merged_by_the_node() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Pending {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        pending_pages: i64,
    }
    let app = spawn_app_with(Backend::Postgres, |s| {
        s.ws_rate = 10_000;
        s.ws_burst = 10_000;
    })
    .await;
    let pending = |app: &TestApp| {
        let storage = app.storage.clone();
        async move {
            storage
                .run(|c| {
                    let livedesk::storage::DbConnection::Pg(pg) = c else {
                        unreachable!("a PostgreSQL test")
                    };
                    diesel::sql_query("CREATE EXTENSION IF NOT EXISTS pgstattuple").execute(pg)?;
                    let r: Vec<Pending> = diesel::sql_query(
                        "SELECT pending_pages::bigint AS pending_pages \
                         FROM pgstatginindex('messages_body_trgm')",
                    )
                    .load(pg)?;
                    Ok(r[0].pending_pages)
                })
                .await
                .unwrap()
        }
    };
    let mut v = Ws::visitor(&app).await;
    v.begin("first").await;
    for i in 0..300 {
        v.say(
            &format!("m{i}"),
            &format!("message number {i} about order {}", i * 7919),
        )
        .await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while pending(&app).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pending list was never merged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // And the merged index finds them.
    let hits = app
        .storage
        .run(|c| {
            let livedesk::storage::DbConnection::Pg(pg) = c else {
                unreachable!()
            };
            #[derive(diesel::QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let r: Vec<N> = diesel::sql_query(
                "SELECT count(*) AS n FROM messages WHERE lower(body) LIKE '%order 7919%'",
            )
            .load(pg)?;
            Ok(r[0].n)
        })
        .await
        .unwrap();
    assert!(hits >= 1);
}
