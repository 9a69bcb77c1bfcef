//! Node leases: which livedesk processes are serving from this database.
//!
//! Each node's Dispatcher hands out conversations from its own memory, so two
//! nodes on one database would give one conversation two agents. Until nodes
//! share that state (cluster mode), a node takes a lease at start, renews it
//! while it runs and gives it back when it stops; a second node finding a
//! live lease refuses to start. A lease not renewed within its time to live
//! belongs to a node that died: it is taken over.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::schema::node_leases;
use super::{DbConnection, StorageResult};

/// Another node holds a live lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveNode {
    pub node_id: String,
    pub heartbeat_at: NaiveDateTime,
}

/// Takes the lease for `node_id`, unless another node renewed its own within
/// `ttl`. Stale leases are removed on the way.
pub fn claim(
    conn: &mut DbConnection,
    node_id: &str,
    now: NaiveDateTime,
    ttl: Duration,
) -> StorageResult<Result<(), LiveNode>> {
    conn.transaction(|c| {
        // Two nodes starting at the same moment must not both see an empty table.
        match c {
            DbConnection::Pg(pg) => {
                diesel::sql_query("LOCK TABLE node_leases IN EXCLUSIVE MODE").execute(pg)?;
            }
            DbConnection::Sqlite(_) => super::take_write_lock(c)?,
        }
        diesel::delete(node_leases::table.filter(node_leases::heartbeat_at.lt(now - ttl)))
            .execute(c)?;
        let live: Option<(String, NaiveDateTime)> = node_leases::table
            .filter(node_leases::node_id.ne(node_id))
            .order(node_leases::heartbeat_at.desc())
            .select((node_leases::node_id, node_leases::heartbeat_at))
            .first(c)
            .optional()?;
        if let Some((node_id, heartbeat_at)) = live {
            return Ok(Err(LiveNode {
                node_id,
                heartbeat_at,
            }));
        }
        diesel::insert_into(node_leases::table)
            .values((
                node_leases::node_id.eq(node_id),
                node_leases::started_at.eq(now),
                node_leases::heartbeat_at.eq(now),
            ))
            .execute(c)?;
        Ok(Ok(()))
    })
}

/// Renews the lease; false when it is gone (taken over after a long stall).
pub fn renew(conn: &mut DbConnection, node_id: &str, now: NaiveDateTime) -> StorageResult<bool> {
    let n = diesel::update(node_leases::table.find(node_id))
        .set(node_leases::heartbeat_at.eq(now))
        .execute(conn)?;
    Ok(n > 0)
}

/// Gives the lease back (a clean stop): the next node may start at once.
pub fn release(conn: &mut DbConnection, node_id: &str) -> StorageResult<()> {
    diesel::delete(node_leases::table.find(node_id)).execute(conn)?;
    Ok(())
}
