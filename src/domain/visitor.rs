//! Visitor tokens: 256 random bits for the widget to keep; only a hash is stored.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Longer strings cannot be tokens we issued; they are not even hashed.
pub const TOKEN_MAX: usize = 128;

pub fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub use super::text::without_bidi_controls;

use chrono::NaiveDateTime;

use super::VisitorId;

/// A visitor as the product knows them: what they told about themselves and
/// when they were here.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Visitor {
    pub id: VisitorId,
    pub name: Option<String>,
    pub email: Option<String>,
    pub page_url: Option<String>,
    pub referrer: Option<String>,
    pub user_agent: Option<String>,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    /// An IANA zone name as the browser gave it (`Asia/Shanghai`).
    pub timezone: Option<String>,
    /// Who the site says this is (its own id for its customer).
    #[serde(default)]
    pub identifier: Option<String>,
    /// The site signed `identifier` (so it is one visitor on every device).
    #[serde(default)]
    pub verified: bool,
}

impl Visitor {
    pub fn visitor_id(&self) -> VisitorId {
        self.id
    }
}

/// Looks like an IANA zone name (`America/Argentina/Buenos_Aires`, `UTC`,
/// `Etc/GMT+5`): short, and made of the characters such names use. Anything
/// else is dropped rather than shown to an agent.
pub fn is_time_zone_name(z: &str) -> bool {
    (1..=64).contains(&z.len())
        && z.starts_with(|c: char| c.is_ascii_alphabetic())
        && z.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zone_names_are_checked_by_shape() {
        for ok in [
            "Asia/Shanghai",
            "UTC",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert!(is_time_zone_name(ok), "{ok}");
        }
        for bad in [
            "",
            "<script>",
            "Asia/Shang hai",
            "/etc/passwd",
            &"A".repeat(65),
        ] {
            assert!(!is_time_zone_name(bad), "{bad}");
        }
    }

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, new_token());
        assert_eq!(token_hash(&t), token_hash(&t));
        assert_ne!(token_hash(&t), t);
        assert_eq!(token_hash(&t).len(), 64);
    }
}
