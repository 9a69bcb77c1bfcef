//! One actor per visitor socket.
//!
//! `hello` first; then messages are stored before they are acknowledged, one
//! at a time in the order this client sent them (`outgoing.rs`). Storing runs
//! in a detached task, so a stored message always reaches the Dispatcher even
//! if the socket closes meanwhile.

use std::sync::Arc;

use crate::ws::{Incoming, ProtocolError, Wire};
use actix::prelude::*;

use super::messages::*;
use super::protocol::*;
use super::socket::{Intake, Socket};
use super::ChatContext;
use crate::domain::message::{ClientId, MessageBody};
use crate::domain::visitor::{new_token, TOKEN_MAX};
use crate::domain::ConversationId;
use crate::domain::Visitor;
use crate::storage::messages::{self as store};
use crate::storage::visitors::VisitorInfo;
use crate::storage::{arrivals, identity, StorageError};

/// Why a hello was not welcomed.
enum HelloError {
    Storage(StorageError),
    /// An identity the site did not sign (or none, where it requires one).
    Identity,
}

impl From<StorageError> for HelloError {
    fn from(e: StorageError) -> Self {
        HelloError::Storage(e)
    }
}

mod outgoing;
mod rating;
mod rejoin;
mod sending;

pub use sending::message_code;

/// Messages sent back in `welcome` at most (the rest via a later resume).
const WELCOME_MAX: i64 = 1000;

struct Ready {
    visitor: Visitor,
    /// `None` until the visitor's first message opens one.
    conversation: Option<ConversationId>,
    /// Highest `seq` of the current conversation this socket has been sent.
    delivered_upto: i64,
    /// This socket's own messages above `delivered_upto` (acknowledged, so
    /// never sent to it again, also not by a catch-up).
    own: std::collections::BTreeSet<i64>,
}

impl Ready {
    /// Own messages right after `delivered_upto` count as delivered.
    fn compact(&mut self) {
        while self.own.remove(&(self.delivered_upto + 1)) {
            self.delivered_upto += 1;
        }
    }
}

pub struct VisitorSession {
    id: SessionId,
    cx: Arc<ChatContext>,
    sock: Socket,
    user_agent: Option<String>,
    /// `en` or `zh`: the language the visitor is asked in.
    lang: &'static str,
    /// The client's address (limits count per address).
    ip: std::net::IpAddr,
    /// This socket's place among its address's; given back when the actor goes.
    _slot: super::limits::Place,
    ready: Option<Ready>,
    /// Its messages on their way to storage.
    out: outgoing::Outgoing,
}

