//! Several nodes as one service (`LIVEDESK_REDIS_URL`). One node, the
//! leader, runs the Dispatcher's rules for the whole cluster; every node
//! holds its own sockets and relays their calls to the leader and the
//! leader's frames to them, over Redis. Why one decider rather than one per
//! node sharing state: docs/architecture.md.

pub mod bus;
pub mod lease;
pub mod wire;

use std::time::Duration;

pub use bus::{Bus, Inbound};

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub redis_url: String,
    /// Prefixes every key and channel (`LIVEDESK_CLUSTER`).
    pub name: String,
    /// This node's id: random, new at each start.
    pub node_id: String,
    /// A lease not renewed for this long has run out.
    pub ttl: Duration,
}

impl ClusterConfig {
    pub fn leader_key(&self) -> String {
        format!("{}:leader", self.name)
    }
    pub fn node_key(&self, node: &str) -> String {
        format!("{}:node:{node}", self.name)
    }
    pub fn leader_channel(&self) -> String {
        format!("{}:calls", self.name)
    }
    pub fn node_channel(&self, node: &str) -> String {
        format!("{}:to:{node}", self.name)
    }
}
