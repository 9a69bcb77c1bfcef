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
    /// The server's process id, to read its resident memory.
    pub server_pid: Option<u32>,
    /// Sockets opening at once (over all workers).
    pub parallel: usize,
    pub spread: Spread,
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
        out += &format!(
            "  reproduce: livedesk-bench connections --url {} --visitors {} --parallel {} --workers {} --server-pid <pid>\n",
            c.url, c.visitors, c.parallel, c.spread.workers
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

pub async fn connections(cfg: ConnectionsConfig) -> anyhow::Result<ConnectionsReport> {
    let rss_before_kib = cfg.server_pid.and_then(rss_kib);
    let (v, p) = (cfg.visitors, cfg.parallel.max(1));
    let mut links = worker::start(
        &cfg.spread,
        &cfg.url,
        |i, of| Task::Connections {
            count: (i + 1) * v / of - i * v / of,
            parallel: (p / of).max(1),
        },
        |job, ctl| Box::pin(worker(job, ctl)),
    )
    .await?;
    let (start_ns, outcomes) = worker::run_all(&mut links, Duration::from_millis(50)).await?;
    // Idle for a moment (heartbeats included) before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after_kib = cfg.server_pid.and_then(rss_kib);
    worker::stop(&links);
    let finished = outcomes.iter().map(|o| o.finished_ns).max().unwrap_or(0);
    let connected = outcomes.iter().map(|o| o.connected).sum();
    let samples: Vec<u64> = outcomes.into_iter().flat_map(|o| o.welcome_ns).collect();
    Ok(ConnectionsReport {
        connected,
        elapsed: Duration::from_nanos(finished.saturating_sub(start_ns)),
        rss_before_kib,
        rss_after_kib,
        welcome: histogram(&samples)?,
        config: cfg,
    })
}

/// This scenario's half in a worker.
pub(crate) async fn worker(job: &Job, ctl: &mut Control) -> anyhow::Result<()> {
    let Task::Connections { count, parallel } = job.task else {
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
    let outcome = Outcome {
        connected: welcome_ns.len(),
        welcome_ns,
        ..Outcome::default()
    };
    ctl.done_and_hold(outcome).await;
    for h in held {
        h.abort();
    }
    Ok(())
}
