//! Room messages: the guarantees of conversation messages. The room row's
//! `last_seq` is bumped first (its row lock on PostgreSQL, the writer lock on
//! SQLite), so concurrent senders get gapless seqs; a resent `client_id`
//! (per sender) gets its original back and bumps nothing.

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;

use super::{for_member, members, Members, Room};
use crate::domain::{AgentId, RoomId};
use crate::storage::schema::{agents, room_mentions, room_messages, rooms};
use crate::storage::{last_insert_id, take_write_lock, DbConnection, StorageError, StorageResult};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = room_messages)]
pub struct RoomMessage {
    pub id: i64,
    pub room_id: i64,
    pub seq: i64,
    pub agent_id: Option<i64>,
    pub agent_name: String,
    pub client_id: String,
    pub body: String,
    pub created_at: NaiveDateTime,
}

/// What storing a room message gives: the message, whether it is new, who
/// it goes to now, and the members it mentions.
pub struct Posted {
    pub message: RoomMessage,
    pub new: bool,
    pub to: Members,
    pub mentions: Vec<AgentId>,
}

pub struct Author<'a> {
    pub id: AgentId,
    pub name: &'a str,
}

/// The `@username`s in a body, lowercased, each once.
pub fn mentioned(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find('@') {
        let after = &rest[i + 1..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect();
        let preceded_ok = rest[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        // A trailing dot ends a sentence, not a name.
        let name = name.trim_end_matches('.').to_lowercase();
        if preceded_ok && !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
        rest = after;
    }
    out
}

pub fn insert(
    conn: &mut DbConnection,
    room: RoomId,
    author: &Author<'_>,
    client_id: &str,
    body: &str,
    now: NaiveDateTime,
) -> StorageResult<Posted> {
    let now = now
        .with_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now);
    let posted = conn.transaction(|c| {
        take_write_lock(c)?;
        let r: Room = for_member(c, room, author.id)?;
        if let Some(m) = by_client_id(c, room, author.id, client_id)? {
            let mentions = mentions_of(c, &m)?;
            return Ok(Posted {
                message: m,
                new: false,
                to: members(c, &r)?,
                mentions,
            });
        }
        diesel::update(rooms::table.find(room.0))
            .set(rooms::last_seq.eq(rooms::last_seq + 1))
            .execute(c)?;
        let seq: i64 = rooms::table.find(room.0).select(rooms::last_seq).first(c)?;
        diesel::insert_into(room_messages::table)
            .values((
                room_messages::room_id.eq(room.0),
                room_messages::seq.eq(seq),
                room_messages::agent_id.eq(author.id.0),
                room_messages::agent_name.eq(author.name),
                room_messages::client_id.eq(client_id),
                room_messages::body.eq(body),
                room_messages::created_at.eq(now),
            ))
            .execute(c)?;
        let id = last_insert_id(c, "room_messages")?;
        let to = members(c, &r)?;
        let names = mentioned(body);
        let found: Vec<i64> = match names.is_empty() {
            true => Vec::new(),
            false => agents::table
                .filter(agents::username.eq_any(&names))
                .filter(agents::active.eq(true))
                .filter(agents::id.ne(author.id.0))
                .select(agents::id)
                .load(c)?,
        };
        let mentions: Vec<AgentId> = found
            .into_iter()
            .map(AgentId)
            .filter(|a| to.contains(*a))
            .collect();
        for a in &mentions {
            diesel::insert_into(room_mentions::table)
                .values((
                    room_mentions::room_id.eq(room.0),
                    room_mentions::agent_id.eq(a.0),
                    room_mentions::seq.eq(seq),
                ))
                .execute(c)?;
        }
        let message = room_messages::table
            .find(id)
            .select(RoomMessage::as_select())
            .first(c)?;
        Ok(Posted {
            message,
            new: true,
            to,
            mentions,
        })
    });
    match posted {
        // The same client_id twice at once: the other one stored it.
        Err(StorageError::Conflict) => {
            let m =
                by_client_id(conn, room, author.id, client_id)?.ok_or(StorageError::Conflict)?;
            let r = super::find(conn, room)?;
            let mentions = mentions_of(conn, &m)?;
            Ok(Posted {
                message: m,
                new: false,
                to: members(conn, &r)?,
                mentions,
            })
        }
        other => other,
    }
}

fn by_client_id(
    c: &mut DbConnection,
    room: RoomId,
    agent: AgentId,
    client_id: &str,
) -> StorageResult<Option<RoomMessage>> {
    Ok(room_messages::table
        .filter(room_messages::room_id.eq(room.0))
        .filter(room_messages::agent_id.eq(agent.0))
        .filter(room_messages::client_id.eq(client_id))
        .select(RoomMessage::as_select())
        .first(c)
        .optional()?)
}

fn mentions_of(c: &mut DbConnection, m: &RoomMessage) -> StorageResult<Vec<AgentId>> {
    let ids: Vec<i64> = room_mentions::table
        .filter(room_mentions::room_id.eq(m.room_id))
        .filter(room_mentions::seq.eq(m.seq))
        .select(room_mentions::agent_id)
        .load(c)?;
    Ok(ids.into_iter().map(AgentId).collect())
}

/// Mentioned agents of each message, in the order given.
pub fn mentions_for(
    c: &mut DbConnection,
    msgs: &[RoomMessage],
) -> StorageResult<Vec<Vec<AgentId>>> {
    let (Some(first), Some(last)) = (msgs.first(), msgs.last()) else {
        return Ok(Vec::new());
    };
    let rows: Vec<(i64, i64)> = room_mentions::table
        .filter(room_mentions::room_id.eq(first.room_id))
        .filter(room_mentions::seq.between(first.seq, last.seq))
        .select((room_mentions::seq, room_mentions::agent_id))
        .load(c)?;
    Ok(msgs
        .iter()
        .map(|m| {
            rows.iter()
                .filter(|(s, _)| *s == m.seq)
                .map(|(_, a)| AgentId(*a))
                .collect()
        })
        .collect())
}

/// A page of a room's history for a member, oldest first: after `after`,
/// before `before`, or the newest.
pub fn page(
    conn: &mut DbConnection,
    room: RoomId,
    agent: AgentId,
    after: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> StorageResult<Vec<RoomMessage>> {
    for_member(conn, room, agent)?;
    let q = room_messages::table
        .filter(room_messages::room_id.eq(room.0))
        .select(RoomMessage::as_select());
    Ok(match (after, before) {
        (Some(a), None) => q
            .filter(room_messages::seq.gt(a))
            .order(room_messages::seq.asc())
            .limit(limit)
            .load(conn)?,
        (_, b) => {
            let mut v: Vec<RoomMessage> = q
                .filter(room_messages::seq.lt(b.unwrap_or(i64::MAX)))
                .order(room_messages::seq.desc())
                .limit(limit)
                .load(conn)?;
            v.reverse();
            v
        }
    })
}

#[cfg(test)]
mod tests {
    use super::mentioned;

    #[test]
    fn mentions_are_usernames_after_an_at() {
        assert_eq!(
            mentioned("@lin can you take this? cc @Wang."),
            ["lin", "wang"]
        );
        assert_eq!(mentioned("mail me at x@lin.example"), Vec::<String>::new());
        assert_eq!(mentioned("@lin @lin @"), ["lin"]);
        assert_eq!(mentioned("问一下@lin"), Vec::<String>::new());
    }
}
