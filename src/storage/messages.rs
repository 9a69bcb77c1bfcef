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

/// A message to store, owned (it travels to the group-commit writer thread).
#[derive(Debug, Clone)]
pub struct OwnedNewMessage {
    pub conversation_id: ConversationId,
    pub sender: Sender,
    pub agent_id: Option<AgentId>,
    pub client_id: Option<String>,
    pub body: String,
}

impl OwnedNewMessage {
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
pub fn insert_batch(
    conn: &mut DbConnection,
    batch: &[OwnedNewMessage],
    now: NaiveDateTime,
) -> StorageResult<Vec<StorageResult<Stored>>> {
    use std::collections::{BTreeMap, HashMap};
    let mut by_conv: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, m) in batch.iter().enumerate() {
        by_conv.entry(m.conversation_id.0).or_default().push(i);
    }
    conn.transaction(|c| {
        let mut results: Vec<Option<StorageResult<Stored>>> =
            (0..batch.len()).map(|_| None).collect();
        let mut rows = Vec::new();
        for (conv, idx) in &by_conv {
            let locked = diesel::update(
                conversations::table
                    .find(conv)
                    .filter(conversations::status.ne(ConversationStatus::Closed.as_str())),
            )
            .set(conversations::updated_at.eq(now))
            .execute(c)?;
            if locked == 0 {
                let exists = conversations::table
                    .find(conv)
                    .count()
                    .get_result::<i64>(c)?
                    > 0;
                for &i in idx {
                    results[i] = Some(Err(if exists {
                        StorageError::ConversationClosed
                    } else {
                        StorageError::NotFound
                    }));
                }
                continue;
            }
            // Resends: already stored, or twice in this very batch.
            let ids: Vec<&str> = idx
                .iter()
                .filter_map(|&i| batch[i].client_id.as_deref())
                .collect();
            let mut known: HashMap<String, Message> = HashMap::new();
            if !ids.is_empty() {
                let stored: Vec<Message> = messages::table
                    .filter(messages::conversation_id.eq(conv))
                    .filter(messages::client_id.eq_any(&ids))
                    .select(Row::as_select())
                    .load::<Row>(c)?
                    .into_iter()
                    .map(Into::into)
                    .collect();
                for m in stored {
                    if let Some(cid) = m.client_id.clone() {
                        known.insert(cid, m);
                    }
                }
            }
            let mut fresh: Vec<usize> = Vec::new();
            let mut first_in_batch: HashMap<&str, usize> = HashMap::new();
            for &i in idx {
                match batch[i].client_id.as_deref() {
                    Some(cid) if known.contains_key(cid) => {
                        results[i] = Some(Ok(Stored::Duplicate(known[cid].clone())))
                    }
                    Some(cid) if first_in_batch.contains_key(cid) => {} // filled in after the insert
                    Some(cid) => {
                        first_in_batch.insert(cid, i);
                        fresh.push(i);
                    }
                    None => fresh.push(i),
                }
            }
            if fresh.is_empty() {
                continue;
            }
            diesel::update(conversations::table.find(conv))
                .set(conversations::last_seq.eq(conversations::last_seq + fresh.len() as i64))
                .execute(c)?;
            let last: i64 = conversations::table
                .find(conv)
                .select(conversations::last_seq)
                .first(c)?;
            let base = last - fresh.len() as i64;
            for (k, &i) in fresh.iter().enumerate() {
                rows.push((i, *conv, base + 1 + k as i64));
            }
        }
        for &(i, conv, seq) in &rows {
            let m = &batch[i];
            diesel::insert_into(messages::table)
                .values((
                    messages::conversation_id.eq(conv),
                    messages::seq.eq(seq),
                    messages::sender.eq(m.sender.as_str()),
                    messages::agent_id.eq(m.agent_id.map(|a| a.0)),
                    messages::client_id.eq(m.client_id.as_deref()),
                    messages::body.eq(&m.body),
                    messages::created_at.eq(now),
                ))
                .execute(c)?;
        }
        // Read the new rows back (for their ids), one query per conversation.
        let mut first_seq: BTreeMap<i64, i64> = BTreeMap::new();
        for &(_, conv, seq) in &rows {
            let e = first_seq.entry(conv).or_insert(seq);
            *e = (*e).min(seq);
        }
        let mut new_rows: HashMap<(i64, i64), Message> = HashMap::new();
        for (conv, from) in first_seq {
            let got = messages::table
                .filter(messages::conversation_id.eq(conv))
                .filter(messages::seq.ge(from))
                .select(Row::as_select())
                .load::<Row>(c)?;
            for r in got {
                let m: Message = r.into();
                new_rows.insert((conv, m.seq), m);
            }
        }
        for &(i, conv, seq) in &rows {
            results[i] = Some(
                new_rows
                    .remove(&(conv, seq))
                    .map(Stored::New)
                    .ok_or(StorageError::NotFound),
            );
        }
        // A client_id sent twice in one batch: the second is a resend of the first.
        for (i, m) in batch.iter().enumerate() {
            if results[i].is_none() {
                let original = m.client_id.as_deref().and_then(|cid| {
                    batch
                        .iter()
                        .enumerate()
                        .find_map(|(j, o)| match &results[j] {
                            Some(Ok(Stored::New(n)))
                                if o.client_id.as_deref() == Some(cid)
                                    && o.conversation_id == m.conversation_id =>
                            {
                                Some(n.clone())
                            }
                            _ => None,
                        })
                });
                results[i] = Some(
                    original
                        .map(Stored::Duplicate)
                        .ok_or(StorageError::NotFound),
                );
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(StorageError::NotFound)))
            .collect())
    })
}
