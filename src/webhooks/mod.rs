//! Webhooks: every node turns the outbox into deliveries and sends the
//! deliveries that are due, signed, on a thread of its own (an HTTP client
//! waiting on somebody else's server must never hold up the chat).
//!
//! At least once: a delivery is marked delivered only after a 2xx; a node
//! that dies mid-send leaves a lease that runs out, and another node (or
//! the same, restarted) sends it again with the same `X-Livedesk-Delivery`.

pub mod client;
pub mod outbox;

use std::time::Duration;

use crate::domain::signing::{backoff, webhook_signature};
use crate::domain::Clock;
use crate::storage::webhooks::{self, Claimed, Outcome};
use crate::storage::Storage;

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Deliver to loopback, private and link-local addresses too.
    pub allow_private: bool,
    /// A delivery failing for longer than this is given up.
    pub retry_for: Duration,
    /// One request's limit.
    pub timeout: Duration,
}

/// How often the outbox and the due deliveries are looked at.
const TICK: Duration = Duration::from_millis(250);
/// Deliveries claimed at once.
const CLAIM: i64 = 32;

/// Starts the webhook thread; stop it with the returned system.
pub fn start(storage: Storage, clock: Clock, cfg: WebhookConfig) -> actix::System {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("livedesk-webhooks".into())
        .spawn(move || {
            let sys = actix::System::new();
            sys.block_on(async move {
                let _ = tx.send(actix::System::current());
                actix_rt::spawn(run(storage, clock, cfg));
            });
            let _ = sys.run();
        })
        .expect("spawn the webhook thread");
    rx.recv().expect("webhook thread started")
}

async fn run(storage: Storage, clock: Clock, cfg: WebhookConfig) {
    let http = client::client(cfg.timeout, cfg.allow_private);
    loop {
        let busy = tick(&storage, &clock, &cfg, &http).await;
        if !busy {
            tokio::time::sleep(TICK).await;
        }
    }
}

/// One round: fan out, then send what is due. True when there was work
/// (more may be waiting: go again at once).
async fn tick(storage: &Storage, clock: &Clock, cfg: &WebhookConfig, http: &awc::Client) -> bool {
    let now = clock.now_naive();
    let fanned = match storage.run(move |db| outbox::fan_out(db, now)).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "webhook outbox: not read this time");
            0
        }
    };
    // A claim outlives the request it is for: past it, another node (or
    // this one, restarted after dying mid-send) sends the delivery again.
    let lease =
        chrono::Duration::from_std(cfg.timeout * 2 + Duration::from_secs(5)).unwrap_or_default();
    let claimed = match storage
        .run(move |db| webhooks::claim(db, now, lease, CLAIM))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "webhook deliveries: none claimed this time");
            Vec::new()
        }
    };
    let sent = claimed.len();
    let sends = claimed
        .into_iter()
        .map(|c| deliver(storage, clock, cfg, http, c));
    futures_util::future::join_all(sends).await;
    fanned > 0 || sent > 0
}

/// Sends one delivery and records how it went.
async fn deliver(
    storage: &Storage,
    clock: &Clock,
    cfg: &WebhookConfig,
    http: &awc::Client,
    c: Claimed,
) {
    let d = &c.delivery;
    let now = clock.now();
    let ts = now.timestamp();
    let secrets: Vec<&str> = c.secrets.iter().map(String::as_str).collect();
    let headers = [
        ("X-Livedesk-Delivery", d.delivery_id.clone()),
        ("X-Livedesk-Timestamp", ts.to_string()),
        ("X-Livedesk-Event", d.kind.clone()),
        (
            "X-Livedesk-Signature",
            webhook_signature(&secrets, ts, d.body.as_bytes()),
        ),
    ];
    let answer = client::post(http, &c.url, &headers, d.body.clone(), cfg.allow_private).await;
    let now = clock.now_naive();
    let outcome = match answer {
        Ok(code) if (200..300).contains(&code) => Outcome::Delivered { code },
        failed => {
            let (code, error) = match failed {
                Ok(code) => (Some(code), format!("answered {code}")),
                Err(e) => (None, e),
            };
            let attempts = u32::try_from(d.attempts).unwrap_or(0) + 1;
            let retry_at = now
                + chrono::Duration::from_std(backoff(attempts, rand::random())).unwrap_or_default();
            let give_up = chrono::Duration::from_std(cfg.retry_for).unwrap_or_default();
            let retry_at = (retry_at - d.created_at < give_up).then_some(retry_at);
            tracing::info!(
                delivery_id = %d.delivery_id, webhook_id = d.webhook_id, attempts,
                error = %error, given_up = retry_at.is_none(), "webhook delivery failed"
            );
            Outcome::Failed {
                code,
                error,
                retry_at,
            }
        }
    };
    let id = d.id;
    if let Err(e) = storage
        .run(move |db| webhooks::finish(db, id, &outcome, now))
        .await
    {
        // The lease runs out and it is sent again: at least once.
        tracing::warn!(error = %e, delivery = id, "webhook delivery: outcome not recorded");
    }
}
