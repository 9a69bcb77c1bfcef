//! Team rooms on the agent socket. Every request checks membership in
//! storage (`rooms::for_member`): an unknown room and a room the agent is not
//! a member of answer the same `not_found`, so membership cannot be probed.

use actix::prelude::*;

use super::AgentSession;
use crate::chat::agent_actions::room_failure;
use crate::chat::messages::*;
use crate::chat::protocol::*;
use crate::domain::message::{ClientId, MessageBody};
use crate::domain::RoomId;
use crate::storage::rooms::{self, messages as posts};

impl AgentSession {
    pub(super) fn room_message(
        &mut self,
        room: RoomId,
        client_id: &str,
        body: &str,
        ctx: &mut Context<Self>,
    ) {
        let cid = match ClientId::parse(client_id) {
            Ok(c) => c,
            Err(e) => {
                let e = ErrorBody::new(code::BAD_CLIENT_ID, e.to_string()).room(room.0);
                return self.error(e, ctx);
            }
        };
        let body = match MessageBody::parse(body) {
            Ok(b) => b,
            Err(e) => {
                let e = ErrorBody::new(code::VALIDATION, e.to_string()).client(client_id);
                return self.error(e.room(room.0), ctx);
            }
        };
        let fut = crate::chat::agent_actions::room_message(
            self.cx.clone(),
            (self.card.clone(), self.id),
            room,
            cid.clone(),
            body,
        );
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(message) => {
                let frame = AgentOut::RoomAck {
                    client_id: cid.as_str().to_owned(),
                    message,
                };
                act.send(&frame, ctx);
            }
            Err(e) => act.error(e.client(cid.as_str()), ctx),
        }));
    }

    pub(super) fn room_history(
        &mut self,
        room: RoomId,
        after: Option<i64>,
        before: Option<i64>,
        limit: i64,
        ctx: &mut Context<Self>,
    ) {
        let (cx, agent) = (self.cx.clone(), self.card.id);
        let fut = async move {
            cx.storage
                .run(move |db| {
                    let page = posts::page(db, room, agent, after, before, limit)?;
                    let mentions = posts::mentions_for(db, &page)?;
                    Ok(page
                        .iter()
                        .zip(mentions)
                        .map(|(m, who)| RoomMessageView::of(m, &who))
                        .collect::<Vec<_>>())
                })
                .await
        };
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(messages) => {
                let frame = AgentOut::RoomHistory {
                    room_id: room.0,
                    messages,
                };
                act.send(&frame, ctx);
            }
            Err(e) => act.error(room_failure(&e, room), ctx),
        }));
    }

    pub(super) fn room_read(&mut self, room: RoomId, seq: i64, ctx: &mut Context<Self>) {
        let (cx, agent) = (self.cx.clone(), self.card.id);
        let fut = async move {
            cx.storage
                .run(move |db| rooms::mark_read(db, room, agent, seq))
                .await
        };
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| {
            if let Err(e) = res {
                act.error(room_failure(&e, room), ctx);
            }
        }));
    }

    pub(super) fn room_typing(&mut self, room: RoomId, active: bool, ctx: &mut Context<Self>) {
        let (cx, agent) = (self.cx.clone(), self.card.id);
        let fut = async move {
            cx.storage
                .run(move |db| {
                    let r = rooms::for_member(db, room, agent)?;
                    rooms::members(db, &r)
                })
                .await
        };
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(to) => {
                let frame = AgentOut::RoomTyping {
                    room_id: room.0,
                    agent: AgentRef {
                        id: act.card.id.0,
                        name: act.card.name.clone(),
                    },
                    active,
                };
                act.cx.dispatcher.do_send(ToGroup {
                    to,
                    frame,
                    except: Some(act.id),
                });
            }
            Err(e) => act.error(room_failure(&e, room), ctx),
        }));
    }
}
