//! Satisfaction asked once per episode; availability (agents online,
//! business hours across a DST change and a holiday, on the node's shiftable
//! clock); the offline form's message waiting for the first agent in.

use chrono::{TimeZone, Utc};
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;
use crate::rest::Api;
use livedesk::chat::dispatcher::HoursChanged;
use livedesk::domain::hours::BusinessHours;
use livedesk::domain::Role;
use livedesk::storage::api_tokens::Scope;
use livedesk::storage::{csat, policies};

const PW: &str = "agent-password";

both_backends!(
    a_rating_is_asked_once_per_episode_and_reaches_the_agent,
    the_offline_form_waits_for_the_first_agent_in,
);

async fn a_rating_is_asked_once_per_episode_and_reaches_the_agent(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    lin.expect("conversation").await;
    lin.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    v.expect("closed").await;
    let ask = v.expect("rate").await;
    assert_eq!(
        (ask["conversation_id"].as_i64(), ask["question"].as_str()),
        (Some(conv), Some("How would you rate this conversation?"))
    );
    v.send(
        json!({"type": "rate", "conversation_id": conv, "rating": 4, "comment": "quick, thanks"}),
    )
    .await;
    assert_eq!(v.expect("rated").await["rating"], 4);
    let seen = lin.expect("rating").await;
    assert_eq!(
        (
            seen["conversation_id"].as_i64(),
            seen["rating"].as_i64(),
            seen["comment"].as_str()
        ),
        (Some(conv), Some(4), Some("quick, thanks"))
    );
    // Never twice for the same episode; never out of range; never another's.
    v.send(json!({"type": "rate", "conversation_id": conv, "rating": 5}))
        .await;
    assert_eq!(v.expect_error().await, "conflict");
    v.send(json!({"type": "rate", "conversation_id": conv, "rating": 9}))
        .await;
    assert_eq!(v.expect_error().await, "validation");
    let mut other = Ws::visitor(&app).await;
    other.hello(None, None).await;
    other
        .send(json!({"type": "rate", "conversation_id": conv, "rating": 1}))
        .await;
    assert_eq!(other.expect_error().await, "not_found");
    // Reopened and closed again: asked again, for the new episode only.
    let api = Api::new(&app, Scope::Write).await;
    assert_eq!(
        api.post(&format!("/conversations/{conv}/reopen"), json!({}))
            .await
            .0,
        200
    );
    lin.expect_where("conversation", |f| {
        f["conversation"]["id"] == conv && f["conversation"]["status"] == "assigned"
    })
    .await;
    v.say("again", "one more thing").await;
    lin.send(json!({"type": "close", "conversation_id": conv}))
        .await;
    v.expect_where("closed", |f| f["conversation_id"] == conv)
        .await;
    v.expect("rate").await;
    v.send(json!({"type": "rate", "conversation_id": conv, "rating": 2}))
        .await;
    v.expect("rated").await;
    let stored = app
        .storage
        .run(move |db| csat::of(db, livedesk::domain::ConversationId(conv)))
        .await
        .unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|r| (r.episode, r.rating))
            .collect::<Vec<_>>(),
        [(1, 4), (2, 2)]
    );
    // Turned off (or reworded): no question, or the admin's.
    app.storage
        .run(|db| {
            policies::set_csat(
                db,
                &policies::CsatPolicy {
                    enabled: false,
                    ..Default::default()
                },
            )
        })
        .await
        .unwrap();
    let mut w = Ws::visitor(&app).await;
    let c2 = w.begin("hi").await["conversation_id"].as_i64().unwrap();
    lin.expect_where("conversation", |f| f["conversation"]["id"] == c2)
        .await;
    lin.send(json!({"type": "close", "conversation_id": c2}))
        .await;
    w.expect("closed").await;
    w.assert_no("rate", std::time::Duration::from_millis(500))
        .await;
}

/// `now` on the node's clock: the clock shifted so that it reads this time.
fn set_clock(app: &TestApp, to: chrono::DateTime<Utc>) {
    let shift = to - app.clock.now();
    app.clock.advance(shift);
}

