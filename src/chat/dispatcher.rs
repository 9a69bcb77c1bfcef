//! The Dispatcher: one actor per node that knows who is online, which
//! conversation belongs to whom, and the queue. All its state is in memory;
//! it never waits on the database: assignment changes go to a single writer
//! thread (in order), and messages reach it only after they are stored.
//!
//! At no moment can one conversation have two agents: every change of owner
//! happens inside this single-threaded actor through `Assignment::apply`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::NaiveDateTime;
use rand::{rngs::StdRng, SeedableRng};

use super::assignment::{pick, Candidate, Strategy};
use super::messages::*;
use super::protocol::*;
use crate::domain::{
    AgentId, Assignment, Clock, ConversationId, ConversationStatus, Sender, Transition, VisitorId,
};
use crate::domain::{Conversation, Visitor};
use crate::metrics::ChatMetrics;
use crate::storage::{conversations, Storage};

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub strategy: Strategy,
    /// How long an agent may be away (no socket) before its conversations move.
    pub grace: Duration,
    /// How long a delivery waits for a missing earlier `seq` before moving on.
    pub gap_wait: Duration,
}

/// Assignment changes written in one transaction at most.
const PERSIST_BATCH: usize = 512;

/// Writes assignment changes in the order the Dispatcher made them, off its
/// thread, a burst of them in one transaction.
#[derive(Clone)]
pub struct Persister {
    tx: std::sync::mpsc::Sender<(ConversationId, Assignment, NaiveDateTime)>,
}

impl Persister {
    pub fn start(storage: Storage) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<(ConversationId, Assignment, NaiveDateTime)>();
        std::thread::Builder::new()
            .name("livedesk-persist".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    // Whatever queued up meanwhile goes into the same transaction;
                    // only the latest change of each conversation needs writing.
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter().take(PERSIST_BATCH - 1));
                    let mut seen = HashSet::new();
                    let mut changes: Vec<_> = batch
                        .into_iter()
                        .rev()
                        .filter(|(id, _, _)| seen.insert(*id))
                        .collect();
                    changes.reverse();
                    // A few tries: the rows must not keep a stale owner after a blip.
                    for attempt in 0..5 {
                        let r = storage
                            .conn()
                            .and_then(|mut c| conversations::set_assignments(&mut c, &changes));
                        match r {
                            Ok(()) => break,
                            Err(e) => {
                                tracing::warn!(size = changes.len(), attempt, error = %e, "could not store assignments");
                                std::thread::sleep(Duration::from_millis(200 << attempt));
                            }
                        }
                    }
                }
            })
            .expect("spawn persist thread");
        Self { tx }
    }

    fn save(&self, id: ConversationId, a: Assignment, at: NaiveDateTime) {
        let _ = self.tx.send((id, a, at));
    }
}

struct AgentEntry {
    card: AgentCard,
    sessions: HashMap<SessionId, Recipient<ToAgent>>,
    status: AgentStatus,
    leave_timer: Option<SpawnHandle>,
}

struct Conv {
    visitor: Visitor,
    assignment: Assignment,
    last_seq: i64,
    /// Next `seq` to hand out to recipients; later ones wait in `pending`.
    next_seq: i64,
    pending: BTreeMap<i64, (MessageView, Origin)>,
    gap_timer: Option<SpawnHandle>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    queued_since: Option<Instant>,
    unread: u32,
    last_message: Option<String>,
}

pub struct Dispatcher {
    cfg: DispatcherConfig,
    clock: Clock,
    persist: Persister,
    metrics: ChatMetrics,
    rng: StdRng,
    agents: HashMap<AgentId, AgentEntry>,
    agent_sessions: HashMap<SessionId, AgentId>,
    /// Names of agents who own conversations without being here (after a restart).
    names: HashMap<AgentId, String>,
    visitor_sessions: HashMap<SessionId, (VisitorId, Recipient<ToVisitor>)>,
    visitors: HashMap<VisitorId, HashSet<SessionId>>,
    convs: HashMap<ConversationId, Conv>,
    /// Conversations in `convs` per owning agent, kept up to date on every
    /// change, so assignment and presence never scan all conversations.
    loads: HashMap<AgentId, usize>,
    queue: BTreeSet<(NaiveDateTime, ConversationId)>,
    seed: Vec<(Conversation, Visitor)>,
    /// The visitor socket being welcomed: its `welcome` already says what
    /// the other tabs hear as `assigned`/`queued`.
    joining: Option<SessionId>,
}

