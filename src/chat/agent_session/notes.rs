//! Private notes on the agent socket: written like a message (same checks,
//! stored, then delivered and acknowledged) but into the notes table, which no
//! visitor path reads; and a conversation's history with its notes merged in.

use actix::prelude::*;

use super::{failure, storage_failure, AgentSession};
use crate::chat::messages::*;
use crate::chat::protocol::*;
use crate::domain::message::{ClientId, MessageBody};
use crate::domain::ConversationId;
use crate::storage::messages::{self as store, Message};
use crate::storage::notes::{self, Note};
use crate::storage::{conversations, DbConnection, StorageResult};

/// Notes in one page of history, at most.
const NOTES_MAX: i64 = 200;

impl AgentSession {
    /// Stores a note, then the Dispatcher delivers it to the owner's other
    /// tabs and this socket gets its `ack`.
    pub(super) fn store_note(
        &mut self,
        id: ConversationId,
        client_id: ClientId,
        body: MessageBody,
        ctx: &mut Context<Self>,
    ) {
        let task = write(self, id, client_id.clone(), body);
        ctx.wait(task.into_actor(self).map(move |res, act, ctx| match res {
            Ok(message) => {
                let frame = AgentOut::Ack {
                    client_id: client_id.as_str().to_owned(),
                    message,
                };
                act.send(&frame, ctx);
            }
            Err(e) => act.error(e.client(client_id.as_str()), ctx),
        }));
    }

    /// A transfer with a note for the next agent: the note first (so it is
    /// in the history the new owner is sent), then the transfer.
    pub(super) fn transfer_with_note(
        &mut self,
        transfer: Transfer,
        body: MessageBody,
        ctx: &mut Context<Self>,
    ) {
        let id = transfer.conversation;
        let note = write(self, id, ClientId::random(), body);
        let dispatcher = self.cx.dispatcher.clone();
        let fut = async move {
            note.await?;
            match dispatcher.send(transfer).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(failure(e, id.0)),
                Err(_) => Err(failure(ChatError::Unavailable, id.0)),
            }
        };
        ctx.wait(fut.into_actor(self).map(|res, act, ctx| {
            if let Err(e) = res {
                act.error(e, ctx);
            }
        }));
    }
}

/// Checks and stores a note; once stored it reaches the Dispatcher whatever
/// happens to the socket (a detached task).
fn write(
    s: &AgentSession,
    id: ConversationId,
    client_id: ClientId,
    body: MessageBody,
) -> impl std::future::Future<Output = Result<MessageView, ErrorBody>> {
    let cx = s.cx.clone();
    let (card, session) = (s.card.clone(), s.id);
    let task = actix_rt::spawn(async move {
        let access = cx
            .authorize(&card, id, true)
            .await
            .map_err(|e| failure(e, id.0))?;
        if access == Access::NotLive {
            let known = cx.storage.run(move |db| conversations::find(db, id)).await;
            return Err(match known {
                Ok(_) => failure(ChatError::Closed, id.0),
                Err(e) => storage_failure(&e, id.0),
            });
        }
        let now = cx.clock.now_naive();
        let agent = card.id;
        let (note, new) = cx
            .storage
            .run(move |db| notes::insert(db, id, agent, client_id.as_str(), body.as_str(), now))
            .await
            .map_err(|e| storage_failure(&e, id.0))?;
        let view = MessageView::note(&note);
        if new {
            cx.dispatcher.do_send(Deliver {
                message: view.clone(),
                origin: Origin::Agent(session),
            });
        }
        Ok(view)
    });
    async move {
        task.await.unwrap_or_else(|_| {
            Err(ErrorBody::new(
                code::UNAVAILABLE,
                "please try again shortly",
            ))
        })
    }
}

/// One page of a conversation for an agent: `limit` public messages (after
/// `after`, before `before`, or the newest) and the notes among them. A note
/// at `seq` s follows message s, so a page of messages s1..=s2 holds the
/// notes with s1 <= seq <= s2 (and, at either end of the conversation,
/// those beyond): paging by the messages' `seq` as before finds every note.
pub fn page(
    db: &mut DbConnection,
    id: ConversationId,
    after: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> StorageResult<Vec<MessageView>> {
    let (msgs, from, to) = match (after, before) {
        (Some(a), None) => {
            let m = store::after(db, id, a, limit)?;
            let to = match m.last() {
                Some(last) if m.len() as i64 == limit => last.seq,
                _ => i64::MAX,
            };
            (m, a, to)
        }
        (_, b) => {
            let b = b.unwrap_or(i64::MAX);
            let m = store::before(db, id, b, limit)?;
            let from = match m.first() {
                Some(first) if m.len() as i64 == limit => first.seq,
                _ => i64::MIN,
            };
            (m, from, b)
        }
    };
    let n = notes::between(db, id, from, to, NOTES_MAX)?;
    Ok(merge(&msgs, &n))
}

/// Messages and notes in conversation order: a note after the message whose
/// `seq` it carries.
fn merge(msgs: &[Message], notes: &[Note]) -> Vec<MessageView> {
    let mut out: Vec<(i64, u8, i64, MessageView)> = msgs
        .iter()
        .map(|m| (m.seq, 0, m.id.0, MessageView::from(m)))
        .chain(notes.iter().map(|n| (n.seq, 1, n.id, MessageView::note(n))))
        .collect();
    out.sort_by_key(|(seq, kind, id, _)| (*seq, *kind, *id));
    out.into_iter().map(|(_, _, _, v)| v).collect()
}
