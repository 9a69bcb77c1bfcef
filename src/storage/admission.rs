//! Admission control for messages on their way to storage.
//!
//! A message takes a place when a socket accepts it and gives it back once
//! its sender has its answer. It is refused at once (`Unavailable`; the
//! client sends it again with the same `client_id`) when taking it would
//! make it wait longer than `max_delay`, or when `limit` places are taken.
//! Queued, it would only wait longer than a client waits, and everything
//! behind it longer still.
//!
//! How long a new message would wait is what is in flight over the pace at
//! which answers come back (Little's law): with places given back at `r`
//! per second, at most `r × max_delay` are taken (never fewer than `FLOOR`,
//! so a quiet node takes a burst while its pace is learnt). The pace is
//! measured from acceptance to answer, so it covers the writer, the
//! database, and the socket threads that send a message on and take its
//! answer back. A fixed count cannot do this (2,048 messages are 0.1 s at
//! one pace and 2 s at another), and neither can the delay of the answers
//! themselves: it is known only once they are back, so admission swung
//! between letting thousands in and refusing everyone.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{StorageError, StorageResult};

/// What an overloaded node answers at once, instead of queueing.
pub const BUSY: &str = "the server is busy";

/// Places that may always be taken, whatever the measured pace.
pub const FLOOR: usize = 256;

/// How often the pace is measured, and how much each measure counts.
const EVERY: Duration = Duration::from_millis(50);
const WEIGHT: f64 = 0.2;

#[derive(Debug)]
struct Inner {
    taken: AtomicUsize,
    /// Places given back, ever.
    answered: AtomicU64,
    /// Places that may be taken now (from the pace).
    allowed: AtomicUsize,
    pace: Mutex<Pace>,
    limit: usize,
    max_delay: Option<Duration>,
    /// When a place was last given back, in µs since `born`.
    answered_at_us: AtomicU64,
    born: Instant,
}

#[derive(Debug)]
struct Pace {
    at: Instant,
    answered: u64,
    per_sec: f64,
}

/// The places of one node's message writer.
#[derive(Clone, Debug)]
pub struct Waiting(Arc<Inner>);

impl Default for Waiting {
    /// No admission control.
    fn default() -> Self {
        Self::new(0, None)
    }
}

/// One place, given back when dropped.
pub struct Place {
    of: Arc<Inner>,
    /// False for a place that was refused.
    counted: bool,
}

