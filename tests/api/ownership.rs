//! Ownership the database agrees with: the Dispatcher's changes are
//! compare-and-set on the row, and when the row says otherwise (another
//! decider got there first, or it was closed) the Dispatcher follows the row
//! and tells the sockets, instead of overwriting it.

use livedesk::chat::messages::{AgentCard, Authorize, ChatError, GetCounts};
use livedesk::domain::{Assignment, ConversationId, ConversationStatus, Role};
use livedesk::storage::conversations;

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

/// Changes the row behind the Dispatcher's back, as another decider would.
async fn store_behind_its_back(app: &TestApp, conv: i64, a: Assignment) {
    let now = app.clock.now_naive();
    app.storage
        .run(move |db| conversations::set_assignment(db, ConversationId(conv), a, now))
        .await
        .unwrap();
}

async fn stored(app: &TestApp, conv: i64) -> Assignment {
    app.storage
        .run(move |db| conversations::find(db, ConversationId(conv)))
        .await
        .unwrap()
        .assignment
}

async fn an_assignment_that_loses_to_the_row_follows_the_row(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.agent_grace_secs = 600).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let wang = app.add_agent("wang", PW, Role::Agent).await;
    let mut v = Ws::visitor(&app).await;
    let w = v.begin("anyone there?").await;
    let conv = w["conversation_id"].as_i64().unwrap();
    assert_eq!(w["status"], "queued");

    // Wang got it elsewhere; this node still sees it queued.
    let theirs = Assignment {
        status: ConversationStatus::Assigned,
        agent: Some(livedesk::domain::AgentId(wang.id.0)),
    };
    store_behind_its_back(&app, conv, theirs).await;

    // Lin comes online and is given the queued conversation, but the write
    // loses to the row: lin is told it is not hers after all, the visitor
    // hears who has it, and the row still says wang.
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    let c = lin.expect("conversation").await;
    assert_eq!(c["conversation"]["agent"]["name"], "lin");
    let u = lin.expect("unassigned").await;
    assert_eq!(u["conversation_id"], conv);
    assert_eq!(v.expect("assigned").await["agent"]["name"], "lin");
    assert_eq!(v.expect("assigned").await["agent"]["id"], wang.id.0);
    assert_eq!(
        stored(&app, conv).await,
        theirs,
        "the row was not overwritten"
    );
    let lin_card = AgentCard {
        id: app.agent("lin").await.id,
        name: "lin".into(),
        is_admin: false,
        capacity: 0,
    };
    let may = app
        .dispatcher
        .send(Authorize {
            agent: lin_card,
            conversation: ConversationId(conv),
            write: true,
        })
        .await
        .unwrap();
    assert_eq!(
        may,
        Err(ChatError::Forbidden),
        "the Dispatcher follows the row"
    );
}

async fn an_assignment_that_finds_the_row_closed_closes_it_here(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let mut v = Ws::visitor(&app).await;
    let w = v.begin("hello").await;
    let conv = w["conversation_id"].as_i64().unwrap();
    assert_eq!(w["status"], "queued");
    let closed = Assignment {
        status: ConversationStatus::Closed,
        agent: None,
    };
    store_behind_its_back(&app, conv, closed).await;

    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    let c = lin
        .expect_where("conversation", |f| f["conversation"]["status"] == "closed")
        .await;
    assert_eq!(c["conversation"]["id"], conv);
    assert_eq!(v.expect("closed").await["conversation_id"], conv);
    assert_eq!(stored(&app, conv).await.status, ConversationStatus::Closed);
    let counts = app.dispatcher.send(GetCounts).await.unwrap();
    assert_eq!(counts.conversations, 0, "{counts:?}");
    // The visitor's next message opens a new conversation, which lin gets.
    let next = v.say("v2", "still there?").await;
    assert_ne!(next["conversation_id"], conv);
}

both_backends!(
    an_assignment_that_loses_to_the_row_follows_the_row,
    an_assignment_that_finds_the_row_closed_closes_it_here,
);

/// The database refuses every ownership write for a while (a stand-in for an
/// outage that outlasts any fixed number of tries): the change waits and is
/// written once the database takes it again, never dropped.
async fn an_ownership_write_is_retried_until_the_database_takes_it(backend: Backend) {
    use diesel::RunQueryDsl;
    let app = spawn_app(backend).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    let mut v = Ws::visitor(&app).await;
    let w = v.begin("hello").await;
    let conv = w["conversation_id"].as_i64().unwrap();
    let (block, unblock) = match backend {
        Backend::Postgres => (
            "ALTER TABLE conversations ADD CONSTRAINT test_blocked CHECK (agent_id IS NULL) NOT VALID",
            "ALTER TABLE conversations DROP CONSTRAINT test_blocked",
        ),
        Backend::Sqlite => (
            "CREATE TRIGGER test_blocked BEFORE UPDATE ON conversations WHEN NEW.agent_id IS NOT NULL \
             BEGIN SELECT RAISE(ABORT, 'blocked by the test'); END",
            "DROP TRIGGER test_blocked",
        ),
    };
    let sql = |q: &'static str| {
        let s = app.storage.clone();
        async move {
            s.run(move |c| Ok(diesel::sql_query(q).execute(c)?))
                .await
                .unwrap()
        }
    };
    sql(block).await;

    let (_lb, _lin, _) = app.agent_online("lin", PW).await;
    assert_eq!(v.expect("assigned").await["agent"]["name"], "lin");
    // More failed tries than the old writer made before giving up (five).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, body) = app.get_text("/metrics").await;
        let retries: u64 = body
            .lines()
            .find_map(|l| l.strip_prefix("livedesk_assignment_write_retries_total "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        if retries >= 6 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {retries} tries"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(
        stored(&app, conv).await,
        Assignment::queued(),
        "not written yet"
    );

    sql(unblock).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while stored(&app, conv).await.agent != Some(lin.id) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the change was dropped"
        );
        tokio::task::yield_now().await;
    }
}

both_backends!(an_ownership_write_is_retried_until_the_database_takes_it);
