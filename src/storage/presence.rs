//! Agents' presence as it changed, for the reports' online and away time.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::presence_events as p;
use super::{DbConnection, StorageResult};
use crate::domain::reports::Presence;
use crate::domain::AgentId;

pub fn record(
    conn: &mut DbConnection,
    agent: AgentId,
    status: &str,
    at: NaiveDateTime,
) -> StorageResult<()> {
    diesel::insert_into(p::table)
        .values((p::agent_id.eq(agent.0), p::status.eq(status), p::at.eq(at)))
        .execute(conn)?;
    Ok(())
}

fn known(s: &str) -> &'static str {
    match s {
        "online" => "online",
        "away" => "away",
        _ => "offline",
    }
}

/// Each agent's changes in [from, to), after the one in force at `from`.
pub fn between(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StorageResult<BTreeMap<i64, Presence>> {
    let mut out: BTreeMap<i64, Presence> = BTreeMap::new();
    let before: Vec<(i64, String, NaiveDateTime)> = p::table
        .filter(p::at.lt(from))
        .order((p::agent_id.asc(), p::at.desc(), p::id.desc()))
        .select((p::agent_id, p::status, p::at))
        .load(conn)?;
    for (agent, status, at) in before {
        out.entry(agent)
            .or_insert_with(|| vec![(known(&status), at)]);
    }
    let during: Vec<(i64, String, NaiveDateTime)> = p::table
        .filter(p::at.ge(from))
        .filter(p::at.lt(to))
        .order((p::at.asc(), p::id.asc()))
        .select((p::agent_id, p::status, p::at))
        .load(conn)?;
    for (agent, status, at) in during {
        out.entry(agent).or_default().push((known(&status), at));
    }
    Ok(out)
}
