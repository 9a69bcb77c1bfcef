//! Messages: stored before they are acknowledged, numbered 1, 2, 3… per
//! conversation with no gaps, and idempotent per (conversation, client_id).
//!
//! One guarantee, four write paths, one file each: `plain` (one message, one
//! transaction), and the group-commit batches `pg_batch` (PostgreSQL),
//! `sqlite_batch` (SQLite, no resends) and `by_conversation` (SQLite with
//! resends or closed conversations). A `client_id` twice in one batch is
//! sorted out by the one shared step in `repeats`.

mod by_conversation;
mod pg_batch;
mod plain;
mod repeats;
mod sqlite_batch;

pub use plain::insert;

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;

use super::schema::messages;
use super::{DbConnection, StorageError, StorageResult};
use crate::domain::{AgentId, ConversationId, MessageId, Sender};

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

#[derive(Queryable, Selectable, QueryableByName)]
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

impl Stored {
    /// The stored message, new or original.
    pub fn message(&self) -> &Message {
        match self {
            Stored::New(m) | Stored::Duplicate(m) => m,
        }
    }
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

/// These messages by id (those that exist), in id order.
pub fn by_ids(conn: &mut DbConnection, ids: &[i64]) -> StorageResult<Vec<Message>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows: Vec<Row> = messages::table
            .filter(messages::id.eq_any(chunk))
            .order(messages::id.asc())
            .select(Row::as_select())
            .load(conn)?;
        out.extend(rows.into_iter().map(Message::from));
    }
    Ok(out)
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

/// A message to store, owned (it travels to the group-commit writer thread).
#[derive(Debug, Clone)]
pub struct OwnedNewMessage {
    pub conversation_id: ConversationId,
    pub sender: Sender,
    pub agent_id: Option<AgentId>,
    pub client_id: Option<String>,
    pub body: String,
}

/// A row id read back from a hand-written statement.
#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

impl OwnedNewMessage {
    /// The message as stored with this id and `seq`.
    fn stored_as(&self, id: MessageId, seq: i64, created_at: NaiveDateTime) -> Message {
        Message {
            id,
            conversation_id: self.conversation_id,
            seq,
            sender: self.sender,
            agent_id: self.agent_id,
            client_id: self.client_id.clone(),
            body: self.body.clone(),
            created_at,
        }
    }

    pub fn borrow(&self) -> NewMessage<'_> {
        NewMessage {
            conversation_id: self.conversation_id,
            sender: self.sender,
            agent_id: self.agent_id,
            client_id: self.client_id.as_deref(),
            body: &self.body,
        }
    }
}

/// Stores many messages in one transaction (group commit), with the same
/// guarantees as `insert`: per conversation the row lock is taken first
/// (conversations in id order, so two batches cannot deadlock), resends return
/// their original, and the new ones get the next `seq`s in their order here.
/// One result per input, in input order.
pub fn insert_batch<M: std::borrow::Borrow<OwnedNewMessage>>(
    conn: &mut DbConnection,
    batch: &[M],
    now: NaiveDateTime,
) -> StorageResult<Vec<StorageResult<Stored>>> {
    let batch: Vec<&OwnedNewMessage> = batch.iter().map(|m| m.borrow()).collect();
    let batch = &batch[..];
    // Stored timestamps have microsecond precision: acknowledge what is stored.
    let now = now
        .with_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now);
    match conn {
        DbConnection::Pg(pg) => pg_batch::insert(pg, batch, now),
        DbConnection::Sqlite(sqlite) => match sqlite_batch::insert(sqlite, batch, now) {
            // A resend, or a conversation that is closed or gone: the
            // statement-per-step path below sorts those out.
            Err(StorageError::Conflict) => by_conversation::insert(conn, batch, now),
            other => other,
        },
    }
}
