//! Durable throughput: V visitors send at a fixed open-loop rate to A agents;
//! send→ack and send→delivery are measured, and every acknowledged message
//! must be stored once and delivered once, in `seq` order.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::worker::{self, Control, Job, Outcome, Spread, Task};
use super::{body, histogram, mono_ns, sent_at, visitor_hello, Credentials, Frame};
use livedesk::domain::ConversationId;
use livedesk::storage::{messages, DatabaseUrl, Storage};

mod report;
pub use report::Report;

#[derive(Debug, Clone)]
pub struct DurableConfig {
    /// Where the visitors connect.
    pub url: String,
    /// Where the agents sign in and connect (another node of a cluster);
    /// `None`: the same as `url`.
    pub agent_url: Option<String>,
    pub visitors: usize,
    pub agents: usize,
    /// Messages per second each visitor sends (open loop: on schedule, whatever the answers).
    pub rate: f64,
    pub duration: Duration,
    /// Before the measured period, each visitor sends one message (opening
    /// its conversation), spread evenly over this long: checked like every
    /// other message, but neither timed nor counted in the throughput. Zero:
    /// the first measured message of each visitor opens its conversation.
    pub warmup: Duration,
    pub who: Credentials,
    /// When given, the stored transcripts are checked against what was acknowledged.
    pub database_url: Option<String>,
    pub drain_timeout: Duration,
    pub spread: Spread,
}

/// What the agents received.
#[derive(Default)]
struct Deliveries {
    delivered: u64,
    duplicates: u64,
    out_of_order: u64,
    seen: HashSet<(i64, i64)>,
    /// conversation -> (count, last seq)
    per_conversation: HashMap<i64, (u64, i64)>,
    delivery_ns: Vec<u64>,
    /// (send time, latency) of each delivery.
    delivery_at: Vec<(u64, u64)>,
}

pub async fn durable(cfg: DurableConfig) -> anyhow::Result<Report> {
    let got: Arc<Mutex<Deliveries>> = Arc::default();
    let sink = got.clone();
    // Agents first, so every conversation is assigned at once.
    let agent_url = cfg.agent_url.as_deref().unwrap_or(&cfg.url);
    let agents = super::agents_online(agent_url, cfg.agents, &cfg.who, move |f, now| {
        if f.kind != "message" {
            return;
        }
        let Some(m) = f.message() else { return };
        let mut d = sink.lock().unwrap();
        if !d.seen.insert((m.conversation_id, m.seq)) {
            d.duplicates += 1;
            return;
        }
        let entry = d.per_conversation.entry(m.conversation_id).or_default();
        let in_order = m.seq > entry.1;
        *entry = (entry.0 + 1, m.seq);
        if !in_order {
            d.out_of_order += 1;
        }
        d.delivered += 1;
        if let Some(at) = sent_at(&m.body) {
            d.delivery_ns.push(now.saturating_sub(at));
            d.delivery_at.push((at, now.saturating_sub(at)));
        }
    })
    .await?;

    let (v, total) = (cfg.visitors, cfg.visitors.max(1));
    let mut links = worker::start(
        &cfg.spread,
        &cfg.url,
        |i, of| Task::Durable {
            first: i * v / of,
            count: (i + 1) * v / of - i * v / of,
            total,
            rate: cfg.rate,
            duration_ms: cfg.duration.as_millis() as u64,
            drain_ms: cfg.drain_timeout.as_millis() as u64,
            warmup_ms: cfg.warmup.as_millis() as u64,
            database_url: cfg.database_url.clone(),
        },
        |job, ctl| Box::pin(worker(job, ctl)),
    )
    .await?;
    let (start_ns, outcomes) = worker::run_all(&mut links, Duration::from_millis(100)).await?;

    let mut total_out = Outcome::default();
    let mut acked_per_conversation = Vec::new();
    for o in outcomes {
        total_out.sent += o.sent;
        total_out.warm += o.warm;
        total_out.acked += o.acked;
        total_out.errors += o.errors;
        total_out.refused += o.refused;
        total_out.ack_ns.extend(o.ack_ns);
        total_out.last_ack_ns = total_out.last_ack_ns.max(o.last_ack_ns);
        total_out.checked_storage |= o.checked_storage;
        total_out.storage_problems.extend(o.storage_problems);
        acked_per_conversation.extend(o.acked_per_conversation);
        total_out.sources.extend(o.sources);
    }
    // Every acknowledged message must reach an agent (or the drain timeout ends the wait).
    let deadline = tokio::time::Instant::now() + cfg.drain_timeout;
    while got.lock().unwrap().delivered < total_out.acked && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker::stop(&links);
    for a in agents {
        a.abort();
    }

    let d = std::mem::take(&mut *got.lock().unwrap());
    let mut delivery_problems = Vec::new();
    for (conv, count, last) in &acked_per_conversation {
        let (got_count, got_last) = d.per_conversation.get(conv).copied().unwrap_or_default();
        if (got_count, got_last) != (*count, *last) {
            delivery_problems.push(format!(
                "conversation {conv}: {count} acknowledged up to seq {last}, {got_count} delivered up to seq {got_last}"
            ));
        }
    }
    delivery_problems.truncate(5);
    Ok(Report {
        ack: histogram(&total_out.ack_ns)?,
        delivery: histogram(&d.delivery_ns)?,
        delivery_p99_per_second: p99_per_second(start_ns, &d.delivery_at)?,
        sent: total_out.sent,
        warm: total_out.warm,
        acked: total_out.acked,
        errors: total_out.errors,
        refused: total_out.refused,
        delivered: d.delivered,
        duplicates: d.duplicates,
        out_of_order: d.out_of_order,
        delivery_problems,
        storage_problems: total_out.storage_problems,
        checked_storage: total_out.checked_storage,
        sources: {
            let mut s = total_out.sources;
            s.sort();
            s.dedup();
            s
        },
        elapsed: Duration::from_nanos(total_out.last_ack_ns.saturating_sub(start_ns)),
        config: cfg,
    })
}

