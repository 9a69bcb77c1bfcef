//! Builds the application: database and migrations, first admin, session key,
//! HTTP server. `main` and the tests both go through `Application::build`.

use std::net::TcpListener;
use std::time::Duration;

use actix_session::{
    config::{PersistentSession, TtlExtensionPolicy},
    SessionMiddleware,
};
use actix_web::{cookie::Key, cookie::SameSite, dev::Server, middleware, web, App};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::chat::{ChatContext, Dispatcher, DispatcherConfig, SocketConfig, StoredAssignments};
use crate::config::Settings;
use crate::domain::{password, Clock, Role};
use crate::metrics::{self, Metrics};
use crate::storage::{
    agents, migrations, nodes, sessions, settings as kv, DatabaseUrl, Storage, StorageError,
};
use crate::web::conn::Admission;
use crate::web::{error::error_pages, session::DbSessionStore, AppState, LoginPolicy};

mod lease;
mod serve;
use lease::{spawn_lease_renewal, NodeRole, StopOnDrop};

pub use actix_web::dev::ServerHandle;

pub struct Application {
    port: u16,
    server: Server,
    /// This node's place: its lease on the database (given back when it
    /// stops), its cluster link.
    role: NodeRole,
    renewal: Option<StopOnDrop>,
    dispatcher: actix::Addr<Dispatcher>,
    dispatcher_system: actix::System,
    webhooks_system: actix::System,
    /// Set when this start created the first admin (for printing once).
    pub first_admin: Option<FirstAdmin>,
}

#[derive(Debug, Clone)]
pub struct FirstAdmin {
    pub username: String,
    /// The generated password; `None` when it came from LIVEDESK_ADMIN_PASSWORD.
    pub generated_password: Option<String>,
}

/// Opens the pool and applies pending migrations (both blocking: call off the async workers).
pub fn open_storage(settings: &Settings) -> anyhow::Result<Storage> {
    let url = DatabaseUrl::parse(settings.database_url.expose())?;
    if let Err(e) = url.check_writable() {
        use std::io::ErrorKind::{PermissionDenied, ReadOnlyFilesystem};
        if matches!(e.kind(), PermissionDenied | ReadOnlyFilesystem) {
            anyhow::bail!(
                "the database {} is read-only ({e}): livedesk must be able to write \
                 to the file and to its folder",
                url.describe()
            );
        }
    }
    let storage = Storage::connect(&url, settings.db_pool_size)
        .with_context(|| format!("cannot open the database {}", url.describe()))?;
    let applied = migrations::run_pending(&mut *storage.conn()?)?;
    if !applied.is_empty() {
        tracing::info!(?applied, database = %url.describe(), "migrations applied");
    }
    Ok(storage)
}

