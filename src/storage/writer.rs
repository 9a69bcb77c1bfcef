//! The write path for messages. With a batch size above 1, one writer thread
//! gathers the messages that arrive within a short window (or until the batch
//! is full) and stores them in one transaction: one commit for many messages.
//! Each caller gets its answer only after its batch has committed, so an
//! acknowledgement still means "stored". Batch size 1 is the plain path: one
//! transaction per message, on the blocking pool.
//!
//! The caller also hands in what to do once its message is stored (the chat
//! layer passes "deliver it"). That runs on the committing thread, in
//! commit order, before the caller is woken: delivery does not wait for the
//! sender's thread to be scheduled first. It must not block.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::connection::PooledConn;
use super::messages::{self, Message, OwnedNewMessage, Stored};
use super::{Storage, StorageError, StorageResult};
use crate::domain::Clock;

/// Runs right after a message is known to be stored: newly committed, or
/// found stored already (a resend, whose first answer may have been lost).
pub type OnCommit = Box<dyn FnOnce(&Message) + Send>;

struct Job {
    message: OwnedNewMessage,
    on_commit: OnCommit,
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

    pub async fn insert(
        &self,
        message: OwnedNewMessage,
        on_commit: impl FnOnce(&Message) + Send + 'static,
    ) -> StorageResult<Stored> {
        match &self.batched {
            None => {
                let now = self.clock.now_naive();
                self.storage
                    .run(move |db| {
                        let stored = messages::insert(db, &message.borrow(), now)?;
                        on_commit(stored.message());
                        Ok(stored)
                    })
                    .await
            }
            Some(tx) => {
                let (reply, answer) = oneshot::channel();
                let on_commit = Box::new(on_commit);
                tx.send(Job {
                    message,
                    on_commit,
                    reply,
                })
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
    // While messages keep coming, the writer keeps its connection (no pool
    // checkout, no validity query per batch); it gives it back when idle.
    let mut held: Option<PooledConn> = None;
    let mut next: Option<Job> = None;
    loop {
        let first = match next.take() {
            Some(j) => j,
            None => {
                held = None;
                match rx.recv() {
                    Ok(j) => j,
                    Err(_) => return,
                }
            }
        };
        let mut jobs = vec![first];
        let deadline = Instant::now() + window;
        while jobs.len() < batch {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(j) => jobs.push(j),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let msgs: Vec<OwnedNewMessage> = jobs.iter().map(|j| j.message.clone()).collect();
        let now = clock.now_naive();
        let mut outcome = Err(StorageError::Blocking("not tried".into()));
        // A second try on a fresh connection hides a connection that broke
        // while held (say, the database restarted). Safe to repeat: a message
        // committed by the first try comes back as a duplicate of itself.
        for _ in 0..2 {
            let conn = match held.take() {
                Some(c) => Ok(c),
                None => storage.conn(),
            };
            outcome = conn.and_then(|mut c| {
                let r = messages::insert_batch(&mut c, &msgs, now);
                if r.is_ok() {
                    held = Some(c);
                }
                r
            });
            if outcome.is_ok() {
                break;
            }
        }
        match outcome {
            Ok(results) => {
                for (job, r) in jobs.into_iter().zip(results) {
                    if let Ok(stored) = &r {
                        (job.on_commit)(stored.message());
                    }
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                // Every sender is told to send again; that is safe whether or
                // not a try committed (a resend comes back as a duplicate).
                tracing::error!(error = %e, size = msgs.len(), "storing a batch of messages failed");
                let text = e.to_string();
                for job in jobs {
                    let _ = job.reply.send(Err(StorageError::Blocking(text.clone())));
                }
            }
        }
        next = rx.try_recv().ok();
    }
}
