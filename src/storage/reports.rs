//! What the reports are computed from (`domain::reports`): the conversations
//! with an episode that may start in a period, their changes, public
//! messages (notes are a table of their own, never read here) and ratings.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{conversation_events as ev, conversations as c, messages as m};
use super::{csat, DbConnection, StorageResult};
use crate::domain::reports::{Author, Change, Facts};

/// Conversations created before `to` and touched since `from` (a
/// reopening updates a conversation, so an episode starting in the period
/// is among them).
pub fn facts(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StorageResult<Vec<Facts>> {
    let convs: Vec<(i64, NaiveDateTime)> = c::table
        .filter(c::created_at.lt(to))
        .filter(c::created_at.ge(from).or(c::updated_at.ge(from)))
        .order(c::id.asc())
        .select((c::id, c::created_at))
        .load(conn)?;
    let ids: Vec<i64> = convs.iter().map(|(id, _)| *id).collect();
    let mut facts: HashMap<i64, Facts> = convs
        .iter()
        .map(|(id, at)| {
            (
                *id,
                Facts {
                    id: *id,
                    created_at: *at,
                    changes: Vec::new(),
                    messages: Vec::new(),
                    ratings: Vec::new(),
                },
            )
        })
        .collect();
    for chunk in ids.chunks(500) {
        let events: Vec<(i64, String, Option<i64>, NaiveDateTime)> = ev::table
            .filter(ev::conversation_id.eq_any(chunk))
            .order((ev::at.asc(), ev::id.asc()))
            .select((ev::conversation_id, ev::kind, ev::agent_id, ev::at))
            .load(conn)?;
        for (conv, kind, agent, at) in events {
            let change = match (kind.as_str(), agent) {
                ("assigned", Some(a)) => Change::Assigned(a),
                ("queued", _) => Change::Queued,
                ("closed", _) => Change::Closed,
                ("reopened", _) => Change::Reopened,
                _ => continue,
            };
            if let Some(f) = facts.get_mut(&conv) {
                f.changes.push((change, at));
            }
        }
        let msgs: Vec<(i64, String, Option<i64>, NaiveDateTime)> = m::table
            .filter(m::conversation_id.eq_any(chunk))
            .order((m::conversation_id.asc(), m::seq.asc()))
            .select((m::conversation_id, m::sender, m::agent_id, m::created_at))
            .load(conn)?;
        for (conv, sender, agent, at) in msgs {
            let author = match (sender.as_str(), agent) {
                ("visitor", _) => Author::Visitor,
                ("agent", Some(a)) => Author::Agent(a),
                _ => Author::System,
            };
            if let Some(f) = facts.get_mut(&conv) {
                f.messages.push((author, at));
            }
        }
    }
    for r in csat::of_many(conn, &ids)? {
        if let Some(f) = facts.get_mut(&r.conversation_id) {
            f.ratings
                .push((r.episode.max(1) as u32, r.rating.clamp(1, 5) as u8));
        }
    }
    let mut out: Vec<Facts> = facts.into_values().collect();
    out.sort_by_key(|f| f.id);
    Ok(out)
}
