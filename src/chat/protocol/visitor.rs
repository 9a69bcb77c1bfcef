//! The visitor socket's frames.

use serde::{Deserialize, Serialize};

use super::{AgentRef, ErrorBody, MessageView, NoticeView};
use crate::domain::ConversationStatus;

/// Whether the team can answer now: agents online within business hours.
/// `back_at` (RFC 3339) is when business hours start again, if they are
/// why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    pub online: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorIn {
    Hello {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        email: Option<String>,
        #[serde(default)]
        page_url: Option<String>,
        #[serde(default)]
        referrer: Option<String>,
        /// An IANA zone name (`Europe/Berlin`), as `Intl` gives it.
        #[serde(default)]
        timezone: Option<String>,
        #[serde(default)]
        last_seq: Option<i64>,
        /// Who the site says this is…
        #[serde(default)]
        identifier: Option<String>,
        /// …and its proof: hex HMAC-SHA256 of `identifier` under the site's secret.
        #[serde(default)]
        identifier_hash: Option<String>,
    },
    Message {
        client_id: String,
        #[serde(default)]
        body: String,
        /// Uploaded files' ids (`POST /files`) sent with it.
        #[serde(default)]
        files: Vec<i64>,
        /// Left through the offline form (nobody is there): `email` required.
        #[serde(default)]
        offline: bool,
        /// Where the team can answer (kept as the visitor's email).
        #[serde(default)]
        email: Option<String>,
    },
    /// A rating of the conversation's episode that just closed.
    Rate {
        conversation_id: i64,
        rating: i32,
        #[serde(default)]
        comment: Option<String>,
    },
    Typing {
        active: bool,
    },
    Read {
        seq: i64,
    },
}

pub const VISITOR_TYPES: &[&str] = &["hello", "message", "rate", "typing", "read"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorOut {
    Welcome {
        visitor_id: i64,
        token: String,
        /// `null` (and `status` too) until the visitor's first message opens a conversation.
        conversation_id: Option<i64>,
        status: Option<ConversationStatus>,
        agent: Option<AgentRef>,
        messages: Vec<MessageView>,
        /// The team's current notice, if one has not expired.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notice: Option<NoticeView>,
        /// Whether the team can answer now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        availability: Option<Availability>,
    },
    /// The team became available, or stopped being.
    Availability {
        online: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back_at: Option<String>,
    },
    /// Asks for a rating of the conversation that closed (once per episode).
    Rate {
        conversation_id: i64,
        question: String,
    },
    /// The rating was stored.
    Rated {
        conversation_id: i64,
        rating: i32,
    },
    Ack {
        client_id: String,
        message: MessageView,
    },
    Message {
        message: MessageView,
    },
    /// A notice from the team, shown until `until`.
    Notice {
        body: String,
        until: String,
    },
    Assigned {
        conversation_id: i64,
        agent: AgentRef,
    },
    Queued {
        conversation_id: i64,
    },
    Typing {
        active: bool,
    },
    Read {
        seq: i64,
    },
    Closed {
        conversation_id: i64,
    },
    /// Said by a socket to its own client only, never sent between nodes.
    #[serde(skip_deserializing)]
    Error(ErrorBody),
}
