//! Uploads: V visitors (each with its own token, from a real `hello`) each
//! upload R files of S bytes at once through `POST /files`, as the widget
//! does. Reports throughput, time per upload, and the server's resident
//! memory sampled every 20 ms, to show that a file is streamed to disk and
//! never held whole: with 50 uploads of 10 MiB in flight, a server that
//! buffered them would grow by 500 MiB.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::{histogram, ms, open, rss_kib, server_addr};

#[derive(Debug, Clone)]
pub struct UploadsConfig {
    pub url: String,
    /// Visitors uploading at once.
    pub visitors: usize,
    /// Files each visitor uploads, one after another.
    pub rounds: usize,
    /// Bytes per file.
    pub size: usize,
    /// The server's pid, to sample its memory (none: not sampled).
    pub server_pid: Option<u32>,
}

#[derive(Debug)]
pub struct UploadsReport {
    pub config: UploadsConfig,
    pub uploaded: usize,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub rss_before_kib: Option<u64>,
    pub rss_peak_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
}

impl UploadsReport {
    pub fn render(&self) -> String {
        let c = &self.config;
        let mib = (self.uploaded * c.size) as f64 / (1024.0 * 1024.0);
        let mem =
            |k: Option<u64>| k.map_or("-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        let growth = match (self.rss_before_kib, self.rss_peak_kib) {
            (Some(b), Some(p)) => format!("{:.1} MiB", p.saturating_sub(b) as f64 / 1024.0),
            _ => "-".into(),
        };
        format!(
            "uploads: {} visitors x {} files of {:.1} MiB ({} in flight at once, {:.0} MiB in flight)\n\
             uploaded {} files, {:.0} MiB in {:.2} s: {:.1} files/s, {:.0} MiB/s\n\
             time per upload: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms\n\
             server memory: before {}, peak {} (+{}), after {}\n\
             reproduce: livedesk-bench uploads --url {} --visitors {} --rounds {} --size {} {}",
            c.visitors,
            c.rounds,
            c.size as f64 / (1024.0 * 1024.0),
            c.visitors,
            (c.visitors * c.size) as f64 / (1024.0 * 1024.0),
            self.uploaded,
            mib,
            self.seconds,
            self.uploaded as f64 / self.seconds,
            mib / self.seconds,
            self.p50_ms,
            self.p95_ms,
            self.max_ms,
            mem(self.rss_before_kib),
            mem(self.rss_peak_kib),
            growth,
            mem(self.rss_after_kib),
            c.url,
            c.visitors,
            c.rounds,
            c.size,
            c.server_pid.map_or(String::new(), |p| format!("--server-pid {p}")),
        )
    }
}

/// A new visitor's token, from a `hello` on a real socket.
async fn token(url: &str) -> anyhow::Result<String> {
    let server = server_addr(url).await?;
    let mut ws = open(url, "/ws/visitor", server, None, &[]).await?;
    ws.send(WsMessage::text(r#"{"type":"hello","token":null}"#))
        .await?;
    while let Some(m) = ws.next().await {
        if let WsMessage::Text(t) = m? {
            let v: serde_json::Value = serde_json::from_str(t.as_str())?;
            if v["type"] == "welcome" {
                return v["token"].as_str().map(str::to_owned).context("no token");
            }
        }
    }
    bail!("the socket closed before welcome")
}

/// A PNG header (so the server takes it as an image) and `size` bytes in
/// all, different for each `n` (so each is a file of its own on disk).
fn body(n: usize, size: usize) -> Vec<u8> {
    let mut b = vec![0u8; size.max(64)];
    b[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
    b[8..16].copy_from_slice(&(n as u64).to_le_bytes());
    let mut x = n as u32 | 1;
    for byte in &mut b[16..] {
        // xorshift: cheap bytes that do not repeat
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *byte = x as u8;
    }
    b
}

pub async fn uploads(cfg: UploadsConfig) -> anyhow::Result<UploadsReport> {
    let client = reqwest::Client::builder().build()?;
    let mut tokens = Vec::with_capacity(cfg.visitors);
    for _ in 0..cfg.visitors {
        tokens.push(token(&cfg.url).await?);
    }
    let pid = cfg.server_pid;
    let rss_before_kib = pid.and_then(rss_kib);
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(async move {
        let mut peak = None;
        loop {
            if let Some(k) = pid.and_then(rss_kib) {
                peak = peak.max(Some(k));
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = stopped.changed() => return peak,
            }
        }
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (v, token) in tokens.into_iter().enumerate() {
        let (client, url, cfg) = (client.clone(), cfg.url.clone(), cfg.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            for r in 0..cfg.rounds {
                let data = body(v * cfg.rounds + r, cfg.size);
                let t = Instant::now();
                let res = client
                    .post(format!("{url}/files?name=bench-{v}-{r}.png"))
                    .bearer_auth(&token)
                    .body(data)
                    .send()
                    .await?;
                let status = res.status();
                let text = res.text().await?;
                if status.as_u16() != 201 {
                    bail!("upload answered {status}: {text}");
                }
                times.push(t.elapsed().as_nanos() as u64);
            }
            Ok::<_, anyhow::Error>(times)
        }));
    }
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let rss_peak_kib = sampler.await?;
    let h = histogram(&samples)?;
    Ok(UploadsReport {
        uploaded: samples.len(),
        seconds,
        p50_ms: ms(&h, 0.5),
        p95_ms: ms(&h, 0.95),
        max_ms: h.max() as f64 / 1e6,
        rss_before_kib,
        rss_peak_kib,
        rss_after_kib: pid.and_then(rss_kib),
        config: cfg,
    })
}
