//! A visitor's message on its way in: opening a conversation when it needs
//! one, putting its files on it, storing it.

use std::sync::Arc;

use super::super::messages::{OpenConversation, Origin, SessionId};
use super::super::protocol::{code, FileView, MessageView};
use super::super::ChatContext;
use crate::domain::message::{ClientId, MessageBody};
use crate::domain::{ConversationId, Sender, Visitor};
use crate::storage::messages::OwnedNewMessage;
use crate::storage::writer::Place;
use crate::storage::{attachments, conversations, StorageError};

/// Why a visitor's message was not stored.
#[derive(Debug)]
pub(super) enum SendError {
    Storage(StorageError),
    /// It would have opened a conversation, and this address opened its share this minute.
    TooManyConversations,
    /// A file that is not this visitor's upload, or was sent with another message.
    BadFile,
}

impl From<StorageError> for SendError {
    fn from(e: StorageError) -> Self {
        SendError::Storage(e)
    }
}

pub fn message_code(e: crate::domain::MessageError) -> &'static str {
    match e {
        crate::domain::MessageError::EmptyBody => code::EMPTY_BODY,
        crate::domain::MessageError::BodyTooLong => code::BODY_TOO_LONG,
        crate::domain::MessageError::BadClientId => code::BAD_CLIENT_ID,
        crate::domain::MessageError::TooManyFiles => code::TOO_MANY_FILES,
    }
}

/// Stores one visitor message (opening a conversation if there is none yet
/// or the last one was closed) and hands it to the Dispatcher. Returns the
/// message and its conversation.
///
/// The current conversation is always tried first, closed or not: a resend
/// of a message stored there before it closed must get its original back,
/// not be stored again in a new conversation. A new message into a closed
/// one is refused, and then starts the next conversation.
pub(super) async fn store_visitor_message(
    cx: Arc<ChatContext>,
    (session, ip): (SessionId, std::net::IpAddr),
    visitor: Visitor,
    current: Option<ConversationId>,
    client_id: ClientId,
    (body, files, offline): (MessageBody, Vec<i64>, Option<String>),
    place: &mut Option<Place>,
) -> Result<(MessageView, ConversationId), SendError> {
    let mut open = current.is_some();
    let mut conversation = current.unwrap_or(ConversationId(0));
    for attempt in 0..2 {
        if !open {
            let vid = visitor.visitor_id();
            if !files.is_empty() {
                let (ids, cid) = (files.clone(), client_id.as_str().to_owned());
                let ok = cx
                    .storage
                    .run(move |db| attachments::sendable_by_visitor(db, &ids, vid, &cid))
                    .await?;
                if !ok {
                    return Err(SendError::BadFile);
                }
            }
            let now = cx.clock.now_naive();
            if !cx.visitor_limits.new_conversation(ip, cx.clock.now()) {
                tracing::warn!(%ip, "new conversation refused: address over its limit");
                return Err(SendError::TooManyConversations);
            }
            let conv = match &cx.opens {
                Some(opens) => opens.open(vid).await?,
                None => {
                    cx.storage
                        .run(move |db| conversations::open_or_create(db, vid, now))
                        .await?
                }
            };
            conversation = conv.id;
            cx.dispatcher
                .send(OpenConversation {
                    visitor: visitor.clone(),
                    conversation: conv,
                })
                .await
                .map_err(|_| StorageError::Unavailable("dispatcher stopped"))?;
        }
        if let Some(email) = offline.clone() {
            // Left while nobody was there: marked so, and where to answer kept.
            let vid = visitor.visitor_id();
            cx.storage
                .run(move |db| {
                    crate::storage::visitors::update_profile(
                        db,
                        vid,
                        None,
                        Some(Some(email)),
                        None,
                    )?;
                    conversations::mark_offline(db, conversation)
                })
                .await?;
        }
        let message = OwnedNewMessage {
            conversation_id: conversation,
            sender: Sender::Visitor,
            agent_id: None,
            client_id: Some(client_id.as_str().to_owned()),
            body: body.as_str().to_owned(),
        };
        let sent = send_files(&cx, &files, &visitor, conversation, &client_id).await?;
        // Its place, taken when it was read; a second try takes another.
        let held = match place {
            Some(p) => p,
            None => place.insert(cx.writer.admit()?),
        };
        match cx
            .store_admitted(held, message, sent.clone(), Origin::Visitor(session))
            .await
        {
            Ok(stored) => {
                let mut view = MessageView::from(stored.message());
                view.files = sent;
                return Ok((view, conversation));
            }
            // Closed meanwhile: this message starts the visitor's next conversation.
            Err(StorageError::ConversationClosed) if attempt == 0 => {
                open = false;
                *place = None;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(StorageError::ConversationClosed.into())
}

/// Puts the visitor's uploads on its message before the message is stored.
async fn send_files(
    cx: &ChatContext,
    files: &[i64],
    visitor: &Visitor,
    conversation: ConversationId,
    client_id: &ClientId,
) -> Result<Vec<FileView>, SendError> {
    let by = attachments::Party::Visitor(visitor.visitor_id());
    match cx
        .send_files(files, by, conversation, client_id.as_str(), false)
        .await
    {
        Ok(sent) => Ok(sent),
        Err(StorageError::NotFound) => Err(SendError::BadFile),
        Err(e) => Err(e.into()),
    }
}
