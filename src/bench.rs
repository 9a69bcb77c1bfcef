//! The load generator behind `livedesk-bench`: it drives a running livedesk
//! exactly as real clients do (agents sign in through the login form; every
//! socket speaks the documented protocol) and checks at the end that every
//! acknowledged message is stored once, delivered once, in `seq` order.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message as WsMessage};

use crate::domain::ConversationId;
use crate::storage::{messages, DatabaseUrl, Storage};

#[derive(Debug, Clone)]
pub struct DurableConfig {
    pub url: String,
    pub visitors: usize,
    pub agents: usize,
    /// Messages per second each visitor sends (open loop: on schedule, whatever the answers).
    pub rate: f64,
    pub duration: Duration,
    pub admin_password: String,
    pub agent_password: String,
    pub captcha: String,
    /// When given, the stored transcripts are checked against what was acknowledged.
    pub database_url: Option<String>,
    pub drain_timeout: Duration,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    acked: u64,
    errors: u64,
    delivered: u64,
    duplicates: u64,
    out_of_order: u64,
    /// conversation -> (client_id, seq) acknowledged
    acks: HashMap<i64, Vec<(String, i64)>>,
    seen: HashSet<(i64, i64)>,
    last_seq: HashMap<i64, i64>,
    last_ack: Option<Instant>,
    ack_ns: Vec<u64>,
    delivery_ns: Vec<u64>,
}

pub struct Report {
    pub config: DurableConfig,
    pub sent: u64,
    pub acked: u64,
    pub errors: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Problems found in the database (empty when it matches exactly).
    pub storage_problems: Vec<String>,
    pub checked_storage: bool,
    pub elapsed: Duration,
    pub ack: Histogram<u64>,
    pub delivery: Histogram<u64>,
}

impl Report {
    pub fn correct(&self) -> bool {
        self.sent > 0
            && self.acked == self.sent
            && self.delivered == self.acked
            && self.duplicates == 0
            && self.out_of_order == 0
            && self.errors == 0
            && self.storage_problems.is_empty()
    }

