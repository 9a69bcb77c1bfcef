//! What every HTTP worker shares: storage, clock, metrics, policies, and
//! the Dispatcher's address. Read-only; built once in `startup.rs`.

use chrono::Duration;

use crate::domain::Clock;
use crate::metrics::Metrics;
use crate::storage::Storage;

/// Shared, read-only state of the HTTP workers.
pub struct AppState {
    pub storage: Storage,
    pub clock: Clock,
    pub metrics: Metrics,
    pub login: LoginPolicy,
    pub proxy: super::proxy::ProxyPolicy,
    /// Bearer token /metrics asks for; `None`: metrics are public.
    pub metrics_token: Option<crate::config::Secret>,
    pub dispatcher: actix::Addr<crate::chat::Dispatcher>,
    /// This node's cluster link (`LIVEDESK_REDIS_URL`), for `/healthz`.
    pub cluster: Option<crate::chat::cluster::Bus>,
    /// This node's agent sockets, closed when their session ends or narrows.
    pub agent_sockets: std::sync::Arc<crate::chat::hub::AgentSockets>,
    /// Password hashing, a few at a time.
    pub hasher: super::hashing::Hasher,
    /// Uploaded files: where, how large, which types, how often.
    pub uploads: super::files::Uploads,
    /// Visitors must prove who they are (`LIVEDESK_IDENTITY_REQUIRED`).
    pub identity_required: bool,
    /// Webhook endpoints may be internal addresses (`LIVEDESK_WEBHOOK_ALLOW_PRIVATE`).
    pub webhook_allow_private: bool,
}

#[derive(Debug, Clone)]
pub struct LoginPolicy {
    pub max_failures: u32,
    pub window: Duration,
    pub captcha_ttl: Duration,
    /// Fixed captcha answer for automated tests; never set in production.
    pub test_captcha: Option<String>,
}
