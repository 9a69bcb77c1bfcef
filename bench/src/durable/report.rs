//! A durable run's report: what was sent, acknowledged, delivered and
//! stored, the latencies, and whether every check passed.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::DurableConfig;
use crate::quantiles;

pub struct Report {
    pub config: DurableConfig,
    /// Of `sent`, the warm-up messages.
    pub warm: u64,
    pub sent: u64,
    pub acked: u64,
    pub errors: u64,
    /// Refused at once (`unavailable`): the server shed them; none stored.
    pub refused: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Conversations whose deliveries differ from their acknowledgements.
    pub delivery_problems: Vec<String>,
    /// Problems found in the database (empty when it matches exactly).
    pub storage_problems: Vec<String>,
    pub checked_storage: bool,
    pub elapsed: Duration,
    /// The source addresses the visitors connected from.
    pub sources: Vec<std::net::IpAddr>,
    pub ack: Histogram<u64>,
    pub delivery: Histogram<u64>,
    /// p99 send→delivery of the messages sent in each second of the run:
    /// shows whether a tail is spread out or comes from one moment.
    pub delivery_p99_per_second: Vec<f64>,
}

impl Report {
    pub fn correct(&self) -> bool {
        self.sent > 0
            && self.acked + self.refused == self.sent
            && self.delivered == self.acked
            && self.duplicates == 0
            && self.out_of_order == 0
            && self.errors == 0
            && self.delivery_problems.is_empty()
            && self.storage_problems.is_empty()
    }

    pub fn throughput(&self) -> f64 {
        self.acked.saturating_sub(self.warm) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn command(&self) -> String {
        let c = &self.config;
        let mut s = format!(
            "livedesk-bench durable --url {} --visitors {} --agents {} --rate {} --duration {} --workers {}",
            c.url,
            c.visitors,
            c.agents,
            c.rate,
            c.duration.as_secs(),
            c.spread.workers
        );
        if !c.warmup.is_zero() {
            s.push_str(&format!(" --warmup {}", c.warmup.as_secs()));
        }
        if let Some(a) = &c.agent_url {
            s.push_str(&format!(" --agent-url {a}"));
        }
        if c.database_url.is_some() {
            s.push_str(" --database-url <url>");
        }
        s
    }

    pub fn render(&self) -> String {
        let c = &self.config;
        let mut out = format!(
            "durable throughput: {} visitors, {} agents, {} msg/s each for {} s (offered {:.0} msg/s), {}\n",
            c.visitors,
            c.agents,
            c.rate,
            c.duration.as_secs(),
            c.rate * c.visitors as f64,
            c.spread.describe()
        );
        if self.warm > 0 {
            out += &format!(
                "  warm-up: {} conversations opened over {} s before the measured period (checked, not timed)\n",
                self.warm,
                c.warmup.as_secs()
            );
        }
        out += &format!(
            "  sent {}  acked {}  refused {}  delivered {}  errors {}  -> {:.0} msg/s acknowledged\n",
            self.sent,
            self.acked,
            self.refused,
            self.delivered,
            self.errors,
            self.throughput()
        );
        out += &format!("  send->ack       {}\n", quantiles(&self.ack));
        out += &format!("  send->delivery  {}\n", quantiles(&self.delivery));
        let seconds: Vec<String> = self
            .delivery_p99_per_second
            .iter()
            .map(|ms| format!("{ms:.1}"))
            .collect();
        out += &format!(
            "  send->delivery p99 per second of sending (ms): {}\n",
            seconds.join(" ")
        );
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
            "  correctness: {} (duplicates {}, out of order {}{}); {}\n",
            if self.correct() { "OK" } else { "FAILED" },
            self.duplicates,
            self.out_of_order,
            if self.delivery_problems.is_empty() {
                String::new()
            } else {
                format!(", {}", self.delivery_problems.join("; "))
            },
            storage
        );
        out += &format!("  reproduce: {}\n", self.command());
        out
    }
}
