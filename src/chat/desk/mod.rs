//! The Dispatcher's rules as plain data: who is online, the queue, who owns
//! which conversation, grace periods, the reorder buffer. No actix, no I/O,
//! no clock of its own: each call brings the time it happened, and whatever
//! must happen outside (a frame to send, an ownership change to store, a
//! timer to arm) is queued as an [`Effect`] for the caller to carry out.
//!
//! At no moment can one conversation have two agents: every change of owner
//! goes through `Assignment::apply` on this single-threaded state.

mod assign;
mod delivery;
mod joins;
mod labels;
mod rooms;
mod roster;
mod views;

#[cfg(test)]
mod capacity_tests;
#[cfg(test)]
mod props;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use crate::chat::protocol::Shared;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use rand::{rngs::StdRng, SeedableRng};

use super::messages::{CloseReason, Origin, SessionId};
use super::protocol::{AgentOut, MessageView, VisitorOut};
use crate::domain::{
    AgentId, Assignment, Conversation, ConversationId, Strategy, Visitor, VisitorId,
};
pub use roster::Roster;

#[derive(Debug, Clone)]
pub struct DeskConfig {
    pub strategy: Strategy,
    /// How long an agent may be away (no socket) before its conversations move.
    pub grace: Duration,
    /// How long a delivery waits for a missing earlier `seq` before moving on.
    pub gap_wait: Duration,
}

/// Something for the caller to do.
#[derive(Debug, Clone)]
pub enum Effect {
    /// A frame for whoever listens (this node's sockets, or the cluster's).
    Publish(Publish),
    /// Store an ownership change, compare-and-set: only if the row still
    /// says `from`. A loss comes back through [`Desk::store_lost`].
    Store(AssignmentChange),
    /// Call [`Desk::timer_fired`] with this timer after `after`.
    Arm {
        timer: Timer,
        after: Duration,
    },
    Cancel(Timer),
    Metric(Metric),
}

