//! What the Desk shows: conversation views, presence, counts, and the
//! frames that tell people about them.

use crate::chat::protocol::Shared;

use super::{Conv, Desk, Effect, Publish};
use crate::chat::assignment::Candidate;
use crate::chat::messages::{Access, AgentCard, ChatError, Counts, SessionId};
use crate::chat::protocol::{
    rfc3339, AgentOut, AgentPresence, AgentRef, AgentStatus, ConversationView, VisitorOut,
    VisitorView,
};
use crate::domain::{AgentId, ConversationId, ConversationStatus, VisitorId};

/// Numbers for the metrics gauges.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub visitors_connected: usize,
    pub agents_online: usize,
    pub queued: usize,
    /// Open conversations per agent that owns any.
    pub loads: Vec<(AgentId, usize)>,
}

impl Desk {
    pub(super) fn agent_name(&self, id: AgentId) -> String {
        self.roster
            .agent(id)
            .map(|a| a.card.name.clone())
            .or_else(|| self.names.get(&id).cloned())
            .unwrap_or_else(|| format!("Agent {id}"))
    }

    pub(super) fn agent_ref(&self, id: AgentId) -> AgentRef {
        AgentRef {
            id: id.0,
            name: self.agent_name(id),
        }
    }

    pub(super) fn view(&self, id: ConversationId) -> Option<ConversationView> {
        let c = self.convs.get(&id)?;
        Some(ConversationView {
            id: id.0,
            status: c.assignment.status,
            agent: c.assignment.agent.map(|a| self.agent_ref(a)),
            visitor: VisitorView::of(&c.visitor, self.roster.visitor_online(c.visitor.id)),
            last_seq: c.last_seq,
            unread: c.unread,
            last_message: c.last_message.clone(),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            labels: c.labels.clone(),
        })
    }

    /// Who is online, their status and load, by id.
    pub fn presence(&self) -> Vec<AgentPresence> {
        let mut v: Vec<AgentPresence> = self
            .roster
            .online()
            .map(|a| AgentPresence {
                id: a.card.id.0,
                name: a.card.name.clone(),
                status: a.status,
                open_conversations: self.load(a.card.id),
                nodes: Vec::new(),
            })
            .collect();
        v.sort_by_key(|p| p.id);
        v
    }

    pub(super) fn candidates(&self, exclude: Option<AgentId>) -> Vec<Candidate> {
        self.roster
            .online()
            .filter(|a| a.status == AgentStatus::Online && Some(a.card.id) != exclude)
            .filter(|a| !self.full(a.card.id))
            .map(|a| Candidate {
                agent: a.card.id,
                load: self.load(a.card.id),
            })
            .collect()
    }

    /// Has the agent as many open conversations as its capacity allows?
    pub(super) fn full(&self, agent: AgentId) -> bool {
        let cap = self.roster.agent(agent).map_or(0, |a| a.card.capacity);
        cap > 0 && self.load(agent) >= cap as usize
    }

    /// The conversations waiting in the queue, oldest first.
    pub fn queue(&self) -> Vec<ConversationId> {
        self.queue.iter().map(|(_, id)| *id).collect()
    }

    pub fn counts(&self) -> Counts {
        Counts {
            visitor_sockets: self.roster.visitor_sockets(),
            visitors_online: self.roster.visitors_online(),
            agent_sockets: self.roster.agent_sockets(),
            agents_known: self.roster.agents_known(),
            agents_online: self.roster.online().count(),
            conversations: self.convs.len(),
            queued: self.queue.len(),
            pending_deliveries: self.convs.values().map(|c| c.pending.len()).sum(),
        }
    }

    pub fn gauges(&self) -> Gauges {
        Gauges {
            visitors_connected: self.roster.visitors_online(),
            agents_online: self.roster.online().count(),
            queued: self.queue.len(),
            loads: self.loads.iter().map(|(a, n)| (*a, *n)).collect(),
        }
    }

    /// May `agent` read (or write to) `id`? `NotLive` when it is not open here.
    pub fn authorize(
        &self,
        agent: &AgentCard,
        id: ConversationId,
        write: bool,
    ) -> Result<Access, ChatError> {
        if !self.convs.contains_key(&id) {
            return Ok(Access::NotLive);
        }
        self.check(agent, id, write).map(|_| Access::Granted)
    }

    /// Own conversations and the queue (to read); admins everything.
    pub(super) fn check(
        &self,
        agent: &AgentCard,
        id: ConversationId,
        write: bool,
    ) -> Result<&Conv, ChatError> {
        let c = self.convs.get(&id).ok_or(ChatError::NotFound)?;
        let mine = c.assignment.agent == Some(agent.id);
        let queued = c.assignment.status == ConversationStatus::Queued;
        if agent.is_admin || mine || (queued && !write) {
            Ok(c)
        } else {
            Err(ChatError::Forbidden)
        }
    }

    /// The agent of a visitor's own conversation (for typing and read markers).
    pub(super) fn owner_for_visitor(
        &self,
        v: VisitorId,
        id: ConversationId,
    ) -> Result<Option<AgentId>, ChatError> {
        let c = self.convs.get(&id).ok_or(ChatError::NotFound)?;
        if c.visitor.id != v {
            return Err(ChatError::Forbidden);
        }
        Ok(c.assignment.agent)
    }

    // ---- frames ----

    pub(super) fn tell_agent(
        &mut self,
        agent: AgentId,
        frame: AgentOut,
        except: Option<SessionId>,
    ) {
        if self.roster.agent_online(agent) {
            self.emit(Effect::Publish(Publish::Agent {
                agent,
                frame: Shared::new(frame),
                except,
            }));
        }
    }

    /// To every online agent but `except`.
    pub(super) fn tell_agents(&mut self, frame: AgentOut, except: Option<AgentId>) {
        self.emit(Effect::Publish(Publish::Agents {
            frame: Shared::new(frame),
            except,
        }));
    }

    pub(super) fn tell_visitor(
        &mut self,
        visitor: VisitorId,
        frame: VisitorOut,
        except: Option<SessionId>,
    ) {
        if self.roster.visitor_online(visitor) {
            self.emit(Effect::Publish(Publish::Visitor {
                visitor,
                frame: Shared::new(frame),
                except: except.or(self.joining),
            }));
        }
    }

    /// Tells the owner (or, for a queued one, every agent) that a conversation changed.
    pub(super) fn announce(&mut self, id: ConversationId) {
        let Some(view) = self.view(id) else { return };
        let owner = self.convs.get(&id).and_then(|c| c.assignment.agent);
        let frame = AgentOut::Conversation { conversation: view };
        match owner {
            Some(owner) if frame_is_assigned(&frame) => self.tell_agent(owner, frame, None),
            _ => {
                if let Some(c) = self.convs.get_mut(&id) {
                    c.listed = c.assignment.status == ConversationStatus::Queued;
                }
                self.tell_agents(frame, None)
            }
        }
    }

    pub(super) fn broadcast_presence(&mut self) {
        self.presence_changed = true;
        let frame = AgentOut::Agents {
            agents: self.presence(),
        };
        self.tell_agents(frame, None);
    }
}

fn frame_is_assigned(f: &AgentOut) -> bool {
    matches!(f, AgentOut::Conversation { conversation } if conversation.status == ConversationStatus::Assigned)
}
