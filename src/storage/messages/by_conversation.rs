//! Portable version: a few statements per conversation (cheap on SQLite, in process).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use std::collections::{BTreeMap, HashMap};

use super::repeats::Repeats;
use super::{by_client_id, Message, OwnedNewMessage, Row, Stored};
use crate::domain::{ConversationId, ConversationStatus};
use crate::storage::schema::{conversations, messages};
use crate::storage::{DbConnection, StorageError, StorageResult};

pub(super) fn insert(
    conn: &mut DbConnection,
    batch: &[&OwnedNewMessage],
    now: NaiveDateTime,
) -> StorageResult<Vec<StorageResult<Stored>>> {
    let repeats = Repeats::find(batch);
    let by_conv = repeats.written_by_conversation(batch);
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
            for &i in idx {
                match batch[i].client_id.as_deref().and_then(|cid| known.get(cid)) {
                    Some(original) => results[i] = Some(Ok(Stored::Duplicate(original.clone()))),
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
        repeats.answer(&mut results);
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(StorageError::NotFound)))
            .collect())
    })
}
