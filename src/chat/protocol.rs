//! The WebSocket protocol: JSON text frames tagged by `type`. These names are
//! the public contract (docs/protocol.md documents each frame).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{ConversationStatus, Sender};
use crate::storage::messages::Message;

mod codec;
mod files;
mod rooms;
mod visitor;
pub use codec::{cap, code, parse, preview, preview_of, to_text, ErrorBody, Shared};
pub use files::{with_files, FileView};
pub use rooms::{AnnouncementView, NoticeView, RoomMessageView, RoomView};
pub use visitor::{Availability, VisitorIn, VisitorOut, VISITOR_TYPES};

pub fn rfc3339(t: NaiveDateTime) -> String {
    DateTime::<Utc>::from_naive_utc_and_offset(t, Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageView {
    pub id: i64,
    pub conversation_id: i64,
    pub seq: i64,
    pub sender: Sender,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub body: String,
    pub created_at: String,
    /// A private note: agents only. Its `seq` is the public message it follows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    /// Files sent with it (a message may be files only: `body` is then empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileView>,
}

impl MessageView {
    pub fn note(n: &crate::storage::notes::Note) -> Self {
        MessageView {
            id: n.id,
            conversation_id: n.conversation_id,
            seq: n.seq,
            sender: Sender::Agent,
            agent_id: n.agent_id,
            client_id: Some(n.client_id.clone()),
            body: n.body.clone(),
            created_at: rfc3339(n.created_at),
            private: true,
            files: Vec::new(),
        }
    }
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        MessageView {
            id: m.id.0,
            conversation_id: m.conversation_id.0,
            seq: m.seq,
            sender: m.sender,
            agent_id: m.agent_id.map(|a| a.0),
            client_id: m.client_id.clone(),
            body: m.body.clone(),
            created_at: rfc3339(m.created_at),
            private: false,
            files: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    Online,
    Away,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AgentPresence {
    pub id: i64,
    pub name: String,
    pub status: AgentStatus,
    pub open_conversations: usize,
    /// In a cluster, the admin console's view only: the nodes holding the
    /// agent's sockets. Absent elsewhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VisitorView {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub online: bool,
    pub page_url: Option<String>,
    pub referrer: Option<String>,
    pub user_agent: Option<String>,
    /// The visitor's IANA time zone, when its browser told.
    pub timezone: Option<String>,
    pub first_seen_at: String,
    pub last_seen_at: String,
    /// Who the site says this is; `verified` when the site signed it.
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub verified: bool,
}

impl VisitorView {
    pub fn of(v: &crate::domain::Visitor, online: bool) -> Self {
        VisitorView {
            id: v.id.0,
            name: v.name.clone(),
            email: v.email.clone(),
            online,
            page_url: v.page_url.clone(),
            referrer: v.referrer.clone(),
            user_agent: v.user_agent.clone(),
            timezone: v.timezone.clone(),
            first_seen_at: rfc3339(v.first_seen_at),
            last_seen_at: rfc3339(v.last_seen_at),
            identifier: v.identifier.clone(),
            verified: v.verified,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConversationView {
    pub id: i64,
    pub status: ConversationStatus,
    pub agent: Option<AgentRef>,
    pub visitor: VisitorView,
    pub last_seq: i64,
    pub unread: u32,
    /// The first characters of the newest message, for lists.
    pub last_message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The labels it carries, by name.
    #[serde(default)]
    pub labels: Vec<LabelRef>,
}

/// A label as conversations carry it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabelRef {
    pub id: i64,
    pub name: String,
    pub colour: String,
}

impl From<&crate::storage::labels::Label> for LabelRef {
    fn from(l: &crate::storage::labels::Label) -> Self {
        LabelRef {
            id: l.id,
            name: l.name.clone(),
            colour: l.colour.clone(),
        }
    }
}

impl ConversationView {
    /// A closed conversation as storage has it (lists of recent ones).
    pub fn closed(c: &crate::storage::conversations::ClosedConversation, agent: AgentRef) -> Self {
        let v = &c.visitor;
        ConversationView {
            id: c.conversation.id.0,
            status: c.conversation.assignment.status,
            agent: Some(agent),
            visitor: VisitorView::of(v, false),
            last_seq: c.conversation.last_seq,
            unread: 0,
            last_message: None,
            created_at: rfc3339(c.conversation.created_at),
            updated_at: rfc3339(c.updated_at),
            labels: Vec::new(),
        }
    }
}

// ---- agent socket ----

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentIn {
    Message {
        conversation_id: i64,
        client_id: String,
        #[serde(default)]
        body: String,
        /// Uploaded files' ids (`POST /agent/files`) sent with it.
        #[serde(default)]
        files: Vec<i64>,
        /// A note for agents only: never sent to the visitor.
        #[serde(default)]
        private: bool,
    },
    History {
        conversation_id: i64,
        #[serde(default)]
        after_seq: Option<i64>,
        #[serde(default)]
        before_seq: Option<i64>,
        #[serde(default)]
        limit: Option<i64>,
    },
    Claim {
        conversation_id: i64,
    },
    Transfer {
        conversation_id: i64,
        agent_id: i64,
        /// A private note for the next agent, stored before the transfer.
        #[serde(default)]
        note: Option<String>,
    },
    Close {
        conversation_id: i64,
    },
    Status {
        status: AgentStatus,
    },
    Typing {
        conversation_id: i64,
        active: bool,
    },
    Read {
        conversation_id: i64,
        seq: i64,
    },
    RoomMessage {
        room_id: i64,
        client_id: String,
        body: String,
    },
    RoomHistory {
        room_id: i64,
        #[serde(default)]
        after_seq: Option<i64>,
        #[serde(default)]
        before_seq: Option<i64>,
        #[serde(default)]
        limit: Option<i64>,
    },
    RoomRead {
        room_id: i64,
        seq: i64,
    },
    RoomTyping {
        room_id: i64,
        active: bool,
    },
    /// Put a label on a conversation (`on: true`) or take it off.
    Label {
        conversation_id: i64,
        label_id: i64,
        on: bool,
    },
}

pub const AGENT_TYPES: &[&str] = &[
    "message",
    "history",
    "claim",
    "transfer",
    "close",
    "status",
    "typing",
    "read",
    "room_message",
    "room_history",
    "room_read",
    "room_typing",
    "label",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentSelf {
    pub id: i64,
    pub name: String,
    pub role: crate::domain::Role,
    pub status: AgentStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentOut {
    /// A visitor rated a conversation this agent had (live).
    Rating {
        conversation_id: i64,
        rating: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    Welcome {
        agent: AgentSelf,
        conversations: Vec<ConversationView>,
        queue: Vec<ConversationView>,
        agents: Vec<AgentPresence>,
        #[serde(default)]
        rooms: Vec<RoomView>,
        /// The newest announcements, newest first.
        #[serde(default)]
        announcements: Vec<AnnouncementView>,
        /// Every label an agent may put on a conversation, by name.
        #[serde(default)]
        labels: Vec<LabelRef>,
    },
    Conversation {
        conversation: ConversationView,
    },
    /// After `welcome`: this agent's conversations closed in the last day.
    Recent {
        conversations: Vec<ConversationView>,
    },
    Unassigned {
        conversation_id: i64,
    },
    Message {
        message: MessageView,
    },
    Ack {
        client_id: String,
        message: MessageView,
    },
    Typing {
        conversation_id: i64,
        active: bool,
    },
    Read {
        conversation_id: i64,
        seq: i64,
    },
    History {
        conversation_id: i64,
        messages: Vec<MessageView>,
    },
    Agents {
        agents: Vec<AgentPresence>,
    },
    Status {
        status: AgentStatus,
    },
    RoomAck {
        client_id: String,
        message: RoomMessageView,
    },
    RoomMessage {
        message: RoomMessageView,
    },
    RoomHistory {
        room_id: i64,
        messages: Vec<RoomMessageView>,
    },
    RoomTyping {
        room_id: i64,
        agent: AgentRef,
        active: bool,
    },
    /// Joined a room, or it was renamed or its topic changed.
    Room {
        room: RoomView,
    },
    /// Left a room (removed, or the room was deleted).
    RoomRemoved {
        room_id: i64,
    },
    Announcement {
        announcement: AnnouncementView,
    },
    /// Said by a socket to its own client only, never sent between nodes.
    #[serde(skip_deserializing)]
    Error(ErrorBody),
}

#[cfg(test)]
mod tests;
