//! What a relaying node learns of each conversation its sockets take part
//! in (its visitor, its agent, the last `seq` seen) from the frames it hands
//! on and the messages its sockets store. While its link to Redis is down it
//! delivers messages between its own sockets with it, as long as they follow
//! on without a gap: a message stored on another node meanwhile cannot come,
//! so the conversation waits for the catch-up when the link is back.

use std::collections::HashMap;

use crate::chat::protocol::{AgentOut, MessageView, VisitorOut};
use crate::domain::{AgentId, ConversationId, VisitorId};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub visitor: Option<VisitorId>,
    pub agent: Option<AgentId>,
    pub last_seq: i64,
    /// A message was missed: no more local delivery until the catch-up.
    pub gapped: bool,
}

#[derive(Debug, Default)]
pub struct Routes {
    convs: HashMap<ConversationId, Route>,
}

impl Routes {
    pub fn get(&self, id: ConversationId) -> Option<Route> {
        self.convs.get(&id).copied()
    }

    /// A frame the leader sent to sockets of `agent` on this node.
    pub fn sent_to_agent(&mut self, agent: AgentId, f: &AgentOut) {
        match f {
            AgentOut::Conversation { conversation: v } => {
                let r = self.convs.entry(ConversationId(v.id)).or_default();
                r.visitor = Some(VisitorId(v.visitor.id));
                r.last_seq = r.last_seq.max(v.last_seq);
                if v.status == crate::domain::ConversationStatus::Closed {
                    self.convs.remove(&ConversationId(v.id));
                } else if let Some(a) = &v.agent {
                    r.agent = Some(AgentId(a.id));
                } else if r.agent == Some(agent) {
                    r.agent = None;
                }
            }
            // Messages go to the owner only.
            AgentOut::Message { message } => {
                let r = self.seen(message);
                r.agent = Some(agent);
            }
            AgentOut::Unassigned { conversation_id } => {
                if let Some(r) = self.convs.get_mut(&ConversationId(*conversation_id)) {
                    if r.agent == Some(agent) {
                        r.agent = None;
                    }
                }
            }
            _ => {}
        }
    }

    /// A frame the leader sent to sockets of `visitor` on this node.
    pub fn sent_to_visitor(&mut self, visitor: VisitorId, f: &VisitorOut) {
        let (id, agent) = match f {
            VisitorOut::Assigned {
                conversation_id,
                agent,
            } => (*conversation_id, Some(AgentId(agent.id))),
            VisitorOut::Queued { conversation_id } => (*conversation_id, None),
            VisitorOut::Closed { conversation_id } => {
                self.convs.remove(&ConversationId(*conversation_id));
                return;
            }
            VisitorOut::Message { message } => {
                self.seen(message).visitor = Some(visitor);
                return;
            }
            _ => return,
        };
        let r = self.convs.entry(ConversationId(id)).or_default();
        r.visitor = Some(visitor);
        r.agent = agent;
    }

    /// A message this node's socket stored, sent on to the leader.
    pub fn stored(&mut self, m: &MessageView, visitor: Option<VisitorId>, agent: Option<AgentId>) {
        let r = self.seen(m);
        r.visitor = visitor.or(r.visitor);
        r.agent = agent.or(r.agent);
    }

    /// With the link down: the route to deliver `m` on, if it follows on
    /// from what this node has seen (else the conversation is gapped).
    pub fn next_here(&mut self, m: &MessageView) -> Option<Route> {
        let r = self.convs.get_mut(&ConversationId(m.conversation_id))?;
        if r.gapped || m.seq != r.last_seq + 1 {
            r.gapped = true;
            return None;
        }
        r.last_seq = m.seq;
        Some(*r)
    }

    /// Every socket caught up (it rejoined): gaps are filled.
    pub fn caught_up(&mut self) {
        for r in self.convs.values_mut() {
            r.gapped = false;
        }
    }

    fn seen(&mut self, m: &MessageView) -> &mut Route {
        let r = self
            .convs
            .entry(ConversationId(m.conversation_id))
            .or_default();
        r.last_seq = r.last_seq.max(m.seq);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::protocol::AgentRef;

    fn msg(c: i64, seq: i64) -> MessageView {
        crate::chat::desk::testkit::message(c, seq, "hi")
    }

    #[test]
    fn local_delivery_follows_on_without_gaps_and_stops_at_one() {
        let mut r = Routes::default();
        let (v, a) = (VisitorId(1), AgentId(7));
        let assigned = VisitorOut::Assigned {
            conversation_id: 10,
            agent: AgentRef {
                id: 7,
                name: "lin".into(),
            },
        };
        r.sent_to_visitor(v, &assigned);
        r.stored(&msg(10, 1), Some(v), None);
        let route = r.next_here(&msg(10, 2)).expect("follows on");
        assert_eq!((route.visitor, route.agent), (Some(v), Some(a)));
        // Seq 3 was stored elsewhere and never came: 4 waits, and so does 5.
        assert!(r.next_here(&msg(10, 4)).is_none());
        assert!(r.next_here(&msg(10, 5)).is_none());
        r.caught_up();
        r.sent_to_agent(
            a,
            &AgentOut::Message {
                message: msg(10, 5),
            },
        );
        assert!(r.next_here(&msg(10, 6)).is_some());
        // Unknown conversations are never delivered locally.
        assert!(r.next_here(&msg(11, 1)).is_none());
    }
}
