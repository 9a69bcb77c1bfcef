//! Visitors a site knows. A verified identifier (signed by the site) is one
//! visitor on every device: a hello that proves it joins that visitor, and
//! the device is given a token of its own for it. An unverified identifier
//! is only shown to agents: it never joins anyone.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::conversations::{self, Conversation};
use super::schema::{visitor_tokens as more, visitors as v};
use super::visitors::{self, VisitorInfo, VisitorRow};
use super::{take_write_lock, DbConnection, StorageError, StorageResult};
use crate::domain::visitor::token_hash;
use crate::domain::{Visitor, VisitorId};

/// Who a hello says the visitor is, already checked against the site's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Verified(String),
    Unverified(String),
}

/// The verified visitor with this identifier.
pub fn find_verified(conn: &mut DbConnection, identifier: &str) -> StorageResult<Option<Visitor>> {
    Ok(v::table
        .filter(v::identifier.eq(identifier))
        .filter(v::verified.eq(true))
        .select(VisitorRow::as_select())
        .first::<VisitorRow>(conn)
        .optional()?
        .map(Into::into))
}

/// A further token for a visitor (another device).
pub fn give_token(
    conn: &mut DbConnection,
    visitor: VisitorId,
    hash: &str,
    now: NaiveDateTime,
) -> StorageResult<()> {
    diesel::insert_into(more::table)
        .values((
            more::token_hash.eq(hash),
            more::visitor_id.eq(visitor.0),
            more::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set(
    conn: &mut DbConnection,
    id: VisitorId,
    identifier: Option<&str>,
    verified: bool,
) -> StorageResult<Visitor> {
    diesel::update(v::table.find(id.0))
        .set((v::identifier.eq(identifier), v::verified.eq(verified)))
        .execute(conn)?;
    visitors::find(conn, id)
}

/// A hello that says who the visitor is: (visitor, its token for this
/// device, its open conversation, made now). In one transaction; two
/// devices proving the same new identifier at once end with one visitor
/// (the second is tried again and finds the first's).
pub fn arrive(
    conn: &mut DbConnection,
    token: Option<String>,
    claim: &Claim,
    new_token: impl Fn() -> String,
    info: &VisitorInfo,
    now: NaiveDateTime,
) -> StorageResult<(Visitor, String, Option<Conversation>, bool)> {
    let attempt = |conn: &mut DbConnection| {
        conn.transaction(|db| {
            take_write_lock(db)?;
            arrive_in(db, token.clone(), claim, &new_token, info, now)
        })
    };
    match attempt(conn) {
        Err(StorageError::Conflict) => attempt(conn),
        other => other,
    }
}

fn arrive_in(
    db: &mut DbConnection,
    token: Option<String>,
    claim: &Claim,
    new_token: &impl Fn() -> String,
    info: &VisitorInfo,
    now: NaiveDateTime,
) -> StorageResult<(Visitor, String, Option<Conversation>, bool)> {
    let known = match &token {
        Some(t) => visitors::find_by_token_hash(db, &token_hash(t))?,
        None => None,
    };
    let (visitor, token, fresh) = match claim {
        Claim::Verified(id) => match (find_verified(db, id)?, known) {
            // This device knew them already.
            (Some(v), Some(k)) if v.id == k.id => (v, token.unwrap_or_default(), false),
            // Known elsewhere: this device joins them, with a token of its own.
            (Some(v), _) => {
                let t = new_token();
                give_token(db, v.id, &token_hash(&t), now)?;
                (v, t, false)
            }
            // An anonymous (or unverified) visitor of this device is them.
            (None, Some(k)) if !k.verified => {
                let v = set(db, k.id, Some(id), true)?;
                (v, token.unwrap_or_default(), false)
            }
            // Someone else signed in on this device, or a first visit.
            (None, _) => {
                let (v, t) = create(db, new_token, info, now)?;
                (set(db, v.id, Some(id), true)?, t, true)
            }
        },
        Claim::Unverified(id) => match known {
            // A verified visitor is not changed by a claim nobody signed:
            // the same one stays; another one is a new visitor.
            Some(k) if k.verified && k.identifier.as_deref() == Some(id) => {
                (k, token.unwrap_or_default(), false)
            }
            Some(k) if !k.verified => {
                let v = set(db, k.id, Some(id), false)?;
                (v, token.unwrap_or_default(), false)
            }
            _ => {
                let (v, t) = create(db, new_token, info, now)?;
                (set(db, v.id, Some(id), false)?, t, true)
            }
        },
    };
    let visitor = visitors::touch(db, visitor.id, info, now)?;
    let conversation = match fresh {
        true => None,
        false => conversations::open_for_visitor(db, visitor.id)?,
    };
    Ok((visitor, token, conversation, fresh))
}

fn create(
    db: &mut DbConnection,
    new_token: &impl Fn() -> String,
    info: &VisitorInfo,
    now: NaiveDateTime,
) -> StorageResult<(Visitor, String)> {
    let t = new_token();
    Ok((visitors::create(db, &token_hash(&t), info, now)?, t))
}
