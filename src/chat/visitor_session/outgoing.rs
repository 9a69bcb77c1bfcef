//! A visitor's messages on their way to storage, in the order it sent them.
//!
//! One is stored at a time (so they keep their order); those read meanwhile
//! wait here, a few and briefly, rather than unread in the kernel, where the
//! server could neither see nor bound their wait. Under overload a message
//! is refused at once with `unavailable` (the client sends it again with
//! the same `client_id`): when the writer is behind, when this socket has
//! `READ_AHEAD` waiting already, or when one has waited here longer than a
//! message may wait (`LIVEDESK_WRITE_WAIT_MS`) while the node is behind.

use std::collections::VecDeque;

use actix::prelude::*;

use super::sending::{store_visitor_message, SendError};
use super::VisitorSession;
use crate::chat::protocol::{code, ErrorBody, VisitorOut};
use crate::domain::message::{ClientId, MessageBody};
use crate::storage::writer::Place;
use crate::storage::StorageError;

struct Queued {
    /// By the node's clock (shiftable in tests).
    read_at: chrono::DateTime<chrono::Utc>,
    client_id: ClientId,
    body: MessageBody,
    files: Vec<i64>,
    /// Left through the offline form, with the email to answer to.
    offline: Option<String>,
}

/// Messages one socket may have waiting behind the one being stored: more
/// than the default flood limit lets through at once (20), so a client
/// within it is not turned away for this while the node keeps up.
pub(super) const READ_AHEAD: usize = 64;

#[derive(Default)]
pub(super) struct Outgoing {
    waiting: VecDeque<Queued>,
    /// One is being stored.
    busy: bool,
    /// A rejoin was asked for meanwhile; it runs once that one is stored.
    rejoin: bool,
}

impl VisitorSession {
    /// A checked message from the client: queued, or refused at once.
    pub(super) fn take(
        &mut self,
        client_id: ClientId,
        (body, files, offline): (MessageBody, Vec<i64>, Option<String>),
        ctx: &mut Context<Self>,
    ) {
        if self.out.waiting.len() >= READ_AHEAD || self.cx.writer.full() {
            return self.refuse(client_id.as_str(), ctx);
        }
        self.out.waiting.push_back(Queued {
            read_at: self.cx.clock.now(),
            client_id,
            body,
            files,
            offline,
        });
        self.store_next(ctx);
    }

    /// The next message waiting, unless one is being stored (or a rejoin is
    /// due first).
    pub(super) fn store_next(&mut self, ctx: &mut Context<Self>) {
        if self.out.busy || self.out.rejoin {
            return;
        }
        while let Some(q) = self.out.waiting.pop_front() {
            let waited = (self.cx.clock.now() - q.read_at)
                .to_std()
                .unwrap_or_default();
            let late = self.cx.writer.max_delay().is_some_and(|max| waited > max);
            let admitted = if late {
                None
            } else {
                self.cx.writer.admit().ok()
            };
            match admitted {
                Some(place) => return self.store(q, place, ctx),
                None => self.refuse(q.client_id.as_str(), ctx),
            }
        }
    }

    /// A rejoin waits for the message being stored (its catch-up reads
    /// storage, and must not find this socket's own message unacknowledged).
    pub(super) fn rejoin_when_idle(&mut self, ctx: &mut Context<Self>) {
        if self.out.busy {
            self.out.rejoin = true;
        } else {
            self.rejoin(ctx);
        }
    }

    fn refuse(&self, client_id: &str, ctx: &mut Context<Self>) {
        self.error(unavailable().client(client_id), ctx);
    }

    fn store(&mut self, q: Queued, place: Place, ctx: &mut Context<Self>) {
        let Some(r) = self.ready.as_ref() else { return };
        self.out.busy = true;
        // Detached: once stored, the message reaches the Dispatcher even if
        // this socket closes meanwhile.
        let (cx, who, visitor, current) = (
            self.cx.clone(),
            (self.id, self.ip),
            r.visitor.clone(),
            r.conversation,
        );
        let cid = q.client_id.clone();
        let task = actix_rt::spawn(async move {
            let mut place = Some(place);
            let r = store_visitor_message(
                cx,
                who,
                visitor,
                current,
                cid,
                (q.body, q.files, q.offline),
                &mut place,
            );
            (r.await, place)
        });
        let client_id = q.client_id;
        let fut = async move {
            task.await
                .unwrap_or_else(|e| (Err(StorageError::Blocking(e.to_string()).into()), None))
        };
        ctx.spawn(fut.into_actor(self).map(move |(res, place), act, ctx| {
            act.out.busy = false;
            act.stored(client_id, res, ctx);
            // Given back once the answer is on its way: the wait admission
            // watches includes this thread's.
            drop(place);
            if std::mem::take(&mut act.out.rejoin) {
                act.rejoin(ctx); // it goes on with the next message when done
            } else {
                act.store_next(ctx);
            }
        }));
    }

    fn stored(
        &mut self,
        client_id: ClientId,
        res: Result<
            (
                crate::chat::protocol::MessageView,
                crate::domain::ConversationId,
            ),
            SendError,
        >,
        ctx: &mut Context<Self>,
    ) {
        let (message, conversation) = match res {
            Ok(done) => done,
            Err(e) => return self.error(refusal(e).client(client_id.as_str()), ctx),
        };
        if let Some(r) = self.ready.as_mut() {
            if r.conversation != Some(conversation) {
                r.conversation = Some(conversation);
                r.delivered_upto = 0;
                r.own.clear();
            }
            if message.seq > r.delivered_upto {
                r.own.insert(message.seq);
                r.compact();
            }
        }
        let frame = VisitorOut::Ack {
            client_id: client_id.as_str().to_owned(),
            message,
        };
        self.send(&frame, ctx);
    }
}

/// What the visitor is told when its message was not stored.
fn refusal(e: SendError) -> ErrorBody {
    match e {
        SendError::TooManyConversations => ErrorBody::new(
            code::TOO_MANY_CONVERSATIONS,
            "too many new conversations from your network; the message was not stored, send it again in a minute",
        ),
        SendError::BadFile => ErrorBody::new(
            code::BAD_FILE,
            "a file is not one you uploaded, or was sent already; the message was not stored",
        ),
        SendError::Storage(e) => {
            // Refused for overload or an outage: expected, and counted elsewhere.
            if matches!(e, StorageError::Unavailable(_)) {
                tracing::debug!(error = %e, "a visitor message was refused");
            } else {
                tracing::error!(error = %e, "storing a visitor message failed");
            }
            unavailable()
        }
    }
}

fn unavailable() -> ErrorBody {
    ErrorBody::new(
        code::UNAVAILABLE,
        "the message was not stored; send it again",
    )
}
