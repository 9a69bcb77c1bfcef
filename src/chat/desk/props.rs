//! Random sequences of joins, leaves, claims, transfers, closes, timers and
//! stored-row races, with the invariants checked after every step.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;

use super::testkit::{card, cfg, conv, t, visitor};
use super::{AssignmentChange, Desk, Effect, Publish, Timer};
use crate::chat::messages::{AgentCard, SessionId};
use crate::chat::protocol::{AgentOut, AgentStatus};
use crate::domain::{AgentId, Conversation, ConversationId, VisitorId};
use crate::domain::{Assignment, ConversationStatus};

mod restart;

#[derive(Debug, Clone)]
enum Op {
    AgentJoin(i64),
    AgentLeave(usize),
    VisitorOpens(i64),
    VisitorLeave(usize),
    Status(i64, bool),
    Claim(i64, usize),
    Transfer(i64, usize, i64),
    Close(i64, usize),
    Kick(i64),
    /// Another path closes a conversation in storage; the Desk hears later.
    ClosedElsewhere(usize),
    /// Time passes; due timers fire.
    Advance(u16),
    /// The assignment writer catches up; losses and closes are reported.
    Flush,
    /// The node dies (what the writer had not stored is lost, and every
    /// socket and timer) and starts again from storage.
    Crash,
}

/// Agents 1 and 4 may have one open conversation, 2 two, 3 any number.
fn capped(a: i64) -> AgentCard {
    AgentCard {
        capacity: (a % 3) as u32,
        ..card(a)
    }
}

fn op() -> impl Strategy<Value = Op> {
    let agent = 1i64..5;
    prop_oneof![
        3 => agent.clone().prop_map(Op::AgentJoin),
        2 => any::<usize>().prop_map(Op::AgentLeave),
        3 => (1i64..7).prop_map(Op::VisitorOpens),
        1 => any::<usize>().prop_map(Op::VisitorLeave),
        2 => (agent.clone(), any::<bool>()).prop_map(|(a, on)| Op::Status(a, on)),
        2 => (agent.clone(), any::<usize>()).prop_map(|(a, c)| Op::Claim(a, c)),
        2 => (agent.clone(), any::<usize>(), agent.clone()).prop_map(|(a, c, b)| Op::Transfer(a, c, b)),
        1 => (0i64..5, any::<usize>()).prop_map(|(a, c)| Op::Close(a, c)),
        1 => agent.prop_map(Op::Kick),
        1 => any::<usize>().prop_map(Op::ClosedElsewhere),
        2 => (0u16..1_500).prop_map(Op::Advance),
        2 => Just(Op::Flush),
        1 => Just(Op::Crash),
    ]
}

/// The world around the Desk: storage, timers, sockets and what each agent
/// was told it owns.
struct World {
    desk: Desk,
    now: i64,
    db: HashMap<ConversationId, Assignment>,
    writes: Vec<AssignmentChange>,
    closed_elsewhere: Vec<ConversationId>,
    timers: HashMap<Timer, i64>,
    agent_sockets: Vec<(SessionId, i64)>,
    visitor_sockets: Vec<(SessionId, i64)>,
    next_session: SessionId,
    next_conv: i64,
    /// Conversation → agents whose dashboards show it as theirs.
    believed: HashMap<ConversationId, HashSet<AgentId>>,
    /// Conversation → agents whose dashboards list it in the queue.
    listed: HashMap<ConversationId, HashSet<AgentId>>,
    /// Conversation → its visitor and when it was opened, as stored.
    made: HashMap<ConversationId, (i64, chrono::NaiveDateTime)>,
}

impl World {
    fn new() -> Self {
        Self {
            desk: Desk::new(cfg(), 11, Vec::new(), HashMap::new(), t(0)),
            now: 0,
            db: HashMap::new(),
            writes: Vec::new(),
            closed_elsewhere: Vec::new(),
            timers: HashMap::new(),
            agent_sockets: Vec::new(),
            visitor_sockets: Vec::new(),
            next_session: 1,
            next_conv: 1,
            believed: HashMap::new(),
            listed: HashMap::new(),
            made: HashMap::new(),
        }
    }