    pub fn throughput(&self) -> f64 {
        self.acked as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn command(&self) -> String {
        let c = &self.config;
        let mut s = format!(
            "livedesk-bench durable --url {} --visitors {} --agents {} --rate {} --duration {}",
            c.url,
            c.visitors,
            c.agents,
            c.rate,
            c.duration.as_secs()
        );
        if c.database_url.is_some() {
            s.push_str(" --database-url <url>");
        }
        s
    }

    pub fn render(&self) -> String {
        let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e6;
        let c = &self.config;
        let mut out = String::new();
        out += &format!(
            "durable throughput: {} visitors, {} agents, {} msg/s each for {} s (offered {:.0} msg/s)\n",
            c.visitors,
            c.agents,
            c.rate,
            c.duration.as_secs(),
            c.rate * c.visitors as f64
        );
        out += &format!(
            "  sent {}  acked {}  delivered {}  errors {}  -> {:.0} msg/s acknowledged\n",
            self.sent,
            self.acked,
            self.delivered,
            self.errors,
            self.throughput()
        );
        for (name, h) in [
            ("send->ack     ", &self.ack),
            ("send->delivery", &self.delivery),
        ] {
            out += &format!(
                "  {name}  p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms\n",
                ms(h, 0.5),
                ms(h, 0.99),
                ms(h, 0.999),
                h.max() as f64 / 1e6
            );
        }
        let storage = if self.checked_storage {
            if self.storage_problems.is_empty() {
                "the database holds exactly the acknowledged messages, seq 1..n per conversation"
                    .to_owned()
            } else {
                format!("STORAGE MISMATCH: {}", self.storage_problems.join("; "))
            }
        } else {
            "database not checked (no --database-url)".to_owned()
        };
        out += &format!(
            "  correctness: {} (duplicates {}, out of order {}); {}\n",
            if self.correct() { "OK" } else { "FAILED" },
            self.duplicates,
            self.out_of_order,
            storage
        );
        out += &format!("  reproduce: {}\n", self.command());
        out
    }
}

fn csrf_of(html: &str) -> Option<String> {
    let start = html.find(r#"name="csrf_token" value=""#)? + r#"name="csrf_token" value=""#.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Signs in through the real login form; returns the client and its session cookie.
async fn sign_in(
    base: &str,
    user: &str,
    password: &str,
    captcha: &str,
) -> anyhow::Result<(reqwest::Client, String)> {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let token = csrf_of(&page).context("no csrf token on /login")?;
    let r = client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", user),
            ("password", password),
            ("captcha", captcha),
        ])
        .send()
        .await?;
    if r.status().as_u16() != 303 {
        bail!(
            "sign-in of {user} failed with {} (is LIVEDESK_TEST_CAPTCHA set on the server?)",
            r.status()
        );
    }
    use reqwest::cookie::CookieStore;
    let cookies = jar
        .cookies(&base.parse()?)
        .and_then(|h| h.to_str().ok().map(str::to_owned))
        .unwrap_or_default();
    let session = cookies
        .split("; ")
        .find_map(|kv| kv.strip_prefix("livedesk_session="))
        .context("no session cookie")?
        .to_owned();
    Ok((client, session))
}

/// Creates `bench-0`… through the admin console (existing ones are kept).
async fn ensure_agents(cfg: &DurableConfig) -> anyhow::Result<()> {
    let (admin, _) = sign_in(&cfg.url, "admin", &cfg.admin_password, &cfg.captcha).await?;
    for i in 0..cfg.agents {
        let page = admin
            .get(format!("{}/admin/agents", cfg.url))
            .send()
            .await?
            .text()
            .await?;
        let token = csrf_of(&page).context("no csrf token on /admin/agents")?;
        let name = format!("bench-{i}");
        let r = admin
            .post(format!("{}/admin/agents", cfg.url))
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", name.as_str()),
                ("display_name", name.as_str()),
                ("password", cfg.agent_password.as_str()),
                ("role", "agent"),
            ])
            .send()
            .await?;
        if !(r.status().as_u16() == 303 || r.status().as_u16() == 409) {
            bail!("creating {name} failed with {}", r.status());
        }
    }
    Ok(())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Signs in `bench-{i}` through the form and opens its agent socket.
async fn agent_socket(url: &str, i: usize, password: &str, captcha: &str) -> anyhow::Result<Ws> {
    let (_client, session) = sign_in(url, &format!("bench-{i}"), password, captcha).await?;
    let mut req = ws_url(url, "/ws/agent").into_client_request()?;
    req.headers_mut()
        .insert("Cookie", format!("livedesk_session={session}").parse()?);
    req.headers_mut().insert("Origin", url.parse()?);
    Ok(tokio_tungstenite::connect_async(req).await?.0)
}

/// Latencies in nanoseconds, from 1 µs to 60 s, three significant digits.
fn histogram(samples: &[u64]) -> anyhow::Result<Histogram<u64>> {
    let mut h = Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3)?;
    for x in samples {
        h.record((*x).clamp(1_000, 60_000_000_000))?;
    }
    Ok(h)
}

fn ws_url(base: &str, path: &str) -> String {
    format!("{}{}", base.replacen("http", "ws", 1), path)
}

fn stamp(t0: Instant) -> u64 {
    t0.elapsed().as_nanos() as u64
}

