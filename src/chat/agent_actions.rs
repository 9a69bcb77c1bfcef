//! What an agent does to a conversation, whoever asks: its socket, or the
//! REST API on its behalf. Each answers the socket protocol's error (its
//! stable `code`), and stores through the same path, so a message posted
//! either way gets the same `seq`, fan-out and guarantees.

use std::sync::Arc;

use super::messages::*;
use super::protocol::*;
use super::ChatContext;
use crate::domain::message::{ClientId, MessageBody};
use crate::domain::{ConversationId, Sender};
use crate::storage::messages::OwnedNewMessage;
use crate::storage::{conversations, notes, StorageError};

/// Why a request failed, as an `error` frame.
pub(crate) fn failure(e: ChatError, conversation: i64) -> ErrorBody {
    ErrorBody::new(e.code(), e.to_string()).conversation(conversation)
}

pub(crate) fn storage_failure(e: &StorageError, conversation: i64) -> ErrorBody {
    match e {
        StorageError::NotFound => failure(ChatError::NotFound, conversation),
        StorageError::ConversationClosed => failure(ChatError::Closed, conversation),
        StorageError::Unavailable(why) => {
            tracing::debug!(why, conversation_id = conversation, "agent request refused");
            ErrorBody::new(code::UNAVAILABLE, "please try again shortly").conversation(conversation)
        }
        other => {
            tracing::error!(error = %other, conversation_id = conversation, "agent request failed");
            ErrorBody::new(code::UNAVAILABLE, "please try again shortly").conversation(conversation)
        }
    }
}

/// Puts `card`'s uploads on the message or note `client_id` before it is stored.
pub(crate) async fn send_files(
    cx: &ChatContext,
    card: &AgentCard,
    (id, client_id): (ConversationId, &ClientId),
    files: &[i64],
    private: bool,
) -> Result<Vec<FileView>, ErrorBody> {
    let by = crate::storage::attachments::Party::Agent(card.id);
    cx.send_files(files, by, id, client_id.as_str(), private)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => ErrorBody::new(
                code::BAD_FILE,
                "a file is not one you uploaded here, or was sent already",
            )
            .conversation(id.0),
            e => storage_failure(&e, id.0),
        })
}

/// May `card` read `id` (`write`: act on it)? Live ones as the Desk says;
/// a closed one only its last agent or an admin.
pub(crate) async fn may_touch(
    cx: &ChatContext,
    card: &AgentCard,
    id: ConversationId,
    write: bool,
) -> Result<(), ErrorBody> {
    let access = cx
        .authorize(card, id, write)
        .await
        .map_err(|e| failure(e, id.0))?;
    if access == Access::NotLive {
        let conv = cx
            .storage
            .run(move |db| conversations::find(db, id))
            .await
            .map_err(|e| storage_failure(&e, id.0))?;
        if !(card.is_admin || conv.assignment.agent == Some(card.id)) {
            return Err(failure(ChatError::Forbidden, id.0));
        }
    }
    Ok(())
}

/// May `card` write to `id` now? A closed or unknown one says which.
pub(crate) async fn may_write(
    cx: &ChatContext,
    card: &AgentCard,
    id: ConversationId,
) -> Result<(), ErrorBody> {
    let access = cx
        .authorize(card, id, true)
        .await
        .map_err(|e| failure(e, id.0))?;
    if access == Access::NotLive {
        let known = cx.storage.run(move |db| conversations::find(db, id)).await;
        return Err(match known {
            Ok(_) => failure(ChatError::Closed, id.0),
            Err(e) => storage_failure(&e, id.0),
        });
    }
    Ok(())
}

/// The answer of a detached task (one that finishes whatever happens to the
/// socket); a task that died answers `unavailable`.
pub(crate) async fn detached<T>(
    task: actix_rt::task::JoinHandle<Result<T, ErrorBody>>,
) -> Result<T, ErrorBody> {
    task.await.unwrap_or_else(|_| {
        Err(ErrorBody::new(
            code::UNAVAILABLE,
            "please try again shortly",
        ))
    })
}

