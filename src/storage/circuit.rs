//! The database circuit: once connecting to the database fails, every
//! caller is answered "unavailable" at once instead of each waiting out the
//! pool's timeout; one caller at a time probes, every `RETRY`, and the first
//! connection that works closes the circuit again. Plain rules over
//! `Instant`s; the pool reports to it (`storage::connection`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the circuit stays open before the next probe.
pub const RETRY: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    /// One caller is finding out whether the database is back.
    Probing {
        since: Instant,
    },
}

/// What a caller may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Go,
    /// Go, as the one probe: report the outcome.
    Probe,
    /// Fail at once: the database is unreachable.
    Refuse,
}

#[derive(Debug)]
pub struct Circuit(Mutex<State>);

impl Default for Circuit {
    fn default() -> Self {
        Self(Mutex::new(State::Closed))
    }
}

impl Circuit {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn admit(&self, now: Instant) -> Admit {
        let mut s = self.state();
        match *s {
            State::Closed => Admit::Go,
            State::Open { until } if now >= until => {
                *s = State::Probing { since: now };
                Admit::Probe
            }
            // A probe that never reported (its caller went away): another may try.
            State::Probing { since } if now >= since + RETRY * 8 => {
                *s = State::Probing { since: now };
                Admit::Probe
            }
            State::Open { .. } | State::Probing { .. } => Admit::Refuse,
        }
    }

    /// Connecting failed (the pool says so for every attempt).
    pub fn failed(&self, now: Instant) {
        let mut s = self.state();
        if *s == State::Closed {
            tracing::error!("the database is unreachable: answering unavailable until it is back");
        }
        *s = State::Open { until: now + RETRY };
    }

    /// A connection worked.
    pub fn worked(&self) {
        let mut s = self.state();
        if *s != State::Closed {
            tracing::info!("the database is reachable again");
        }
        *s = State::Closed;
    }

    /// Whether callers are being turned away now.
    pub fn is_open(&self) -> bool {
        *self.state() != State::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_failure_refuses_then_lets_one_probe_through() {
        let c = Circuit::default();
        let t0 = Instant::now();
        assert_eq!(c.admit(t0), Admit::Go);
        c.failed(t0);
        assert!(c.is_open());
        assert_eq!(c.admit(t0 + RETRY / 2), Admit::Refuse);
        // One probe when the time comes; the others still refused.
        assert_eq!(c.admit(t0 + RETRY), Admit::Probe);
        assert_eq!(c.admit(t0 + RETRY), Admit::Refuse);
        // It failed: open again, a new wait.
        c.failed(t0 + RETRY);
        assert_eq!(c.admit(t0 + RETRY + RETRY / 2), Admit::Refuse);
        assert_eq!(c.admit(t0 + RETRY * 2), Admit::Probe);
        c.worked();
        assert!(!c.is_open());
        assert_eq!(c.admit(t0 + RETRY * 2), Admit::Go);
    }

    #[test]
    fn a_probe_that_never_reports_is_replaced() {
        let c = Circuit::default();
        let t0 = Instant::now();
        c.failed(t0);
        assert_eq!(c.admit(t0 + RETRY), Admit::Probe);
        assert_eq!(c.admit(t0 + RETRY * 2), Admit::Refuse);
        assert_eq!(c.admit(t0 + RETRY * 9), Admit::Probe);
    }
}
