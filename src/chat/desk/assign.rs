//! Who owns which conversation: assignment, the queue, grace periods,
//! claim, transfer and close, and following what storage says it holds.

use chrono::NaiveDateTime;

use super::{since, AssignmentChange, Desk, Effect, Metric, Timer};
use crate::chat::assignment::pick;
use crate::chat::messages::{AgentCard, ChatError, CloseReason, JoinReply};
use crate::chat::protocol::{AgentOut, AgentStatus, VisitorOut};
use crate::domain::{AgentId, Assignment, ConversationId, ConversationStatus, Transition};

impl Desk {
    /// Applies a transition in memory; anything but a close is stored too
    /// (a close reaches the Desk after storage has it).
    fn transition(
        &mut self,
        id: ConversationId,
        t: Transition,
        now: NaiveDateTime,
    ) -> Result<Assignment, ChatError> {
        let c = self.convs.get_mut(&id).ok_or(ChatError::NotFound)?;
        let before = c.assignment;
        let after = before.apply(t).map_err(|e| match e {
            crate::domain::TransitionError::Closed => ChatError::Closed,
            _ => ChatError::Conflict,
        })?;
        c.assignment = after;
        c.updated_at = now;
        let created = c.created_at;
        if after.status == ConversationStatus::Queued {
            c.queued_since.get_or_insert(now);
            self.queue.insert((created, id));
        } else {
            self.queue.remove(&(created, id));
        }
        if t != Transition::Close {
            c.version += 1;
            let write = AssignmentChange {
                conversation: id,
                from: before,
                to: after,
                at: now,
                version: c.version,
            };
            self.emit(Effect::Store(write));
        }
        self.owner_changed(before.agent, after.agent);
        Ok(before)
    }

    /// Gives `id` to `to` and tells everyone concerned.
    fn assign(
        &mut self,
        id: ConversationId,
        to: AgentId,
        now: NaiveDateTime,
    ) -> Result<(), ChatError> {
        let before = self.transition(id, Transition::AssignTo(to), now)?;
        let c = self.convs.get_mut(&id).ok_or(ChatError::NotFound)?;
        let waited = c.queued_since.take().map(|q| since(q, now));
        let listed = std::mem::take(&mut c.listed);
        let visitor = c.visitor.id;
        let gone = AgentOut::Unassigned {
            conversation_id: id.0,
        };
        match before.agent {
            Some(old) => {
                self.emit(Effect::Metric(Metric::Reassigned));
                self.tell_agent(old, gone, None);
            }
            None => {
                if let Some(waited) = waited {
                    self.emit(Effect::Metric(Metric::Assigned { waited }));
                }
                // It left the queue: the other agents drop it from their lists.
                if listed {
                    self.tell_agents(gone, Some(to));
                }
            }
        }
        self.announce(id);
        let agent = self.agent_ref(to);
        let frame = VisitorOut::Assigned {
            conversation_id: id.0,
            agent,
        };
        self.tell_visitor(visitor, frame, None);
        tracing::info!(conversation_id = %id, agent_id = %to, from = ?before.agent, "conversation assigned");
        Ok(())
    }

    fn requeue(&mut self, id: ConversationId, now: NaiveDateTime) {
        let Ok(before) = self.transition(id, Transition::Requeue, now) else {
            return;
        };
        if let Some(old) = before.agent {
            let frame = AgentOut::Unassigned {
                conversation_id: id.0,
            };
            self.tell_agent(old, frame, None);
            self.emit(Effect::Metric(Metric::Reassigned));
        }
        if let Some(v) = self.convs.get(&id).map(|c| c.visitor.id) {
            let frame = VisitorOut::Queued {
                conversation_id: id.0,
            };
            self.tell_visitor(v, frame, None);
        }
        self.announce(id);
        tracing::info!(conversation_id = %id, from = ?before.agent, "conversation queued");
    }

    /// A conversation with no agent: give it to someone online, or leave it queued.
    pub(super) fn place(
        &mut self,
        id: ConversationId,
        exclude: Option<AgentId>,
        now: NaiveDateTime,
    ) {
        let candidates = self.candidates(exclude);
        match pick(self.cfg.strategy, &candidates, &mut self.rng) {
            Some(agent) => {
                let _ = self.assign(id, agent, now);
            }
            None => {
                let is_queued = self
                    .convs
                    .get(&id)
                    .is_some_and(|c| c.assignment.status == ConversationStatus::Queued);
                if is_queued {
                    self.announce(id);
                } else {
                    self.requeue(id, now);
                }
            }
        }
    }