fn p99_per_second(start_ns: u64, samples: &[(u64, u64)]) -> anyhow::Result<Vec<f64>> {
    let mut seconds: Vec<Vec<u64>> = Vec::new();
    for &(at, latency) in samples {
        let s = (at.saturating_sub(start_ns) / 1_000_000_000) as usize;
        if seconds.len() <= s {
            seconds.resize_with(s + 1, Vec::new);
        }
        seconds[s].push(latency);
    }
    seconds
        .iter()
        .map(|v| Ok(super::ms(&histogram(v)?, 0.99)))
        .collect()
}

/// A worker's visitors.
#[derive(Default)]
struct Tally {
    sent: u64,
    warm: u64,
    acked: u64,
    errors: u64,
    refused: u64,
    ack_ns: Vec<u64>,
    /// conversation -> (client_id, seq) acknowledged
    acks: HashMap<i64, Vec<(String, i64)>>,
    last_ack_ns: u64,
}

/// This scenario's half in a worker.
pub(crate) async fn worker(job: &Job, ctl: &mut Control) -> anyhow::Result<()> {
    let Task::Durable {
        first,
        count,
        total,
        rate,
        duration_ms,
        drain_ms,
        warmup_ms,
        ref database_url,
    } = job.task
    else {
        unreachable!("a durable job")
    };
    let tally: Rc<RefCell<Tally>> = Rc::default();
    let progress = Rc::new(tokio::sync::Notify::new());

    // Visitors: connect and say hello (a few at a time); each socket is read
    // from then on (its reader also answers the server's pings).
    let mut sinks = Vec::with_capacity(count);
    let mut readers = Vec::with_capacity(count);
    let mut sources = Vec::new();
    let mut opened = futures_util::stream::iter(0..count)
        .map(|_| visitor_hello(&job.url, job.server, job.source))
        .buffered(32);
    while let Some(r) = opened.next().await {
        let (ws, _) = r.context("a visitor could not connect")?;
        if let Some(ip) = super::local_ip(&ws) {
            if !sources.contains(&ip) {
                sources.push(ip);
            }
        }
        let (tx, mut rx) = ws.split();
        let (tally, progress) = (tally.clone(), progress.clone());
        readers.push(tokio::task::spawn_local(async move {
            while let Some(Ok(m)) = rx.next().await {
                let now = mono_ns();
                let WsMessage::Text(t) = m else { continue };
                let Some(f) = Frame::parse(t.as_str()) else {
                    continue;
                };
                let mut tl = tally.borrow_mut();
                match &*f.kind {
                    "ack" => {
                        let Some(m) = f.message() else { continue };
                        tl.acked += 1;
                        tl.last_ack_ns = now;
                        if let Some(at) = sent_at(&m.body) {
                            tl.ack_ns.push(now.saturating_sub(at));
                        }
                        let cid = f.client_id.as_deref().unwrap_or("").to_owned();
                        tl.acks
                            .entry(m.conversation_id)
                            .or_default()
                            .push((cid, m.seq));
                        progress.notify_one();
                    }
                    // Refused at once for overload: not stored, and not an error of the run.
                    "error" if f.code.as_deref() == Some("unavailable") => {
                        tl.refused += 1;
                        progress.notify_one();
                    }
                    "error" => {
                        tl.errors += 1;
                        progress.notify_one();
                    }
                    _ => {}
                }
            }
        }));
        sinks.push(tx);
    }
    drop(opened);
    if warmup_ms > 0 {
        // Each visitor's first message, evenly spread; all answered before
        // the measured period. No send time in the body: not timed.
        let t0 = mono_ns();
        for (j, tx) in sinks.iter_mut().enumerate() {
            let at = t0 + warmup_ms * 1_000_000 * j as u64 / count.max(1) as u64;
            tokio::time::sleep_until(super::instant_at(at)).await;
            let text = format!(
                r#"{{"type":"message","client_id":"w{}","body":"warm-up"}}"#,
                first + j
            );
            let sent = tx.send(WsMessage::text(text)).await;
            let mut t = tally.borrow_mut();
            match sent {
                Ok(()) => {
                    t.sent += 1;
                    t.warm += 1;
                }
                Err(_) => t.errors += 1,
            }
        }
        settle(&tally, &progress, drain_ms).await;
    }
    ctl.ready();
    let start_ns = ctl.go().await?;

    let interval_ns = 1e9 / rate.max(0.001);
    let duration_ns = duration_ms * 1_000_000;
    let mut writers = Vec::with_capacity(count);
    for (j, mut tx) in sinks.into_iter().enumerate() {
        let i = first + j;
        let tally = tally.clone();
        // The visitors' schedules are spread over one interval.
        let phase = interval_ns * i as f64 / total as f64;
        writers.push(tokio::task::spawn_local(async move {
            let mut k: u64 = 0;
            loop {
                let offset = (phase + interval_ns * k as f64) as u64;
                if offset >= duration_ns {
                    break;
                }
                tokio::time::sleep_until(super::instant_at(start_ns + offset)).await;
                let text = format!(
                    r#"{{"type":"message","client_id":"b{i}-{k}","body":"{}"}}"#,
                    body(mono_ns(), i, k)
                );
                if tx.send(WsMessage::text(text)).await.is_err() {
                    // The socket is gone: a failure of the run, not a quiet stop.
                    tally.borrow_mut().errors += 1;
                    break;
                }
                tally.borrow_mut().sent += 1;
                k += 1;
            }
            tx
        }));
    }
    let mut sinks = Vec::with_capacity(count);
    for w in writers {
        sinks.push(w.await?);
    }
    settle(&tally, &progress, drain_ms).await;
    for r in readers {
        r.abort();
    }
    let t = std::mem::take(&mut *tally.borrow_mut());
    let mut storage_problems = Vec::new();
    if let Some(url) = database_url {
        let (url, acks) = (url.clone(), t.acks.clone());
        storage_problems = tokio::task::spawn_blocking(move || {
            let storage = Storage::connect(&DatabaseUrl::parse(&url)?, 1)?;
            check_storage(&storage, &acks)
        })
        .await??;
    }
    let outcome = Outcome {
        sent: t.sent,
        warm: t.warm,
        acked: t.acked,
        errors: t.errors,
        refused: t.refused,
        acked_per_conversation: t
            .acks
            .iter()
            .map(|(c, a)| {
                let last = a.iter().map(|(_, s)| *s).max().unwrap_or(0);
                (*c, a.len() as u64, last)
            })
            .collect(),
        ack_ns: t.ack_ns,
        last_ack_ns: t.last_ack_ns,
        checked_storage: database_url.is_some(),
        storage_problems,
        sources,
        ..Outcome::default()
    };
    ctl.done_and_hold(outcome).await;
    for mut s in sinks {
        let _ = s.close().await;
    }
    Ok(())
}

/// Waits for every acknowledgement (or error), or the drain timeout.
async fn settle(tally: &Rc<RefCell<Tally>>, progress: &tokio::sync::Notify, drain_ms: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(drain_ms);
    loop {
        let settled = {
            let t = tally.borrow();
            t.acked + t.errors + t.refused >= t.sent
        };
        if settled {
            break;
        }
        if tokio::time::timeout_at(deadline, progress.notified())
            .await
            .is_err()
        {
            break;
        }
    }
}

/// Every conversation must hold exactly its acknowledged messages, numbered 1..n.
pub(crate) fn check_storage(
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
