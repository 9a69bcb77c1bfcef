//! Private notes on the agent socket: written like a message (same checks,
//! stored, then delivered and acknowledged) but into the notes table, which no
//! visitor path reads.

use actix::prelude::*;

use super::AgentSession;
use crate::chat::agent_actions::failure;
use crate::chat::messages::*;
use crate::chat::protocol::*;
use crate::domain::message::{ClientId, MessageBody};
use crate::domain::ConversationId;

impl AgentSession {
    /// Stores a note, then the Dispatcher delivers it to the owner's other
    /// tabs and this socket gets its `ack`.
    pub(super) fn store_note(
        &mut self,
        id: ConversationId,
        client_id: ClientId,
        (body, files): (MessageBody, Vec<i64>),
        ctx: &mut Context<Self>,
    ) {
        let task = write(self, id, client_id.clone(), (body, files));
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
        let note = write(self, id, ClientId::random(), (body, Vec::new()));
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

/// Checks and stores a note.
fn write(
    s: &AgentSession,
    id: ConversationId,
    client_id: ClientId,
    (body, files): (MessageBody, Vec<i64>),
) -> impl std::future::Future<Output = Result<MessageView, ErrorBody>> {
    crate::chat::agent_actions::note(
        s.cx.clone(),
        (s.card.clone(), s.id),
        id,
        client_id,
        (body, files),
    )
}
