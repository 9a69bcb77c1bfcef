//! Satisfaction: the visitor is asked when its conversation closes (once
//! per episode: `csat::wanted`), and its rating reaches the conversation's
//! agent at once.

use actix::prelude::*;

use super::VisitorSession;
use crate::chat::messages::ToGroup;
use crate::chat::protocol::{code, AgentOut, ErrorBody, VisitorOut};
use crate::domain::ConversationId;
use crate::storage::rooms::Members;
use crate::storage::{conversations, csat, policies, StorageError};

impl VisitorSession {
    /// The conversation closed: ask for a rating if one is wanted.
    pub(super) fn ask_rating(&self, id: ConversationId, ctx: &mut Context<Self>) {
        let (cx, lang) = (self.cx.clone(), self.lang);
        let fut = async move {
            cx.storage
                .run(move |db| {
                    let policy = policies::csat(db)?;
                    if !policy.enabled {
                        return Ok(None);
                    }
                    Ok(csat::wanted(db, id)?.map(|_| policy.question(lang)))
                })
                .await
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            if let Ok(Some(question)) = res {
                act.send(
                    &VisitorOut::Rate {
                        conversation_id: id.0,
                        question,
                    },
                    ctx,
                );
            }
        }));
    }

    pub(super) fn rate(
        &mut self,
        id: ConversationId,
        rating: i32,
        comment: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let Some(r) = self.ready.as_ref() else { return };
        if !(1..=5).contains(&rating) {
            return self.error(ErrorBody::new(code::VALIDATION, "a rating is 1 to 5"), ctx);
        }
        let comment = crate::chat::protocol::cap(comment, 1000);
        let (cx, visitor) = (self.cx.clone(), r.visitor.visitor_id());
        let now = cx.clock.now_naive();
        let fut = async move {
            let (rated, agent) = cx
                .storage
                .run(move |db| {
                    let rated = csat::submit(db, visitor, id, rating, comment.as_deref(), now)?;
                    let agent = conversations::find(db, id)?.assignment.agent;
                    Ok((rated, agent))
                })
                .await?;
            if let Some(agent) = agent {
                cx.dispatcher.do_send(ToGroup {
                    to: Members::Some(vec![agent]),
                    frame: AgentOut::Rating {
                        conversation_id: id.0,
                        rating: rated.rating,
                        comment: rated.comment.clone(),
                    },
                    except: None,
                });
            }
            Ok::<_, StorageError>(rated)
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(r) => act.send(
                &VisitorOut::Rated {
                    conversation_id: r.conversation_id,
                    rating: r.rating,
                },
                ctx,
            ),
            Err(StorageError::NotFound) => act.error(
                ErrorBody::new(code::NOT_FOUND, "no such conversation of yours"),
                ctx,
            ),
            Err(StorageError::Conflict) => act.error(
                ErrorBody::new(
                    code::CONFLICT,
                    "this conversation is open, or was rated already",
                ),
                ctx,
            ),
            Err(_) => act.error(
                ErrorBody::new(code::UNAVAILABLE, "please try again shortly"),
                ctx,
            ),
        }));
    }
}
