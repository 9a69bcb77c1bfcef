//! Everything the session actors and the Dispatcher say to each other. The
//! Dispatcher's interface stays small (join, leave, deliver, assign and the
//! agent actions) so a multi-node version can replace its insides only.

use crate::chat::protocol::Shared;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::protocol::{
    AgentOut, AgentPresence, AgentRef, AgentStatus, ConversationView, MessageView, VisitorOut,
};
use crate::domain::{AgentId, ConversationId, ConversationStatus, VisitorId};
use crate::domain::{Conversation, Visitor};

pub type SessionId = u64;

/// Unique across the cluster too: a random high half per process, a counter below.
pub fn next_session_id() -> SessionId {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| (rand::random::<u32>() as u64) << 32);
    base | (NEXT.fetch_add(1, Ordering::Relaxed) + 1)
}

/// To a visitor socket: a frame to send, or an order to close.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub enum ToVisitor {
    Frame(Arc<Shared<VisitorOut>>),
    Close,
    /// Join the Desk again and catch up from storage, staying open.
    Rejoin,
}

#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub enum ToAgent {
    Frame(Arc<Shared<AgentOut>>),
    Close(CloseReason),
    /// Join the Desk again (a fresh `welcome`), staying open.
    Rejoin,
}

/// Why an agent socket is closed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CloseReason {
    /// The account was disabled (1008): sign-in is refused from now on.
    Disabled,
    /// The session ended: signed out, password reset, expired (1008).
    SessionEnded,
    /// The account changed (role, name): reconnect to get the new rights (4001).
    Reauthorize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCard {
    pub id: AgentId,
    pub name: String,
    pub is_admin: bool,
    /// Open conversations this agent may have at once; 0: no limit.
    #[serde(default)]
    pub capacity: u32,
}

