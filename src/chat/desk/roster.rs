//! Presence: which agents and visitors are connected, by socket, with each
//! agent's status and the end of its grace period. Plain maps; the Desk
//! asks it and changes it, nothing else does.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use crate::chat::messages::{AgentCard, SessionId};
use crate::chat::protocol::AgentStatus;
use crate::domain::{AgentId, VisitorId};

pub(crate) struct AgentEntry {
    pub card: AgentCard,
    pub sessions: HashSet<SessionId>,
    pub status: AgentStatus,
    /// Set while the agent has no socket and still owns conversations.
    pub grace_until: Option<NaiveDateTime>,
}

#[derive(Default)]
pub struct Roster {
    pub(crate) agents: HashMap<AgentId, AgentEntry>,
    agent_sessions: HashMap<SessionId, AgentId>,
    visitor_sessions: HashMap<SessionId, VisitorId>,
    visitors: HashMap<VisitorId, HashSet<SessionId>>,
}

impl Roster {
    /// Known: connected, or owning conversations inside its grace period.
    pub fn knows(&self, agent: AgentId) -> bool {
        self.agents.contains_key(&agent)
    }

    pub fn agent_online(&self, agent: AgentId) -> bool {
        self.agents
            .get(&agent)
            .is_some_and(|a| !a.sessions.is_empty())
    }

    pub fn visitor_online(&self, v: VisitorId) -> bool {
        self.visitors.get(&v).is_some_and(|s| !s.is_empty())
    }

    /// Agents with at least one socket.
    pub(crate) fn online(&self) -> impl Iterator<Item = &AgentEntry> {
        self.agents.values().filter(|a| !a.sessions.is_empty())
    }

    pub(crate) fn agent(&self, id: AgentId) -> Option<&AgentEntry> {
        self.agents.get(&id)
    }

    pub(crate) fn agent_mut(&mut self, id: AgentId) -> Option<&mut AgentEntry> {
        self.agents.get_mut(&id)
    }

    /// Adds an agent socket; returns the entry (new agents start online).
    pub(crate) fn add_agent(&mut self, session: SessionId, card: &AgentCard) -> &mut AgentEntry {
        self.agent_sessions.insert(session, card.id);
        let entry = self.agents.entry(card.id).or_insert_with(|| AgentEntry {
            card: card.clone(),
            sessions: HashSet::new(),
            status: AgentStatus::Online,
            grace_until: None,
        });
        entry.card = card.clone();
        entry.sessions.insert(session);
        entry
    }

    /// Removes an agent socket; returns its agent if this was a known one.
    pub(crate) fn remove_agent_session(&mut self, session: SessionId) -> Option<AgentId> {
        let id = self.agent_sessions.remove(&session)?;
        if let Some(e) = self.agents.get_mut(&id) {
            e.sessions.remove(&session);
        }
        Some(id)
    }

    /// Tracks an owner with no socket (after a restart, or a stored change).
    pub(crate) fn add_absent(&mut self, card: AgentCard, grace_until: NaiveDateTime) {
        self.agents.insert(
            card.id,
            AgentEntry {
                card,
                sessions: HashSet::new(),
                status: AgentStatus::Online,
                grace_until: Some(grace_until),
            },
        );
    }

    /// Forgets an agent and all its sockets.
    pub(crate) fn drop_agent(&mut self, id: AgentId) {
        if let Some(e) = self.agents.remove(&id) {
            for s in e.sessions {
                self.agent_sessions.remove(&s);
            }
        }
    }

    /// Adds a visitor socket; true if the visitor was offline until now.
    pub(crate) fn add_visitor(&mut self, session: SessionId, v: VisitorId) -> bool {
        let was = self.visitor_online(v);
        self.visitor_sessions.insert(session, v);
        self.visitors.entry(v).or_default().insert(session);
        !was
    }

    /// Removes a visitor socket; returns the visitor if it has no socket left.
    pub(crate) fn remove_visitor_session(&mut self, session: SessionId) -> Option<VisitorId> {
        let v = self.visitor_sessions.remove(&session)?;
        let set = self.visitors.get_mut(&v)?;
        set.remove(&session);
        if set.is_empty() {
            self.visitors.remove(&v);
            return Some(v);
        }
        None
    }

    pub fn visitor_sockets(&self) -> usize {
        self.visitor_sessions.len()
    }

    pub fn visitors_online(&self) -> usize {
        self.visitors.len()
    }

    pub fn agent_sockets(&self) -> usize {
        self.agent_sessions.len()
    }

    pub fn agents_known(&self) -> usize {
        self.agents.len()
    }

    /// Every socket the roster holds is one its owner's entry lists (tests).
    #[cfg(test)]
    pub(crate) fn consistent(&self) -> bool {
        let agents_ok = self
            .agent_sessions
            .iter()
            .all(|(s, a)| self.agents.get(a).is_some_and(|e| e.sessions.contains(s)))
            && self
                .agents
                .values()
                .map(|e| e.sessions.len())
                .sum::<usize>()
                == self.agent_sessions.len();
        let visitors_ok = self
            .visitor_sessions
            .iter()
            .all(|(s, v)| self.visitors.get(v).is_some_and(|set| set.contains(s)))
            && self.visitors.values().all(|s| !s.is_empty())
            && self.visitors.values().map(|s| s.len()).sum::<usize>()
                == self.visitor_sessions.len();
        agents_ok && visitors_ok
    }
}
