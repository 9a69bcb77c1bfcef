//! Idle connections: N visitors connect, say hello and stay open (answering
//! heartbeats); the handshake+welcome rate and the server's resident memory
//! per connection.

use std::time::Duration;

use futures_util::StreamExt;
use hdrhistogram::Histogram;

use super::worker::{self, Control, Job, Outcome, Spread, Task};
use super::{histogram, mono_ns, quantiles, visitor_hello};

#[derive(Debug, Clone)]
pub struct ConnectionsConfig {
    pub url: String,
    pub visitors: usize,
    /// The servers' process ids (every node of a cluster), to read their
    /// resident memory.
    pub server_pids: Vec<u32>,
    /// A cluster's Redis, to read its memory before and after.
    pub redis_url: Option<String>,
    /// How long every socket is held open once all are connected.
    pub hold: Duration,
    /// Sockets opening at once (over all workers).
    pub parallel: usize,
    pub spread: Spread,
}

pub struct ConnectionsReport {
    pub config: ConnectionsConfig,
    pub connected: usize,
    /// Sockets the server closed while they were held, and how (a few).
    pub dropped: usize,
    pub dropped_how: Vec<String>,
    /// Worker by worker (with several nodes, worker `i` is on node `i`).
    pub dropped_per_worker: Vec<usize>,
    pub elapsed: Duration,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    pub redis_before: Option<u64>,
    pub redis_after: Option<u64>,
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

    pub fn redis_bytes_per_connection(&self) -> Option<f64> {
        match (self.redis_before, self.redis_after) {
            (Some(b), Some(a)) if self.connected > 0 => {
                Some(a.saturating_sub(b) as f64 / self.connected as f64)
            }
            _ => None,
        }
    }

    /// Every visitor connected, and none was dropped while held.
    pub fn correct(&self) -> bool {
        self.connected == self.config.visitors && self.dropped == 0
    }

