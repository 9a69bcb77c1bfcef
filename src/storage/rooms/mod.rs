//! Team rooms: a name, an optional topic and members (agents). A room marked
//! `everyone` has every active agent as its member, with no rows to keep in
//! step. Membership is read here for every action and every delivery, so a
//! change (from the console, the CLI or another node) counts at once.

pub mod messages;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{agents, room_members, room_mentions, room_messages, room_reads, rooms};
use super::{last_insert_id, take_write_lock, DbConnection, StorageError, StorageResult};
use crate::domain::{AgentId, RoomId};

pub const EVERYONE: &str = "everyone";
pub const NAME_MAX: usize = 64;
pub const TOPIC_MAX: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = rooms)]
pub struct Room {
    pub id: i64,
    pub name: String,
    pub topic: Option<String>,
    pub everyone: bool,
    pub last_seq: i64,
    pub created_at: NaiveDateTime,
}

/// Who a room's frames go to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Members {
    /// Every agent (the `everyone` room).
    All,
    Some(Vec<AgentId>),
}

impl Members {
    pub fn contains(&self, a: AgentId) -> bool {
        match self {
            Members::All => true,
            Members::Some(v) => v.contains(&a),
        }
    }
}

/// A room as one agent sees it (the `welcome` list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub room: Room,
    pub unread: i64,
    pub mentions: i64,
}

/// A room's name, checked: 1..64 visible characters, trimmed.
pub fn parse_name(raw: &str) -> Option<String> {
    let s = raw.trim();
    let n = s.chars().count();
    ((1..=NAME_MAX).contains(&n) && !s.chars().any(char::is_control)).then(|| s.to_owned())
}

/// A topic longer than `TOPIC_MAX` or with control characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadTopic;

/// A room and its members' (id, username).
pub type WithMembers = (Room, Vec<(AgentId, String)>);

/// A topic, checked (empty: none).
pub fn parse_topic(raw: Option<&str>) -> Result<Option<String>, BadTopic> {
    match raw.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) if t.chars().count() <= TOPIC_MAX && !t.chars().any(char::is_control) => {
            Ok(Some(t.to_owned()))
        }
        Some(_) => Err(BadTopic),
    }
}

pub fn create(
    conn: &mut DbConnection,
    name: &str,
    topic: Option<&str>,
    members: &[AgentId],
    now: NaiveDateTime,
) -> StorageResult<Room> {
    conn.transaction(|c| {
        diesel::insert_into(rooms::table)
            .values((
                rooms::name.eq(name),
                rooms::topic.eq(topic),
                rooms::everyone.eq(false),
                rooms::last_seq.eq(0i64),
                rooms::created_at.eq(now),
            ))
            .execute(c)?;
        let id = RoomId(last_insert_id(c, "rooms")?);
        for a in members {
            add_member_in(c, id, *a)?;
        }
        find(c, id)
    })
}

