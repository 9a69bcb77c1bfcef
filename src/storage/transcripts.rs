//! Whole conversations for reading and download: an agent's transcript
//! (messages and private notes, in order) and a visitor's (messages only:
//! the notes table is never read for a visitor).

use diesel::prelude::*;

use super::messages::{self as store, Message};
use super::notes::{self, Note};
use super::schema::conversations;
use super::{attachments, conversations as convs, events, labels, visitors};
use super::{DbConnection, StorageResult};
use crate::domain::{Conversation, ConversationId, Visitor, VisitorId};

/// Messages in one transcript, at most (a longer one is cut, and says so).
pub const MAX_MESSAGES: i64 = 10_000;

pub struct Transcript {
    pub conversation: Conversation,
    pub visitor: Visitor,
    pub labels: Vec<labels::Label>,
    pub messages: Vec<Message>,
    /// Empty in a visitor's transcript.
    pub notes: Vec<Note>,
    /// Who had it when (empty in a visitor's transcript).
    pub events: Vec<events::Event>,
    /// The files sent in it (a visitor's: not the notes').
    pub files: Vec<attachments::Attachment>,
}

fn load(db: &mut DbConnection, id: ConversationId, with_notes: bool) -> StorageResult<Transcript> {
    let conversation = convs::find(db, id)?;
    let visitor = visitors::find(db, conversation.visitor_id)?;
    let labels = labels::of(db, &[id])?.remove(&id).unwrap_or_default();
    let messages = store::after(db, id, 0, MAX_MESSAGES)?;
    let (notes, events) = match with_notes {
        true => (
            notes::between(db, id, i64::MIN, i64::MAX, MAX_MESSAGES)?,
            events::of(db, id)?,
        ),
        false => (Vec::new(), Vec::new()),
    };
    let files = attachments::of_conversation(db, id, with_notes)?;
    Ok(Transcript {
        conversation,
        visitor,
        labels,
        messages,
        notes,
        events,
        files,
    })
}

/// For an agent (access checked by the caller): with its notes.
pub fn for_agent(db: &mut DbConnection, id: ConversationId) -> StorageResult<Transcript> {
    load(db, id, true)
}

/// A visitor's newest conversation, without notes (`NotFound`: none yet).
pub fn for_visitor(db: &mut DbConnection, visitor: VisitorId) -> StorageResult<Transcript> {
    let id: i64 = conversations::table
        .filter(conversations::visitor_id.eq(visitor.0))
        .order(conversations::id.desc())
        .select(conversations::id)
        .first(db)?;
    load(db, ConversationId(id), false)
}
