//! Message fields, checked once when a frame is parsed.

pub const BODY_MAX_BYTES: usize = 4096;
pub const CLIENT_ID_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sender {
    Visitor,
    Agent,
    System,
}

impl Sender {
    pub fn as_str(self) -> &'static str {
        match self {
            Sender::Visitor => "visitor",
            Sender::Agent => "agent",
            Sender::System => "system",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "visitor" => Some(Sender::Visitor),
            "agent" => Some(Sender::Agent),
            "system" => Some(Sender::System),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message is empty")]
    EmptyBody,
    #[error("the message is longer than 4096 bytes")]
    BodyTooLong,
    #[error("client_id must be 1-64 visible characters")]
    BadClientId,
    #[error("a message carries at most 10 files")]
    TooManyFiles,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    pub fn parse(raw: &str) -> Result<Self, MessageError> {
        if raw.trim().is_empty() {
            Err(MessageError::EmptyBody)
        } else if raw.len() > BODY_MAX_BYTES {
            Err(MessageError::BodyTooLong)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }
    /// A body that may be empty when `files` are sent with it (at most
    /// [`crate::domain::attachment::PER_MESSAGE`]).
    pub fn with_files(raw: &str, files: usize) -> Result<Self, MessageError> {
        if files > crate::domain::attachment::PER_MESSAGE {
            Err(MessageError::TooManyFiles)
        } else if files > 0 && raw.trim().is_empty() {
            Ok(Self(String::new()))
        } else {
            Self::parse(raw)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, MessageError> {
        let n = raw.chars().count();
        if (1..=CLIENT_ID_MAX).contains(&n)
            && !raw.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            Ok(Self(raw.to_owned()))
        } else {
            Err(MessageError::BadClientId)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// For what the server writes on a client's behalf (a transfer's note).
    pub fn random() -> Self {
        Self(format!("srv-{:016x}", rand::random::<u64>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_must_have_content_and_fit() {
        assert_eq!(MessageBody::parse("  \n"), Err(MessageError::EmptyBody));
        assert!(MessageBody::parse(&"a".repeat(4096)).is_ok());
        assert_eq!(
            MessageBody::parse(&"a".repeat(4097)),
            Err(MessageError::BodyTooLong)
        );
        // The limit is in bytes: 1366 three-byte characters are over it.
        assert_eq!(
            MessageBody::parse(&"你".repeat(1366)),
            Err(MessageError::BodyTooLong)
        );
        assert_eq!(MessageBody::parse(" hi ").unwrap().as_str(), " hi ");
        // Files alone are a message; eleven are too many, none need a text.
        assert_eq!(MessageBody::with_files(" ", 1).unwrap().as_str(), "");
        assert_eq!(
            MessageBody::with_files("x", 11),
            Err(MessageError::TooManyFiles)
        );
        assert_eq!(MessageBody::with_files("", 0), Err(MessageError::EmptyBody));
    }

    #[test]
    fn client_ids_are_short_and_visible() {
        assert!(ClientId::parse("c-1").is_ok());
        assert!(ClientId::parse(&"x".repeat(64)).is_ok());
        assert!(ClientId::parse(&"x".repeat(65)).is_err());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("a b").is_err());
    }
}
