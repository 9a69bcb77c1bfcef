//! A visitor arrives: found by its token (with its open conversation, to
//! resume) or created with a new one. Here, not in `visitors.rs`, because it
//! reads both tables and `conversations.rs` already builds on `visitors.rs`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::conversations::{self, Conversation};
use super::visitors::{self, VisitorInfo};
use super::{DbConnection, StorageError, StorageResult};
use crate::domain::visitor::token_hash;
use crate::domain::Visitor;

/// A visitor's `hello`: the visitor its token names (or a new one, with a
/// token from `new_token`) and its open conversation if it has one, in one
/// transaction, so one commit. A conversation is not made here: it comes into
/// being with the visitor's first message, so opening the widget creates no
/// empty conversation for an agent. Returns (visitor, token, conversation,
/// fresh): `fresh` when the visitor was created now.
pub fn arrive(
    conn: &mut DbConnection,
    token: Option<String>,
    new_token: impl FnOnce() -> String,
    info: &VisitorInfo,
    now: NaiveDateTime,
) -> StorageResult<(Visitor, String, Option<Conversation>, bool)> {
    if let (None, DbConnection::Pg(pg)) = (&token, &mut *conn) {
        let t = new_token();
        let mut arrived = visitors::arrive_new_pg(pg, &[(token_hash(&t), info.clone())], now)?;
        let v = arrived.pop().ok_or(StorageError::NotFound)?;
        return Ok((v, t, None, true));
    }
    conn.transaction(|db| {
        super::take_write_lock(db)?;
        let known = match &token {
            Some(t) => visitors::find_by_token_hash(db, &token_hash(t))?,
            None => None,
        };
        Ok(match (known, token) {
            (Some(v), Some(t)) => {
                let v = visitors::touch(db, v.visitor_id(), info, now)?;
                let conv = conversations::open_for_visitor(db, v.visitor_id())?;
                (v, t, conv, false)
            }
            _ => {
                let t = new_token();
                let v = visitors::create(db, &token_hash(&t), info, now)?;
                (v, t, None, true)
            }
        })
    })
}
