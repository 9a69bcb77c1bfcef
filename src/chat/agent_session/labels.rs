//! Labels on the agent socket: an agent puts labels on the conversations it
//! may act on (its own, and for admins any), or on one it closed; stored,
//! then the Desk shows the change to whoever sees the conversation.

use actix::prelude::*;

use super::AgentSession;
use crate::chat::agent_actions::storage_failure;
use crate::chat::messages::*;
use crate::chat::protocol::*;
use crate::domain::ConversationId;
use crate::storage::labels;

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
            crate::chat::agent_actions::may_touch(&cx, &card, id, true).await?;
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
