//! Persistence: one diesel connection type over PostgreSQL and SQLite, an r2d2
//! pool, migrations, and one file of queries per table. Query functions take
//! `&mut DbConnection` so they compose inside a transaction.

pub mod admission;
pub mod agents;
pub mod announcements;
pub mod api_tokens;
pub mod archive;
pub mod arrivals;
pub mod assignments;
pub mod attachments;
pub mod canned;
pub mod circuit;
pub mod connection;
pub mod conversations;
pub mod csat;
pub mod events;
pub mod files;
pub mod identity;
pub mod labels;
pub mod login_attempts;
pub mod messages;
pub mod migrations;
pub mod nodes;
pub mod notes;
pub mod policies;
pub mod prepared;
pub mod presence;
pub mod reports;
pub mod rooms;
pub mod schema;
pub mod sessions;
pub mod settings;
pub mod transcripts;
pub mod visitors;
pub mod webhooks;
pub mod writer;

pub use connection::{Backend, DatabaseUrl, DbConnection, DbPool, Storage};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    Conflict,
    #[error("the last active admin cannot be disabled or demoted")]
    LastAdmin,
    #[error("the conversation is closed")]
    ConversationClosed,
    #[error("database unavailable: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database error: {0}")]
    Query(diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("blocking task failed: {0}")]
    Blocking(String),
    /// A part of this node that storing goes through has stopped (a writer
    /// thread, the Dispatcher): nothing was stored; try again shortly.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    /// The batch this write was part of failed twice; each of its writers gets this.
    #[error("batch write failed: {0}")]
    BatchFailed(std::sync::Arc<StorageError>),
}

impl From<diesel::result::Error> for StorageError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => StorageError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => StorageError::Conflict,
            other => StorageError::Query(other),
        }
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

diesel::define_sql_function! {
    /// SQLite: id of the row the last INSERT on this connection created.
    fn last_insert_rowid() -> diesel::sql_types::BigInt;
}

/// Id of the row just inserted into `table` on this connection
/// (MultiConnection has no RETURNING). On PostgreSQL that is the table's own
/// sequence (`lastval()` would be whichever sequence a trigger drew from
/// last: the webhook outbox's); SQLite restores its value after triggers.
pub(crate) fn last_insert_id(conn: &mut DbConnection, table: &'static str) -> StorageResult<i64> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    Ok(match conn {
        DbConnection::Pg(c) => {
            diesel::sql_query("SELECT currval(pg_get_serial_sequence($1, 'id')) AS id")
                .bind::<diesel::sql_types::Text, _>(table)
                .get_result::<Id>(c)?
                .id
        }
        DbConnection::Sqlite(c) => diesel::select(last_insert_rowid()).get_result(c)?,
    })
}

/// Call first in a transaction that reads and then writes. On SQLite a
/// transaction that read first cannot become a writer once another
/// connection has committed (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not
/// retry); a no-op write first takes the writer lock (waiting its turn) before
/// anything is read. PostgreSQL needs nothing here.
pub(crate) fn take_write_lock(conn: &mut DbConnection) -> StorageResult<()> {
    use diesel::RunQueryDsl;
    if let DbConnection::Sqlite(c) = conn {
        diesel::sql_query("UPDATE settings SET name = name WHERE 0").execute(c)?;
    }
    Ok(())
}
