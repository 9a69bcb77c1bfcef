//! Webhooks received by a real HTTP server: signed, in order per
//! conversation, the same delivery id on every attempt, retried after a
//! backoff (on the node's clock), given up after the retry period, notes
//! only where asked, internal addresses refused by default.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;
use crate::receiver::{Hit, Receiver};
use crate::rest::Api;
use livedesk::domain::Role;
use livedesk::storage::api_tokens::Scope;

const PW: &str = "agent-password";
const ALL: [&str; 6] = [
    "conversation.created",
    "conversation.assigned",
    "conversation.closed",
    "conversation.reopened",
    "message.created",
    "visitor.identified",
];

/// Checks a delivery's signature as a receiver would (docs/api.md): the
/// HMAC-SHA256 of `timestamp.body` under the secret, among the listed ones.
pub fn signed_by(hit: &Hit, secret: &str) -> bool {
    let ts = hit.header("x-livedesk-timestamp");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{}", hit.body).as_bytes());
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    hit.header("x-livedesk-signature")
        .split(',')
        .any(|s| s.trim() == want)
}

/// Registers an endpoint through the API; answers (its id, its secret).
pub async fn register(api: &Api, url: &str, events: &[&str], notes: bool) -> (i64, String) {
    let (s, w) = api
        .post(
            "/webhooks",
            json!({"url": url, "events": events, "include_notes": notes}),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    (
        w["id"].as_i64().unwrap(),
        w["secret"].as_str().unwrap().to_owned(),
    )
}

both_backends!(
    events_arrive_signed_and_in_order,
    a_failing_endpoint_gets_the_same_delivery_after_a_backoff_until_given_up,
    notes_go_only_where_asked_and_internal_addresses_are_refused,
);

async fn events_arrive_signed_and_in_order(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.webhook_allow_private = true).await;
    let mut rx = Receiver::start().await;
    let api = Api::new(&app, Scope::Write).await;
    let (_, secret) = register(&api, &rx.url, &ALL, false).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    lin.expect("conversation").await;
    lin.agent_say(conv, "a1", "how can I help?").await;
    v.say("v2", "my order").await;
    let path = format!("/conversations/{conv}");
    api.post(&format!("{path}/close"), json!({})).await;
    api.post(&format!("{path}/reopen"), json!({})).await;
    let mut got: Vec<Hit> = Vec::new();
    while !got
        .iter()
        .any(|h| h.header("x-livedesk-event") == "conversation.reopened")
    {
        got.push(rx.next().await);
    }
    let names: Vec<String> = got
        .iter()
        .map(|h| h.json()["event"].as_str().unwrap().to_owned())
        .collect();
    let first = |n: &str| {
        names
            .iter()
            .position(|x| x == n)
            .unwrap_or_else(|| panic!("no {n} in {names:?}"))
    };
    assert_eq!(names[0], "conversation.created", "{names:?}");
    assert!(first("conversation.created") < first("message.created"));
    assert!(first("message.created") < first("conversation.closed"));
    assert!(first("conversation.closed") < first("conversation.reopened"));
    // The messages in seq order, each once.
    let seqs: Vec<i64> = got
        .iter()
        .filter(|h| h.header("x-livedesk-event") == "message.created")
        .map(|h| h.json()["data"]["message"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    let assigned = got
        .iter()
        .find(|h| h.header("x-livedesk-event") == "conversation.assigned")
        .unwrap();
    assert_eq!(assigned.json()["data"]["agent"]["name"], "lin");
    for h in &got {
        assert!(signed_by(h, &secret), "bad signature: {:?}", h.headers);
        assert!(!signed_by(h, "whsec_wrong"));
        assert!(h.header("x-livedesk-delivery").starts_with("dlv_"));
        let ts: i64 = h.header("x-livedesk-timestamp").parse().unwrap();
        assert!((ts - app.clock.now().timestamp()).abs() < 60);
        assert_eq!(
            h.json()["data"]["conversation"]["id"]
                .as_i64()
                .or(h.json()["data"]["conversation_id"].as_i64()),
            Some(conv)
        );
    }
    let ids: std::collections::HashSet<&str> = got
        .iter()
        .map(|h| h.header("x-livedesk-delivery"))
        .collect();
    assert_eq!(ids.len(), got.len(), "each delivery has its own id");
}

async fn a_failing_endpoint_gets_the_same_delivery_after_a_backoff_until_given_up(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| s.webhook_allow_private = true).await;
    let mut rx = Receiver::start().await;
    let api = Api::new(&app, Scope::Write).await;
    let (hook, secret) = register(&api, &rx.url, &["message.created"], false).await;
    rx.answer(&[Some(500)]);
    let mut v = Ws::visitor(&app).await;
    v.begin("hello").await;
    let first = rx.next().await;
    // Not again before the backoff (10 s ± 20 %, on the node's clock)…
    rx.quiet_for(std::time::Duration::from_millis(1200)).await;
    app.clock.advance(chrono::Duration::seconds(13));
    let second = rx.next().await;
    assert_eq!(
        second.header("x-livedesk-delivery"),
        first.header("x-livedesk-delivery")
    );
    assert_eq!(second.body, first.body);
    assert!(signed_by(&second, &secret));
    // The log says how it went.
    let log_path = format!("/webhooks/{hook}/deliveries");
    let row = loop {
        let (_, log) = api.get(&log_path).await;
        let row = log["data"][0].clone();
        if row["status"] == "delivered" {
            break row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        (row["attempts"].as_i64(), row["last_response_code"].as_i64()),
        (Some(2), Some(200))
    );
    // Redeliver: the same id once more.
    let (s, _) = api
        .post(&format!("{log_path}/{}/redeliver", row["id"]), json!({}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        rx.next().await.header("x-livedesk-delivery"),
        first.header("x-livedesk-delivery")
    );
    // An endpoint that keeps failing: tried until the retry period is over, then failed.
    rx.answer(&[Some(503); 40]);
    v.say("m2", "again").await;
    let failing = rx.next().await;
    let id = failing.header("x-livedesk-delivery").to_owned();
    let mut hours = 0;
    let row = loop {
        let (_, log) = api.get(&log_path).await;
        let row = log["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["delivery_id"] == id.as_str())
            .unwrap()
            .clone();
        if row["status"] == "failed" {
            break row;
        }
        if row["status"] == "pending" && row["last_response_code"] == 503 {
            app.clock.advance(chrono::Duration::hours(2));
            hours += 2;
            assert!(hours <= 30, "still retried after {hours} h: {row}");
            let again = rx.next().await;
            assert_eq!(again.header("x-livedesk-delivery"), id);
        } else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    assert!((22..=28).contains(&hours), "gave up after {hours} h");
    assert_eq!(row["last_response_code"], 503);
}

async fn notes_go_only_where_asked_and_internal_addresses_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.webhook_allow_private = true).await;
    let mut with_notes = Receiver::start().await;
    let mut without = Receiver::start().await;
    let api = Api::new(&app, Scope::Write).await;
    register(&api, &with_notes.url, &["message.created"], true).await;
    register(&api, &without.url, &["message.created"], false).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    lin.expect("conversation").await;
    lin.send(json!({"type": "message", "conversation_id": conv, "client_id": "n1", "body": "internal", "private": true}))
        .await;
    lin.expect("ack").await;
    lin.agent_say(conv, "a1", "public").await;
    let bodies = |hits: Vec<Hit>| -> Vec<(String, bool)> {
        hits.iter()
            .map(|h| {
                let m = &h.json()["data"]["message"];
                (
                    m["body"].as_str().unwrap().to_owned(),
                    m["private"] == Value::Bool(true),
                )
            })
            .collect()
    };
    let a = vec![
        with_notes.next().await,
        with_notes.next().await,
        with_notes.next().await,
    ];
    assert_eq!(
        bodies(a),
        [
            ("hello".into(), false),
            ("internal".into(), true),
            ("public".into(), false)
        ]
    );
    let b = vec![without.next().await, without.next().await];
    assert_eq!(
        bodies(b),
        [("hello".into(), false), ("public".into(), false)]
    );
    without
        .quiet_for(std::time::Duration::from_millis(600))
        .await;

    // By default an endpoint must be a public address.
    let strict = spawn_app(backend).await;
    let api = Api::new(&strict, Scope::Write).await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/",
        "ftp://example.com/",
    ] {
        let (s, e) = api
            .post(
                "/webhooks",
                json!({"url": url, "events": ["message.created"]}),
            )
            .await;
        assert_eq!(s, 400, "{url}: {e}");
    }
    let (s, _) = api
        .post(
            "/webhooks",
            json!({"url": "https://hooks.example.com/x", "events": ["nonsense"]}),
        )
        .await;
    assert_eq!(s, 400);
}

/// A rotated secret: both sign during the overlap, only the new one after.
/// A redirect is an answer, never followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_overlaps_and_a_redirect_is_not_followed() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.webhook_allow_private = true).await;
    let mut rx = Receiver::start().await;
    let api = Api::new(&app, Scope::Write).await;
    let (hook, old) = register(&api, &rx.url, &["message.created"], false).await;
    let (s, rotated) = api
        .post(
            &format!("/webhooks/{hook}/rotate"),
            json!({"overlap_hours": 24}),
        )
        .await;
    assert_eq!(s, 200);
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(
        api.get("/webhooks").await.1["data"][0].get("secret"),
        None,
        "never listed"
    );
    let mut v = Ws::visitor(&app).await;
    v.begin("during the overlap").await;
    let hit = rx.next().await;
    assert!(signed_by(&hit, &new) && signed_by(&hit, &old));
    app.clock.advance(chrono::Duration::hours(25));
    v.say("m2", "after it").await;
    let hit = rx.next().await;
    assert!(signed_by(&hit, &new) && !signed_by(&hit, &old));
    // A redirect: one request, recorded as a failure, tried again later.
    rx.answer(&[Some(302)]);
    v.say("m3", "redirected").await;
    let first = rx.next().await;
    rx.quiet_for(std::time::Duration::from_millis(800)).await;
    let (_, log) = api.get(&format!("/webhooks/{hook}/deliveries")).await;
    let row = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["delivery_id"] == first.header("x-livedesk-delivery"))
        .unwrap()
        .clone();
    assert_eq!(
        (row["status"].as_str(), row["last_response_code"].as_i64()),
        (Some("pending"), Some(302))
    );
}