impl VisitorSession {
    pub fn start(
        cx: Arc<ChatContext>,
        wire: Wire,
        (user_agent, lang): (Option<String>, &'static str),
        ip: std::net::IpAddr,
        slot: super::limits::Place,
    ) {
        let sock = Socket::new(wire.outgoing, &cx.sockets, super::socket::VISITOR_OUTBOX);
        VisitorSession::create(|ctx| {
            ctx.add_stream(wire.incoming);
            VisitorSession {
                id: next_session_id(),
                cx,
                sock,
                user_agent,
                lang,
                ip,
                _slot: slot,
                ready: None,
                out: Default::default(),
            }
        });
    }

    fn send(&self, frame: &VisitorOut, ctx: &mut Context<Self>) {
        if !self.sock.send(frame) {
            ctx.stop();
        }
    }

    fn error(&self, e: ErrorBody, ctx: &mut Context<Self>) {
        self.send(&VisitorOut::Error(e), ctx);
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let frame = match parse::<VisitorIn>(text, VISITOR_TYPES) {
            Ok(f) => f,
            Err(e) => return self.error(e, ctx),
        };
        match (frame, self.ready.as_ref()) {
            (
                VisitorIn::Hello {
                    token,
                    name,
                    email,
                    page_url,
                    referrer,
                    timezone,
                    last_seq,
                    identifier,
                    identifier_hash,
                },
                None,
            ) => {
                let info = VisitorInfo {
                    // A name is shown to agents as the visitor wrote it, minus
                    // the controls that would make it read otherwise.
                    name: cap(
                        name.map(|n| crate::domain::visitor::without_bidi_controls(&n)),
                        64,
                    ),
                    email: cap(email, 254),
                    page_url: cap(page_url, 2048),
                    referrer: cap(referrer, 2048),
                    user_agent: self.user_agent.clone(),
                    timezone: timezone.filter(|z| crate::domain::visitor::is_time_zone_name(z)),
                };
                self.hello(token, info, last_seq, (identifier, identifier_hash), ctx)
            }
            (_, None) => self.error(
                ErrorBody::new(code::HELLO_REQUIRED, "the first frame must be 'hello'"),
                ctx,
            ),
            (VisitorIn::Hello { .. }, Some(_)) => self.error(
                ErrorBody::new(code::ALREADY_HELLO, "'hello' was already sent"),
                ctx,
            ),
            (
                VisitorIn::Message {
                    client_id,
                    body,
                    files,
                    offline,
                    email,
                },
                Some(_),
            ) => {
                let checked = ClientId::parse(&client_id)
                    .map_err(|e| ErrorBody::new(code::BAD_CLIENT_ID, e.to_string()))
                    .and_then(|c| {
                        let b = MessageBody::with_files(&body, files.len());
                        b.map(|b| (c, b)).map_err(|e| {
                            ErrorBody::new(message_code(e), e.to_string()).client(client_id.clone())
                        })
                    })
                    .and_then(|cb| {
                        // The offline form: where to answer is required.
                        let email = cap(email, 254).filter(|e| e.contains('@'));
                        match (offline, email) {
                            (false, _) => Ok((cb, None)),
                            (true, Some(e)) => Ok((cb, Some(e))),
                            (true, None) => Err(ErrorBody::new(
                                code::VALIDATION,
                                "an offline message needs an email address to answer to",
                            )
                            .client(client_id.clone())),
                        }
                    });
                match checked {
                    Ok(((c, b), offline)) => self.take(c, (b, files, offline), ctx),
                    Err(e) => self.error(e, ctx),
                }
            }
            (
                VisitorIn::Rate {
                    conversation_id,
                    rating,
                    comment,
                },
                Some(_),
            ) => self.rate(ConversationId(conversation_id), rating, comment, ctx),
            // Before the first message there is nobody to tell.
            (VisitorIn::Typing { active }, Some(r)) => {
                if let Some(conversation) = r.conversation {
                    self.cx.dispatcher.do_send(Typing {
                        from: Party::Visitor(r.visitor.visitor_id()),
                        conversation,
                        active,
                    });
                }
            }
            (VisitorIn::Read { seq }, Some(r)) => {
                if let Some(conversation) = r.conversation {
                    self.cx.dispatcher.do_send(ReadUpTo {
                        by: Party::Visitor(r.visitor.visitor_id()),
                        conversation,
                        seq,
                    });
                }
            }
        }
    }

    fn hello(
        &mut self,
        token: Option<String>,
        info: VisitorInfo,
        last_seq: Option<i64>,
        (identifier, hash): (Option<String>, Option<String>),
        ctx: &mut Context<Self>,
    ) {
        let cx = self.cx.clone();
        let (session, addr) = (self.id, ctx.address().recipient());
        let fut = async move {
            let now = cx.clock.now_naive();
            // A token that is too long, unknown or forged simply starts a new visitor.
            let token = token.filter(|t| !t.is_empty() && t.len() <= TOKEN_MAX);
            // Who the site says this is, checked against its secret.
            let claim = match identifier.is_some() || cx.identity_required {
                false => None,
                true => {
                    let secret = cx.storage.run(identity::secret).await?;
                    let required = cx.identity_required;
                    identity::judge(
                        secret.as_deref(),
                        identifier.as_deref(),
                        hash.as_deref(),
                        required,
                    )
                    .map_err(|_| HelloError::Identity)?
                }
            };
            let (visitor, token, conversation, fresh) = match (claim, token, &cx.arrivals) {
                (Some(claim), token, _) => {
                    cx.storage
                        .run(move |db| identity::arrive(db, token, &claim, new_token, &info, now))
                        .await?
                }
                // A new visitor: with group commit, together with whoever else arrives now.
                (None, None, Some(arrivals)) => {
                    let token = new_token();
                    let hash = crate::domain::visitor::token_hash(&token);
                    let visitor = arrivals.arrive(hash, info).await?;
                    (visitor, token, None, true)
                }
                (None, token, _) => {
                    cx.storage
                        .run(move |db| arrivals::arrive(db, token, new_token, &info, now))
                        .await?
                }
            };
            // Join first, then read the history: nothing stored in between can be missed.
            let reply = cx
                .dispatcher
                .send(VisitorJoin {
                    session,
                    addr,
                    visitor: visitor.clone(),
                    conversation: conversation.clone(),
                })
                .await
                .map_err(|_| StorageError::Unavailable("dispatcher stopped"))?;
            let conv_id = conversation.as_ref().map(|c| c.id);
            // A last_seq from an older conversation means nothing here: send it all.
            let after = last_seq
                .filter(|s| *s > 0 && conversation.as_ref().is_some_and(|c| *s <= c.last_seq))
                .unwrap_or(0);
            // A visitor created just now, or one without an open conversation,
            // has no history to send.
            let messages = match conv_id {
                Some(id) if !fresh => {
                    cx.storage
                        .run(move |db| {
                            let m = store::after(db, id, after, WELCOME_MAX)?;
                            with_files(db, id, m.iter().map(MessageView::from).collect(), false)
                        })
                        .await?
                }
                _ => Vec::new(),
            };
            let notice = cx.notices.current(&cx.storage, now).await;
            Ok::<_, HelloError>((visitor, token, conv_id, reply, after, messages, notice))
        };
        ctx.wait(fut.into_actor(self).map(|res, act, ctx| match res {
            Ok((visitor, token, conversation, reply, after, messages, notice)) => {
                let delivered_upto = messages.last().map(|m| m.seq).unwrap_or(after);
                let frame = VisitorOut::Welcome {
                    visitor_id: visitor.id.0,
                    token,
                    conversation_id: conversation.map(|c| c.0),
                    status: reply.status,
                    agent: reply.agent,
                    messages,
                    notice,
                    availability: reply.availability,
                };
                act.ready = Some(Ready {
                    visitor,
                    conversation,
                    delivered_upto,
                    own: Default::default(),
                });
                act.send(&frame, ctx);
            }
            Err(HelloError::Identity) => {
                act.error(
                    ErrorBody::new(
                        code::IDENTITY_INVALID,
                        "identifier_hash is not this site's signature of identifier",
                    ),
                    ctx,
                );
                act.sock
                    .close(crate::ws::CloseCode::Policy, "identity invalid");
                ctx.stop();
            }
            Err(HelloError::Storage(e)) => {
                tracing::error!(error = %e, "visitor hello failed");
                act.error(
                    ErrorBody::new(code::UNAVAILABLE, "please try again shortly"),
                    ctx,
                );
                ctx.stop();
            }
        }));
    }
}

impl Actor for VisitorSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let (interval, timeout) = (self.cx.sockets.ping_interval, self.cx.sockets.timeout);
        ctx.run_interval(interval, move |act, ctx| {
            if act.sock.heartbeat(timeout).is_err() {
                ctx.stop();
            }
        });
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        // Safe to send even if this socket never joined.
        self.cx
            .dispatcher
            .do_send(VisitorLeave { session: self.id });
        Running::Stop
    }
}

