//! The Dispatcher in a cluster. On the leader: calls from other nodes'
//! sockets go to the Desk like local ones, and the sockets of a node whose
//! lease ran out leave. On any other node: each call goes to the leader and
//! its answer comes back; frames the leader sends go to this node's sockets.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::oneshot;

use super::Dispatcher;
use crate::chat::cluster::wire::{Call, Request, ToNode};
use crate::chat::cluster::{Bus, Inbound};
use crate::chat::desk::Desk;
use crate::chat::shared::Assignments;
use crate::domain::{AgentId, Conversation, Visitor};

/// How long a relayed call waits for the leader before it counts as unanswered.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// What a node needs to take the lead: the open conversations and agents'
/// names from storage, and an assignment writer. Made (blocking: it waits
/// for the dead leader's database lease to run out) by the startup code.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Promotion {
    pub open: Vec<(Conversation, Visitor)>,
    pub names: HashMap<AgentId, String>,
    pub rooms: Vec<(crate::domain::RoomId, i64)>,
    pub labels: HashMap<crate::domain::ConversationId, Vec<crate::chat::protocol::LabelRef>>,
    pub assignments: Box<dyn Assignments>,
}

/// Makes a [`Promotion`]; runs on a thread of its own.
pub type Promoter = std::sync::Arc<dyn Fn() -> Promotion + Send + Sync>;

pub(super) struct Relay {
    pub(super) bus: Bus,
    next: u64,
    waiting: HashMap<u64, (oneshot::Sender<Value>, Instant)>,
}

impl Relay {
    pub(super) fn new(bus: Bus) -> Self {
        Self {
            bus,
            next: 0,
            waiting: HashMap::new(),
        }
    }

    fn request(&self, id: u64, call: Call) -> Request {
        Request {
            node: self.bus.config().node_id.clone(),
            id,
            call,
        }
    }
}

