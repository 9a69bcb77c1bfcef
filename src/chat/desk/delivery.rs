//! Stored messages to everyone else in the conversation, in `seq` order;
//! typing and read markers.

use chrono::NaiveDateTime;

use super::{since, Desk, Effect, Timer};
use crate::chat::messages::{ChatError, Origin, Party};
use crate::chat::protocol::{preview_of, AgentOut, MessageView, VisitorOut};
use crate::domain::{ConversationId, Sender};

impl Desk {
    /// A message is stored: deliver it (and any later ones that waited for
    /// it) unless it was delivered already.
    pub fn deliver(&mut self, now: NaiveDateTime, message: MessageView, origin: Origin) {
        let id = ConversationId(message.conversation_id);
        let Some(c) = self.convs.get_mut(&id) else {
            return;
        };
        if message.private {
            return self.deliver_note(message, origin);
        }
        if message.seq < c.next_seq {
            return; // already delivered
        }
        c.pending.insert(message.seq, (message, origin));
        self.deliver_ready(id, now);
    }

    /// A private note goes to the owner's sockets (but the writer's), never
    /// to the visitor, and outside the `seq` order: it takes no public `seq`.
    fn deliver_note(&mut self, note: MessageView, origin: Origin) {
        let id = ConversationId(note.conversation_id);
        let Some(owner) = self.convs.get(&id).and_then(|c| c.assignment.agent) else {
            return;
        };
        let except = match origin {
            Origin::Agent(s) => Some(s),
            Origin::Visitor(_) => return,
        };
        self.tell_agent(owner, AgentOut::Message { message: note }, except);
    }

    fn deliver_ready(&mut self, id: ConversationId, now: NaiveDateTime) {
        loop {
            let Some(c) = self.convs.get_mut(&id) else {
                return;
            };
            let Some((m, origin)) = c.pending.remove(&c.next_seq) else {
                break;
            };
            c.next_seq += 1;
            self.fan_out(id, m, origin, now);
        }
        let Some(c) = self.convs.get_mut(&id) else {
            return;
        };
        let had_timer = c.gap_until.take().is_some();
        if !c.pending.is_empty() {
            // A gap: an earlier message is still being stored. Wait a little, then move on.
            let wait = self.cfg.gap_wait;
            c.gap_until = Some(now + super::assign::grace_delta(wait));
            self.emit(Effect::Arm {
                timer: Timer::Gap(id),
                after: wait,
            });
        } else if had_timer {
            self.emit(Effect::Cancel(Timer::Gap(id)));
        }
    }

    /// The wait for a missing `seq` is over: deliver from the first one that is here.
    pub(super) fn gap_over(&mut self, id: ConversationId, now: NaiveDateTime) {
        let Some(c) = self.convs.get_mut(&id) else {
            return;
        };
        let Some(until) = c.gap_until else { return };
        if now < until {
            self.emit(Effect::Arm {
                timer: Timer::Gap(id),
                after: since(now, until),
            });
            return;
        }
        c.gap_until = None;
        if let Some(&first) = c.pending.keys().next() {
            tracing::warn!(conversation_id = %id, skipped_to = first, "delivery gap timed out");
            c.next_seq = first;
        }
        self.deliver_ready(id, now);
    }

    fn fan_out(&mut self, id: ConversationId, m: MessageView, origin: Origin, now: NaiveDateTime) {
        let Some(c) = self.convs.get_mut(&id) else {
            return;
        };
        c.last_seq = c.last_seq.max(m.seq);
        c.last_message = Some(preview_of(&m));
        c.updated_at = now;
        if m.sender == Sender::Visitor {
            c.unread += 1;
        }
        let visitor = c.visitor.id;
        let owner = c.assignment.agent;
        let (v_except, a_except) = match origin {
            Origin::Visitor(s) => (Some(s), None),
            Origin::Agent(s) => (None, Some(s)),
        };
        let frame = VisitorOut::Message { message: m.clone() };
        self.tell_visitor(visitor, frame, v_except);
        match owner {
            Some(a) => self.tell_agent(a, AgentOut::Message { message: m }, a_except),
            // Queued: every agent sees the queue entry change.
            None => self.announce(id),
        }
    }

    pub fn typing(
        &mut self,
        from: &Party,
        id: ConversationId,
        active: bool,
    ) -> Result<(), ChatError> {
        match from {
            Party::Visitor(v) => {
                if let Some(a) = self.owner_for_visitor(*v, id)? {
                    let frame = AgentOut::Typing {
                        conversation_id: id.0,
                        active,
                    };
                    self.tell_agent(a, frame, None);
                }
            }
            Party::Agent(card) => {
                let vid = self.check(card, id, true)?.visitor.id;
                self.tell_visitor(vid, VisitorOut::Typing { active }, None);
            }
        }
        Ok(())
    }

    pub fn read_up_to(
        &mut self,
        by: &Party,
        id: ConversationId,
        seq: i64,
    ) -> Result<(), ChatError> {
        match by {
            Party::Visitor(v) => {
                if let Some(a) = self.owner_for_visitor(*v, id)? {
                    let frame = AgentOut::Read {
                        conversation_id: id.0,
                        seq,
                    };
                    self.tell_agent(a, frame, None);
                }
            }
            Party::Agent(card) => {
                self.check(card, id, true)?;
                if let Some(c) = self.convs.get_mut(&id) {
                    if seq >= c.last_seq {
                        c.unread = 0;
                    }
                    let vid = c.visitor.id;
                    self.tell_visitor(vid, VisitorOut::Read { seq }, None);
                }
            }
        }
        Ok(())
    }
}
