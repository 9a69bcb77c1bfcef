//! Workers: the visitors' side of a scenario, in a thread or a child process.
//!
//! Every worker runs the same steps: set up (`Ready`), wait for `Go` with a
//! start time, run, report (`Done`), then hold its sockets until `Stop`. A
//! child process speaks the same messages as JSON lines on stdin/stdout
//! (`livedesk-bench worker`), so the coordinator treats both kinds alike.

use std::future::Future;
use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// How the visitors are spread.
#[derive(Debug, Clone)]
pub struct Spread {
    pub workers: usize,
    pub spawn: Spawn,
    /// Worker i connects from 127.0.0.(i+2) when the server is on loopback,
    /// so that no source address runs out of ports.
    pub source_addresses: bool,
}

#[derive(Debug, Clone)]
pub enum Spawn {
    /// Threads of this process (each with its own single-threaded runtime).
    Threads,
    /// Child processes: this program, run as `<exe> worker`.
    Processes(PathBuf),
}

impl Spread {
    pub fn threads(workers: usize) -> Self {
        Self {
            workers,
            spawn: Spawn::Threads,
            source_addresses: true,
        }
    }

    pub fn describe(&self) -> String {
        let kind = match self.spawn {
            Spawn::Threads => "threads",
            Spawn::Processes(_) => "processes",
        };
        format!("{} worker {kind}", self.workers.max(1))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Job {
    pub index: usize,
    pub of: usize,
    pub url: String,
    pub server: SocketAddr,
    pub source: Option<IpAddr>,
    pub task: Task,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Task {
    /// Visitors `first..first + count` of `total` send `rate` msg/s each.
    Durable {
        first: usize,
        count: usize,
        total: usize,
        rate: f64,
        duration_ms: u64,
        drain_ms: u64,
        warmup_ms: u64,
        database_url: Option<String>,
    },
    /// `count` visitors connect, `parallel` at a time, then stay idle for
    /// `hold_ms` (counting the sockets the server closed meanwhile).
    Connections {
        count: usize,
        parallel: usize,
        hold_ms: u64,
    },
    /// Arrivals `index, index + of, …` of a schedule of `rate`/s over the duration.
    Churn { rate: f64, duration_ms: u64 },
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToWorker {
    Go { start_ns: u64 },
    Stop,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FromWorker {
    Ready,
    Done(Box<Outcome>),
    Failed(String),
}

/// What a worker measured.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Outcome {
    pub sent: u64,
    /// Of `sent`, warm-up messages (not timed).
    pub warm: u64,
    pub acked: u64,
    pub errors: u64,
    /// Refused at once with `unavailable` (admission control): not stored.
    #[serde(default)]
    pub refused: u64,
    /// send→ack, ns.
    pub ack_ns: Vec<u64>,
    /// (conversation, acknowledged count, highest acknowledged seq)
    pub acked_per_conversation: Vec<(i64, u64, i64)>,
    pub last_ack_ns: u64,
    pub checked_storage: bool,
    pub storage_problems: Vec<String>,
    /// connect→welcome, ns.
    pub welcome_ns: Vec<u64>,
    /// (conversation, when its visitor started connecting)
    pub arrivals: Vec<(i64, u64)>,
    pub connected: usize,
    /// Sockets that closed while they were meant to be held, and how (a few).
    pub dropped: usize,
    pub dropped_how: Vec<String>,
    pub finished_ns: u64,
    /// The source addresses this worker's sockets had.
    pub sources: Vec<IpAddr>,
}

/// The coordinator's end of one worker.
pub(crate) struct Link {
    tx: mpsc::UnboundedSender<ToWorker>,
    rx: mpsc::UnboundedReceiver<FromWorker>,
    index: usize,
}

impl Link {
    pub async fn next(&mut self) -> anyhow::Result<FromWorker> {
        match self.rx.recv().await {
            Some(FromWorker::Failed(e)) => bail!("worker {} failed: {e}", self.index),
            Some(m) => Ok(m),
            None => bail!("worker {} ended without a report", self.index),
        }
    }

    pub fn send(&self, m: ToWorker) {
        let _ = self.tx.send(m);
    }
}

/// What a worker runs: the scenario's own half. Scenarios hand theirs in
/// (this module knows none of them); a worker process finds it by the task.
pub type Entry =
    for<'a> fn(&'a Job, &'a mut Control) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// Starts `spread.workers` workers, job `i` from `task(i, of)`, each running
/// `entry` (in a thread), or the same scenario's entry in a child process.
/// `urls` may name several nodes of a cluster, comma-separated: worker `i`
/// connects to the `i`-th (round robin).
pub(crate) async fn start(
    spread: &Spread,
    urls: &str,
    task: impl Fn(usize, usize) -> Task,
    entry: Entry,
) -> anyhow::Result<Vec<Link>> {
    let urls = super::nodes(urls);
    let mut servers = Vec::new();
    for url in &urls {
        servers.push(super::server_addr(url).await?);
    }
    let of = spread.workers.max(1);
    let mut links = Vec::new();
    for index in 0..of {
        let (url, server) = (urls[index % urls.len()], servers[index % urls.len()]);
        let source = (spread.source_addresses && server.ip().is_loopback())
            .then(|| IpAddr::V4(Ipv4Addr::new(127, 0, 0, (2 + index).min(254) as u8)));
        let job = Job {
            index,
            of,
            url: url.to_owned(),
            server,
            source,
            task: task(index, of),
        };
        let (to_tx, to_rx) = mpsc::unbounded_channel();
        let (from_tx, from_rx) = mpsc::unbounded_channel();
        match &spread.spawn {
            Spawn::Threads => {
                std::thread::Builder::new()
                    .name(format!("bench-worker-{index}"))
                    .spawn(move || run(job, entry, to_rx, from_tx))?;
            }
            Spawn::Processes(exe) => spawn_process(exe, &job, to_rx, from_tx)?,
        }
        links.push(Link {
            tx: to_tx,
            rx: from_rx,
            index,
        });
    }
    Ok(links)
}

/// Waits for every worker's `Ready`.
async fn all_ready(links: &mut [Link]) -> anyhow::Result<()> {
    for l in links.iter_mut() {
        match l.next().await? {
            FromWorker::Ready => {}
            other => bail!("worker {}: expected Ready, got {other:?}", l.index),
        }
    }
    Ok(())
}

/// Sends `Go` to all and collects every `Done`.
async fn go_and_collect(links: &mut [Link], start_ns: u64) -> anyhow::Result<Vec<Outcome>> {
    for l in links.iter() {
        l.send(ToWorker::Go { start_ns });
    }
    let mut out = Vec::new();
    for l in links.iter_mut() {
        match l.next().await? {
            FromWorker::Done(o) => out.push(*o),
            other => bail!("worker {}: expected Done, got {other:?}", l.index),
        }
    }
    Ok(out)
}

/// `Ready` from all, `Go` at now + `lead`, then every `Done`: the start time
/// and the outcomes. On any failure every worker is stopped.
pub(crate) async fn run_all(
    links: &mut [Link],
    lead: std::time::Duration,
) -> anyhow::Result<(u64, Vec<Outcome>)> {
    let run = async {
        all_ready(links).await?;
        let start_ns = super::mono_ns() + lead.as_nanos() as u64;
        Ok((start_ns, go_and_collect(links, start_ns).await?))
    };
    let result = run.await;
    if result.is_err() {
        stop(links);
    }
    result
}

pub(crate) fn stop(links: &[Link]) {
    for l in links {
        l.send(ToWorker::Stop);
    }
}

fn spawn_process(
    exe: &PathBuf,
    job: &Job,
    mut to_rx: mpsc::UnboundedReceiver<ToWorker>,
    from_tx: mpsc::UnboundedSender<FromWorker>,
) -> anyhow::Result<()> {
    let mut child = std::process::Command::new(exe)
        .arg("worker")
        .arg(serde_json::to_string(job)?)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("starting worker {}", exe.display()))?;
    let mut stdin = child.stdin.take().context("worker stdin")?;
    let stdout = child.stdout.take().context("worker stdout")?;
    std::thread::spawn(move || {
        while let Some(m) = to_rx.blocking_recv() {
            let line = serde_json::to_string(&m).unwrap_or_default();
            if writeln!(stdin, "{line}")
                .and_then(|_| stdin.flush())
                .is_err()
            {
                break;
            }
        }
        // Closing stdin also tells the worker to stop.
    });
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let m = serde_json::from_str(&line)
                .unwrap_or_else(|e| FromWorker::Failed(format!("unreadable report: {e}")));
            if from_tx.send(m).is_err() {
                break;
            }
        }
        let _ = child.wait();
    });
    Ok(())
}

