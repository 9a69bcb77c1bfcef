//! The real-time core: one actor per socket (`VisitorSession`, `AgentSession`)
//! and one `Dispatcher` per node.

pub mod agent_session;
pub mod assignment;
pub mod dispatcher;
pub mod messages;
pub mod protocol;
pub mod ratelimit;
pub mod socket;
pub mod visitor_session;

use std::time::Duration;

use actix::Addr;

use crate::domain::Clock;
use crate::metrics::ChatMetrics;
use crate::storage::Storage;
pub use dispatcher::{Dispatcher, DispatcherConfig, Persister};

#[derive(Debug, Clone)]
pub struct SocketConfig {
    pub ping_interval: Duration,
    pub timeout: Duration,
    /// Client frames per second allowed on one socket, on average…
    pub rate: u32,
    /// …and in a burst.
    pub burst: u32,
}

/// What every session actor needs: storage, the Dispatcher, metrics, settings.
pub struct ChatContext {
    pub storage: Storage,
    /// Where messages are stored (group commit when the batch size is above 1).
    pub writer: crate::storage::writer::MessageWriter,
    pub dispatcher: Addr<Dispatcher>,
    pub metrics: ChatMetrics,
    pub clock: Clock,
    pub sockets: SocketConfig,
}
