//! The write path for messages. With a batch size above 1, one writer thread
//! gathers the messages that arrive within a short window (or until the batch
//! is full) and stores them in one transaction: one commit for many messages.
//! Each caller gets its answer only after its batch has committed, so an
//! acknowledgement still means "stored". Batch size 1 is the plain path: one
//! transaction per message, on the blocking pool.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::messages::{self, OwnedNewMessage, Stored};
use super::{Storage, StorageError, StorageResult};
use crate::domain::Clock;

struct Job {
    message: OwnedNewMessage,
    reply: oneshot::Sender<StorageResult<Stored>>,
}

#[derive(Clone)]
pub struct MessageWriter {
    storage: Storage,
    clock: Clock,
    batched: Option<mpsc::Sender<Job>>,
}

impl MessageWriter {
    pub fn start(storage: Storage, clock: Clock, batch: usize, window: Duration) -> Self {
        if batch <= 1 {
            return Self {
                storage,
                clock,
                batched: None,
            };
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let (st, ck) = (storage.clone(), clock.clone());
        std::thread::Builder::new()
            .name("livedesk-writer".into())
            .spawn(move || write_loop(rx, st, ck, batch, window))
            .expect("spawn writer thread");
        Self {
            storage,
            clock,
            batched: Some(tx),
        }
    }

    pub async fn insert(&self, message: OwnedNewMessage) -> StorageResult<Stored> {
        match &self.batched {
            None => {
                let now = self.clock.now_naive();
                self.storage
                    .run(move |db| messages::insert(db, &message.borrow(), now))
                    .await
            }
            Some(tx) => {
                let (reply, answer) = oneshot::channel();
                tx.send(Job { message, reply })
                    .map_err(|_| StorageError::Blocking("message writer stopped".into()))?;
                answer.await.map_err(|_| {
                    StorageError::Blocking("message writer dropped a message".into())
                })?
            }
        }
    }
}

fn write_loop(
    rx: mpsc::Receiver<Job>,
    storage: Storage,
    clock: Clock,
    batch: usize,
    window: Duration,
) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        let deadline = Instant::now() + window;
        while jobs.len() < batch {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(j) => jobs.push(j),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let msgs: Vec<OwnedNewMessage> = jobs.iter().map(|j| j.message.clone()).collect();
        let outcome = storage
            .conn()
            .and_then(|mut c| messages::insert_batch(&mut c, &msgs, clock.now_naive()));
        match outcome {
            Ok(results) => {
                for (job, r) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                // Nothing of this batch was stored: every sender is told, and resends are safe.
                tracing::error!(error = %e, size = msgs.len(), "storing a batch of messages failed");
                let text = e.to_string();
                for job in jobs {
                    let _ = job.reply.send(Err(StorageError::Blocking(text.clone())));
                }
            }
        }
    }
}
