//! The Dispatcher: one actor per node around the [`Desk`], which holds the
//! rules. This shell owns what the rules may not touch: the sockets' handles
//! (through the fan-out), the timers, the clock, the assignment writer and
//! the metrics. Each message becomes one call on the Desk; its effects are
//! carried out before the next message. It never waits on the database.
//!
//! In a cluster only the leader's Dispatcher has a Desk; the others relay
//! each call to it and its frames to their sockets (`dispatcher/relay.rs`).

mod insight;
mod relay;
mod rooms;

pub use insight::HoursChanged;
pub use relay::{Promoter, Promotion};

use std::collections::HashMap;
use std::future::ready;

use actix::prelude::*;

use super::cluster::wire::Call;
use super::cluster::Bus;
use super::desk::{Desk, DeskConfig, Effect, Metric, Timer};
use super::fanout::LocalFanOut;
use super::messages::*;
use super::protocol::AgentPresence;
use super::shared::{Assignments, FanOut};
use crate::domain::{AgentId, Clock, ConversationId};
use crate::domain::{Conversation, Visitor};
use crate::metrics::ChatMetrics;

pub type DispatcherConfig = DeskConfig;

pub struct Dispatcher {
    /// The rules: here on one node, or on the cluster's leader.
    desk: Option<Desk>,
    /// Calls waiting for the leader's answer (a node that is not the leader).
    relay: Option<relay::Relay>,
    /// The leader's link to the other nodes.
    bus: Option<Bus>,
    clock: Clock,
    fanout: LocalFanOut,
    assignments: Option<Box<dyn Assignments>>,
    metrics: ChatMetrics,
    timers: HashMap<Timer, SpawnHandle>,
    /// The rules' settings (a relay keeps them to lead one day).
    cfg: DispatcherConfig,
    /// How a relay takes the lead when the leader dies.
    promoter: Option<Promoter>,
    /// Presence for the reports, and availability for the widget.
    insight: Option<insight::Insight>,
}

impl Dispatcher {
    /// `open`: conversations not closed, from storage; `names`: every agent's
    /// display name. `bus`: the cluster link when this node is the leader.
    pub fn new(
        cfg: DispatcherConfig,
        clock: Clock,
        assignments: Box<dyn Assignments>,
        metrics: ChatMetrics,
        open: Vec<(Conversation, Visitor)>,
        names: HashMap<AgentId, String>,
        bus: Option<Bus>,
    ) -> Self {
        let desk = Desk::new(cfg.clone(), rand::random(), open, names, clock.now_naive());
        Self {
            cfg,
            promoter: None,
            desk: Some(desk),
            relay: None,
            fanout: bus.clone().map(LocalFanOut::with_bus).unwrap_or_default(),
            bus,
            clock,
            assignments: Some(assignments),
            metrics,
            timers: HashMap::new(),
            insight: None,
        }
    }

    /// A node of a cluster that is not the leader: no Desk, every call
    /// relayed; `promoter` makes what it needs should it take the lead.
    pub fn relay(
        bus: Bus,
        cfg: DispatcherConfig,
        clock: Clock,
        metrics: ChatMetrics,
        promoter: Promoter,
    ) -> Self {
        Self {
            cfg,
            promoter: Some(promoter),
            desk: None,
            relay: Some(relay::Relay::new(bus)),
            bus: None,
            clock,
            fanout: LocalFanOut::default(),
            assignments: None,
            metrics,
            timers: HashMap::new(),
            insight: None,
        }
    }

    /// Starts the Dispatcher on a thread of its own, so it runs whatever the
    /// caller's runtime and is never slowed by HTTP workers.
    pub fn start_on_own_thread(self) -> (Addr<Dispatcher>, actix::System) {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("livedesk-dispatcher".into())
            .spawn(move || {
                let sys = actix::System::new();
                sys.block_on(async move {
                    let addr = self.start();
                    let _ = tx.send((addr, actix::System::current()));
                });
                let _ = sys.run();
            })
            .expect("spawn dispatcher thread");
        rx.recv().expect("dispatcher started")
    }

    fn now(&self) -> chrono::NaiveDateTime {
        self.clock.now_naive()
    }

    /// Carries out what the last call on the Desk asked for.
    fn run_effects(&mut self, ctx: &mut Context<Self>) {
        self.after_presence(ctx);
        let Some(desk) = self.desk.as_mut() else {
            return;
        };
        for e in desk.take_effects() {
            match e {
                Effect::Publish(p) => self.fanout.publish(p),
                Effect::Store(w) => {
                    if let Some(a) = &self.assignments {
                        a.write(w);
                    }
                }
                Effect::Arm { timer, after } => {
                    if let Some(old) = self.timers.remove(&timer) {
                        ctx.cancel_future(old);
                    }
                    let h = ctx.run_later(after, move |act, ctx| {
                        act.timers.remove(&timer);
                        let now = act.now();
                        if let Some(d) = act.desk.as_mut() {
                            d.timer_fired(now, timer);
                        }
                        act.run_effects(ctx);
                    });
                    self.timers.insert(timer, h);
                }
                Effect::Cancel(timer) => {
                    if let Some(h) = self.timers.remove(&timer) {
                        ctx.cancel_future(h);
                    }
                }
                Effect::Metric(Metric::Assigned { waited }) => {
                    self.metrics.assignments.inc();
                    self.metrics
                        .assignment_seconds
                        .observe(waited.as_secs_f64());
                }
                Effect::Metric(Metric::Reassigned) => self.metrics.reassignments.inc(),
            }
        }
    }

