//! Fan-out on one node: this node's sockets by agent and by visitor. The
//! Dispatcher actor owns it and hands it each published frame.

use std::collections::HashMap;

use actix::Recipient;

use super::desk::Publish;
use super::messages::{SessionId, ToAgent, ToVisitor};
use super::shared::FanOut;
use crate::domain::{AgentId, VisitorId};

#[derive(Default)]
pub struct LocalFanOut {
    agents: HashMap<AgentId, HashMap<SessionId, Recipient<ToAgent>>>,
    visitors: HashMap<VisitorId, HashMap<SessionId, Recipient<ToVisitor>>>,
    /// Which agent or visitor each socket belongs to, to forget it on leave.
    agent_of: HashMap<SessionId, AgentId>,
    visitor_of: HashMap<SessionId, VisitorId>,
}

impl LocalFanOut {
    pub fn add_agent(&mut self, session: SessionId, agent: AgentId, addr: Recipient<ToAgent>) {
        self.agents.entry(agent).or_default().insert(session, addr);
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
            .insert(session, addr);
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

    pub fn sockets(&self) -> usize {
        self.agent_of.len() + self.visitor_of.len()
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
        match p {
            Publish::Agent {
                agent,
                frame,
                except,
            } => {
                for (s, r) in self.agents.get(&agent).into_iter().flatten() {
                    if Some(*s) != except {
                        r.do_send(ToAgent::Frame(frame.clone()));
                    }
                }
            }
            Publish::Agents { frame, except } => {
                for (a, sockets) in &self.agents {
                    if Some(*a) != except {
                        for r in sockets.values() {
                            r.do_send(ToAgent::Frame(frame.clone()));
                        }
                    }
                }
            }
            Publish::Visitor {
                visitor,
                frame,
                except,
            } => {
                for (s, r) in self.visitors.get(&visitor).into_iter().flatten() {
                    if Some(*s) != except {
                        r.do_send(ToVisitor::Frame(frame.clone()));
                    }
                }
            }
            Publish::CloseAgent { agent, reason } => {
                // Told to close: nothing more is sent to them.
                for (s, r) in self.agents.remove(&agent).into_iter().flatten() {
                    r.do_send(ToAgent::Close(reason));
                    self.agent_of.remove(&s);
                }
            }
        }
    }
}
