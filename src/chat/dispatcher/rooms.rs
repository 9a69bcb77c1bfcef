//! Rooms, announcements, notices and labels through the Dispatcher: on the node
//! with the Desk its rules order and fan them out; elsewhere they are relayed
//! to it. With the link down they wait: a room's catch-up is its history
//! after the `last_seq` of the next `welcome`.

use actix::prelude::*;

use super::Dispatcher;
use crate::chat::cluster::wire::Call;
use crate::chat::messages::{LabelsChanged, RoomDeliver, SetLabels, ToAllVisitors, ToGroup};

impl Handler<RoomDeliver> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: RoomDeliver, ctx: &mut Self::Context) {
        let now = self.now();
        match self.desk.as_mut() {
            Some(d) => d.room_deliver(now, m.message, m.to, m.except),
            None => self.tell(Call::RoomDeliver {
                message: m.message,
                to: m.to,
                except: m.except,
            }),
        }
        self.run_effects(ctx);
    }
}

impl Handler<ToGroup> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: ToGroup, ctx: &mut Self::Context) {
        match self.desk.as_mut() {
            Some(d) => d.tell_members(m.to, m.frame, m.except),
            None => self.tell(Call::ToGroup {
                to: m.to,
                frame: m.frame,
                except: m.except,
            }),
        }
        self.run_effects(ctx);
    }
}

impl Handler<ToAllVisitors> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: ToAllVisitors, ctx: &mut Self::Context) {
        match self.desk.as_mut() {
            Some(d) => d.tell_all_visitors(m.frame),
            None => self.tell(Call::ToAllVisitors { frame: m.frame }),
        }
        self.run_effects(ctx);
    }
}

impl Handler<SetLabels> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: SetLabels, ctx: &mut Self::Context) {
        match self.desk.as_mut() {
            Some(d) => d.set_labels(m.conversation, m.labels),
            None => self.tell(Call::SetLabels {
                conversation: m.conversation,
                labels: m.labels,
            }),
        }
        self.run_effects(ctx);
    }
}

impl Handler<LabelsChanged> for Dispatcher {
    type Result = ();
    fn handle(&mut self, m: LabelsChanged, ctx: &mut Self::Context) {
        match self.desk.as_mut() {
            Some(d) => d.labels_changed(&m.all),
            None => self.tell(Call::LabelsChanged { all: m.all }),
        }
        self.run_effects(ctx);
    }
}

impl Dispatcher {
    /// Rooms' last `seq`s and open conversations' labels from storage.
    pub fn with_seed(
        mut self,
        rooms: Vec<(crate::domain::RoomId, i64)>,
        labels: std::collections::HashMap<
            crate::domain::ConversationId,
            Vec<crate::chat::protocol::LabelRef>,
        >,
    ) -> Self {
        if let Some(d) = self.desk.as_mut() {
            d.seed_rooms(rooms);
            d.seed_labels(labels);
        }
        self
    }
}
