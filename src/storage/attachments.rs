//! Attachments' metadata: whose a file is and which message or note carries
//! it. The bytes are the file store's (`files`), named by SHA-256, so the
//! same file uploaded twice is stored once.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::attachments;
use super::{last_insert_id, take_write_lock, DbConnection, StorageError, StorageResult};
use crate::domain::{AgentId, ConversationId, VisitorId};

pub use crate::domain::attachment::PER_MESSAGE;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = attachments)]
pub struct Attachment {
    pub id: i64,
    pub visitor_id: i64,
    pub conversation_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub uploaded_by_agent: bool,
    pub sha256: String,
    pub name: String,
    pub mime: String,
    pub size: i64,
    /// The message's (or note's) `client_id` once sent with one.
    pub client_id: Option<String>,
    /// Sent with a private note: agents only.
    pub private: bool,
    pub created_at: NaiveDateTime,
}

impl Attachment {
    /// The visitor sees its own uploads, and an agent's once sent in a
    /// message to it; never a file of a note, nor one not sent yet.
    pub fn visible_to_visitor(&self, visitor: VisitorId) -> bool {
        self.visitor_id == visitor.0
            && !self.private
            && (!self.uploaded_by_agent || self.client_id.is_some())
    }
}

/// Who uploads, or sends files with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Visitor(VisitorId),
    /// An agent, always for one conversation (of `visitor`).
    Agent(AgentId),
}

pub struct NewAttachment<'a> {
    pub visitor: VisitorId,
    pub conversation: Option<ConversationId>,
    pub by: Party,
    pub sha256: &'a str,
    pub name: &'a str,
    pub mime: &'a str,
    pub size: u64,
}

pub fn insert(
    conn: &mut DbConnection,
    a: &NewAttachment<'_>,
    now: NaiveDateTime,
) -> StorageResult<Attachment> {
    let agent = match a.by {
        Party::Agent(id) => Some(id.0),
        Party::Visitor(_) => None,
    };
    conn.transaction(|c| {
        diesel::insert_into(attachments::table)
            .values((
                attachments::visitor_id.eq(a.visitor.0),
                attachments::conversation_id.eq(a.conversation.map(|c| c.0)),
                attachments::agent_id.eq(agent),
                attachments::uploaded_by_agent.eq(agent.is_some()),
                attachments::sha256.eq(a.sha256),
                attachments::name.eq(a.name),
                attachments::mime.eq(a.mime),
                attachments::size.eq(a.size as i64),
                attachments::private.eq(false),
                attachments::created_at.eq(now),
            ))
            .execute(c)?;
        let id = last_insert_id(c, "attachments")?;
        find(c, id)
    })
}

pub fn find(conn: &mut DbConnection, id: i64) -> StorageResult<Attachment> {
    attachments::table
        .find(id)
        .select(Attachment::as_select())
        .first(conn)
        .optional()?
        .ok_or(StorageError::NotFound)
}

/// Puts files on the message or note `client_id` of `conversation`. Each
/// must be `by`'s own upload (a visitor's to this conversation's visitor,
/// which the caller checked; an agent's to this conversation) and not sent
/// with anything else; a resend of the same `client_id` finds them on it
/// already. All or none: `NotFound` if any is not so.
pub fn send_with(
    conn: &mut DbConnection,
    ids: &[i64],
    by: Party,
    conversation: ConversationId,
    client_id: &str,
    private: bool,
) -> StorageResult<Vec<Attachment>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if ids.len() > PER_MESSAGE {
        return Err(StorageError::Conflict);
    }
    conn.transaction(|c| {
        take_write_lock(c)?;
        // The conditions are in the UPDATE itself, so of two sends racing for
        // one file, the second finds it taken (PostgreSQL re-checks a row
        // another transaction changed).
        let free = attachments::client_id.is_null().or(attachments::client_id
            .eq(client_id)
            .and(attachments::private.eq(private)));
        let target = attachments::table
            .filter(attachments::id.eq_any(&ids))
            .filter(free);
        let set = (
            attachments::conversation_id.eq(conversation.0),
            attachments::client_id.eq(client_id),
            attachments::private.eq(private),
        );
        let changed = match by {
            Party::Visitor(v) => diesel::update(
                target
                    .filter(attachments::uploaded_by_agent.eq(false))
                    .filter(attachments::visitor_id.eq(v.0)),
            )
            .set(set)
            .execute(c)?,
            Party::Agent(a) => diesel::update(
                target
                    .filter(attachments::uploaded_by_agent.eq(true))
                    .filter(attachments::agent_id.eq(a.0))
                    .filter(attachments::conversation_id.eq(conversation.0)),
            )
            .set(set)
            .execute(c)?,
        };
        if changed != ids.len() {
            return Err(StorageError::NotFound);
        }
        Ok(attachments::table
            .filter(attachments::id.eq_any(&ids))
            .order(attachments::id.asc())
            .select(Attachment::as_select())
            .load(c)?)
    })
}

/// The files sent with the given messages (and notes, `with_private`).
pub fn sent_with(
    conn: &mut DbConnection,
    conversation: ConversationId,
    client_ids: &[&str],
    with_private: bool,
) -> StorageResult<Vec<Attachment>> {
    if client_ids.is_empty() {
        return Ok(Vec::new());
    }
    sent(conn, conversation, Some(client_ids), with_private)
}

/// Every file sent in a conversation (`with_private`: with the notes').
pub fn of_conversation(
    conn: &mut DbConnection,
    conversation: ConversationId,
    with_private: bool,
) -> StorageResult<Vec<Attachment>> {
    sent(conn, conversation, None, with_private)
}

/// The files sent in a conversation, with the given messages only if `only`.
fn sent(
    conn: &mut DbConnection,
    conversation: ConversationId,
    only: Option<&[&str]>,
    with_private: bool,
) -> StorageResult<Vec<Attachment>> {
    let mut q = attachments::table
        .filter(attachments::conversation_id.eq(conversation.0))
        .filter(attachments::client_id.is_not_null())
        .into_boxed();
    if let Some(ids) = only {
        q = q.filter(attachments::client_id.eq_any(ids));
    }
    if !with_private {
        q = q.filter(attachments::private.eq(false));
    }
    Ok(q.order(attachments::id.asc())
        .select(Attachment::as_select())
        .load(conn)?)
}

/// Whether `send_with` would take these files from `visitor` now: asked
/// before a message opens a conversation, which a refused one must not.
pub fn sendable_by_visitor(
    conn: &mut DbConnection,
    ids: &[i64],
    visitor: VisitorId,
    client_id: &str,
) -> StorageResult<bool> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let n: i64 = attachments::table
        .filter(attachments::id.eq_any(&ids))
        .filter(attachments::uploaded_by_agent.eq(false))
        .filter(attachments::visitor_id.eq(visitor.0))
        .filter(
            attachments::client_id.is_null().or(attachments::client_id
                .eq(client_id)
                .and(attachments::private.eq(false))),
        )
        .count()
        .get_result(conn)?;
    Ok(n as usize == ids.len() && ids.len() <= PER_MESSAGE)
}
