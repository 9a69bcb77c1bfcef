//! The load generator behind `livedesk-bench`: it drives a running livedesk
//! exactly as real clients do (agents sign in through the login form; every
//! socket speaks the documented protocol) and checks at the end that every
//! acknowledged message is stored once, delivered once, in `seq` order.
//!
//! The coordinator (this process) signs the agents in and holds their
//! sockets; the visitors are spread over workers (`worker.rs`), threads or
//! child processes, each with its own source address on loopback, because
//! one process may hold at most 20,000 open files and one source address
//! offers ~28,000 ports. Times are `CLOCK_MONOTONIC`, which every process on
//! the machine shares, so a send time written by a worker can be compared
//! with a delivery time read by the coordinator.

mod churn;
mod connections;
mod durable;
pub mod relay;
mod search;
mod store;
mod uploads;
mod worker;

pub use churn::{churn, ChurnConfig, ChurnReport};
pub use connections::{connections, rss_kib, ConnectionsConfig, ConnectionsReport};
pub use durable::{durable, DurableConfig, Report};
pub use search::{search, SearchConfig, SearchReport};
pub use store::{store, StoreConfig, StoreReport};
pub use uploads::{uploads, UploadsConfig, UploadsReport};
pub use worker::{Spawn, Spread};

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message as WsMessage};

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `livedesk-bench worker <job>`: runs one job of any scenario, speaking
/// JSON lines on stdin/stdout.
pub fn serve_stdio(job: &str) -> anyhow::Result<()> {
    worker::serve_stdio(job, |task| match task {
        worker::Task::Durable { .. } => |j, c| Box::pin(durable::worker(j, c)),
        worker::Task::Connections { .. } => |j, c| Box::pin(connections::worker(j, c)),
        worker::Task::Churn { .. } => |j, c| Box::pin(churn::worker(j, c)),
    })
}

/// Nanoseconds on `CLOCK_MONOTONIC`: comparable across the processes of one machine.
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A `tokio` instant for a `mono_ns` time (in the future or the past).
pub(crate) fn instant_at(ns: u64) -> tokio::time::Instant {
    let (now_ns, now) = (mono_ns(), tokio::time::Instant::now());
    if ns >= now_ns {
        now + std::time::Duration::from_nanos(ns - now_ns)
    } else {
        now.checked_sub(std::time::Duration::from_nanos(now_ns - ns))
            .unwrap_or(now)
    }
}

/// Latencies in nanoseconds, from 1 µs to 60 s, three significant digits.
pub(crate) fn histogram(samples: &[u64]) -> anyhow::Result<Histogram<u64>> {
    let mut h = Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3)?;
    for x in samples {
        h.record((*x).clamp(1_000, 60_000_000_000))?;
    }
    Ok(h)
}

pub(crate) fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1e6
}

/// "p50 … p99 … p99.9 … max …" in milliseconds.
pub(crate) fn quantiles(h: &Histogram<u64>) -> String {
    format!(
        "p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms",
        ms(h, 0.5),
        ms(h, 0.99),
        ms(h, 0.999),
        h.max() as f64 / 1e6
    )
}

/// What the generator reads of a server frame; the rest is skipped unparsed.
#[derive(Deserialize)]
pub(crate) struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub client_id: Option<Cow<'a, str>>,
    /// A message object in `ack`/`message`, a text in `error`.
    #[serde(default, borrow)]
    pub message: Option<&'a RawValue>,
    #[serde(default)]
    pub conversation_id: Option<i64>,
    #[serde(default)]
    pub conversation: Option<ConversationRef>,
    /// An `error`'s code.
    #[serde(default, borrow)]
    pub code: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(crate) struct ConversationRef {
    pub id: i64,
}

#[derive(Deserialize)]
pub(crate) struct MessageRef<'a> {
    pub conversation_id: i64,
    pub seq: i64,
    #[serde(borrow)]
    pub body: Cow<'a, str>,
}

impl<'a> Frame<'a> {
    pub fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    pub fn message(&self) -> Option<MessageRef<'a>> {
        serde_json::from_str(self.message?.get()).ok()
    }
}

