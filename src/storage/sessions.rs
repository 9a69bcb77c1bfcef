//! Server-side session rows. The cookie holds only a random key; the table holds
//! its SHA-256, so a copy of the database does not hand out live sessions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::sessions;
use super::{DbConnection, StorageResult};
use crate::domain::AgentId;

pub fn load(
    conn: &mut DbConnection,
    key_hash: &str,
    now: NaiveDateTime,
) -> StorageResult<Option<String>> {
    Ok(sessions::table
        .filter(sessions::key_hash.eq(key_hash))
        .filter(sessions::expires_at.gt(now))
        .select(sessions::state)
        .first(conn)
        .optional()?)
}

/// Who a session row belongs to: the agent and the sign-in (`login_id`,
/// made at sign-in and kept when the key is renewed).
#[derive(Debug, Clone, Copy, Default)]
pub struct Owner<'a> {
    pub agent: Option<AgentId>,
    pub login: Option<&'a str>,
}

pub fn insert(
    conn: &mut DbConnection,
    key_hash: &str,
    owner: Owner<'_>,
    state: &str,
    expires_at: NaiveDateTime,
) -> StorageResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::key_hash.eq(key_hash),
            sessions::agent_id.eq(owner.agent.map(|a| a.0)),
            sessions::login_id.eq(owner.login),
            sessions::state.eq(state),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Returns false when the row is gone (expired, logged out, or the agent was disabled).
pub fn update(
    conn: &mut DbConnection,
    key_hash: &str,
    owner: Owner<'_>,
    state: &str,
    expires_at: NaiveDateTime,
) -> StorageResult<bool> {
    let n = diesel::update(sessions::table.find(key_hash))
        .set((
            sessions::agent_id.eq(owner.agent.map(|a| a.0)),
            sessions::login_id.eq(owner.login),
            sessions::state.eq(state),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

pub fn update_expiry(
    conn: &mut DbConnection,
    key_hash: &str,
    expires_at: NaiveDateTime,
) -> StorageResult<()> {
    diesel::update(sessions::table.find(key_hash))
        .set(sessions::expires_at.eq(expires_at))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, key_hash: &str) -> StorageResult<()> {
    diesel::delete(sessions::table.find(key_hash)).execute(conn)?;
    Ok(())
}

/// Ends every session of an agent (disabled, or password reset).
pub fn delete_for_agent(conn: &mut DbConnection, agent: AgentId) -> StorageResult<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::agent_id.eq(agent.0))).execute(conn)?)
}

/// Ends every session of an agent but the sign-in `keep` (an admin changing
/// its own password stays signed in where it did so).
pub fn delete_for_agent_except(
    conn: &mut DbConnection,
    agent: AgentId,
    keep: &str,
) -> StorageResult<usize> {
    Ok(diesel::delete(
        sessions::table
            .filter(sessions::agent_id.eq(agent.0))
            .filter(sessions::login_id.ne(keep).or(sessions::login_id.is_null())),
    )
    .execute(conn)?)
}

/// Is the sign-in `login` of `agent` still a live session? Sockets ask this,
/// since they outlive the request that opened them.
pub fn login_alive(
    conn: &mut DbConnection,
    agent: AgentId,
    login: &str,
    now: NaiveDateTime,
) -> StorageResult<bool> {
    let n: i64 = sessions::table
        .filter(sessions::login_id.eq(login))
        .filter(sessions::agent_id.eq(agent.0))
        .filter(sessions::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn purge_expired(conn: &mut DbConnection, now: NaiveDateTime) -> StorageResult<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)?)
}

pub fn count_for_agent(conn: &mut DbConnection, agent: AgentId) -> StorageResult<i64> {
    Ok(sessions::table
        .filter(sessions::agent_id.eq(agent.0))
        .count()
        .get_result(conn)?)
}
