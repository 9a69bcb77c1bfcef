//! `spawn_app(backend)`: the real server on port 0 with a fresh database, and a
//! client with a cookie jar that does not follow redirects.

use std::sync::Arc;

use diesel::{Connection, PgConnection, RunQueryDsl};
use livedesk::config::{Secret, Settings};
use livedesk::domain::{password, Clock, Role};
use livedesk::startup::{Application, FirstAdmin};
use livedesk::storage::{agents, DatabaseUrl, Storage};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{redirect::Policy, Client, Response};

pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const CAPTCHA: &str = "LdTest7";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend: `both_backends!(name)` expects
/// `async fn name(backend: Backend)` in the same module.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

pub fn pg_server_url() -> String {
    std::env::var("LIVEDESK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database that is dropped with the test.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        name: String,
        url: String,
    },
}

impl TestDb {
    pub fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("livedesk.sqlite3").display());
                TestDb::Sqlite { _dir: dir, url }
            }
            Backend::Postgres => {
                let server = pg_server_url();
                let mut admin = PgConnection::establish(&format!("{server}/postgres?sslmode=disable")).unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is required for this test and is not reachable at {server} ({e}). \
                         Start it (see README) or set LIVEDESK_TEST_PG_URL."
                    )
                });
                let name = format!("livedesk_test_{}", hex::encode(rand::random::<[u8; 8]>()));
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create test database");
                let url = format!("{server}/{name}?sslmode=disable"); // loopback needs no TLS
                TestDb::Postgres { name, url }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    /// Drops a PostgreSQL database now, connections and all (the health test uses this).
    pub fn drop_postgres(&self) {
        if let TestDb::Postgres { name, .. } = self {
            if let Ok(mut admin) =
                PgConnection::establish(&format!("{}/postgres?sslmode=disable", pg_server_url()))
            {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
            let _ = std::fs::remove_dir_all(data_dir_for(self.url()));
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_postgres();
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: Client,
    pub jar: Arc<Jar>,
    pub clock: Clock,
    pub storage: Storage,
    pub db: Arc<TestDb>,
    pub first_admin: Option<FirstAdmin>,
    pub dispatcher: actix::Addr<livedesk::chat::Dispatcher>,
    /// The running node, to stop it (a restart, a second node).
    node: Arc<std::sync::Mutex<Option<RunningNode>>>,
}

type RunningNode = (
    livedesk::startup::ServerHandle,
    tokio::task::JoinHandle<std::io::Result<()>>,
);

pub fn test_settings(db_url: &str) -> Settings {
    let mut s = Settings::defaults();
    s.bind = "127.0.0.1:0".into();
    s.database_url = Secret::new(db_url);
    s.db_pool_size = 4;
    s.workers = 1;
    s.admin_password = Some(Secret::new(ADMIN_PASSWORD));
    s.test_captcha = Some(Secret::new(CAPTCHA));
    // Every test client comes from 127.0.0.1; the limit tests set their own.
    s.visitor_sockets_per_ip = 0;
    s.new_conversations_per_ip = 0;
    s.connections_per_ip = 0;
    s.data_dir = data_dir_for(db_url);
    s
}

/// Uploaded files go beside the test's database (nodes sharing a database
/// share them, as a cluster's nodes share a volume); gone with it.
pub fn data_dir_for(db_url: &str) -> std::path::PathBuf {
    match db_url.strip_prefix("sqlite://") {
        Some(file) => std::path::Path::new(file).with_file_name("data"),
        None => {
            let name = db_url.rsplit('/').next().unwrap_or("db");
            let name = name.split('?').next().unwrap_or(name);
            std::env::temp_dir().join("livedesk-test-files").join(name)
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub fn redis_url() -> String {
    std::env::var("LIVEDESK_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Settings for a node of a new cluster (a name no other test uses).
pub fn cluster_settings(db: &TestDb) -> Settings {
    let mut s = test_settings(db.url());
    s.redis_url = Some(Secret::new(redis_url()));
    s.cluster = format!("test-{}", hex::encode(rand::random::<[u8; 6]>()));
    s
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDb::create(backend);
    let mut settings = test_settings(db.url());
    tweak(&mut settings);
    spawn_on(db, settings).await
}

pub async fn spawn_on(db: TestDb, settings: Settings) -> TestApp {
    let storage = Storage::connect(&DatabaseUrl::parse(db.url()).unwrap(), 2).expect("test pool");
    start_node(settings, Clock::default(), storage, Arc::new(db)).await
}

/// Builds and runs a node; the `TestApp` talks to it.
async fn start_node(
    settings: Settings,
    clock: Clock,
    storage: Storage,
    db: Arc<TestDb>,
) -> TestApp {
    let app = Application::build_with_clock(settings, clock.clone())
        .await
        .expect("application builds");
    let port = app.port();
    let first_admin = app.first_admin.clone();
    let dispatcher = app.dispatcher();
    let handle = app.handle();
    let running = tokio::spawn(app.run_until_stopped());
    let jar = Arc::new(Jar::default());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: client_with(jar.clone()),
        jar,
        clock,
        storage,
        db,
        first_admin,
        dispatcher,
        node: Arc::new(std::sync::Mutex::new(Some((handle, running)))),
    }
}

pub fn client_with(jar: Arc<Jar>) -> Client {
    Client::builder()
        .cookie_provider(jar)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// The value of the first `name="csrf_token"` field in a page.
pub fn csrf_of(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(r#"input[name="csrf_token"]"#).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no csrf_token in page:\n{html}"))
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// Posts a form with the CSRF token taken from `page`.
    pub async fn post_with_csrf_from(
        &self,
        page: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Response {
        let token = self.csrf_of_page(page).await;
        let mut fields = vec![("csrf_token", token.as_str())];
        fields.extend_from_slice(form);
        self.post_form(path, &fields).await
    }

    pub async fn csrf_of_page(&self, page: &str) -> String {
        let (status, html) = self.get_text(page).await;
        assert_eq!(status, 200, "GET {page}: {html}");
        csrf_of(&html)
    }

    /// GET /login (arms the captcha, gives the token), then POST the credentials.
    pub async fn login_with(&self, username: &str, password: &str, captcha: &str) -> Response {
        let token = self.csrf_of_page("/login").await;
        self.post_form(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("password", password),
                ("captcha", captcha),
            ],
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.login_with(username, password, CAPTCHA).await
    }

    pub async fn login_ok(&self, username: &str, password: &str) {
        let r = self.login(username, password).await;
        assert_eq!(
            r.status().as_u16(),
            303,
            "login of {username} failed: {}",
            r.text().await.unwrap()
        );
        assert_eq!(location(&r), "/agent");
    }

    pub async fn login_admin(&self) {
        self.login_ok("admin", ADMIN_PASSWORD).await;
    }

    /// A second, independent browser on the same server.
    pub fn new_browser(&self) -> TestApp {
        let jar = Arc::new(Jar::default());
        TestApp {
            address: self.address.clone(),
            port: self.port,
            client: client_with(jar.clone()),
            jar,
            clock: self.clock.clone(),
            storage: self.storage.clone(),
            db: self.db.clone(),
            first_admin: None,
            dispatcher: self.dispatcher.clone(),
            node: self.node.clone(),
        }
    }

    /// Another node on this one's database (a cluster, or a second node).
    pub async fn another_node(&self, settings: Settings) -> TestApp {
        start_node(
            settings,
            self.clock.clone(),
            self.storage.clone(),
            self.db.clone(),
        )
        .await
    }

    /// Stops the node cleanly (it gives its lease on the database back) and
    /// waits until it has.
    pub async fn stop(&self) {
        let node = self.node.lock().unwrap().take();
        if let Some((handle, running)) = node {
            handle.stop(true).await;
            running
                .await
                .expect("node task")
                .expect("node stopped cleanly");
        }
    }

    pub fn session_cookie(&self) -> Option<String> {
        let url = self.address.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|kv| kv.strip_prefix("livedesk_session="))
            .map(str::to_owned)
    }

    /// Creates an agent directly in storage (tests that are not about creation).
    pub async fn add_agent(&self, username: &str, password_: &str, role: Role) -> agents::Agent {
        let (u, p) = (username.to_owned(), password_.to_owned());
        let now = self.clock.now_naive();
        self.storage
            .run(move |c| {
                let hash = password::hash_password(&p);
                agents::insert(
                    c,
                    &agents::NewAgent {
                        username: &u,
                        display_name: &u,
                        password_hash: &hash,
                        role,
                    },
                    now,
                )
            })
            .await
            .expect("add agent")
    }

    pub async fn agent(&self, username: &str) -> agents::Agent {
        let u = username.to_owned();
        self.storage
            .run(move |c| agents::find_by_username(c, &u))
            .await
            .unwrap()
            .expect("agent exists")
            .0
    }

    pub async fn agent_count(&self) -> i64 {
        self.storage.run(agents::count).await.unwrap()
    }
}

// ---- WebSocket clients ----

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message as WsMessage};

pub const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A real WebSocket client over a real socket.
pub struct Ws {
    stream: WsStream,
    /// Frames read while looking for another type, kept in order.
    backlog: std::collections::VecDeque<Value>,
    /// The visitor token from the last `welcome`.
    token: Option<String>,
    /// Every text frame read so far, as sent.
    seen: String,
}

impl Ws {
    pub async fn connect(
        app: &TestApp,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<Ws, tungstenite::Error> {
        Ws::connect_to(app.port, path, headers).await
    }

    /// A socket to a server on `port` (one in a process of its own, say).
    pub async fn connect_to(
        port: u16,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<Ws, tungstenite::Error> {
        let mut req = format!("ws://127.0.0.1:{port}{path}").into_client_request()?;
        for (k, v) in headers {
            req.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let (stream, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Ws {
            stream,
            backlog: Default::default(),
            token: None,
            seen: String::new(),
        })
    }

    pub async fn visitor(app: &TestApp) -> Ws {
        Ws::connect(
            app,
            "/ws/visitor",
            &[("User-Agent", "TestBrowser/1.0".into())],
        )
        .await
        .expect("visitor socket")
    }

    /// An agent socket using the signed-in session of `app`'s browser.
    pub async fn agent(app: &TestApp) -> Ws {
        let cookie = app
            .session_cookie()
            .expect("sign in before opening the agent socket");
        Ws::connect(
            app,
            "/ws/agent",
            &[
                ("Cookie", format!("livedesk_session={cookie}")),
                ("Origin", app.address.clone()),
            ],
        )
        .await
        .expect("agent socket")
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(WsMessage::text(v.to_string()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, m: WsMessage) {
        self.stream.send(m).await.expect("send");
    }

    /// The next JSON frame (pings are answered by the library and skipped).
    pub async fn next_frame(&mut self) -> Value {
        if let Some(v) = self.backlog.pop_front() {
            return v;
        }
        self.read_by(tokio::time::Instant::now() + WAIT).await
    }

    /// The next text frame, by `deadline` (pings and other control frames
    /// do not push it back).
    async fn read_by(&mut self, deadline: tokio::time::Instant) -> Value {
        loop {
            let m = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("socket ended")
                .expect("socket error");
            match m {
                WsMessage::Text(t) => {
                    self.seen.push_str(t.as_str());
                    self.seen.push('\n');
                    return serde_json::from_str(t.as_str()).expect("JSON frame");
                }
                WsMessage::Close(c) => panic!("socket closed: {c:?}"),
                _ => continue,
            }
        }
    }

    /// Waits for the next frame of type `ty`, keeping the others for later.
    pub async fn expect(&mut self, ty: &str) -> Value {
        if let Some(i) = self.backlog.iter().position(|v| v["type"] == ty) {
            return self.backlog.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.read_by(deadline).await;
            if v["type"] == ty {
                return v;
            }
            self.backlog.push_back(v);
        }
    }

    /// Waits for the next frame of type `ty` for which `pred` holds, keeping the others.
    pub async fn expect_where(&mut self, ty: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(|v| v["type"] == ty && pred(v)) {
            return self.backlog.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.read_by(deadline).await;
            if v["type"] == ty && pred(&v) {
                return v;
            }
            self.backlog.push_back(v);
        }
    }

    /// Was a frame of type `ty` for which `pred` holds read (and kept) while
    /// waiting for others?
    pub fn kept(&self, ty: &str, pred: impl Fn(&Value) -> bool) -> bool {
        self.backlog.iter().any(|v| v["type"] == ty && pred(v))
    }

    /// Every text frame this socket has read so far, one per line.
    pub fn seen(&self) -> &str {
        &self.seen
    }

    /// Waits for an `error` frame and returns its code.
    pub async fn expect_error(&mut self) -> String {
        self.expect("error").await["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits for the close frame and returns its code.
    pub async fn expect_close(&mut self) -> u16 {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let m = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("timed out waiting for close");
            match m {
                Some(Ok(WsMessage::Close(Some(c)))) => return u16::from(c.code),
                Some(Ok(WsMessage::Close(None))) | None | Some(Err(_)) => return 1005,
                _ => continue,
            }
        }
    }

    /// No frame of type `ty` arrives within `within` (a bounded wait for a non-event).
    pub async fn assert_no(&mut self, ty: &str, within: std::time::Duration) {
        assert!(
            !self.backlog.iter().any(|v| v["type"] == ty),
            "unexpected {ty}: {:?}",
            self.backlog
        );
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return,
                Ok(Some(Ok(WsMessage::Text(t)))) => {
                    self.seen.push_str(t.as_str());
                    self.seen.push('\n');
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    assert_ne!(v["type"], ty, "unexpected frame {v}");
                    self.backlog.push_back(v);
                }
                Ok(Some(Ok(_))) => continue,
                Ok(other) => panic!("socket ended: {other:?}"),
            }
        }
    }

    pub async fn hello(&mut self, token: Option<&str>, last_seq: Option<i64>) -> Value {
        self.send(json!({"type": "hello", "token": token, "name": "Vera", "email": "vera@example.com",
                         "page_url": "https://shop.example/cart", "referrer": "https://search.example/",
                         "timezone": "Asia/Shanghai", "last_seq": last_seq}))
            .await;
        let w = self.expect("welcome").await;
        self.token = w["token"].as_str().map(str::to_owned);
        w
    }

    /// A new visitor's `hello`, then a first message, which opens the
    /// conversation (a `hello` alone opens none). Returns the welcome with
    /// `conversation_id`, `status` and `agent` as that message left them,
    /// and the acknowledged message as `first`.
    pub async fn begin(&mut self, body: &str) -> Value {
        let mut w = self.hello(None, None).await;
        assert_eq!(
            w["conversation_id"],
            Value::Null,
            "hello opened a conversation"
        );
        let first = self.say("first", body).await;
        let conv = first["conversation_id"].clone();
        let placed = self
            .expect_where_any(&["assigned", "queued"], |f| f["conversation_id"] == conv)
            .await;
        w["conversation_id"] = conv;
        w["status"] = placed["type"].clone();
        w["agent"] = placed["agent"].clone();
        w["first"] = first;
        w
    }

    /// Waits for the next frame of one of the types `tys` for which `pred` holds.
    pub async fn expect_where_any(&mut self, tys: &[&str], pred: impl Fn(&Value) -> bool) -> Value {
        let hit = |v: &Value| tys.iter().any(|t| v["type"] == *t) && pred(v);
        if let Some(i) = self.backlog.iter().position(hit) {
            return self.backlog.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.read_by(deadline).await;
            if hit(&v) {
                return v;
            }
            self.backlog.push_back(v);
        }
    }

    /// A frame the server sent that is still to be read, or `None` once the
    /// socket has ended (its server gone, say).
    pub async fn try_frame(&mut self) -> Option<Value> {
        if let Some(v) = self.backlog.pop_front() {
            return Some(v);
        }
        loop {
            match tokio::time::timeout(WAIT, self.stream.next()).await {
                Ok(Some(Ok(WsMessage::Text(t)))) => return serde_json::from_str(&t).ok(),
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    }

    /// The visitor token the last `welcome` on this socket gave.
    pub async fn hello_token(&mut self) -> String {
        self.token.clone().expect("hello first")
    }

    /// Sends a visitor message and returns what answers it: its `ack`, or
    /// an `error` (refused: overload, an outage, a full disk).
    pub async fn offer(&mut self, client_id: &str, body: &str) -> Value {
        self.send(json!({"type": "message", "client_id": client_id, "body": body}))
            .await;
        self.expect_where_any(&["ack", "error"], |f| f["client_id"] == client_id)
            .await
    }

    /// Sends a message and returns the acknowledged message object.
    pub async fn say(&mut self, client_id: &str, body: &str) -> Value {
        self.send(json!({"type": "message", "client_id": client_id, "body": body}))
            .await;
        let ack = self.expect("ack").await;
        assert_eq!(ack["client_id"], client_id);
        ack["message"].clone()
    }

    pub async fn agent_say(&mut self, conversation: i64, client_id: &str, body: &str) -> Value {
        self.send(json!({"type": "message", "conversation_id": conversation, "client_id": client_id, "body": body}))
            .await;
        let ack = self.expect("ack").await;
        ack["message"].clone()
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

impl TestApp {
    /// Signs in a fresh browser as `username` and opens its agent socket; returns both and the welcome.
    pub async fn agent_online(&self, username: &str, password_: &str) -> (TestApp, Ws, Value) {
        let b = self.new_browser();
        b.login_ok(username, password_).await;
        let mut ws = Ws::agent(&b).await;
        let welcome = ws.expect("welcome").await;
        (b, ws, welcome)
    }

    pub async fn counts(&self) -> livedesk::chat::messages::Counts {
        self.dispatcher
            .send(livedesk::chat::messages::GetCounts)
            .await
            .expect("dispatcher answers")
    }

    /// Polls the Dispatcher until `pred` holds (or fails after the wait limit).
    pub async fn wait_counts(
        &self,
        pred: impl Fn(&livedesk::chat::messages::Counts) -> bool,
    ) -> livedesk::chat::messages::Counts {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let c = self.counts().await;
            if pred(&c) {
                return c;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "dispatcher never reached the expected state: {c:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