impl Dispatcher {
    /// `open`: conversations not closed, from storage; `names`: every agent's display name.
    pub fn new(
        cfg: DispatcherConfig,
        clock: Clock,
        persist: Persister,
        metrics: ChatMetrics,
        open: Vec<(Conversation, Visitor)>,
        names: HashMap<AgentId, String>,
    ) -> Self {
        Self {
            cfg,
            clock,
            persist,
            metrics,
            rng: StdRng::from_os_rng(),
            agents: HashMap::new(),
            agent_sessions: HashMap::new(),
            names,
            visitor_sessions: HashMap::new(),
            visitors: HashMap::new(),
            convs: HashMap::new(),
            loads: HashMap::new(),
            queue: BTreeSet::new(),
            seed: open,
            joining: None,
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

    // ---- views ----

    fn agent_name(&self, id: AgentId) -> String {
        self.agents
            .get(&id)
            .map(|a| a.card.name.clone())
            .or_else(|| self.names.get(&id).cloned())
            .unwrap_or_else(|| format!("Agent {id}"))
    }

    fn agent_ref(&self, id: AgentId) -> AgentRef {
        AgentRef {
            id: id.0,
            name: self.agent_name(id),
        }
    }

    fn visitor_online(&self, v: VisitorId) -> bool {
        self.visitors.get(&v).is_some_and(|s| !s.is_empty())
    }

    fn view(&self, id: ConversationId) -> Option<ConversationView> {
        let c = self.convs.get(&id)?;
        Some(ConversationView {
            id: id.0,
            status: c.assignment.status,
            agent: c.assignment.agent.map(|a| self.agent_ref(a)),
            visitor: VisitorView {
                id: c.visitor.id.0,
                name: c.visitor.name.clone(),
                email: c.visitor.email.clone(),
                online: self.visitor_online(c.visitor.id),
                page_url: c.visitor.page_url.clone(),
                referrer: c.visitor.referrer.clone(),
                user_agent: c.visitor.user_agent.clone(),
                timezone: c.visitor.timezone.clone(),
                first_seen_at: rfc3339(c.visitor.first_seen_at),
                last_seen_at: rfc3339(c.visitor.last_seen_at),
            },
            last_seq: c.last_seq,
            unread: c.unread,
            last_message: c.last_message.clone(),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        })
    }

    fn load(&self, agent: AgentId) -> usize {
        let n = self.loads.get(&agent).copied().unwrap_or(0);
        // The test suite checks the running count against a full count.
        debug_assert_eq!(
            n,
            self.convs
                .values()
                .filter(|c| c.assignment.agent == Some(agent))
                .count()
        );
        n
    }

    /// Keeps `loads` in step when a conversation changes owner (or comes or goes).
    fn owner_changed(&mut self, from: Option<AgentId>, to: Option<AgentId>) {
        if from == to {
            return;
        }
        if let Some(a) = from {
            if let std::collections::hash_map::Entry::Occupied(mut e) = self.loads.entry(a) {
                *e.get_mut() -= 1;
                if *e.get() == 0 {
                    e.remove();
                }
            }
        }
        if let Some(a) = to {
            *self.loads.entry(a).or_default() += 1;
        }
    }

    fn presence(&self) -> Vec<AgentPresence> {
        let mut v: Vec<AgentPresence> = self
            .agents
            .values()
            .filter(|a| !a.sessions.is_empty())
            .map(|a| AgentPresence {
                id: a.card.id.0,
                name: a.card.name.clone(),
                status: a.status,
                open_conversations: self.load(a.card.id),
            })
            .collect();
        v.sort_by_key(|p| p.id);
        v
    }

    fn is_online(&self, agent: AgentId) -> bool {
        self.agents
            .get(&agent)
            .is_some_and(|a| !a.sessions.is_empty())
    }

    fn candidates(&self, exclude: Option<AgentId>) -> Vec<Candidate> {
        self.agents
            .values()
            .filter(|a| {
                !a.sessions.is_empty()
                    && a.status == AgentStatus::Online
                    && Some(a.card.id) != exclude
            })
            .map(|a| Candidate {
                agent: a.card.id,
                load: self.load(a.card.id),
            })
            .collect()
    }

    // ---- sending ----

    fn to_agent(&self, agent: AgentId, frame: AgentOut, except: Option<SessionId>) {
        if let Some(a) = self.agents.get(&agent) {
            let frame = Arc::new(frame);
            for (sid, r) in &a.sessions {
                if Some(*sid) != except {
                    r.do_send(ToAgent::Frame(frame.clone()));
                }
            }
        }
    }

    /// To every online agent for whom `who` is true.
    fn to_agents_where(&self, frame: AgentOut, who: impl Fn(&AgentEntry) -> bool) {
        let frame = Arc::new(frame);
        for a in self.agents.values().filter(|a| who(a)) {
            for r in a.sessions.values() {
                r.do_send(ToAgent::Frame(frame.clone()));
            }
        }
    }

    fn to_visitor(&self, visitor: VisitorId, frame: VisitorOut, except: Option<SessionId>) {
        if let Some(sessions) = self.visitors.get(&visitor) {
            let frame = Arc::new(frame);
            for sid in sessions {
                if Some(*sid) != except && Some(*sid) != self.joining {
                    if let Some((_, r)) = self.visitor_sessions.get(sid) {
                        r.do_send(ToVisitor::Frame(frame.clone()));
                    }
                }
            }
        }
    }

    /// Tells the owner (or, for a queued one, every agent) that a conversation changed.
    fn announce(&self, id: ConversationId) {
        let Some(view) = self.view(id) else { return };
        match view.status {
            ConversationStatus::Assigned => {
                if let Some(owner) = self.convs.get(&id).and_then(|c| c.assignment.agent) {
                    self.to_agent(owner, AgentOut::Conversation { conversation: view }, None);
                }
            }
            _ => self.to_agents_where(AgentOut::Conversation { conversation: view }, |_| true),
        }
    }

    fn broadcast_presence(&self) {
        let frame = AgentOut::Agents {
            agents: self.presence(),
        };
        self.to_agents_where(frame, |_| true);
    }

    fn update_gauges(&self) {
        let m = &self.metrics;
        m.visitors_connected.set(self.visitors.len() as i64);
        m.agents_online.set(
            self.agents
                .values()
                .filter(|a| !a.sessions.is_empty())
                .count() as i64,
        );
        m.conversations_queued.set(self.queue.len() as i64);
        m.agent_open_conversations.reset();
        for (a, n) in &self.loads {
            m.agent_open_conversations
                .with_label_values(&[&a.to_string()])
                .set(*n as i64);
        }
    }

    // ---- assignment ----

    fn transition(&mut self, id: ConversationId, t: Transition) -> Result<Assignment, ChatError> {
        let now = self.clock.now_naive();
        let c = self.convs.get_mut(&id).ok_or(ChatError::NotFound)?;
        let before = c.assignment;
        let after = before.apply(t).map_err(|e| match e {
            crate::domain::TransitionError::Closed => ChatError::Closed,
            _ => ChatError::Conflict,
        })?;
        c.assignment = after;
        c.updated_at = now;
        if after.status == ConversationStatus::Queued {
            c.queued_since.get_or_insert_with(Instant::now);
            self.queue.insert((c.created_at, id));
        } else {
            self.queue.remove(&(c.created_at, id));
        }
        self.owner_changed(before.agent, after.agent);
        self.persist.save(id, after, now);
        Ok(before)
    }

    /// Gives `id` to `to` and tells everyone concerned.
    fn assign(&mut self, id: ConversationId, to: AgentId) -> Result<(), ChatError> {
        let before = self.transition(id, Transition::AssignTo(to))?;
        let c = self.convs.get_mut(&id).ok_or(ChatError::NotFound)?;
        if let Some(since) = c.queued_since.take() {
            self.metrics
                .assignment_seconds
                .observe(since.elapsed().as_secs_f64());
        }
        let visitor = c.visitor.id;
        match before.agent {
            Some(old) => {
                self.metrics.reassignments.inc();
                self.to_agent(
                    old,
                    AgentOut::Unassigned {
                        conversation_id: id.0,
                    },
                    None,
                );
            }
            None => {
                self.metrics.assignments.inc();
                // It left the queue: the other agents drop it from their lists.
                self.to_agents_where(
                    AgentOut::Unassigned {
                        conversation_id: id.0,
                    },
                    |a| a.card.id != to,
                );
            }
        }
        self.announce(id);
        let agent = self.agent_ref(to);
        self.to_visitor(
            visitor,
            VisitorOut::Assigned {
                conversation_id: id.0,
                agent,
            },
            None,
        );
        tracing::info!(conversation_id = %id, agent_id = %to, from = ?before.agent, "conversation assigned");
        Ok(())
    }

    fn requeue(&mut self, id: ConversationId) {
        let Ok(before) = self.transition(id, Transition::Requeue) else {
            return;
        };
        if let Some(old) = before.agent {
            self.to_agent(
                old,
                AgentOut::Unassigned {
                    conversation_id: id.0,
                },
                None,
            );
            self.metrics.reassignments.inc();
        }
        if let Some(c) = self.convs.get(&id) {
            self.to_visitor(
                c.visitor.id,
                VisitorOut::Queued {
                    conversation_id: id.0,
                },
                None,
            );
        }
        self.announce(id);
        tracing::info!(conversation_id = %id, from = ?before.agent, "conversation queued");
    }

    /// A conversation with no agent: give it to someone online, or leave it queued.
    fn place(&mut self, id: ConversationId, exclude: Option<AgentId>) {
        let candidates = self.candidates(exclude);
        match pick(self.cfg.strategy, &candidates, &mut self.rng) {
            Some(agent) => {
                let _ = self.assign(id, agent);
            }
            None => {
                let is_queued = self
                    .convs
                    .get(&id)
                    .is_some_and(|c| c.assignment.status == ConversationStatus::Queued);
                if is_queued {
                    self.announce(id);
                } else {
                    self.requeue(id);
                }
            }
        }
    }

    /// Oldest queued conversations first, while someone can take them.
    fn drain_queue(&mut self) {
        while let Some(&(_, id)) = self.queue.iter().next() {
            let candidates = self.candidates(None);
            let Some(agent) = pick(self.cfg.strategy, &candidates, &mut self.rng) else {
                break;
            };
            if self.assign(id, agent).is_err() {
                // Cannot happen for a queued conversation; never loop forever.
                break;
            }
        }
    }

    /// The agent is gone for good (grace over, or disabled): its conversations move.
    fn agent_gone(&mut self, agent: AgentId) {
        if self.is_online(agent) {
            return;
        }
        self.agents.remove(&agent);
        let mut mine: Vec<(NaiveDateTime, ConversationId)> = self
            .convs
            .iter()
            .filter(|(_, c)| c.assignment.agent == Some(agent))
            .map(|(id, c)| (c.created_at, *id))
            .collect();
        mine.sort();
        for (_, id) in mine {
            self.place(id, Some(agent));
        }
        self.broadcast_presence();
        self.update_gauges();
    }

    fn register(&mut self, conv: &Conversation, visitor: &Visitor) {
        if self.convs.contains_key(&conv.id) || conv.assignment.status == ConversationStatus::Closed
        {
            return;
        }
        self.convs.insert(
            conv.id,
            Conv {
                visitor: visitor.clone(),
                assignment: conv.assignment,
                last_seq: conv.last_seq,
                next_seq: conv.last_seq + 1,
                pending: BTreeMap::new(),
                gap_timer: None,
                created_at: conv.created_at,
                updated_at: conv.created_at,
                queued_since: (conv.assignment.status == ConversationStatus::Queued)
                    .then(Instant::now),
                unread: 0,
                last_message: None,
            },
        );
        self.owner_changed(None, conv.assignment.agent);
        if conv.assignment.status == ConversationStatus::Queued {
            self.queue.insert((conv.created_at, conv.id));
        }
    }

    /// After a visitor joins or opens a conversation: make sure it has an owner who is here.
    fn settle(&mut self, id: ConversationId, ctx: &mut Context<Self>) -> JoinReply {
        let owner = self.convs.get(&id).and_then(|c| c.assignment.agent);
        match owner {
            None => self.place(id, None),
            Some(a) if !self.agents.contains_key(&a) => {
                // Owner unknown to this Dispatcher (e.g. left before a restart): start its grace period.
                self.offline_owner(a, ctx);
            }
            Some(_) => self.announce(id),
        }
        let c = &self.convs[&id];
        JoinReply {
            status: Some(c.assignment.status),
            agent: c.assignment.agent.map(|a| self.agent_ref(a)),
        }
    }

    /// Tracks an owner with no socket and starts its grace timer.
    fn offline_owner(&mut self, agent: AgentId, ctx: &mut Context<Self>) {
        let card = AgentCard {
            id: agent,
            name: self.agent_name(agent),
            is_admin: false,
        };
        let timer = ctx.run_later(self.cfg.grace, move |act, _| act.agent_gone(agent));
        self.agents.insert(
            agent,
            AgentEntry {
                card,
                sessions: HashMap::new(),
                status: AgentStatus::Online,
                leave_timer: Some(timer),
            },
        );
    }

    // ---- delivery in seq order ----

    fn deliver_ready(&mut self, id: ConversationId, ctx: &mut Context<Self>) {
        loop {
            let Some(c) = self.convs.get_mut(&id) else {
                return;
            };
            let Some((m, origin)) = c.pending.remove(&c.next_seq) else {
                break;
            };
            c.next_seq += 1;
            self.fan_out(id, m, origin);
        }
        let Some(c) = self.convs.get_mut(&id) else {
            return;
        };
        if let Some(t) = c.gap_timer.take() {
            ctx.cancel_future(t);
        }
        if !c.pending.is_empty() {
            // A gap: an earlier message is still being stored. Wait a little, then move on.
            let wait = self.cfg.gap_wait;
            c.gap_timer = Some(ctx.run_later(wait, move |act, ctx| {
                if let Some(c) = act.convs.get_mut(&id) {
                    c.gap_timer = None;
                    if let Some(&first) = c.pending.keys().next() {
                        tracing::warn!(conversation_id = %id, skipped_to = first, "delivery gap timed out");
                        c.next_seq = first;
                    }
                }
                act.deliver_ready(id, ctx);
            }));
        }
    }

    fn fan_out(&mut self, id: ConversationId, m: MessageView, origin: Origin) {
        let Some(c) = self.convs.get_mut(&id) else {
            return;
        };
        c.last_seq = c.last_seq.max(m.seq);
        c.last_message = Some(preview(&m.body));
        c.updated_at = self.clock.now_naive();
        if m.sender == Sender::Visitor {
            c.unread += 1;
        }
        let visitor = c.visitor.id;
        let owner = c.assignment.agent;
        let (v_except, a_except) = match origin {
            Origin::Visitor(s) => (Some(s), None),
            Origin::Agent(s) => (None, Some(s)),
        };
        self.to_visitor(
            visitor,
            VisitorOut::Message { message: m.clone() },
            v_except,
        );
        match owner {
            Some(a) => self.to_agent(a, AgentOut::Message { message: m }, a_except),
            // Queued: every agent sees the queue entry change.
            None => self.announce(id),
        }
    }

    /// The agent of a visitor's own conversation (for typing and read markers).
    fn owner_for_visitor(
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

    /// May `agent` act on `id`? Own conversations and the queue; admins everything.
    fn check(
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
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // `send` requests wait when the mailbox is full; give bursts of joins room.
        ctx.set_mailbox_capacity(65_536);
        // Conversations left open by the previous run: queued ones wait in the
        // queue, owned ones wait for their agent for one grace period.
        for (conv, visitor) in std::mem::take(&mut self.seed) {
            self.register(&conv, &visitor);
            if let Some(a) = conv.assignment.agent {
                if !self.agents.contains_key(&a) {
                    self.offline_owner(a, ctx);
                }
            }
        }
        self.update_gauges();
    }
}

impl Handler<VisitorJoin> for Dispatcher {
    type Result = JoinReply;
    fn handle(&mut self, msg: VisitorJoin, ctx: &mut Self::Context) -> JoinReply {
        let vid = msg.visitor.visitor_id();
        let was_online = self.visitor_online(vid);
        self.visitor_sessions.insert(msg.session, (vid, msg.addr));
        self.visitors.entry(vid).or_default().insert(msg.session);
        // Someone who has not written yet has no conversation: nothing to
        // assign, queue or show an agent until the first message opens one.
        let Some(conversation) = msg.conversation else {
            self.update_gauges();
            return JoinReply {
                status: None,
                agent: None,
            };
        };
        self.register(&conversation, &msg.visitor);
        if let Some(c) = self.convs.get_mut(&conversation.id) {
            // Name, page and last-seen may have changed since it was registered.
            c.visitor = msg.visitor.clone();
        }
        self.joining = Some(msg.session);
        let reply = self.settle(conversation.id, ctx);
        self.joining = None;
        if !was_online {
            tracing::debug!(visitor_id = %vid, "visitor online");
        }
        self.update_gauges();
        reply
    }
}

impl Handler<OpenConversation> for Dispatcher {
    type Result = JoinReply;
    fn handle(&mut self, msg: OpenConversation, ctx: &mut Self::Context) -> JoinReply {
        self.register(&msg.conversation, &msg.visitor);
        let reply = self.settle(msg.conversation.id, ctx);
        if reply.status == Some(ConversationStatus::Queued) {
            // An assignment tells the visitor's tabs itself; waiting must be said.
            let frame = VisitorOut::Queued {
                conversation_id: msg.conversation.id.0,
            };
            self.to_visitor(msg.visitor.visitor_id(), frame, None);
        }
        self.update_gauges();
        reply
    }
}

impl Handler<VisitorLeave> for Dispatcher {
    type Result = ();
    fn handle(&mut self, msg: VisitorLeave, _: &mut Self::Context) {
        let Some((vid, _)) = self.visitor_sessions.remove(&msg.session) else {
            return;
        };
        if let Some(set) = self.visitors.get_mut(&vid) {
            set.remove(&msg.session);
            if set.is_empty() {
                self.visitors.remove(&vid);
                // The agent sees the visitor go offline; the conversation stays open.
                let open: Vec<ConversationId> = self
                    .convs
                    .iter()
                    .filter(|(_, c)| c.visitor.id == vid)
                    .map(|(id, _)| *id)
                    .collect();
                for id in open {
                    self.announce(id);
                }
            }
        }
        self.update_gauges();
    }
}

impl Handler<AgentJoin> for Dispatcher {
    type Result = AgentSnapshot;
    fn handle(&mut self, msg: AgentJoin, ctx: &mut Self::Context) -> AgentSnapshot {
        let id = msg.agent.id;
        self.names.insert(id, msg.agent.name.clone());
        let entry = self.agents.entry(id).or_insert_with(|| AgentEntry {
            card: msg.agent.clone(),
            sessions: HashMap::new(),
            status: AgentStatus::Online,
            leave_timer: None,
        });
        entry.card = msg.agent.clone();
        entry.sessions.insert(msg.session, msg.addr);
        if let Some(t) = entry.leave_timer.take() {
            // Back within the grace period: nothing moves.
            ctx.cancel_future(t);
        }
        let status = entry.status;
        self.agent_sessions.insert(msg.session, id);

        let mut mine: Vec<ConversationId> = self
            .convs
            .iter()
            .filter(|(_, c)| c.assignment.agent == Some(id))
            .map(|(cid, _)| *cid)
            .collect();
        mine.sort();
        let snapshot = AgentSnapshot {
            status,
            mine: mine.iter().filter_map(|c| self.view(*c)).collect(),
            queue: self
                .queue
                .iter()
                .filter_map(|(_, c)| self.view(*c))
                .collect(),
            agents: Vec::new(),
        };
        // Whatever waited in the queue goes out now; the new agent hears of
        // each one it receives after its welcome.
        self.drain_queue();
        self.broadcast_presence();
        self.update_gauges();
        AgentSnapshot {
            agents: self.presence(),
            ..snapshot
        }
    }
}

impl Handler<AgentLeave> for Dispatcher {
    type Result = ();
    fn handle(&mut self, msg: AgentLeave, ctx: &mut Self::Context) {
        let Some(id) = self.agent_sessions.remove(&msg.session) else {
            return;
        };
        let grace = self.cfg.grace;
        if let Some(entry) = self.agents.get_mut(&id) {
            entry.sessions.remove(&msg.session);
            if entry.sessions.is_empty() {
                let has_work = self.load(id) > 0;
                if has_work {
                    let timer = ctx.run_later(grace, move |act, _| act.agent_gone(id));
                    if let Some(entry) = self.agents.get_mut(&id) {
                        entry.leave_timer = Some(timer);
                    }
                } else {
                    self.agents.remove(&id);
                }
                self.broadcast_presence();
            }
        }
        self.update_gauges();
    }
}

impl Handler<Deliver> for Dispatcher {
    type Result = ();
    fn handle(&mut self, msg: Deliver, ctx: &mut Self::Context) {
        let id = ConversationId(msg.message.conversation_id);
        let Some(c) = self.convs.get_mut(&id) else {
            return;
        };
        if msg.message.seq < c.next_seq {
            return; // already delivered
        }
        c.pending.insert(msg.message.seq, (msg.message, msg.origin));
        self.deliver_ready(id, ctx);
    }
}

impl Handler<Claim> for Dispatcher {
    type Result = Result<(), ChatError>;
    fn handle(&mut self, msg: Claim, _: &mut Self::Context) -> Self::Result {
        let c = self
            .convs
            .get(&msg.conversation)
            .ok_or(ChatError::NotFound)?;
        match c.assignment.agent {
            Some(a) if a == msg.agent.id => Ok(()),
            Some(_) => Err(ChatError::AlreadyAssigned),
            None => {
                self.assign(msg.conversation, msg.agent.id)?;
                self.update_gauges();
                Ok(())
            }
        }
    }
}

impl Handler<Transfer> for Dispatcher {
    type Result = Result<(), ChatError>;
    fn handle(&mut self, msg: Transfer, _: &mut Self::Context) -> Self::Result {
        let c = self
            .convs
            .get(&msg.conversation)
            .ok_or(ChatError::NotFound)?;
        if !(msg.by.is_admin || c.assignment.agent == Some(msg.by.id)) {
            return Err(ChatError::Forbidden);
        }
        if !self.is_online(msg.to) {
            return Err(ChatError::AgentOffline);
        }
        self.assign(msg.conversation, msg.to)?;
        self.broadcast_presence();
        self.update_gauges();
        Ok(())
    }
}

impl Handler<Close> for Dispatcher {
    type Result = Result<(), ChatError>;
    fn handle(&mut self, msg: Close, ctx: &mut Self::Context) -> Self::Result {
        self.close(&msg.by, msg.conversation, ctx)?;
        self.broadcast_presence();
        self.update_gauges();
        Ok(())
    }
}

impl Handler<CloseQueued> for Dispatcher {
    type Result = usize;
    fn handle(&mut self, msg: CloseQueued, ctx: &mut Self::Context) -> usize {
        if !msg.by.is_admin {
            return 0;
        }
        // Storage says they are closed: so they are, whatever happened meanwhile.
        let closed = msg
            .conversations
            .into_iter()
            .filter(|id| self.close(&msg.by, *id, ctx).is_ok())
            .count();
        tracing::info!(by = %msg.by.id, closed, "queued conversations closed in bulk");
        self.broadcast_presence();
        self.update_gauges();
        closed
    }
}

impl Handler<GetQueue> for Dispatcher {
    type Result = Vec<ConversationId>;
    fn handle(&mut self, _: GetQueue, _: &mut Self::Context) -> Self::Result {
        self.queue.iter().map(|(_, id)| *id).collect()
    }
}

impl Dispatcher {
    /// Closes one conversation: the visitor is told, and its agent (or,
    /// for a queued one, everyone who sees the queue).
    fn close(
        &mut self,
        by: &AgentCard,
        id: ConversationId,
        ctx: &mut Context<Self>,
    ) -> Result<(), ChatError> {
        self.check(by, id, false)?;
        let before = self.transition(id, Transition::Close)?;
        let view = self.view(id);
        if let Some(c) = self.convs.remove(&id) {
            self.owner_changed(c.assignment.agent, None);
            if let Some(t) = c.gap_timer {
                ctx.cancel_future(t);
            }
            let vid = c.visitor.id;
            self.to_visitor(
                vid,
                VisitorOut::Closed {
                    conversation_id: id.0,
                },
                None,
            );
        }
        if let Some(view) = view {
            let frame = AgentOut::Conversation { conversation: view };
            match before.agent {
                Some(owner) => self.to_agent(owner, frame, None),
                None => self.to_agents_where(frame, |_| true),
            }
        }
        tracing::info!(conversation_id = %id, by = %by.id, "conversation closed");
        Ok(())
    }
}

impl Handler<SetStatus> for Dispatcher {
    type Result = ();
    fn handle(&mut self, msg: SetStatus, _: &mut Self::Context) {
        let Some(entry) = self.agents.get_mut(&msg.agent) else {
            return;
        };
        entry.status = msg.status;
        let frame = AgentOut::Status { status: msg.status };
        self.to_agent(msg.agent, frame, None);
        if msg.status == AgentStatus::Online {
            self.drain_queue();
        }
        self.broadcast_presence();
        self.update_gauges();
    }
}

impl Handler<Typing> for Dispatcher {
    type Result = Result<(), ChatError>;
    fn handle(&mut self, msg: Typing, _: &mut Self::Context) -> Self::Result {
        match msg.from {
            Party::Visitor(v) => {
                if let Some(a) = self.owner_for_visitor(v, msg.conversation)? {
                    let frame = AgentOut::Typing {
                        conversation_id: msg.conversation.0,
                        active: msg.active,
                    };
                    self.to_agent(a, frame, None);
                }
            }
            Party::Agent(card) => {
                let c = self.check(&card, msg.conversation, true)?;
                let vid = c.visitor.id;
                self.to_visitor(vid, VisitorOut::Typing { active: msg.active }, None);
            }
        }
        Ok(())
    }
}

impl Handler<ReadUpTo> for Dispatcher {
    type Result = Result<(), ChatError>;
    fn handle(&mut self, msg: ReadUpTo, _: &mut Self::Context) -> Self::Result {
        match msg.by {
            Party::Visitor(v) => {
                if let Some(a) = self.owner_for_visitor(v, msg.conversation)? {
                    let frame = AgentOut::Read {
                        conversation_id: msg.conversation.0,
                        seq: msg.seq,
                    };
                    self.to_agent(a, frame, None);
                }
            }
            Party::Agent(card) => {
                self.check(&card, msg.conversation, true)?;
                if let Some(c) = self.convs.get_mut(&msg.conversation) {
                    if msg.seq >= c.last_seq {
                        c.unread = 0;
                    }
                    let vid = c.visitor.id;
                    self.to_visitor(vid, VisitorOut::Read { seq: msg.seq }, None);
                }
            }
        }
        Ok(())
    }
}

impl Handler<Authorize> for Dispatcher {
    type Result = Result<Access, ChatError>;
    fn handle(&mut self, msg: Authorize, _: &mut Self::Context) -> Self::Result {
        if !self.convs.contains_key(&msg.conversation) {
            return Ok(Access::NotLive);
        }
        self.check(&msg.agent, msg.conversation, msg.write)
            .map(|_| Access::Granted)
    }
}

impl Handler<KickAgent> for Dispatcher {
    type Result = ();
    fn handle(&mut self, msg: KickAgent, ctx: &mut Self::Context) {
        if let Some(entry) = self.agents.get_mut(&msg.agent) {
            if let Some(t) = entry.leave_timer.take() {
                ctx.cancel_future(t);
            }
            for (sid, r) in entry.sessions.drain() {
                r.do_send(ToAgent::Close(CloseReason::Disabled));
                self.agent_sessions.remove(&sid);
            }
        }
        self.agent_gone(msg.agent);
        tracing::info!(agent_id = %msg.agent, "agent disconnected by an admin; conversations moved");
    }
}

impl Handler<GetCounts> for Dispatcher {
    type Result = Counts;
    fn handle(&mut self, _: GetCounts, _: &mut Self::Context) -> Counts {
        Counts {
            visitor_sockets: self.visitor_sessions.len(),
            visitors_online: self.visitors.len(),
            agent_sockets: self.agent_sessions.len(),
            agents_known: self.agents.len(),
            agents_online: self
                .agents
                .values()
                .filter(|a| !a.sessions.is_empty())
                .count(),
            conversations: self.convs.len(),
            queued: self.queue.len(),
            pending_deliveries: self.convs.values().map(|c| c.pending.len()).sum(),
        }
    }
}

impl Handler<GetPresence> for Dispatcher {
    type Result = Vec<AgentPresence>;
    fn handle(&mut self, _: GetPresence, _: &mut Self::Context) -> Vec<AgentPresence> {
        self.presence()
    }
}
