//! The real-time core: one actor per socket (`VisitorSession`, `AgentSession`)
//! and one `Dispatcher` per node.

pub mod agent_actions;
pub mod agent_session;
pub mod assignment;
pub mod cluster;
pub mod desk;
pub mod dispatcher;
pub mod fanout;
pub mod hub;
pub mod limits;
pub mod messages;
pub mod notices;
pub mod protocol;
pub mod ratelimit;
pub mod shared;
pub mod socket;
pub mod stored_assignments;
pub mod visitor_session;

use std::time::{Duration, Instant};

use actix::Addr;

use crate::domain::Clock;
use crate::metrics::ChatMetrics;
use crate::storage::messages::{OwnedNewMessage, Stored};
use crate::storage::{Storage, StorageResult};
pub use dispatcher::{Dispatcher, DispatcherConfig};
use messages::{Deliver, Origin};
use protocol::MessageView;
pub use stored_assignments::StoredAssignments;

#[derive(Debug, Clone)]
pub struct SocketConfig {
    pub ping_interval: Duration,
    pub timeout: Duration,
    /// Client frames per second allowed on one socket, on average…
    pub rate: u32,
    /// …and in a burst.
    pub burst: u32,
}

/// What every session actor needs: storage, the Dispatcher, metrics, settings.
pub struct ChatContext {
    pub storage: Storage,
    /// Where messages are stored (group commit when the batch size is above 1).
    pub writer: crate::storage::writer::MessageWriter,
    /// Group commit for new visitors (PostgreSQL with a batch size above 1).
    pub arrivals: Option<crate::storage::writer::ArrivalWriter>,
    /// Group commit for opening conversations (PostgreSQL).
    pub opens: Option<crate::storage::writer::OpenWriter>,
    pub dispatcher: Addr<Dispatcher>,
    pub metrics: ChatMetrics,
    pub clock: Clock,
    pub sockets: SocketConfig,
    /// This node's agent sockets by sign-in.
    pub agent_sockets: std::sync::Arc<hub::AgentSockets>,
    /// Visitor sockets and new conversations per client address.
    pub visitor_limits: std::sync::Arc<limits::VisitorLimits>,
    /// The team's current notice to visitors.
    pub notices: notices::Notices,
    /// Open conversations per agent unless its own is set (0: no limit).
    pub agent_capacity: u32,
    /// Visitors must prove who they are (`LIVEDESK_IDENTITY_REQUIRED`).
    pub identity_required: bool,
}

impl ChatContext {
    /// May `agent` read (or write to) `conversation`? The Dispatcher decides;
    /// one that does not answer is `Unavailable`.
    pub async fn authorize(
        &self,
        agent: &messages::AgentCard,
        conversation: crate::domain::ConversationId,
        write: bool,
    ) -> Result<messages::Access, messages::ChatError> {
        self.dispatcher
            .send(messages::Authorize {
                agent: agent.clone(),
                conversation,
                write,
            })
            .await
            .map_err(|_| messages::ChatError::Unavailable)?
    }

    /// The conversation, if `agent` may read it: a live one as the Desk
    /// says, a closed one only its last agent or an admin. `None` also for
    /// one that does not exist (the caller answers both alike).
    pub async fn readable(
        &self,
        agent: &messages::AgentCard,
        id: crate::domain::ConversationId,
    ) -> StorageResult<Option<crate::domain::Conversation>> {
        use crate::storage::{conversations, StorageError};
        let access = self.authorize(agent, id, false).await;
        let conv = match self
            .storage
            .run(move |db| conversations::find(db, id))
            .await
        {
            Ok(c) => c,
            Err(StorageError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let last_owner = agent.is_admin || conv.assignment.agent == Some(agent.id);
        Ok(match access {
            Ok(messages::Access::Granted) => Some(conv),
            Ok(messages::Access::NotLive) if last_owner => Some(conv),
            _ => None,
        })
    }

    /// Puts uploaded files on the message (or note, `private`) `client_id`
    /// before it is stored, so whoever is sent it can fetch them.
    /// `NotFound`: one is not `by`'s upload, or was sent with another.
    pub async fn send_files(
        &self,
        files: &[i64],
        by: crate::storage::attachments::Party,
        conversation: crate::domain::ConversationId,
        client_id: &str,
        private: bool,
    ) -> StorageResult<Vec<protocol::FileView>> {
        use crate::storage::{attachments, StorageError};
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, cid) = (files.to_vec(), client_id.to_owned());
        let sent = self
            .storage
            .run(move |db| attachments::send_with(db, &ids, by, conversation, &cid, private))
            .await;
        match sent {
            Ok(a) => Ok(a.iter().map(protocol::FileView::from).collect()),
            Err(StorageError::Conflict) => Err(StorageError::NotFound),
            Err(e) => Err(e),
        }
    }

    /// Stores a message; once it is committed the Dispatcher is told to
    /// deliver it, straight from the committing thread (one hop fewer than
    /// going back through the sender's socket first). A duplicate (a resend
    /// of a stored `client_id`) is handed over too: the Dispatcher drops a
    /// `seq` it has delivered already, and delivers one whose first answer
    /// was lost (stored, but the sender was told to try again).
    pub async fn store_message(
        &self,
        message: OwnedNewMessage,
        files: Vec<protocol::FileView>,
        origin: Origin,
    ) -> StorageResult<Stored> {
        let place = self.writer.admit()?;
        self.store_admitted(&place, message, files, origin).await
    }

    /// `store_message` for a message that holds its place among those
    /// waiting already (`writer.admit()`).
    pub async fn store_admitted(
        &self,
        place: &crate::storage::writer::Place,
        message: OwnedNewMessage,
        files: Vec<protocol::FileView>,
        origin: Origin,
    ) -> StorageResult<Stored> {
        let dispatcher = self.dispatcher.clone();
        let started = Instant::now();
        let stored = self
            .writer
            .insert_admitted(place, message, move |m| {
                let mut message = MessageView::from(m);
                message.files = files;
                dispatcher.do_send(Deliver { message, origin })
            })
            .await?;
        if let Stored::New(_) = stored {
            self.metrics.messages_stored.inc();
            self.metrics
                .message_store_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        Ok(stored)
    }
}
