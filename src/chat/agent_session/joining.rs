//! Joining the Desk: the snapshot, rooms, announcements and labels go out
//! as `welcome`; again after the cluster link was lost or the leader
//! changed, the socket staying open.

use actix::prelude::*;

use super::AgentSession;
use crate::chat::messages::*;
use crate::chat::protocol::*;
use crate::domain::ConversationId;
use crate::storage::{announcements, rooms};

impl AgentSession {
    /// Joins the Desk: its snapshot goes out as `welcome` (the dashboard
    /// catches up on history from there). Again after the cluster link was
    /// lost or the leader changed, the socket staying open.
    pub(super) fn join(&mut self, again: bool, ctx: &mut Context<Self>) {
        let join = AgentJoin {
            session: self.id,
            agent: self.card.clone(),
            addr: ctx.address().recipient(),
        };
        let joined = self.cx.dispatcher.send(join);
        // Rooms and announcements are read after joining: a live room
        // message in between comes again after the welcome (the dashboard
        // keys them by seq).
        let (cx, agent) = (self.cx.clone(), self.card.id);
        let fut = async move {
            let snap = joined.await?;
            let extra = cx
                .storage
                .run(move |db| {
                    Ok((
                        rooms::for_agent(db, agent)?,
                        announcements::latest_for_agents(db, announcements::WELCOME_MAX)?,
                        crate::storage::labels::all(db)?,
                    ))
                })
                .await;
            Ok::<_, MailboxError>((snap, extra))
        };
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| match res {
            // The leader did not answer: the dashboard keeps what it
            // shows, and the next rejoin (when there is a leader) fixes it.
            Ok((snap, _)) if again && snap.unavailable => {
                tracing::warn!(
                    session = act.id,
                    "rejoin unanswered by the cluster's leader"
                );
            }
            Ok((snap, extra)) => {
                let (rooms, news, labels) = extra.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "welcome without rooms: storage failed");
                    Default::default()
                });
                act.mine = snap.mine.iter().map(|c| ConversationId(c.id)).collect();
                let frame = AgentOut::Welcome {
                    agent: AgentSelf {
                        id: act.card.id.0,
                        name: act.card.name.clone(),
                        role: act.role,
                        status: snap.status,
                    },
                    conversations: snap.mine,
                    queue: snap.queue,
                    agents: snap.agents,
                    rooms: rooms.iter().map(RoomView::summary).collect(),
                    announcements: news.iter().map(AnnouncementView::of).collect(),
                    labels: labels.iter().map(LabelRef::from).collect(),
                };
                act.send(&frame, ctx);
                act.send_recent(ctx);
            }
            Err(_) => ctx.stop(),
        }));
    }
}
