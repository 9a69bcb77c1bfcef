//! One actor per agent socket (an agent may have several: one per tab).

use std::collections::HashSet;
use std::sync::Arc;

use crate::ws::{Incoming, ProtocolError, Wire};
use actix::prelude::*;

use super::agent_actions;
use super::messages::*;
use super::protocol::*;
use super::socket::{Intake, Socket};
use super::visitor_session::message_code;
use super::ChatContext;
use crate::domain::message::{ClientId, MessageBody};
use crate::domain::{ConversationId, ConversationStatus, Role, RoomId};
use crate::storage::agents;

mod ending;
mod history;
pub use history::page as history_page;
mod joining;
mod labels;
mod notes;
mod room_frames;
pub use ending::REAUTHORIZE;

const HISTORY_DEFAULT: i64 = 50;
const HISTORY_MAX: i64 = 200;
/// Recently closed conversations listed after a reload, at most.
const RECENT_MAX: i64 = 20;

pub struct AgentSession {
    id: SessionId,
    cx: Arc<ChatContext>,
    sock: Socket,
    card: AgentCard,
    role: Role,
    /// The sign-in whose session opened this socket: when it ends, so does the socket.
    login: String,
    /// Closed by the server: nothing more goes out.
    closed: bool,
    /// Conversations this agent owns, as far as this socket has been told.
    mine: HashSet<ConversationId>,
}

use super::agent_actions::failure;

impl AgentSession {
    pub fn start(cx: Arc<ChatContext>, wire: Wire, agent: &agents::Agent, login: String) {
        let sock = Socket::new(wire.outgoing, &cx.sockets, super::socket::AGENT_OUTBOX);
        let card = AgentCard {
            id: agent.id,
            name: agent.display_name.clone(),
            is_admin: agent.is_admin(),
            capacity: agent
                .capacity
                .map_or(cx.agent_capacity, |c| c.max(0) as u32),
        };
        let role = agent.role;
        AgentSession::create(|ctx| {
            ctx.add_stream(wire.incoming);
            AgentSession {
                id: next_session_id(),
                cx,
                sock,
                card,
                role,
                login,
                closed: false,
                mine: HashSet::new(),
            }
        });
    }

    fn send(&self, frame: &AgentOut, ctx: &mut Context<Self>) {
        if !self.sock.send(frame) {
            ctx.stop();
        }
    }

