//! A conversation's history for an agent: who may read it, and one page of
//! it with its private notes merged in.

use actix::prelude::*;

use super::AgentSession;
use crate::chat::agent_actions::storage_failure;
use crate::chat::protocol::*;
use crate::domain::ConversationId;
use crate::storage::messages::{self as store, Message};
use crate::storage::notes::{self, Note};
use crate::storage::{DbConnection, StorageResult};

/// Notes in one page of history, at most.
const NOTES_MAX: i64 = 200;

impl AgentSession {
    /// Sends the history of a conversation (read access already granted).
    pub(super) fn send_history(
        &self,
        conversation: ConversationId,
        after: Option<i64>,
        before: Option<i64>,
        limit: i64,
        ctx: &mut Context<Self>,
    ) {
        let cx = self.cx.clone();
        let fut = async move {
            cx.storage
                .run(move |db| page(db, conversation, after, before, limit))
                .await
        };
        // In order: a conversation's history comes before whatever frame follows it.
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(msgs) => {
                let frame = AgentOut::History {
                    conversation_id: conversation.0,
                    messages: msgs,
                };
                act.send(&frame, ctx);
            }
            Err(e) => act.error(storage_failure(&e, conversation.0), ctx),
        }));
    }

    pub(super) fn history(
        &mut self,
        id: ConversationId,
        after: Option<i64>,
        before: Option<i64>,
        limit: i64,
        ctx: &mut Context<Self>,
    ) {
        let cx = self.cx.clone();
        let card = self.card.clone();
        let fut = async move {
            crate::chat::agent_actions::may_touch(&cx, &card, id, false).await?;
            Ok(())
        };
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(()) => act.send_history(id, after, before, limit, ctx),
            Err(e) => act.error(e, ctx),
        }));
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
    with_files(db, id, merge(&msgs, &n), true)
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
