//! Fan-out: frames to the sockets of an agent, of every agent, or of a
//! visitor. The Dispatcher actor owns it. Sockets of this node get their
//! frames at once; on the cluster's leader, sockets held by other nodes are
//! sent theirs over Redis, one message per node per frame.

use crate::chat::protocol::Shared;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use actix::Recipient;

use super::cluster::wire::ToNode;
use super::cluster::Bus;
use super::desk::Publish;
use super::messages::{CloseReason, Origin, SessionId, ToAgent, ToVisitor};
use super::protocol::{AgentOut, MessageView, VisitorOut};
use super::shared::FanOut;
use crate::domain::{AgentId, VisitorId};

mod routes;
pub use routes::Route;

enum At<R: actix::Message + Send>
where
    R::Result: Send,
{
    Here(Recipient<R>),
    /// On that node (cluster mode, on the leader).
    Node(Arc<str>),
}

#[derive(Default)]
pub struct LocalFanOut {
    agents: HashMap<AgentId, HashMap<SessionId, At<ToAgent>>>,
    visitors: HashMap<VisitorId, HashMap<SessionId, At<ToVisitor>>>,
    /// Which agent or visitor each socket belongs to, to forget it on leave.
    agent_of: HashMap<SessionId, AgentId>,
    visitor_of: HashMap<SessionId, VisitorId>,
    bus: Option<Bus>,
    /// On a relaying node: who takes part in the conversations here.
    routes: routes::Routes,
}

/// Frames for other nodes, gathered while one `publish` runs.
#[derive(Default)]
struct Away {
    agents: BTreeMap<Arc<str>, Vec<SessionId>>,
    visitors: BTreeMap<Arc<str>, Vec<SessionId>>,
}

impl LocalFanOut {
    pub fn with_bus(bus: Bus) -> Self {
        Self {
            bus: Some(bus),
            ..Self::default()
        }
    }

    /// A node that takes the lead sends other nodes' frames from now on
    /// (`None`: it stopped leading).
    pub fn use_bus(&mut self, bus: Option<Bus>) {
        self.bus = bus;
    }

    /// Every socket of this node joins the Desk again and catches up, staying
    /// open (after the cluster link was lost, or the leader changed); each
    /// one's leave and join keep this map in step. (agents, visitors) asked.
    pub fn rejoin_all_here(&self) -> (usize, usize) {
        let mut n = (0, 0);
        for at in self.agents.values().flat_map(|m| m.values()) {
            if let At::Here(r) = at {
                r.do_send(ToAgent::Rejoin);
                n.0 += 1;
            }
        }
        for at in self.visitors.values().flat_map(|m| m.values()) {
            if let At::Here(r) = at {
                r.do_send(ToVisitor::Rejoin);
                n.1 += 1;
            }
        }
        n
    }

    /// Drops every other node's sockets (this node stopped leading).
    pub fn forget_remote(&mut self) {
        for node in self.remote_nodes() {
            let (agents, visitors) = self.sessions_on(&node);
            for s in agents.into_iter().chain(visitors) {
                self.remove(s);
            }
        }
    }

    pub fn add_agent(&mut self, session: SessionId, agent: AgentId, addr: Recipient<ToAgent>) {
        self.agents
            .entry(agent)
            .or_default()
            .insert(session, At::Here(addr));
        self.agent_of.insert(session, agent);
    }

    pub fn add_visitor(
        &mut self,
        session: SessionId,
        visitor: VisitorId,
        addr: Recipient<ToVisitor>,
    ) {
        self.visitors
            .entry(visitor)
            .or_default()
            .insert(session, At::Here(addr));
        self.visitor_of.insert(session, visitor);
    }

    pub fn add_remote_agent(&mut self, session: SessionId, agent: AgentId, node: &str) {
        self.agents
            .entry(agent)
            .or_default()
            .insert(session, At::Node(node.into()));
        self.agent_of.insert(session, agent);
    }

    pub fn add_remote_visitor(&mut self, session: SessionId, visitor: VisitorId, node: &str) {
        self.visitors
            .entry(visitor)
            .or_default()
            .insert(session, At::Node(node.into()));
        self.visitor_of.insert(session, visitor);
    }

    pub fn remove(&mut self, session: SessionId) {
        if let Some(a) = self.agent_of.remove(&session) {
            forget(&mut self.agents, a, session);
        }
        if let Some(v) = self.visitor_of.remove(&session) {
            forget(&mut self.visitors, v, session);
        }
    }

    /// The nodes holding an agent's sockets (`here`: this node's name).
    pub fn nodes_of(&self, agent: AgentId, here: &str) -> Vec<String> {
        let mut n: Vec<String> = self
            .agents
            .get(&agent)
            .into_iter()
            .flat_map(|m| m.values())
            .map(|at| match at {
                At::Here(_) => here.to_owned(),
                At::Node(n) => n.to_string(),
            })
            .collect();
        n.sort();
        n.dedup();
        n
    }

