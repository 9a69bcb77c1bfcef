//! The crash of the property test: the node dies and a new Desk is made
//! from what storage holds, as a restarted node makes it.

use std::collections::HashMap;

use super::super::testkit::{cfg, t, visitor};
use super::super::Desk;
use super::World;
use crate::domain::{Conversation, ConversationStatus, Visitor, VisitorId};

impl World {
    /// A new Desk from what storage holds, as a restarted node makes it.
    pub(super) fn crash_and_restart(&mut self) {
        self.writes.clear();
        self.closed_elsewhere.clear();
        self.timers.clear();
        self.agent_sockets.clear();
        self.visitor_sockets.clear();
        self.believed.clear();
        self.listed.clear();
        let mut open: Vec<(Conversation, Visitor)> = self
            .db
            .iter()
            .filter(|(_, a)| a.status != ConversationStatus::Closed)
            .map(|(id, a)| {
                let (v, created_at) = self.made[id];
                let c = Conversation {
                    id: *id,
                    visitor_id: VisitorId(v),
                    assignment: *a,
                    last_seq: 0,
                    created_at,
                };
                (c, visitor(v))
            })
            .collect();
        open.sort_by_key(|(c, _)| c.id);
        self.desk = Desk::new(cfg(), 11, open, HashMap::new(), t(self.now));
        self.effects();
    }
}