    fn open_convs(&self) -> Vec<ConversationId> {
        let mut v: Vec<_> = self.desk.convs.keys().copied().collect();
        v.sort();
        v
    }

    fn pick_conv(&self, i: usize) -> ConversationId {
        let open = self.open_convs();
        if open.is_empty() {
            ConversationId(999)
        } else {
            open[i % open.len()]
        }
    }

    fn admin_or(&self, a: i64) -> AgentCard {
        AgentCard {
            is_admin: a == 0,
            ..card(a.max(1))
        }
    }

    fn step(&mut self, op: &Op) {
        let now = t(self.now);
        match *op {
            Op::AgentJoin(a) => {
                let s = self.session();
                self.agent_sockets.push((s, a));
                let snap = self.desk.agent_join(now, s, &capped(a));
                for c in snap.queue {
                    self.listed
                        .entry(ConversationId(c.id))
                        .or_default()
                        .insert(AgentId(a));
                }
                for c in snap.mine {
                    self.believed
                        .entry(ConversationId(c.id))
                        .or_default()
                        .insert(AgentId(a));
                }
            }
            Op::AgentLeave(i) if !self.agent_sockets.is_empty() => {
                let (s, a) = self.agent_sockets.remove(i % self.agent_sockets.len());
                if !self.agent_sockets.iter().any(|(_, b)| *b == a) {
                    self.forget_beliefs(AgentId(a));
                }
                self.desk.agent_leave(now, s);
            }
            Op::VisitorOpens(v) => {
                // A returning visitor's socket brings its open conversation as stored.
                let open = self
                    .desk
                    .convs
                    .iter()
                    .find(|(_, c)| c.visitor.id.0 == v)
                    .map(|(id, c)| Conversation {
                        id: *id,
                        visitor_id: VisitorId(v),
                        assignment: self.db[id],
                        last_seq: 0,
                        created_at: c.created_at,
                    });
                let s = self.session();
                self.visitor_sockets.push((s, v));
                self.desk.visitor_join(now, s, &visitor(v), open.as_ref());
                if open.is_none() {
                    let id = self.next_conv;
                    self.next_conv += 1;
                    let c = Conversation {
                        created_at: now,
                        ..conv(id, v, 0)
                    };
                    self.db.insert(c.id, c.assignment);
                    self.made.insert(c.id, (v, now));
                    self.desk.open_conversation(now, &visitor(v), &c);
                }
            }
            Op::VisitorLeave(i) if !self.visitor_sockets.is_empty() => {
                let (s, _) = self.visitor_sockets.remove(i % self.visitor_sockets.len());
                self.desk.visitor_leave(s);
            }
            Op::Status(a, online) => {
                let s = if online {
                    AgentStatus::Online
                } else {
                    AgentStatus::Away
                };
                self.desk.set_status(now, AgentId(a), s);
            }
            Op::Claim(a, c) => {
                let _ = self.desk.claim(now, &card(a), self.pick_conv(c));
            }
            Op::Transfer(a, c, b) => {
                let _ = self
                    .desk
                    .transfer(now, &card(a), self.pick_conv(c), AgentId(b));
            }
            Op::Close(a, c) => {
                // As the socket does it: allowed? then storage, then the Desk.
                let id = self.pick_conv(c);
                let by = self.admin_or(a);
                if self.desk.authorize(&by, id, false) == Ok(crate::chat::messages::Access::Granted)
                {
                    self.close_in_db(id);
                    self.desk.close(now, &by, id).expect("allowed, and open");
                }
            }
            Op::Kick(a) => {
                self.agent_sockets.retain(|(_, b)| *b != a);
                self.forget_beliefs(AgentId(a));
                self.desk.kick(now, AgentId(a));
            }
            Op::ClosedElsewhere(c) => {
                let id = self.pick_conv(c);
                if self.desk.convs.contains_key(&id) {
                    self.close_in_db(id);
                    self.closed_elsewhere.push(id);
                }
            }
            Op::Advance(ms) => {
                self.now += i64::from(ms);
                loop {
                    let due = self
                        .timers
                        .iter()
                        .filter(|(_, at)| **at <= self.now)
                        .min_by_key(|(timer, at)| (**at, format!("{timer:?}")))
                        .map(|(timer, _)| *timer);
                    let Some(timer) = due else { break };
                    self.timers.remove(&timer);
                    self.desk.timer_fired(t(self.now), timer);
                    self.effects();
                }
            }
            Op::Flush => self.flush(),
            Op::Crash => self.crash_and_restart(),
            _ => {}
        }
        self.effects();
    }

