//! Team rooms on the Desk: each room's messages go out in `seq` order (two
//! senders' commits can reach the Desk out of order), to the members storage
//! named when the message was stored. Membership lives in storage, read for
//! every message, so the Desk keeps only each room's delivery line.

use crate::chat::protocol::Shared;
use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::{since, Desk, Effect, Publish, Timer};
use crate::chat::messages::SessionId;
use crate::chat::protocol::{AgentOut, RoomMessageView};
use crate::domain::RoomId;
use crate::storage::rooms::Members;

/// A room's delivery line: the next `seq` to hand out, and later ones waiting.
#[derive(Default)]
pub(crate) struct RoomLine {
    next_seq: i64,
    pending: BTreeMap<i64, (RoomMessageView, Members, Option<SessionId>)>,
    gap_until: Option<NaiveDateTime>,
}

impl Desk {
    /// Rooms' last `seq`s from storage (at start, or on taking the lead); a
    /// room the Desk has not heard of was made since, and starts at 1.
    pub fn seed_rooms(&mut self, rooms: Vec<(RoomId, i64)>) {
        for (id, last) in rooms {
            self.rooms.entry(id).or_default().next_seq = last + 1;
        }
    }

    /// A room message is stored: deliver it (and the ones that waited for it).
    pub fn room_deliver(
        &mut self,
        now: NaiveDateTime,
        message: RoomMessageView,
        to: Members,
        except: Option<SessionId>,
    ) {
        let id = RoomId(message.room_id);
        let line = self.rooms.entry(id).or_insert_with(|| RoomLine {
            next_seq: 1,
            ..RoomLine::default()
        });
        if message.seq < line.next_seq {
            return; // delivered already
        }
        line.pending.insert(message.seq, (message, to, except));
        self.room_ready(id, now);
    }

    fn room_ready(&mut self, id: RoomId, now: NaiveDateTime) {
        let mut out = Vec::new();
        let Some(line) = self.rooms.get_mut(&id) else {
            return;
        };
        while let Some(next) = line.pending.remove(&line.next_seq) {
            line.next_seq += 1;
            out.push(next);
        }
        let had_timer = line.gap_until.take().is_some();
        let gap = !line.pending.is_empty();
        if gap {
            line.gap_until = Some(now + super::assign::grace_delta(self.cfg.gap_wait));
        }
        for (message, to, except) in out {
            self.tell_members(to, AgentOut::RoomMessage { message }, except);
        }
        if gap {
            self.emit(Effect::Arm {
                timer: Timer::RoomGap(id),
                after: self.cfg.gap_wait,
            });
        } else if had_timer {
            self.emit(Effect::Cancel(Timer::RoomGap(id)));
        }
    }

    /// The wait for a missing room `seq` is over: move on to what is here.
    pub(super) fn room_gap_over(&mut self, id: RoomId, now: NaiveDateTime) {
        let Some(line) = self.rooms.get_mut(&id) else {
            return;
        };
        let Some(until) = line.gap_until else { return };
        if now < until {
            self.emit(Effect::Arm {
                timer: Timer::RoomGap(id),
                after: since(now, until),
            });
            return;
        }
        line.gap_until = None;
        if let Some(&first) = line.pending.keys().next() {
            tracing::warn!(room_id = %id, skipped_to = first, "room delivery gap timed out");
            line.next_seq = first;
        }
        self.room_ready(id, now);
    }

    /// A frame for a room's members (typing, a change of the room), now.
    pub fn tell_members(&mut self, to: Members, frame: AgentOut, except: Option<SessionId>) {
        self.emit(Effect::Publish(Publish::Group {
            to,
            frame: Shared::new(frame),
            except,
        }));
    }
}

impl Desk {
    /// A frame for every visitor socket (a notice).
    pub fn tell_all_visitors(&mut self, frame: crate::chat::protocol::VisitorOut) {
        self.emit(Effect::Publish(Publish::Visitors {
            frame: Shared::new(frame),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::desk::testkit::*;
    use crate::domain::AgentId;

    fn msg(room: i64, seq: i64) -> RoomMessageView {
        RoomMessageView {
            id: seq,
            room_id: room,
            seq,
            agent_id: Some(1),
            agent_name: "lin".into(),
            client_id: format!("c{seq}"),
            body: "hi".into(),
            created_at: String::new(),
            mentions: Vec::new(),
        }
    }

    fn delivered(d: &mut Desk) -> Vec<i64> {
        d.take_effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Publish(Publish::Group { frame, .. }) => match &**frame {
                    AgentOut::RoomMessage { message } => Some(message.seq),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    #[test]
    fn room_messages_go_out_in_seq_order_once() {
        let mut d = desk();
        let now = t(0);
        d.seed_rooms(vec![(RoomId(7), 4)]);
        let to = Members::Some(vec![AgentId(1), AgentId(2)]);
        d.room_deliver(now, msg(7, 6), to.clone(), None);
        assert_eq!(delivered(&mut d), Vec::<i64>::new(), "6 waits for 5");
        d.room_deliver(now, msg(7, 5), to.clone(), None);
        assert_eq!(delivered(&mut d), [5, 6]);
        d.room_deliver(now, msg(7, 6), to.clone(), None);
        assert_eq!(delivered(&mut d), Vec::<i64>::new(), "once");
        // A room made after the seed starts at 1.
        d.room_deliver(now, msg(8, 1), Members::All, None);
        assert_eq!(delivered(&mut d), [1]);
        // A gap that never fills is skipped once the wait is over.
        d.room_deliver(now, msg(7, 9), to, None);
        assert_eq!(delivered(&mut d), Vec::<i64>::new());
        let later = t(10_000);
        d.timer_fired(later, Timer::RoomGap(RoomId(7)));
        assert_eq!(delivered(&mut d), [9]);
    }
}