/// The body of a benchmark message carries its send time.
pub(crate) fn body(sent_ns: u64, visitor: usize, k: u64) -> String {
    format!("bench t={sent_ns} v={visitor} k={k}")
}

pub(crate) fn sent_at(body: &str) -> Option<u64> {
    body.strip_prefix("bench t=")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

pub(crate) fn ws_url(base: &str, path: &str) -> String {
    format!("{}{}", base.replacen("http", "ws", 1), path)
}

/// The nodes a `--url` names: one, or several comma-separated (a cluster).
pub(crate) fn nodes(urls: &str) -> Vec<&str> {
    let v: Vec<&str> = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if v.is_empty() {
        vec![urls]
    } else {
        v
    }
}

/// The server's socket address, and whether it is on loopback (where each
/// worker can take a source address of its own).
pub(crate) async fn server_addr(base: &str) -> anyhow::Result<SocketAddr> {
    let url = url::Url::parse(base).with_context(|| format!("bad --url {base}"))?;
    let host = url.host_str().context("--url has no host")?.to_owned();
    let port = url.port_or_known_default().context("--url has no port")?;
    let mut found = tokio::net::lookup_host((host.as_str(), port)).await?;
    let v4 = found.find(SocketAddr::is_ipv4);
    v4.with_context(|| format!("{host} has no IPv4 address"))
}

/// Opens a WebSocket, from `source` when given.
pub(crate) async fn open(
    base: &str,
    path: &str,
    server: SocketAddr,
    source: Option<IpAddr>,
    headers: &[(&'static str, String)],
) -> anyhow::Result<Ws> {
    let mut req = ws_url(base, path).into_client_request()?;
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse()?);
    }
    let socket = tokio::net::TcpSocket::new_v4()?;
    if let Some(ip) = source {
        // Leave the port to connect(): bind() picking one searches the ports
        // in use, and with tens of thousands of sockets per address that
        // search took most of the machine (90 % system time), starving the
        // sockets' heartbeats.
        no_port_at_bind(&socket);
        socket
            .bind(SocketAddr::new(ip, 0))
            .with_context(|| format!("binding source address {ip}"))?;
    }
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    // tungstenite zero-fills its whole read buffer (128 KiB by default)
    // before every read; at a few hundred bytes per frame that memset was
    // the generator's largest cost. 4 KiB still grows for larger frames.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (ws, _) = tokio_tungstenite::client_async_with_config(
        req,
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
        Some(config),
    )
    .await?;
    Ok(ws)
}

/// Keeps a socket open and read (so heartbeats are answered) until aborted.
/// `IP_BIND_ADDRESS_NO_PORT` (Linux): the port is chosen at connect time.
fn no_port_at_bind(socket: &tokio::net::TcpSocket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a c_int option of the right size.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        // Only slower: bind() picks the port then.
        eprintln!(
            "IP_BIND_ADDRESS_NO_PORT not set: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Reads (and so answers pings) until the socket ends; then says how.
pub(crate) fn keep_reading(mut ws: Ws) -> tokio::task::JoinHandle<String> {
    tokio::task::spawn_local(async move {
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Close(c))) => return format!("closed by the server: {c:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return format!("error: {e}"),
                None => return "ended without a close frame".to_owned(),
            }
        }
    })
}

/// The address a socket connected from.
pub(crate) fn local_ip(ws: &Ws) -> Option<IpAddr> {
    match ws.get_ref() {
        tokio_tungstenite::MaybeTlsStream::Plain(s) => s.local_addr().ok().map(|a| a.ip()),
        _ => None,
    }
}