impl Dispatcher {
    /// Sends `call` to the leader; its answer, or `fallback` if none comes.
    pub(super) fn relayed<R: DeserializeOwned + 'static>(
        &mut self,
        call: Call,
        fallback: R,
    ) -> ResponseFuture<R> {
        // No link: no answer could come back (the subscription is down).
        let linked = self.linked();
        let Some(relay) = self.relay.as_mut().filter(|_| linked) else {
            return Box::pin(std::future::ready(fallback));
        };
        relay.next += 1;
        let id = relay.next;
        let (tx, rx) = oneshot::channel();
        relay.waiting.insert(id, (tx, Instant::now()));
        relay.bus.to_leader(&relay.request(id, call));
        Box::pin(async move {
            match rx.await {
                Ok(v) => serde_json::from_value(v).unwrap_or(fallback),
                Err(_) => fallback,
            }
        })
    }

    /// Sends `call` to the leader, wanting no answer.
    pub(super) fn tell(&mut self, call: Call) {
        if let Some(relay) = &self.relay {
            relay.bus.to_leader(&relay.request(0, call));
        }
    }

    /// Cluster chores: the link delivers here; the leader checks for nodes
    /// gone; a node drops calls the leader never answered.
    pub(super) fn start_cluster(&mut self, ctx: &mut Context<Self>) {
        let me = ctx.address().recipient::<Inbound>();
        if let Some(bus) = &self.bus {
            bus.deliver_to(me.clone());
            self.start_leading(ctx);
        }
        if let Some(relay) = &self.relay {
            relay.bus.deliver_to(me);
            ctx.run_interval(Duration::from_secs(1), |act, _| {
                if let Some(r) = act.relay.as_mut() {
                    // Dropping the sender answers the caller with its fallback.
                    r.waiting.retain(|_, (_, at)| at.elapsed() < ANSWER_WITHIN);
                }
            });
        }
    }

    fn start_leading(&mut self, ctx: &mut Context<Self>) {
        let Some(bus) = &self.bus else { return };
        ctx.run_interval(bus.config().ttl / 3, |act, _| {
            if let Some(bus) = &act.bus {
                bus.check_nodes(act.fanout.remote_nodes());
            }
        });
    }

    /// Is this relaying node's link to Redis up?
    pub(super) fn linked(&self) -> bool {
        self.relay.as_ref().is_some_and(|r| r.bus.connected())
    }

    /// What this node's sockets told the Desk, or what it sent them, may
    /// be lost (the link was down, or the Desk is a new one): the leader
    /// forgets this node's sockets, and each socket, staying open, joins
    /// again and catches up from storage (a visitor is sent what it missed;
    /// an agent gets a fresh `welcome`, from which the dashboard asks for
    /// the history it lacks).
    fn resync(&mut self) {
        self.tell(Call::ForgetNode);
        self.fanout.caught_up();
        let (agents, visitors) = self.fanout.rejoin_all_here();
        tracing::warn!(agents, visitors, "sockets join the Desk again");
    }

    /// The sockets `node` held leave the Desk (it is gone, or starts over).
    fn drop_node(&mut self, node: &str, now: chrono::NaiveDateTime) {
        let (agents, visitors) = self.fanout.sessions_on(node);
        tracing::warn!(%node, agents = agents.len(), visitors = visitors.len(), "a node's sockets leave");
        let Some(d) = self.desk.as_mut() else { return };
        for s in agents {
            self.fanout.remove(s);
            d.agent_leave(now, s);
        }
        for s in visitors {
            self.fanout.remove(s);
            d.visitor_leave(s);
        }
    }

    /// Another node took the lead: this one stops deciding and relays.
    fn demoted(&mut self, ctx: &mut Context<Self>) {
        let Some(bus) = self.bus.take() else { return };
        self.desk = None;
        // Dropping the writer lets it finish what it was given.
        self.assignments = None;
        for (_, h) in self.timers.drain() {
            ctx.cancel_future(h);
        }
        self.fanout.use_bus(None);
        self.fanout.forget_remote();
        self.relay = Some(Relay::new(bus));
        tracing::warn!("this node no longer leads the cluster");
        self.resync();
    }

    /// The leader died and this node took the lead: build the Desk from storage.
    fn promoted(&mut self, ctx: &mut Context<Self>) {
        let Some(make) = self.promoter.clone() else {
            return;
        };
        let me = ctx.address().recipient::<Promotion>();
        let spawned = std::thread::Builder::new()
            .name("livedesk-promote".into())
            .spawn(move || me.do_send(make()));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start taking the lead");
        }
    }
    /// A call from another node's socket, on the leader.
    fn serve(&mut self, req: Request, ctx: &mut Context<Self>) {
        let now = self.now();
        let node = req.node.clone();
        if matches!(req.call, Call::GetPresence) {
            let value = json(&self.presence_with_nodes());
            if let Some(bus) = &self.bus {
                bus.to_node(&node, &ToNode::Reply { id: req.id, value });
            }
            return;
        }
        if matches!(req.call, Call::ForgetNode) {
            self.drop_node(&node, now);
            self.run_effects(ctx);
            return;
        }
        let Some(d) = self.desk.as_mut() else { return };
        let value: Value = match req.call {
            Call::VisitorJoin {
                session,
                visitor,
                conversation,
            } => {
                self.fanout.add_remote_visitor(session, visitor.id, &node);
                let mut r = d.visitor_join(now, session, &visitor, conversation.as_ref());
                r.availability = self.availability();
                json(&r)
            }
            Call::AgentJoin { session, agent } => {
                self.fanout.add_remote_agent(session, agent.id, &node);
                json(&d.agent_join(now, session, &agent))
            }
            Call::VisitorLeave { session } => {
                self.fanout.remove(session);
                d.visitor_leave(session);
                Value::Null
            }
            Call::AgentLeave { session } => {
                self.fanout.remove(session);
                d.agent_leave(now, session);
                Value::Null
            }
            Call::OpenConversation {
                visitor,
                conversation,
            } => json(&d.open_conversation(now, &visitor, &conversation)),
            Call::Deliver { message, origin } => {
                d.deliver(now, message, origin);
                Value::Null
            }
            Call::Claim {
                agent,
                conversation,
            } => json(&d.claim(now, &agent, conversation)),
            Call::Transfer {
                by,
                conversation,
                to,
            } => json(&d.transfer(now, &by, conversation, to)),
            Call::Close { by, conversation } => json(&d.close(now, &by, conversation)),
            Call::CloseQueued { by, conversations } => {
                json(&d.close_queued(now, &by, &conversations))
            }
            Call::SetStatus { agent, status } => {
                d.set_status(now, agent, status);
                Value::Null
            }
            Call::Typing {
                from,
                conversation,
                active,
            } => json(&d.typing(&from, conversation, active)),
            Call::ReadUpTo {
                by,
                conversation,
                seq,
            } => json(&d.read_up_to(&by, conversation, seq)),
            Call::Authorize {
                agent,
                conversation,
                write,
            } => json(&d.authorize(&agent, conversation, write)),
            Call::KickAgent { agent } => {
                d.kick(now, agent);
                Value::Null
            }
            Call::RoomDeliver {
                message,
                to,
                except,
            } => {
                d.room_deliver(now, message, to, except);
                Value::Null
            }
            Call::ToGroup { to, frame, except } => {
                d.tell_members(to, frame, except);
                Value::Null
            }
            Call::ToAllVisitors { frame } => {
                d.tell_all_visitors(frame);
                Value::Null
            }
            Call::SetLabels {
                conversation,
                labels,
            } => {
                d.set_labels(conversation, labels);
                Value::Null
            }
            Call::LabelsChanged { all } => {
                d.labels_changed(&all);
                Value::Null
            }
            Call::GetCounts => json(&d.counts()),
            Call::GetPresence | Call::ForgetNode => Value::Null, // done above
            Call::GetQueue => json(&d.queue()),
        };
        self.run_effects(ctx);
        if req.id != 0 {
            if let Some(bus) = &self.bus {
                bus.to_node(&node, &ToNode::Reply { id: req.id, value });
            }
        }
    }
}

