//! Messages: stored before they are acknowledged, numbered 1, 2, 3… per
//! conversation with no gaps, and idempotent per (conversation, client_id).

use chrono::{NaiveDateTime, Timelike};
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
    // Stored timestamps have microsecond precision: acknowledge what is stored.
    let now = now
        .with_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now);
    match conn {
        DbConnection::Pg(pg) => pg_batch::insert(pg, batch, now),
        DbConnection::Sqlite(_) => insert_batch_by_conversation(conn, batch, now),
    }
}

/// Portable version: a few statements per conversation (cheap on SQLite, in process).
fn insert_batch_by_conversation(
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

/// PostgreSQL: the whole batch in four statements whatever its size (arrays
/// and UNNEST), so a batch costs one commit and a handful of round trips.
mod pg_batch {
    use std::collections::{BTreeMap, HashMap, HashSet};

    use chrono::NaiveDateTime;
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
    use diesel::{sql_query, Connection, PgConnection, QueryableByName, RunQueryDsl};

    use super::{Message, OwnedNewMessage, Row, Stored};
    use crate::domain::{ConversationId, MessageId};
    use crate::storage::{StorageError, StorageResult};

    #[derive(QueryableByName)]
    struct Bumped {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = BigInt)]
        last_seq: i64,
    }

    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }

    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = BigInt)]
        conversation_id: i64,
        #[diesel(sql_type = BigInt)]
        seq: i64,
    }

    pub fn insert(
        pg: &mut PgConnection,
        batch: &[OwnedNewMessage],
        now: NaiveDateTime,
    ) -> StorageResult<Vec<StorageResult<Stored>>> {
        pg.transaction::<_, StorageError, _>(|c| {
            let mut results: Vec<Option<StorageResult<Stored>>> = (0..batch.len()).map(|_| None).collect();

            // 1. Resends of messages already stored.
            let (keys_conv, keys_cid): (Vec<i64>, Vec<String>) = batch
                .iter()
                .filter_map(|m| m.client_id.clone().map(|cid| (m.conversation_id.0, cid)))
                .unzip();
            let mut known: HashMap<(i64, String), Message> = HashMap::new();
            if !keys_conv.is_empty() {
                let rows: Vec<Row> = sql_query(
                    "SELECT m.id, m.conversation_id, m.seq, m.sender, m.agent_id, m.client_id, m.body, m.created_at \
                     FROM messages m JOIN UNNEST($1::bigint[], $2::text[]) AS k(conversation_id, client_id) \
                     ON m.conversation_id = k.conversation_id AND m.client_id = k.client_id",
                )
                .bind::<Array<BigInt>, _>(&keys_conv)
                .bind::<Array<Text>, _>(&keys_cid)
                .load(c)?;
                for r in rows {
                    let m: Message = r.into();
                    if let Some(cid) = m.client_id.clone() {
                        known.insert((m.conversation_id.0, cid), m);
                    }
                }
            }
            let mut fresh: Vec<usize> = Vec::new();
            let mut first: HashMap<(i64, &str), usize> = HashMap::new();
            for (i, m) in batch.iter().enumerate() {
                match m.client_id.as_deref() {
                    Some(cid) => {
                        if let Some(orig) = known.get(&(m.conversation_id.0, cid.to_owned())) {
                            results[i] = Some(Ok(Stored::Duplicate(orig.clone())));
                        } else if let std::collections::hash_map::Entry::Vacant(e) = first.entry((m.conversation_id.0, cid)) {
                            e.insert(i);
                            fresh.push(i);
                        }
                    }
                    None => fresh.push(i),
                }
            }

            // 2. Every conversation's row lock and next seqs in one statement (locked in id order).
            let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
            for &i in &fresh {
                *counts.entry(batch[i].conversation_id.0).or_default() += 1;
            }
            let (ids, ns): (Vec<i64>, Vec<i64>) = counts.iter().map(|(k, v)| (*k, *v)).unzip();
            let bumped: Vec<Bumped> = if ids.is_empty() {
                Vec::new()
            } else {
                sql_query(
                    "UPDATE conversations c SET last_seq = c.last_seq + v.n, updated_at = $3 \
                     FROM (SELECT * FROM UNNEST($1::bigint[], $2::bigint[]) AS u(id, n) ORDER BY id) v \
                     WHERE c.id = v.id AND c.status <> 'closed' RETURNING c.id, c.last_seq",
                )
                .bind::<Array<BigInt>, _>(&ids)
                .bind::<Array<BigInt>, _>(&ns)
                .bind::<Timestamp, _>(now)
                .load(c)?
            };
            let mut next: HashMap<i64, i64> = bumped.iter().map(|b| (b.id, b.last_seq - counts[&b.id] + 1)).collect();

            // 3. Conversations not bumped are closed, or do not exist.
            let missing: Vec<i64> = ids.iter().copied().filter(|id| !next.contains_key(id)).collect();
            let existing: HashSet<i64> = if missing.is_empty() {
                HashSet::new()
            } else {
                sql_query("SELECT id FROM conversations WHERE id = ANY($1::bigint[])")
                    .bind::<Array<BigInt>, _>(&missing)
                    .load::<Id>(c)?
                    .into_iter()
                    .map(|r| r.id)
                    .collect()
            };

            // 4. Insert the new ones, in batch order within each conversation.
            let mut rows: Vec<(usize, i64, i64)> = Vec::new();
            for &i in &fresh {
                let conv = batch[i].conversation_id.0;
                match next.get_mut(&conv) {
                    Some(seq) => {
                        rows.push((i, conv, *seq));
                        *seq += 1;
                    }
                    None => {
                        results[i] = Some(Err(if existing.contains(&conv) {
                            StorageError::ConversationClosed
                        } else {
                            StorageError::NotFound
                        }))
                    }
                }
            }
            if !rows.is_empty() {
                let conv: Vec<i64> = rows.iter().map(|r| r.1).collect();
                let seq: Vec<i64> = rows.iter().map(|r| r.2).collect();
                let sender: Vec<&str> = rows.iter().map(|r| batch[r.0].sender.as_str()).collect();
                let agent: Vec<Option<i64>> = rows.iter().map(|r| batch[r.0].agent_id.map(|a| a.0)).collect();
                let cid: Vec<Option<&str>> = rows.iter().map(|r| batch[r.0].client_id.as_deref()).collect();
                let body: Vec<&str> = rows.iter().map(|r| batch[r.0].body.as_str()).collect();
                let inserted: Vec<Inserted> = sql_query(
                    "INSERT INTO messages (conversation_id, seq, sender, agent_id, client_id, body, created_at) \
                     SELECT u.conversation_id, u.seq, u.sender, u.agent_id, u.client_id, u.body, $7 \
                     FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[]) \
                       AS u(conversation_id, seq, sender, agent_id, client_id, body) \
                     RETURNING id, conversation_id, seq",
                )
                .bind::<Array<BigInt>, _>(&conv)
                .bind::<Array<BigInt>, _>(&seq)
                .bind::<Array<Text>, _>(&sender)
                .bind::<Array<Nullable<BigInt>>, _>(&agent)
                .bind::<Array<Nullable<Text>>, _>(&cid)
                .bind::<Array<Text>, _>(&body)
                .bind::<Timestamp, _>(now)
                .load(c)?;
                let ids: HashMap<(i64, i64), i64> = inserted.iter().map(|r| ((r.conversation_id, r.seq), r.id)).collect();
                for &(i, conv, seq) in &rows {
                    let m = &batch[i];
                    results[i] = Some(match ids.get(&(conv, seq)) {
                        Some(id) => Ok(Stored::New(Message {
                            id: MessageId(*id),
                            conversation_id: ConversationId(conv),
                            seq,
                            sender: m.sender,
                            agent_id: m.agent_id,
                            client_id: m.client_id.clone(),
                            body: m.body.clone(),
                            created_at: now,
                        })),
                        None => Err(StorageError::NotFound),
                    });
                }
            }

            // A client_id twice in this batch: the second is a resend of the first.
            for (i, m) in batch.iter().enumerate() {
                if results[i].is_some() {
                    continue;
                }
                let orig = m
                    .client_id
                    .as_deref()
                    .and_then(|cid| first.get(&(m.conversation_id.0, cid)))
                    .and_then(|&j| match &results[j] {
                        Some(Ok(Stored::New(n))) => Some(Ok(Stored::Duplicate(n.clone()))),
                        Some(Err(StorageError::ConversationClosed)) => Some(Err(StorageError::ConversationClosed)),
                        _ => None,
                    });
                results[i] = Some(orig.unwrap_or(Err(StorageError::NotFound)));
            }
            Ok(results.into_iter().map(|r| r.unwrap_or(Err(StorageError::NotFound))).collect())
        })
    }
}
