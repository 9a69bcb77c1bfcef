//! Verified visitor identity: a hello with the site's signature of the
//! identifier is that visitor on every device (history follows); a wrong
//! signature never joins anyone; with enforcement on, every path refuses an
//! identity that is not signed.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;
use crate::receiver::Receiver;
use crate::rest::Api;
use crate::webhooks::register;
use livedesk::domain::signing::hmac_hex;
use livedesk::storage::api_tokens::Scope;
use livedesk::storage::identity;

both_backends!(
    a_verified_visitor_is_the_same_on_every_device,
    with_enforcement_every_path_refuses_an_unsigned_identity,
);

async fn site_secret(app: &TestApp) -> String {
    app.storage.run(identity::new_secret).await.unwrap()
}

async fn hello_as(ws: &mut Ws, identifier: &str, hash: &str) -> serde_json::Value {
    ws.send(json!({"type": "hello", "identifier": identifier, "identifier_hash": hash}))
        .await;
    ws.next_frame().await
}

async fn a_verified_visitor_is_the_same_on_every_device(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.webhook_allow_private = true).await;
    let secret = site_secret(&app).await;
    let api = Api::new(&app, Scope::Write).await;
    let mut rx = Receiver::start().await;
    register(&api, &rx.url, &["visitor.identified"], false).await;
    let hash = hmac_hex(secret.as_bytes(), b"cust-42");
    // First device.
    let mut laptop = Ws::visitor(&app).await;
    let w = hello_as(&mut laptop, "cust-42", &hash).await;
    assert_eq!(w["type"], "welcome", "{w}");
    let vid = w["visitor_id"].as_i64().unwrap();
    laptop.say("m1", "my parcel is late").await;
    let (_, v) = api.get(&format!("/visitors/{vid}")).await;
    assert_eq!(
        (v["identifier"].as_str(), v["verified"].as_bool()),
        (Some("cust-42"), Some(true))
    );
    let event = rx.next().await.json();
    assert_eq!(
        (
            event["event"].as_str(),
            event["data"]["visitor"]["identifier"].as_str()
        ),
        (Some("visitor.identified"), Some("cust-42"))
    );
    // Second device, no token: the same visitor, with its history.
    let mut phone = Ws::visitor(&app).await;
    let w2 = hello_as(&mut phone, "cust-42", &hash).await;
    assert_eq!(w2["visitor_id"].as_i64(), Some(vid));
    assert_ne!(
        w2["token"], w["token"],
        "each device has a token of its own"
    );
    assert_eq!(w2["messages"][0]["body"], "my parcel is late");
    // Its token works on its own later (a reload).
    let mut again = Ws::visitor(&app).await;
    let w3 = again.hello(Some(w2["token"].as_str().unwrap()), None).await;
    assert_eq!(w3["visitor_id"].as_i64(), Some(vid));
    // A wrong signature: accepted (no enforcement) but unverified, and not them.
    let mut stranger = Ws::visitor(&app).await;
    let w4 = hello_as(&mut stranger, "cust-42", &hmac_hex(b"guess", b"cust-42")).await;
    assert_eq!(w4["type"], "welcome");
    assert_ne!(w4["visitor_id"].as_i64(), Some(vid));
    assert_eq!(w4["messages"], json!([]));
    let (_, s) = api.get(&format!("/visitors/{}", w4["visitor_id"])).await;
    assert_eq!(
        (s["identifier"].as_str(), s["verified"].as_bool()),
        (Some("cust-42"), Some(false))
    );
    // Agents see the mark.
    app.add_agent("lin", "agent-password", livedesk::domain::Role::Agent)
        .await;
    let (_b, _a, welcome) = app.agent_online("lin", "agent-password").await;
    // (lin came online after it was queued: it is in the queue lin was sent.)
    let c = &welcome["queue"][0]["visitor"];
    assert_eq!(
        (c["identifier"].as_str(), c["verified"].as_bool()),
        (Some("cust-42"), Some(true)),
        "{welcome}"
    );
}

