//! Every setting: its flag, its `LIVEDESK_*` variable and its default, in one place.

use std::fmt;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A value that must never reach a log line or a `Debug` dump.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "livedesk",
    version,
    about = "Open-source customer-service live chat"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    /// What to do; without a command livedesk serves.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage agent accounts.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Manage team rooms (dashboards that are open learn of a change when
    /// they next reconnect; messages follow the new membership at once).
    #[command(subcommand)]
    Room(RoomCommand),
}

#[derive(Debug, Subcommand)]
pub enum RoomCommand {
    /// Create a room.
    Add {
        name: String,
        /// A member's username (repeat for more).
        #[arg(long = "member")]
        members: Vec<String>,
        #[arg(long)]
        topic: Option<String>,
    },
    /// List rooms and their members.
    List,
    /// Add an agent to a room.
    AddMember { name: String, username: String },
    /// Remove an agent from a room.
    RemoveMember { name: String, username: String },
    /// Delete a room and its messages.
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent. The password is read from standard input with
    /// --password-stdin, otherwise generated and printed once.
    Add {
        username: String,
        /// Display name shown to visitors (defaults to the username).
        #[arg(long)]
        name: Option<String>,
        /// Make the account an admin.
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (from standard input with --password-stdin, otherwise generated and printed).
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account: it can no longer log in and its sessions end.
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
    /// List all accounts.
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address and port to listen on.
    #[arg(long, env = "LIVEDESK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// `sqlite://PATH` (the default, a file under ./data/) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "LIVEDESK_DATABASE_URL",
        default_value = "sqlite://data/livedesk.sqlite3",
        hide_env_values = true
    )]
    pub database_url: Secret,

    /// Database connections per node.
    #[arg(long, env = "LIVEDESK_DB_POOL_SIZE", default_value_t = 10)]
    pub db_pool_size: u32,

    /// Key for session cookies (at least 32 bytes). Unset: one is generated on
    /// first start and kept in the database, so sessions survive restarts.
    #[arg(long, env = "LIVEDESK_SESSION_SECRET", hide_env_values = true)]
    pub session_secret: Option<Secret>,

    /// How long an idle agent session lasts, in minutes.
    #[arg(long, env = "LIVEDESK_SESSION_TTL_MINUTES", default_value_t = 720)]
    pub session_ttl_minutes: u32,

    /// Mark cookies `Secure`: set this when livedesk is served over HTTPS.
    #[arg(long, env = "LIVEDESK_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Behind one reverse proxy: the client IP is the right-most `X-Forwarded-For`
    /// entry (the one the proxy appended); entries left of it are the client's own words.
    #[arg(long, env = "LIVEDESK_TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,

    /// Addresses or networks of your reverse proxies, comma-separated
    /// (`10.0.0.0/8,::1`): when the peer is one, the client IP is the right-most
    /// `X-Forwarded-For` entry that is not one of them.
    #[arg(long, env = "LIVEDESK_TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::web::proxy::parse_trusted)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Bearer token that `GET /metrics` requires (`Authorization: Bearer …`).
    /// Unset: /metrics is public, so keep it off the internet at the proxy.
    #[arg(long, env = "LIVEDESK_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,

    /// Password of the first admin, used only when the database has no agents yet.
    /// Unset: one is generated and printed once.
    #[arg(long, env = "LIVEDESK_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,

    /// Failed logins allowed per IP and per username within the window.
    #[arg(long, env = "LIVEDESK_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,

    /// Length of the failed-login window, in seconds.
    #[arg(long, env = "LIVEDESK_LOGIN_WINDOW_SECS", default_value_t = 900)]
    pub login_window_secs: u32,

    /// How long a captcha stays valid, in seconds.
    #[arg(long, env = "LIVEDESK_CAPTCHA_TTL_SECS", default_value_t = 300)]
    pub captcha_ttl_secs: u32,

    /// FOR AUTOMATED TESTS ONLY: every captcha's answer becomes this value.
    #[arg(long, env = "LIVEDESK_TEST_CAPTCHA", hide_env_values = true)]
    pub test_captcha: Option<Secret>,

    /// Open conversations an agent may have at once, unless an admin set its
    /// own (0: no limit). New conversations skip agents at capacity.
    #[arg(long, env = "LIVEDESK_AGENT_CAPACITY", default_value_t = 0)]
    pub agent_capacity: u32,

    /// How a new conversation picks its agent.
    #[arg(long, env = "LIVEDESK_ASSIGNMENT", value_enum, default_value_t = crate::domain::Strategy::Random)]
    pub assignment: crate::domain::Strategy,

    /// A node that has not renewed its lease for this long is taken for dead
    /// (renewed every third of it): its lease on the database, and in a
    /// cluster its lease in Redis (its sockets count as gone with it).
    #[arg(long, env = "LIVEDESK_NODE_TTL_SECS", default_value_t = 10)]
    pub node_ttl_secs: u64,

    /// Redis, for several nodes as one service (PostgreSQL only). Unset: this
    /// node is the only one, and needs no Redis.
    #[arg(long, env = "LIVEDESK_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,

    /// Prefix of every Redis key and channel of this cluster, so several
    /// clusters (or test runs) can share one Redis server.
    #[arg(long, env = "LIVEDESK_CLUSTER", default_value = "livedesk")]
    pub cluster: String,

    /// Seconds an agent may be gone (all sockets closed) before its conversations move to others.
    #[arg(long, env = "LIVEDESK_AGENT_GRACE_SECS", default_value_t = 15)]
    pub agent_grace_secs: u64,

    /// Seconds between WebSocket pings.
    #[arg(long, env = "LIVEDESK_WS_PING_SECS", default_value_t = 10)]
    pub ws_ping_secs: u64,

    /// Seconds of silence after which a WebSocket is dropped.
    #[arg(long, env = "LIVEDESK_WS_TIMEOUT_SECS", default_value_t = 30)]
    pub ws_timeout_secs: u64,

    /// Frames per second one socket may send on average…
    #[arg(long, env = "LIVEDESK_WS_RATE", default_value_t = 10)]
    pub ws_rate: u32,

    /// …and in a burst; the excess gets `error {code: "rate_limited"}`.
    #[arg(long, env = "LIVEDESK_WS_BURST", default_value_t = 20)]
    pub ws_burst: u32,

    /// TCP connections one peer address may hold open at once, of any kind
    /// (0: no limit). Trusted proxies are not counted.
    #[arg(long, env = "LIVEDESK_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub connections_per_ip: usize,

    /// Visitor sockets one client address may hold open at once (0: no limit).
    #[arg(long, env = "LIVEDESK_VISITOR_SOCKETS_PER_IP", default_value_t = 50)]
    pub visitor_sockets_per_ip: usize,

    /// New conversations one client address may open per minute (0: no limit).
    #[arg(long, env = "LIVEDESK_NEW_CONVERSATIONS_PER_IP", default_value_t = 20)]
    pub new_conversations_per_ip: usize,

    /// Messages stored per transaction at most (group commit; on PostgreSQL new
    /// visitors are batched the same way); 1 stores each on its own.
    #[arg(long, env = "LIVEDESK_WRITE_BATCH", default_value_t = 256)]
    pub write_batch: usize,

    /// How long a writer waits for more messages (or new visitors) to join a batch, in microseconds.
    #[arg(long, env = "LIVEDESK_WRITE_WINDOW_US", default_value_t = 500)]
    pub write_window_us: u64,

    /// HTTP worker threads (0: one per CPU core).
    #[arg(long, env = "LIVEDESK_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Log filter, e.g. `info` or `livedesk=debug,actix_web=info`.
    #[arg(long, env = "LIVEDESK_LOG", default_value = "info")]
    pub log: String,

    /// Where uploaded files are kept (`files/` by SHA-256). Nodes of a
    /// cluster must share it (one volume).
    #[arg(long, env = "LIVEDESK_DATA_DIR", default_value = "data")]
    pub data_dir: std::path::PathBuf,

    /// Largest upload accepted, in bytes.
    #[arg(long, env = "LIVEDESK_UPLOAD_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub upload_max_bytes: u64,

    /// File types accepted, by the type found in their bytes: `type/sub` or `type/*`, comma-separated.
    #[arg(long, env = "LIVEDESK_UPLOAD_TYPES", default_value = crate::domain::attachment::DEFAULT_TYPES)]
    pub upload_types: String,

    /// Uploads one visitor may make per minute (0: no limit).
    #[arg(long, env = "LIVEDESK_UPLOADS_PER_MINUTE", default_value_t = 20)]
    pub uploads_per_minute: usize,

    /// Messages taken and not yet answered, at most; past it a message is
    /// refused at once with `unavailable` (the client sends it again). 0: no limit.
    #[arg(long, env = "LIVEDESK_WRITE_QUEUE", default_value_t = 2048)]
    pub write_queue: usize,

    /// Longest a taken message should wait for its answer, in ms: past what
    /// the node answers in this time at its current pace, new messages are
    /// refused at once with `unavailable`. 0: no such limit.
    #[arg(long, env = "LIVEDESK_WRITE_WAIT_MS", default_value_t = 100)]
    pub write_wait_ms: u64,

    /// Log line format.
    #[arg(long, env = "LIVEDESK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Every visitor must prove who they are: a `hello` without an
    /// identifier signed with the site's secret is refused (`identity_invalid`).
    #[arg(long, env = "LIVEDESK_IDENTITY_REQUIRED", default_value_t = false)]
    pub identity_required: bool,

    /// REST API requests per second one token may make on average…
    #[arg(long, env = "LIVEDESK_API_RATE", default_value_t = 20)]
    pub api_rate: u32,

    /// …and in a burst; the excess gets 429 `rate_limited`.
    #[arg(long, env = "LIVEDESK_API_BURST", default_value_t = 40)]
    pub api_burst: u32,

    /// Webhooks may go to loopback, private and link-local addresses
    /// (refused by default: an endpoint must not reach inside your network).
    #[arg(long, env = "LIVEDESK_WEBHOOK_ALLOW_PRIVATE", default_value_t = false)]
    pub webhook_allow_private: bool,

    /// A webhook delivery that keeps failing is tried again for this many hours, then marked failed.
    #[arg(long, env = "LIVEDESK_WEBHOOK_RETRY_HOURS", default_value_t = 24)]
    pub webhook_retry_hours: u64,

    /// How long one webhook request may take, in seconds.
    #[arg(long, env = "LIVEDESK_WEBHOOK_TIMEOUT_SECS", default_value_t = 10)]
    pub webhook_timeout_secs: u64,
}

impl Settings {
    /// Settings as the defaults give them, for tests and embedding.
    pub fn defaults() -> Self {
        Cli::parse_from(["livedesk"]).settings
    }
}
