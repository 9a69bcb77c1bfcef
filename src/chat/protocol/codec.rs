//! Frames in and out: parsing a client's frame with stable error codes, the
//! `error` frame, and bounding what clients send.

use serde::{de::DeserializeOwned, Serialize};

/// `error {code, message}`; `client_id` / `conversation_id` say which request failed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_id: Option<i64>,
}

impl ErrorBody {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            client_id: None,
            conversation_id: None,
            room_id: None,
        }
    }
    pub fn client(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }
    pub fn conversation(mut self, id: i64) -> Self {
        self.conversation_id = Some(id);
        self
    }
    pub fn room(mut self, id: i64) -> Self {
        self.room_id = Some(id);
        self
    }
}

/// Stable error codes (the contract).
pub mod code {
    pub const BAD_JSON: &str = "bad_json";
    pub const UNKNOWN_TYPE: &str = "unknown_type";
    pub const BAD_FRAME: &str = "bad_frame";
    pub const HELLO_REQUIRED: &str = "hello_required";
    pub const ALREADY_HELLO: &str = "already_hello";
    pub const BINARY_UNSUPPORTED: &str = "binary_unsupported";
    pub const EMPTY_BODY: &str = "empty_body";
    pub const BODY_TOO_LONG: &str = "body_too_long";
    pub const BAD_CLIENT_ID: &str = "bad_client_id";
    pub const TOO_MANY_FILES: &str = "too_many_files";
    /// A file id that is not this sender's upload, or was sent with another message.
    pub const BAD_FILE: &str = "bad_file";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const ALREADY_ASSIGNED: &str = "already_assigned";
    /// A claim or transfer would give an agent more than its capacity.
    pub const AT_CAPACITY: &str = "at_capacity";
    pub const AGENT_OFFLINE: &str = "agent_offline";
    pub const CLOSED: &str = "closed";
    pub const CONFLICT: &str = "conflict";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const TOO_MANY_CONNECTIONS: &str = "too_many_connections";
    pub const TOO_MANY_CONVERSATIONS: &str = "too_many_conversations";
    /// An identifier whose hash is not the site's signature of it (or none,
    /// where the site requires one).
    pub const IDENTITY_INVALID: &str = "identity_invalid";
    /// A field out of bounds (a room message's body).
    pub const VALIDATION: &str = "validation";
}

/// Parses one client frame; every failure has a stable code.
pub fn parse<T: DeserializeOwned>(text: &str, known: &[&str]) -> Result<T, ErrorBody> {
    // A good frame in one pass; only a bad one is looked at twice, to say
    // what is wrong with it. (`known` names exactly `T`'s types.)
    if let Ok(frame) = serde_json::from_str(text) {
        return Ok(frame);
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ErrorBody::new(code::BAD_JSON, format!("not valid JSON: {e}")))?;
    let ty = match value.get("type") {
        Some(serde_json::Value::String(t)) => t.clone(),
        _ => {
            return Err(ErrorBody::new(
                code::BAD_FRAME,
                "a frame is a JSON object with a string field 'type'",
            ))
        }
    };
    if !known.contains(&ty.as_str()) {
        let shown: String = ty.chars().take(40).collect();
        return Err(ErrorBody::new(
            code::UNKNOWN_TYPE,
            format!("unknown frame type '{shown}'"),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ErrorBody::new(code::BAD_FRAME, format!("bad '{ty}' frame: {e}")))
}

/// A frame for many sockets, encoded once (by the first socket that sends
/// it) rather than once per socket: an agent's tabs, a room's members.
#[derive(Debug)]
pub struct Shared<T> {
    frame: T,
    text: std::sync::OnceLock<bytestring::ByteString>,
}

impl<T> Shared<T> {
    pub fn new(frame: T) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            frame,
            text: std::sync::OnceLock::new(),
        })
    }
}

impl<T: Serialize> Shared<T> {
    /// The frame as sent.
    pub fn text(&self) -> bytestring::ByteString {
        self.text
            .get_or_init(|| to_text(&self.frame).into())
            .clone()
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.frame
    }
}

pub fn to_text<T: Serialize>(frame: &T) -> String {
    // Our frame types contain only strings, numbers and maps: serialising cannot fail.
    serde_json::to_string(frame)
        .unwrap_or_else(|_| r#"{"type":"error","code":"internal","message":"encoding"}"#.into())
}

/// Bounds a visitor-supplied string (no error: page URLs can be long).
pub fn cap(s: Option<String>, max_chars: usize) -> Option<String> {
    s.map(|v| {
        v.trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(max_chars)
            .collect::<String>()
    })
    .filter(|v| !v.is_empty())
}

pub fn preview(body: &str) -> String {
    body.chars().take(120).collect()
}

/// What a conversation list shows of its newest message: its text, or for
/// files alone their names after a paperclip.
pub fn preview_of(m: &super::MessageView) -> String {
    if m.body.is_empty() && !m.files.is_empty() {
        let names: Vec<&str> = m.files.iter().map(|f| f.name.as_str()).collect();
        preview(&format!("\u{1F4CE} {}", names.join(", ")))
    } else {
        preview(&m.body)
    }
}
