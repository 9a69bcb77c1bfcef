//! A conversation's history of owners, written with each stored change in
//! the same transaction: who had it when, transfers, returns to the queue,
//! the close. Read for transcripts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::conversation_events as events;
use super::{DbConnection, StorageResult};
use crate::domain::{AgentId, AssignmentChange, ConversationId, ConversationStatus};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct Event {
    pub id: i64,
    pub conversation_id: i64,
    /// `assigned` (a transfer when `from_agent_id` is set), `queued`, `closed`.
    pub kind: String,
    pub agent_id: Option<i64>,
    pub from_agent_id: Option<i64>,
    pub at: NaiveDateTime,
}

type Row = (i64, &'static str, Option<i64>, Option<i64>, NaiveDateTime);

/// The event of one stored change.
pub fn of_change(c: &AssignmentChange) -> Row {
    let kind = match c.to.status {
        ConversationStatus::Assigned => "assigned",
        ConversationStatus::Queued => "queued",
        ConversationStatus::Closed => "closed",
    };
    let to = match c.to.status {
        ConversationStatus::Assigned => c.to.agent.map(|a| a.0),
        _ => None,
    };
    (c.conversation.0, kind, to, c.from.agent.map(|a| a.0), c.at)
}

/// A close of a conversation that `owner` had.
pub fn closed(id: ConversationId, owner: Option<AgentId>, at: NaiveDateTime) -> Row {
    (id.0, "closed", None, owner.map(|a| a.0), at)
}

macro_rules! insert_rows {
    ($conn:expr, $rows:expr) => {{
        let values: Vec<_> = $rows
            .iter()
            .map(|(c, k, a, f, at)| {
                (
                    events::conversation_id.eq(*c),
                    events::kind.eq(*k),
                    events::agent_id.eq(*a),
                    events::from_agent_id.eq(*f),
                    events::at.eq(*at),
                )
            })
            .collect();
        for chunk in values.chunks(500) {
            diesel::insert_into(events::table)
                .values(chunk.to_vec())
                .execute($conn)?;
        }
        Ok(())
    }};
}

pub fn record(conn: &mut DbConnection, rows: &[Row]) -> StorageResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        DbConnection::Pg(pg) => record_pg(pg, rows),
        DbConnection::Sqlite(c) => insert_rows!(c, rows),
    }
}

/// [`record`] on a PostgreSQL connection (one statement per 500).
pub fn record_pg(pg: &mut diesel::PgConnection, rows: &[Row]) -> StorageResult<()> {
    insert_rows!(pg, rows)
}

pub fn find(conn: &mut DbConnection, id: i64) -> StorageResult<Event> {
    Ok(events::table
        .find(id)
        .select(Event::as_select())
        .first(conn)?)
}

/// A conversation's events, oldest first.
pub fn of(conn: &mut DbConnection, id: ConversationId) -> StorageResult<Vec<Event>> {
    Ok(events::table
        .filter(events::conversation_id.eq(id.0))
        .order(events::id.asc())
        .select(Event::as_select())
        .load(conn)?)
}
