//! Clients that stop reading, and clients that close: the server lets go of
//! the connection (its file descriptor, its send queue) and answers a close
//! with the client's own code; nobody else waits for them.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use livedesk::domain::Role;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::both_backends;
use crate::helpers::*;

const PW: &str = "agent-password";

/// The inode of the server's end of the TCP connection from `client_port`
/// (from /proc/net/tcp: the server runs in this process).
fn server_end(server_port: u16, client_port: u16) -> Option<String> {
    let want = (format!("{server_port:04X}"), format!("{client_port:04X}"));
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let port = |addr: &str| addr.rsplit(':').next().unwrap_or("").to_owned();
            if f.len() > 9 && port(f[1]) == want.0 && port(f[2]) == want.1 {
                return Some(f[9].to_owned());
            }
        }
    }
    None
}

/// Whether this process still holds the socket with that inode.
fn held(inode: &str) -> bool {
    let link = format!("socket:[{inode}]");
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|p| p.to_string_lossy() == link)
}

/// Frames unlimited; pings every `ping` s, silence tolerated for `timeout` s.
async fn unthrottled(backend: Backend, ping: u64, timeout: u64) -> TestApp {
    spawn_app_with(backend, |s| {
        s.ws_ping_secs = ping;
        s.ws_timeout_secs = timeout;
        s.ws_rate = 100_000;
        s.ws_burst = 100_000;
    })
    .await
}

/// A visitor that opens a conversation and writes 1,500 messages of 4 KB,
/// each acknowledged before the next.
async fn visitor_writes_1500_of_4kb(app: &TestApp) -> (Ws, i64) {
    let mut v = Ws::visitor(app).await;
    let conv = v.begin("hello").await["conversation_id"].as_i64().unwrap();
    let body = "x".repeat(4000);
    for i in 0..1500 {
        v.send(json!({"type": "message", "client_id": format!("m{i}"), "body": body}))
            .await;
        v.expect("ack").await;
    }
    (v, conv)
}

type Raw = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A signed-in agent's socket over a 4 KiB receive buffer, read up to its
/// welcome; and the client's port.
async fn agent_with_small_buffer(app: &TestApp) -> (Raw, u16) {
    app.add_agent("lin", PW, Role::Agent).await;
    let b = app.new_browser();
    b.login_ok("lin", PW).await;
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let stream = tcp
        .connect(([127, 0, 0, 1], app.port).into())
        .await
        .unwrap();
    let client_port = stream.local_addr().unwrap().port();
    let mut req = format!("ws://127.0.0.1:{}/ws/agent", app.port)
        .into_client_request()
        .unwrap();
    let cookie = format!("livedesk_session={}", b.session_cookie().unwrap());
    req.headers_mut().insert("Cookie", cookie.parse().unwrap());
    req.headers_mut()
        .insert("Origin", app.address.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    loop {
        let m = ws.next().await.unwrap().unwrap();
        if m.to_text().unwrap_or("").contains("\"welcome\"") {
            break;
        }
    }
    (ws, client_port)
}

async fn a_client_that_stops_reading_is_let_go(backend: Backend) {
    let app = unthrottled(backend, 1, 3).await;
    // Read up to its welcome, and then never again.
    let (stuck, client_port) = agent_with_small_buffer(&app).await;
    let inode = server_end(app.port, client_port).expect("the server's end of the connection");
    assert!(held(&inode));

    // A visitor writes a lot to the stuck agent: its frames pile up.
    let (_v, conv) = visitor_writes_1500_of_4kb(&app).await;
    // The visitor was never held up, and the server let the connection go.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while held(&inode) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server still holds the stuck client's connection"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The conversation is still the visitor's and stored in full.
    let stored = app
        .storage
        .run(move |db| {
            livedesk::storage::messages::after(db, livedesk::domain::ConversationId(conv), 0, 5000)
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 1501);
    drop(stuck);
}

/// An agent's client that falls behind (a busy machine, a slow network)
/// but keeps reading is not dropped: its frames wait for it, and it gets
/// every message, in order, once it catches up. (With a queue of 512
/// frames this agent was dropped: 1,500 frames of 4 KB are more than the
/// kernel's buffers and the queue held together.)
async fn an_agent_that_falls_behind_catches_up(backend: Backend) {
    let app = unthrottled(backend, 5, 60).await;
    let (mut slow, _) = agent_with_small_buffer(&app).await;
    // While the agent reads nothing, a visitor writes 1,500 messages of 4 KB.
    let (v, conv) = visitor_writes_1500_of_4kb(&app).await;
    // Then it reads: every message once, in order (the first, then 1,500).
    let mut next_seq = 1;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while next_seq <= 1501 {
        let m = tokio::time::timeout_at(deadline, slow.next())
            .await
            .expect("the agent's frames stopped coming")
            .expect("the agent's socket was closed")
            .unwrap();
        let WsMessage::Text(t) = m else { continue };
        let f: serde_json::Value = serde_json::from_str(&t).unwrap();
        if f["type"] == "message" && f["message"]["conversation_id"] == conv {
            assert_eq!(f["message"]["seq"], next_seq, "in order, once each");
            next_seq += 1;
        }
    }
    v.close().await;
}

async fn a_close_is_answered_with_the_clients_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await;
    let (mut raw, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws/visitor", app.port))
            .await
            .unwrap();
    raw.send(WsMessage::text(json!({"type": "hello"}).to_string()))
        .await
        .unwrap();
    raw.send(WsMessage::Close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: "leaving".into(),
    })))
    .await
    .unwrap();
    let mut code = None;
    while let Some(Ok(m)) = raw.next().await {
        if let WsMessage::Close(f) = m {
            code = f.map(|f| f.code);
        }
    }
    assert_eq!(code, Some(CloseCode::Away), "the server's close frame");
    v.close().await;
}

/// Slowloris: a connection that sends its upgrade request a byte a second
/// and never finishes it is answered 408 and closed once the request head
/// has taken the server's limit (actix's 5 s), while others are served.
async fn a_handshake_that_never_finishes_is_dropped(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(backend).await;
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let head = b"GET /ws/visitor HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
    let mut answer = Vec::new();
    let started = tokio::time::Instant::now();
    for b in head.iter() {
        if slow.write_all(&[*b]).await.is_err() {
            break;
        }
        let mut buf = [0u8; 256];
        // A second per byte, unless the server has answered meanwhile.
        match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {}
        }
        // Meanwhile a visitor is served as usual.
        if answer.is_empty() && started.elapsed() < Duration::from_secs(2) {
            let mut v = Ws::visitor(&app).await;
            v.hello(None, None).await;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

both_backends!(a_handshake_that_never_finishes_is_dropped);

both_backends!(
    a_client_that_stops_reading_is_let_go,
    an_agent_that_falls_behind_catches_up,
    a_close_is_answered_with_the_clients_code
);
