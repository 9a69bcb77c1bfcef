//! A conversation's states and the only moves between them.

use chrono::NaiveDateTime;

use super::{AgentId, ConversationId, VisitorId};

/// A conversation as stored: whose, who has it, how far its messages go.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub visitor_id: VisitorId,
    pub assignment: Assignment,
    pub last_seq: i64,
    pub created_at: NaiveDateTime,
}

/// How a new conversation picks its agent (`LIVEDESK_ASSIGNMENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Strategy {
    /// Any online agent, uniformly at random.
    #[default]
    Random,
    /// The online agent with the fewest open conversations (ties broken at random).
    LeastLoaded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    Queued,
    Assigned,
    Closed,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Assigned => "assigned",
            Self::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "assigned" => Some(Self::Assigned),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// Status plus owner; `agent` is `Some` exactly when the status is `Assigned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Assignment {
    pub status: ConversationStatus,
    pub agent: Option<AgentId>,
}

/// One decided change of owner, to be stored only if the row still holds
/// `from` (compare-and-set). `version` counts the changes decided for this
/// conversation, so a late report about an old change is known as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssignmentChange {
    pub conversation: ConversationId,
    pub from: Assignment,
    pub to: Assignment,
    pub at: NaiveDateTime,
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Give to an agent: from the queue, or from another agent (reassign, transfer).
    AssignTo(AgentId),
    /// Back to the queue (its agent left and nobody else is online).
    Requeue,
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the conversation is closed")]
    Closed,
    #[error("the conversation already belongs to that agent")]
    SameAgent,
    #[error("the conversation is already queued")]
    AlreadyQueued,
}

impl Assignment {
    pub fn queued() -> Self {
        Self {
            status: ConversationStatus::Queued,
            agent: None,
        }
    }

    pub fn apply(self, t: Transition) -> Result<Self, TransitionError> {
        use ConversationStatus::*;
        if self.status == Closed {
            return Err(TransitionError::Closed);
        }
        match t {
            Transition::AssignTo(a) if self.agent == Some(a) => Err(TransitionError::SameAgent),
            Transition::AssignTo(a) => Ok(Self {
                status: Assigned,
                agent: Some(a),
            }),
            Transition::Requeue if self.status == Queued => Err(TransitionError::AlreadyQueued),
            Transition::Requeue => Ok(Self::queued()),
            Transition::Close => Ok(Self {
                status: Closed,
                agent: self.agent,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const A: AgentId = AgentId(1);
    const B: AgentId = AgentId(2);

    #[test]
    fn queued_conversations_are_assigned_transferred_requeued_and_closed() {
        let q = Assignment::queued();
        let a = q.apply(Transition::AssignTo(A)).unwrap();
        assert_eq!((a.status, a.agent), (ConversationStatus::Assigned, Some(A)));
        let b = a.apply(Transition::AssignTo(B)).unwrap();
        assert_eq!(b.agent, Some(B));
        assert_eq!(
            b.apply(Transition::AssignTo(B)),
            Err(TransitionError::SameAgent)
        );
        let back = b.apply(Transition::Requeue).unwrap();
        assert_eq!(back, Assignment::queued());
        assert_eq!(
            back.apply(Transition::Requeue),
            Err(TransitionError::AlreadyQueued)
        );
        let closed = back.apply(Transition::Close).unwrap();
        assert_eq!(closed.status, ConversationStatus::Closed);
    }

    #[test]
    fn closed_is_final() {
        let c = Assignment::queued().apply(Transition::Close).unwrap();
        for t in [
            Transition::AssignTo(A),
            Transition::Requeue,
            Transition::Close,
        ] {
            assert_eq!(c.apply(t), Err(TransitionError::Closed));
        }
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            ConversationStatus::Queued,
            ConversationStatus::Assigned,
            ConversationStatus::Closed,
        ] {
            assert_eq!(ConversationStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ConversationStatus::parse("open"), None);
    }
}
