//! Webhook endpoints and their deliveries. Events reach `webhook_events`
//! through triggers (the migration), in the transaction of the change that
//! caused them; a node turns them into deliveries (`webhooks::outbox`) and
//! sends those (`webhooks::sender`), each claimed by one node at a time.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{webhook_deliveries as d, webhook_events as ev, webhooks as w};
use super::{last_insert_id, DbConnection, StorageError, StorageResult};

/// What an endpoint may subscribe to.
pub const EVENTS: &[&str] = &[
    "conversation.created",
    "conversation.assigned",
    "conversation.closed",
    "conversation.reopened",
    "message.created",
    "visitor.identified",
    "csat.submitted",
];

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = w)]
struct Row {
    id: i64,
    url: String,
    events: String,
    include_notes: bool,
    active: bool,
    secret: String,
    previous_secret: Option<String>,
    previous_until: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub include_notes: bool,
    pub active: bool,
    pub created_at: NaiveDateTime,
    /// Until when the secret before the last rotation still signs.
    pub previous_until: Option<NaiveDateTime>,
    secret: String,
    previous_secret: Option<String>,
}

impl From<Row> for Webhook {
    fn from(r: Row) -> Self {
        Webhook {
            id: r.id,
            url: r.url,
            events: r.events.split_whitespace().map(str::to_owned).collect(),
            include_notes: r.include_notes,
            active: r.active,
            created_at: r.created_at,
            previous_until: r.previous_until,
            secret: r.secret,
            previous_secret: r.previous_secret,
        }
    }
}

impl Webhook {
    /// The secrets that sign a delivery at `now`: the current one, and the
    /// one before a rotation during its overlap.
    pub fn signing_secrets(&self, now: NaiveDateTime) -> Vec<String> {
        let mut s = vec![self.secret.clone()];
        if let (Some(p), Some(until)) = (&self.previous_secret, self.previous_until) {
            if now < until {
                s.push(p.clone());
            }
        }
        s
    }

    /// Does it take this outbox event (`note.created`: notes, if it asked)?
    pub fn takes(&self, kind: &str) -> bool {
        match kind {
            "note.created" => {
                self.include_notes && self.events.iter().any(|e| e == "message.created")
            }
            k => self.events.iter().any(|e| e == k),
        }
    }
}

/// The events named, checked: known names, each once; empty is refused.
pub fn parse_events(names: &[String]) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for n in names {
        let known = EVENTS.iter().find(|e| **e == n.trim())?;
        if !out.contains(known) {
            out.push(known);
        }
    }
    (!out.is_empty()).then(|| out.join(" "))
}

/// A new endpoint; returns it and its secret (shown once).
pub fn create(
    conn: &mut DbConnection,
    url: &str,
    events: &str,
    include_notes: bool,
    now: NaiveDateTime,
) -> StorageResult<(Webhook, String)> {
    let secret = crate::domain::signing::new_secret("whsec_");
    conn.transaction(|c| {
        diesel::insert_into(w::table)
            .values((
                w::url.eq(url),
                w::events.eq(events),
                w::include_notes.eq(include_notes),
                w::active.eq(true),
                w::secret.eq(&secret),
                w::created_at.eq(now),
            ))
            .execute(c)?;
        let id = last_insert_id(c, "webhooks")?;
        Ok((find(c, id)?, secret.clone()))
    })
}

pub fn find(conn: &mut DbConnection, id: i64) -> StorageResult<Webhook> {
    Ok(w::table
        .find(id)
        .select(Row::as_select())
        .first::<Row>(conn)?
        .into())
}

pub fn list(conn: &mut DbConnection) -> StorageResult<Vec<Webhook>> {
    Ok(w::table
        .order(w::id.asc())
        .select(Row::as_select())
        .load::<Row>(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Changes what is given.
pub fn update(
    conn: &mut DbConnection,
    id: i64,
    url: Option<&str>,
    events: Option<&str>,
    include_notes: Option<bool>,
    active: Option<bool>,
) -> StorageResult<Webhook> {
    conn.transaction(|c| {
        let cur = find(c, id)?;
        diesel::update(w::table.find(id))
            .set((
                w::url.eq(url.unwrap_or(&cur.url)),
                w::events.eq(events.map_or_else(|| cur.events.join(" "), str::to_owned)),
                w::include_notes.eq(include_notes.unwrap_or(cur.include_notes)),
                w::active.eq(active.unwrap_or(cur.active)),
            ))
            .execute(c)?;
        find(c, id)
    })
}

pub fn delete(conn: &mut DbConnection, id: i64) -> StorageResult<()> {
    match diesel::delete(w::table.find(id)).execute(conn)? {
        0 => Err(StorageError::NotFound),
        _ => Ok(()),
    }
}

/// A new secret; the old one keeps signing beside it until `overlap_until`.
pub fn rotate(
    conn: &mut DbConnection,
    id: i64,
    overlap_until: NaiveDateTime,
) -> StorageResult<(Webhook, String)> {
    let secret = crate::domain::signing::new_secret("whsec_");
    conn.transaction(|c| {
        let cur: Row = w::table.find(id).select(Row::as_select()).first(c)?;
        diesel::update(w::table.find(id))
            .set((
                w::secret.eq(&secret),
                w::previous_secret.eq(Some(cur.secret)),
                w::previous_until.eq(Some(overlap_until)),
            ))
            .execute(c)?;
        Ok((find(c, id)?, secret.clone()))
    })
}

/// One event of the outbox.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ev)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub conversation_id: Option<i64>,
    pub ref_id: i64,
    pub at: NaiveDateTime,
}

/// The oldest events of the outbox.
pub fn pending_events(conn: &mut DbConnection, limit: i64) -> StorageResult<Vec<Event>> {
    Ok(ev::table
        .order(ev::id.asc())
        .limit(limit)
        .select(Event::as_select())
        .load(conn)?)
}

/// Events turned into deliveries leave the outbox.
pub fn drop_events(conn: &mut DbConnection, ids: &[i64]) -> StorageResult<()> {
    for chunk in ids.chunks(500) {
        diesel::delete(ev::table.filter(ev::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(())
}

/// A delivery to be made: one event for one endpoint.
pub struct NewDelivery<'a> {
    pub webhook_id: i64,
    pub event: &'a Event,
    /// The event as named to the endpoint (`message.created` for a note).
    pub kind: &'a str,
    pub body: &'a str,
}

pub fn add_deliveries(
    conn: &mut DbConnection,
    new: &[NewDelivery],
    now: NaiveDateTime,
) -> StorageResult<()> {
    let rows: Vec<_> = new
        .iter()
        .map(|n| {
            (
                d::webhook_id.eq(n.webhook_id),
                d::event_id.eq(n.event.id),
                d::delivery_id.eq(crate::domain::signing::new_secret("dlv_")),
                d::kind.eq(n.kind),
                d::conversation_id.eq(n.event.conversation_id),
                d::body.eq(n.body),
                d::status.eq("pending"),
                d::attempts.eq(0),
                d::next_at.eq(now),
                d::created_at.eq(now),
            )
        })
        .collect();
    for chunk in rows.chunks(200) {
        let q = diesel::insert_into(d::table).values(chunk.to_vec());
        match conn {
            DbConnection::Pg(pg) => q.execute(pg)?,
            DbConnection::Sqlite(s) => q.execute(s)?,
        };
    }
    Ok(())
}

mod deliveries;
pub use deliveries::*;