    fn error(&self, e: ErrorBody, ctx: &mut Context<Self>) {
        self.send(&AgentOut::Error(e), ctx);
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let frame = match parse::<AgentIn>(text, AGENT_TYPES) {
            Ok(f) => f,
            Err(e) => return self.error(e, ctx),
        };
        match frame {
            AgentIn::Message {
                conversation_id,
                client_id,
                body,
                files,
                private,
            } => {
                let checked = ClientId::parse(&client_id)
                    .map_err(|e| ErrorBody::new(code::BAD_CLIENT_ID, e.to_string()))
                    .and_then(|c| {
                        let b = MessageBody::with_files(&body, files.len());
                        b.map(|b| (c, b)).map_err(|e| {
                            ErrorBody::new(message_code(e), e.to_string()).client(client_id.clone())
                        })
                    });
                let id = ConversationId(conversation_id);
                match checked {
                    Ok((c, b)) if private => self.store_note(id, c, (b, files), ctx),
                    Ok((c, b)) => self.store(id, c, (b, files), ctx),
                    Err(e) => self.error(e.conversation(conversation_id), ctx),
                }
            }
            AgentIn::History {
                conversation_id,
                after_seq,
                before_seq,
                limit,
            } => {
                let limit = limit.unwrap_or(HISTORY_DEFAULT).clamp(1, HISTORY_MAX);
                self.history(
                    ConversationId(conversation_id),
                    after_seq,
                    before_seq,
                    limit,
                    ctx,
                );
            }
            AgentIn::Claim { conversation_id } => {
                let m = Claim {
                    agent: self.card.clone(),
                    conversation: ConversationId(conversation_id),
                };
                self.ask(self.cx.dispatcher.send(m), conversation_id, ctx);
            }
            AgentIn::Transfer {
                conversation_id,
                agent_id,
                note,
            } => {
                let m = Transfer {
                    by: self.card.clone(),
                    conversation: ConversationId(conversation_id),
                    to: crate::domain::AgentId(agent_id),
                };
                match note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                    None => self.ask(self.cx.dispatcher.send(m), conversation_id, ctx),
                    Some(n) => match MessageBody::parse(n) {
                        Ok(b) => self.transfer_with_note(m, b, ctx),
                        Err(e) => {
                            let e = ErrorBody::new(message_code(e), e.to_string());
                            self.error(e.conversation(conversation_id), ctx)
                        }
                    },
                }
            }
            AgentIn::Close { conversation_id } => self.close(ConversationId(conversation_id), ctx),
            AgentIn::Status { status } => self.cx.dispatcher.do_send(SetStatus {
                agent: self.card.id,
                status,
            }),
            AgentIn::Typing {
                conversation_id,
                active,
            } => {
                let m = Typing {
                    from: Party::Agent(self.card.clone()),
                    conversation: ConversationId(conversation_id),
                    active,
                };
                self.ask(self.cx.dispatcher.send(m), conversation_id, ctx);
            }
            AgentIn::RoomMessage {
                room_id,
                client_id,
                body,
            } => self.room_message(RoomId(room_id), &client_id, &body, ctx),
            AgentIn::RoomHistory {
                room_id,
                after_seq,
                before_seq,
                limit,
            } => {
                let limit = limit.unwrap_or(HISTORY_DEFAULT).clamp(1, HISTORY_MAX);
                self.room_history(RoomId(room_id), after_seq, before_seq, limit, ctx)
            }
            AgentIn::RoomRead { room_id, seq } => self.room_read(RoomId(room_id), seq, ctx),
            AgentIn::Label {
                conversation_id,
                label_id,
                on,
            } => self.label(ConversationId(conversation_id), label_id, on, ctx),
            AgentIn::RoomTyping { room_id, active } => {
                self.room_typing(RoomId(room_id), active, ctx)
            }
            AgentIn::Read {
                conversation_id,
                seq,
            } => {
                let m = ReadUpTo {
                    by: Party::Agent(self.card.clone()),
                    conversation: ConversationId(conversation_id),
                    seq,
                };
                self.ask(self.cx.dispatcher.send(m), conversation_id, ctx);
            }
        }
    }

    /// Sends a request to the Dispatcher and reports a refusal as an error frame.
    fn ask<F>(&mut self, req: F, conversation: i64, ctx: &mut Context<Self>)
    where
        F: std::future::Future<Output = Result<Result<(), ChatError>, MailboxError>> + 'static,
    {
        ctx.wait(req.into_actor(self).map(move |res, act, ctx| match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => act.error(failure(e, conversation), ctx),
            Err(_) => act.error(
                ErrorBody::new(code::UNAVAILABLE, "please try again shortly"),
                ctx,
            ),
        }));
    }

    fn store(
        &mut self,
        id: ConversationId,
        client_id: ClientId,
        (body, files): (MessageBody, Vec<i64>),
        ctx: &mut Context<Self>,
    ) {
        let fut = agent_actions::message(
            self.cx.clone(),
            (self.card.clone(), self.id),
            id,
            client_id.clone(),
            (body, files),
        );
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| match res {
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
}

impl Actor for AgentSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let (interval, timeout) = (self.cx.sockets.ping_interval, self.cx.sockets.timeout);
        ctx.run_interval(interval, move |act, ctx| {
            if act.sock.heartbeat(timeout).is_err() {
                ctx.stop();
                return;
            }
            act.check_session(ctx);
        });
        self.cx.agent_sockets.register(
            self.id,
            self.card.id,
            self.login.clone(),
            ctx.address().recipient(),
        );
        self.join(false, ctx);
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        self.cx.agent_sockets.unregister(self.id);
        self.cx.dispatcher.do_send(AgentLeave { session: self.id });
        Running::Stop
    }
}

impl StreamHandler<Result<Incoming, ProtocolError>> for AgentSession {
    fn handle(&mut self, item: Result<Incoming, ProtocolError>, ctx: &mut Self::Context) {
        if self.closed {
            return;
        }
        match self.sock.intake(item) {
            Intake::Text(t) => self.on_text(&t, ctx),
            Intake::Refused(e) => self.error(e, ctx),
            Intake::Ignore => {}
            Intake::Stop => ctx.stop(),
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<ToAgent> for AgentSession {
    type Result = ();
    fn handle(&mut self, msg: ToAgent, ctx: &mut Self::Context) {
        let frame = match msg {
            ToAgent::Close(why) => return self.close_for(why, ctx),
            ToAgent::Rejoin if self.closed => return,
            ToAgent::Rejoin => {
                self.cx.dispatcher.do_send(AgentLeave { session: self.id });
                return self.join(true, ctx);
            }
            ToAgent::Frame(_) if self.closed => return,
            ToAgent::Frame(f) => f,
        };
        let mut newly_mine = None;
        let mut has_history = true;
        match &**frame {
            AgentOut::Conversation { conversation } => {
                let id = ConversationId(conversation.id);
                let ours = conversation
                    .agent
                    .as_ref()
                    .is_some_and(|a| a.id == self.card.id.0);
                if ours && conversation.status == ConversationStatus::Assigned {
                    if self.mine.insert(id) {
                        newly_mine = Some(id);
                        has_history = conversation.last_seq > 0;
                    }
                } else {
                    self.mine.remove(&id);
                }
            }
            AgentOut::Unassigned { conversation_id } => {
                self.mine.remove(&ConversationId(*conversation_id));
            }
            _ => {}
        }
        if !self.sock.send_shared(&frame) {
            return ctx.stop();
        }
        match newly_mine {
            // A conversation just became ours: its history follows.
            Some(id) if has_history => self.send_history(id, None, None, HISTORY_DEFAULT, ctx),
            // Nothing stored yet (a new visitor): whatever comes is delivered
            // live after this frame, so the (empty) history needs no query,
            // and the socket does not wait on the database.
            Some(id) => self.send(
                &AgentOut::History {
                    conversation_id: id.0,
                    messages: Vec::new(),
                },
                ctx,
            ),
            None => {}
        }
    }
}