fn berlin() -> BusinessHours {
    let day = vec![(9 * 60, 17 * 60)];
    BusinessHours {
        tz: "Europe/Berlin".into(),
        weekly: [
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day,
            vec![],
            vec![],
        ],
        holidays: vec![chrono::NaiveDate::from_ymd_opt(2027, 3, 29).unwrap()],
        special: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_follows_agents_and_business_hours_across_dst_and_a_holiday() {
    let app = spawn_app(Backend::Sqlite).await;
    app.add_agent("lin", PW, Role::Agent).await;
    // Nobody online: offline (no hours set: no time to come back at).
    let mut v = Ws::visitor(&app).await;
    let w = v.hello(None, None).await;
    assert_eq!(w["availability"], json!({"online": false}));
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    assert_eq!(v.expect("availability").await["online"], true);
    // Away is not available.
    lin.send(json!({"type": "status", "status": "away"})).await;
    assert_eq!(v.expect("availability").await["online"], false);
    lin.send(json!({"type": "status", "status": "online"}))
        .await;
    assert_eq!(v.expect("availability").await["online"], true);
    // Friday 26 March 2027, 17:30 in Berlin (UTC+1): closed. Summer time
    // starts on Sunday 28 March; Monday 29 March is a holiday; back on
    // Tuesday 30 March at 09:00 local, 07:00 UTC.
    set_clock(&app, Utc.with_ymd_and_hms(2027, 3, 26, 16, 30, 0).unwrap());
    app.storage
        .run(|db| policies::set_hours(db, Some(&berlin())))
        .await
        .unwrap();
    app.dispatcher.do_send(HoursChanged(Some(berlin())));
    let closed = v.expect("availability").await;
    assert_eq!(closed["online"], false);
    let back = chrono::DateTime::parse_from_rfc3339(closed["back_at"].as_str().unwrap()).unwrap();
    assert_eq!(back.to_rfc3339(), "2027-03-30T09:00:00+02:00");
    // A new widget is told at once.
    let mut v2 = Ws::visitor(&app).await;
    assert_eq!(v2.hello(None, None).await["availability"]["online"], false);
    // Tuesday 09:00 local (07:00 UTC): open again.
    set_clock(&app, Utc.with_ymd_and_hms(2027, 3, 30, 7, 0, 30).unwrap());
    app.dispatcher.do_send(HoursChanged(Some(berlin())));
    assert_eq!(
        v.expect("availability").await,
        json!({"type": "availability", "online": true})
    );
}

async fn the_offline_form_waits_for_the_first_agent_in(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let mut v = Ws::visitor(&app).await;
    assert_eq!(v.hello(None, None).await["availability"]["online"], false);
    // An email is required.
    v.send(json!({"type": "message", "client_id": "o1", "body": "Where is my order?", "offline": true})).await;
    assert_eq!(v.expect_error().await, "validation");
    v.send(json!({"type": "message", "client_id": "o1", "body": "Where is my order?", "offline": true, "email": "ada@example.com"}))
        .await;
    let ack = v.expect("ack").await;
    let conv = ack["message"]["conversation_id"].as_i64().unwrap();
    // Stored as a queued conversation, marked offline, with where to answer.
    let api = Api::new(&app, Scope::Read).await;
    let (_, c) = api.get(&format!("/conversations/{conv}")).await;
    assert_eq!(
        (c["status"].as_str(), c["visitor"]["email"].as_str()),
        (Some("queued"), Some("ada@example.com"))
    );
    let offline: bool = app
        .storage
        .run(move |db| {
            use diesel::prelude::*;
            use livedesk::storage::schema::conversations::dsl::*;
            let q = conversations.find(conv).select(offline);
            Ok(match db {
                livedesk::storage::DbConnection::Pg(x) => q.first(x)?,
                livedesk::storage::DbConnection::Sqlite(x) => q.first(x)?,
            })
        })
        .await
        .unwrap();
    assert!(offline);
    // The first agent in gets it, with the message.
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    lin.expect_where("conversation", |f| f["conversation"]["id"] == conv)
        .await;
    let history = lin
        .expect_where("history", |f| f["conversation_id"] == conv)
        .await;
    assert_eq!(history["messages"][0]["body"], "Where is my order?");
}
