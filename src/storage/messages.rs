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
            // A resend of a message stored before the conversation closed gets
            // its original back; sent again, it would be stored twice.
            if let Some(cid) = new.client_id {
                if let Some(original) = by_client_id(c, new.conversation_id, cid)? {
                    return Err(TxError::Duplicate(original));
                }
            }
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
        DbConnection::Sqlite(sqlite) => match sqlite_batch::insert(sqlite, batch, now) {
            // A resend, or a conversation that is closed or gone: the
            // statement-per-step path below sorts those out.
            Err(StorageError::Conflict) => insert_batch_by_conversation(conn, batch, now),
            other => other,
        },
    }
}

/// SQLite, the common case: no resends, every conversation open. Two
/// prepared statements per conversation (bump `last_seq` and read it back,
/// insert each message and read its id back) instead of six. Resends are
/// rare, so they are not looked for: the unique index catches one, and the
/// batch is rolled back and left to the full path (`Conflict`), as is a batch
/// with a closed or unknown conversation.
mod sqlite_batch {
    use std::collections::{BTreeMap, HashMap};

    use chrono::NaiveDateTime;
    use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
    use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

    use super::{Id, OwnedNewMessage, Stored};
    use crate::domain::MessageId;
    use crate::storage::prepared::{bind, stmt};
    use crate::storage::{StorageError, StorageResult};

    #[derive(QueryableByName)]
    struct LastSeq {
        #[diesel(sql_type = BigInt)]
        last_seq: i64,
    }

    pub fn insert(
        c: &mut SqliteConnection,
        batch: &[OwnedNewMessage],
        now: NaiveDateTime,
    ) -> StorageResult<Vec<StorageResult<Stored>>> {
        // A client_id twice in this batch: the later one is a resend of the first.
        let mut first: HashMap<(i64, &str), usize> = HashMap::new();
        let mut resend_of: Vec<Option<usize>> = vec![None; batch.len()];
        let mut by_conv: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (i, m) in batch.iter().enumerate() {
            if let Some(cid) = m.client_id.as_deref() {
                if let Some(&j) = first.get(&(m.conversation_id.0, cid)) {
                    resend_of[i] = Some(j);
                    continue;
                }
                first.insert((m.conversation_id.0, cid), i);
            }
            by_conv.entry(m.conversation_id.0).or_default().push(i);
        }
        c.transaction::<_, StorageError, _>(|c| {
            let mut results: Vec<Option<StorageResult<Stored>>> = (0..batch.len()).map(|_| None).collect();
            for (conv, idx) in &by_conv {
                let n = idx.len() as i64;
                let bumped: Vec<LastSeq> = stmt(
                    "UPDATE conversations SET updated_at = ?, last_seq = last_seq + ? \
                     WHERE id = ? AND status <> 'closed' RETURNING last_seq",
                    (bind::<Timestamp, _>(&now), bind::<BigInt, _>(&n), bind::<BigInt, _>(conv)),
                )
                .load(c)?;
                let Some(last) = bumped.first().map(|b| b.last_seq) else {
                    return Err(StorageError::Conflict);
                };
                for (k, &i) in idx.iter().enumerate() {
                    let m = &batch[i];
                    let seq = last - n + 1 + k as i64;
                    let agent = m.agent_id.map(|a| a.0);
                    let id: Id = stmt(
                        "INSERT INTO messages (conversation_id, seq, sender, agent_id, client_id, body, created_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                        (
                            bind::<BigInt, _>(conv),
                            bind::<BigInt, _>(&seq),
                            bind::<Text, _>(m.sender.as_str()),
                            bind::<Nullable<BigInt>, _>(&agent),
                            bind::<Nullable<Text>, _>(&m.client_id),
                            bind::<Text, _>(m.body.as_str()),
                            bind::<Timestamp, _>(&now),
                        ),
                    )
                    .get_result(c)?;
                    results[i] = Some(Ok(Stored::New(m.stored_as(MessageId(id.id), seq, now))));
                }
            }
            for (i, j) in resend_of.iter().enumerate() {
                if let Some(j) = j {
                    results[i] = match &results[*j] {
                        Some(Ok(Stored::New(n))) => Some(Ok(Stored::Duplicate(n.clone()))),
                        _ => Some(Err(StorageError::NotFound)),
                    };
                }
            }
            Ok(results.into_iter().map(|r| r.unwrap_or(Err(StorageError::NotFound))).collect())
        })
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
                    // A resend of a message stored before it closed: the original.
                    if let Some(original) = match batch[i].client_id.as_deref() {
                        Some(cid) if exists => by_client_id(c, ConversationId(*conv), cid)?,
                        _ => None,
                    } {
                        results[i] = Some(Ok(Stored::Duplicate(original)));
                        continue;
                    }
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
    use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

    use super::{Id, Message, OwnedNewMessage, Row, Stored};
    use crate::domain::MessageId;
    use crate::storage::prepared::{bind, stmt};
    use crate::storage::{StorageError, StorageResult};

