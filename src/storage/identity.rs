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

/// Where the site's identity secret is kept.
const SECRET: &str = "identity_secret";

/// The site's secret, once an admin has made one.
pub fn secret(conn: &mut DbConnection) -> StorageResult<Option<String>> {
    super::settings::get(conn, SECRET)
}

/// A new secret for the site (the old one stops verifying at once).
pub fn new_secret(conn: &mut DbConnection) -> StorageResult<String> {
    let s = crate::domain::signing::new_secret("idsec_");
    super::settings::put(conn, SECRET, &s)?;
    Ok(s)
}

/// An identity that may not be used (`identity_invalid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

/// Judges what a visitor says about itself: nothing, an identifier the
/// site signed (verified), or one it did not (unverified, refused when the
/// site requires a signature). An identifier is 1–255 characters, no controls.
pub fn judge(
    secret: Option<&str>,
    identifier: Option<&str>,
    hash: Option<&str>,
    required: bool,
) -> Result<Option<Claim>, Invalid> {
    let id = identifier.map(str::trim).filter(|i| !i.is_empty());
    let Some(id) = id else {
        return if required { Err(Invalid) } else { Ok(None) };
    };
    if id.chars().count() > 255 || id.chars().any(char::is_control) {
        return Err(Invalid);
    }
    let signed = match (secret, hash) {
        (Some(s), Some(h)) => crate::domain::signing::identity_matches(s, id, h),
        _ => false,
    };
    match (signed, required) {
        (true, _) => Ok(Some(Claim::Verified(id.to_owned()))),
        (false, true) => Err(Invalid),
        (false, false) => Ok(Some(Claim::Unverified(id.to_owned()))),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::signing::hmac_hex;

    #[test]
    fn a_claim_is_judged_by_its_signature_and_the_sites_rule() {
        let h = hmac_hex(b"k", b"cust-1");
        let ok = |r: Result<Option<Claim>, Invalid>| r.unwrap();
        assert_eq!(
            ok(judge(Some("k"), Some("cust-1"), Some(&h), true)),
            Some(Claim::Verified("cust-1".into()))
        );
        assert_eq!(
            ok(judge(Some("k"), Some(" cust-1 "), Some(&h), false)),
            Some(Claim::Verified("cust-1".into()))
        );
        assert_eq!(
            ok(judge(Some("k"), Some("cust-1"), Some("00"), false)),
            Some(Claim::Unverified("cust-1".into()))
        );
        assert_eq!(
            ok(judge(None, Some("cust-1"), Some(&h), false)),
            Some(Claim::Unverified("cust-1".into()))
        );
        assert_eq!(ok(judge(Some("k"), None, None, false)), None);
        assert_eq!(
            judge(Some("k"), Some("cust-1"), Some("00"), true),
            Err(Invalid)
        );
        assert_eq!(judge(Some("k"), Some("cust-1"), None, true), Err(Invalid));
        assert_eq!(judge(Some("k"), None, None, true), Err(Invalid));
        assert_eq!(judge(None, Some("cust-1"), Some(&h), true), Err(Invalid));
        assert_eq!(judge(Some("k"), Some("a\nb"), None, false), Err(Invalid));
    }
}
