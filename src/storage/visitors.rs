use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::visitors;
use super::{DbConnection, StorageError, StorageResult};
use crate::domain::VisitorId;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = visitors)]
pub struct VisitorRow {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub page_url: Option<String>,
    pub referrer: Option<String>,
    pub user_agent: Option<String>,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

impl VisitorRow {
    pub fn visitor_id(&self) -> VisitorId {
        VisitorId(self.id)
    }
}

/// What a visitor tells us about itself; each field already capped in length.
#[derive(Debug, Clone, Default)]
pub struct VisitorInfo {
    pub name: Option<String>,
    pub email: Option<String>,
    pub page_url: Option<String>,
    pub referrer: Option<String>,
    pub user_agent: Option<String>,
}

pub fn create(
    conn: &mut DbConnection,
    token_hash: &str,
    info: &VisitorInfo,
    now: NaiveDateTime,
) -> StorageResult<VisitorRow> {
    diesel::insert_into(visitors::table)
        .values((
            visitors::token_hash.eq(token_hash),
            visitors::name.eq(&info.name),
            visitors::email.eq(&info.email),
            visitors::page_url.eq(&info.page_url),
            visitors::referrer.eq(&info.referrer),
            visitors::user_agent.eq(&info.user_agent),
            visitors::first_seen_at.eq(now),
            visitors::last_seen_at.eq(now),
        ))
        .execute(conn)?;
    find_by_token_hash(conn, token_hash)?.ok_or(StorageError::NotFound)
}

pub fn find_by_token_hash(
    conn: &mut DbConnection,
    token_hash: &str,
) -> StorageResult<Option<VisitorRow>> {
    Ok(visitors::table
        .filter(visitors::token_hash.eq(token_hash))
        .select(VisitorRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find(conn: &mut DbConnection, id: VisitorId) -> StorageResult<VisitorRow> {
    Ok(visitors::table
        .find(id.0)
        .select(VisitorRow::as_select())
        .first(conn)?)
}

/// A returning visitor: refresh what changed (name and email only when given).
pub fn touch(
    conn: &mut DbConnection,
    id: VisitorId,
    info: &VisitorInfo,
    now: NaiveDateTime,
) -> StorageResult<VisitorRow> {
    let current = find(conn, id)?;
    diesel::update(visitors::table.find(id.0))
        .set((
            visitors::name.eq(info.name.clone().or(current.name)),
            visitors::email.eq(info.email.clone().or(current.email)),
            visitors::page_url.eq(info.page_url.clone().or(current.page_url)),
            visitors::referrer.eq(info.referrer.clone().or(current.referrer)),
            visitors::user_agent.eq(info.user_agent.clone().or(current.user_agent)),
            visitors::last_seen_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, id)
}

/// A visitor's `hello`: the visitor its token names (or a new one, with a
/// token from `new_token`) and its open conversation (or a new one), in one
/// transaction, so one commit. Returns (visitor, token, conversation, fresh):
/// `fresh` when the visitor was created now, so it has no history to send.
pub fn arrive(
    conn: &mut DbConnection,
    token: Option<String>,
    new_token: impl FnOnce() -> String,
    info: &VisitorInfo,
    now: NaiveDateTime,
) -> StorageResult<(VisitorRow, String, super::conversations::Conversation, bool)> {
    use super::conversations;
    use crate::domain::visitor::token_hash;
    if let (None, DbConnection::Pg(pg)) = (&token, &mut *conn) {
        let t = new_token();
        let (v, conv) = arrive_new_pg(pg, &token_hash(&t), info, now)?;
        return Ok((v, t, conv, true));
    }
    conn.transaction(|db| {
        super::take_write_lock(db)?;
        let known = match &token {
            Some(t) => find_by_token_hash(db, &token_hash(t))?,
            None => None,
        };
        Ok(match (known, token) {
            (Some(v), Some(t)) => {
                let v = touch(db, v.visitor_id(), info, now)?;
                let conv = conversations::open_or_create(db, v.visitor_id(), now)?;
                (v, t, conv, false)
            }
            _ => {
                // A new visitor has no conversation yet: no need to look for one.
                let t = new_token();
                let v = create(db, &token_hash(&t), info, now)?;
                let conv = conversations::insert_new(db, v.visitor_id(), now)?;
                (v, t, conv, true)
            }
        })
    })
}

#[derive(QueryableByName)]
struct NewIds {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    visitor_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// PostgreSQL, a `hello` without a token: the visitor and its first
/// conversation in one prepared statement, atomic on its own, so one round
/// trip instead of seven (BEGIN, two inserts, three reads back, COMMIT). Under
/// a burst of arrivals those round trips were most of PostgreSQL's work.
fn arrive_new_pg(
    pg: &mut PgConnection,
    token_hash: &str,
    info: &VisitorInfo,
    now: NaiveDateTime,
) -> StorageResult<(VisitorRow, super::conversations::Conversation)> {
    use super::prepared::{bind, stmt};
    use crate::domain::{Assignment, ConversationId, ConversationStatus};
    use chrono::Timelike;
    use diesel::sql_types::{Nullable, Text, Timestamp};
    // What is stored has microsecond precision: return exactly that.
    let now = now
        .with_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now);
    let queued = ConversationStatus::Queued;
    let ids: NewIds = stmt(
        "WITH v AS (INSERT INTO visitors \
           (token_hash, name, email, page_url, referrer, user_agent, first_seen_at, last_seen_at) \
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id) \
         INSERT INTO conversations (visitor_id, status, last_seq, created_at, updated_at) \
         SELECT v.id, ?, 0, ?, ? FROM v RETURNING visitor_id, id",
        (
            bind::<Text, _>(token_hash),
            bind::<Nullable<Text>, _>(&info.name),
            bind::<Nullable<Text>, _>(&info.email),
            bind::<Nullable<Text>, _>(&info.page_url),
            bind::<Nullable<Text>, _>(&info.referrer),
            bind::<Nullable<Text>, _>(&info.user_agent),
            bind::<Timestamp, _>(&now),
            bind::<Timestamp, _>(&now),
            bind::<Text, _>(queued.as_str()),
            bind::<Timestamp, _>(&now),
            bind::<Timestamp, _>(&now),
        ),
    )
    .get_result(pg)?;
    let visitor = VisitorRow {
        id: ids.visitor_id,
        name: info.name.clone(),
        email: info.email.clone(),
        page_url: info.page_url.clone(),
        referrer: info.referrer.clone(),
        user_agent: info.user_agent.clone(),
        first_seen_at: now,
        last_seen_at: now,
    };
    let conversation = super::conversations::Conversation {
        id: ConversationId(ids.id),
        visitor_id: VisitorId(ids.visitor_id),
        assignment: Assignment {
            status: queued,
            agent: None,
        },
        last_seq: 0,
        created_at: now,
    };
    Ok((visitor, conversation))
}
