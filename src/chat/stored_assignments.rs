//! Ownership changes to the database, off the Dispatcher's thread: one
//! writer, in the order decided, a burst in one transaction, each a
//! compare-and-set. A change is never dropped: when the database is away
//! the writer waits and tries again (with whatever queued up meanwhile),
//! and a change that lost to the row is reported so the Desk follows it.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Recipient;

use super::messages::StoreLost;
use super::shared::Assignments;
use crate::domain::AssignmentChange;
use crate::metrics::ChatMetrics;
use crate::storage::{assignments, Storage};

/// Changes written in one transaction at most.
const BATCH: usize = 512;
/// The longest wait between tries while the database is away.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub struct StoredAssignments {
    tx: mpsc::Sender<AssignmentChange>,
    lost: Arc<Mutex<Option<Recipient<StoreLost>>>>,
}

impl StoredAssignments {
    pub fn start(storage: Storage, metrics: ChatMetrics) -> Self {
        let (tx, rx) = mpsc::channel::<AssignmentChange>();
        let lost: Arc<Mutex<Option<Recipient<StoreLost>>>> = Arc::default();
        let report = lost.clone();
        std::thread::Builder::new()
            .name("livedesk-assignments".into())
            .spawn(move || run(storage, metrics, rx, report))
            .expect("spawn assignment writer");
        Self { tx, lost }
    }
}

fn run(
    storage: Storage,
    metrics: ChatMetrics,
    rx: mpsc::Receiver<AssignmentChange>,
    report: Arc<Mutex<Option<Recipient<StoreLost>>>>,
) {
    let mut batch: Vec<AssignmentChange> = Vec::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        if batch.is_empty() {
            match rx.recv() {
                Ok(first) => batch.push(first),
                Err(_) => return, // the Dispatcher is gone, nothing more comes
            }
        }
        // Whatever queued up meanwhile goes into the same transaction.
        batch.extend(rx.try_iter().take(BATCH.saturating_sub(batch.len())));
        let result = storage
            .conn()
            .and_then(|mut c| assignments::compare_and_set(&mut c, &batch));
        match result {
            Ok(lost) => {
                batch.clear();
                backoff = Duration::from_millis(100);
                let to = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
                for (write, actual) in lost {
                    metrics.assignment_writes_lost.inc();
                    tracing::info!(conversation_id = %write.conversation, ?actual, "assignment lost to the stored row");
                    if let Some(to) = &to {
                        to.do_send(StoreLost { write, actual });
                    }
                }
            }
            Err(e) => {
                // Kept, in order, and tried again: the rows must not keep a stale owner.
                metrics.assignment_write_retries.inc();
                tracing::warn!(size = batch.len(), error = %e, "could not store assignments; retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

impl Assignments for StoredAssignments {
    fn write(&self, w: AssignmentChange) {
        let _ = self.tx.send(w);
    }

    fn report_to(&mut self, lost: Recipient<StoreLost>) {
        *self.lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(lost);
    }
}