    fn update_gauges(&self) {
        let Some(desk) = &self.desk else { return };
        let g = desk.gauges();
        let m = &self.metrics;
        m.visitors_connected.set(g.visitors_connected as i64);
        m.agents_online.set(g.agents_online as i64);
        m.conversations_queued.set(g.queued as i64);
        m.agent_open_conversations.reset();
        for (a, n) in g.loads {
            m.agent_open_conversations
                .with_label_values(&[&a.to_string()])
                .set(n as i64);
        }
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // `send` requests wait when the mailbox is full; give bursts of joins room.
        ctx.set_mailbox_capacity(65_536);
        if let Some(a) = self.assignments.as_mut() {
            a.report_to(ctx.address().recipient());
        }
        self.start_cluster(ctx);
        self.watch_hours(ctx);
        // The grace timers of owners left from the previous run.
        self.run_effects(ctx);
    }
}

/// A handler that is one call on the Desk, then its effects; on a node that
/// is not the leader, the same call relayed (`$fallback` if it gets no answer).
macro_rules! on {
    ($msg:ty, $res:ty, |$d:ident, $m:ident, $now:ident| $body:expr, $call:expr, $fallback:expr) => {
        impl Handler<$msg> for Dispatcher {
            type Result = ResponseFuture<$res>;
            fn handle(&mut self, $m: $msg, ctx: &mut Self::Context) -> Self::Result {
                let Some($d) = self.desk.as_mut() else {
                    let call: Call = $call;
                    return self.relayed(call, $fallback);
                };
                let $now = self.clock.now_naive();
                let r: $res = $body;
                self.run_effects(ctx);
                Box::pin(ready(r))
            }
        }
    };
}

impl Handler<VisitorJoin> for Dispatcher {
    type Result = ResponseFuture<JoinReply>;
    fn handle(&mut self, m: VisitorJoin, ctx: &mut Self::Context) -> Self::Result {
        self.fanout.add_visitor(m.session, m.visitor.id, m.addr);
        let Some(d) = self.desk.as_mut() else {
            let call = Call::VisitorJoin {
                session: m.session,
                visitor: m.visitor,
                conversation: m.conversation,
            };
            return self.relayed(call, JoinReply::unavailable());
        };
        let now = self.clock.now_naive();
        let mut r = d.visitor_join(now, m.session, &m.visitor, m.conversation.as_ref());
        self.run_effects(ctx);
        r.availability = self.availability();
        Box::pin(ready(r))
    }
}

impl Handler<AgentJoin> for Dispatcher {
    type Result = ResponseFuture<AgentSnapshot>;
    fn handle(&mut self, m: AgentJoin, ctx: &mut Self::Context) -> Self::Result {
        self.fanout.add_agent(m.session, m.agent.id, m.addr);
        let Some(d) = self.desk.as_mut() else {
            let call = Call::AgentJoin {
                session: m.session,
                agent: m.agent,
            };
            return self.relayed(call, AgentSnapshot::unavailable());
        };
        let now = self.clock.now_naive();
        let r = d.agent_join(now, m.session, &m.agent);
        self.run_effects(ctx);
        Box::pin(ready(r))
    }
}

impl Handler<VisitorLeave> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: VisitorLeave, ctx: &mut Self::Context) {
        self.fanout.remove(m.session);
        match self.desk.as_mut() {
            Some(d) => d.visitor_leave(m.session),
            None => self.tell(Call::VisitorLeave { session: m.session }),
        }
        self.run_effects(ctx);
    }
}

impl Handler<AgentLeave> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: AgentLeave, ctx: &mut Self::Context) {
        self.fanout.remove(m.session);
        let now = self.now();
        match self.desk.as_mut() {
            Some(d) => d.agent_leave(now, m.session),
            None => self.tell(Call::AgentLeave { session: m.session }),
        }
        self.run_effects(ctx);
    }
}

impl Handler<Deliver> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: Deliver, ctx: &mut Self::Context) {
        let now = self.now();
        let linked = self.linked();
        match self.desk.as_mut() {
            Some(d) => d.deliver(now, m.message, m.origin),
            // The leader would not hear of it: delivered here, and caught up
            // elsewhere once the link is back.
            None if !linked => self.fanout.deliver_here(m.message, m.origin),
            None => {
                self.fanout.note_stored(&m.message, m.origin);
                self.tell(Call::Deliver {
                    message: m.message,
                    origin: m.origin,
                })
            }
        }
        self.run_effects(ctx);
    }
}

