//! The WebSocket layer byte by byte: frames that arrive with the handshake,
//! split across reads, in continuation pieces, and frames that break the
//! protocol (each refused with the close code RFC 6455 gives it).

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// A client frame: FIN set, masked with a zero key (legal, and it leaves
/// the payload as it is).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

fn text(v: Value) -> Vec<u8> {
    frame(0x1, v.to_string().as_bytes())
}

const HANDSHAKE: &[u8] = b"GET /ws/visitor HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Reads the 101 head, then server frames as (opcode, payload).
struct Raw(TcpStream);

impl Raw {
    async fn head(&mut self) -> String {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            self.0.read_exact(&mut b).await.unwrap();
            head.push(b[0]);
        }
        String::from_utf8(head).unwrap()
    }

    async fn frame(&mut self) -> (u8, Vec<u8>) {
        let read = async {
            let mut h = [0u8; 2];
            self.0.read_exact(&mut h).await?;
            let len = match h[1] & 0x7f {
                126 => self.0.read_u16().await? as usize,
                127 => self.0.read_u64().await? as usize,
                n => n as usize,
            };
            let mut payload = vec![0u8; len];
            self.0.read_exact(&mut payload).await?;
            Ok::<_, std::io::Error>((h[0] & 0x0f, payload))
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("a frame")
            .expect("the connection is open")
    }

    /// The next text frame of type `ty`, skipping others.
    async fn expect(&mut self, ty: &str) -> Value {
        loop {
            let (op, payload) = self.frame().await;
            assert_eq!(op, 0x1, "a text frame, not {op}: {payload:?}");
            let v: Value = serde_json::from_slice(&payload).unwrap();
            if v["type"] == ty {
                return v;
            }
        }
    }

    async fn expect_close(&mut self) -> u16 {
        loop {
            let (op, payload) = self.frame().await;
            if op == 0x8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    }
}

async fn raw_visitor(app: &TestApp, first: &[u8]) -> Raw {
    let mut s = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    s.write_all(first).await.unwrap();
    let mut raw = Raw(s);
    let head = raw.head().await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_sent_with_the_handshake_and_split_across_reads() {
    let app = spawn_app(Backend::Sqlite).await;
    // The handshake, `hello` and a message in one write: the frames arrive
    // in the same read as the request and must not be lost in the handover.
    let mut first = HANDSHAKE.to_vec();
    first.extend(text(json!({"type": "hello"})));
    first.extend(text(
        json!({"type": "message", "client_id": "a", "body": "one"}),
    ));
    let mut v = raw_visitor(&app, &first).await;
    v.expect("welcome").await;
    assert_eq!(v.expect("ack").await["client_id"], "a");
    // A frame a byte at a time.
    for b in text(json!({"type": "message", "client_id": "b", "body": "two"})) {
        v.0.write_all(&[b]).await.unwrap();
        v.0.flush().await.unwrap();
    }
    let ack = v.expect("ack").await;
    assert_eq!(
        (ack["client_id"].as_str(), ack["message"]["seq"].as_i64()),
        (Some("b"), Some(2))
    );
    // A message in three pieces, a ping between them (allowed by the RFC).
    let body = json!({"type": "message", "client_id": "c", "body": "three"}).to_string();
    let (p1, rest) = body.as_bytes().split_at(10);
    let (p2, p3) = rest.split_at(10);
    let mut pieces = vec![0x01, 0x80 | p1.len() as u8, 0, 0, 0, 0];
    pieces.extend_from_slice(p1);
    pieces.extend(frame(0x9, b"hi"));
    pieces.extend_from_slice(&[0x00, 0x80 | p2.len() as u8, 0, 0, 0, 0]);
    pieces.extend_from_slice(p2);
    pieces.extend(frame(0x0, p3));
    v.0.write_all(&pieces).await.unwrap();
    assert_eq!(v.frame().await, (0xA, b"hi".to_vec()), "the ping's pong");
    assert_eq!(v.expect("ack").await["message"]["seq"], 3);
    let stored = app
        .storage
        .run(move |db| {
            livedesk::storage::messages::after(db, livedesk::domain::ConversationId(1), 0, 10)
        })
        .await
        .unwrap();
    let bodies: Vec<_> = stored.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["one", "two", "three"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_that_break_the_protocol_close_with_their_code() {
    let app = spawn_app(Backend::Sqlite).await;
    let hello = text(json!({"type": "hello"}));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "text that is not UTF-8",
            frame(0x1, &[0xff, 0xfe, 0x41]),
            1007,
        ),
        (
            "a continuation that was never started",
            frame(0x0, b"x"),
            1002,
        ),
        ("an unmasked frame", vec![0x81, 0x01, b'x'], 1002),
        (
            "a message of 70 KiB in pieces of 35 KiB",
            {
                let piece = vec![b'x'; 35 * 1024];
                let mut f = frame(0x1, &piece);
                f[0] = 0x01; // not the last piece
                let mut last = frame(0x0, &piece);
                f.append(&mut last);
                f
            },
            1009,
        ),
    ];
    for (what, bad, code) in cases {
        let mut first = HANDSHAKE.to_vec();
        first.extend(&hello);
        let mut v = raw_visitor(&app, &first).await;
        v.expect("welcome").await;
        v.0.write_all(&bad).await.unwrap();
        assert_eq!(v.expect_close().await, code, "{what}");
    }
    // Meanwhile a well-behaved visitor is served.
    let mut ok = Ws::visitor(&app).await;
    ok.hello(None, None).await;
    assert_eq!(ok.say("z", "fine").await["seq"], 1);
}

/// A client that trickles a frame a byte at a time is not "heard" until the
/// frame is whole: it is closed as silent after the timeout, whatever it
/// trickles, and what it was sending is never stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_trickled_byte_by_byte_does_not_keep_a_socket_alive() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.ws_ping_secs = 1;
        s.ws_timeout_secs = 2;
    })
    .await;
    let mut first = HANDSHAKE.to_vec();
    first.extend(text(json!({"type": "hello"})));
    let mut v = raw_visitor(&app, &first).await;
    v.expect("welcome").await;
    let body = "y".repeat(100);
    let frame = text(json!({"type": "message", "client_id": "slow", "body": body}));
    let (mut read, mut write) = v.0.into_split();
    let trickle = tokio::spawn(async move {
        // 2 bytes a second: the frame would take a minute to finish.
        for b in frame {
            if write.write_all(&[b]).await.is_err() {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        true
    });
    // The server's pings go unanswered; its close comes within seconds.
    let mut seen = Vec::new();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        let mut buf = [0u8; 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the trickling client was never let go");
    assert!(
        seen.windows(2).any(|w| w == [0x88, 0x02]),
        "a close frame (code only) before the end"
    );
    trickle.abort();
    let stored = app
        .storage
        .run(|db| {
            use diesel::prelude::*;
            use livedesk::storage::schema::messages::dsl::*;
            messages.count().get_result::<i64>(db).map_err(Into::into)
        })
        .await
        .unwrap();
    assert_eq!(stored, 0);
}