    fn session(&mut self) -> SessionId {
        self.next_session += 1;
        self.next_session
    }

    fn close_in_db(&mut self, id: ConversationId) {
        if let Some(a) = self.db.get_mut(&id) {
            a.status = ConversationStatus::Closed;
        }
    }

    /// The writer applies what queued up, compare-and-set; losses go back.
    fn flush(&mut self) {
        while !self.writes.is_empty() || !self.closed_elsewhere.is_empty() {
            for w in std::mem::take(&mut self.writes) {
                let row = self
                    .db
                    .get_mut(&w.conversation)
                    .expect("written rows exist");
                if *row == w.from && row.status != ConversationStatus::Closed {
                    *row = w.to;
                } else {
                    let actual = *row;
                    self.desk.store_lost(t(self.now), w, actual);
                    self.effects();
                }
            }
            // The other path tells the Desk after storage, as the admin console does.
            let ids = std::mem::take(&mut self.closed_elsewhere);
            self.desk.close_queued(t(self.now), &self.admin_or(0), &ids);
            self.effects();
        }
    }

    fn forget_beliefs(&mut self, a: AgentId) {
        for set in self.listed.values_mut() {
            set.remove(&a);
        }
        for set in self.believed.values_mut() {
            set.remove(&a);
        }
    }

    fn effects(&mut self) {
        for e in self.desk.take_effects() {
            match e {
                Effect::Store(w) => self.writes.push(w),
                Effect::Arm { timer, after } => {
                    self.timers
                        .insert(timer, self.now + after.as_millis() as i64);
                }
                Effect::Cancel(timer) => {
                    self.timers.remove(&timer);
                }
                Effect::Publish(Publish::Agent { agent, frame, .. }) => {
                    self.heard(Some(agent), None, &frame)
                }
                Effect::Publish(Publish::Agents { frame, except }) => {
                    self.heard(None, except, &frame)
                }
                Effect::Publish(Publish::CloseAgent { agent, .. }) => self.forget_beliefs(agent),
                // Rooms and notices say nothing of who owns what.
                Effect::Publish(Publish::Group { .. } | Publish::Visitors { .. }) => {}
                Effect::Publish(Publish::Visitor { .. }) | Effect::Metric(_) => {}
            }
        }
    }

    /// What a frame makes its agents believe they own.
    fn heard(&mut self, to: Option<AgentId>, except: Option<AgentId>, f: &AgentOut) {
        let online: Vec<AgentId> = self
            .agent_sockets
            .iter()
            .map(|(_, a)| AgentId(*a))
            .collect();
        let hearers: Vec<AgentId> = match to {
            Some(a) => vec![a],
            None => online.into_iter().filter(|a| Some(*a) != except).collect(),
        };
        for a in hearers {
            match f {
                AgentOut::Conversation { conversation: v } => {
                    let listing = self.listed.entry(ConversationId(v.id)).or_default();
                    if v.status == ConversationStatus::Queued {
                        listing.insert(a);
                    } else {
                        listing.remove(&a);
                    }
                    let set = self.believed.entry(ConversationId(v.id)).or_default();
                    if v.status == ConversationStatus::Assigned
                        && v.agent.as_ref().map(|r| r.id) == Some(a.0)
                    {
                        set.insert(a);
                    } else {
                        set.remove(&a);
                    }
                }
                AgentOut::Unassigned { conversation_id } => {
                    let id = ConversationId(*conversation_id);
                    if let Some(set) = self.believed.get_mut(&id) {
                        set.remove(&a);
                    }
                    if let Some(set) = self.listed.get_mut(&id) {
                        set.remove(&a);
                    }
                }
                _ => {}
            }
        }
    }

