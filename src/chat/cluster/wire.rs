//! What nodes say to each other over Redis, as JSON: a node's calls to the
//! deciding node (the leader's Dispatcher), and the leader's replies and
//! frames for the sockets a node holds.

use serde::{Deserialize, Serialize};

use crate::chat::messages::{AgentCard, CloseReason, Origin, Party, SessionId};
use crate::chat::protocol::{AgentOut, AgentStatus, MessageView, VisitorOut};
use crate::domain::{AgentId, Conversation, ConversationId, Visitor};

/// One Dispatcher call made on a node that is not the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Call {
    VisitorJoin {
        session: SessionId,
        visitor: Visitor,
        conversation: Option<Conversation>,
    },
    OpenConversation {
        visitor: Visitor,
        conversation: Conversation,
    },
    VisitorLeave {
        session: SessionId,
    },
    AgentJoin {
        session: SessionId,
        agent: AgentCard,
    },
    AgentLeave {
        session: SessionId,
    },
    Deliver {
        message: MessageView,
        origin: Origin,
    },
    Claim {
        agent: AgentCard,
        conversation: ConversationId,
    },
    Transfer {
        by: AgentCard,
        conversation: ConversationId,
        to: AgentId,
    },
    Close {
        by: AgentCard,
        conversation: ConversationId,
    },
    CloseQueued {
        by: AgentCard,
        conversations: Vec<ConversationId>,
    },
    SetStatus {
        agent: AgentId,
        status: AgentStatus,
    },
    Typing {
        from: Party,
        conversation: ConversationId,
        active: bool,
    },
    ReadUpTo {
        by: Party,
        conversation: ConversationId,
        seq: i64,
    },
    Authorize {
        agent: AgentCard,
        conversation: ConversationId,
        write: bool,
    },
    KickAgent {
        agent: AgentId,
    },
    GetCounts,
    GetPresence,
    GetQueue,
    RoomDeliver {
        message: crate::chat::protocol::RoomMessageView,
        to: crate::storage::rooms::Members,
        except: Option<SessionId>,
    },
    ToGroup {
        to: crate::storage::rooms::Members,
        frame: AgentOut,
        except: Option<SessionId>,
    },
    ToAllVisitors {
        frame: VisitorOut,
    },
    SetLabels {
        conversation: ConversationId,
        labels: Vec<crate::chat::protocol::LabelRef>,
    },
    LabelsChanged {
        all: Vec<crate::chat::protocol::LabelRef>,
    },
    /// The node's link was lost (or the leader changed): the leader drops
    /// every socket it held for that node, whose sockets then join again.
    ForgetNode,
}

/// A call with who made it; `id` 0 wants no answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub node: String,
    pub id: u64,
    pub call: Call,
}

/// From the leader to one node. (Decoded, handed on and dropped at once:
/// boxing the frames would cost an allocation each for no memory kept.)
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum ToNode {
    Reply {
        id: u64,
        value: serde_json::Value,
    },
    ToAgents {
        sessions: Vec<SessionId>,
        frame: AgentOut,
    },
    ToVisitors {
        sessions: Vec<SessionId>,
        frame: VisitorOut,
    },
    Close {
        sessions: Vec<SessionId>,
        reason: CloseReason,
    },
    /// The leader missed what nodes published for a while: every socket of
    /// the node joins again and catches up, staying open.
    Resync,
}