pub fn find(conn: &mut DbConnection, id: RoomId) -> StorageResult<Room> {
    Ok(rooms::table
        .find(id.0)
        .select(Room::as_select())
        .first(conn)?)
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> StorageResult<Room> {
    Ok(rooms::table
        .filter(rooms::name.eq(name.trim()))
        .select(Room::as_select())
        .first(conn)?)
}

/// Every room, by name, with its members' (id, username), for admins.
pub fn list(conn: &mut DbConnection) -> StorageResult<Vec<WithMembers>> {
    let all: Vec<Room> = rooms::table
        .order(rooms::name.asc())
        .select(Room::as_select())
        .load(conn)?;
    let rows: Vec<(i64, i64, String)> = room_members::table
        .inner_join(agents::table)
        .order(agents::username.asc())
        .select((room_members::room_id, agents::id, agents::username))
        .load(conn)?;
    let mut by_room: HashMap<i64, Vec<(AgentId, String)>> = HashMap::new();
    for (r, a, u) in rows {
        by_room.entry(r).or_default().push((AgentId(a), u));
    }
    Ok(all
        .into_iter()
        .map(|r| {
            let m = by_room.remove(&r.id).unwrap_or_default();
            (r, m)
        })
        .collect())
}

/// Renames a room and sets its topic (`everyone` keeps its name).
pub fn update(
    conn: &mut DbConnection,
    id: RoomId,
    name: &str,
    topic: Option<&str>,
) -> StorageResult<Room> {
    let room = find(conn, id)?;
    if room.everyone && name != room.name {
        return Err(StorageError::Conflict);
    }
    diesel::update(rooms::table.find(id.0))
        .set((rooms::name.eq(name), rooms::topic.eq(topic)))
        .execute(conn)?;
    find(conn, id)
}

/// Deletes a room (never `everyone`); answers who its members were.
pub fn delete(conn: &mut DbConnection, id: RoomId) -> StorageResult<Members> {
    conn.transaction(|c| {
        let room = find(c, id)?;
        if room.everyone {
            return Err(StorageError::Conflict);
        }
        let was = members(c, &room)?;
        // Children first: SQLite enforces the cascade only with foreign keys on.
        diesel::delete(room_mentions::table.filter(room_mentions::room_id.eq(id.0))).execute(c)?;
        diesel::delete(room_messages::table.filter(room_messages::room_id.eq(id.0))).execute(c)?;
        diesel::delete(room_reads::table.filter(room_reads::room_id.eq(id.0))).execute(c)?;
        diesel::delete(room_members::table.filter(room_members::room_id.eq(id.0))).execute(c)?;
        diesel::delete(rooms::table.find(id.0)).execute(c)?;
        Ok(was)
    })
}

fn add_member_in(c: &mut DbConnection, room: RoomId, agent: AgentId) -> StorageResult<bool> {
    let was: i64 = room_members::table
        .filter(room_members::room_id.eq(room.0))
        .filter(room_members::agent_id.eq(agent.0))
        .count()
        .get_result(c)?;
    if was > 0 {
        return Ok(false);
    }
    diesel::insert_into(room_members::table)
        .values((
            room_members::room_id.eq(room.0),
            room_members::agent_id.eq(agent.0),
        ))
        .execute(c)?;
    // A new member starts with nothing unread.
    let last: i64 = rooms::table.find(room.0).select(rooms::last_seq).first(c)?;
    diesel::delete(
        room_reads::table
            .filter(room_reads::room_id.eq(room.0))
            .filter(room_reads::agent_id.eq(agent.0)),
    )
    .execute(c)?;
    diesel::insert_into(room_reads::table)
        .values((
            room_reads::room_id.eq(room.0),
            room_reads::agent_id.eq(agent.0),
            room_reads::read_seq.eq(last),
        ))
        .execute(c)?;
    Ok(true)
}

/// Adds a member (not to `everyone`, which has them all). `Ok(false)`: it was one.
pub fn add_member(conn: &mut DbConnection, room: RoomId, agent: AgentId) -> StorageResult<bool> {
    conn.transaction(|c| {
        take_write_lock(c)?;
        if find(c, room)?.everyone {
            return Err(StorageError::Conflict);
        }
        add_member_in(c, room, agent)
    })
}

/// `Ok(false)`: it was not a member.
pub fn remove_member(conn: &mut DbConnection, room: RoomId, agent: AgentId) -> StorageResult<bool> {
    if find(conn, room)?.everyone {
        return Err(StorageError::Conflict);
    }
    let n = diesel::delete(
        room_members::table
            .filter(room_members::room_id.eq(room.0))
            .filter(room_members::agent_id.eq(agent.0)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// The room's members now (`All` for `everyone`).
pub fn members(conn: &mut DbConnection, room: &Room) -> StorageResult<Members> {
    if room.everyone {
        return Ok(Members::All);
    }
    let ids: Vec<i64> = room_members::table
        .inner_join(agents::table)
        .filter(room_members::room_id.eq(room.id))
        .filter(agents::active.eq(true))
        .select(agents::id)
        .load(conn)?;
    Ok(Members::Some(ids.into_iter().map(AgentId).collect()))
}

/// The room, if `agent` (active) is a member; `NotFound` for an unknown
/// room and for a non-member alike, so membership cannot be probed.
pub fn for_member(conn: &mut DbConnection, room: RoomId, agent: AgentId) -> StorageResult<Room> {
    let r = find(conn, room)?;
    let active: bool = agents::table
        .find(agent.0)
        .select(agents::active)
        .first(conn)?;
    let member = r.everyone
        || room_members::table
            .filter(room_members::room_id.eq(room.0))
            .filter(room_members::agent_id.eq(agent.0))
            .count()
            .get_result::<i64>(conn)?
            > 0;
    match active && member {
        true => Ok(r),
        false => Err(StorageError::NotFound),
    }
}

/// The rooms `agent` belongs to, by name, with its unread and mention counts.
pub fn for_agent(conn: &mut DbConnection, agent: AgentId) -> StorageResult<Vec<Summary>> {
    let listed: Vec<Room> = rooms::table
        .left_join(
            room_members::table.on(room_members::room_id
                .eq(rooms::id)
                .and(room_members::agent_id.eq(agent.0))),
        )
        .filter(
            rooms::everyone
                .eq(true)
                .or(room_members::agent_id.is_not_null()),
        )
        .order(rooms::name.asc())
        .select(Room::as_select())
        .load(conn)?;
    let mut out = Vec::with_capacity(listed.len());
    for room in listed {
        let read = read_seq(conn, RoomId(room.id), agent, room.last_seq)?;
        let unread = room_messages::table
            .filter(room_messages::room_id.eq(room.id))
            .filter(room_messages::seq.gt(read))
            .filter(room_messages::agent_id.ne(agent.0))
            .count()
            .get_result(conn)?;
        let mentions = room_mentions::table
            .filter(room_mentions::room_id.eq(room.id))
            .filter(room_mentions::agent_id.eq(agent.0))
            .filter(room_mentions::seq.gt(read))
            .count()
            .get_result(conn)?;
        out.push(Summary {
            room,
            unread,
            mentions,
        });
    }
    Ok(out)
}

/// How far `agent` has read; an agent new to an `everyone` room starts at
/// its current end (recorded), not with its whole past unread.
fn read_seq(c: &mut DbConnection, room: RoomId, agent: AgentId, last: i64) -> StorageResult<i64> {
    let seen: Option<i64> = room_reads::table
        .filter(room_reads::room_id.eq(room.0))
        .filter(room_reads::agent_id.eq(agent.0))
        .select(room_reads::read_seq)
        .first(c)
        .optional()?;
    if let Some(s) = seen {
        return Ok(s);
    }
    // In a savepoint: a second tab recording it at the same moment is fine.
    let recorded = c.transaction(|c| {
        diesel::insert_into(room_reads::table)
            .values((
                room_reads::room_id.eq(room.0),
                room_reads::agent_id.eq(agent.0),
                room_reads::read_seq.eq(last),
            ))
            .execute(c)
            .map_err(StorageError::from)
    });
    match recorded {
        Ok(_) => Ok(last),
        Err(StorageError::Conflict) => Ok(room_reads::table
            .filter(room_reads::room_id.eq(room.0))
            .filter(room_reads::agent_id.eq(agent.0))
            .select(room_reads::read_seq)
            .first(c)?),
        Err(e) => Err(e),
    }
}

/// `agent` (a member) has read up to `seq`; never moves back.
pub fn mark_read(
    conn: &mut DbConnection,
    room: RoomId,
    agent: AgentId,
    seq: i64,
) -> StorageResult<()> {
    conn.transaction(|c| {
        take_write_lock(c)?;
        let r = for_member(c, room, agent)?;
        let seq = seq.clamp(0, r.last_seq);
        let before = read_seq(c, room, agent, 0)?;
        if seq > before {
            diesel::update(
                room_reads::table
                    .filter(room_reads::room_id.eq(room.0))
                    .filter(room_reads::agent_id.eq(agent.0)),
            )
            .set(room_reads::read_seq.eq(seq))
            .execute(c)?;
        }
        Ok(())
    })
}

/// Every room's last `seq` (the Desk's delivery lines start after them).
pub fn last_seqs(conn: &mut DbConnection) -> StorageResult<Vec<(RoomId, i64)>> {
    let rows: Vec<(i64, i64)> = rooms::table
        .select((rooms::id, rooms::last_seq))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, s)| (RoomId(id), s)).collect())
}