    pub fn render(&self) -> String {
        let c = &self.config;
        let mut out = format!(
            "connections: {} visitors held open (hello + welcome), {} at a time, {}\n",
            c.visitors,
            c.parallel,
            c.spread.describe()
        );
        out += &format!(
            "  connected {} in {:.2} s -> {:.0} handshakes+welcomes/s\n",
            self.connected,
            self.elapsed.as_secs_f64(),
            self.connected as f64 / self.elapsed.as_secs_f64().max(1e-9)
        );
        out += &format!("  connect->welcome  {}\n", quantiles(&self.welcome));
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
        if let (Some(b), Some(a), Some(per)) = (
            self.redis_before,
            self.redis_after,
            self.redis_bytes_per_connection(),
        ) {
            out += &format!("  Redis used_memory {b} B -> {a} B: {per:.1} B per connection\n");
        }
        out += &format!(
            "  held {} s: {} of {} sockets dropped{}\n",
            c.hold.as_secs(),
            self.dropped,
            self.connected,
            if self.dropped_how.is_empty() {
                String::new()
            } else {
                format!(
                    " ({}; by worker {:?})",
                    self.dropped_how.join("; "),
                    self.dropped_per_worker
                )
            }
        );
        out += &format!(
            "  reproduce: livedesk-bench connections --url {} --visitors {} --parallel {} --workers {} --hold {} --server-pid <pid>[,<pid>…]{}\n",
            c.url,
            c.visitors,
            c.parallel,
            c.spread.workers,
            c.hold.as_secs(),
            if c.redis_url.is_some() { " --redis-url <url>" } else { "" }
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

/// The summed resident memory of these processes, if every one was read.
fn total_rss_kib(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|p| rss_kib(*p)).sum()
}

/// Redis's `used_memory` (bytes), if a URL is given.
async fn redis_memory(url: &Option<String>) -> anyhow::Result<Option<u64>> {
    let Some(url) = url.clone() else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || redis_used_memory(&url).map(Some)).await?
}

/// Redis's `used_memory` (bytes), from `INFO memory`.
pub fn redis_used_memory(url: &str) -> anyhow::Result<u64> {
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let info: String = redis::cmd("INFO").arg("memory").query(&mut conn)?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no used_memory in Redis's INFO"))
}

pub async fn connections(cfg: ConnectionsConfig) -> anyhow::Result<ConnectionsReport> {
    let rss_before_kib = total_rss_kib(&cfg.server_pids);
    let redis_before = redis_memory(&cfg.redis_url).await?;
    let (v, p) = (cfg.visitors, cfg.parallel.max(1));
    let hold_ms = cfg.hold.as_millis() as u64;
    let mut links = worker::start(
        &cfg.spread,
        &cfg.url,
        |i, of| Task::Connections {
            count: (i + 1) * v / of - i * v / of,
            parallel: (p / of).max(1),
            hold_ms,
        },
        |job, ctl| Box::pin(worker(job, ctl)),
    )
    .await?;
    let (start_ns, outcomes) = worker::run_all(&mut links, Duration::from_millis(50)).await?;
    // The workers held their sockets (heartbeats included) before reporting;
    // memory is read while they still hold them.
    let rss_after_kib = total_rss_kib(&cfg.server_pids);
    let redis_after = redis_memory(&cfg.redis_url).await?;
    worker::stop(&links);
    let finished = outcomes.iter().map(|o| o.finished_ns).max().unwrap_or(0);
    let connected = outcomes.iter().map(|o| o.connected).sum();
    let dropped_per_worker: Vec<usize> = outcomes.iter().map(|o| o.dropped).collect();
    let dropped = dropped_per_worker.iter().sum();
    let mut dropped_how: Vec<String> = outcomes
        .iter()
        .flat_map(|o| o.dropped_how.clone())
        .collect();
    dropped_how.sort();
    dropped_how.dedup();
    let samples: Vec<u64> = outcomes.into_iter().flat_map(|o| o.welcome_ns).collect();
    Ok(ConnectionsReport {
        connected,
        dropped,
        dropped_how,
        dropped_per_worker,
        elapsed: Duration::from_nanos(finished.saturating_sub(start_ns)),
        rss_before_kib,
        rss_after_kib,
        redis_before,
        redis_after,
        welcome: histogram(&samples)?,
        config: cfg,
    })
}

/// This scenario's half in a worker.
pub(crate) async fn worker(job: &Job, ctl: &mut Control) -> anyhow::Result<()> {
    let Task::Connections {
        count,
        parallel,
        hold_ms,
    } = job.task
    else {
        unreachable!("a connections job")
    };
    ctl.ready();
    let start_ns = ctl.go().await?;
    tokio::time::sleep_until(super::instant_at(start_ns)).await;
    let mut welcome_ns = Vec::with_capacity(count);
    let mut held = Vec::with_capacity(count);
    let mut opened = futures_util::stream::iter(0..count)
        .map(|_| async {
            let begin = mono_ns();
            let r = visitor_hello(&job.url, job.server, job.source).await;
            r.map(|(ws, _)| (ws, mono_ns() - begin))
        })
        .buffer_unordered(parallel);
    while let Some(r) = opened.next().await {
        let (ws, ns) = r?;
        welcome_ns.push(ns);
        held.push(super::keep_reading(ws));
    }
    drop(opened);
    let finished_ns = mono_ns();
    let while_connecting = held.iter().filter(|h| h.is_finished()).count();
    // Held idle (answering heartbeats); a reader that ended was closed.
    tokio::time::sleep(Duration::from_millis(hold_ms)).await;
    let mut dropped_how = Vec::new();
    if while_connecting > 0 {
        dropped_how.push(format!("{while_connecting} while the others connected"));
    }
    let mut dropped = 0;
    for h in held.iter_mut().filter(|h| h.is_finished()) {
        dropped += 1;
        if let Ok(how) = h.await {
            if dropped_how.len() < 5 && !dropped_how.contains(&how) {
                dropped_how.push(how);
            }
        }
    }
    let outcome = Outcome {
        connected: welcome_ns.len(),
        dropped,
        dropped_how,
        finished_ns,
        welcome_ns,
        ..Outcome::default()
    };
    ctl.done_and_hold(outcome).await;
    for h in held {
        h.abort();
    }
    Ok(())
}