fn sent_at(body: &str) -> Option<u64> {
    body.strip_prefix("bench t=")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

pub async fn durable(cfg: DurableConfig) -> anyhow::Result<Report> {
    ensure_agents(&cfg).await?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let t0 = Instant::now();

    // Agents first, so every conversation is assigned at once.
    let mut agent_tasks = Vec::new();
    for i in 0..cfg.agents {
        let ws = agent_socket(&cfg.url, i, &cfg.agent_password, &cfg.captcha).await?;
        let (_tx, mut rx) = ws.split();
        let tally = tally.clone();
        agent_tasks.push(tokio::spawn(async move {
            let _keep_open = _tx;
            while let Some(Ok(m)) = rx.next().await {
                let WsMessage::Text(t) = m else { continue };
                let Ok(f) = serde_json::from_str::<Value>(t.as_str()) else {
                    continue;
                };
                if f["type"] != "message" {
                    continue;
                }
                let now = stamp(t0);
                let m = &f["message"];
                let (conv, seq) = (
                    m["conversation_id"].as_i64().unwrap_or(0),
                    m["seq"].as_i64().unwrap_or(0),
                );
                let mut tl = tally.lock().unwrap();
                if !tl.seen.insert((conv, seq)) {
                    tl.duplicates += 1;
                    continue;
                }
                let last = tl.last_seq.insert(conv, seq).unwrap_or(0);
                if seq <= last {
                    tl.out_of_order += 1;
                }
                tl.delivered += 1;
                if let Some(at) = m["body"].as_str().and_then(sent_at) {
                    tl.delivery_ns.push(now.saturating_sub(at));
                }
            }
        }));
    }

    // Visitors: connect and say hello; each socket is read from then on (its
    // reader answers the server's pings), and sends start once all are in.
    let mut halves = Vec::new();
    for _ in 0..cfg.visitors {
        let (ws, _) = visitor_hello(&cfg.url).await?;
        let (tx, mut rx) = ws.split();
        let tally_r = tally.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(m)) = rx.next().await {
                let WsMessage::Text(t) = m else { continue };
                let Ok(f) = serde_json::from_str::<Value>(t.as_str()) else {
                    continue;
                };
                let now = stamp(t0);
                let mut tl = tally_r.lock().unwrap();
                match f["type"].as_str() {
                    Some("ack") => {
                        let m = &f["message"];
                        tl.acked += 1;
                        tl.last_ack = Some(Instant::now());
                        let conv = m["conversation_id"].as_i64().unwrap_or(0);
                        let entry = (
                            f["client_id"].as_str().unwrap_or("").to_owned(),
                            m["seq"].as_i64().unwrap_or(0),
                        );
                        tl.acks.entry(conv).or_default().push(entry);
                        if let Some(at) = m["body"].as_str().and_then(sent_at) {
                            tl.ack_ns.push(now.saturating_sub(at));
                        }
                    }
                    Some("error") => tl.errors += 1,
                    _ => {}
                }
            }
        });
        halves.push((tx, reader));
    }

    let start = Instant::now();
    let mut visitor_tasks = Vec::new();
    let interval = Duration::from_secs_f64(1.0 / cfg.rate.max(0.001));
    for (i, (mut tx, reader)) in halves.into_iter().enumerate() {
        let tally_w = tally.clone();
        let (duration, visitors) = (cfg.duration, cfg.visitors.max(1));
        let writer = tokio::spawn(async move {
            // Spread the visitors' schedules over one interval.
            let phase = interval.mul_f64(i as f64 / visitors as f64);
            let mut k: u64 = 0;
            loop {
                let due = start + phase + interval.mul_f64(k as f64);
                if due.duration_since(start) >= duration {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let body = format!("bench t={} v={i} k={k}", stamp(t0));
                let frame =
                    json!({"type": "message", "client_id": format!("b{i}-{k}"), "body": body});
                if tx.send(WsMessage::text(frame.to_string())).await.is_err() {
                    // The socket is gone: that is a failure of the run, not a quiet stop.
                    tally_w.lock().unwrap().errors += 1;
                    break;
                }
                tally_w.lock().unwrap().sent += 1;
                k += 1;
            }
            tx
        });
        visitor_tasks.push((writer, reader));
    }

    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for (w, r) in visitor_tasks {
        writers.push(w.await?);
        readers.push(r);
    }
    // Wait for every acknowledgement and delivery (or give up after the drain timeout).
    let deadline = Instant::now() + cfg.drain_timeout;
    loop {
        let done = {
            let t = tally.lock().unwrap();
            t.acked + t.errors >= t.sent && t.delivered >= t.acked
        };
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for mut w in writers {
        let _ = w.close().await;
    }
    for r in readers.into_iter().chain(agent_tasks) {
        r.abort();
    }

    let t = std::mem::take(&mut *tally.lock().unwrap());
    let elapsed = t
        .last_ack
        .map(|l| l.duration_since(start))
        .unwrap_or_default();
    let mut storage_problems = Vec::new();
    let checked_storage = cfg.database_url.is_some();
    if let Some(url) = &cfg.database_url {
        let storage = Storage::connect(&DatabaseUrl::parse(url)?, 2)?;
        let acks = t.acks.clone();
        storage_problems =
            tokio::task::spawn_blocking(move || check_storage(&storage, &acks)).await??;
    }
    Ok(Report {
        ack: histogram(&t.ack_ns)?,
        delivery: histogram(&t.delivery_ns)?,
        sent: t.sent,
        acked: t.acked,
        errors: t.errors,
        delivered: t.delivered,
        duplicates: t.duplicates,
        out_of_order: t.out_of_order,
        storage_problems,
        checked_storage,
        elapsed,
        config: cfg,
    })
}

/// Every conversation must hold exactly its acknowledged messages, numbered 1..n.
fn check_storage(
    storage: &Storage,
    acks: &HashMap<i64, Vec<(String, i64)>>,
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut conn = storage.conn()?;
    for (conv, acked) in acks {
        let stored = messages::after(&mut conn, ConversationId(*conv), 0, i64::MAX)?;
        let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
        if seqs != (1..=stored.len() as i64).collect::<Vec<_>>() {
            problems.push(format!("conversation {conv}: seqs are not 1..n"));
        }
        let by_client: HashMap<&str, i64> = stored
            .iter()
            .filter_map(|m| m.client_id.as_deref().map(|c| (c, m.seq)))
            .collect();
        if stored.len() != acked.len() {
            problems.push(format!(
                "conversation {conv}: {} stored, {} acknowledged",
                stored.len(),
                acked.len()
            ));
        }
        for (cid, seq) in acked {
            if by_client.get(cid.as_str()) != Some(seq) {
                problems.push(format!(
                    "conversation {conv}: {cid} acknowledged as seq {seq} but stored differently"
                ));
                break;
            }
        }
    }
    Ok(problems)
}

// ---- idle connections ----

#[derive(Debug, Clone)]
pub struct ConnectionsConfig {
    pub url: String,
    pub visitors: usize,
    /// The server's process id, to read its resident memory.
    pub server_pid: Option<u32>,
    /// Sockets opening at once.
    pub parallel: usize,
}

pub struct ConnectionsReport {
    pub config: ConnectionsConfig,
    pub connected: usize,
    pub elapsed: Duration,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    pub welcome: Histogram<u64>,
}

impl ConnectionsReport {
    pub fn per_connection_kib(&self) -> Option<f64> {
        match (self.rss_before_kib, self.rss_after_kib) {
            (Some(b), Some(a)) if self.connected > 0 => {
                Some(a.saturating_sub(b) as f64 / self.connected as f64)
            }
            _ => None,
        }
    }

    pub fn render(&self) -> String {
        let c = &self.config;
        let ms = |q: f64| self.welcome.value_at_quantile(q) as f64 / 1e6;
        let mut out = format!(
            "connections: {} visitors held open (hello + welcome), {} at a time\n",
            c.visitors, c.parallel
        );
        out += &format!(
            "  connected {} in {:.2} s -> {:.0} handshakes+welcomes/s\n",
            self.connected,
            self.elapsed.as_secs_f64(),
            self.connected as f64 / self.elapsed.as_secs_f64().max(1e-9)
        );
        out += &format!(
            "  connect->welcome  p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms\n",
            ms(0.5),
            ms(0.99),
            ms(0.999)
        );
        match (
            self.rss_before_kib,
            self.rss_after_kib,
            self.per_connection_kib(),
        ) {
            (Some(b), Some(a), Some(per)) => {
                out += &format!("  server RSS {b} KiB -> {a} KiB: {per:.1} KiB per connection\n")
            }
            _ => out += "  server memory not read (no --server-pid)\n",
        }
        out += &format!(
            "  reproduce: livedesk-bench connections --url {} --visitors {} --parallel {} --server-pid <pid>\n",
            c.url, c.visitors, c.parallel
        );
        out
    }
}

pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Opens a visitor socket, says hello and waits for `welcome`; returns the socket and the welcome.
async fn visitor_hello(url: &str) -> anyhow::Result<(Ws, Value)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(url, "/ws/visitor")).await?;
    ws.send(WsMessage::text(
        json!({"type": "hello", "token": null}).to_string(),
    ))
    .await?;
    loop {
        let m = ws.next().await.context("socket closed before welcome")??;
        if let WsMessage::Text(t) = m {
            let f: Value = serde_json::from_str(t.as_str())?;
            if f["type"] == "welcome" {
                return Ok((ws, f));
            }
        }
    }
}

