//! Limits per client address for visitors: open sockets at once, and new
//! conversations per minute. One address (a script, a bot) must not be able
//! to flood the agents with conversations or take every socket. `0` turns a
//! limit off (load tests, or a deployment behind one shared address).
//!
//! Counters live in memory per node; a node that restarts forgets them, which
//! only ever lets a little more through, never less.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};

/// New conversations are counted over this window.
const WINDOW_SECS: i64 = 60;

#[derive(Debug)]
pub struct VisitorLimits {
    sockets: Arc<Places>,
    opened: PerMinute<IpAddr>,
}

/// At most `max` places held at once per address; 0: no limit.
#[derive(Debug)]
pub struct Places {
    max: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// At most `max` events per key in any minute (a sliding window); 0: no limit.
#[derive(Debug)]
pub struct PerMinute<K> {
    max: usize,
    seen: Mutex<HashMap<K, VecDeque<DateTime<Utc>>>>,
}

impl<K: Hash + Eq> PerMinute<K> {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            seen: Mutex::default(),
        }
    }

    /// May `key` have another at `now`? Counts it when it may.
    pub fn take(&self, key: K, now: DateTime<Utc>) -> bool {
        if self.max == 0 {
            return true;
        }
        let mut m = lock(&self.seen);
        let since = now - Duration::seconds(WINDOW_SECS);
        let times = m.entry(key).or_default();
        while times.front().is_some_and(|t| *t <= since) {
            times.pop_front();
        }
        if times.len() >= self.max {
            return false;
        }
        times.push_back(now);
        // Keep the map small: forget keys whose window emptied.
        if m.len() > 10_000 {
            m.retain(|_, t| t.back().is_some_and(|last| *last > since));
        }
        true
    }
}

/// One of an address's places, given back when dropped.
#[derive(Debug)]
pub struct Place {
    of: Arc<Places>,
    ip: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut m = lock(&self.of.held);
        if let Some(n) = m.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

impl Places {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            held: Mutex::default(),
        })
    }

    /// A place for `ip`, or `None` when it holds all it may.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Place> {
        let mut m = lock(&self.held);
        let n = m.entry(ip).or_default();
        if self.max > 0 && *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Place {
            of: self.clone(),
            ip,
        })
    }

    pub fn held_by(&self, ip: IpAddr) -> usize {
        lock(&self.held).get(&ip).copied().unwrap_or(0)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl VisitorLimits {
    pub fn new(max_sockets: usize, max_new_per_minute: usize) -> Arc<Self> {
        Arc::new(Self {
            sockets: Places::new(max_sockets),
            opened: PerMinute::new(max_new_per_minute),
        })
    }

    /// A socket place for `ip`, or `None` when it has all it may have.
    pub fn open_socket(&self, ip: IpAddr) -> Option<Place> {
        self.sockets.take(ip)
    }

    /// May `ip` open another conversation at `now`? Counts it when it may.
    pub fn new_conversation(&self, ip: IpAddr, now: DateTime<Utc>) -> bool {
        self.opened.take(ip, now)
    }

    pub fn sockets_of(&self, ip: IpAddr) -> usize {
        self.sockets.held_by(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn sockets_per_address_are_capped_and_given_back() {
        let l = VisitorLimits::new(2, 0);
        let a = l.open_socket(ip("192.0.2.1")).unwrap();
        let _b = l.open_socket(ip("192.0.2.1")).unwrap();
        assert!(l.open_socket(ip("192.0.2.1")).is_none());
        // Another address is not affected.
        assert!(l.open_socket(ip("192.0.2.2")).is_some());
        drop(a);
        assert!(l.open_socket(ip("192.0.2.1")).is_some());
        assert_eq!(l.sockets_of(ip("192.0.2.2")), 0);
    }

    #[test]
    fn new_conversations_per_minute_slide() {
        let l = VisitorLimits::new(0, 3);
        let t0 = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let a = ip("2001:db8::1");
        for s in 0..3 {
            assert!(l.new_conversation(a, t0 + Duration::seconds(s)));
        }
        assert!(!l.new_conversation(a, t0 + Duration::seconds(30)));
        assert!(l.new_conversation(ip("2001:db8::2"), t0 + Duration::seconds(30)));
        // A minute after the first, it leaves the window: one more, not two.
        assert!(l.new_conversation(a, t0 + Duration::seconds(60)));
        assert!(!l.new_conversation(a, t0 + Duration::seconds(60)));
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let l = VisitorLimits::new(0, 0);
        let t = DateTime::from_timestamp(0, 0).unwrap();
        let held: Vec<_> = (0..1000)
            .map(|_| l.open_socket(ip("127.0.0.1")).unwrap())
            .collect();
        assert_eq!(l.sockets_of(ip("127.0.0.1")), 1000);
        assert!((0..1000).all(|_| l.new_conversation(ip("127.0.0.1"), t)));
        drop(held);
        assert_eq!(l.sockets_of(ip("127.0.0.1")), 0);
    }
}