/// `livedesk-bench worker <job>`: runs one job, speaking JSON lines on stdin/stdout.
pub fn serve_stdio(job: &str, entry: impl Fn(&Task) -> Entry) -> anyhow::Result<()> {
    let job: Job = serde_json::from_str(job).context("bad worker job")?;
    let (to_tx, to_rx) = mpsc::unbounded_channel();
    let (from_tx, mut from_rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<ToWorker>(&line) {
                Ok(m) => {
                    if to_tx.send(m).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        // stdin closed: the coordinator is gone.
        let _ = to_tx.send(ToWorker::Stop);
    });
    let writer = std::thread::spawn(move || {
        let mut out = std::io::stdout().lock();
        while let Some(m) = from_rx.blocking_recv() {
            let line = serde_json::to_string(&m).unwrap_or_default();
            if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                break;
            }
        }
    });
    let entry = entry(&job.task);
    run(job, entry, to_rx, from_tx);
    let _ = writer.join();
    Ok(())
}

/// One worker: a single-threaded runtime, so its tasks share state without locks.
fn run(
    job: Job,
    entry: Entry,
    rx: mpsc::UnboundedReceiver<ToWorker>,
    tx: mpsc::UnboundedSender<FromWorker>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = tx.send(FromWorker::Failed(e.to_string()));
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let mut ctl = Control { rx, tx: tx.clone() };
        let result = entry(&job, &mut ctl).await;
        if let Err(e) = result {
            let _ = tx.send(FromWorker::Failed(format!("{e:#}")));
        }
    });
}

/// The worker's end of its link.
pub(crate) struct Control {
    rx: mpsc::UnboundedReceiver<ToWorker>,
    tx: mpsc::UnboundedSender<FromWorker>,
}

impl Control {
    pub fn ready(&self) {
        let _ = self.tx.send(FromWorker::Ready);
    }

    /// Waits for `Go`; its start time.
    pub async fn go(&mut self) -> anyhow::Result<u64> {
        match self.rx.recv().await {
            Some(ToWorker::Go { start_ns }) => Ok(start_ns),
            _ => bail!("stopped before the start"),
        }
    }

    /// Reports, then holds on (the caller's sockets stay open) until `Stop`.
    pub async fn done_and_hold(&mut self, mut outcome: Outcome) {
        if outcome.finished_ns == 0 {
            outcome.finished_ns = super::mono_ns();
        }
        let _ = self.tx.send(FromWorker::Done(Box::new(outcome)));
        while let Some(m) = self.rx.recv().await {
            if matches!(m, ToWorker::Stop) {
                break;
            }
        }
    }
}
