//! The REST API over real HTTP: tokens, every resource's happy path and its
//! errors, and messages posted through it reaching the sockets with the
//! sockets' own guarantees.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;
use livedesk::domain::Role;
use livedesk::storage::api_tokens::{self, Scope};

/// A REST client with a bearer token.
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    /// A token made by the first admin, as the console would make it.
    pub async fn new(app: &TestApp, scope: Scope) -> Api {
        let token = make_token(app, scope, None).await;
        Api::with_token(app, &token)
    }

    pub fn with_token(app: &TestApp, token: &str) -> Api {
        Api::at(&app.address, token)
    }

    /// At a node's address (a node of its own process).
    pub fn at(address: &str, token: &str) -> Api {
        Api {
            base: format!("{address}/api/v1"),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
}

pub async fn make_token(
    app: &TestApp,
    scope: Scope,
    expires: Option<chrono::NaiveDateTime>,
) -> String {
    let now = app.clock.now_naive();
    app.storage
        .run(move |db| {
            let (admin, _) =
                livedesk::storage::agents::find_by_username(db, "admin")?.expect("the first admin");
            api_tokens::create(db, "test", scope, Some(admin.id), expires, now).map(|(_, t)| t)
        })
        .await
        .unwrap()
}

const PW: &str = "agent-password";

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

both_backends!(
    tokens_are_checked_on_every_request,
    a_message_posted_through_the_api_is_delivered_like_a_typed_one,
    conversations_are_listed_changed_and_reopened,
    visitors_agents_labels_replies_and_rooms,
);

async fn tokens_are_checked_on_every_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = format!("{}/api/v1/conversations", app.address);
    let plain = reqwest::Client::new();
    // No token, a made-up one: 401 with a JSON error.
    let r = plain.get(&base).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(code(&r.json().await.unwrap()), "unauthorized");
    let (s, _) = Api::with_token(&app, "ldk_made-up")
        .get("/conversations")
        .await;
    assert_eq!(s, 401);
    // A read token reads, and may not write.
    let read = Api::new(&app, Scope::Read).await;
    assert_eq!(read.get("/conversations").await.0, 200);
    let (s, body) = read
        .post("/labels", json!({"name": "vip", "colour": "#aa0000"}))
        .await;
    assert_eq!((s, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    // Kept as a hash only: the text is nowhere in the database.
    let text = read.token.clone();
    let hashes: Vec<(String, String)> = app
        .storage
        .run(|db| {
            use diesel::prelude::*;
            use livedesk::storage::schema::api_tokens::dsl::*;
            Ok(api_tokens.select((token_hash, hint)).load(db)?)
        })
        .await
        .unwrap();
    assert!(hashes
        .iter()
        .all(|(h, hint)| !h.contains(&text) && text.starts_with(hint.as_str())));
    assert!(hashes.iter().any(|(h, _)| *h == api_tokens::hash(&text)));
    // Last use is recorded.
    let used = app.storage.run(api_tokens::list).await.unwrap();
    assert!(used.iter().any(|t| t.last_used_at.is_some()));
    // Revoked: refused from then on.
    let id = used[0].id;
    let now = app.clock.now_naive();
    app.storage
        .run(move |db| api_tokens::revoke(db, id, now))
        .await
        .unwrap();
    assert_eq!(read.get("/conversations").await.0, 401);
    // Expiry, by the node's clock.
    let soon = app.clock.now_naive() + chrono::Duration::hours(1);
    let expiring = Api::with_token(&app, &make_token(&app, Scope::Write, Some(soon)).await);
    assert_eq!(expiring.get("/agents").await.0, 200);
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(expiring.get("/agents").await.0, 401);
}

async fn a_message_posted_through_the_api_is_delivered_like_a_typed_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, mut agent, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    agent.expect("conversation").await;
    let api = Api::new(&app, Scope::Write).await;
    let path = format!("/conversations/{conv}/messages");
    let (s, m) = api
        .post(
            &path,
            json!({"body": "from the CRM", "client_id": "crm-1", "agent_id": lin.id.0}),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(
        (m["seq"].as_i64(), m["agent_name"].as_str()),
        (Some(2), Some("lin"))
    );
    // The visitor and the agent's socket get it, in order after seq 1.
    let got = v.expect("message").await;
    assert_eq!(
        (
            got["message"]["seq"].as_i64(),
            got["message"]["body"].as_str()
        ),
        (Some(2), Some("from the CRM"))
    );
    let seen = agent
        .expect_where("message", |f| f["message"]["seq"] == 2)
        .await;
    assert_eq!(seen["message"]["client_id"], "crm-1");
    // The same client_id again: the original, stored once, not delivered twice.
    let (s, again) = api
        .post(
            &path,
            json!({"body": "from the CRM", "client_id": "crm-1", "agent_id": lin.id.0}),
        )
        .await;
    assert_eq!((s.as_u16(), again["seq"].as_i64()), (201, Some(2)));
    // Next from the visitor comes after it.
    assert_eq!(v.say("v2", "thanks").await["seq"], 3);
    v.assert_no("message", std::time::Duration::from_millis(300))
        .await;
    // A private note: to the agent, never the visitor; listed among the messages.
    let (s, note) = api
        .post(&path, json!({"body": "vip customer", "client_id": "n-1", "private": true, "agent_id": lin.id.0}))
        .await;
    assert_eq!((s.as_u16(), note["private"].as_bool()), (201, Some(true)));
    agent
        .expect_where("message", |f| f["message"]["private"] == true)
        .await;
    v.assert_no("message", std::time::Duration::from_millis(300))
        .await;
    let (_, page) = api.get(&format!("{path}?after_seq=0")).await;
    let bodies: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["hello", "from the CRM", "thanks", "vip customer"]);
    // Another agent may not write to lin's conversation (the socket's rule).
    let wang = app.add_agent("wang", PW, Role::Agent).await;
    let (s, e) = api
        .post(
            &path,
            json!({"body": "x", "client_id": "w-1", "agent_id": wang.id.0}),
        )
        .await;
    assert_eq!((s, code(&e)), (StatusCode::FORBIDDEN, "forbidden"));
    // Bad input, each with its code.
    for (body, status, want) in [
        (json!({"body": "", "client_id": "e-1"}), 422, "empty_body"),
        (
            json!({"body": "x", "client_id": "not ok!"}),
            422,
            "bad_client_id",
        ),
        (
            json!({"body": "x", "client_id": "e-2", "colour": 1}),
            400,
            "bad_request",
        ),
        (
            json!({"body": "x".repeat(5000), "client_id": "e-3"}),
            422,
            "body_too_long",
        ),
    ] {
        let (s, e) = api.post(&path, body).await;
        assert_eq!((s.as_u16(), code(&e)), (status, want), "{e}");
    }
    let raw = api
        .http
        .post(format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(code(&raw.json().await.unwrap()), "bad_json");
    let big = api
        .http
        .post(format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"body\":\"{}\",\"client_id\":\"b\"}}",
            "y".repeat(70_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    assert_eq!(
        api.post(
            "/conversations/999999/messages",
            json!({"body": "x", "client_id": "z"})
        )
        .await
        .0,
        404
    );
    let (s, e) = api.get("/no/such/route").await;
    assert_eq!((s.as_u16(), code(&e)), (404, "no_route"));
}

async fn conversations_are_listed_changed_and_reopened(backend: Backend) {
    let app = spawn_app(backend).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    let wang = app.add_agent("wang", PW, Role::Agent).await;
    let api = Api::new(&app, Scope::Write).await;
    // Nobody online: queued.
    let mut v = Ws::visitor(&app).await;
    let w = v.begin("hello").await;
    let conv = w["conversation_id"].as_i64().unwrap();
    let (_, list) = api.get("/conversations?status=queued").await;
    assert_eq!(list["data"][0]["id"].as_i64(), Some(conv));
    assert_eq!(list["data"][0]["visitor"]["id"], w["visitor_id"]);
    let (_lb, mut lin_ws, _) = app.agent_online("lin", PW).await;
    let (_wb, mut wang_ws, _) = app.agent_online("wang", PW).await;
    // Whoever got it, assign it to lin, then transfer to wang with a note.
    let (s, c) = api
        .post(
            &format!("/conversations/{conv}/assign"),
            json!({"agent_id": lin.id.0}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), c["agent"]["id"].as_i64()),
        (200, Some(lin.id.0)),
        "{c}"
    );
    let (s, c) = api
        .post(
            &format!("/conversations/{conv}/transfer"),
            json!({"agent_id": wang.id.0, "note": "over to you"}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), c["agent"]["id"].as_i64()),
        (200, Some(wang.id.0)),
        "{c}"
    );
    wang_ws
        .expect_where("conversation", |f| {
            f["conversation"]["id"] == conv && f["conversation"]["agent"]["id"] == wang.id.0
        })
        .await;
    let _ = lin_ws.try_frame().await;
    // Filters: by agent (storage follows the Desk's decision within moments).
    let by_wang = format!("/conversations?agent_id={}", wang.id.0);
    let deadline = tokio::time::Instant::now() + WAIT;
    while api.get(&by_wang).await.1["data"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "storage never followed the transfer"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let since = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let (s, recent) = api
        .call(
            Method::GET,
            &format!("/conversations?updated_since={}", since.replace('+', "%2B")),
            None,
        )
        .await;
    assert_eq!(
        (s.as_u16(), recent["data"][0]["id"].as_i64()),
        (200, Some(conv))
    );
    let later = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    let (_, none) = api
        .get(&format!(
            "/conversations?updated_since={}",
            later.replace('+', "%2B")
        ))
        .await;
    assert_eq!(none["data"], json!([]));
    assert_eq!(
        api.get("/conversations?updated_since=yesterday").await.0,
        400
    );
    assert_eq!(
        api.get(&format!("/conversations?agent_id={}", lin.id.0))
            .await
            .1["data"],
        json!([])
    );
    assert_eq!(api.get("/conversations?status=nonsense").await.0, 400);
    assert_eq!(api.get("/conversations?bogus=1").await.0, 400);
    // Labels: exactly the given ones; an unknown one refused.
    let (_, label) = api
        .post("/labels", json!({"name": "billing", "colour": "#336699"}))
        .await;
    let lid = label["id"].as_i64().unwrap();
    let (s, c) = api
        .call(
            Method::PUT,
            &format!("/conversations/{conv}/labels"),
            Some(json!({"label_ids": [lid]})),
        )
        .await;
    assert_eq!(
        (s.as_u16(), c["labels"][0]["name"].as_str()),
        (200, Some("billing"))
    );
    assert_eq!(
        api.get(&format!("/conversations?label_id={lid}")).await.1["data"][0]["id"],
        conv
    );
    let (s, _) = api
        .call(
            Method::PUT,
            &format!("/conversations/{conv}/labels"),
            Some(json!({"label_ids": [424242]})),
        )
        .await;
    assert_eq!(s, 400);
    // Close, reopen: back to an agent; reopening an open one conflicts.
    let (s, c) = api
        .post(&format!("/conversations/{conv}/close"), json!({}))
        .await;
    assert_eq!((s.as_u16(), c["status"].as_str()), (200, Some("closed")));
    assert!(c["closed_at"].is_string());
    v.expect("closed").await;
    let (s, c) = api
        .post(&format!("/conversations/{conv}/reopen"), json!({}))
        .await;
    assert_eq!(s, 200, "{c}");
    let placed = v
        .expect_where_any(&["assigned", "queued"], |f| f["conversation_id"] == conv)
        .await;
    assert_eq!(placed["type"], "assigned");
    // The visitor writes on in the same conversation.
    assert_eq!(v.say("again", "back again").await["conversation_id"], conv);
    let (s, e) = api
        .post(&format!("/conversations/{conv}/reopen"), json!({}))
        .await;
    assert_eq!((s.as_u16(), code(&e)), (409, "conflict"));
    assert_eq!(api.get("/conversations/987654").await.0, 404);
}

async fn visitors_agents_labels_replies_and_rooms(backend: Backend) {
    let app = spawn_app(backend).await;
    let lin = app.add_agent("lin", PW, Role::Agent).await;
    let (_lb, _lin_ws, _) = app.agent_online("lin", PW).await;
    let api = Api::new(&app, Scope::Write).await;
    // Agents with presence.
    let (_, agents) = api.get("/agents").await;
    let lin_row = agents["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "lin")
        .unwrap()
        .clone();
    assert_eq!(lin_row["status"], "online");
    // Visitors: read and update; attributes an object; unknown fields refused.
    let mut v = Ws::visitor(&app).await;
    let vid = v.begin("hi").await["visitor_id"].as_i64().unwrap();
    let (s, got) = api
        .call(
            Method::PATCH,
            &format!("/visitors/{vid}"),
            Some(json!({"name": "Ada", "attributes": {"plan": "pro"}})),
        )
        .await;
    assert_eq!(
        (
            s.as_u16(),
            got["name"].as_str(),
            got["attributes"]["plan"].as_str()
        ),
        (200, Some("Ada"), Some("pro"))
    );
    assert_eq!(
        api.get(&format!("/visitors/{vid}")).await.1["attributes"]["plan"],
        "pro"
    );
    assert_eq!(
        api.call(
            Method::PATCH,
            &format!("/visitors/{vid}"),
            Some(json!({"attributes": [1]}))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        api.call(
            Method::PATCH,
            &format!("/visitors/{vid}"),
            Some(json!({"nick": "x"}))
        )
        .await
        .0,
        400
    );
    let (s, cleared) = api
        .call(
            Method::PATCH,
            &format!("/visitors/{vid}"),
            Some(json!({"name": null})),
        )
        .await;
    assert_eq!((s.as_u16(), cleared["name"].clone()), (200, Value::Null));
    assert_eq!(api.get("/visitors/123456789").await.0, 404);
    // Labels CRUD.
    let (s, l) = api
        .post("/labels", json!({"name": "urgent", "colour": "#ff0000"}))
        .await;
    assert_eq!(s, 201);
    let lid = l["id"].as_i64().unwrap();
    assert_eq!(
        api.post("/labels", json!({"name": "urgent", "colour": "#00ff00"}))
            .await
            .0,
        409
    );
    assert_eq!(
        api.post("/labels", json!({"name": "x", "colour": "red"}))
            .await
            .0,
        400
    );
    let (s, l) = api
        .call(
            Method::PATCH,
            &format!("/labels/{lid}"),
            Some(json!({"colour": "#00FF00"})),
        )
        .await;
    assert_eq!(
        (s.as_u16(), l["colour"].as_str(), l["name"].as_str()),
        (200, Some("#00ff00"), Some("urgent"))
    );
    assert_eq!(
        api.call(Method::DELETE, &format!("/labels/{lid}"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        api.call(Method::DELETE, &format!("/labels/{lid}"), None)
            .await
            .0,
        404
    );
    // Saved replies, shared and an agent's own.
    let (s, r) = api
        .post(
            "/canned",
            json!({"shortcut": "hi", "body": "Hello {visitor_name}"}),
        )
        .await;
    assert_eq!((s.as_u16(), r["agent_id"].clone()), (201, Value::Null));
    let (s, mine) = api
        .post(
            "/canned",
            json!({"shortcut": "bye", "body": "Bye", "agent_id": lin.id.0}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), mine["agent_id"].as_i64()),
        (201, Some(lin.id.0))
    );
    let rid = r["id"].as_i64().unwrap();
    let (s, r) = api
        .call(
            Method::PATCH,
            &format!("/canned/{rid}"),
            Some(json!({"body": "Hi there"})),
        )
        .await;
    assert_eq!((s.as_u16(), r["body"].as_str()), (200, Some("Hi there")));
    assert_eq!(
        api.post("/canned", json!({"shortcut": "no spaces", "body": "x"}))
            .await
            .0,
        400
    );
    assert_eq!(
        api.get("/canned").await.1["data"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        api.call(Method::DELETE, &format!("/canned/{rid}"), None)
            .await
            .0,
        204
    );
    // Rooms: `everyone` is there; posting as lin reaches lin's socket.
    let (_, rooms) = api.get("/rooms").await;
    let everyone = rooms["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["everyone"] == true)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, m) = api
        .post(
            &format!("/rooms/{everyone}/messages"),
            json!({"body": "standup at 10", "client_id": "r-1", "agent_id": lin.id.0}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), m["body"].as_str()),
        (201, Some("standup at 10")),
        "{m}"
    );
    assert_eq!(
        api.post(
            "/rooms/99999/messages",
            json!({"body": "x", "client_id": "r-2"})
        )
        .await
        .0,
        404
    );
}

/// The OpenAPI document is generated from the code: every operation it
/// lists answers (is routed), no undocumented method hides on its paths,
/// and every route handler in `src/web/api/` is in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_and_the_routes_agree() {
    let app = spawn_app(Backend::Sqlite).await;
    let api = Api::new(&app, Scope::Write).await;
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", app.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for (path, ops) in paths {
        let rel = path.strip_prefix("/api/v1").expect("under /api/v1");
        let concrete = rel
            .split('/')
            .map(|seg| if seg.starts_with('{') { "999999" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for m in ["get", "post", "put", "patch", "delete"] {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let body = (m != "get" && m != "delete").then(|| json!({}));
            let (status, v) = api.call(method, &concrete, body).await;
            if ops.get(m).is_some() {
                documented.insert(format!("{} {rel}", m.to_uppercase()));
                assert_ne!(
                    code(&v),
                    "no_route",
                    "{m} {rel} is documented but not routed"
                );
                assert_ne!(status, 405, "{m} {rel} is documented but not routed");
            } else {
                assert!(
                    status == 405 || code(&v) == "no_route",
                    "{m} {rel} answers {status} but is not documented: {v}"
                );
            }
        }
    }
    // Every handler's route attribute in the source is a documented operation.
    let mut in_source = std::collections::BTreeSet::new();
    for f in std::fs::read_dir("src/web/api").unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        for line in text.lines().map(str::trim) {
            for m in ["get", "post", "put", "patch", "delete"] {
                if let Some(rest) = line.strip_prefix(&format!("#[{m}(\"")) {
                    let route = rest.split('"').next().unwrap();
                    in_source.insert(format!("{} {route}", m.to_uppercase()));
                }
            }
        }
    }
    assert_eq!(in_source, documented);
    assert!(documented.len() >= 25, "{documented:?}");
}

/// Each token has its own rate; the excess is 429 with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_past_its_rate_is_told_to_slow_down() {
    let app = spawn_app_with(Backend::Sqlite, |s| (s.api_rate, s.api_burst) = (1, 3)).await;
    let (a, b) = (
        Api::new(&app, Scope::Read).await,
        Api::new(&app, Scope::Read).await,
    );
    for _ in 0..3 {
        assert_eq!(a.get("/labels").await.0, 200);
    }
    let r = a
        .http
        .get(format!("{}/labels", a.base))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(code(&r.json().await.unwrap()), "rate_limited");
    // Another token is not held up by it.
    assert_eq!(b.get("/labels").await.0, 200);
}

/// A file uploaded through the API goes with a message, like the dashboard's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_through_the_api_goes_with_a_message() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    let api = Api::new(&app, Scope::Write).await;
    let url = format!("{}/conversations/{conv}/files?name=invoice.txt", api.base);
    let up = api
        .http
        .post(&url)
        .bearer_auth(&api.token)
        .body("invoice #7781")
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 201);
    let file: Value = up.json().await.unwrap();
    let (s, m) = api
        .post(
            &format!("/conversations/{conv}/messages"),
            json!({"client_id": "f-1", "files": [file["id"]]}),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    let got = v.expect("message").await;
    assert_eq!(got["message"]["files"][0]["name"], "invoice.txt");
    // A type not taken is refused before it is kept; another conversation's 404.
    let exe = api
        .http
        .post(&url)
        .bearer_auth(&api.token)
        .body(b"MZ\x90\x00\x03\x00\x00\x00".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(exe.status(), 415);
    let other = format!("{}/conversations/424242/files?name=a.txt", api.base);
    assert_eq!(
        api.http
            .post(other)
            .bearer_auth(&api.token)
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
