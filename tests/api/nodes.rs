//! One node per database until nodes share their state: a second node on the
//! same database refuses to start (it would hand out the same conversations);
//! it starts once the first has stopped, or died and let its lease expire.

use livedesk::domain::Clock;
use livedesk::startup::Application;
use livedesk::storage::nodes;

use crate::both_backends;
use crate::helpers::*;

async fn a_second_node_on_the_same_database_refuses_to_start(backend: Backend) {
    let db = TestDb::create(backend);
    let url = db.url().to_owned();
    let first = spawn_on(db, test_settings(&url)).await;

    let err = Application::build_with_clock(test_settings(&url), Clock::default())
        .await
        .err()
        .expect("a second live node must not start");
    let text = format!("{err:#}");
    assert!(text.contains("another livedesk node"), "{text}");
    assert!(
        text.contains("LIVEDESK_REDIS_URL"),
        "names the way to several nodes: {text}"
    );
    // The first one is untouched.
    assert_eq!(first.get("/healthz").await.status().as_u16(), 200);

    // Once it has stopped (and given its lease back), a new one starts.
    first.stop().await;
    let second = Application::build_with_clock(test_settings(&url), Clock::default())
        .await
        .expect("starts after the first stopped");
    drop(second);
}

async fn the_lease_of_a_dead_node_expires(backend: Backend) {
    let db = TestDb::create(backend);
    let url = db.url().to_owned();
    let clock = Clock::default();
    let mut settings = test_settings(&url);
    // A node that died without a word: its lease, last renewed now.
    let storage = {
        let s = settings.clone();
        tokio::task::spawn_blocking(move || livedesk::startup::open_storage(&s))
            .await
            .unwrap()
            .unwrap()
    };
    let now = clock.now_naive();
    storage
        .run(move |c| nodes::claim(c, "4242-dead", now, chrono::Duration::seconds(10)))
        .await
        .unwrap()
        .expect("nobody else holds a lease");
    settings.node_ttl_secs = 10;
    assert!(
        Application::build_with_clock(settings.clone(), clock.clone())
            .await
            .is_err(),
        "within its time to live the lease still counts"
    );
    clock.advance(chrono::Duration::seconds(11));
    Application::build_with_clock(settings, clock)
        .await
        .expect("a lease not renewed for longer than the TTL is taken over");
}

async fn a_running_node_renews_its_lease(backend: Backend) {
    let db = TestDb::create(backend);
    let url = db.url().to_owned();
    let mut settings = test_settings(&url);
    settings.node_ttl_secs = 1; // renewed about every 333 ms
    let app = spawn_on(db, settings).await;
    let storage = app.storage.clone();
    let renewed_at = |storage: livedesk::storage::Storage| async move {
        storage
            .run(|c| {
                use diesel::prelude::*;
                use livedesk::storage::schema::node_leases;
                Ok(node_leases::table
                    .select(node_leases::heartbeat_at)
                    .first::<chrono::NaiveDateTime>(c)?)
            })
            .await
            .unwrap()
    };
    let before = renewed_at(storage.clone()).await;
    app.clock.advance(chrono::Duration::minutes(5));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = renewed_at(storage.clone()).await;
        if now >= before + chrono::Duration::minutes(5) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never renewed: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // And a clean stop gives it back.
    app.stop().await;
    let left = storage
        .run(|c| {
            use diesel::prelude::*;
            use livedesk::storage::schema::node_leases;
            Ok(node_leases::table.count().get_result::<i64>(c)?)
        })
        .await
        .unwrap();
    assert_eq!(left, 0);
}

both_backends!(
    a_second_node_on_the_same_database_refuses_to_start,
    the_lease_of_a_dead_node_expires,
    a_running_node_renews_its_lease,
);
