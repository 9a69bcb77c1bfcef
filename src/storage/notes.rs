//! Private notes: agents' remarks on a conversation, in a table of their
//! own. No query a visitor's socket or page runs reads it, so a note has no
//! path to a visitor. A note's `seq` is the conversation's last public `seq`
//! when it was written: it sits after that message, and the visitors' `seq`
//! stays gapless.

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;

use super::schema::{conversations, notes};
use super::{last_insert_id, take_write_lock, DbConnection, StorageError, StorageResult};
use crate::domain::{AgentId, ConversationId, ConversationStatus};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = notes)]
pub struct Note {
    pub id: i64,
    pub conversation_id: i64,
    pub seq: i64,
    pub agent_id: Option<i64>,
    pub client_id: String,
    pub body: String,
    pub created_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConnection, id: i64) -> StorageResult<Note> {
    Ok(notes::table
        .find(id)
        .select(Note::as_select())
        .first(conn)?)
}

/// Stores a note on an open conversation; a resent `client_id` gets the
/// original back (`Ok((note, false))`).
pub fn insert(
    conn: &mut DbConnection,
    conversation: ConversationId,
    agent: AgentId,
    client_id: &str,
    body: &str,
    now: NaiveDateTime,
) -> StorageResult<(Note, bool)> {
    let now = now
        .with_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now);
    conn.transaction(|c| {
        take_write_lock(c)?;
        if let Some(n) = by_client_id(c, conversation, client_id)? {
            return Ok((n, false));
        }
        let (status, seq): (String, i64) = conversations::table
            .find(conversation.0)
            .select((conversations::status, conversations::last_seq))
            .first(c)?;
        if status == ConversationStatus::Closed.as_str() {
            return Err(StorageError::ConversationClosed);
        }
        diesel::insert_into(notes::table)
            .values((
                notes::conversation_id.eq(conversation.0),
                notes::seq.eq(seq),
                notes::agent_id.eq(agent.0),
                notes::client_id.eq(client_id),
                notes::body.eq(body),
                notes::created_at.eq(now),
            ))
            .execute(c)?;
        let id = last_insert_id(c, "notes")?;
        Ok((
            notes::table.find(id).select(Note::as_select()).first(c)?,
            true,
        ))
    })
    .or_else(|e| match e {
        // Two resends at once: the other one stored it.
        StorageError::Conflict => by_client_id(conn, conversation, client_id)?
            .map(|n| (n, false))
            .ok_or(StorageError::Conflict),
        other => Err(other),
    })
}

fn by_client_id(
    c: &mut DbConnection,
    conversation: ConversationId,
    client_id: &str,
) -> StorageResult<Option<Note>> {
    Ok(notes::table
        .filter(notes::conversation_id.eq(conversation.0))
        .filter(notes::client_id.eq(client_id))
        .select(Note::as_select())
        .first(c)
        .optional()?)
}

/// Notes with `from <= seq < to`, oldest first (at most `limit`).
pub fn between(
    conn: &mut DbConnection,
    conversation: ConversationId,
    from: i64,
    to: i64,
    limit: i64,
) -> StorageResult<Vec<Note>> {
    Ok(notes::table
        .filter(notes::conversation_id.eq(conversation.0))
        .filter(notes::seq.ge(from))
        .filter(notes::seq.lt(to))
        .order((notes::seq.asc(), notes::id.asc()))
        .limit(limit)
        .select(Note::as_select())
        .load(conn)?)
}