    /// Oldest queued conversations first, while someone can take them.
    pub(super) fn drain_queue(&mut self, now: NaiveDateTime) {
        while let Some(&(_, id)) = self.queue.iter().next() {
            let candidates = self.candidates(None);
            let Some(agent) = pick(self.cfg.strategy, &candidates, &mut self.rng) else {
                break;
            };
            if self.assign(id, agent, now).is_err() {
                // Cannot happen for a queued conversation; never loop forever.
                break;
            }
        }
    }

    /// The agent is gone for good (grace over, or disabled): its conversations move.
    pub(super) fn agent_gone(&mut self, agent: AgentId, now: NaiveDateTime) {
        if self.roster.agent_online(agent) {
            return;
        }
        if self
            .roster
            .agent(agent)
            .is_some_and(|a| a.grace_until.is_some())
        {
            self.emit(Effect::Cancel(Timer::Grace(agent)));
        }
        self.roster.drop_agent(agent);
        let mut mine: Vec<(NaiveDateTime, ConversationId)> = self
            .convs
            .iter()
            .filter(|(_, c)| c.assignment.agent == Some(agent))
            .map(|(id, c)| (c.created_at, *id))
            .collect();
        mine.sort();
        for (_, id) in mine {
            self.place(id, Some(agent), now);
        }
        self.broadcast_presence();
    }

    /// After a visitor joins or opens a conversation: make sure it has an owner who is here.
    pub(super) fn settle(&mut self, id: ConversationId, now: NaiveDateTime) -> JoinReply {
        let owner = self.convs.get(&id).and_then(|c| c.assignment.agent);
        match owner {
            None => self.place(id, None, now),
            // Owner unknown here (e.g. left before a restart): start its grace period.
            Some(a) if !self.roster.knows(a) => self.offline_owner(a, now),
            Some(_) => self.announce(id),
        }
        let c = &self.convs[&id];
        let assignment = c.assignment;
        JoinReply {
            status: Some(assignment.status),
            agent: assignment.agent.map(|a| self.agent_ref(a)),
            availability: None,
        }
    }

    /// Tracks an owner with no socket and starts its grace timer.
    pub(super) fn offline_owner(&mut self, agent: AgentId, now: NaiveDateTime) {
        let card = AgentCard {
            id: agent,
            name: self.agent_name(agent),
            is_admin: false,
            capacity: 0,
        };
        let grace = self.cfg.grace;
        self.roster.add_absent(card, now + grace_delta(grace));
        self.emit(Effect::Arm {
            timer: Timer::Grace(agent),
            after: grace,
        });
    }

    pub fn claim(
        &mut self,
        now: NaiveDateTime,
        agent: &AgentCard,
        id: ConversationId,
    ) -> Result<(), ChatError> {
        let c = self.convs.get(&id).ok_or(ChatError::NotFound)?;
        match c.assignment.agent {
            Some(a) if a == agent.id => Ok(()),
            Some(_) => Err(ChatError::AlreadyAssigned),
            // A claim that arrives after its socket left would leave an
            // owner nobody waits for: only a connected agent may claim.
            None if !self.roster.agent_online(agent.id) => Err(ChatError::AgentOffline),
            // Admins may take one beyond their capacity.
            None if !agent.is_admin && self.full(agent.id) => Err(ChatError::AtCapacity),
            None => self.assign(id, agent.id, now),
        }
    }

    pub fn transfer(
        &mut self,
        now: NaiveDateTime,
        by: &AgentCard,
        id: ConversationId,
        to: AgentId,
    ) -> Result<(), ChatError> {
        let c = self.convs.get(&id).ok_or(ChatError::NotFound)?;
        if !(by.is_admin || c.assignment.agent == Some(by.id)) {
            return Err(ChatError::Forbidden);
        }
        if !self.roster.agent_online(to) {
            return Err(ChatError::AgentOffline);
        }
        if !by.is_admin && c.assignment.agent != Some(to) && self.full(to) {
            return Err(ChatError::AtCapacity);
        }
        self.assign(id, to, now)?;
        // The one who handed it on may have room for the queue now.
        self.drain_queue(now);
        self.broadcast_presence();
        Ok(())
    }

