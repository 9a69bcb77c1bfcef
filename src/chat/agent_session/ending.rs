//! How things end for an agent socket: its own close on the server's word,
//! the check that its sign-in still lives, closing a conversation, and the
//! conversations it closed lately (sent after `welcome`).

use crate::ws::CloseCode;
use actix::prelude::*;

use super::{failure, AgentSession, RECENT_MAX};
use crate::chat::messages::*;
use crate::chat::protocol::*;
use crate::domain::ConversationId;
use crate::storage::{agents, conversations, sessions, StorageError};

impl AgentSession {
    /// Closes a conversation: allowed? then closed in storage, then the
    /// Dispatcher tells everyone (see `conversations::close_open` for why
    /// storage goes first).
    pub(super) fn close(&mut self, id: ConversationId, ctx: &mut Context<Self>) {
        let fut = crate::chat::agent_actions::close(self.cx.clone(), self.card.clone(), id);
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| {
            if let Err(e) = res {
                act.error(failure(e, id.0), ctx);
            }
        }));
    }

    /// Sends the agent's conversations closed in the last day (after `welcome`).
    pub(super) fn send_recent(&self, ctx: &mut Context<Self>) {
        let cx = self.cx.clone();
        let me = AgentRef {
            id: self.card.id.0,
            name: self.card.name.clone(),
        };
        let id = self.card.id;
        let since = cx.clock.now_naive() - chrono::Duration::hours(24);
        let fut = async move {
            cx.storage
                .run(move |db| {
                    let list = conversations::recently_closed(db, id, since, RECENT_MAX)?;
                    let ids: Vec<_> = list.iter().map(|c| c.conversation.id).collect();
                    let labels = crate::storage::labels::of(db, &ids)?;
                    Ok((list, labels))
                })
                .await
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok((list, labels)) => {
                let frame = AgentOut::Recent {
                    conversations: list
                        .iter()
                        .map(|c| {
                            let mut v = ConversationView::closed(c, me.clone());
                            let of = labels.get(&c.conversation.id).into_iter().flatten();
                            v.labels = of.map(LabelRef::from).collect();
                            v
                        })
                        .collect(),
                };
                act.send(&frame, ctx);
            }
            // Only a convenience: the live lists work without it.
            Err(e) => tracing::warn!(error = %e, "recent conversations unavailable"),
        }));
    }

    /// Closes this socket on the server's word; nothing more goes out after it.
    pub(super) fn close_for(&mut self, why: CloseReason, ctx: &mut Context<Self>) {
        if self.closed {
            return;
        }
        self.closed = true;
        let (code, text) = match why {
            CloseReason::Disabled => (CloseCode::Policy, "account disabled"),
            CloseReason::SessionEnded => (CloseCode::Policy, "session ended"),
            CloseReason::Reauthorize => (CloseCode::Other(REAUTHORIZE), "session changed"),
        };
        tracing::info!(agent_id = %self.card.id, reason = text, "agent socket closed by the server");
        self.sock.close(code, text);
        ctx.stop();
    }

    /// Still the account and the session this socket was opened with? Catches
    /// what the hub cannot: changes made on another node, from the command
    /// line, or by the clock (expiry).
    pub(super) fn check_session(&self, ctx: &mut Context<Self>) {
        let cx = self.cx.clone();
        let (id, login) = (self.card.id, self.login.clone());
        let now = cx.clock.now_naive();
        let fut = async move {
            cx.storage
                .run(move |db| {
                    let agent = agents::find(db, id)?;
                    let alive = sessions::login_alive(db, id, &login, now)?;
                    Ok((agent, alive))
                })
                .await
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            match res {
                Ok((a, _)) if !a.active => {
                    act.cx.dispatcher.do_send(KickAgent { agent: id });
                    act.close_for(CloseReason::Disabled, ctx);
                }
                Err(StorageError::NotFound) => {
                    act.cx.dispatcher.do_send(KickAgent { agent: id });
                    act.close_for(CloseReason::Disabled, ctx);
                }
                Ok((_, false)) => act.close_for(CloseReason::SessionEnded, ctx),
                Ok((a, true))
                    if a.role != act.role
                        || a.display_name != act.card.name
                        || a.capacity
                            .map_or(act.cx.agent_capacity, |c| c.max(0) as u32)
                            != act.card.capacity =>
                {
                    act.close_for(CloseReason::Reauthorize, ctx)
                }
                Ok(_) => {}
                Err(_) => {} // the database blinked; ask again next time
            }
        }));
    }
}

/// Close code for "your rights changed, connect again" (the dashboard reconnects at once).
pub const REAUTHORIZE: u16 = 4001;