/// Opens a visitor socket, says hello and waits for `welcome`; returns the
/// socket and the conversation id.
pub(crate) async fn visitor_hello(
    base: &str,
    server: SocketAddr,
    source: Option<IpAddr>,
) -> anyhow::Result<(Ws, i64)> {
    // A server that cannot accept (say, out of file descriptors) leaves the
    // connection in its backlog unanswered: give up instead of hanging.
    let hello = async {
        let mut ws = open(base, "/ws/visitor", server, source, &[]).await?;
        ws.send(WsMessage::text(r#"{"type":"hello","token":null}"#))
            .await?;
        loop {
            let m = ws.next().await.context("socket closed before welcome")??;
            if let WsMessage::Text(t) = m {
                if let Some(f) = Frame::parse(t.as_str()) {
                    if f.kind == "welcome" {
                        return Ok((ws, f.conversation_id.unwrap_or(0)));
                    }
                }
            }
        }
    };
    tokio::time::timeout(HELLO_TIMEOUT, hello)
        .await
        .context("no welcome within 30 s")?
}

/// A visitor's first message (which opens its conversation: a `hello` alone
/// opens none); returns the conversation id from the `ack`.
pub(crate) async fn first_message(ws: &mut Ws) -> anyhow::Result<i64> {
    ws.send(WsMessage::text(
        r#"{"type":"message","client_id":"first-1","body":"hello"}"#,
    ))
    .await?;
    let wait = async {
        loop {
            let m = ws.next().await.context("socket closed before ack")??;
            if let WsMessage::Text(t) = m {
                if let Some(f) = Frame::parse(t.as_str()) {
                    if f.kind == "ack" {
                        return f
                            .message()
                            .map(|m| m.conversation_id)
                            .context("an ack without its message");
                    }
                    if f.kind == "error" {
                        anyhow::bail!("first message refused: {t}");
                    }
                }
            }
        }
    };
    tokio::time::timeout(HELLO_TIMEOUT, wait)
        .await
        .context("no ack within 30 s")?
}

/// How long a visitor waits for the server to answer its `hello`.
const HELLO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn csrf_of(html: &str) -> Option<String> {
    let start = html.find(r#"name="csrf_token" value=""#)? + r#"name="csrf_token" value=""#.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Who signs in, and how.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub admin_password: String,
    pub agent_password: String,
    /// The server's LIVEDESK_TEST_CAPTCHA.
    pub captcha: String,
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
async fn ensure_agents(base: &str, agents: usize, who: &Credentials) -> anyhow::Result<()> {
    let (admin, _) = sign_in(base, "admin", &who.admin_password, &who.captcha).await?;
    for i in 0..agents {
        let page = admin
            .get(format!("{base}/admin/agents"))
            .send()
            .await?
            .text()
            .await?;
        let token = csrf_of(&page).context("no csrf token on /admin/agents")?;
        let name = format!("bench-{i}");
        let r = admin
            .post(format!("{base}/admin/agents"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", name.as_str()),
                ("display_name", name.as_str()),
                ("password", who.agent_password.as_str()),
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

/// Creates the agents if needed, signs each in through the form and opens its
/// socket; every text frame it receives goes to `on_frame` with its arrival time.
pub(crate) async fn agents_online<F>(
    base: &str,
    agents: usize,
    who: &Credentials,
    on_frame: F,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>>
where
    F: Fn(&Frame<'_>, u64) + Send + Sync + 'static,
{
    // Several nodes: agent `i` signs in on the `i`-th (round robin).
    let bases = nodes(base);
    ensure_agents(bases[0], agents, who).await?;
    let mut servers = Vec::new();
    for b in &bases {
        servers.push(server_addr(b).await?);
    }
    let on_frame = Arc::new(on_frame);
    let mut tasks = Vec::new();
    for i in 0..agents {
        let (base, server) = (bases[i % bases.len()], servers[i % bases.len()]);
        let (_client, session) = sign_in(
            base,
            &format!("bench-{i}"),
            &who.agent_password,
            &who.captcha,
        )
        .await?;
        let headers = [
            ("Cookie", format!("livedesk_session={session}")),
            ("Origin", base.to_owned()),
        ];
        let ws = open(base, "/ws/agent", server, None, &headers).await?;
        let on_frame = on_frame.clone();
        tasks.push(tokio::spawn(async move {
            let (_keep_open, mut rx) = ws.split();
            while let Some(Ok(m)) = rx.next().await {
                let now = mono_ns();
                let WsMessage::Text(t) = m else { continue };
                if let Some(f) = Frame::parse(t.as_str()) {
                    on_frame(&f, now);
                }
            }
        }));
    }
    Ok(tasks)
}
