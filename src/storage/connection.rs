//! The backend is chosen from the URL scheme by our own r2d2 manager: diesel's
//! `MultiConnection::establish` would try PostgreSQL and then silently treat
//! any string as an SQLite path.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};

use super::circuit::{Admit, Circuit};
use super::{StorageError, StorageResult};
use crate::config::Secret;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Pg(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("unsupported database URL scheme '{0}': use sqlite://PATH or postgres://USER@HOST/DB")]
    UnknownScheme(String),
    #[error("database URL has no scheme: use sqlite://PATH or postgres://USER@HOST/DB")]
    NoScheme,
    #[error("sqlite URL has an empty path")]
    EmptyPath,
}

/// A parsed database location. For SQLite `target` is the file path.
#[derive(Debug, Clone)]
pub struct DatabaseUrl {
    pub backend: Backend,
    target: Secret,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = raw.split_once(':').ok_or(UrlError::NoScheme)?;
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(Self {
                backend: Backend::Postgres,
                target: Secret::new(raw),
            }),
            "sqlite" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(UrlError::EmptyPath);
                }
                Ok(Self {
                    backend: Backend::Sqlite,
                    target: Secret::new(path),
                })
            }
            "" => Err(UrlError::NoScheme),
            other => Err(UrlError::UnknownScheme(other.to_owned())),
        }
    }

    /// A form safe to print: the SQLite path, or the PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target.expose()),
            Backend::Postgres => match url::Url::parse(self.target.expose()) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    u.to_string()
                }
                Err(_) => "postgres://(unparsable)".into(),
            },
        }
    }

    /// SQLite writes the file and, beside it, its journal: `Err` when either
    /// cannot be written (a read-only filesystem or file or folder), which
    /// the pool would only report as a failure to connect.
    pub fn check_writable(&self) -> std::io::Result<()> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        let path = std::path::Path::new(self.target.expose());
        if path.exists() {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)?;
        }
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = dir.unwrap_or(std::path::Path::new("."));
        if dir.is_dir() {
            let probe = dir.join(format!(".livedesk-write-check-{}", std::process::id()));
            std::fs::File::create(&probe)?;
            std::fs::remove_file(&probe)?;
        }
        Ok(())
    }

    pub fn establish(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match self.backend {
            Backend::Postgres => {
                PgConnection::establish(self.target.expose()).map(DbConnection::Pg)
            }
            Backend::Sqlite => {
                let path = std::path::Path::new(self.target.expose());
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        diesel::ConnectionError::BadConnection(format!(
                            "cannot create {}: {e}",
                            dir.display()
                        ))
                    })?;
                }
                let mut conn = SqliteConnection::establish(self.target.expose())?;
                // WAL lets readers run beside the writer; busy_timeout makes a
                // second writer wait instead of failing at once.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

pub struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.url.establish().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

pub type DbPool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// The pool plus the way to use it from async code without blocking a worker.
#[derive(Clone)]
pub struct Storage {
    pool: DbPool,
    backend: Backend,
    circuit: std::sync::Arc<Circuit>,
}

/// How long a caller waits for a connection when every one is busy.
const CHECKOUT_WAIT: Duration = Duration::from_secs(5);
/// …in steps this long, so that an outage found meanwhile ends the wait.
const CHECKOUT_STEP: Duration = Duration::from_millis(250);

/// Every failed attempt to connect opens the circuit.
#[derive(Debug)]
struct OpenOnFailure(std::sync::Arc<Circuit>);

impl r2d2::HandleError<r2d2::Error> for OpenOnFailure {
    fn handle_error(&self, error: r2d2::Error) {
        tracing::debug!(%error, "connecting to the database failed");
        self.0.failed(Instant::now());
    }
}

impl Storage {
    pub fn connect(url: &DatabaseUrl, pool_size: u32) -> StorageResult<Self> {
        let circuit = std::sync::Arc::new(Circuit::default());
        let pool = r2d2::Pool::builder()
            .error_handler(Box::new(OpenOnFailure(circuit.clone())))
            .max_size(pool_size.max(1))
            // Connections open on demand only. An idle minimum makes r2d2 open
            // replacements on a background thread, and a process that exits
            // while libpq is connecting there can crash in OpenSSL's exit handlers.
            .min_idle(Some(0))
            .connection_timeout(CHECKOUT_WAIT)
            .build(Manager { url: url.clone() })?;
        Ok(Self {
            pool,
            backend: url.backend,
            circuit,
        })
    }

    /// False while the database is unreachable (callers are answered at once).
    pub fn reachable(&self) -> bool {
        !self.circuit.is_open()
    }

    /// A connection, or at once `Unavailable` while the database is
    /// unreachable (see `storage::circuit`).
    fn checkout(&self) -> StorageResult<PooledConn> {
        let started = Instant::now();
        let probe = match self.circuit.admit(started) {
            Admit::Refuse => return Err(StorageError::Unavailable("the database is unreachable")),
            Admit::Go => false,
            Admit::Probe => true,
        };
        loop {
            match self.pool.get_timeout(CHECKOUT_STEP) {
                Ok(c) => {
                    self.circuit.worked();
                    return Ok(c);
                }
                Err(_) if probe || self.circuit.is_open() => {
                    self.circuit.failed(Instant::now());
                    return Err(StorageError::Unavailable("the database is unreachable"));
                }
                Err(e) if started.elapsed() >= CHECKOUT_WAIT => return Err(e.into()),
                Err(_) => {}
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for synchronous callers (CLI, start-up).
    pub fn conn(&self) -> StorageResult<PooledConn> {
        self.checkout()
    }

    /// Runs `f` with a connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> StorageResult<T>
    where
        F: FnOnce(&mut DbConnection) -> StorageResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let storage = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = storage.checkout()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StorageError::Blocking(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend_and_reject_unknown_schemes() {
        let s = DatabaseUrl::parse("sqlite://data/x.db").unwrap();
        assert_eq!(s.backend, Backend::Sqlite);
        assert_eq!(s.describe(), "sqlite://data/x.db");
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/a.db").unwrap().describe(),
            "sqlite:///tmp/a.db"
        );
        let p = DatabaseUrl::parse("postgres://u:hunter2@localhost/db").unwrap();
        assert_eq!(p.backend, Backend::Postgres);
        assert!(!p.describe().contains("hunter2"));
        assert_eq!(
            DatabaseUrl::parse("postgresql://localhost/db")
                .unwrap()
                .backend,
            Backend::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("mysql://localhost/db").unwrap_err(),
            UrlError::UnknownScheme("mysql".into())
        );
        assert_eq!(
            DatabaseUrl::parse("data.db").unwrap_err(),
            UrlError::NoScheme
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://").unwrap_err(),
            UrlError::EmptyPath
        );
    }
}
