//! The write path for messages. With a batch size above 1, one writer thread
//! gathers the messages that arrive within a short window (or until the batch
//! is full) and stores them in one transaction: one commit for many messages.
//! Each caller gets its answer only after its batch has committed, so an
//! acknowledgement still means "stored". Batch size 1 is the plain path: one
//! transaction per message, on the blocking pool.
//!
//! New visitors on PostgreSQL go the same way (`ArrivalWriter`): the
//! arrivals of a short window share one statement and one commit; and so do
//! the conversations their first messages open (`OpenWriter`).
//!
//! The caller also hands in what to do once its message is stored (the chat
//! layer passes "deliver it"). That runs on the committing thread, in
//! commit order, before the caller is woken: delivery does not wait for the
//! sender's thread to be scheduled first. It must not block.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

pub use super::admission::{Place, Waiting, BUSY};
use super::connection::PooledConn;
use super::messages::{self, Message, OwnedNewMessage, Stored};
use super::visitors::{self, VisitorInfo};
use super::{DbConnection, Storage, StorageError, StorageResult};
use crate::domain::{Clock, Conversation, Visitor, VisitorId};

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
    waiting: Waiting,
}

impl MessageWriter {
    /// `waiting` is the admission control (`Waiting::default()`: none).
    pub fn start(
        storage: Storage,
        clock: Clock,
        (batch, window): (usize, Duration),
        waiting: Waiting,
    ) -> Self {
        if batch <= 1 {
            return Self {
                storage,
                clock,
                batched: None,
                waiting,
            };
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let (st, ck) = (storage.clone(), clock.clone());
        std::thread::Builder::new()
            .name("livedesk-writer".into())
            .spawn(move || write_loop(rx, st, ck, (batch, window)))
            .expect("spawn writer thread");
        Self {
            storage,
            clock,
            batched: Some(tx),
            waiting,
        }
    }

    /// Would a message be refused at once now? A socket asks before it
    /// does anything else with one, so refusing costs little.
    pub fn full(&self) -> bool {
        self.waiting.full()
    }

    /// How long a message may wait to be stored (`LIVEDESK_WRITE_WAIT_MS`).
    pub fn max_delay(&self) -> Option<Duration> {
        self.waiting.max_delay()
    }

    /// Is the node behind (half its admission used)? See `Waiting::behind`.
    pub fn behind(&self) -> bool {
        self.waiting.behind()
    }

    /// A place among the messages waiting to be stored, or `Unavailable`.
    pub fn admit(&self) -> StorageResult<Place> {
        self.waiting.enter()
    }

    /// Stores a message (admitted here, or refused with `Unavailable`).
    pub async fn insert(
        &self,
        message: OwnedNewMessage,
        on_commit: impl FnOnce(&Message) + Send + 'static,
    ) -> StorageResult<Stored> {
        let place = self.admit()?;
        self.insert_admitted(&place, message, on_commit).await
    }

    /// Stores a message that holds a place already (`admit`); the caller
    /// gives the place back once the sender has its answer.
    pub async fn insert_admitted(
        &self,
        _place: &Place,
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
                .map_err(|_| StorageError::Unavailable("message writer stopped"))?;
                answer
                    .await
                    .map_err(|_| StorageError::Unavailable("message writer dropped a message"))?
            }
        }
    }
}

/// Group commit of one kind of question on PostgreSQL: what arrives within
/// a short window is answered by one statement and one commit (`write`
/// answers the questions in the order asked), on a thread of its own.
struct PgGroup<Q, T> {
    tx: mpsc::Sender<(Q, oneshot::Sender<StorageResult<T>>)>,
}

impl<Q, T> Clone for PgGroup<Q, T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<Q: Send + 'static, T: Send + 'static> PgGroup<Q, T> {
    /// None where it does not apply: SQLite, or batch size 1 (the plain path).
    fn start(
        name: &str,
        storage: Storage,
        (batch, window): (usize, Duration),
        write: impl Fn(&mut diesel::PgConnection, &[&Q]) -> StorageResult<Vec<T>> + Send + 'static,
    ) -> Option<Self> {
        if batch <= 1 || storage.backend() != super::Backend::Postgres {
            return None;
        }
        let (tx, rx) = mpsc::channel::<(Q, oneshot::Sender<StorageResult<T>>)>();
        std::thread::Builder::new()
            .name(format!("livedesk-{name}"))
            .spawn(move || {
                run_batches(
                    rx,
                    &storage,
                    batch,
                    window,
                    |conn, jobs: &[(Q, _)]| match &mut **conn {
                        DbConnection::Pg(pg) => {
                            let qs: Vec<&Q> = jobs.iter().map(|(q, _)| q).collect();
                            write(pg, &qs)
                        }
                        DbConnection::Sqlite(_) => {
                            Err(StorageError::Unavailable("needs PostgreSQL"))
                        }
                    },
                    |jobs, outcome| match outcome {
                        Ok(answers) => {
                            for ((_, reply), a) in jobs.into_iter().zip(answers) {
                                let _ = reply.send(Ok(a));
                            }
                        }
                        Err(e) => {
                            for (_, reply) in jobs {
                                let _ = reply.send(Err(StorageError::BatchFailed(e.clone())));
                            }
                        }
                    },
                )
            })
            .expect("spawn a group-commit thread");
        Some(Self { tx })
    }