async fn with_enforcement_every_path_refuses_an_unsigned_identity(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.identity_required = true).await;
    let secret = site_secret(&app).await;
    let hash = hmac_hex(secret.as_bytes(), b"cust-7");
    // hello: none, a wrong one → refused and closed; nothing stored.
    let mut anon = Ws::visitor(&app).await;
    anon.send(json!({"type": "hello"})).await;
    assert_eq!(anon.expect_error().await, "identity_invalid");
    assert_eq!(anon.expect_close().await, 1008);
    let mut wrong = Ws::visitor(&app).await;
    let e = hello_as(&mut wrong, "cust-7", &"0".repeat(64)).await;
    assert_eq!(e["code"], "identity_invalid");
    let mut bad_hex = Ws::visitor(&app).await;
    assert_eq!(
        hello_as(&mut bad_hex, "cust-7", "zz").await["code"],
        "identity_invalid"
    );
    let visitors: i64 = app
        .storage
        .run(|db| {
            use diesel::prelude::*;
            use livedesk::storage::schema::visitors::dsl::*;
            Ok(visitors.count().get_result(db)?)
        })
        .await
        .unwrap();
    assert_eq!(visitors, 0, "a refused hello stores nothing");
    // A valid one is welcomed.
    let mut ok = Ws::visitor(&app).await;
    let w = hello_as(&mut ok, "cust-7", &hash).await;
    assert_eq!(w["type"], "welcome");
    let vid = w["visitor_id"].as_i64().unwrap();
    // Later identity changes (a new hello with another identity) are checked the same way.
    let mut change = Ws::visitor(&app).await;
    change
        .send(json!({"type": "hello", "token": w["token"], "identifier": "cust-8", "identifier_hash": hash}))
        .await;
    assert_eq!(change.expect_error().await, "identity_invalid");
    // The REST API: an identifier without a valid signature is refused, and changes nothing.
    let api = Api::new(&app, Scope::Write).await;
    let path = format!("/visitors/{vid}");
    let (s, e) = api
        .call(Method::PATCH, &path, Some(json!({"identifier": "cust-9"})))
        .await;
    assert_eq!(
        (s.as_u16(), e["error"]["code"].as_str()),
        (403, Some("identity_invalid"))
    );
    let (s, e) = api
        .call(
            Method::PATCH,
            &path,
            Some(json!({"identifier": "cust-9", "identifier_hash": hash, "name": "X"})),
        )
        .await;
    assert_eq!(
        (s.as_u16(), e["error"]["code"].as_str()),
        (403, Some("identity_invalid"))
    );
    let (_, v) = api.get(&path).await;
    assert_eq!(
        (v["identifier"].as_str(), v["name"].clone()),
        (Some("cust-7"), serde_json::Value::Null)
    );
    let h9 = hmac_hex(secret.as_bytes(), b"cust-9");
    let (s, v) = api
        .call(
            Method::PATCH,
            &path,
            Some(json!({"identifier": "cust-9", "identifier_hash": h9})),
        )
        .await;
    assert_eq!(
        (
            s.as_u16(),
            v["identifier"].as_str(),
            v["verified"].as_bool()
        ),
        (200, Some("cust-9"), Some(true))
    );
    // Uploads: only a verified visitor's token.
    let unverified_token = "unverified-visitor-token";
    let now = app.clock.now_naive();
    app.storage
        .run(move |db| {
            let info = livedesk::storage::visitors::VisitorInfo::default();
            let h = livedesk::domain::visitor::token_hash(unverified_token);
            livedesk::storage::visitors::create(db, &h, &info, now)
        })
        .await
        .unwrap();
    let up = |token: String| {
        let url = format!("{}/files?name=a.txt", app.address);
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .body("hello file")
                .send()
                .await
                .unwrap()
        }
    };
    let r = up(unverified_token.to_owned()).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "identity_invalid"
    );
    assert_eq!(
        up(w["token"].as_str().unwrap().to_owned()).await.status(),
        201
    );
}
