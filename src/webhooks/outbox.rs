//! From the outbox to deliveries: each event becomes one delivery per
//! endpoint that takes it, with its body fixed now (every retry sends the
//! same bytes), and leaves the outbox, in one transaction. One node at a
//! time does this (an advisory lock on PostgreSQL; SQLite has one node), so
//! the deliveries of a conversation are made in its events' order.

use chrono::NaiveDateTime;
use serde_json::{json, Value};

use crate::chat::protocol::{rfc3339, with_files, AgentRef, MessageView};
use crate::domain::{AgentId, ConversationId, VisitorId};
use crate::resources;
use crate::storage::webhooks::{self, Event, NewDelivery};
use crate::storage::{agents, events, messages, notes, DbConnection, StorageError, StorageResult};

/// Events turned into deliveries per transaction, at most.
const BATCH: i64 = 500;

/// Turns the oldest events into deliveries; how many events it took.
pub fn fan_out(db: &mut DbConnection, now: NaiveDateTime) -> StorageResult<usize> {
    use diesel::Connection;
    db.transaction(|c| {
        if !one_at_a_time(c)? {
            return Ok(0);
        }
        let events = webhooks::pending_events(c, BATCH)?;
        if events.is_empty() {
            return Ok(0);
        }
        let hooks: Vec<_> = webhooks::list(c)?
            .into_iter()
            .filter(|h| h.active)
            .collect();
        let mut bodies: Vec<(usize, &'static str, String)> = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if !hooks.iter().any(|h| h.takes(&e.kind)) {
                continue;
            }
            if let Some((name, body)) = payload(c, e)? {
                bodies.push((i, name, body));
            }
        }
        let mut new = Vec::new();
        for (i, name, body) in &bodies {
            let e = &events[*i];
            for h in hooks.iter().filter(|h| h.takes(&e.kind)) {
                new.push(NewDelivery {
                    webhook_id: h.id,
                    event: e,
                    kind: name,
                    body,
                });
            }
        }
        webhooks::add_deliveries(c, &new, now)?;
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        webhooks::drop_events(c, &ids)?;
        Ok(events.len())
    })
}

/// PostgreSQL: this transaction is the only one fanning out (or returns
/// false at once); SQLite: takes the writer lock.
fn one_at_a_time(c: &mut DbConnection) -> StorageResult<bool> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Got {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        got: bool,
    }
    match c {
        DbConnection::Pg(pg) => {
            // A constant key: "ldwh" in ASCII.
            let r: Got = diesel::sql_query("SELECT pg_try_advisory_xact_lock(1818523496) AS got")
                .get_result(pg)?;
            Ok(r.got)
        }
        DbConnection::Sqlite(_) => {
            crate::storage::take_write_lock(c)?;
            Ok(true)
        }
    }
}

/// The body of an event as endpoints receive it, and the name it goes by;
/// `None` when what it is about is gone.
fn payload(c: &mut DbConnection, e: &Event) -> StorageResult<Option<(&'static str, String)>> {
    let data = match data(c, e) {
        Ok(d) => d,
        Err(StorageError::NotFound) => return Ok(None),
        Err(other) => return Err(other),
    };
    let name = match e.kind.as_str() {
        "note.created" | "message.created" => "message.created",
        "conversation.created" => "conversation.created",
        "conversation.assigned" => "conversation.assigned",
        "conversation.closed" => "conversation.closed",
        "conversation.reopened" => "conversation.reopened",
        "visitor.identified" => "visitor.identified",
        "csat.submitted" => "csat.submitted",
        _ => return Ok(None),
    };
    let body = json!({
        "event": name,
        "event_id": e.id,
        "created_at": rfc3339(e.at),
        "data": data,
    });
    Ok(Some((name, body.to_string())))
}

fn data(c: &mut DbConnection, e: &Event) -> StorageResult<Value> {
    Ok(match e.kind.as_str() {
        "message.created" => {
            let m = messages::by_ids(c, &[e.ref_id])?
                .pop()
                .ok_or(StorageError::NotFound)?;
            let conv = m.conversation_id;
            let views = with_files(c, conv, vec![MessageView::from(&m)], false)?;
            json!({"conversation_id": conv.0, "message": resources::named(c, views)?.pop()})
        }
        "note.created" => {
            let n = notes::find(c, e.ref_id)?;
            let conv = ConversationId(n.conversation_id);
            let views = with_files(c, conv, vec![MessageView::note(&n)], true)?;
            json!({"conversation_id": conv.0, "message": resources::named(c, views)?.pop()})
        }
        "conversation.assigned" => {
            let ev = events::find(c, e.ref_id)?;
            let conversation = resources::conversation(c, ConversationId(ev.conversation_id))?;
            json!({
                "conversation": conversation,
                "agent": agent(c, ev.agent_id)?,
                "from_agent": agent(c, ev.from_agent_id)?,
            })
        }
        "conversation.created" | "conversation.closed" | "conversation.reopened" => {
            let id = e.conversation_id.ok_or(StorageError::NotFound)?;
            json!({"conversation": resources::conversation(c, ConversationId(id))?})
        }
        "visitor.identified" => json!({"visitor": resources::visitor(c, VisitorId(e.ref_id))?}),
        "csat.submitted" => {
            let r = crate::storage::csat::find(c, e.ref_id)?;
            json!({
                "conversation_id": r.conversation_id,
                "episode": r.episode,
                "rating": r.rating,
                "comment": r.comment,
            })
        }
        _ => Value::Null,
    })
}

fn agent(c: &mut DbConnection, id: Option<i64>) -> StorageResult<Option<AgentRef>> {
    let Some(id) = id else { return Ok(None) };
    Ok(match agents::find(c, AgentId(id)) {
        Ok(a) => Some(AgentRef {
            id: a.id.0,
            name: a.display_name,
        }),
        Err(StorageError::NotFound) => None,
        Err(e) => return Err(e),
    })
}