impl Handler<SetStatus> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: SetStatus, ctx: &mut Self::Context) {
        let now = self.now();
        match self.desk.as_mut() {
            Some(d) => d.set_status(now, m.agent, m.status),
            None => self.tell(Call::SetStatus {
                agent: m.agent,
                status: m.status,
            }),
        }
        self.run_effects(ctx);
    }
}

impl Handler<KickAgent> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: KickAgent, ctx: &mut Self::Context) {
        let now = self.now();
        match self.desk.as_mut() {
            Some(d) => d.kick(now, m.agent),
            None => self.tell(Call::KickAgent { agent: m.agent }),
        }
        self.run_effects(ctx);
    }
}

impl Handler<StoreLost> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: StoreLost, ctx: &mut Self::Context) {
        let now = self.now();
        if let Some(d) = self.desk.as_mut() {
            d.store_lost(now, m.write, m.actual);
        }
        self.run_effects(ctx);
    }
}

const UNAVAILABLE: Result<(), ChatError> = Err(ChatError::Unavailable);

on!(
    OpenConversation,
    JoinReply,
    |d, m, now| d.open_conversation(now, &m.visitor, &m.conversation),
    Call::OpenConversation {
        visitor: m.visitor,
        conversation: m.conversation
    },
    JoinReply::unavailable()
);
on!(Claim, Result<(), ChatError>, |d, m, now| d.claim(now, &m.agent, m.conversation),
    Call::Claim { agent: m.agent, conversation: m.conversation }, UNAVAILABLE);
on!(Transfer, Result<(), ChatError>, |d, m, now| d.transfer(now, &m.by, m.conversation, m.to),
    Call::Transfer { by: m.by, conversation: m.conversation, to: m.to }, UNAVAILABLE);
on!(Close, Result<(), ChatError>, |d, m, now| d.close(now, &m.by, m.conversation),
    Call::Close { by: m.by, conversation: m.conversation }, UNAVAILABLE);
on!(
    CloseQueued,
    usize,
    |d, m, now| d.close_queued(now, &m.by, &m.conversations),
    Call::CloseQueued {
        by: m.by,
        conversations: m.conversations
    },
    0
);
on!(Typing, Result<(), ChatError>, |d, m, _now| d.typing(&m.from, m.conversation, m.active),
    Call::Typing { from: m.from, conversation: m.conversation, active: m.active }, UNAVAILABLE);
on!(ReadUpTo, Result<(), ChatError>, |d, m, _now| d.read_up_to(&m.by, m.conversation, m.seq),
    Call::ReadUpTo { by: m.by, conversation: m.conversation, seq: m.seq }, UNAVAILABLE);
on!(
    GetQueue,
    Vec<ConversationId>,
    |d, _m, _now| d.queue(),
    Call::GetQueue,
    Vec::new()
);
impl Handler<Authorize> for Dispatcher {
    type Result = ResponseFuture<Result<Access, ChatError>>;
    fn handle(&mut self, m: Authorize, _: &mut Self::Context) -> Self::Result {
        if let Some(d) = self.desk.as_mut() {
            return Box::pin(ready(d.authorize(&m.agent, m.conversation, m.write)));
        }
        if !self.linked() {
            // No leader to ask: its owner, as this node last heard, may go on.
            let owner = self.fanout.route(m.conversation).and_then(|r| r.agent);
            let r = match owner == Some(m.agent.id) {
                true => Ok(Access::Granted),
                false => Err(ChatError::Unavailable),
            };
            return Box::pin(ready(r));
        }
        let call = Call::Authorize {
            agent: m.agent,
            conversation: m.conversation,
            write: m.write,
        };
        self.relayed(call, Err(ChatError::Unavailable))
    }
}
impl Handler<RefreshGauges> for Dispatcher {
    type Result = ();
    fn handle(&mut self, _: RefreshGauges, _: &mut Self::Context) {
        self.update_gauges();
    }
}

on!(
    GetCounts,
    Counts,
    |d, _m, _now| d.counts(),
    Call::GetCounts,
    Counts::default()
);
impl Handler<GetPresence> for Dispatcher {
    type Result = ResponseFuture<Vec<AgentPresence>>;
    fn handle(&mut self, _: GetPresence, _: &mut Self::Context) -> Self::Result {
        if self.desk.is_none() {
            return self.relayed(Call::GetPresence, Vec::new());
        }
        Box::pin(ready(self.presence_with_nodes()))
    }
}

impl Dispatcher {
    /// Presence, and in a cluster the nodes each agent's sockets are on.
    pub(super) fn presence_with_nodes(&self) -> Vec<AgentPresence> {
        let mut p = self.desk.as_ref().map(|d| d.presence()).unwrap_or_default();
        if let Some(bus) = &self.bus {
            let here = &bus.config().node_id;
            for a in &mut p {
                a.nodes = self.fanout.nodes_of(AgentId(a.id), here);
            }
        }
        p
    }
}