impl AgentCard {
    /// The card of a request's agent (its capacity does not matter there).
    pub fn of(a: &crate::storage::agents::Agent) -> Self {
        Self {
            id: a.id,
            name: a.display_name.clone(),
            is_admin: a.is_admin(),
            capacity: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ChatError {
    #[error("that conversation is not yours")]
    Forbidden,
    #[error("no such conversation")]
    NotFound,
    #[error("the conversation already has an agent")]
    AlreadyAssigned,
    #[error("that agent has as many open conversations as it may")]
    AtCapacity,
    #[error("that agent is not online")]
    AgentOffline,
    #[error("the conversation is closed")]
    Closed,
    #[error("that change is not possible now")]
    Conflict,
    /// The Dispatcher did not answer (stopping, or its mailbox is gone).
    #[error("please try again shortly")]
    Unavailable,
}

impl ChatError {
    pub fn code(self) -> &'static str {
        use super::protocol::code;
        match self {
            ChatError::Forbidden => code::FORBIDDEN,
            ChatError::NotFound => code::NOT_FOUND,
            ChatError::AlreadyAssigned => code::ALREADY_ASSIGNED,
            ChatError::AtCapacity => code::AT_CAPACITY,
            ChatError::AgentOffline => code::AGENT_OFFLINE,
            ChatError::Closed => code::CLOSED,
            ChatError::Conflict => code::CONFLICT,
            ChatError::Unavailable => code::UNAVAILABLE,
        }
    }
}

/// Where the conversation stands after a visitor joined or opened one
/// (`status` is `None` for a visitor who has not written yet: no conversation).
#[derive(Debug, Clone, MessageResponse, Serialize, Deserialize)]
pub struct JoinReply {
    pub status: Option<ConversationStatus>,
    pub agent: Option<AgentRef>,
    /// Whether the team can answer now (the Dispatcher adds it).
    #[serde(default)]
    pub availability: Option<super::protocol::Availability>,
}

impl JoinReply {
    /// What a node that cannot reach the cluster's leader answers.
    pub fn unavailable() -> Self {
        Self {
            status: None,
            agent: None,
            availability: None,
        }
    }
}

/// A visitor socket said hello, with its open conversation if it has one.
#[derive(Message)]
#[rtype(result = "JoinReply")]
pub struct VisitorJoin {
    pub session: SessionId,
    pub addr: Recipient<ToVisitor>,
    pub visitor: Visitor,
    pub conversation: Option<Conversation>,
}

/// A connected visitor starts a new conversation (the last one was closed).
#[derive(Message)]
#[rtype(result = "JoinReply")]
pub struct OpenConversation {
    pub visitor: Visitor,
    pub conversation: Conversation,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct VisitorLeave {
    pub session: SessionId,
}

#[derive(Debug, MessageResponse, Serialize, Deserialize)]
pub struct AgentSnapshot {
    pub status: AgentStatus,
    pub mine: Vec<ConversationView>,
    pub queue: Vec<ConversationView>,
    pub agents: Vec<AgentPresence>,
    /// No answer from the cluster's leader: not the Desk's view.
    #[serde(default)]
    pub unavailable: bool,
}

impl AgentSnapshot {
    /// What a node that cannot reach the cluster's leader answers.
    pub fn unavailable() -> Self {
        Self {
            status: AgentStatus::Online,
            mine: Vec::new(),
            queue: Vec::new(),
            agents: Vec::new(),
            unavailable: true,
        }
    }
}

#[derive(Message)]
#[rtype(result = "AgentSnapshot")]
pub struct AgentJoin {
    pub session: SessionId,
    pub agent: AgentCard,
    pub addr: Recipient<ToAgent>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct AgentLeave {
    pub session: SessionId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    Visitor(SessionId),
    Agent(SessionId),
}

/// A message is in the database: deliver it to everyone else in the conversation.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub message: MessageView,
    pub origin: Origin,
}

#[derive(Message)]
#[rtype(result = "Result<(), ChatError>")]
pub struct Claim {
    pub agent: AgentCard,
    pub conversation: ConversationId,
}

#[derive(Message)]
#[rtype(result = "Result<(), ChatError>")]
pub struct Transfer {
    pub by: AgentCard,
    pub conversation: ConversationId,
    pub to: AgentId,
}

#[derive(Message)]
#[rtype(result = "Result<(), ChatError>")]
pub struct Close {
    pub by: AgentCard,
    pub conversation: ConversationId,
}

/// An admin closed these queued conversations (spam, a flood) in storage:
/// the Dispatcher follows and tells everyone. Answers how many it closed.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseQueued {
    pub by: AgentCard,
    pub conversations: Vec<ConversationId>,
}

/// The conversations waiting in the queue, oldest first.
#[derive(Message)]
#[rtype(result = "Vec<ConversationId>")]
pub struct GetQueue;

#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStatus {
    pub agent: AgentId,
    pub status: AgentStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Party {
    Visitor(VisitorId),
    Agent(AgentCard),
}

#[derive(Message)]
#[rtype(result = "Result<(), ChatError>")]
pub struct Typing {
    pub from: Party,
    pub conversation: ConversationId,
    pub active: bool,
}

#[derive(Message)]
#[rtype(result = "Result<(), ChatError>")]
pub struct ReadUpTo {
    pub by: Party,
    pub conversation: ConversationId,
    pub seq: i64,
}

/// May this agent read (or write to) this conversation?
#[derive(Message)]
#[rtype(result = "Result<Access, ChatError>")]
pub struct Authorize {
    pub agent: AgentCard,
    pub conversation: ConversationId,
    pub write: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    Granted,
    /// Not open on this node (closed, or unknown): the caller checks storage.
    NotLive,
}

/// The agent was disabled: close its sockets and reassign its conversations now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct KickAgent {
    pub agent: AgentId,
}

#[derive(Message)]
#[rtype(result = "Counts")]
pub struct GetCounts;

/// Bring the gauges of the metrics up to date (asked when they are read:
/// keeping them current on every event cost an agent's worth of work per
/// message).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RefreshGauges;

/// What the Dispatcher holds; every socket's trace must leave it on close.
#[derive(Debug, Clone, Default, PartialEq, Eq, MessageResponse, Serialize, Deserialize)]
pub struct Counts {
    pub visitor_sockets: usize,
    pub visitors_online: usize,
    pub agent_sockets: usize,
    pub agents_known: usize,
    pub agents_online: usize,
    pub conversations: usize,
    pub queued: usize,
    pub pending_deliveries: usize,
}

/// Who is online, their status and load (the admin console's live view).
#[derive(Message)]
#[rtype(result = "Vec<AgentPresence>")]
pub struct GetPresence;

/// Storage refused an ownership change: the row holds `actual`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StoreLost {
    pub write: crate::domain::AssignmentChange,
    pub actual: crate::domain::Assignment,
}

/// A room message is stored: deliver it to `to` (the members when it was
/// stored) in `seq` order, but the sender's socket `except`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomDeliver {
    pub message: super::protocol::RoomMessageView,
    pub to: crate::storage::rooms::Members,
    pub except: Option<SessionId>,
}

/// A frame for a group of agents now (a room's typing or change, an announcement).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToGroup {
    pub to: crate::storage::rooms::Members,
    pub frame: AgentOut,
    pub except: Option<SessionId>,
}

/// A frame for every visitor socket (a notice).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToAllVisitors {
    pub frame: VisitorOut,
}

/// A conversation's labels changed in storage: the Desk carries them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetLabels {
    pub conversation: ConversationId,
    pub labels: Vec<super::protocol::LabelRef>,
}

/// An admin changed the labels themselves: `all` is every label now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LabelsChanged {
    pub all: Vec<super::protocol::LabelRef>,
}
