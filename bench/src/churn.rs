//! Churn: visitors arrive at a fixed rate (connect, hello, welcome, a first
//! message, then stay open) while agents are online; connect→welcome at the
//! visitor and connect→the agent's `conversation` frame for it (a conversation
//! comes into being with the visitor's first message).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;

use super::worker::{self, Control, Job, Outcome, Spread, Task};
use super::{histogram, mono_ns, quantiles, visitor_hello, Credentials};

#[derive(Debug, Clone)]
pub struct ChurnConfig {
    pub url: String,
    /// New visitors per second.
    pub rate: f64,
    pub duration: Duration,
    pub agents: usize,
    pub who: Credentials,
    pub spread: Spread,
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
        let mut out = format!(
            "churn: {} new visitors/s for {} s, {} agents online, {}\n",
            c.rate,
            c.duration.as_secs(),
            c.agents,
            c.spread.describe()
        );
        out += &format!(
            "  arrived {}  agents notified {}\n",
            self.arrived, self.notified
        );
        out += &format!("  connect->welcome  {}\n", quantiles(&self.welcome));
        out += &format!("  connect->agent    {}\n", quantiles(&self.notify));
        out += &format!(
            "  reproduce: livedesk-bench churn --url {} --rate {} --duration {} --agents {} --workers {}\n",
            c.url,
            c.rate,
            c.duration.as_secs(),
            c.agents,
            c.spread.workers
        );
        out
    }
}

pub async fn churn(cfg: ChurnConfig) -> anyhow::Result<ChurnReport> {
    // conversation -> when an agent first heard of it
    let notified: Arc<Mutex<HashMap<i64, u64>>> = Arc::default();
    let book = notified.clone();
    let agents = super::agents_online(&cfg.url, cfg.agents, &cfg.who, move |f, now| {
        if f.kind == "conversation" {
            if let Some(c) = &f.conversation {
                book.lock().unwrap().entry(c.id).or_insert(now);
            }
        }
    })
    .await?;
    let mut links = worker::start(
        &cfg.spread,
        &cfg.url,
        |_, _| Task::Churn {
            rate: cfg.rate,
            duration_ms: cfg.duration.as_millis() as u64,
        },
        |job, ctl| Box::pin(worker(job, ctl)),
    )
    .await?;
    let (_, outcomes) = worker::run_all(&mut links, Duration::from_millis(100)).await?;
    let mut welcome = Vec::new();
    let mut arrivals = Vec::new();
    for o in outcomes {
        welcome.extend(o.welcome_ns);
        arrivals.extend(o.arrivals);
    }
    // Let the last notifications arrive.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let all = {
            let n = notified.lock().unwrap();
            arrivals.iter().all(|(c, _)| n.contains_key(c))
        };
        if all || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker::stop(&links);
    for a in agents {
        a.abort();
    }
    let n = notified.lock().unwrap();
    let notify: Vec<u64> = arrivals
        .iter()
        .filter_map(|(c, begin)| n.get(c).map(|at| at.saturating_sub(*begin)))
        .collect();
    Ok(ChurnReport {
        arrived: arrivals.len() as u64,
        notified: notify.len() as u64,
        welcome: histogram(&welcome)?,
        notify: histogram(&notify)?,
        config: cfg,
    })
}

/// This scenario's half in a worker.
pub(crate) async fn worker(job: &Job, ctl: &mut Control) -> anyhow::Result<()> {
    let Task::Churn { rate, duration_ms } = job.task else {
        unreachable!("a churn job")
    };
    ctl.ready();
    let start_ns = ctl.go().await?;
    let interval_ns = 1e9 / rate.max(0.001);
    let duration_ns = duration_ms * 1_000_000;
    // This worker takes arrivals index, index + of, index + 2·of, … of the schedule.
    let mut arrivals = Vec::new();
    let mut k = job.index as u64;
    loop {
        let offset = (interval_ns * k as f64) as u64;
        if offset >= duration_ns {
            break;
        }
        tokio::time::sleep_until(super::instant_at(start_ns + offset)).await;
        let (url, server, source) = (job.url.clone(), job.server, job.source);
        arrivals.push(tokio::task::spawn_local(async move {
            let begin = mono_ns();
            let (mut ws, _) = visitor_hello(&url, server, source).await?;
            let welcome = mono_ns() - begin;
            // The conversation (what agents hear of) comes with the first message.
            let conv = super::first_message(&mut ws).await?;
            Ok::<_, anyhow::Error>((ws, conv, begin, welcome))
        }));
        k += job.of as u64;
    }
    let mut outcome = Outcome::default();
    let mut held = Vec::new();
    for a in arrivals {
        let (ws, conv, begin, welcome) = a.await??;
        outcome.welcome_ns.push(welcome);
        outcome.arrivals.push((conv, begin));
        held.push(super::keep_reading(ws));
    }
    outcome.connected = held.len();
    ctl.done_and_hold(outcome).await;
    for h in held {
        h.abort();
    }
    Ok(())
}