    fn check(&self) {
        let d = &self.desk;
        let mut loads: BTreeMap<AgentId, usize> = BTreeMap::new();
        let mut queued: Vec<(chrono::NaiveDateTime, ConversationId)> = Vec::new();
        for (id, c) in &d.convs {
            let a = c.assignment;
            assert_ne!(
                a.status,
                ConversationStatus::Closed,
                "closed ones leave the Desk"
            );
            assert_eq!(
                a.status == ConversationStatus::Assigned,
                a.agent.is_some(),
                "{id}: {a:?}"
            );
            match a.agent {
                Some(owner) => {
                    *loads.entry(owner).or_default() += 1;
                    assert!(
                        d.roster.knows(owner),
                        "{id}'s owner {owner} is online or in grace"
                    );
                }
                None => queued.push((c.created_at, *id)),
            }
            let believers = self.believed.get(id).cloned().unwrap_or_default();
            assert!(
                believers.len() <= 1,
                "{id} shown as theirs to {believers:?}"
            );
            if let Some(b) = believers.iter().next() {
                assert_eq!(Some(*b), a.agent, "{id} shown to the wrong agent");
            }
        }
        for (id, agents) in &self.listed {
            let queued_here = d
                .convs
                .get(id)
                .is_some_and(|c| c.assignment.status == ConversationStatus::Queued);
            assert!(
                agents.is_empty() || queued_here,
                "{id} left the queue but {agents:?} still list it"
            );
        }
        queued.sort();
        let queue: Vec<_> = d.queue.iter().copied().collect();
        assert_eq!(
            queue, queued,
            "the queue is the unowned open ones, oldest first"
        );
        for (a, n) in &loads {
            let cap = capped(a.0).capacity as usize;
            assert!(
                cap == 0 || *n <= cap,
                "{a} holds {n}, over its capacity {cap}"
            );
        }
        let held: BTreeMap<AgentId, usize> = d.loads.iter().map(|(a, n)| (*a, *n)).collect();
        assert_eq!(held, loads, "loads count owned conversations");
        if !d.queue.is_empty() {
            assert!(
                d.candidates(None).is_empty(),
                "nothing waits while someone online could take it"
            );
        }
        assert!(d.roster.consistent());
        let c = d.counts();
        assert_eq!(c.agent_sockets, self.agent_sockets.len());
        assert_eq!(c.visitor_sockets, self.visitor_sockets.len());
    }

    /// With the writer caught up, storage and the Desk agree.
    fn check_settled(&mut self) {
        self.flush();
        for (id, c) in &self.desk.convs {
            assert_eq!(
                self.db[id], c.assignment,
                "storage and the Desk agree on {id}"
            );
        }
        for (id, a) in &self.db {
            if a.status != ConversationStatus::Closed {
                assert!(
                    self.desk.convs.contains_key(id),
                    "{id} open in storage is live"
                );
            }
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

proptest! {
    // 128 cases keep the suite fast; PROPTEST_CASES=20000 for a long run.
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // A failure prints its minimal case; what it found becomes a unit test.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_after_every_step(ops in proptest::collection::vec(op(), 1..64)) {
        let mut w = World::new();
        for op in &ops {
            w.step(op);
            w.check();
        }
        w.check_settled();
        w.check();
        // Every socket gone, the node restarted: storage and the rules agree.
        w.step(&Op::Crash);
        w.check();
        w.check_settled();
    }
}
