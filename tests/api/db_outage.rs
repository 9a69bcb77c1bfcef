//! The database unreachable while clients write: everyone is told
//! `unavailable` at once (never a silent wait), `/healthz` and pages answer
//! 503 at once, and when it is back everything resumes by itself with
//! nothing acknowledged lost and nothing stored twice.
//!
//! The outage is made by a TCP forwarder between the node and PostgreSQL
//! that the test cuts (every connection dropped, new ones refused) and
//! restores: to the node exactly what a stopped or restarting database looks
//! like, without stopping the server every other test uses.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livedesk::domain::{ConversationId, Role};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::*;

const PW: &str = "agent-password";

struct Forwarder {
    port: u16,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Forwarder {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (o, l) = (open.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !o.load(Ordering::SeqCst) {
                    drop(client); // refused: closed at once
                    continue;
                }
                l.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Self { port, open, links }
    }

    /// The database goes away: every connection is dropped, new ones refused.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for l in self.links.lock().unwrap().drain(..) {
            l.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_unreachable_everyone_hears_so_at_once_and_nothing_is_lost() {
    let db = TestDb::create(Backend::Postgres);
    let pg: url::Url = pg_server_url().parse().unwrap();
    let target = SocketAddr::new(
        pg.host_str().unwrap().parse().unwrap(),
        pg.port().unwrap_or(5432),
    );
    let fwd = Forwarder::start(target).await;
    let mut through = url::Url::parse(db.url()).unwrap();
    through.set_port(Some(fwd.port)).unwrap();
    let app = spawn_on(db, test_settings(through.as_str())).await;
    app.add_agent("lin", PW, Role::Agent).await;
    let (lb, mut lin, _) = app.agent_online("lin", PW).await;
    let mut v = Ws::visitor(&app).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    assert_eq!(v.offer("m1", "text").await["type"], "ack");

    fwd.cut();
    // The first write finds the database gone; it is told so, not kept waiting.
    let first = v.offer("m2", "text").await;
    assert_eq!(first["code"], "unavailable", "{first}");
    // From then on: at once (the pool's 5 s wait, twice, is not waited out).
    let t = Instant::now();
    let second = v.offer("m3", "text").await;
    assert_eq!(second["code"], "unavailable", "{second}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let t = Instant::now();
    let (status, body) = app.get_text("/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    // Pages: a 503 page in the reader's language, with or without a session.
    let fresh = app.new_browser();
    for b in [&fresh, &lb] {
        let r = b.get("/login").await;
        assert_eq!(r.status().as_u16(), 503);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("<html") && html.contains("temporarily unavailable"),
            "{html}"
        );
    }

    fwd.restore();
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.get_text("/healthz").await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "no recovery");
        tokio::task::yield_now().await;
    }
    // The visitor sends again what was refused (same client_ids): stored once.
    for cid in ["m2", "m3"] {
        let deadline = tokio::time::Instant::now() + WAIT;
        while v.offer(cid, "text").await["type"] != "ack" {
            assert!(tokio::time::Instant::now() < deadline, "{cid} never acked");
        }
    }
    for cid in ["m1", "m2", "m3"] {
        lin.expect_where("message", |f| f["message"]["client_id"] == cid)
            .await;
    }
    let stored = app
        .storage
        .run(move |db| livedesk::storage::messages::after(db, ConversationId(conv), 0, 100))
        .await
        .unwrap();
    let got: Vec<(i64, Option<String>)> =
        stored.into_iter().map(|m| (m.seq, m.client_id)).collect();
    let want: Vec<(i64, Option<String>)> = ["first", "m1", "m2", "m3"]
        .iter()
        .enumerate()
        .map(|(i, c)| (i as i64 + 1, Some(c.to_string())))
        .collect();
    assert_eq!(got, want, "each once, numbered without a gap");
}
