//! Canned responses: shared ones (no owner) and each agent's own.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::canned_responses as canned;
use super::{last_insert_id, take_write_lock, DbConnection, StorageError, StorageResult};
use crate::domain::AgentId;

/// Responses one list holds, at most (an import beyond it is refused).
pub const MAX_PER_OWNER: i64 = 500;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = canned)]
pub struct Canned {
    pub id: i64,
    pub owner_id: Option<i64>,
    pub shortcut: String,
    pub body: String,
    #[serde(skip)]
    pub created_at: NaiveDateTime,
}

/// Shared ones (`None`) or one agent's own.
pub type Owner = Option<AgentId>;

type Backend = <DbConnection as diesel::Connection>::Backend;

fn of(owner: Owner) -> canned::BoxedQuery<'static, Backend> {
    let q = canned::table.into_boxed();
    match owner {
        Some(a) => q.filter(canned::owner_id.eq(a.0)),
        None => q.filter(canned::owner_id.is_null()),
    }
}

pub fn find(conn: &mut DbConnection, id: i64) -> StorageResult<Canned> {
    Ok(canned::table
        .find(id)
        .select(Canned::as_select())
        .first(conn)?)
}

/// Every response, shared and personal, by owner then shortcut.
pub fn all(conn: &mut DbConnection) -> StorageResult<Vec<Canned>> {
    Ok(canned::table
        .order((
            canned::owner_id.asc(),
            canned::shortcut.asc(),
            canned::id.asc(),
        ))
        .select(Canned::as_select())
        .load(conn)?)
}

/// Changes one response; `Conflict`: its owner has that shortcut already.
pub fn update(
    conn: &mut DbConnection,
    id: i64,
    shortcut: &str,
    body: &str,
) -> StorageResult<Canned> {
    conn.transaction(|c| {
        take_write_lock(c)?;
        let cur = find(c, id)?;
        let clash = of(cur.owner_id.map(AgentId))
            .filter(canned::shortcut.eq(shortcut.to_owned()))
            .filter(canned::id.ne(id))
            .count()
            .get_result::<i64>(c)?;
        if clash > 0 {
            return Err(StorageError::Conflict);
        }
        diesel::update(canned::table.find(id))
            .set((canned::shortcut.eq(shortcut), canned::body.eq(body)))
            .execute(c)?;
        find(c, id)
    })
}

/// One owner's responses, by shortcut.
pub fn list(conn: &mut DbConnection, owner: Owner) -> StorageResult<Vec<Canned>> {
    Ok(of(owner)
        .order((canned::shortcut.asc(), canned::id.asc()))
        .select(Canned::as_select())
        .load(conn)?)
}

/// What `agent` may use: the shared ones and its own, by shortcut.
pub fn usable(conn: &mut DbConnection, agent: AgentId) -> StorageResult<Vec<Canned>> {
    Ok(canned::table
        .filter(canned::owner_id.is_null().or(canned::owner_id.eq(agent.0)))
        .order((canned::shortcut.asc(), canned::id.asc()))
        .select(Canned::as_select())
        .load(conn)?)
}

/// Adds responses (an import, or one); a shortcut the owner has already is
/// replaced. All or nothing.
pub fn put(
    conn: &mut DbConnection,
    owner: Owner,
    items: &[(String, String)],
    now: NaiveDateTime,
) -> StorageResult<usize> {
    conn.transaction(|c| {
        take_write_lock(c)?;
        for (shortcut, body) in items {
            let same = of(owner)
                .filter(canned::shortcut.eq(shortcut.clone()))
                .select(canned::id)
                .load::<i64>(c)?;
            if let Some(id) = same.first() {
                diesel::update(canned::table.find(*id))
                    .set(canned::body.eq(body))
                    .execute(c)?;
                continue;
            }
            diesel::insert_into(canned::table)
                .values((
                    canned::owner_id.eq(owner.map(|a| a.0)),
                    canned::shortcut.eq(shortcut),
                    canned::body.eq(body),
                    canned::created_at.eq(now),
                ))
                .execute(c)?;
            last_insert_id(c, "canned_responses")?;
        }
        let n: i64 = of(owner).count().get_result(c)?;
        if n > MAX_PER_OWNER {
            return Err(StorageError::Conflict);
        }
        Ok(items.len())
    })
}

/// Deletes one of `owner`'s; `NotFound` for anyone else's.
pub fn delete(conn: &mut DbConnection, owner: Owner, id: i64) -> StorageResult<()> {
    let mine = of(owner)
        .filter(canned::id.eq(id))
        .count()
        .get_result::<i64>(conn)?;
    let n = match mine {
        0 => 0,
        _ => diesel::delete(canned::table.find(id)).execute(conn)?,
    };
    match n {
        0 => Err(StorageError::NotFound),
        _ => Ok(()),
    }
}