/// Who a frame is for.
#[derive(Debug, Clone)]
pub enum Publish {
    /// Every socket of one agent, but `except`.
    Agent {
        agent: AgentId,
        frame: Arc<Shared<AgentOut>>,
        except: Option<SessionId>,
    },
    /// Every agent socket, but those of `except`.
    Agents {
        frame: Arc<Shared<AgentOut>>,
        except: Option<AgentId>,
    },
    /// Every socket of one visitor, but `except`.
    Visitor {
        visitor: VisitorId,
        frame: Arc<Shared<VisitorOut>>,
        except: Option<SessionId>,
    },
    /// Close every socket of this agent.
    CloseAgent { agent: AgentId, reason: CloseReason },
    /// Every socket of these agents (a room's members), but `except`.
    Group {
        to: crate::storage::rooms::Members,
        frame: Arc<Shared<AgentOut>>,
        except: Option<SessionId>,
    },
    /// Every visitor socket (a notice).
    Visitors { frame: Arc<Shared<VisitorOut>> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The agent's grace period after its last socket left.
    Grace(AgentId),
    /// A conversation waiting for a missing `seq`.
    Gap(ConversationId),
    /// A room waiting for a missing `seq`.
    RoomGap(crate::domain::RoomId),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A queued conversation got an agent after waiting this long.
    Assigned { waited: Duration },
    /// A conversation moved from one agent to another (or back to the queue).
    Reassigned,
}

pub use crate::domain::AssignmentChange;

pub(crate) struct Conv {
    visitor: Visitor,
    assignment: Assignment,
    last_seq: i64,
    /// Next `seq` to hand out to recipients; later ones wait in `pending`.
    next_seq: i64,
    pending: BTreeMap<i64, (MessageView, Origin)>,
    /// When the wait for a missing `seq` ends.
    gap_until: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    queued_since: Option<NaiveDateTime>,
    /// Agents' dashboards list it in the queue (it was announced to them, or
    /// in a welcome's queue): only then must they hear that it left. A new
    /// conversation taken at once was never shown to anyone else.
    listed: bool,
    unread: u32,
    last_message: Option<String>,
    labels: Vec<crate::chat::protocol::LabelRef>,
    /// Changes written so far, and the newest one a stored loss has been
    /// followed for: older losses say nothing new.
    version: u64,
    followed: u64,
}

pub struct Desk {
    cfg: DeskConfig,
    rng: StdRng,
    /// Presence: who is connected, their status and grace periods.
    roster: Roster,
    /// Names of agents who own conversations without being here (after a restart).
    names: HashMap<AgentId, String>,
    convs: HashMap<ConversationId, Conv>,
    /// Conversations in `convs` per owning agent, kept up to date on every
    /// change, so assignment and presence never scan all conversations.
    loads: HashMap<AgentId, usize>,
    queue: BTreeSet<(NaiveDateTime, ConversationId)>,
    /// Each team room's delivery line.
    rooms: HashMap<crate::domain::RoomId, rooms::RoomLine>,
    /// The visitor socket being welcomed: its `welcome` already says what
    /// the other tabs hear as `assigned`/`queued`.
    joining: Option<SessionId>,
    out: Vec<Effect>,
    /// Who is online or away changed since the Dispatcher last asked.
    presence_changed: bool,
}

impl Desk {
    /// `open`: conversations not closed, from storage; `names`: every agent's
    /// display name. Queued ones wait in the queue; owned ones wait for their
    /// agent for one grace period (armed by the effects of this call).
    pub fn new(
        cfg: DeskConfig,
        seed: u64,
        open: Vec<(Conversation, Visitor)>,
        names: HashMap<AgentId, String>,
        now: NaiveDateTime,
    ) -> Self {
        let mut desk = Self {
            cfg,
            rng: StdRng::seed_from_u64(seed),
            roster: Roster::default(),
            names,
            convs: HashMap::new(),
            loads: HashMap::new(),
            queue: BTreeSet::new(),
            rooms: HashMap::new(),
            joining: None,
            out: Vec::new(),
            presence_changed: false,
        };
        for (conv, visitor) in open {
            desk.register(&conv, &visitor, now);
            if let Some(a) = conv.assignment.agent {
                if !desk.roster.knows(a) {
                    desk.offline_owner(a, now);
                }
            }
        }
        desk
    }

    /// Did presence change since the last ask? (The Dispatcher records it
    /// for the reports and says whether the team can answer.)
    pub fn take_presence_changed(&mut self) -> bool {
        std::mem::take(&mut self.presence_changed)
    }

    /// Is some agent online (not away)?
    pub fn someone_available(&self) -> bool {
        self.roster
            .online()
            .any(|a| a.status == crate::chat::protocol::AgentStatus::Online)
    }

    /// What the calls since the last take asked for, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.out)
    }

    fn emit(&mut self, e: Effect) {
        self.out.push(e);
    }

    fn register(&mut self, conv: &Conversation, visitor: &Visitor, now: NaiveDateTime) {
        use crate::domain::ConversationStatus::{Closed, Queued};
        if self.convs.contains_key(&conv.id) || conv.assignment.status == Closed {
            return;
        }
        let queued = conv.assignment.status == Queued;
        self.convs.insert(
            conv.id,
            Conv {
                visitor: visitor.clone(),
                assignment: conv.assignment,
                last_seq: conv.last_seq,
                next_seq: conv.last_seq + 1,
                pending: BTreeMap::new(),
                gap_until: None,
                created_at: conv.created_at,
                updated_at: conv.created_at,
                queued_since: queued.then_some(now),
                listed: false,
                unread: 0,
                last_message: None,
                labels: Vec::new(),
                version: 0,
                followed: 0,
            },
        );
        self.owner_changed(None, conv.assignment.agent);
        if queued {
            self.queue.insert((conv.created_at, conv.id));
        }
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

    fn load(&self, agent: AgentId) -> usize {
        self.loads.get(&agent).copied().unwrap_or(0)
    }
}

/// `b - a` as a std duration (zero if `b` is earlier).
fn since(a: NaiveDateTime, b: NaiveDateTime) -> Duration {
    (b - a).to_std().unwrap_or_default()
}
