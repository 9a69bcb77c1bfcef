//! One message in its own transaction (`LIVEDESK_WRITE_BATCH=1`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{by_client_id, Message, NewMessage, Row, Stored, TxError};
use crate::domain::ConversationStatus;
use crate::storage::schema::{conversations, messages};
use crate::storage::{DbConnection, StorageError, StorageResult};

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
