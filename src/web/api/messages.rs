//! A conversation's messages: read them (notes included, as agents see
//! them), and write as an agent, publicly or as a private note, through the
//! socket's own write path.

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{ApiErr, Caller};
use crate::chat::agent_actions;
use crate::chat::messages::{next_session_id, AgentCard};
use crate::chat::protocol::ErrorBody;
use crate::chat::visitor_session::message_code;
use crate::chat::ChatContext;
use crate::domain::message::{ClientId, MessageBody};
use crate::domain::{AgentId, ConversationId};
use crate::resources::{self, MessageResource};
use crate::storage::{agents, conversations};
use crate::web::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list).service(post_one).service(upload);
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name as shown.
    name: String,
    /// Whose upload it is (an agent who may write there); the token's admin if absent.
    agent_id: Option<i64>,
}

/// Uploads a file (the raw request body) into a conversation, to send with
/// a message: `POST …/messages` with `"files": [id]`. Limits and types as
/// for the dashboard's uploads.
#[utoipa::path(tag = "messages", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Object, description = "the file"), (status = 404), (status = 413), (status = 415)))]
#[post("/conversations/{id}/files")]
async fn upload(
    c: Caller,
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    cx: web::Data<ChatContext>,
    id: web::Path<i64>,
    q: web::Query<UploadQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let id = ConversationId(id.into_inner());
    let card = as_agent(&state, c.card, q.agent_id).await?;
    agent_actions::may_write(&cx, &card, id).await?;
    let conv = state
        .storage
        .run(move |db| conversations::find(db, id))
        .await?;
    let by = crate::storage::attachments::Party::Agent(card.id);
    Ok(
        crate::web::files::upload(&req, &state, (conv.visitor_id, Some(id), by), &q.name, body)
            .await?,
    )
}

/// The agent a request acts for: `agent_id` (active), else the token's admin.
async fn as_agent(
    state: &AppState,
    admin: AgentCard,
    agent_id: Option<i64>,
) -> Result<AgentCard, ApiErr> {
    let Some(a) = agent_id else { return Ok(admin) };
    let agent = state
        .storage
        .run(move |db| agents::find(db, AgentId(a)))
        .await
        .map_err(|_| ApiErr::bad_request("agent_id names no agent"))?;
    if !agent.active {
        return Err(ApiErr::bad_request("that agent is disabled"));
    }
    Ok(AgentCard::of(&agent))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Messages after this `seq` (oldest first)…
    after_seq: Option<i64>,
    /// …or before it (the newest when neither is given).
    before_seq: Option<i64>,
    /// 1–200 (50).
    limit: Option<i64>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct Messages {
    /// In conversation order; a note follows the message whose `seq` it carries.
    data: Vec<MessageResource>,
}

/// A page of a conversation, private notes among its messages.
#[utoipa::path(tag = "messages", params(ListQuery),
    responses((status = 200, body = Messages), (status = 404)))]
#[get("/conversations/{id}/messages")]
async fn list(
    _c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<ListQuery>,
) -> Result<web::Json<Messages>, ApiErr> {
    let id = ConversationId(id.into_inner());
    let n = q.limit.unwrap_or(50).clamp(1, 200);
    if q.after_seq.is_some() && q.before_seq.is_some() {
        return Err(ApiErr::bad_request("after_seq or before_seq, not both"));
    }
    let (after, before) = (q.after_seq, q.before_seq);
    let data = state
        .storage
        .run(move |db| {
            conversations::find(db, id)?;
            let page = crate::chat::agent_session::history_page(db, id, after, before, n)?;
            resources::named(db, page)
        })
        .await?;
    Ok(web::Json(Messages { data }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// The message (up to 4,096 bytes; may be empty when files go with it).
    #[serde(default)]
    body: String,
    /// Your id for it (1–64 of `A-Za-z0-9_-`): sent again, it is stored once.
    client_id: String,
    /// Who writes it (an active agent); the token's admin if absent.
    agent_id: Option<i64>,
    /// A private note: agents only, never the visitor.
    #[serde(default)]
    private: bool,
    /// Files uploaded by that agent for this conversation (`POST /agent/files`).
    #[serde(default)]
    files: Vec<i64>,
}

/// Writes into a conversation as an agent: stored, numbered and delivered
/// exactly as if the agent had typed it (the agent must be allowed to write
/// there: its own conversation, or any for an admin). Idempotent on `client_id`.
#[utoipa::path(tag = "messages", request_body = NewMessage,
    responses((status = 201, body = MessageResource), (status = 403), (status = 404), (status = 409), (status = 422)))]
#[post("/conversations/{id}/messages")]
async fn post_one(
    c: Caller,
    state: web::Data<AppState>,
    cx: web::Data<ChatContext>,
    id: web::Path<i64>,
    body: web::Json<NewMessage>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let id = ConversationId(id.into_inner());
    let m = body.into_inner();
    let client_id = ClientId::parse(&m.client_id)
        .map_err(|e| ApiErr::from(ErrorBody::new(message_code(e), e.to_string())))?;
    let text = MessageBody::with_files(&m.body, m.files.len())
        .map_err(|e| ApiErr::from(ErrorBody::new(message_code(e), e.to_string())))?;
    let card = as_agent(&state, c.card, m.agent_id).await?;
    let who = (card, next_session_id());
    let cx = cx.into_inner();
    let view = if m.private {
        agent_actions::note(cx, who, id, client_id, (text, m.files)).await?
    } else {
        agent_actions::message(cx, who, id, client_id, (text, m.files)).await?
    };
    let named = state
        .storage
        .run(move |db| resources::named(db, vec![view]))
        .await?;
    Ok(HttpResponse::Created().json(&named[0]))
}