    /// Closes one conversation (already closed in storage): the visitor is
    /// told, and its agent (or, for a queued one, everyone who sees the queue).
    pub fn close(
        &mut self,
        now: NaiveDateTime,
        by: &AgentCard,
        id: ConversationId,
    ) -> Result<(), ChatError> {
        self.check(by, id, false)?;
        self.close_now(id, now)?;
        // A closed conversation frees its agent's capacity.
        self.drain_queue(now);
        self.broadcast_presence();
        tracing::info!(conversation_id = %id, by = %by.id, "conversation closed");
        Ok(())
    }

    /// An admin closed these queued conversations in storage: the Desk
    /// follows and tells everyone. Answers how many it closed.
    pub fn close_queued(
        &mut self,
        now: NaiveDateTime,
        by: &AgentCard,
        ids: &[ConversationId],
    ) -> usize {
        if !by.is_admin {
            return 0;
        }
        // Storage says they are closed: so they are, whatever happened meanwhile.
        let closed = ids
            .iter()
            .filter(|id| self.close_now(**id, now).is_ok())
            .count();
        tracing::info!(by = %by.id, closed, "queued conversations closed in bulk");
        self.drain_queue(now);
        self.broadcast_presence();
        closed
    }

    fn close_now(&mut self, id: ConversationId, now: NaiveDateTime) -> Result<(), ChatError> {
        let before = self.transition(id, Transition::Close, now)?;
        let view = self.view(id);
        if let Some(c) = self.convs.remove(&id) {
            self.owner_changed(c.assignment.agent, None);
            if c.gap_until.is_some() {
                self.emit(Effect::Cancel(Timer::Gap(id)));
            }
            let frame = VisitorOut::Closed {
                conversation_id: id.0,
            };
            self.tell_visitor(c.visitor.id, frame, None);
        }
        if let Some(view) = view {
            let frame = AgentOut::Conversation { conversation: view };
            match before.agent {
                Some(owner) => self.tell_agent(owner, frame, None),
                None => self.tell_agents(frame, None),
            }
        }
        Ok(())
    }

    pub fn set_status(&mut self, now: NaiveDateTime, agent: AgentId, status: AgentStatus) {
        let Some(entry) = self.roster.agent_mut(agent) else {
            return;
        };
        entry.status = status;
        self.tell_agent(agent, AgentOut::Status { status }, None);
        if status == AgentStatus::Online {
            self.drain_queue(now);
        }
        self.broadcast_presence();
    }

    /// The agent was disabled: close its sockets and move its conversations now.
    pub fn kick(&mut self, now: NaiveDateTime, agent: AgentId) {
        if self.roster.agent_online(agent) {
            self.emit(Effect::Publish(super::Publish::CloseAgent {
                agent,
                reason: CloseReason::Disabled,
            }));
        }
        self.roster.drop_agent(agent);
        self.emit(Effect::Cancel(Timer::Grace(agent)));
        self.agent_gone(agent, now);
        tracing::info!(agent_id = %agent, "agent disconnected by an admin; conversations moved");
    }

    /// Storage refused a change because the row no longer said `from`; it
    /// holds `actual`. The Desk follows storage.
    pub fn store_lost(&mut self, now: NaiveDateTime, write: AssignmentChange, actual: Assignment) {
        let id = write.conversation;
        let Some(c) = self.convs.get_mut(&id) else {
            return;
        };
        if write.version <= c.followed || c.assignment == actual {
            return;
        }
        tracing::warn!(conversation_id = %id, wanted = ?write.to, stored = ?actual, "storage holds another owner; following it");
        let mark = self.out.len();
        if actual.status == ConversationStatus::Closed {
            let _ = self.close_now(id, now);
        } else if let Some(a) = actual.agent {
            if !self.roster.knows(a) {
                self.offline_owner(a, now);
            }
            let _ = self.assign(id, a, now);
        } else {
            self.requeue(id, now);
        }
        // Storage holds this already: no write of its own, and the losses
        // of writes made before now say nothing new.
        let mut i = 0;
        self.out.retain(|e| {
            i += 1;
            i <= mark || !matches!(e, Effect::Store(w) if w.conversation == id)
        });
        if let Some(c) = self.convs.get_mut(&id) {
            c.followed = c.version;
        }
        self.drain_queue(now);
        self.broadcast_presence();
    }
}

pub(super) fn grace_delta(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
