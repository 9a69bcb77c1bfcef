//! Satisfaction ratings: one per episode of a conversation (from its start
//! or a reopening to its close), given by its visitor once it is closed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{conversation_events as ev, conversations as c, csat};
use super::{last_insert_id, take_write_lock, DbConnection, StorageError, StorageResult};
use crate::domain::{ConversationId, ConversationStatus, VisitorId};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = csat)]
pub struct Rating {
    pub id: i64,
    pub conversation_id: i64,
    pub episode: i32,
    pub rating: i32,
    pub comment: Option<String>,
    #[serde(skip)]
    pub created_at: NaiveDateTime,
}

/// The episode a conversation is in: one more than its reopenings.
pub fn episode(conn: &mut DbConnection, conv: ConversationId) -> StorageResult<i32> {
    let reopened: i64 = ev::table
        .filter(ev::conversation_id.eq(conv.0))
        .filter(ev::kind.eq("reopened"))
        .count()
        .get_result(conn)?;
    Ok(reopened as i32 + 1)
}

/// Is a rating wanted for the conversation's current episode (closed, not rated)?
pub fn wanted(conn: &mut DbConnection, conv: ConversationId) -> StorageResult<Option<i32>> {
    let status: String = c::table.find(conv.0).select(c::status).first(conn)?;
    if status != ConversationStatus::Closed.as_str() {
        return Ok(None);
    }
    let e = episode(conn, conv)?;
    let rated: i64 = csat::table
        .filter(csat::conversation_id.eq(conv.0))
        .filter(csat::episode.eq(e))
        .count()
        .get_result(conn)?;
    Ok((rated == 0).then_some(e))
}

/// The visitor's rating of its conversation's episode that closed last.
/// `NotFound`: not its conversation; `ConversationClosed` reads inverted
/// here: `Conflict` when it is open or that episode is rated already.
pub fn submit(
    conn: &mut DbConnection,
    visitor: VisitorId,
    conv: ConversationId,
    rating: i32,
    comment: Option<&str>,
    now: NaiveDateTime,
) -> StorageResult<Rating> {
    conn.transaction(|db| {
        take_write_lock(db)?;
        let owner: i64 = c::table.find(conv.0).select(c::visitor_id).first(db)?;
        if owner != visitor.0 {
            return Err(StorageError::NotFound);
        }
        let Some(e) = wanted(db, conv)? else {
            return Err(StorageError::Conflict);
        };
        diesel::insert_into(csat::table)
            .values((
                csat::conversation_id.eq(conv.0),
                csat::episode.eq(e),
                csat::rating.eq(rating),
                csat::comment.eq(comment),
                csat::created_at.eq(now),
            ))
            .execute(db)?;
        let id = last_insert_id(db, "csat")?;
        Ok(csat::table.find(id).select(Rating::as_select()).first(db)?)
    })
}

/// A conversation's ratings, by episode.
pub fn of(conn: &mut DbConnection, conv: ConversationId) -> StorageResult<Vec<Rating>> {
    Ok(csat::table
        .filter(csat::conversation_id.eq(conv.0))
        .order(csat::episode.asc())
        .select(Rating::as_select())
        .load(conn)?)
}

pub fn find(conn: &mut DbConnection, id: i64) -> StorageResult<Rating> {
    Ok(csat::table
        .find(id)
        .select(Rating::as_select())
        .first(conn)?)
}

/// These conversations' ratings.
pub fn of_many(conn: &mut DbConnection, ids: &[i64]) -> StorageResult<Vec<Rating>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            csat::table
                .filter(csat::conversation_id.eq_any(chunk))
                .select(Rating::as_select())
                .load::<Rating>(conn)?,
        );
    }
    Ok(out)
}