    /// Nodes that hold sockets here, by name.
    pub fn remote_nodes(&self) -> Vec<String> {
        let mut n: Vec<String> = self
            .agents
            .values()
            .flat_map(|m| m.values())
            .filter_map(|a| match a {
                At::Node(n) => Some(n.to_string()),
                At::Here(_) => None,
            })
            .chain(
                self.visitors
                    .values()
                    .flat_map(|m| m.values())
                    .filter_map(|a| match a {
                        At::Node(n) => Some(n.to_string()),
                        At::Here(_) => None,
                    }),
            )
            .collect();
        n.sort();
        n.dedup();
        n
    }

    /// The sockets a node held: (agent sockets, visitor sockets).
    pub fn sessions_on(&self, node: &str) -> (Vec<SessionId>, Vec<SessionId>) {
        let agents = self
            .agents
            .values()
            .flat_map(|m| m.iter())
            .filter(|(_, a)| matches!(a, At::Node(n) if &**n == node))
            .map(|(s, _)| *s)
            .collect();
        let visitors = self
            .visitors
            .values()
            .flat_map(|m| m.iter())
            .filter(|(_, a)| matches!(a, At::Node(n) if &**n == node))
            .map(|(s, _)| *s)
            .collect();
        (agents, visitors)
    }

    /// Frames the leader sent for sockets of this node.
    pub fn from_leader(&mut self, m: ToNode) {
        match m {
            ToNode::ToAgents { sessions, frame } => {
                let mut agents: Vec<AgentId> = sessions
                    .iter()
                    .filter_map(|s| self.agent_of.get(s).copied())
                    .collect();
                agents.sort_unstable();
                agents.dedup();
                for a in agents {
                    self.routes.sent_to_agent(a, &frame);
                }
                let frame = Shared::new(frame);
                for s in sessions {
                    if let Some(At::Here(r)) = self.agent_socket(s) {
                        r.do_send(ToAgent::Frame(frame.clone()));
                    }
                }
            }
            ToNode::ToVisitors { sessions, frame } => {
                if let Some(v) = sessions.iter().find_map(|s| self.visitor_of.get(s)) {
                    self.routes.sent_to_visitor(*v, &frame);
                }
                let frame = Shared::new(frame);
                for s in sessions {
                    if let Some(At::Here(r)) = self.visitor_socket(s) {
                        r.do_send(ToVisitor::Frame(frame.clone()));
                    }
                }
            }
            ToNode::Close { sessions, reason } => {
                for s in sessions {
                    if let Some(At::Here(r)) = self.agent_socket(s) {
                        r.do_send(ToAgent::Close(reason));
                    }
                    self.remove(s);
                }
            }
            ToNode::Reply { .. } | ToNode::Resync => {}
        }
    }

    /// A message a socket here stored, on its way to the leader.
    pub fn note_stored(&mut self, m: &MessageView, origin: Origin) {
        let (visitor, agent) = match origin {
            Origin::Visitor(s) => (self.visitor_of.get(&s).copied(), None),
            // Only its owner writes to a conversation.
            Origin::Agent(s) => (None, self.agent_of.get(&s).copied()),
        };
        self.routes.stored(m, visitor, agent);
    }

    /// The link to Redis is down: `m` goes to the sockets here that take
    /// part in its conversation, if it follows on from what they have.
    pub fn deliver_here(&mut self, m: MessageView, origin: Origin) {
        // A note takes no public `seq` and goes to its agent only.
        let route = match m.private {
            true => self
                .routes
                .get(crate::domain::ConversationId(m.conversation_id))
                .map(|r| routes::Route { visitor: None, ..r }),
            false => self.routes.next_here(&m),
        };
        let Some(route) = route else {
            return;
        };
        let from = match origin {
            Origin::Visitor(s) | Origin::Agent(s) => s,
        };
        if let Some(v) = route.visitor.and_then(|v| self.visitors.get(&v)) {
            let frame = Shared::new(VisitorOut::Message { message: m.clone() });
            for (_, at) in v.iter().filter(|(s, _)| **s != from) {
                if let At::Here(r) = at {
                    r.do_send(ToVisitor::Frame(frame.clone()));
                }
            }
        }
        if let Some(a) = route.agent.and_then(|a| self.agents.get(&a)) {
            let frame = Shared::new(AgentOut::Message { message: m });
            for (_, at) in a.iter().filter(|(s, _)| **s != from) {
                if let At::Here(r) = at {
                    r.do_send(ToAgent::Frame(frame.clone()));
                }
            }
        }
    }

