use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::agents;
use super::{DbConnection, StorageError, StorageResult};
use crate::domain::{AgentId, Role};

/// An agent account as the rest of the program sees it (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: AgentId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
    /// Open conversations at once; `None`: the node's default; 0: no limit.
    pub capacity: Option<i32>,
}

impl Agent {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = agents)]
struct AgentRow {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    active: bool,
    created_at: NaiveDateTime,
    last_login_at: Option<NaiveDateTime>,
    capacity: Option<i32>,
}

impl From<AgentRow> for Agent {
    fn from(r: AgentRow) -> Self {
        Agent {
            id: AgentId(r.id),
            username: r.username,
            display_name: r.display_name,
            // The CHECK constraint admits only these two values.
            role: Role::parse(&r.role).unwrap_or(Role::Agent),
            active: r.active,
            created_at: r.created_at,
            last_login_at: r.last_login_at,
            capacity: r.capacity,
        }
    }
}

pub struct NewAgent<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
}

pub fn count(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(agents::table.count().get_result(conn)?)
}

pub fn insert(
    conn: &mut DbConnection,
    new: &NewAgent<'_>,
    now: NaiveDateTime,
) -> StorageResult<Agent> {
    diesel::insert_into(agents::table)
        .values((
            agents::username.eq(new.username),
            agents::display_name.eq(new.display_name),
            agents::password_hash.eq(new.password_hash),
            agents::role.eq(new.role.as_str()),
            agents::active.eq(true),
            agents::created_at.eq(now),
        ))
        .execute(conn)?;
    // MultiConnection has no RETURNING; the username is unique.
    find_by_username(conn, new.username)?
        .map(|(a, _)| a)
        .ok_or(StorageError::NotFound)
}

pub fn find(conn: &mut DbConnection, id: AgentId) -> StorageResult<Agent> {
    Ok(agents::table
        .find(id.0)
        .select(AgentRow::as_select())
        .first::<AgentRow>(conn)?
        .into())
}

/// The agent and its password hash.
pub fn find_by_username(
    conn: &mut DbConnection,
    username: &str,
) -> StorageResult<Option<(Agent, String)>> {
    let row = agents::table
        .filter(agents::username.eq(username))
        .select((AgentRow::as_select(), agents::password_hash))
        .first::<(AgentRow, String)>(conn)
        .optional()?;
    Ok(row.map(|(r, h)| (r.into(), h)))
}

pub fn list(conn: &mut DbConnection) -> StorageResult<Vec<Agent>> {
    Ok(agents::table
        .order(agents::username.asc())
        .select(AgentRow::as_select())
        .load::<AgentRow>(conn)?
        .into_iter()
        .map(Agent::from)
        .collect())
}

pub fn set_password_hash(conn: &mut DbConnection, id: AgentId, hash: &str) -> StorageResult<()> {
    let n = diesel::update(agents::table.find(id.0))
        .set(agents::password_hash.eq(hash))
        .execute(conn)?;
    found(n)
}

pub fn touch_login(conn: &mut DbConnection, id: AgentId, now: NaiveDateTime) -> StorageResult<()> {
    diesel::update(agents::table.find(id.0))
        .set(agents::last_login_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Changes display name and role; refuses to leave no active admin.
pub fn update_profile(
    conn: &mut DbConnection,
    id: AgentId,
    display_name: &str,
    role: Role,
) -> StorageResult<Agent> {
    keeping_an_admin(conn, |c| {
        let n = diesel::update(agents::table.find(id.0))
            .set((
                agents::display_name.eq(display_name),
                agents::role.eq(role.as_str()),
            ))
            .execute(c)?;
        found(n)?;
        find(c, id)
    })
}

/// Sets the agent's capacity (`None`: the default).
pub fn set_capacity(
    conn: &mut DbConnection,
    id: AgentId,
    capacity: Option<i32>,
) -> StorageResult<()> {
    let n = diesel::update(agents::table.find(id.0))
        .set(agents::capacity.eq(capacity))
        .execute(conn)?;
    found(n)
}

/// Enables or disables; refuses to disable the last active admin.
pub fn set_active(conn: &mut DbConnection, id: AgentId, active: bool) -> StorageResult<Agent> {
    keeping_an_admin(conn, |c| {
        let n = diesel::update(agents::table.find(id.0))
            .set(agents::active.eq(active))
            .execute(c)?;
        found(n)?;
        find(c, id)
    })
}

fn found(rows: usize) -> StorageResult<()> {
    if rows == 0 {
        Err(StorageError::NotFound)
    } else {
        Ok(())
    }
}

/// Arbitrary constant naming the admin-change lock among PostgreSQL advisory locks.
const ADMIN_LOCK: i64 = 0x6c64_6164_6d69_6e00;

/// Runs `change` in a transaction and rolls it back if it took away the last
/// active admin. The counts before and after are taken under a lock: an
/// advisory lock on PostgreSQL (two admins cannot disable each other at the same
/// moment), and on SQLite the writer lock, taken by a no-op write first so the
/// reads cannot go stale.
fn keeping_an_admin<T>(
    conn: &mut DbConnection,
    change: impl FnOnce(&mut DbConnection) -> StorageResult<T>,
) -> StorageResult<T> {
    fn active_admins(c: &mut DbConnection) -> StorageResult<i64> {
        Ok(agents::table
            .filter(agents::role.eq(Role::Admin.as_str()))
            .filter(agents::active.eq(true))
            .count()
            .get_result(c)?)
    }
    conn.transaction(|c| {
        match c {
            DbConnection::Pg(pg) => {
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({ADMIN_LOCK})"))
                    .execute(pg)?;
            }
            DbConnection::Sqlite(_) => super::take_write_lock(c)?,
        }
        let before = active_admins(c)?;
        let out = change(c)?;
        if before > 0 && active_admins(c)? == 0 {
            return Err(StorageError::LastAdmin);
        }
        Ok(out)
    })
}
