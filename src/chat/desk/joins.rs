//! Sockets coming and going, and the grace timer that follows an agent's last one.

use chrono::NaiveDateTime;

use super::assign::grace_delta;
use super::{since, Desk, Effect, Timer};
use crate::chat::messages::{AgentCard, AgentSnapshot, JoinReply, SessionId};
use crate::chat::protocol::VisitorOut;
use crate::domain::{Conversation, ConversationId, ConversationStatus, Visitor};

impl Desk {
    /// A visitor socket said hello, with its open conversation if it has one.
    pub fn visitor_join(
        &mut self,
        now: NaiveDateTime,
        session: SessionId,
        visitor: &Visitor,
        conversation: Option<&Conversation>,
    ) -> JoinReply {
        let first = self.roster.add_visitor(session, visitor.id);
        // Someone who has not written yet has no conversation: nothing to
        // assign, queue or show an agent until the first message opens one.
        let Some(conversation) = conversation else {
            return JoinReply {
                status: None,
                agent: None,
                availability: None,
            };
        };
        self.register(conversation, visitor, now);
        if let Some(c) = self.convs.get_mut(&conversation.id) {
            // Name, page and last-seen may have changed since it was registered.
            c.visitor = visitor.clone();
        }
        self.joining = Some(session);
        let reply = self.settle(conversation.id, now);
        self.joining = None;
        if first {
            tracing::debug!(visitor_id = %visitor.id, "visitor online");
        }
        reply
    }

    /// A connected visitor starts a new conversation (the last one was closed).
    pub fn open_conversation(
        &mut self,
        now: NaiveDateTime,
        visitor: &Visitor,
        conversation: &Conversation,
    ) -> JoinReply {
        self.register(conversation, visitor, now);
        if !self.convs.contains_key(&conversation.id) {
            // Closed before it got here: nothing to place.
            return JoinReply {
                status: Some(ConversationStatus::Closed),
                agent: None,
                availability: None,
            };
        }
        let reply = self.settle(conversation.id, now);
        if reply.status == Some(ConversationStatus::Queued) {
            // An assignment tells the visitor's tabs itself; waiting must be said.
            let frame = VisitorOut::Queued {
                conversation_id: conversation.id.0,
            };
            self.tell_visitor(visitor.id, frame, None);
        }
        reply
    }

    pub fn visitor_leave(&mut self, session: SessionId) {
        let Some(vid) = self.roster.remove_visitor_session(session) else {
            return;
        };
        // The agent sees the visitor go offline; the conversation stays open.
        let open: Vec<ConversationId> = self
            .convs
            .iter()
            .filter(|(_, c)| c.visitor.id == vid)
            .map(|(id, _)| *id)
            .collect();
        for id in open {
            self.announce(id);
        }
    }

    /// An agent socket joined: its snapshot, then whatever waited in the
    /// queue goes out (the new agent hears of each one after its welcome).
    pub fn agent_join(
        &mut self,
        now: NaiveDateTime,
        session: SessionId,
        card: &AgentCard,
    ) -> AgentSnapshot {
        self.names.insert(card.id, card.name.clone());
        let entry = self.roster.add_agent(session, card);
        let status = entry.status;
        if entry.grace_until.take().is_some() {
            // Back within the grace period: nothing moves.
            self.emit(Effect::Cancel(Timer::Grace(card.id)));
        }
        let mut mine: Vec<ConversationId> = self
            .convs
            .iter()
            .filter(|(_, c)| c.assignment.agent == Some(card.id))
            .map(|(cid, _)| *cid)
            .collect();
        mine.sort();
        let mine = mine.iter().filter_map(|c| self.view(*c)).collect();
        let queue = self
            .queue
            .iter()
            .filter_map(|(_, c)| self.view(*c))
            .collect();
        // This dashboard lists the queue now.
        for (_, id) in &self.queue {
            if let Some(c) = self.convs.get_mut(id) {
                c.listed = true;
            }
        }
        self.drain_queue(now);
        self.broadcast_presence();
        AgentSnapshot {
            status,
            mine,
            queue,
            agents: self.presence(),
            unavailable: false,
        }
    }

    pub fn agent_leave(&mut self, now: NaiveDateTime, session: SessionId) {
        let Some(id) = self.roster.remove_agent_session(session) else {
            return;
        };
        if self.roster.agent_online(id) {
            return;
        }
        if self.load(id) > 0 {
            let grace = self.cfg.grace;
            if let Some(e) = self.roster.agent_mut(id) {
                e.grace_until = Some(now + grace_delta(grace));
            }
            self.emit(Effect::Arm {
                timer: Timer::Grace(id),
                after: grace,
            });
        } else {
            self.roster.drop_agent(id);
        }
        self.broadcast_presence();
    }

    /// A timer armed by an earlier effect is due. One that was cancelled
    /// meanwhile, or fired early by the caller's clock, does nothing (or is
    /// armed again for what is left).
    pub fn timer_fired(&mut self, now: NaiveDateTime, timer: Timer) {
        match timer {
            Timer::Grace(agent) => {
                let Some(until) = self.roster.agent(agent).and_then(|a| a.grace_until) else {
                    return;
                };
                if now < until {
                    self.emit(Effect::Arm {
                        timer,
                        after: since(now, until),
                    });
                    return;
                }
                self.agent_gone(agent, now);
            }
            Timer::Gap(id) => self.gap_over(id, now),
            Timer::RoomGap(id) => self.room_gap_over(id, now),
        }
    }
}
