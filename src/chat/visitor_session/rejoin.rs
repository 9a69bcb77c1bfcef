//! After the cluster link was lost and is back, or the leader changed, a
//! visitor's socket stays open: it joins the Desk again and is sent what it
//! missed from storage (the record), in order and without repeats.

use crate::chat::protocol::Shared;

use actix::prelude::*;

use super::{VisitorSession, WELCOME_MAX};
use crate::chat::messages::{JoinReply, ToVisitor, VisitorJoin, VisitorLeave};
use crate::chat::protocol::{with_files, MessageView, VisitorOut};
use crate::domain::{ConversationId, ConversationStatus};
use crate::storage::messages as store;
use crate::storage::{conversations, StorageError};

impl VisitorSession {
    pub(super) fn rejoin(&mut self, ctx: &mut Context<Self>) {
        // Not joined yet: its hello, still under way, joins where it is now.
        let Some(r) = self.ready.as_ref() else { return };
        let (cx, session, addr) = (self.cx.clone(), self.id, ctx.address().recipient());
        let (visitor, current, after) = (r.visitor.clone(), r.conversation, r.delivered_upto);
        cx.dispatcher.do_send(VisitorLeave { session });
        let fut = async move {
            let conversation = match current {
                Some(id) => Some(
                    cx.storage
                        .run(move |db| conversations::find(db, id))
                        .await?,
                ),
                None => None,
            };
            // Join first, then read: nothing stored in between can be missed
            // (live frames wait in the mailbox until this is done).
            let reply = cx
                .dispatcher
                .send(VisitorJoin {
                    session,
                    addr,
                    visitor,
                    conversation,
                })
                .await
                .map_err(|_| StorageError::Unavailable("dispatcher stopped"))?;
            let missed = match current {
                Some(id) => {
                    cx.storage
                        .run(move |db| {
                            let m = store::after(db, id, after, WELCOME_MAX)?;
                            with_files(db, id, m.iter().map(MessageView::from).collect(), false)
                        })
                        .await?
                }
                None => Vec::new(),
            };
            Ok::<_, StorageError>((reply, missed))
        };
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok((reply, missed)) => {
                if let Some(id) = current {
                    act.send_missed(id, reply, missed, ctx);
                }
                // Messages read meanwhile waited for this.
                act.store_next(ctx);
            }
            Err(e) => {
                // The client reconnects and resumes with its last_seq.
                tracing::warn!(error = %e, "a visitor socket could not rejoin; closing it");
                ctx.stop()
            }
        }));
    }

    /// What it missed, then where its conversation stands.
    fn send_missed(
        &mut self,
        id: ConversationId,
        reply: JoinReply,
        missed: Vec<MessageView>,
        ctx: &mut Context<Self>,
    ) {
        let status = match (reply.status, reply.agent) {
            (Some(ConversationStatus::Assigned), Some(agent)) => Some(VisitorOut::Assigned {
                conversation_id: id.0,
                agent,
            }),
            (Some(ConversationStatus::Queued), _) => Some(VisitorOut::Queued {
                conversation_id: id.0,
            }),
            (Some(ConversationStatus::Closed), _) => Some(VisitorOut::Closed {
                conversation_id: id.0,
            }),
            // No answer from the leader: the messages still come.
            _ => None,
        };
        let frames = missed
            .into_iter()
            .map(|message| VisitorOut::Message { message })
            .chain(status);
        for f in frames {
            // Through the socket's own filter: what it was sent is not sent again.
            self.deliver(ToVisitor::Frame(Shared::new(f)), ctx);
        }
    }
}
