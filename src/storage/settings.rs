//! Small server-wide values kept in the database (e.g. the generated session key).

use diesel::prelude::*;

use super::schema::settings;
use super::{DbConnection, StorageError, StorageResult};

pub fn get(conn: &mut DbConnection, key: &str) -> StorageResult<Option<String>> {
    Ok(settings::table
        .filter(settings::name.eq(key))
        .select(settings::value)
        .first(conn)
        .optional()?)
}

/// Stores `value` unless `key` already has one, and returns the value that won:
/// nodes starting at the same time all end up with the first writer's value.
pub fn get_or_insert(conn: &mut DbConnection, key: &str, value: &str) -> StorageResult<String> {
    if let Some(v) = get(conn, key)? {
        return Ok(v);
    }
    match diesel::insert_into(settings::table)
        .values((settings::name.eq(key), settings::value.eq(value)))
        .execute(conn)
    {
        Ok(_)
        | Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => get(conn, key)?.ok_or(StorageError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// Sets `key` to `value`, whatever it held.
pub fn put(conn: &mut DbConnection, key: &str, value: &str) -> StorageResult<()> {
    conn.transaction(|c| {
        diesel::delete(settings::table.filter(settings::name.eq(key))).execute(c)?;
        diesel::insert_into(settings::table)
            .values((settings::name.eq(key), settings::value.eq(value)))
            .execute(c)?;
        Ok(())
    })
}