    #[derive(QueryableByName)]
    struct Bumped {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = BigInt)]
        last_seq: i64,
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
        // Resends are rare (a client that lost an answer), so the batch is
        // first written without looking for them; the unique index on
        // (conversation_id, client_id) catches one, and then the batch is
        // rolled back and written again with the look-up.
        match attempt(pg, batch, now, false) {
            Err(StorageError::Conflict) => attempt(pg, batch, now, true),
            other => other,
        }
    }

    fn attempt(
        pg: &mut PgConnection,
        batch: &[OwnedNewMessage],
        now: NaiveDateTime,
        look_up_resends: bool,
    ) -> StorageResult<Vec<StorageResult<Stored>>> {
        pg.transaction::<_, StorageError, _>(|c| {
            let mut results: Vec<Option<StorageResult<Stored>>> = (0..batch.len()).map(|_| None).collect();

            // 1. Resends of messages already stored.
            let mut known: HashMap<(i64, String), Message> = HashMap::new();
            if look_up_resends {
                let (keys_conv, keys_cid): (Vec<i64>, Vec<&str>) = batch
                    .iter()
                    .filter_map(|m| m.client_id.as_deref().map(|cid| (m.conversation_id.0, cid)))
                    .unzip();
                let rows: Vec<Row> = stmt(
                    "SELECT m.id, m.conversation_id, m.seq, m.sender, m.agent_id, m.client_id, m.body, m.created_at \
                     FROM messages m JOIN UNNEST(?::bigint[], ?::text[]) AS k(conversation_id, client_id) \
                     ON m.conversation_id = k.conversation_id AND m.client_id = k.client_id",
                    (bind::<Array<BigInt>, _>(&keys_conv), bind::<Array<Text>, _>(&keys_cid)),
                )
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
                        // (Only the look-up fills `known`: no key is built otherwise.)
                        let orig = if known.is_empty() { None } else { known.get(&(m.conversation_id.0, cid.to_owned())) };
                        if let Some(orig) = orig {
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
                stmt(
                    "UPDATE conversations c SET last_seq = c.last_seq + v.n, updated_at = ? \
                     FROM (SELECT * FROM UNNEST(?::bigint[], ?::bigint[]) AS u(id, n) ORDER BY id) v \
                     WHERE c.id = v.id AND c.status <> 'closed' RETURNING c.id, c.last_seq",
                    (bind::<Timestamp, _>(&now), bind::<Array<BigInt>, _>(&ids), bind::<Array<BigInt>, _>(&ns)),
                )
                .load(c)?
            };
            let mut next: HashMap<i64, i64> = bumped.iter().map(|b| (b.id, b.last_seq - counts[&b.id] + 1)).collect();

            // 3. Conversations not bumped are closed, or do not exist. A
            // resend into one must still get its original back (else the
            // sender would store it again in a new conversation), so without
            // the look-up the whole batch is written again with it.
            let missing: Vec<i64> = ids.iter().copied().filter(|id| !next.contains_key(id)).collect();
            if !look_up_resends
                && fresh
                    .iter()
                    .any(|&i| batch[i].client_id.is_some() && !next.contains_key(&batch[i].conversation_id.0))
            {
                return Err(StorageError::Conflict);
            }
            let existing: HashSet<i64> = if missing.is_empty() {
                HashSet::new()
            } else {
                stmt("SELECT id FROM conversations WHERE id = ANY(?::bigint[])", (bind::<Array<BigInt>, _>(&missing),))
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
                let inserted: Vec<Inserted> = stmt(
                    "INSERT INTO messages (conversation_id, seq, sender, agent_id, client_id, body, created_at) \
                     SELECT u.conversation_id, u.seq, u.sender, u.agent_id, u.client_id, u.body, ?::timestamp \
                     FROM UNNEST(?::bigint[], ?::bigint[], ?::text[], ?::bigint[], ?::text[], ?::text[]) \
                       AS u(conversation_id, seq, sender, agent_id, client_id, body) \
                     RETURNING id, conversation_id, seq",
                    (
                        bind::<Timestamp, _>(&now),
                        bind::<Array<BigInt>, _>(&conv),
                        bind::<Array<BigInt>, _>(&seq),
                        bind::<Array<Text>, _>(&sender),
                        bind::<Array<Nullable<BigInt>>, _>(&agent),
                        bind::<Array<Nullable<Text>>, _>(&cid),
                        bind::<Array<Text>, _>(&body),
                    ),
                )
                .load(c)?;
                let ids: HashMap<(i64, i64), i64> = inserted.iter().map(|r| ((r.conversation_id, r.seq), r.id)).collect();
                for &(i, conv, seq) in &rows {
                    results[i] = Some(match ids.get(&(conv, seq)) {
                        Some(id) => Ok(Stored::New(batch[i].stored_as(MessageId(*id), seq, now))),
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