    async fn ask(&self, q: Q) -> StorageResult<T> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((q, reply))
            .map_err(|_| StorageError::Unavailable("group-commit writer stopped"))?;
        answer
            .await
            .map_err(|_| StorageError::Unavailable("group-commit writer dropped a question"))?
    }
}

/// Group commit for new visitors (a `hello` without a token) on PostgreSQL:
/// the arrivals of a short window are stored in one statement, one commit.
/// Under a burst of arrivals a commit per `hello` was most of PostgreSQL's
/// work. (SQLite commits in process and needs none of this.)
#[derive(Clone)]
pub struct ArrivalWriter(PgGroup<(String, VisitorInfo), Visitor>);

impl ArrivalWriter {
    /// None where it does not apply: SQLite, or batch size 1 (the plain path).
    pub fn start(storage: Storage, clock: Clock, batch: usize, window: Duration) -> Option<Self> {
        PgGroup::start(
            "arrivals",
            storage,
            (batch, window),
            move |pg, qs: &[&(String, VisitorInfo)]| {
                let arrivals: Vec<(String, VisitorInfo)> =
                    qs.iter().map(|q| (*q).clone()).collect();
                visitors::arrive_new_pg(pg, &arrivals, clock.now_naive())
            },
        )
        .map(Self)
    }

    /// A new visitor, as stored (its first conversation comes with its first message).
    /// The caller makes the token and keeps it; only its hash is stored.
    pub async fn arrive(&self, token_hash: String, info: VisitorInfo) -> StorageResult<Visitor> {
        self.0.ask((token_hash, info)).await
    }
}

/// Group commit for opening conversations on PostgreSQL (a visitor's first
/// message, or its first after a close): the opens of a short window share
/// one statement and one commit. Under a burst of first messages a commit
/// each filled PostgreSQL's WAL flush queue and ran the pools dry.
#[derive(Clone)]
pub struct OpenWriter(PgGroup<VisitorId, Conversation>);

impl OpenWriter {
    /// None where it does not apply: SQLite, or batch size 1 (the plain path).
    pub fn start(storage: Storage, clock: Clock, batch: usize, window: Duration) -> Option<Self> {
        PgGroup::start(
            "opens",
            storage,
            (batch, window),
            move |pg, qs: &[&VisitorId]| {
                let visitors: Vec<VisitorId> = qs.iter().map(|v| **v).collect();
                super::conversations::open_or_create_many_pg(pg, &visitors, clock.now_naive())
            },
        )
        .map(Self)
    }

    /// The visitor's open conversation, or a new one, as stored.
    pub async fn open(&self, visitor: VisitorId) -> StorageResult<Conversation> {
        self.0.ask(visitor).await
    }
}

fn write_loop(
    rx: mpsc::Receiver<Job>,
    storage: Storage,
    clock: Clock,
    (batch, window): (usize, Duration),
) {
    run_batches(
        rx,
        &storage,
        batch,
        window,
        |conn, jobs: &[Job]| {
            let msgs: Vec<&OwnedNewMessage> = jobs.iter().map(|j| &j.message).collect();
            messages::insert_batch(conn, &msgs, clock.now_naive())
        },
        |jobs, outcome| match outcome {
            Ok(results) => {
                for (job, r) in jobs.into_iter().zip(results) {
                    if let Ok(stored) = &r {
                        (job.on_commit)(stored.message());
                    }
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                for job in jobs {
                    let _ = job.reply.send(Err(StorageError::BatchFailed(e.clone())));
                }
            }
        },
    )
}

/// Group commit, whatever is written: gathers the jobs that arrive within
/// `window` of the first (up to `batch`), writes them with `write` in one go
/// and hands the outcome to `answer`. While jobs keep coming the thread keeps
/// its connection (no pool checkout, no validity query per batch); it gives
/// it back when idle. A failed batch is tried once more on a fresh connection
/// (which hides a connection that broke while held, say the database
/// restarted), so `write` must be safe to repeat; if that fails too, `answer`
/// gets the error, shared, and every sender is told to try again.
pub(crate) fn run_batches<J, R>(
    rx: mpsc::Receiver<J>,
    storage: &Storage,
    batch: usize,
    window: Duration,
    mut write: impl FnMut(&mut PooledConn, &[J]) -> StorageResult<R>,
    mut answer: impl FnMut(Vec<J>, Result<R, std::sync::Arc<StorageError>>),
) {
    let mut held: Option<PooledConn> = None;
    let mut next: Option<J> = None;
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
        let mut attempt = |held: &mut Option<PooledConn>| {
            let conn = match held.take() {
                Some(c) => Ok(c),
                None => storage.conn(),
            };
            conn.and_then(|mut c| {
                let r = write(&mut c, &jobs);
                if r.is_ok() {
                    *held = Some(c);
                }
                r
            })
        };
        let outcome = attempt(&mut held).or_else(|_| attempt(&mut held));
        let outcome = outcome.map_err(|e| {
            tracing::error!(error = %e, "a batch write failed");
            std::sync::Arc::new(e)
        });
        answer(jobs, outcome);
        next = rx.try_recv().ok();
    }
}