    /// Who owns a conversation, as far as this node has heard.
    pub fn route(&self, id: crate::domain::ConversationId) -> Option<Route> {
        self.routes.get(id)
    }

    /// Every socket here caught up (it rejoined).
    pub fn caught_up(&mut self) {
        self.routes.caught_up();
    }

    fn agent_socket(&self, s: SessionId) -> Option<&At<ToAgent>> {
        self.agents.get(self.agent_of.get(&s)?)?.get(&s)
    }

    fn visitor_socket(&self, s: SessionId) -> Option<&At<ToVisitor>> {
        self.visitors.get(self.visitor_of.get(&s)?)?.get(&s)
    }

    fn send_away(
        &self,
        away: Away,
        agent_frame: Option<&AgentOut>,
        visitor_frame: Option<&VisitorOut>,
    ) {
        let Some(bus) = &self.bus else { return };
        if let Some(f) = agent_frame {
            for (node, sessions) in away.agents {
                bus.to_node(
                    &node,
                    &ToNode::ToAgents {
                        sessions,
                        frame: f.clone(),
                    },
                );
            }
        }
        if let Some(f) = visitor_frame {
            for (node, sessions) in away.visitors {
                bus.to_node(
                    &node,
                    &ToNode::ToVisitors {
                        sessions,
                        frame: f.clone(),
                    },
                );
            }
        }
    }

    fn close_agent(&mut self, agent: AgentId, reason: CloseReason) {
        let mut away: BTreeMap<Arc<str>, Vec<SessionId>> = BTreeMap::new();
        // Told to close: nothing more is sent to them.
        for (s, at) in self.agents.remove(&agent).into_iter().flatten() {
            self.agent_of.remove(&s);
            match at {
                At::Here(r) => r.do_send(ToAgent::Close(reason)),
                At::Node(n) => away.entry(n).or_default().push(s),
            }
        }
        if let Some(bus) = &self.bus {
            for (node, sessions) in away {
                bus.to_node(&node, &ToNode::Close { sessions, reason });
            }
        }
    }
}

fn forget<K: std::hash::Hash + Eq, R>(
    map: &mut HashMap<K, HashMap<SessionId, R>>,
    key: K,
    s: SessionId,
) {
    if let Some(set) = map.get_mut(&key) {
        set.remove(&s);
        if set.is_empty() {
            map.remove(&key);
        }
    }
}

impl FanOut for LocalFanOut {
    fn publish(&mut self, p: Publish) {
        let mut away = Away::default();
        match p {
            Publish::Agent {
                agent,
                frame,
                except,
            } => {
                for (s, at) in self.agents.get(&agent).into_iter().flatten() {
                    if Some(*s) != except {
                        match at {
                            At::Here(r) => r.do_send(ToAgent::Frame(frame.clone())),
                            At::Node(n) => away.agents.entry(n.clone()).or_default().push(*s),
                        }
                    }
                }
                self.send_away(away, Some(&frame), None);
            }
            Publish::Agents { frame, except } => {
                for (a, sockets) in &self.agents {
                    if Some(*a) == except {
                        continue;
                    }
                    for (s, at) in sockets {
                        match at {
                            At::Here(r) => r.do_send(ToAgent::Frame(frame.clone())),
                            At::Node(n) => away.agents.entry(n.clone()).or_default().push(*s),
                        }
                    }
                }
                self.send_away(away, Some(&frame), None);
            }
            Publish::Visitor {
                visitor,
                frame,
                except,
            } => {
                for (s, at) in self.visitors.get(&visitor).into_iter().flatten() {
                    if Some(*s) != except {
                        match at {
                            At::Here(r) => r.do_send(ToVisitor::Frame(frame.clone())),
                            At::Node(n) => away.visitors.entry(n.clone()).or_default().push(*s),
                        }
                    }
                }
                self.send_away(away, None, Some(&frame));
            }
            Publish::CloseAgent { agent, reason } => self.close_agent(agent, reason),
            Publish::Group { to, frame, except } => {
                let of = |a: &AgentId| to.contains(*a);
                for (_, sockets) in self.agents.iter().filter(|(a, _)| of(a)) {
                    for (s, at) in sockets.iter().filter(|(s, _)| Some(**s) != except) {
                        match at {
                            At::Here(r) => r.do_send(ToAgent::Frame(frame.clone())),
                            At::Node(n) => away.agents.entry(n.clone()).or_default().push(*s),
                        }
                    }
                }
                self.send_away(away, Some(&frame), None);
            }
            Publish::Visitors { frame } => {
                for (s, at) in self.visitors.values().flatten() {
                    match at {
                        At::Here(r) => r.do_send(ToVisitor::Frame(frame.clone())),
                        At::Node(n) => away.visitors.entry(n.clone()).or_default().push(*s),
                    }
                }
                self.send_away(away, None, Some(&frame));
            }
        }
    }
}
