//! The objects of team rooms and announcements on the agent socket, and of
//! notices on the visitor socket.

use serde::{Deserialize, Serialize};

use super::rfc3339;
use crate::storage::announcements::Announcement;
use crate::storage::rooms::{messages::RoomMessage, Room, Summary};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoomView {
    pub id: i64,
    pub name: String,
    pub topic: Option<String>,
    /// Counted for the agent the frame is for (0 in a `room` frame telling
    /// many agents of a rename: keep your own counts).
    pub unread: i64,
    pub last_seq: i64,
    pub mentions: i64,
}

impl RoomView {
    pub fn of(r: &Room) -> Self {
        RoomView {
            id: r.id,
            name: r.name.clone(),
            topic: r.topic.clone(),
            unread: 0,
            last_seq: r.last_seq,
            mentions: 0,
        }
    }
    pub fn summary(s: &Summary) -> Self {
        RoomView {
            unread: s.unread,
            mentions: s.mentions,
            ..RoomView::of(&s.room)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoomMessageView {
    pub id: i64,
    pub room_id: i64,
    pub seq: i64,
    pub agent_id: Option<i64>,
    pub agent_name: String,
    pub client_id: String,
    pub body: String,
    pub created_at: String,
    /// The members this message mentions (`@username`), by id.
    #[serde(default)]
    pub mentions: Vec<i64>,
}

impl RoomMessageView {
    pub fn of(m: &RoomMessage, mentions: &[crate::domain::AgentId]) -> Self {
        RoomMessageView {
            id: m.id,
            room_id: m.room_id,
            seq: m.seq,
            agent_id: m.agent_id,
            agent_name: m.agent_name.clone(),
            client_id: m.client_id.clone(),
            body: m.body.clone(),
            created_at: rfc3339(m.created_at),
            mentions: mentions.iter().map(|a| a.0).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AnnouncementView {
    pub id: i64,
    pub body: String,
    pub author: String,
    pub created_at: String,
}

impl AnnouncementView {
    pub fn of(a: &Announcement) -> Self {
        AnnouncementView {
            id: a.id,
            body: a.body.clone(),
            author: a.author_name.clone(),
            created_at: rfc3339(a.created_at),
        }
    }
}

/// A short notice every widget shows until it expires.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NoticeView {
    pub body: String,
    pub until: String,
}

impl NoticeView {
    pub fn of(a: &Announcement) -> Option<Self> {
        Some(NoticeView {
            body: a.body.clone(),
            until: rfc3339(a.until?),
        })
    }
}