impl StreamHandler<Result<Incoming, ProtocolError>> for VisitorSession {
    fn handle(&mut self, item: Result<Incoming, ProtocolError>, ctx: &mut Self::Context) {
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

impl Handler<ToVisitor> for VisitorSession {
    type Result = ();
    fn handle(&mut self, msg: ToVisitor, ctx: &mut Self::Context) {
        self.deliver(msg, ctx);
    }
}

impl VisitorSession {
    fn deliver(&mut self, msg: ToVisitor, ctx: &mut Context<Self>) {
        let frame = match msg {
            ToVisitor::Close => return ctx.stop(),
            ToVisitor::Rejoin => return self.rejoin_when_idle(ctx),
            ToVisitor::Frame(f) => f,
        };
        if matches!(&**frame, VisitorOut::Message { message } if message.private) {
            return; // a note never reaches a visitor, whatever routed it here
        }
        if let Some(r) = self.ready.as_mut() {
            match &**frame {
                VisitorOut::Message { message }
                    if Some(ConversationId(message.conversation_id)) == r.conversation =>
                {
                    if message.seq <= r.delivered_upto || r.own.contains(&message.seq) {
                        return; // already in this socket's welcome, or its own
                    }
                    r.delivered_upto = message.seq;
                    r.own = r.own.split_off(&(message.seq + 1));
                    r.compact();
                }
                VisitorOut::Assigned {
                    conversation_id, ..
                }
                | VisitorOut::Queued { conversation_id }
                    if Some(ConversationId(*conversation_id)) != r.conversation =>
                {
                    // Another tab of this visitor opened a new conversation.
                    r.conversation = Some(ConversationId(*conversation_id));
                    r.delivered_upto = 0;
                    r.own.clear();
                }
                _ => {}
            }
        }
        if let VisitorOut::Closed { conversation_id } = &**frame {
            self.ask_rating(ConversationId(*conversation_id), ctx);
        }
        if !self.sock.send_shared(&frame) {
            ctx.stop();
        }
    }
}
