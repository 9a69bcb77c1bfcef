//! Conversations: list, one, and what agents do to them.

use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{cursor, limit, ApiErr, Caller, Page};
use crate::chat::messages::{AgentCard, Claim, OpenConversation, SetLabels, Transfer};
use crate::chat::protocol::LabelRef;
use crate::chat::ChatContext;
use crate::domain::{AgentId, ConversationId, ConversationStatus};
use crate::resources::{self, ConversationResource};
use crate::storage::{agents, assignments, conversations, labels, visitors};
use crate::web::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(one)
        .service(assign)
        .service(transfer)
        .service(close)
        .service(reopen)
        .service(set_labels);
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `queued`, `assigned` or `closed`.
    status: Option<String>,
    agent_id: Option<i64>,
    label_id: Option<i64>,
    /// RFC 3339: only conversations changed since.
    updated_since: Option<String>,
    cursor: Option<String>,
    /// 1–100 (50).
    limit: Option<i64>,
}

/// Conversations, newest first.
#[utoipa::path(tag = "conversations", params(ListQuery),
    responses((status = 200, body = Page<ConversationResource>), (status = 400), (status = 401)))]
#[get("/conversations")]
async fn list(
    _c: Caller,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<web::Json<Page<ConversationResource>>, ApiErr> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            ConversationStatus::parse(s)
                .ok_or_else(|| ApiErr::bad_request("status is queued, assigned or closed"))?,
        ),
    };
    let updated_since = match q.updated_since.as_deref() {
        None => None,
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|_| ApiErr::bad_request("updated_since is an RFC 3339 time"))?
                .naive_utc(),
        ),
    };
    let filter = conversations::Filter {
        status,
        agent: q.agent_id.map(AgentId),
        label: q.label_id,
        updated_since,
    };
    let (before, n) = (cursor(&q.cursor)?, limit(q.limit));
    let data = state
        .storage
        .run(move |db| {
            let rows = conversations::page(db, &filter, before, n)?;
            resources::conversations(db, rows)
        })
        .await?;
    let next_cursor = (data.len() as i64 == n)
        .then(|| data.last().map(|c| c.id.to_string()))
        .flatten();
    Ok(web::Json(Page { data, next_cursor }))
}

/// One conversation, with its visitor, agent and labels.
#[utoipa::path(tag = "conversations", responses((status = 200, body = ConversationResource), (status = 404)))]
#[get("/conversations/{id}")]
async fn one(
    _c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ConversationResource>, ApiErr> {
    let id = ConversationId(id.into_inner());
    Ok(web::Json(
        state
            .storage
            .run(move |db| resources::conversation(db, id))
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToAgent {
    agent_id: i64,
}

/// The card of an agent the API acts for (capacity as its socket has it).
async fn card_of(cx: &ChatContext, id: i64) -> Result<AgentCard, ApiErr> {
    let a = cx
        .storage
        .run(move |db| agents::find(db, AgentId(id)))
        .await
        .map_err(|_| ApiErr::bad_request("agent_id names no agent"))?;
    if !a.active {
        return Err(ApiErr::bad_request("that agent is disabled"));
    }
    let mut card = AgentCard::of(&a);
    card.capacity = a.capacity.map_or(cx.agent_capacity, |c| c.max(0) as u32);
    Ok(card)
}

/// The conversation as it is now (after a change).
async fn now(state: &AppState, id: ConversationId) -> Result<HttpResponse, ApiErr> {
    let c = state
        .storage
        .run(move |db| resources::conversation(db, id))
        .await?;
    Ok(HttpResponse::Ok().json(c))
}

/// The conversation now that `to` has it: the Desk decided, and storage
/// follows a moment later (the Desk never waits for it), so the answer says
/// what was decided.
async fn now_with(
    state: &AppState,
    id: ConversationId,
    to: &AgentCard,
) -> Result<HttpResponse, ApiErr> {
    let mut c = state
        .storage
        .run(move |db| resources::conversation(db, id))
        .await?;
    c.status = ConversationStatus::Assigned;
    c.agent = Some(crate::chat::protocol::AgentRef {
        id: to.id.0,
        name: to.name.clone(),
    });
    Ok(HttpResponse::Ok().json(c))
}

/// Gives a queued conversation to an agent (as that agent's claim), or moves
/// an assigned one to it (a transfer).
#[utoipa::path(tag = "conversations", request_body = ToAgent,
    responses((status = 200, body = ConversationResource), (status = 403), (status = 404), (status = 409)))]
#[post("/conversations/{id}/assign")]
async fn assign(
    c: Caller,
    state: web::Data<AppState>,
    cx: web::Data<ChatContext>,
    id: web::Path<i64>,
    body: web::Json<ToAgent>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let id = ConversationId(id.into_inner());
    let to = card_of(&cx, body.agent_id).await?;
    let conv = state
        .storage
        .run(move |db| conversations::find(db, id))
        .await?;
    match conv.assignment.status {
        ConversationStatus::Queued => {
            cx.dispatcher
                .send(Claim {
                    agent: to.clone(),
                    conversation: id,
                })
                .await??;
        }
        ConversationStatus::Assigned if conv.assignment.agent == Some(to.id) => {}
        ConversationStatus::Assigned => {
            cx.dispatcher
                .send(Transfer {
                    by: c.card,
                    conversation: id,
                    to: to.id,
                })
                .await??;
        }
        ConversationStatus::Closed => {
            return Err(ApiErr::from(crate::chat::messages::ChatError::Closed))
        }
    }
    now_with(&state, id, &to).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    agent_id: i64,
    /// A private note for the next agent, stored before the transfer.
    note: Option<String>,
}

/// Moves a conversation to another agent (online), with an optional note.
#[utoipa::path(tag = "conversations", request_body = TransferBody,
    responses((status = 200, body = ConversationResource), (status = 404), (status = 409)))]
