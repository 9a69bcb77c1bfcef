//! Which part this node plays: the only node (a lease on the database), or
//! a node of a cluster (`LIVEDESK_REDIS_URL`): its leader, which decides for
//! all and also holds the database lease, or a node that relays to it.

use std::time::Duration;

use anyhow::Context;

use std::collections::HashMap;

use crate::chat::cluster::{self, Bus, ClusterConfig};
use crate::chat::dispatcher::{Promoter, Promotion};
use crate::chat::StoredAssignments;
use crate::config::Settings;
use crate::domain::Clock;
use crate::domain::{AgentId, Conversation, Visitor};
use crate::metrics::ChatMetrics;
use crate::storage::{agents, conversations};
use crate::storage::{nodes, Backend, Storage};

pub(super) enum NodeRole {
    Only(NodeLease),
    Leader(NodeLease, Bus),
    Relay(Bus),
}

impl NodeRole {
    pub(super) fn lease(&self) -> Option<&NodeLease> {
        match self {
            NodeRole::Only(l) | NodeRole::Leader(l, _) => Some(l),
            NodeRole::Relay(_) => None,
        }
    }
    pub(super) fn bus(&self) -> Option<&Bus> {
        match self {
            NodeRole::Leader(_, b) | NodeRole::Relay(b) => Some(b),
            NodeRole::Only(_) => None,
        }
    }
}

/// What a Desk starts from: the open conversations, and every agent's name.
pub(super) type Seed = (
    Vec<(Conversation, Visitor)>,
    HashMap<AgentId, String>,
    Vec<(crate::domain::RoomId, i64)>,
    HashMap<crate::domain::ConversationId, Vec<crate::chat::protocol::LabelRef>>,
);

/// Reads the Desk's seed (blocking).
pub(super) fn load_seed(storage: &Storage) -> anyhow::Result<Seed> {
    let mut conn = storage.conn()?;
    let open = conversations::list_open(&mut conn)?;
    let names = agents::list(&mut conn)?
        .into_iter()
        .map(|a| (a.id, a.display_name))
        .collect();
    let rooms = crate::storage::rooms::last_seqs(&mut conn)?;
    let ids: Vec<_> = open.iter().map(|(c, _)| c.id).collect();
    let labels = crate::storage::labels::of(&mut conn, &ids)?
        .into_iter()
        .map(|(id, l)| (id, l.iter().map(Into::into).collect()))
        .collect();
    Ok((open, names, rooms, labels))
}

/// How a node that does not lead takes the lead when the leader died: it
/// waits for the dead leader's database lease to run out and takes it (kept
/// renewed from then on), reads the seed, and starts an assignment writer.
pub(super) fn promoter(
    storage: Storage,
    settings: Settings,
    clock: Clock,
    node_id: String,
    metrics: ChatMetrics,
    bus: Bus,
) -> Promoter {
    std::sync::Arc::new(move || {
        let bus = bus.clone();
        let every = Duration::from_millis(settings.node_ttl_secs.max(1) * 1000 / 3);
        let lease = loop {
            match claim_lease(&storage, &settings, &clock, node_id.clone()) {
                Ok(l) => break l,
                Err(e) => {
                    tracing::info!(error = %e, "waiting for the dead leader's database lease to run out");
                    std::thread::sleep(every);
                }
            }
        };
        let (renew_clock, renew_every) = (clock.clone(), every);
        let spawned = std::thread::Builder::new()
            .name("livedesk-lease".into())
            .spawn(move || loop {
                std::thread::sleep(renew_every);
                if !bus.leading() {
                    // Led no longer: the lease goes back to whoever leads now.
                    if let Ok(mut c) = lease.storage.conn() {
                        let _ = nodes::release(&mut c, &lease.node_id);
                    }
                    return;
                }
                let now = renew_clock.now_naive();
                let renewed = lease
                    .storage
                    .conn()
                    .map_err(anyhow::Error::from)
                    .and_then(|mut c| Ok(nodes::renew(&mut c, &lease.node_id, now)?));
                if let Err(e) = renewed {
                    tracing::warn!(error = %e, "could not renew the node lease");
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start renewing the node lease");
        }
        let (open, names, rooms, labels) = loop {
            match load_seed(&storage) {
                Ok(seed) => break seed,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the open conversations yet");
                    std::thread::sleep(every);
                }
            }
        };
        Promotion {
            open,
            names,
            rooms,
            labels,
            assignments: Box::new(StoredAssignments::start(storage.clone(), metrics.clone())),
        }
    })
}

pub(super) fn new_node_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        hex::encode(rand::random::<[u8; 6]>())
    )
}

