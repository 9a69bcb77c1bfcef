//! SQLite, the common case: no resends, every conversation open. Two
//! prepared statements per conversation (bump `last_seq` and read it back,
//! insert each message and read its id back) instead of six. Resends are
//! rare, so they are not looked for: the unique index catches one, and the
//! batch is rolled back and left to the full path (`Conflict`), as is a batch
//! with a closed or unknown conversation.

use chrono::NaiveDateTime;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

use super::repeats::Repeats;
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
    batch: &[&OwnedNewMessage],
    now: NaiveDateTime,
) -> StorageResult<Vec<StorageResult<Stored>>> {
    let repeats = Repeats::find(batch);
    let by_conv = repeats.written_by_conversation(batch);
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
        repeats.answer(&mut results);
        Ok(results.into_iter().map(|r| r.unwrap_or(Err(StorageError::NotFound))).collect())
    })
}
