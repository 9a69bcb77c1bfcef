//! Admins' announcements to agents, and notices to visitors (with an end).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::announcements;
use super::{last_insert_id, DbConnection, StorageResult};
use crate::domain::AgentId;

/// Announcements an agent's `welcome` carries, at most.
pub const WELCOME_MAX: i64 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = announcements)]
pub struct Announcement {
    pub id: i64,
    pub body: String,
    pub author_id: Option<i64>,
    pub author_name: String,
    pub audience: String,
    pub until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Agents,
    /// Shown by every widget until `until`.
    Visitors {
        until: NaiveDateTime,
    },
}

pub fn insert(
    conn: &mut DbConnection,
    body: &str,
    author: (AgentId, &str),
    audience: Audience,
    now: NaiveDateTime,
) -> StorageResult<Announcement> {
    let (kind, until) = match audience {
        Audience::Agents => ("agents", None),
        Audience::Visitors { until } => ("visitors", Some(until)),
    };
    diesel::insert_into(announcements::table)
        .values((
            announcements::body.eq(body),
            announcements::author_id.eq(author.0 .0),
            announcements::author_name.eq(author.1),
            announcements::audience.eq(kind),
            announcements::until.eq(until),
            announcements::created_at.eq(now),
        ))
        .execute(conn)?;
    let id = last_insert_id(conn, "announcements")?;
    Ok(announcements::table
        .find(id)
        .select(Announcement::as_select())
        .first(conn)?)
}

/// The newest announcements to agents, newest first.
pub fn latest_for_agents(conn: &mut DbConnection, limit: i64) -> StorageResult<Vec<Announcement>> {
    Ok(announcements::table
        .filter(announcements::audience.eq("agents"))
        .order(announcements::id.desc())
        .limit(limit)
        .select(Announcement::as_select())
        .load(conn)?)
}

/// The newest notice to visitors that has not expired at `now`.
pub fn current_notice(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> StorageResult<Option<Announcement>> {
    Ok(announcements::table
        .filter(announcements::audience.eq("visitors"))
        .filter(announcements::until.gt(now))
        .order(announcements::id.desc())
        .select(Announcement::as_select())
        .first(conn)
        .optional()?)
}

/// The newest of both kinds, newest first (the console's list).
pub fn latest(conn: &mut DbConnection, limit: i64) -> StorageResult<Vec<Announcement>> {
    Ok(announcements::table
        .order(announcements::id.desc())
        .limit(limit)
        .select(Announcement::as_select())
        .load(conn)?)
}
