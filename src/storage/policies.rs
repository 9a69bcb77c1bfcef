//! The team's settings kept in the database (so every node has the same):
//! satisfaction surveys and business hours, each a small JSON document.

use serde::{Deserialize, Serialize};

use super::{settings, DbConnection, StorageResult};
use crate::domain::hours::BusinessHours;

const CSAT: &str = "csat";
const HOURS: &str = "business_hours";

/// Asking visitors for a rating when a conversation closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsatPolicy {
    pub enabled: bool,
    /// The question per language; empty: the default wording.
    #[serde(default)]
    pub question_en: String,
    #[serde(default)]
    pub question_zh: String,
}

impl Default for CsatPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            question_en: String::new(),
            question_zh: String::new(),
        }
    }
}

impl CsatPolicy {
    /// The question in `lang` (`en` or `zh`).
    pub fn question(&self, lang: &str) -> String {
        let (own, default) = match lang {
            "zh" => (&self.question_zh, "您对本次服务满意吗？"),
            _ => (&self.question_en, "How would you rate this conversation?"),
        };
        if own.trim().is_empty() {
            default.to_owned()
        } else {
            own.clone()
        }
    }
}

pub fn csat(conn: &mut DbConnection) -> StorageResult<CsatPolicy> {
    Ok(settings::get(conn, CSAT)?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

pub fn set_csat(conn: &mut DbConnection, p: &CsatPolicy) -> StorageResult<()> {
    settings::put(conn, CSAT, &serde_json::to_string(p).unwrap_or_default())
}

/// The team's hours; `None`: always open.
pub fn hours(conn: &mut DbConnection) -> StorageResult<Option<BusinessHours>> {
    Ok(settings::get(conn, HOURS)?.and_then(|s| serde_json::from_str(&s).ok()))
}

pub fn set_hours(conn: &mut DbConnection, h: Option<&BusinessHours>) -> StorageResult<()> {
    match h {
        Some(h) => settings::put(conn, HOURS, &serde_json::to_string(h).unwrap_or_default()),
        None => settings::put(conn, HOURS, "null"),
    }
}
