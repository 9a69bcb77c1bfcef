//! Messages: stored before they are acknowledged, numbered 1, 2, 3… per
//! conversation with no gaps, and idempotent per (conversation, client_id).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{conversations, messages};
use super::{DbConnection, StorageError, StorageResult};
use crate::domain::{AgentId, ConversationId, ConversationStatus, MessageId, Sender};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub sender: Sender,
    pub agent_id: Option<AgentId>,
    pub client_id: Option<String>,
    pub body: String,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = messages)]
struct Row {
    id: i64,
    conversation_id: i64,
    seq: i64,
    sender: String,
    agent_id: Option<i64>,
    client_id: Option<String>,
    body: String,
    created_at: NaiveDateTime,
}

impl From<Row> for Message {
    fn from(r: Row) -> Self {
        Message {
            id: MessageId(r.id),
            conversation_id: ConversationId(r.conversation_id),
            seq: r.seq,
            sender: Sender::parse(&r.sender).unwrap_or(Sender::System),
            agent_id: r.agent_id.map(AgentId),
            client_id: r.client_id,
            body: r.body,
            created_at: r.created_at,
        }
    }
}

pub struct NewMessage<'a> {
    pub conversation_id: ConversationId,
    pub sender: Sender,
    pub agent_id: Option<AgentId>,
    pub client_id: Option<&'a str>,
    pub body: &'a str,
}

/// `Duplicate` is the original message of a resent `client_id`: nothing new was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    New(Message),
    Duplicate(Message),
}

enum TxError {
    Storage(StorageError),
    Duplicate(Message),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Storage(e.into())
    }
}

impl From<StorageError> for TxError {
    fn from(e: StorageError) -> Self {
        TxError::Storage(e)
    }
}

fn by_client_id(
    conn: &mut DbConnection,
    conv: ConversationId,
    client_id: &str,
) -> StorageResult<Option<Message>> {
    Ok(messages::table
        .filter(messages::conversation_id.eq(conv.0))
        .filter(messages::client_id.eq(client_id))
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?
        .map(Into::into))
}

/// Stores a message. The first statement bumps the conversation's `last_seq`,
/// which takes its row lock (PostgreSQL) or the writer lock (SQLite): concurrent
/// senders to one conversation are serialised there, so `seq` has no gaps and
/// a resent `client_id` is always seen.
pub fn insert(
    conn: &mut DbConnection,
    new: &NewMessage<'_>,
    now: NaiveDateTime,
) -> StorageResult<Stored> {
    let result = conn.transaction::<Message, TxError, _>(|c| {
        let bumped = diesel::update(
            conversations::table
                .find(new.conversation_id.0)
                .filter(conversations::status.ne(ConversationStatus::Closed.as_str())),
        )
        .set((
            conversations::last_seq.eq(conversations::last_seq + 1),
            conversations::updated_at.eq(now),
        ))
        .execute(c)?;
        if bumped == 0 {
            let exists = conversations::table
                .find(new.conversation_id.0)
                .count()
                .get_result::<i64>(c)?;
            return Err(if exists == 0 {
                StorageError::NotFound
            } else {
                StorageError::ConversationClosed
            }
            .into());
        }
        if let Some(cid) = new.client_id {
            if let Some(original) = by_client_id(c, new.conversation_id, cid)? {
                return Err(TxError::Duplicate(original));
            }
        }
        let seq: i64 = conversations::table
            .find(new.conversation_id.0)
            .select(conversations::last_seq)
            .first(c)?;
        diesel::insert_into(messages::table)
            .values((
                messages::conversation_id.eq(new.conversation_id.0),
                messages::seq.eq(seq),
                messages::sender.eq(new.sender.as_str()),
                messages::agent_id.eq(new.agent_id.map(|a| a.0)),
                messages::client_id.eq(new.client_id),
                messages::body.eq(new.body),
                messages::created_at.eq(now),
            ))
            .execute(c)?;
        Ok(messages::table
            .filter(messages::conversation_id.eq(new.conversation_id.0))
            .filter(messages::seq.eq(seq))
            .select(Row::as_select())
            .first::<Row>(c)?
            .into())
    });
    match result {
        Ok(m) => Ok(Stored::New(m)),
        Err(TxError::Duplicate(m)) => Ok(Stored::Duplicate(m)),
        Err(TxError::Storage(e)) => Err(e),
    }
}

/// Messages with `seq > after`, oldest first, at most `limit`.
pub fn after(
    conn: &mut DbConnection,
    conv: ConversationId,
    after: i64,
    limit: i64,
) -> StorageResult<Vec<Message>> {
    Ok(messages::table
        .filter(messages::conversation_id.eq(conv.0))
        .filter(messages::seq.gt(after))
        .order(messages::seq.asc())
        .limit(limit)
        .select(Row::as_select())
        .load::<Row>(conn)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The `limit` messages just before `before`, oldest first (scrolling back).
pub fn before(
    conn: &mut DbConnection,
    conv: ConversationId,
    before: i64,
    limit: i64,
) -> StorageResult<Vec<Message>> {
    let mut rows: Vec<Message> = messages::table
        .filter(messages::conversation_id.eq(conv.0))
        .filter(messages::seq.lt(before))
        .order(messages::seq.desc())
        .limit(limit)
        .select(Row::as_select())
        .load::<Row>(conn)?
        .into_iter()
        .map(Into::into)
        .collect();
    rows.reverse();
    Ok(rows)
}

pub fn count(conn: &mut DbConnection, conv: ConversationId) -> StorageResult<i64> {
    Ok(messages::table
        .filter(messages::conversation_id.eq(conv.0))
        .count()
        .get_result(conn)?)
}
