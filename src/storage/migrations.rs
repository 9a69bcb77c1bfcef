use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{DbConnection, StorageError, StorageResult};

pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Arbitrary constant naming livedesk's migration lock among PostgreSQL advisory locks.
const MIGRATION_LOCK: i64 = 0x6c69_7665_6465_736b; // "livedesk"

/// Applies pending migrations; returns the versions applied. On PostgreSQL this
/// holds an advisory lock so nodes starting together migrate one at a time.
pub fn run_pending(conn: &mut DbConnection) -> StorageResult<Vec<String>> {
    fn done(
        r: Result<
            Vec<diesel::migration::MigrationVersion<'_>>,
            Box<dyn std::error::Error + Send + Sync>,
        >,
    ) -> StorageResult<Vec<String>> {
        r.map(|v| v.iter().map(ToString::to_string).collect())
            .map_err(|e| StorageError::Migration(e.to_string()))
    }
    match conn {
        DbConnection::Pg(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(c)?;
            let result = done(c.run_pending_migrations(POSTGRES));
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(c)?;
            result
        }
        DbConnection::Sqlite(c) => done(c.run_pending_migrations(SQLITE)),
    }
}

/// Reverts every applied migration (used by the tests that check `down.sql`).
pub fn revert_all(conn: &mut DbConnection) -> StorageResult<()> {
    let r = match conn {
        DbConnection::Pg(c) => c.revert_all_migrations(POSTGRES).map(|_| ()),
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE).map(|_| ()),
    };
    r.map_err(|e| StorageError::Migration(e.to_string()))
}
