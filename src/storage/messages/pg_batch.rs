//! PostgreSQL: the whole batch in four statements whatever its size (arrays
//! and UNNEST), so a batch costs one commit and a handful of round trips.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

use super::repeats::Repeats;
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
    batch: &[&OwnedNewMessage],
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
    batch: &[&OwnedNewMessage],
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
        let repeats = Repeats::find(batch);
        let mut fresh: Vec<usize> = Vec::new();
        for (i, m) in batch.iter().enumerate() {
            if repeats.is_repeat(i) {
                continue;
            }
            // (Only the look-up fills `known`: no key is built otherwise.)
            let orig = match m.client_id.as_deref() {
                Some(cid) if !known.is_empty() => known.get(&(m.conversation_id.0, cid.to_owned())),
                _ => None,
            };
            match orig {
                Some(orig) => results[i] = Some(Ok(Stored::Duplicate(orig.clone()))),
                None => fresh.push(i),
            }
        }

        // 2. Every conversation's row lock (in id order), then the next seqs in one statement.
        let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
        for &i in &fresh {
            *counts.entry(batch[i].conversation_id.0).or_default() += 1;
        }
        let (ids, ns): (Vec<i64>, Vec<i64>) = counts.iter().map(|(k, v)| (*k, *v)).unzip();
        let bumped: Vec<Bumped> = if ids.is_empty() {
            Vec::new()
        } else {
            crate::storage::conversations::lock_in_id_order_pg(c, &ids)?;
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

        repeats.answer(&mut results);
        Ok(results.into_iter().map(|r| r.unwrap_or(Err(StorageError::NotFound))).collect())
    })
}