/// Stores an agent's message (as `card`, from `session`: its other sockets
/// are sent it, that one is not); once stored it reaches the Dispatcher
/// whatever happens to the asker (a detached task).
pub async fn message(
    cx: Arc<ChatContext>,
    (card, session): (AgentCard, SessionId),
    id: ConversationId,
    client_id: ClientId,
    (body, files): (MessageBody, Vec<i64>),
) -> Result<MessageView, ErrorBody> {
    let task = actix_rt::spawn(async move {
        may_write(&cx, &card, id).await?;
        let sent = send_files(&cx, &card, (id, &client_id), &files, false).await?;
        let message = OwnedNewMessage {
            conversation_id: id,
            sender: Sender::Agent,
            agent_id: Some(card.id),
            client_id: Some(client_id.as_str().to_owned()),
            body: body.as_str().to_owned(),
        };
        let stored = cx
            .store_message(message, sent.clone(), Origin::Agent(session))
            .await
            .map_err(|e| storage_failure(&e, id.0))?;
        let mut view = MessageView::from(stored.message());
        view.files = sent;
        Ok(view)
    });
    detached(task).await
}

/// Stores a private note, like a message but into the notes table, which no
/// visitor path reads; the Dispatcher delivers it to the owner's sockets.
pub async fn note(
    cx: Arc<ChatContext>,
    (card, session): (AgentCard, SessionId),
    id: ConversationId,
    client_id: ClientId,
    (body, files): (MessageBody, Vec<i64>),
) -> Result<MessageView, ErrorBody> {
    let task = actix_rt::spawn(async move {
        may_write(&cx, &card, id).await?;
        let sent = send_files(&cx, &card, (id, &client_id), &files, true).await?;
        let now = cx.clock.now_naive();
        let agent = card.id;
        let (note, new) = cx
            .storage
            .run(move |db| notes::insert(db, id, agent, client_id.as_str(), body.as_str(), now))
            .await
            .map_err(|e| storage_failure(&e, id.0))?;
        let mut view = MessageView::note(&note);
        view.files = sent;
        if new {
            cx.dispatcher.do_send(Deliver {
                message: view.clone(),
                origin: Origin::Agent(session),
            });
        }
        Ok(view)
    });
    detached(task).await
}

/// Closes a conversation: allowed? then closed in storage, then the
/// Dispatcher tells everyone (see `conversations::close_open` for why
/// storage goes first).
pub async fn close(
    cx: Arc<ChatContext>,
    card: AgentCard,
    id: ConversationId,
) -> Result<(), ChatError> {
    let access = cx.authorize(&card, id, false).await?;
    if access == Access::NotLive {
        // Not open here: closed already, or unknown.
        return Err(
            match cx.storage.run(move |db| conversations::find(db, id)).await {
                Ok(_) => ChatError::Closed,
                Err(_) => ChatError::NotFound,
            },
        );
    }
    let now = cx.clock.now_naive();
    cx.storage
        .run(move |db| conversations::close_open(db, &[id], now))
        .await
        .map_err(|_| ChatError::Unavailable)?;
    cx.dispatcher
        .send(Close {
            by: card,
            conversation: id,
        })
        .await
        .map_err(|_| ChatError::Unavailable)?
}

/// A room request's failure: an unknown room and a room one is not in
/// answer the same `not_found`, so membership cannot be probed.
pub(crate) fn room_failure(e: &StorageError, room: crate::domain::RoomId) -> ErrorBody {
    match e {
        StorageError::NotFound => ErrorBody::new(code::NOT_FOUND, "no such room"),
        other => {
            tracing::error!(error = %other, room_id = %room, "room request failed");
            ErrorBody::new(code::UNAVAILABLE, "please try again shortly")
        }
    }
    .room(room.0)
}

/// Posts to a team room as `card` (a member, or `not_found`); once stored
/// it reaches the Dispatcher whatever happens to the asker.
pub async fn room_message(
    cx: Arc<ChatContext>,
    (card, session): (AgentCard, SessionId),
    room: crate::domain::RoomId,
    client_id: ClientId,
    body: MessageBody,
) -> Result<RoomMessageView, ErrorBody> {
    use crate::storage::rooms::messages as posts;
    let task = actix_rt::spawn(async move {
        let now = cx.clock.now_naive();
        let posted = cx
            .storage
            .run(move |db| {
                let author = posts::Author {
                    id: card.id,
                    name: &card.name,
                };
                posts::insert(db, room, &author, client_id.as_str(), body.as_str(), now)
            })
            .await
            .map_err(|e| room_failure(&e, room))?;
        let view = RoomMessageView::of(&posted.message, &posted.mentions);
        if posted.new {
            cx.dispatcher.do_send(RoomDeliver {
                message: view.clone(),
                to: posted.to,
                except: Some(session),
            });
        }
        Ok(view)
    });
    detached(task).await
}
