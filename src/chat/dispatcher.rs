//! The Dispatcher: one actor per node around the [`Desk`], which holds the
//! rules. This shell owns what the rules may not touch: the sockets' handles
//! (through the fan-out), the timers, the clock, the assignment writer and
//! the metrics. Each message becomes one call on the Desk; its effects are
//! carried out before the next message. It never waits on the database.

use std::collections::HashMap;

use actix::prelude::*;

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
    desk: Desk,
    clock: Clock,
    fanout: LocalFanOut,
    assignments: Box<dyn Assignments>,
    metrics: ChatMetrics,
    timers: HashMap<Timer, SpawnHandle>,
}

impl Dispatcher {
    /// `open`: conversations not closed, from storage; `names`: every agent's display name.
    pub fn new(
        cfg: DispatcherConfig,
        clock: Clock,
        assignments: Box<dyn Assignments>,
        metrics: ChatMetrics,
        open: Vec<(Conversation, Visitor)>,
        names: HashMap<AgentId, String>,
    ) -> Self {
        let desk = Desk::new(cfg, rand::random(), open, names, clock.now_naive());
        Self {
            desk,
            clock,
            fanout: LocalFanOut::default(),
            assignments,
            metrics,
            timers: HashMap::new(),
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
        for e in self.desk.take_effects() {
            match e {
                Effect::Publish(p) => self.fanout.publish(p),
                Effect::Store(w) => self.assignments.write(w),
                Effect::Arm { timer, after } => {
                    if let Some(old) = self.timers.remove(&timer) {
                        ctx.cancel_future(old);
                    }
                    let h = ctx.run_later(after, move |act, ctx| {
                        act.timers.remove(&timer);
                        let now = act.now();
                        act.desk.timer_fired(now, timer);
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
        self.update_gauges();
    }

    fn update_gauges(&self) {
        let g = self.desk.gauges();
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
        self.assignments.report_to(ctx.address().recipient());
        // The grace timers of owners left from the previous run.
        self.run_effects(ctx);
    }
}

/// A handler that is one call on the Desk, then its effects.
macro_rules! on {
    ($msg:ty, $res:ty, |$act:ident, $m:ident, $now:ident| $body:expr) => {
        impl Handler<$msg> for Dispatcher {
            type Result = $res;
            fn handle(&mut self, $m: $msg, ctx: &mut Self::Context) -> $res {
                let $now = self.now();
                let $act = &mut self.desk;
                let r = $body;
                self.run_effects(ctx);
                r
            }
        }
    };
}

impl Handler<VisitorJoin> for Dispatcher {
    type Result = JoinReply;
    fn handle(&mut self, msg: VisitorJoin, ctx: &mut Self::Context) -> JoinReply {
        self.fanout
            .add_visitor(msg.session, msg.visitor.id, msg.addr);
        let now = self.now();
        let r = self
            .desk
            .visitor_join(now, msg.session, &msg.visitor, msg.conversation.as_ref());
        self.run_effects(ctx);
        r
    }
}

impl Handler<VisitorLeave> for Dispatcher {
    type Result = ();
    fn handle(&mut self, msg: VisitorLeave, ctx: &mut Self::Context) {
        self.fanout.remove(msg.session);
        self.desk.visitor_leave(msg.session);
        self.run_effects(ctx);
    }
}

impl Handler<AgentJoin> for Dispatcher {
    type Result = AgentSnapshot;
    fn handle(&mut self, msg: AgentJoin, ctx: &mut Self::Context) -> AgentSnapshot {
        self.fanout.add_agent(msg.session, msg.agent.id, msg.addr);
        let now = self.now();
        let r = self.desk.agent_join(now, msg.session, &msg.agent);
        self.run_effects(ctx);
        r
    }
}

impl Handler<AgentLeave> for Dispatcher {
    type Result = ();
    fn handle(&mut self, msg: AgentLeave, ctx: &mut Self::Context) {
        self.fanout.remove(msg.session);
        let now = self.now();
        self.desk.agent_leave(now, msg.session);
        self.run_effects(ctx);
    }
}

on!(OpenConversation, JoinReply, |d, m, now| d
    .open_conversation(now, &m.visitor, &m.conversation));
on!(Deliver, (), |d, m, now| d.deliver(now, m.message, m.origin));
on!(Claim, Result<(), ChatError>, |d, m, now| d.claim(now, &m.agent, m.conversation));
on!(Transfer, Result<(), ChatError>, |d, m, now| d.transfer(now, &m.by, m.conversation, m.to));
on!(Close, Result<(), ChatError>, |d, m, now| d.close(now, &m.by, m.conversation));
on!(CloseQueued, usize, |d, m, now| d.close_queued(
    now,
    &m.by,
    &m.conversations
));
on!(SetStatus, (), |d, m, now| d
    .set_status(now, m.agent, m.status));
on!(Typing, Result<(), ChatError>, |d, m, _now| d.typing(&m.from, m.conversation, m.active));
on!(ReadUpTo, Result<(), ChatError>, |d, m, _now| d.read_up_to(&m.by, m.conversation, m.seq));
on!(KickAgent, (), |d, m, now| d.kick(now, m.agent));
on!(StoreLost, (), |d, m, now| d
    .store_lost(now, m.write, m.actual));
on!(GetQueue, Vec<ConversationId>, |d, _m, _now| d.queue());
on!(Authorize, Result<Access, ChatError>, |d, m, _now| d.authorize(&m.agent, m.conversation, m.write));
on!(GetCounts, Counts, |d, _m, _now| d.counts());
on!(GetPresence, Vec<AgentPresence>, |d, _m, _now| d.presence());