pub async fn connections(cfg: ConnectionsConfig) -> anyhow::Result<ConnectionsReport> {
    let rss_before_kib = cfg.server_pid.and_then(rss_kib);
    let start = Instant::now();
    let held = Arc::new(Mutex::new(Vec::with_capacity(cfg.visitors)));
    let lat = Arc::new(Mutex::new(Vec::with_capacity(cfg.visitors)));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..cfg.parallel.max(1) {
        let (url, held, lat, next, total) = (
            cfg.url.clone(),
            held.clone(),
            lat.clone(),
            next.clone(),
            cfg.visitors,
        );
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                let t = Instant::now();
                let (ws, _) = visitor_hello(&url).await?;
                lat.lock().unwrap().push(t.elapsed().as_nanos() as u64);
                held.lock().unwrap().push(ws);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for w in workers {
        w.await??;
    }
    let elapsed = start.elapsed();
    // Idle for a moment (heartbeats included) before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after_kib = cfg.server_pid.and_then(rss_kib);
    let connected = held.lock().unwrap().len();
    let welcome = histogram(&lat.lock().unwrap())?;
    drop(held);
    Ok(ConnectionsReport {
        config: cfg,
        connected,
        elapsed,
        rss_before_kib,
        rss_after_kib,
        welcome,
    })
}

// ---- churn ----

#[derive(Debug, Clone)]
pub struct ChurnConfig {
    pub url: String,
    /// New visitors per second.
    pub rate: f64,
    pub duration: Duration,
    pub agents: usize,
    pub admin_password: String,
    pub agent_password: String,
    pub captcha: String,
}

pub struct ChurnReport {
    pub config: ChurnConfig,
    pub arrived: u64,
    pub notified: u64,
    pub welcome: Histogram<u64>,
    pub notify: Histogram<u64>,
}

impl ChurnReport {
    pub fn render(&self) -> String {
        let c = &self.config;
        let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e6;
        let mut out = format!(
            "churn: {} new visitors/s for {} s, {} agents online\n",
            c.rate,
            c.duration.as_secs(),
            c.agents
        );
        out += &format!(
            "  arrived {}  agents notified {}\n",
            self.arrived, self.notified
        );
        for (name, h) in [
            ("connect->welcome ", &self.welcome),
            ("connect->agent   ", &self.notify),
        ] {
            out += &format!(
                "  {name} p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms\n",
                ms(h, 0.5),
                ms(h, 0.99),
                ms(h, 0.999),
                h.max() as f64 / 1e6
            );
        }
        out += &format!(
            "  reproduce: livedesk-bench churn --url {} --rate {} --duration {} --agents {}\n",
            c.url,
            c.rate,
            c.duration.as_secs(),
            c.agents
        );
        out
    }
}

/// (visitor started connecting, agent notified first), by conversation id.
type Book = (HashMap<i64, u64>, HashMap<i64, u64>);

pub async fn churn(cfg: ChurnConfig) -> anyhow::Result<ChurnReport> {
    let dcfg = DurableConfig {
        url: cfg.url.clone(),
        visitors: 0,
        agents: cfg.agents,
        rate: 1.0,
        duration: Duration::ZERO,
        admin_password: cfg.admin_password.clone(),
        agent_password: cfg.agent_password.clone(),
        captcha: cfg.captcha.clone(),
        database_url: None,
        drain_timeout: Duration::ZERO,
    };
    ensure_agents(&dcfg).await?;
    let t0 = Instant::now();
    // One lock over both maps, so an arrival and its notification always meet:
    // .0 conversation -> when its visitor started connecting; .1 conversation ->
    // when an agent first heard of it (if that came first). Times in ns since t0.
    let book: Arc<Mutex<Book>> = Arc::default();
    let notify_ns: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut agent_tasks = Vec::new();
    for i in 0..cfg.agents {
        let ws = agent_socket(&cfg.url, i, &cfg.agent_password, &cfg.captcha).await?;
        let (tx, mut rx) = ws.split();
        let (book, notify_ns) = (book.clone(), notify_ns.clone());
        agent_tasks.push(tokio::spawn(async move {
            let _keep = tx;
            while let Some(Ok(m)) = rx.next().await {
                let WsMessage::Text(t) = m else { continue };
                let Ok(f) = serde_json::from_str::<Value>(t.as_str()) else {
                    continue;
                };
                if f["type"] != "conversation" {
                    continue;
                }
                let now = stamp(t0);
                let id = f["conversation"]["id"].as_i64().unwrap_or(0);
                let mut b = book.lock().unwrap();
                match b.0.remove(&id) {
                    Some(at) => notify_ns.lock().unwrap().push(now.saturating_sub(at)),
                    // The notification beat the welcome: remember the first one.
                    None => {
                        b.1.entry(id).or_insert(now);
                    }
                }
            }
        }));
    }
    let welcome_ns: Arc<Mutex<Vec<u64>>> = Arc::default();
    let interval = Duration::from_secs_f64(1.0 / cfg.rate.max(0.001));
    let start = Instant::now();
    let mut k: u64 = 0;
    let mut arrivals = Vec::new();
    loop {
        let due = start + interval.mul_f64(k as f64);
        if due.duration_since(start) >= cfg.duration {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let (url, book, welcome_ns, notify_ns) = (
            cfg.url.clone(),
            book.clone(),
            welcome_ns.clone(),
            notify_ns.clone(),
        );
        arrivals.push(tokio::spawn(async move {
            let begin = stamp(t0);
            let (ws, welcome) = visitor_hello(&url).await?;
            welcome_ns.lock().unwrap().push(stamp(t0) - begin);
            let id = welcome["conversation_id"].as_i64().unwrap_or(0);
            let mut b = book.lock().unwrap();
            match b.1.remove(&id) {
                Some(at) => notify_ns.lock().unwrap().push(at.saturating_sub(begin)),
                None => {
                    b.0.insert(id, begin);
                }
            }
            drop(b);
            Ok::<_, anyhow::Error>(ws)
        }));
        k += 1;
    }
    let mut held = Vec::new();
    for a in arrivals {
        held.push(a.await??);
    }
    // Let the last notifications arrive.
    let deadline = Instant::now() + Duration::from_secs(10);
    while notify_ns.lock().unwrap().len() < held.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for t in agent_tasks {
        t.abort();
    }
    let (w, n) = (
        welcome_ns.lock().unwrap().clone(),
        notify_ns.lock().unwrap().clone(),
    );
    Ok(ChurnReport {
        arrived: w.len() as u64,
        notified: n.len() as u64,
        welcome: histogram(&w)?,
        notify: histogram(&n)?,
        config: cfg,
    })
}