fn json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Handler<Inbound> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: Inbound, ctx: &mut Self::Context) {
        match m {
            Inbound::Request(req) => self.serve(req, ctx),
            Inbound::ToNode(ToNode::Reply { id, value }) => {
                if let Some((tx, _)) = self.relay.as_mut().and_then(|r| r.waiting.remove(&id)) {
                    let _ = tx.send(value);
                }
            }
            Inbound::LeaderChanged | Inbound::ToNode(ToNode::Resync) => self.resync(),
            Inbound::ToNode(frames) => self.fanout.from_leader(frames),
            Inbound::Promoted => self.promoted(ctx),
            Inbound::Resync => {
                // On the leader the nodes' calls of that while are gone too:
                // every node's sockets start over, not only this node's.
                if let Some(bus) = &self.bus {
                    for node in self.fanout.remote_nodes() {
                        bus.to_node(&node, &ToNode::Resync);
                    }
                }
                self.resync();
            }
            Inbound::Demoted => self.demoted(ctx),
            Inbound::NodesGone(nodes) => {
                let now = self.now();
                for node in nodes {
                    // Should it be alive after all, its sockets start over.
                    if let Some(bus) = &self.bus {
                        bus.to_node(&node, &ToNode::Resync);
                    }
                    self.drop_node(&node, now);
                }
                self.run_effects(ctx);
            }
        }
    }
}

impl Handler<Promotion> for Dispatcher {
    type Result = ();
    fn handle(&mut self, p: Promotion, ctx: &mut Self::Context) {
        let Some(relay) = self.relay.take() else {
            return;
        };
        let now = self.now();
        let mut desk = Desk::new(self.cfg.clone(), rand::random(), p.open, p.names, now);
        desk.seed_rooms(p.rooms);
        desk.seed_labels(p.labels);
        self.desk = Some(desk);
        let mut a = p.assignments;
        a.report_to(ctx.address().recipient());
        self.assignments = Some(a);
        self.fanout.use_bus(Some(relay.bus.clone()));
        self.bus = Some(relay.bus);
        self.start_leading(ctx);
        tracing::warn!("this node leads the cluster now");
        self.resync();
        self.run_effects(ctx);
    }
}
