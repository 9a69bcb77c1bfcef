//! Leases in Redis: the leader's (one node decides for the cluster) and each
//! node's own (a node whose lease ran out is dead, its sockets gone).
//! A lease is a key with a time to live, renewed at a third of it.

use redis::aio::ConnectionLike;

use super::ClusterConfig;

/// Renews the key only if it still holds our value: a lease that passed to
/// another node is never taken back by accident.
const RENEW: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then \
                     return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then \
                       return redis.call('del', KEYS[1]) else return 0 end";

/// Takes the leader's lease if nobody holds it. True if this node has it now.
pub async fn claim_leader(
    conn: &mut impl ConnectionLike,
    cfg: &ClusterConfig,
) -> redis::RedisResult<bool> {
    let set: Option<String> = redis::cmd("SET")
        .arg(cfg.leader_key())
        .arg(&cfg.node_id)
        .arg("NX")
        .arg("PX")
        .arg(cfg.ttl.as_millis() as u64)
        .query_async(conn)
        .await?;
    Ok(set.is_some())
}

/// Which node holds the leader's lease, if any.
pub async fn leader(
    conn: &mut impl ConnectionLike,
    cfg: &ClusterConfig,
) -> redis::RedisResult<Option<String>> {
    redis::cmd("GET")
        .arg(cfg.leader_key())
        .query_async(conn)
        .await
}

/// Renews this node's lease and, on the leader, the leader's. A leader whose
/// key is gone (Redis restarted empty) takes it again if it is still free.
/// False: this node led, and another holds the leader's lease now.
pub async fn renew(
    conn: &mut impl ConnectionLike,
    cfg: &ClusterConfig,
    leader: bool,
) -> redis::RedisResult<bool> {
    let ttl = cfg.ttl.as_millis() as u64;
    redis::cmd("SET")
        .arg(cfg.node_key(&cfg.node_id))
        .arg(1)
        .arg("PX")
        .arg(ttl)
        .query_async::<()>(conn)
        .await?;
    if leader {
        let renewed: i64 = redis::Script::new(RENEW)
            .key(cfg.leader_key())
            .arg(&cfg.node_id)
            .arg(ttl)
            .invoke_async(conn)
            .await?;
        if renewed == 0 && !claim_leader(conn, cfg).await? {
            tracing::error!(node = %cfg.node_id, "another node holds the leader's lease now; this node stops leading");
            return Ok(false);
        }
    }
    Ok(true)
}

/// Gives the leader's lease and this node's lease back (a clean stop).
pub async fn release(
    conn: &mut impl ConnectionLike,
    cfg: &ClusterConfig,
) -> redis::RedisResult<()> {
    let _: i64 = redis::Script::new(RELEASE)
        .key(cfg.leader_key())
        .arg(&cfg.node_id)
        .invoke_async(conn)
        .await?;
    redis::cmd("DEL")
        .arg(cfg.node_key(&cfg.node_id))
        .query_async::<()>(conn)
        .await
}