impl Drop for Place {
    fn drop(&mut self) {
        if self.counted {
            self.of.answered.fetch_add(1, Ordering::Relaxed);
            let us = self.of.born.elapsed().as_micros() as u64;
            self.of.answered_at_us.store(us, Ordering::Relaxed);
        }
        self.of.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Waiting {
    /// `limit` places at most (0: no limit); `max_delay` as above (None: none).
    pub fn new(limit: usize, max_delay: Option<Duration>) -> Self {
        Self::born_at(limit, max_delay, Instant::now())
    }

    fn born_at(limit: usize, max_delay: Option<Duration>, born: Instant) -> Self {
        Self(Arc::new(Inner {
            taken: AtomicUsize::new(0),
            answered: AtomicU64::new(0),
            allowed: AtomicUsize::new(FLOOR),
            pace: Mutex::new(Pace {
                at: Instant::now(),
                answered: 0,
                per_sec: 0.0,
            }),
            limit,
            max_delay,
            answered_at_us: AtomicU64::new(0),
            born,
        }))
    }

    pub fn max_delay(&self) -> Option<Duration> {
        self.0.max_delay
    }

    /// Would a message be refused now? (A look; it takes no place.)
    pub fn full(&self) -> bool {
        self.refuses(self.0.taken.load(Ordering::Acquire), Instant::now())
    }

    /// Is the node behind: half its places taken, or nothing answered for
    /// longer than a message may wait while some wait (stuck)? A message
    /// that waited its turn long is refused only then: on a node that keeps
    /// up, a client's own burst simply takes its time.
    pub fn behind(&self) -> bool {
        let i = &self.0;
        let Some(max) = i.max_delay else { return false };
        let taken = i.taken.load(Ordering::Acquire);
        let quiet_us = (i.born.elapsed().as_micros() as u64)
            .saturating_sub(i.answered_at_us.load(Ordering::Relaxed));
        (i.limit > 0 && taken >= i.limit / 2)
            || taken >= self.allowed(Instant::now()) / 2
            || (taken > 0 && quiet_us > max.as_micros() as u64)
    }

    /// A place for one message, or `Unavailable` at once.
    pub fn enter(&self) -> StorageResult<Place> {
        self.enter_at(Instant::now())
    }

    fn enter_at(&self, now: Instant) -> StorageResult<Place> {
        let before = self.0.taken.fetch_add(1, Ordering::AcqRel);
        let mut place = Place {
            of: self.0.clone(),
            counted: false,
        };
        if self.refuses(before, now) {
            return Err(StorageError::Unavailable(BUSY));
        }
        place.counted = true;
        Ok(place)
    }

    fn refuses(&self, taken: usize, now: Instant) -> bool {
        let i = &self.0;
        if i.limit > 0 && taken >= i.limit {
            return true;
        }
        i.max_delay.is_some() && taken >= self.allowed(now)
    }

    /// Places that may be taken: the pace times the delay, measured again
    /// once per `EVERY` by whichever caller comes first.
    fn allowed(&self, now: Instant) -> usize {
        let i = &self.0;
        if let (Some(max), Ok(mut p)) = (i.max_delay, i.pace.try_lock()) {
            let dt = now.saturating_duration_since(p.at);
            if dt >= EVERY {
                let answered = i.answered.load(Ordering::Relaxed);
                let now_per_sec = (answered - p.answered) as f64 / dt.as_secs_f64();
                // A long quiet spell is one measure, not many.
                p.per_sec += (now_per_sec - p.per_sec) * WEIGHT;
                p.at = now;
                p.answered = answered;
                let allowed = (p.per_sec * max.as_secs_f64()) as usize;
                i.allowed.store(allowed.max(FLOOR), Ordering::Relaxed);
            }
        }
        i.allowed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_limit_refuses_past_it_and_takes_again_when_a_place_is_given_back() {
        let w = Waiting::new(2, None);
        let a = w.enter().unwrap();
        let _b = w.enter().unwrap();
        assert!(w.full());
        assert!(w.enter().is_err());
        drop(a);
        assert!(!w.full());
        assert!(w.enter().is_ok());
    }

    /// Places taken and given back at `per_sec` for `secs`, on a made-up clock.
    fn run_at(w: &Waiting, t0: Instant, per_sec: u64, secs: u64) -> Instant {
        let (mut now, steps) = (
            t0,
            (Duration::from_secs(1).as_millis() / EVERY.as_millis()) as u64,
        );
        for _ in 0..secs * steps {
            now += EVERY;
            for _ in 0..per_sec / steps {
                drop(w.enter_at(now).unwrap());
            }
        }
        now
    }

    #[test]
    fn the_places_follow_the_pace_times_the_delay() {
        let w = Waiting::new(0, Some(Duration::from_millis(100)));
        let now = run_at(&w, Instant::now(), 20_000, 5);
        // 20,000 a second for 0.1 s: about 2,000 may wait.
        let held: Vec<Place> = (0..1_900).map(|_| w.enter_at(now).unwrap()).collect();
        let more: Vec<_> = (0..200).map(|_| w.enter_at(now)).collect();
        let taken = more.iter().filter(|r| r.is_ok()).count();
        assert!(
            (95..=100).contains(&taken),
            "past ~2,000 it refuses: {taken}"
        );
        drop(more);
        drop(held);
    }

    #[test]
    fn a_slow_pace_admits_few_and_a_stuck_one_no_more_than_the_floor() {
        let w = Waiting::new(0, Some(Duration::from_millis(100)));
        let now = run_at(&w, Instant::now(), 1_000, 5);
        // 1,000 a second: 100 would be 0.1 s, but the floor lets a burst in.
        let held: Vec<Place> = (0..FLOOR).map(|_| w.enter_at(now).unwrap()).collect();
        assert!(w.enter_at(now).is_err());
        // Nothing comes back for a while: still the floor, no more.
        let later = now + Duration::from_secs(5);
        assert!(w.enter_at(later).is_err());
        drop(held);
        assert!(w.enter_at(later).is_ok());
    }

    #[test]
    fn behind_when_half_full_or_stuck_not_when_one_is_being_stored() {
        let w = Waiting::new(0, Some(Duration::from_millis(100)));
        let one = w.enter().unwrap();
        assert!(!w.behind(), "one message in flight on a quiet node");
        let many: Vec<Place> = (0..FLOOR / 2).map(|_| w.enter().unwrap()).collect();
        assert!(w.behind(), "half the places taken");
        drop(many);
        drop(one);
        // A node started 500 ms ago that has answered nothing since, with one waiting: stuck.
        let stuck = Waiting::born_at(
            0,
            Some(Duration::from_millis(100)),
            Instant::now() - Duration::from_millis(500),
        );
        let _held = stuck.enter().unwrap();
        assert!(stuck.behind());
    }

    #[test]
    fn without_a_delay_only_the_count_limits() {
        let w = Waiting::new(0, None);
        let held: Vec<Place> = (0..10 * FLOOR).map(|_| w.enter().unwrap()).collect();
        assert!(!w.full());
        drop(held);
    }
}
