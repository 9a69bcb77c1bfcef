//! The archive: conversations by filters, newest first, a page at a time.
//! Text is matched as a substring, case-insensitively, through each
//! database's own trigram index (PostgreSQL `pg_trgm` GIN, SQLite FTS5
//! trigram; migration `message_search`). Terms shorter than three
//! characters have no trigram and are matched by a scan.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::schema::{agents, conversation_labels, conversations, visitors};
use super::{Backend, DbConnection, StorageResult};
use crate::domain::{AgentId, ConversationStatus};

diesel::define_sql_function! {
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Who is looking: admins see everything; an agent its own and the queue.
#[derive(Debug, Clone, Copy)]
pub enum Viewer {
    Admin,
    Agent(AgentId),
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub agent: Option<AgentId>,
    pub label: Option<i64>,
    pub status: Option<ConversationStatus>,
    /// Started on or after / before.
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    /// In the visitor's name or email.
    pub visitor: Option<String>,
    /// In any message's body.
    pub text: Option<String>,
    /// Older than this conversation (the next page).
    pub before: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Found {
    pub id: i64,
    pub status: String,
    pub agent: Option<String>,
    pub visitor_name: Option<String>,
    pub visitor_email: Option<String>,
    pub created_at: NaiveDateTime,
}

/// `%text%` for LIKE, lowercased, with `%`, `_` and `\` taken literally.
fn pattern(s: &str) -> String {
    let mut p = String::from("%");
    for c in s.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// From this many FTS matches on, SQLite checks conversations newest first.
const MANY: i64 = 2000;

/// The FTS5 query for `text` as one phrase (a substring for the trigram
/// tokenizer), or None when it is too short to have a trigram.
fn fts_phrase(text: &str) -> Option<String> {
    let t = text.trim();
    (t.chars().count() >= 3).then(|| format!("\"{}\"", t.replace('"', "\"\"")))
}

pub fn search(
    conn: &mut DbConnection,
    viewer: Viewer,
    f: &Filter,
    limit: i64,
) -> StorageResult<Vec<Found>> {
    let mut q = conversations::table
        .inner_join(visitors::table)
        .left_join(agents::table)
        .select((
            conversations::id,
            conversations::status,
            agents::display_name.nullable(),
            visitors::name,
            visitors::email,
            conversations::created_at,
        ))
        .into_boxed();
    if let Viewer::Agent(me) = viewer {
        q = q.filter(
            conversations::agent_id
                .eq(me.0)
                .or(conversations::status.eq(ConversationStatus::Queued.as_str())),
        );
    }
    if let Some(a) = f.agent {
        q = q.filter(conversations::agent_id.eq(a.0));
    }
    if let Some(s) = f.status {
        q = q.filter(conversations::status.eq(s.as_str()));
    }
    if let Some(t) = f.from {
        q = q.filter(conversations::created_at.ge(t));
    }
    if let Some(t) = f.until {
        q = q.filter(conversations::created_at.lt(t));
    }
    if let Some(b) = f.before {
        q = q.filter(conversations::id.lt(b));
    }
    if let Some(l) = f.label {
        let tagged = conversation_labels::table
            .filter(conversation_labels::label_id.eq(l))
            .select(conversation_labels::conversation_id);
        q = q.filter(conversations::id.eq_any(tagged));
    }
    if let Some(v) = f.visitor.as_deref().filter(|v| !v.trim().is_empty()) {
        let p = pattern(v);
        q = q.filter(
            lower(visitors::name.assume_not_null())
                .like(p.clone())
                .escape('\\')
                .or(lower(visitors::email.assume_not_null())
                    .like(p)
                    .escape('\\')),
        );
    }
    if let Some(t) = f.text.as_deref().filter(|t| !t.trim().is_empty()) {
        // Each as a fragment of SQL, so the statement is not kept prepared
        // and each search is planned for its own text: a kept one goes
        // generic on PostgreSQL after five runs and then walks every
        // conversation instead of asking the trigram index.
        let with = match (conn.backend(), fts_phrase(t)) {
            // `\\` is LIKE's default escape there.
            (Backend::Postgres, _) => sql::<Bool>(
                "conversations.id IN (SELECT m.conversation_id FROM messages m \
                 WHERE lower(m.body) LIKE ",
            )
            .bind::<Text, _>(pattern(t))
            .sql(")"),
            // SQLite keeps no statistics on the FTS index, so this counts
            // (up to a cap): few matches are looked up message by message;
            // many are checked against the newest conversations first,
            // which finds a page long before reading them all.
            (Backend::Sqlite, Some(phrase)) => {
                let many: i64 = diesel::select(
                    sql::<BigInt>(
                        "(SELECT count(*) FROM (SELECT 1 FROM messages_fts \
                         WHERE messages_fts MATCH ",
                    )
                    .bind::<Text, _>(phrase.clone())
                    .sql(&format!(" LIMIT {MANY}))")),
                )
                .get_result(conn)?;
                let matching = "m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ";
                let head = if many >= MANY {
                    format!(
                        "EXISTS (SELECT 1 FROM messages m \
                         WHERE m.conversation_id = conversations.id AND {matching}"
                    )
                } else {
                    format!(
                        "conversations.id IN (SELECT m.conversation_id FROM messages m \
                         WHERE {matching}"
                    )
                };
                sql::<Bool>(&head).bind::<Text, _>(phrase).sql("))")
            }
            // No trigram to look up: newest conversations first, each
            // through its own messages, so a frequent pair of Chinese
            // characters finds a page at once.
            (Backend::Sqlite, None) => sql::<Bool>(
                "EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id \
                 AND lower(m.body) LIKE ",
            )
            .bind::<Text, _>(pattern(t))
            .sql(" ESCAPE '\\')"),
        };
        q = q.filter(with);
    }
    Ok(q.order(conversations::id.desc())
        .limit(limit)
        .load::<Found>(conn)?)
}

/// PostgreSQL: moves the trigram index's pending entries into the index.
/// A new message's trigrams go to GIN's pending list (cheap); merging the
/// list costs tens of milliseconds, and an insert that finds it full merges
/// it itself, holding up its whole batch (and every message behind it).
/// The node calls this every second, off the write path; migration
/// `search_index_upkeep` gives the list room for that second.
pub fn tidy_search_index(conn: &mut DbConnection) -> StorageResult<()> {
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query("SELECT gin_clean_pending_list('messages_body_trgm')").execute(pg)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_take_user_text_literally() {
        assert_eq!(super::pattern(" 50%_off\\ "), "%50\\%\\_off\\\\%");
        assert_eq!(super::pattern("Vera"), "%vera%");
    }

    #[test]
    fn fts_phrases_quote_user_text_and_need_three_characters() {
        assert_eq!(super::fts_phrase(" 退款 "), None);
        assert_eq!(super::fts_phrase("ab"), None);
        assert_eq!(
            super::fts_phrase(r#"say "hi" OR x*"#).as_deref(),
            Some(r#""say ""hi"" OR x*""#)
        );
        assert_eq!(super::fts_phrase("退款单").as_deref(), Some("\"退款单\""));
    }
}