/// Creates the user `admin` when there are no agents at all.
pub fn bootstrap_admin(
    storage: &Storage,
    settings: &Settings,
    clock: &Clock,
) -> anyhow::Result<Option<FirstAdmin>> {
    let mut conn = storage.conn()?;
    if agents::count(&mut conn)? > 0 {
        return Ok(None);
    }
    let (pw, generated) = match &settings.admin_password {
        Some(p) => (p.expose().to_owned(), false),
        None => {
            let p = password::generate_password();
            (p.clone(), true)
        }
    };
    crate::domain::NewPassword::parse(&pw)
        .context("LIVEDESK_ADMIN_PASSWORD must be 8-128 characters")?;
    let hash = password::hash_password(&pw);
    let new = agents::NewAgent {
        username: "admin",
        display_name: "Admin",
        password_hash: &hash,
        role: Role::Admin,
    };
    match agents::insert(&mut conn, &new, clock.now_naive()) {
        Ok(_) => Ok(Some(FirstAdmin {
            username: "admin".into(),
            generated_password: generated.then_some(pw),
        })),
        // Another node created it at the same moment.
        Err(StorageError::Conflict) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The cookie key: from the setting, or generated once and kept in the database.
fn session_key(storage: &Storage, settings: &Settings) -> anyhow::Result<Key> {
    if let Some(secret) = &settings.session_secret {
        anyhow::ensure!(
            secret.expose().len() >= 32,
            "LIVEDESK_SESSION_SECRET must be at least 32 bytes long"
        );
        return Ok(Key::derive_from(secret.expose().as_bytes()));
    }
    let fresh = hex::encode(rand::random::<[u8; 64]>());
    let stored = kv::get_or_insert(&mut *storage.conn()?, "session_key", &fresh)?;
    let bytes = hex::decode(stored).context("stored session key is not hex")?;
    anyhow::ensure!(bytes.len() >= 64, "stored session key is too short");
    Ok(Key::from(&bytes))
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::default()).await
    }

    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let (storage, first_admin, key, open, names, rooms, labels) = {
            let (settings, clock) = (settings.clone(), clock.clone());
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let storage = open_storage(&settings)?;
                let first = bootstrap_admin(&storage, &settings, &clock)?;
                let key = session_key(&storage, &settings)?;
                let (open, names, rooms, labels) = lease::load_seed(&storage)?;
                Ok((storage, first, key, open, names, rooms, labels))
            })
            .await??
        };
        let role = lease::take_role(&storage, &settings, &clock).await?;
        let hours = storage.run(crate::storage::policies::hours).await?;

        if settings.test_captcha.is_some() {
            tracing::warn!(
                "!!! LIVEDESK_TEST_CAPTCHA is set: every captcha has a fixed, known answer. \
                 This is for automated tests only; never run production like this. !!!"
            );
        }

        let listener = match TcpListener::bind(&settings.bind) {
            Ok(l) => l,
            Err(e) => {
                // Not started after all: the leases go back at once.
                if let Some(l) = role.lease().cloned() {
                    let _ = storage.run(move |c| nodes::release(c, &l.node_id)).await;
                }
                if let Some(bus) = role.bus() {
                    lease::leave_cluster(bus).await;
                }
                return Err(e).with_context(|| format!("cannot listen on {}", settings.bind));
            }
        };
        let port = listener.local_addr()?.port();
        let file_store =
            crate::storage::files::FileStore::open(&settings.data_dir).with_context(|| {
                format!(
                    "cannot use the data directory {}",
                    settings.data_dir.display()
                )
            })?;

        let metrics = Metrics::new();
        let desk = DispatcherConfig {
            strategy: settings.assignment,
            grace: Duration::from_secs(settings.agent_grace_secs),
            gap_wait: Duration::from_secs(2),
        };
        let dispatcher = match &role {
            NodeRole::Relay(bus) => Dispatcher::relay(
                bus.clone(),
                desk,
                clock.clone(),
                metrics.chat.clone(),
                lease::promoter(
                    storage.clone(),
                    settings.clone(),
                    clock.clone(),
                    bus.config().node_id.clone(),
                    metrics.chat.clone(),
                    bus.clone(),
                ),
            )
            .with_insight(storage.clone(), hours),
            NodeRole::Only(_) | NodeRole::Leader(..) => Dispatcher::new(
                desk,
                clock.clone(),
                Box::new(StoredAssignments::start(
                    storage.clone(),
                    metrics.chat.clone(),
                )),
                metrics.chat.clone(),
                open,
                names,
                role.bus().cloned(),
            )
            .with_seed(rooms, labels)
            .with_insight(storage.clone(), hours),
        };
        let (dispatcher, dispatcher_system) = dispatcher.start_on_own_thread();
        let webhooks_system = crate::webhooks::start(
            storage.clone(),
            clock.clone(),
            crate::webhooks::WebhookConfig {
                allow_private: settings.webhook_allow_private,
                retry_for: Duration::from_secs(settings.webhook_retry_hours * 3600),
                timeout: Duration::from_secs(settings.webhook_timeout_secs.max(1)),
            },
        );
        let agent_sockets = std::sync::Arc::new(crate::chat::hub::AgentSockets::default());
        let chat = web::Data::new(ChatContext {
            storage: storage.clone(),
            writer: crate::storage::writer::MessageWriter::start(
                storage.clone(),
                clock.clone(),
                (
                    settings.write_batch,
                    Duration::from_micros(settings.write_window_us),
                ),
                crate::storage::writer::Waiting::new(
                    settings.write_queue,
                    (settings.write_wait_ms > 0)
                        .then(|| Duration::from_millis(settings.write_wait_ms)),
                ),
            ),
            arrivals: crate::storage::writer::ArrivalWriter::start(
                storage.clone(),
                clock.clone(),
                settings.write_batch,
                Duration::from_micros(settings.write_window_us),
            ),
            opens: crate::storage::writer::OpenWriter::start(
                storage.clone(),
                clock.clone(),
                settings.write_batch,
                Duration::from_micros(settings.write_window_us),
            ),
            dispatcher: dispatcher.clone(),
            metrics: metrics.chat.clone(),
            clock: clock.clone(),
            sockets: SocketConfig {
                ping_interval: Duration::from_secs(settings.ws_ping_secs.max(1)),
                timeout: Duration::from_secs(settings.ws_timeout_secs.max(2)),
                rate: settings.ws_rate,
                burst: settings.ws_burst,
            },
            agent_sockets: agent_sockets.clone(),
            visitor_limits: crate::chat::limits::VisitorLimits::new(
                settings.visitor_sockets_per_ip,
                settings.new_conversations_per_ip,
            ),
            notices: Default::default(),
            agent_capacity: settings.agent_capacity,
            identity_required: settings.identity_required,
        });
        let state = web::Data::new(AppState {
            storage: storage.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
            login: LoginPolicy {
                max_failures: settings.login_max_failures,
                window: chrono::Duration::seconds(settings.login_window_secs.into()),
                captcha_ttl: chrono::Duration::seconds(settings.captcha_ttl_secs.into()),
                test_captcha: settings
                    .test_captcha
                    .as_ref()
                    .map(|s| s.expose().to_owned()),
            },
            proxy: proxy_policy(&settings),
            metrics_token: settings.metrics_token.clone(),
            agent_sockets,
            dispatcher: dispatcher.clone(),
            cluster: role.bus().cloned(),
            hasher: crate::web::hashing::Hasher::for_this_machine(),
            uploads: crate::web::files::Uploads {
                store: file_store,
                max_bytes: settings.upload_max_bytes,
                allowed: crate::domain::attachment::Allowed::parse(&settings.upload_types),
                per_visitor: crate::chat::limits::PerMinute::new(settings.uploads_per_minute),
            },
            identity_required: settings.identity_required,
            webhook_allow_private: settings.webhook_allow_private,
        });
        let api_limits = web::Data::new(crate::web::api::ApiLimits::new(
            settings.api_rate,
            settings.api_burst,
        ));
        let api_doc = web::Data::new(crate::web::api::OpenApiJson(crate::web::api::document()));
        let metrics_data = web::Data::new(metrics);
        let store = DbSessionStore::new(storage.clone(), clock.clone());
        let secure = settings.secure_cookies;
        let stuck_after = Duration::from_secs(settings.ws_timeout_secs.max(2));
        let ttl = actix_web::cookie::time::Duration::minutes(settings.session_ttl_minutes.into());

        spawn_search_index_upkeep(storage.clone());
        spawn_session_sweeper(storage, clock.clone());
        let renewal = role.lease().map(|l| {
            spawn_lease_renewal(
                l.clone(),
                clock,
                settings.node_ttl_secs,
                role.bus().cloned(),
            )
        });

        let admission = Admission {
            places: crate::chat::limits::Places::new(settings.connections_per_ip),
            proxy: proxy_policy(&settings),
            stuck_after,
        };
        let app = move || {
            let sessions = SessionMiddleware::builder(store.clone(), key.clone())
                .cookie_name("livedesk_session".into())
                .cookie_secure(secure)
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .session_lifecycle(
                    PersistentSession::default()
                        .session_ttl(ttl)
                        .session_ttl_extension_policy(TtlExtensionPolicy::OnEveryRequest),
                )
                .build();
            let (app, _) = crate::web::api::mount(App::new());
            app.app_data(state.clone())
                .app_data(metrics_data.clone())
                .app_data(chat.clone())
                .app_data(api_limits.clone())
                .app_data(api_doc.clone())
                // Inner to outer: error pages see every handler's response;
                // sessions wrap them (a session store failure surfaces as a
                // plain 5xx, counted by the metrics middleware).
                .wrap(middleware::from_fn(crate::web::error::while_database_down))
                .wrap(middleware::from_fn(error_pages))
                .wrap(sessions)
                .wrap(security_headers(secure))
                .wrap(middleware::from_fn(metrics::track))
                .wrap(TracingLogger::default())
                .configure(crate::web::routes)
        };
        let server = serve::serve(listener, settings.workers, admission, app)?;
        Ok(Self {
            port,
            server,
            role,
            renewal,
            dispatcher,
            dispatcher_system,
            webhooks_system,
            first_admin,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The node's Dispatcher (tests read its counts).
    pub fn dispatcher(&self) -> actix::Addr<Dispatcher> {
        self.dispatcher.clone()
    }

    /// Stops the server from outside (tests; a signal stops it too).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.dispatcher_system.stop();
        self.webhooks_system.stop();
        // A clean stop gives the leases back: the next node may start at once.
        drop(self.renewal);
        if let Some(bus) = self.role.bus() {
            lease::leave_cluster(bus).await;
        }
        if let Some(lease) = self.role.lease().cloned() {
            let released = lease
                .storage
                .run(move |c| nodes::release(c, &lease.node_id))
                .await;
            if let Err(e) = released {
                tracing::warn!(error = %e, "could not release the node lease; it expires by itself");
            }
        }
        result
    }
}

/// Headers on every response; HSTS only when served over HTTPS (secure cookies).
fn security_headers(https: bool) -> middleware::DefaultHeaders {
    let h = middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"));
    if https {
        h.add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        h
    }
}

/// PostgreSQL: keeps the search index's pending list short, every second
/// (`archive::tidy_search_index`: the write path never merges it).
fn spawn_search_index_upkeep(storage: Storage) {
    if storage.backend() != crate::storage::Backend::Postgres {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let tidied = storage
                .run(crate::storage::archive::tidy_search_index)
                .await;
            if let Err(e) = tidied {
                tracing::debug!(error = %e, "search index upkeep skipped");
            }
        }
    });
}

/// Deletes expired sessions every ten minutes.
fn spawn_session_sweeper(storage: Storage, clock: Clock) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            let now = clock.now_naive();
            if let Err(e) = storage.run(move |c| sessions::purge_expired(c, now)).await {
                tracing::warn!(error = %e, "session sweep failed");
            }
        }
    });
}

fn proxy_policy(settings: &Settings) -> crate::web::proxy::ProxyPolicy {
    crate::web::proxy::ProxyPolicy {
        trust_peer: settings.trust_proxy,
        trusted: settings.trusted_proxies.clone(),
    }
}
