//! Private notes on the agent socket: written like a message (same checks,
//! stored, then delivered and acknowledged) but into the notes table, which no
//! visitor path reads.

use actix::prelude::*;

use super::{failure, storage_failure, AgentSession};
use crate::chat::messages::*;
use crate::chat::protocol::*;
use crate::domain::message::{ClientId, MessageBody};
use crate::domain::ConversationId;
use crate::storage::notes;

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

/// Checks and stores a note; once stored it reaches the Dispatcher whatever
/// happens to the socket (a detached task).
fn write(
    s: &AgentSession,
    id: ConversationId,
    client_id: ClientId,
    (body, files): (MessageBody, Vec<i64>),
) -> impl std::future::Future<Output = Result<MessageView, ErrorBody>> {
    let cx = s.cx.clone();
    let (card, session) = (s.card.clone(), s.id);
    let task = actix_rt::spawn(async move {
        super::may_write(&cx, &card, id).await?;
        let sent = super::send_files(&cx, &card, (id, &client_id), &files, true).await?;
        let now = cx.clock.now_naive();
        let agent = card.id;
        let (note, new) = cx
            .storage
            .run(move |db| notes::insert(db, id, agent, client_id.as_str(), body.as_str(), now))
            .await
            .map_err(|e| storage_failure(&e, id.0))?;
        let mut view = MessageView::note(&note);
        view.files = sent;
        if new {
            cx.dispatcher.do_send(Deliver {
                message: view.clone(),
                origin: Origin::Agent(session),
            });
        }
        Ok(view)
    });
    super::detached(task)
}
