//! A real HTTP server for webhooks to reach: it records every request and
//! answers as told (200 unless told otherwise; or never, to hang a sender).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::helpers::WAIT;

#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Hit {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }
}

/// How the next requests are answered: a status, or `None` to never answer.
type Plan = Arc<Mutex<VecDeque<Option<u16>>>>;

pub struct Receiver {
    pub url: String,
    hits: mpsc::UnboundedReceiver<Hit>,
    plan: Plan,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::on(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    fn on(listener: TcpListener) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let (tx, hits) = mpsc::unbounded_channel();
        let plan: Plan = Arc::default();
        let p = plan.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (tx, p) = (tx.clone(), p.clone());
                tokio::spawn(async move {
                    let Some(hit) = read_request(&mut sock).await else {
                        return;
                    };
                    let answer = p.lock().unwrap().pop_front().unwrap_or(Some(200));
                    let _ = tx.send(hit);
                    match answer {
                        Some(code) => {
                            let r = format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                            let _ = sock.write_all(r.as_bytes()).await;
                        }
                        // Hold the connection open, answering nothing.
                        None => tokio::time::sleep(Duration::from_secs(3600)).await,
                    }
                });
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            hits,
            plan,
        }
    }

    /// The next requests get these answers (then 200 again).
    pub fn answer(&self, answers: &[Option<u16>]) {
        self.plan.lock().unwrap().extend(answers.iter().copied());
    }

    pub async fn next(&mut self) -> Hit {
        self.next_within(WAIT).await
    }

    pub async fn next_within(&mut self, wait: Duration) -> Hit {
        tokio::time::timeout(wait, self.hits.recv())
            .await
            .expect("a webhook delivery in time")
            .expect("receiver running")
    }

    /// Nothing arrives for `d`.
    pub async fn quiet_for(&mut self, d: Duration) {
        if let Ok(Some(h)) = tokio::time::timeout(d, self.hits.recv()).await {
            panic!(
                "unexpected delivery: {} {}",
                h.header("x-livedesk-event"),
                h.body
            );
        }
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Hit> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..(head_end + len).min(buf.len())]).to_string();
    Some(Hit { headers, body })
}
