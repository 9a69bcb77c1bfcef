//! Deliveries: claimed by one node at a time (a lease, taken under
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL), sent in event order per endpoint
//! and conversation, retried until they succeed or are too old.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::super::schema::{webhook_deliveries as d, webhooks as w};
use super::super::{DbConnection, StorageError, StorageResult};
use super::{find, Webhook};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = d)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: i64,
    pub delivery_id: String,
    pub kind: String,
    pub conversation_id: Option<i64>,
    pub body: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_at: NaiveDateTime,
    pub last_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub done_at: Option<NaiveDateTime>,
}

/// A delivery this node has claimed, with where and how to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: Delivery,
    pub url: String,
    pub secrets: Vec<String>,
}

/// Claims up to `limit` deliveries that are due, for `lease`: each the
/// earliest pending one of its endpoint and conversation (so an endpoint
/// gets a conversation's events in order), none claimed by another node.
pub fn claim(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease: chrono::Duration,
    limit: i64,
) -> StorageResult<Vec<Claimed>> {
    conn.transaction(|c| {
        super::super::take_write_lock(c)?;
        let e = diesel::alias!(d as e);
        let earlier = e
            .filter(e.field(d::webhook_id).eq(d::webhook_id))
            .filter(e.field(d::conversation_id).eq(d::conversation_id))
            .filter(e.field(d::status).eq("pending"))
            .filter(e.field(d::event_id).lt(d::event_id))
            .select(e.field(d::id));
        let active = w::table.filter(w::active.eq(true)).select(w::id);
        let due = d::table
            .filter(d::webhook_id.eq_any(active))
            .filter(d::status.eq("pending"))
            .filter(d::next_at.le(now))
            .filter(d::locked_until.is_null().or(d::locked_until.lt(now)))
            .filter(diesel::dsl::not(diesel::dsl::exists(earlier)))
            .order(d::event_id.asc())
            .limit(limit)
            .select(d::id);
        let ids: Vec<i64> = match c {
            DbConnection::Pg(pg) => due.for_update().skip_locked().load(pg)?,
            DbConnection::Sqlite(s) => due.load(s)?,
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(d::table.filter(d::id.eq_any(&ids)))
            .set(d::locked_until.eq(now + lease))
            .execute(c)?;
        let rows: Vec<(Delivery, String)> = d::table
            .inner_join(w::table)
            .filter(d::id.eq_any(&ids))
            .order(d::event_id.asc())
            .select((Delivery::as_select(), w::url))
            .load(c)?;
        let mut hooks: std::collections::HashMap<i64, Webhook> = Default::default();
        let mut out = Vec::with_capacity(rows.len());
        for (delivery, url) in rows {
            let hook = match hooks.get(&delivery.webhook_id) {
                Some(h) => h,
                None => hooks
                    .entry(delivery.webhook_id)
                    .or_insert(find(c, delivery.webhook_id)?),
            };
            out.push(Claimed {
                secrets: hook.signing_secrets(now),
                delivery,
                url,
            });
        }
        Ok(out)
    })
}

/// How an attempt went.
#[derive(Debug, Clone)]
pub enum Outcome {
    Delivered {
        code: u16,
    },
    /// Tried again at `retry_at`; `None`: too old, given up.
    Failed {
        code: Option<u16>,
        error: String,
        retry_at: Option<NaiveDateTime>,
    },
}

pub fn finish(
    conn: &mut DbConnection,
    id: i64,
    outcome: &Outcome,
    now: NaiveDateTime,
) -> StorageResult<()> {
    let attempts = d::attempts + 1;
    let target = d::table.find(id);
    match outcome {
        Outcome::Delivered { code } => diesel::update(target)
            .set((
                d::status.eq("delivered"),
                d::attempts.eq(attempts),
                d::last_code.eq(Some(i32::from(*code))),
                d::last_error.eq(None::<String>),
                d::locked_until.eq(None::<NaiveDateTime>),
                d::done_at.eq(Some(now)),
            ))
            .execute(conn)?,
        Outcome::Failed {
            code,
            error,
            retry_at,
        } => {
            let (status, next, done) = match retry_at {
                Some(at) => ("pending", *at, None),
                None => ("failed", now, Some(now)),
            };
            diesel::update(target)
                .set((
                    d::status.eq(status),
                    d::attempts.eq(attempts),
                    d::next_at.eq(next),
                    d::last_code.eq(code.map(i32::from)),
                    d::last_error.eq(Some(error.chars().take(500).collect::<String>())),
                    d::locked_until.eq(None::<NaiveDateTime>),
                    d::done_at.eq(done),
                ))
                .execute(conn)?
        }
    };
    Ok(())
}

/// An endpoint's deliveries, newest first, below `before` (a cursor).
pub fn log(
    conn: &mut DbConnection,
    webhook: i64,
    before: Option<i64>,
    limit: i64,
) -> StorageResult<Vec<Delivery>> {
    let mut q = d::table
        .filter(d::webhook_id.eq(webhook))
        .order(d::id.desc())
        .limit(limit)
        .select(Delivery::as_select())
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(d::id.lt(b));
    }
    Ok(q.load(conn)?)
}

/// Sends a delivery again, soon (same delivery id, same body): a failed
/// one gets a new retry period from now.
pub fn redeliver(
    conn: &mut DbConnection,
    webhook: i64,
    id: i64,
    now: NaiveDateTime,
) -> StorageResult<Delivery> {
    let target = d::table.find(id).filter(d::webhook_id.eq(webhook));
    let n = diesel::update(target)
        .set((
            d::status.eq("pending"),
            d::next_at.eq(now),
            d::created_at.eq(now),
            d::locked_until.eq(None::<NaiveDateTime>),
            d::done_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(d::table
        .find(id)
        .select(Delivery::as_select())
        .first(conn)?)
}