#[post("/conversations/{id}/transfer")]
async fn transfer(
    c: Caller,
    state: web::Data<AppState>,
    cx: web::Data<ChatContext>,
    id: web::Path<i64>,
    body: web::Json<TransferBody>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let id = ConversationId(id.into_inner());
    let body = body.into_inner();
    let to = card_of(&cx, body.agent_id).await?;
    if let Some(text) = body.note.filter(|n| !n.trim().is_empty()) {
        let text = crate::domain::MessageBody::parse(&text).map_err(|e| {
            ApiErr::from(crate::chat::protocol::ErrorBody::new(
                crate::chat::visitor_session::message_code(e),
                e.to_string(),
            ))
        })?;
        crate::chat::agent_actions::note(
            cx.clone().into_inner(),
            (c.card.clone(), crate::chat::messages::next_session_id()),
            id,
            crate::domain::ClientId::random(),
            (text, Vec::new()),
        )
        .await?;
    }
    cx.dispatcher
        .send(Transfer {
            by: c.card,
            conversation: id,
            to: to.id,
        })
        .await??;
    now_with(&state, id, &to).await
}

/// Closes a conversation.
#[utoipa::path(tag = "conversations",
    responses((status = 200, body = ConversationResource), (status = 404), (status = 409)))]
#[post("/conversations/{id}/close")]
async fn close(
    c: Caller,
    state: web::Data<AppState>,
    cx: web::Data<ChatContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let id = ConversationId(id.into_inner());
    crate::chat::agent_actions::close(cx.into_inner(), c.card, id).await?;
    now(&state, id).await
}

/// Opens a closed conversation again: back in the queue, then placed like
/// a new one. 409 if it is open, or its visitor has another one open.
#[utoipa::path(tag = "conversations",
    responses((status = 200, body = ConversationResource), (status = 404), (status = 409)))]
#[post("/conversations/{id}/reopen")]
async fn reopen(
    c: Caller,
    state: web::Data<AppState>,
    cx: web::Data<ChatContext>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let id = ConversationId(id.into_inner());
    let at = state.clock.now_naive();
    let (conversation, visitor) = state
        .storage
        .run(move |db| {
            let c = assignments::reopen(db, id, at)?;
            let v = visitors::find(db, c.visitor_id)?;
            Ok((c, v))
        })
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::Conflict => ApiErr::conflict(
                "only a closed conversation, whose visitor has no other open, can be reopened",
            ),
            e => e.into(),
        })?;
    cx.dispatcher
        .send(OpenConversation {
            visitor,
            conversation,
        })
        .await?;
    now(&state, id).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsBody {
    /// Every label the conversation is to carry (none: `[]`).
    label_ids: Vec<i64>,
}

/// Gives a conversation exactly these labels.
#[utoipa::path(tag = "conversations", request_body = LabelsBody,
    responses((status = 200, body = ConversationResource), (status = 400), (status = 404)))]
#[put("/conversations/{id}/labels")]
async fn set_labels(
    c: Caller,
    state: web::Data<AppState>,
    cx: web::Data<ChatContext>,
    id: web::Path<i64>,
    body: web::Json<LabelsBody>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let id = ConversationId(id.into_inner());
    if body.label_ids.len() > 100 {
        return Err(ApiErr::bad_request("at most 100 labels"));
    }
    let ids = body.into_inner().label_ids;
    let after = state
        .storage
        .run(move |db| {
            conversations::find(db, id)?;
            labels::replace(db, id, &ids).map_err(|e| match e {
                crate::storage::StorageError::NotFound => crate::storage::StorageError::Conflict,
                e => e,
            })
        })
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::Conflict => {
                ApiErr::bad_request("a label_id names no label")
            }
            e => e.into(),
        })?;
    cx.dispatcher.do_send(SetLabels {
        conversation: id,
        labels: after.iter().map(LabelRef::from).collect(),
    });
    now(&state, id).await
}
