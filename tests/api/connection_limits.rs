//! One peer address may hold only so many TCP connections, of any kind
//! (idle, half-sent requests, pages, sockets): one more is answered 503 and
//! closed, a place comes back when a connection goes, and trusted proxies
//! (many clients behind one address) are not counted.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// What the server says on a new connection that sends a request, or
/// `None` when it closed without a word.
async fn try_request(app: &TestApp) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let _ = s
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut out)).await;
    (!out.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned())
}

async fn wait_until_served(app: &TestApp) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = try_request(app).await.unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") {
            return answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still refused: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_capped() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.connections_per_ip = 3).await;
    // Two idle connections that never send a byte (slowloris' start) and a
    // visitor's socket, which keeps its place after the upgrade.
    let idle_a = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let _idle_b = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let mut v = Ws::visitor(&app).await;
    v.hello(None, None).await;

    let refused = try_request(&app)
        .await
        .expect("an answer, not a bare close");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("Retry-After: 10"), "{refused}");
    assert!(
        refused.ends_with("too many connections from your address\n"),
        "the whole body, as its Content-Length says: {refused:?}"
    );
    // The socket is not disturbed by the refusals.
    v.send(serde_json::json!({"type": "message", "client_id": "c1", "body": "still here"}))
        .await;
    v.expect("ack").await;

    // One goes: its place comes back.
    drop(idle_a);
    wait_until_served(&app).await;
    // Every place comes back once the connections go, the socket's too:
    // three are served again at once, and a fourth is refused.
    v.close().await;
    drop(_idle_b);
    let _held = hold_served(&app, 3).await;
    let refused = try_request(&app).await.unwrap_or_default();
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
}

/// `n` keep-alive connections, each answered 200 (retried until the server
/// has let go of earlier ones).
async fn hold_served(app: &TestApp, n: usize) -> Vec<TcpStream> {
    let deadline = tokio::time::Instant::now() + WAIT;
    'again: loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {n} places came back"
        );
        let mut held = Vec::new();
        for _ in 0..n {
            let mut s = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
            let _ = s
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await;
            let mut buf = [0u8; 12];
            let read = tokio::time::timeout(WAIT, s.read_exact(&mut buf)).await;
            if !matches!(read, Ok(Ok(_))) || &buf != b"HTTP/1.1 200" {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue 'again;
            }
            held.push(s);
        }
        return held;
    }
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxies_are_not_counted() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.connections_per_ip = 2;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let _held: Vec<TcpStream> =
        futures_util::future::join_all((0..5).map(|_| TcpStream::connect(("127.0.0.1", app.port))))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    let answer = try_request(&app).await.unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
