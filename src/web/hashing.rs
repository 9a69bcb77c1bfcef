//! Password hashing off the async workers, a few at a time. One argon2id
//! hash takes ~19 MiB and tens of ms of a core: a burst of sign-ins must not
//! take every core and hundreds of MiB (nor hold database connections while
//! it hashes). The rest wait their turn, briefly, or are told to try again
//! (503, a page in their language).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::error::WebError;
use crate::domain::password;

pub struct Hasher {
    permits: Arc<Semaphore>,
    /// How long a hash may wait for its turn.
    wait: Duration,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl Hasher {
    pub fn new(at_once: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(at_once.max(1))),
            wait,
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// As many at once as the machine has cores.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores, Duration::from_secs(10))
    }

    /// `password::verify_password`, in its turn.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, WebError> {
        self.run(move || password::verify_password(&password, stored.as_deref()))
            .await
    }

    /// `password::hash_password`, in its turn.
    pub async fn hash(&self, password: String) -> Result<String, WebError> {
        self.run(move || password::hash_password(&password)).await
    }

    /// The most hashes that ever ran at once (for tests and metrics).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WebError> {
        let busy = || WebError::Unavailable("password hashing is busy");
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let done = tokio::task::spawn_blocking(f).await;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        drop(permit);
        done.map_err(|_| busy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_allowed_at_once_and_the_rest_wait_or_are_refused() {
        let h = Arc::new(Hasher::new(2, Duration::from_secs(30)));
        let stored = password::hash_password("right");
        let all: Vec<_> = (0..8)
            .map(|i| {
                let (h, s) = (h.clone(), stored.clone());
                let pw = if i % 2 == 0 { "right" } else { "wrong" };
                tokio::spawn(async move { h.verify(pw.into(), Some(s)).await.unwrap() })
            })
            .collect();
        let mut results = Vec::new();
        for t in all {
            results.push(t.await.unwrap());
        }
        assert_eq!(
            results,
            [true, false, true, false, true, false, true, false]
        );
        assert_eq!(h.peak(), 2);
        // With no time to wait and every permit taken: refused, not queued.
        let quick = Hasher::new(1, Duration::ZERO);
        let _held = quick.permits.clone().acquire_owned().await.unwrap();
        assert!(matches!(
            quick.hash("x".into()).await,
            Err(WebError::Unavailable(_))
        ));
    }
}
