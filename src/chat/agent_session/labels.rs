//! Labels on the agent socket: an agent puts labels on the conversations it
//! may act on (its own, and for admins any), or on one it closed; stored,
//! then the Desk shows the change to whoever sees the conversation.

use actix::prelude::*;

use super::{failure, storage_failure, AgentSession};
use crate::chat::messages::*;
use crate::chat::protocol::*;
use crate::domain::ConversationId;
use crate::storage::{conversations, labels};

impl AgentSession {
    pub(super) fn label(
        &mut self,
        id: ConversationId,
        label: i64,
        on: bool,
        ctx: &mut Context<Self>,
    ) {
        let cx = self.cx.clone();
        let card = self.card.clone();
        let fut = async move {
            let access = cx
                .authorize(&card, id, true)
                .await
                .map_err(|e| failure(e, id.0))?;
            if access == Access::NotLive {
                // Closed (or unknown): its last agent, or an admin, may still label it.
                let conv = cx
                    .storage
                    .run(move |db| conversations::find(db, id))
                    .await
                    .map_err(|e| storage_failure(&e, id.0))?;
                if !(card.is_admin || conv.assignment.agent == Some(card.id)) {
                    return Err(failure(ChatError::Forbidden, id.0));
                }
            }
            let now = cx
                .storage
                .run(move |db| labels::set(db, id, label, on))
                .await
                .map_err(|e| storage_failure(&e, id.0))?;
            cx.dispatcher.do_send(SetLabels {
                conversation: id,
                labels: now.iter().map(LabelRef::from).collect(),
            });
            Ok(())
        };
        ctx.wait(fut.into_actor(self).map(|res, act, ctx| {
            if let Err(e) = res {
                act.error(e, ctx);
            }
        }));
    }
}