/// Takes this node's place (after every other start-up check, so a refused
/// start leaves no lease behind).
pub(super) async fn take_role(
    storage: &Storage,
    settings: &Settings,
    clock: &Clock,
) -> anyhow::Result<NodeRole> {
    let node_id = new_node_id();
    let db_lease = |node_id: String| {
        let (storage, settings, clock) = (storage.clone(), settings.clone(), clock.clone());
        tokio::task::spawn_blocking(move || claim_lease(&storage, &settings, &clock, node_id))
    };
    let Some(url) = &settings.redis_url else {
        return Ok(NodeRole::Only(db_lease(node_id).await??));
    };
    let backend = storage.run(|c| Ok(c.backend())).await?;
    anyhow::ensure!(
        backend == Backend::Postgres,
        "a cluster (LIVEDESK_REDIS_URL) needs PostgreSQL: every node must read and write one \
         database, which an SQLite file on one machine cannot be. Set LIVEDESK_DATABASE_URL to \
         a postgres:// URL, or unset LIVEDESK_REDIS_URL to run one node."
    );
    let cfg = ClusterConfig {
        redis_url: url.expose().to_owned(),
        name: settings.cluster.clone(),
        node_id: node_id.clone(),
        ttl: Duration::from_secs(settings.node_ttl_secs.max(1)),
    };
    let client = redis::Client::open(cfg.redis_url.as_str())
        .context("LIVEDESK_REDIS_URL is not a Redis URL")?;
    let mut conn = tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| anyhow::anyhow!("Redis (LIVEDESK_REDIS_URL) did not answer within 5 s"))?
    .context("cannot reach Redis (LIVEDESK_REDIS_URL)")?;
    cluster::lease::renew(&mut conn, &cfg, false).await?;
    if !cluster::lease::claim_leader(&mut conn, &cfg).await? {
        tracing::info!(node = %node_id, cluster = %cfg.name, "joining the cluster; another node leads");
        return Ok(NodeRole::Relay(Bus::start(cfg, false)?));
    }
    tracing::info!(node = %node_id, cluster = %cfg.name, "leading the cluster");
    match db_lease(node_id).await? {
        Ok(lease) => Ok(NodeRole::Leader(lease, Bus::start(cfg, true)?)),
        Err(e) => {
            let _ = cluster::lease::release(&mut conn, &cfg).await;
            Err(e)
        }
    }
}

/// Gives the cluster leases back (a clean stop), so the next leader need not wait.
pub(super) async fn leave_cluster(bus: &Bus) {
    let cfg = bus.config().clone();
    let r = async {
        let client = redis::Client::open(cfg.redis_url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        cluster::lease::release(&mut conn, &cfg).await
    };
    if let Err(e) = tokio::time::timeout(Duration::from_secs(2), r)
        .await
        .unwrap_or(Ok(()))
    {
        tracing::warn!(error = %e, "could not give the cluster leases back; they expire by themselves");
    }
}

/// This node's claim on the database (see `storage::nodes`).
#[derive(Clone)]
pub(super) struct NodeLease {
    pub(super) storage: Storage,
    pub(super) node_id: String,
}

/// Takes the node lease or explains who holds it (blocking: call off the async workers).
pub(super) fn claim_lease(
    storage: &Storage,
    settings: &Settings,
    clock: &Clock,
    node_id: String,
) -> anyhow::Result<NodeLease> {
    let ttl = chrono::Duration::seconds(settings.node_ttl_secs.max(1) as i64);
    match nodes::claim(&mut *storage.conn()?, &node_id, clock.now_naive(), ttl)? {
        Ok(()) => Ok(NodeLease {
            storage: storage.clone(),
            node_id,
        }),
        Err(live) => anyhow::bail!(
            "another livedesk node ({}) is serving from this database (last seen {} UTC). \
             Two nodes on one database would each hand out the same conversations, so this \
             one does not start. Stop the other node, or wait {} s after it died. Several \
             nodes serve one database as a cluster: set LIVEDESK_REDIS_URL on each.",
            live.node_id,
            live.heartbeat_at.format("%Y-%m-%d %H:%M:%S"),
            settings.node_ttl_secs
        ),
    }
}

/// Stops a background task when dropped (an Application built but never run
/// must not keep renewing a lease nobody serves under).
pub(super) struct StopOnDrop(tokio::task::AbortHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the lease every third of its time to live, until stopped.
/// In a cluster (`leading`), only while this node leads: a node that stops
/// leading gives the lease back, so the new leader need not wait for it.
pub(super) fn spawn_lease_renewal(
    lease: NodeLease,
    clock: Clock,
    ttl_secs: u64,
    leading: Option<Bus>,
) -> StopOnDrop {
    let task = tokio::spawn(async move {
        let every = std::time::Duration::from_millis(ttl_secs.max(1) * 1000 / 3);
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if leading.as_ref().is_some_and(|b| !b.leading()) {
                let node = lease.node_id.clone();
                let _ = lease.storage.run(move |c| nodes::release(c, &node)).await;
                return;
            }
            let (node, now) = (lease.node_id.clone(), clock.now_naive());
            match lease.storage.run(move |c| nodes::renew(c, &node, now)).await {
                Ok(true) => {}
                Ok(false) => tracing::error!(
                    node_id = %lease.node_id,
                    "this node's lease was taken over (it stalled longer than LIVEDESK_NODE_TTL_SECS)"
                ),
                Err(e) => tracing::warn!(error = %e, "could not renew the node lease"),
            }
        }
    })
    .abort_handle();
    StopOnDrop(task)
}
