//! Tokens of the REST API. A token is shown once, when it is made; only its
//! SHA-256 is kept (it is 256 random bits, so a plain hash is enough to make
//! the table useless to a thief), and it is found by that hash.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::api_tokens as t;
use super::{last_insert_id, DbConnection, StorageError, StorageResult};
use crate::domain::AgentId;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Read,
    /// Read and write.
    Write,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "read write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "write" | "read write" => Some(Scope::Write),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    name: String,
    hint: String,
    scopes: String,
    created_by: Option<i64>,
    created_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    last_used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// The token's first characters.
    pub hint: String,
    pub scope: Scope,
    pub created_by: Option<AgentId>,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

impl From<Row> for ApiToken {
    fn from(r: Row) -> Self {
        ApiToken {
            id: r.id,
            name: r.name,
            hint: r.hint,
            // The CHECK admits only the two.
            scope: Scope::parse(&r.scopes).unwrap_or(Scope::Read),
            created_by: r.created_by.map(AgentId),
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        }
    }
}

impl ApiToken {
    /// Usable at `now`: not revoked, not expired.
    pub fn live(&self, now: NaiveDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// The SHA-256 a token is kept and found by.
pub fn hash(token: &str) -> String {
    crate::domain::visitor::token_hash(token)
}

/// A new token; returns it with the one and only copy of its text.
pub fn create(
    conn: &mut DbConnection,
    name: &str,
    scope: Scope,
    created_by: Option<AgentId>,
    expires_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> StorageResult<(ApiToken, String)> {
    let token = crate::domain::signing::new_secret("ldk_");
    let hint: String = token.chars().take(10).collect();
    conn.transaction(|c| {
        diesel::insert_into(t::table)
            .values((
                t::name.eq(name),
                t::token_hash.eq(hash(&token)),
                t::hint.eq(&hint),
                t::scopes.eq(scope.as_str()),
                t::created_by.eq(created_by.map(|a| a.0)),
                t::created_at.eq(now),
                t::expires_at.eq(expires_at),
            ))
            .execute(c)?;
        let id = last_insert_id(c, "api_tokens")?;
        Ok((find(c, id)?, token))
    })
}

pub fn find(conn: &mut DbConnection, id: i64) -> StorageResult<ApiToken> {
    Ok(t::table
        .find(id)
        .select(Row::as_select())
        .first::<Row>(conn)?
        .into())
}

/// The token with this text, whatever its state (the caller checks `live`).
pub fn by_token(conn: &mut DbConnection, token: &str) -> StorageResult<Option<ApiToken>> {
    Ok(t::table
        .filter(t::token_hash.eq(hash(token)))
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?
        .map(Into::into))
}

/// Every token, newest first.
pub fn list(conn: &mut DbConnection) -> StorageResult<Vec<ApiToken>> {
    Ok(t::table
        .order(t::id.desc())
        .select(Row::as_select())
        .load::<Row>(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Revoked from now on (again: no change).
pub fn revoke(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> StorageResult<()> {
    let n = diesel::update(t::table.find(id).filter(t::revoked_at.is_null()))
        .set(t::revoked_at.eq(now))
        .execute(conn)?;
    if n == 0 && find(conn, id).is_err() {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// Records a use, at most once a minute per token (a write per request
/// would cost more than the request).
pub fn used(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> StorageResult<()> {
    let stale = now - chrono::Duration::seconds(60);
    diesel::update(
        t::table
            .find(id)
            .filter(t::last_used_at.is_null().or(t::last_used_at.lt(stale))),
    )
    .set(t::last_used_at.eq(now))
    .execute(conn)?;
    Ok(())
}
