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
        let mut arrived = arrive_new_pg(pg, &[(token_hash(&t), info.clone())], now)?;
        let (v, conv) = arrived.pop().ok_or(StorageError::NotFound)?;
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
    #[diesel(sql_type = diesel::sql_types::Text)]
    token_hash: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    visitor_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// PostgreSQL, `hello`s without a token: each visitor with its first
/// conversation, all of them in one prepared statement (atomic on its own),
/// so one round trip and one commit for the lot instead of a transaction of
/// seven round trips each. Under a burst of arrivals those round trips and
/// commits were most of PostgreSQL's work. `arrivals` holds (token hash,
/// what the visitor told); the answer is in the same order.
pub(crate) fn arrive_new_pg(
    pg: &mut PgConnection,
    arrivals: &[(String, VisitorInfo)],
    now: NaiveDateTime,
) -> StorageResult<Vec<(VisitorRow, super::conversations::Conversation)>> {
    use super::prepared::{bind, stmt};
    use crate::domain::{Assignment, ConversationId, ConversationStatus};
    use chrono::Timelike;
    use diesel::sql_types::{Array, Nullable, Text, Timestamp};
    // What is stored has microsecond precision: return exactly that.
    let now = now
        .with_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now);
    let queued = ConversationStatus::Queued;
    let column = |f: fn(&VisitorInfo) -> &Option<String>| -> Vec<Option<&str>> {
        arrivals.iter().map(|(_, i)| f(i).as_deref()).collect()
    };
    let hashes: Vec<&str> = arrivals.iter().map(|(h, _)| h.as_str()).collect();
    let (names, emails) = (column(|i| &i.name), column(|i| &i.email));
    let (pages, referrers) = (column(|i| &i.page_url), column(|i| &i.referrer));
    let agents = column(|i| &i.user_agent);
    let rows: Vec<NewIds> = stmt(
        "WITH v AS (INSERT INTO visitors \
           (token_hash, name, email, page_url, referrer, user_agent, first_seen_at, last_seen_at) \
           SELECT x.*, ?::timestamp, ?::timestamp \
           FROM UNNEST(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) AS x \
           RETURNING id, token_hash), \
         c AS (INSERT INTO conversations (visitor_id, status, last_seq, created_at, updated_at) \
           SELECT v.id, ?, 0, ?, ? FROM v RETURNING visitor_id, id) \
         SELECT v.token_hash, c.visitor_id, c.id FROM v JOIN c ON c.visitor_id = v.id",
        (
            bind::<Timestamp, _>(&now),
            bind::<Timestamp, _>(&now),
            bind::<Array<Text>, _>(&hashes),
            bind::<Array<Nullable<Text>>, _>(&names),
            bind::<Array<Nullable<Text>>, _>(&emails),
            bind::<Array<Nullable<Text>>, _>(&pages),
            bind::<Array<Nullable<Text>>, _>(&referrers),
            bind::<Array<Nullable<Text>>, _>(&agents),
            bind::<Text, _>(queued.as_str()),
            bind::<Timestamp, _>(&now),
            bind::<Timestamp, _>(&now),
        ),
    )
    .load(pg)?;
    let mut ids: std::collections::HashMap<String, (i64, i64)> = rows
        .into_iter()
        .map(|r| (r.token_hash, (r.visitor_id, r.id)))
        .collect();
    arrivals
        .iter()
        .map(|(hash, info)| {
            let (visitor_id, id) = ids.remove(hash).ok_or(StorageError::NotFound)?;
            let visitor = VisitorRow {
                id: visitor_id,
                name: info.name.clone(),
                email: info.email.clone(),
                page_url: info.page_url.clone(),
                referrer: info.referrer.clone(),
                user_agent: info.user_agent.clone(),
                first_seen_at: now,
                last_seen_at: now,
            };
            let conversation = super::conversations::Conversation {
                id: ConversationId(id),
                visitor_id: VisitorId(visitor_id),
                assignment: Assignment {
                    status: queued,
                    agent: None,
                },
                last_seq: 0,
                created_at: now,
            };
            Ok((visitor, conversation))
        })
        .collect()
}
