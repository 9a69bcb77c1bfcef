use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::visitors;
use super::{DbConnection, StorageError, StorageResult};
use crate::domain::{Visitor, VisitorId};

/// A visitors row; the rest of the product sees `domain::Visitor`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = visitors)]
pub(crate) struct VisitorRow {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub page_url: Option<String>,
    pub referrer: Option<String>,
    pub user_agent: Option<String>,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    /// An IANA zone name as the browser gave it (`Asia/Shanghai`).
    pub timezone: Option<String>,
    pub identifier: Option<String>,
    pub verified: bool,
}

impl From<VisitorRow> for Visitor {
    fn from(r: VisitorRow) -> Self {
        Visitor {
            id: VisitorId(r.id),
            name: r.name,
            email: r.email,
            page_url: r.page_url,
            referrer: r.referrer,
            user_agent: r.user_agent,
            first_seen_at: r.first_seen_at,
            last_seen_at: r.last_seen_at,
            timezone: r.timezone,
            identifier: r.identifier,
            verified: r.verified,
        }
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
    pub timezone: Option<String>,
}

pub fn create(
    conn: &mut DbConnection,
    token_hash: &str,
    info: &VisitorInfo,
    now: NaiveDateTime,
) -> StorageResult<Visitor> {
    diesel::insert_into(visitors::table)
        .values((
            visitors::token_hash.eq(token_hash),
            visitors::name.eq(&info.name),
            visitors::email.eq(&info.email),
            visitors::page_url.eq(&info.page_url),
            visitors::referrer.eq(&info.referrer),
            visitors::user_agent.eq(&info.user_agent),
            visitors::timezone.eq(&info.timezone),
            visitors::first_seen_at.eq(now),
            visitors::last_seen_at.eq(now),
        ))
        .execute(conn)?;
    find_by_token_hash(conn, token_hash)?.ok_or(StorageError::NotFound)
}

/// The visitor a token names: its first token, or one it was given on
/// another device once its identity was verified (`identity::give_token`).
pub fn find_by_token_hash(
    conn: &mut DbConnection,
    token_hash: &str,
) -> StorageResult<Option<Visitor>> {
    use super::schema::visitor_tokens as more;
    let first = visitors::table
        .filter(visitors::token_hash.eq(token_hash))
        .select(VisitorRow::as_select())
        .first::<VisitorRow>(conn)
        .optional()?;
    let row = match first {
        Some(r) => Some(r),
        None => more::table
            .inner_join(visitors::table)
            .filter(more::token_hash.eq(token_hash))
            .select(VisitorRow::as_select())
            .first::<VisitorRow>(conn)
            .optional()?,
    };
    Ok(row.map(Into::into))
}

/// What the site or an integration attached to the visitor (a JSON object).
pub fn attributes(conn: &mut DbConnection, id: VisitorId) -> StorageResult<String> {
    Ok(visitors::table
        .find(id.0)
        .select(visitors::attributes)
        .first(conn)?)
}

/// Changes what is given (`Some`); a `Some(None)` clears a name or email.
pub fn update_profile(
    conn: &mut DbConnection,
    id: VisitorId,
    name: Option<Option<String>>,
    email: Option<Option<String>>,
    attributes: Option<String>,
) -> StorageResult<Visitor> {
    let current = find(conn, id)?;
    let attrs = match attributes {
        Some(a) => a,
        None => self::attributes(conn, id)?,
    };
    diesel::update(visitors::table.find(id.0))
        .set((
            visitors::name.eq(name.unwrap_or(current.name)),
            visitors::email.eq(email.unwrap_or(current.email)),
            visitors::attributes.eq(attrs),
        ))
        .execute(conn)?;
    find(conn, id)
}

pub fn find(conn: &mut DbConnection, id: VisitorId) -> StorageResult<Visitor> {
    Ok(visitors::table
        .find(id.0)
        .select(VisitorRow::as_select())
        .first::<VisitorRow>(conn)?
        .into())
}

/// A returning visitor: refresh what changed (name and email only when given).
pub fn touch(
    conn: &mut DbConnection,
    id: VisitorId,
    info: &VisitorInfo,
    now: NaiveDateTime,
) -> StorageResult<Visitor> {
    let current = find(conn, id)?;
    diesel::update(visitors::table.find(id.0))
        .set((
            visitors::name.eq(info.name.clone().or(current.name)),
            visitors::email.eq(info.email.clone().or(current.email)),
            visitors::page_url.eq(info.page_url.clone().or(current.page_url)),
            visitors::referrer.eq(info.referrer.clone().or(current.referrer)),
            visitors::user_agent.eq(info.user_agent.clone().or(current.user_agent)),
            visitors::timezone.eq(info.timezone.clone().or(current.timezone)),
            visitors::last_seen_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, id)
}

#[derive(QueryableByName)]
struct NewIds {
    #[diesel(sql_type = diesel::sql_types::Text)]
    token_hash: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// PostgreSQL, `hello`s without a token: the new visitors in one prepared
/// statement (atomic on its own), so one round trip and one commit for the
/// lot. Under a burst of arrivals those round trips and commits were most of
/// PostgreSQL's work. `arrivals` holds (token hash, what the visitor told);
/// the answer is in the same order.
pub(crate) fn arrive_new_pg(
    pg: &mut PgConnection,
    arrivals: &[(String, VisitorInfo)],
    now: NaiveDateTime,
) -> StorageResult<Vec<Visitor>> {
    use super::prepared::{bind, stmt};
    use chrono::Timelike;
    use diesel::sql_types::{Array, Nullable, Text, Timestamp};
    // What is stored has microsecond precision: return exactly that.
    let now = now
        .with_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now);
    let column = |f: fn(&VisitorInfo) -> &Option<String>| -> Vec<Option<&str>> {
        arrivals.iter().map(|(_, i)| f(i).as_deref()).collect()
    };
    let hashes: Vec<&str> = arrivals.iter().map(|(h, _)| h.as_str()).collect();
    let (names, emails) = (column(|i| &i.name), column(|i| &i.email));
    let (pages, referrers) = (column(|i| &i.page_url), column(|i| &i.referrer));
    let agents = column(|i| &i.user_agent);
    let zones = column(|i| &i.timezone);
    let rows: Vec<NewIds> = stmt(
        "INSERT INTO visitors \
           (token_hash, name, email, page_url, referrer, user_agent, timezone, first_seen_at, last_seen_at) \
         SELECT x.*, ?::timestamp, ?::timestamp \
         FROM UNNEST(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) AS x \
         RETURNING token_hash, id",
        (
            bind::<Timestamp, _>(&now),
            bind::<Timestamp, _>(&now),
            bind::<Array<Text>, _>(&hashes),
            bind::<Array<Nullable<Text>>, _>(&names),
            bind::<Array<Nullable<Text>>, _>(&emails),
            bind::<Array<Nullable<Text>>, _>(&pages),
            bind::<Array<Nullable<Text>>, _>(&referrers),
            bind::<Array<Nullable<Text>>, _>(&agents),
            bind::<Array<Nullable<Text>>, _>(&zones),
        ),
    )
    .load(pg)?;
    let mut ids: std::collections::HashMap<String, i64> =
        rows.into_iter().map(|r| (r.token_hash, r.id)).collect();
    arrivals
        .iter()
        .map(|(hash, info)| {
            let id = ids.remove(hash).ok_or(StorageError::NotFound)?;
            Ok(Visitor {
                id: VisitorId(id),
                name: info.name.clone(),
                email: info.email.clone(),
                page_url: info.page_url.clone(),
                referrer: info.referrer.clone(),
                user_agent: info.user_agent.clone(),
                first_seen_at: now,
                last_seen_at: now,
                timezone: info.timezone.clone(),
                identifier: None,
                verified: false,
            })
        })
        .collect()
}
