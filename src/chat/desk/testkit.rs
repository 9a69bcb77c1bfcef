//! Fixtures for the Desk's tests: a fake clock in milliseconds, cards,
//! visitors, conversations, and readers of the effects.

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDateTime;

use super::*;
use crate::chat::messages::AgentCard;
use crate::chat::protocol::{AgentOut, MessageView, VisitorOut};
use crate::domain::{Assignment, ConversationStatus, Sender};

pub(super) fn t(ms: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp_millis(1_790_000_000_000 + ms)
        .unwrap()
        .naive_utc()
}

pub(super) fn cfg() -> DeskConfig {
    DeskConfig {
        strategy: Strategy::Random,
        grace: Duration::from_millis(1_000),
        gap_wait: Duration::from_millis(2_000),
    }
}

pub(super) fn card(id: i64) -> AgentCard {
    AgentCard {
        id: AgentId(id),
        name: format!("agent {id}"),
        is_admin: false,
        capacity: 0,
    }
}

pub(super) fn visitor(id: i64) -> Visitor {
    Visitor {
        id: VisitorId(id),
        name: None,
        email: None,
        page_url: None,
        referrer: None,
        user_agent: None,
        first_seen_at: t(0),
        last_seen_at: t(0),
        timezone: None,
        identifier: None,
        verified: false,
    }
}

pub(super) fn conv(id: i64, visitor: i64, created_ms: i64) -> Conversation {
    Conversation {
        id: ConversationId(id),
        visitor_id: VisitorId(visitor),
        assignment: Assignment::queued(),
        last_seq: 0,
        created_at: t(created_ms),
    }
}

pub(super) fn owned_by(mut c: Conversation, agent: i64) -> Conversation {
    c.assignment = Assignment {
        status: ConversationStatus::Assigned,
        agent: Some(AgentId(agent)),
    };
    c
}

pub(super) fn desk() -> Desk {
    Desk::new(cfg(), 7, Vec::new(), HashMap::new(), t(0))
}

pub(super) fn owner(d: &Desk, c: i64) -> Option<AgentId> {
    d.convs
        .get(&ConversationId(c))
        .and_then(|c| c.assignment.agent)
}

pub(super) fn status(d: &Desk, c: i64) -> Option<ConversationStatus> {
    d.convs.get(&ConversationId(c)).map(|c| c.assignment.status)
}

/// A visitor with a socket and a conversation that was just opened.
pub(super) fn open(d: &mut Desk, now: NaiveDateTime, session: SessionId, c: i64) {
    let v = visitor(c);
    d.visitor_join(now, session, &v, None);
    d.open_conversation(now, &v, &conv(c, c, c));
}

pub(super) fn agent_frames(effects: &[Effect], agent: i64) -> Vec<AgentOut> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(Publish::Agent {
                agent: a, frame, ..
            }) if a.0 == agent => Some((**frame).clone()),
            Effect::Publish(Publish::Agents { frame, except })
                if *except != Some(AgentId(agent)) =>
            {
                Some((**frame).clone())
            }
            _ => None,
        })
        .collect()
}

pub(super) fn visitor_frames(effects: &[Effect], v: i64) -> Vec<VisitorOut> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(Publish::Visitor { visitor, frame, .. }) if visitor.0 == v => {
                Some((**frame).clone())
            }
            _ => None,
        })
        .collect()
}

pub(super) fn armed(effects: &[Effect]) -> Vec<(Timer, Duration)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Arm { timer, after } => Some((*timer, *after)),
            _ => None,
        })
        .collect()
}

pub(super) fn stores(effects: &[Effect]) -> Vec<AssignmentChange> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Store(w) => Some(*w),
            _ => None,
        })
        .collect()
}

pub(crate) fn message(c: i64, seq: i64, body: &str) -> MessageView {
    MessageView {
        id: seq,
        conversation_id: c,
        seq,
        sender: Sender::Visitor,
        agent_id: None,
        client_id: None,
        body: body.into(),
        created_at: String::new(),
        private: false,
        files: Vec::new(),
    }
}
