//! What the team keeps: labels, saved replies, rooms.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{ApiErr, Caller};
use crate::chat::agent_actions;
use crate::chat::messages::{next_session_id, AgentCard, LabelsChanged};
use crate::chat::protocol::{code, ErrorBody, LabelRef, RoomMessageView};
use crate::chat::ChatContext;
use crate::domain::canned::parse_shortcut;
use crate::domain::message::{ClientId, MessageBody};
use crate::domain::{AgentId, RoomId};
use crate::storage::{agents, canned, labels, rooms, StorageError};
use crate::web::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_labels)
        .service(add_label)
        .service(change_label)
        .service(drop_label)
        .service(list_canned)
        .service(add_canned)
        .service(change_canned)
        .service(drop_canned)
        .service(list_rooms)
        .service(post_room);
}

#[derive(Serialize, ToSchema)]
pub struct Labels {
    #[schema(value_type = Vec<Object>)]
    data: Vec<LabelRef>,
}

/// Every label.
#[utoipa::path(tag = "labels", responses((status = 200, body = Labels)))]
#[get("/labels")]
async fn list_labels(_c: Caller, state: web::Data<AppState>) -> Result<web::Json<Labels>, ApiErr> {
    let all = state.storage.run(labels::all).await?;
    Ok(web::Json(Labels {
        data: all.iter().map(LabelRef::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelBody {
    /// 1–40 characters.
    name: Option<String>,
    /// `#rrggbb`.
    colour: Option<String>,
}

/// The Desk learns every label after a change (open conversations follow).
async fn labels_changed(state: &AppState) -> Result<(), ApiErr> {
    let all = state.storage.run(labels::all).await?;
    state.dispatcher.do_send(LabelsChanged {
        all: all.iter().map(LabelRef::from).collect(),
    });
    Ok(())
}

async fn save_label(
    state: &AppState,
    id: Option<i64>,
    body: LabelBody,
) -> Result<LabelRef, ApiErr> {
    let current = match id {
        Some(id) => Some(
            state
                .storage
                .run(move |db| Ok(labels::all(db)?.into_iter().find(|l| l.id == id)))
                .await?
                .ok_or_else(ApiErr::not_found)?,
        ),
        None => None,
    };
    let name = body
        .name
        .or_else(|| current.as_ref().map(|l| l.name.clone()))
        .and_then(|n| labels::parse_name(&n))
        .ok_or_else(|| ApiErr::bad_request("name: 1–40 characters"))?;
    let colour = body
        .colour
        .or_else(|| current.as_ref().map(|l| l.colour.clone()))
        .and_then(|c| labels::parse_colour(&c))
        .ok_or_else(|| ApiErr::bad_request("colour: #rrggbb"))?;
    let now = state.clock.now_naive();
    let saved = state
        .storage
        .run(move |db| labels::save(db, id, &name, &colour, now))
        .await
        .map_err(|e| match e {
            StorageError::Conflict => ApiErr::conflict("a label has that name"),
            e => e.into(),
        })?;
    labels_changed(state).await?;
    Ok(LabelRef::from(&saved))
}

/// Adds a label.
#[utoipa::path(tag = "labels", request_body = LabelBody,
    responses((status = 201, body = Object), (status = 400), (status = 409)))]
#[post("/labels")]
async fn add_label(
    c: Caller,
    state: web::Data<AppState>,
    body: web::Json<LabelBody>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    Ok(HttpResponse::Created().json(save_label(&state, None, body.into_inner()).await?))
}

/// Renames or recolours a label.
#[utoipa::path(tag = "labels", request_body = LabelBody,
    responses((status = 200, body = Object), (status = 400), (status = 404), (status = 409)))]
#[patch("/labels/{id}")]
async fn change_label(
    c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<LabelBody>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    Ok(
        HttpResponse::Ok()
            .json(save_label(&state, Some(id.into_inner()), body.into_inner()).await?),
    )
}

/// Deletes a label (it leaves every conversation).
#[utoipa::path(tag = "labels", responses((status = 204), (status = 404)))]
#[delete("/labels/{id}")]
async fn drop_label(
    c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let id = id.into_inner();
    state.storage.run(move |db| labels::delete(db, id)).await?;
    labels_changed(&state).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct SavedReply {
    id: i64,
    /// The agent whose own it is; `null`: shared by the team.
    agent_id: Option<i64>,
    shortcut: String,
    body: String,
}

impl From<canned::Canned> for SavedReply {
    fn from(c: canned::Canned) -> Self {
        SavedReply {
            id: c.id,
            agent_id: c.owner_id,
            shortcut: c.shortcut,
            body: c.body,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SavedReplies {
    data: Vec<SavedReply>,
}

/// Every saved reply, shared and each agent's own.
#[utoipa::path(tag = "canned", responses((status = 200, body = SavedReplies)))]
#[get("/canned")]
async fn list_canned(
    _c: Caller,
    state: web::Data<AppState>,
) -> Result<web::Json<SavedReplies>, ApiErr> {
    let all = state.storage.run(canned::all).await?;
    Ok(web::Json(SavedReplies {
        data: all.into_iter().map(SavedReply::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedBody {
    /// Letters, digits, `-` and `_`.
    shortcut: Option<String>,
    /// Placeholders `{visitor_name}`, `{agent_name}` are filled when used.
    body: Option<String>,
    /// Whose own it is (absent: shared). Only when adding.
    agent_id: Option<i64>,
}

fn checked(shortcut: &str, body: &str) -> Result<(String, String), ApiErr> {
    let s = parse_shortcut(shortcut)
        .ok_or_else(|| ApiErr::bad_request("shortcut: letters, digits, - and _"))?;
    let b = MessageBody::parse(body).map_err(|e| ApiErr::bad_request(e.to_string()))?;
    Ok((s, b.as_str().to_owned()))
}

/// Adds a saved reply (one whose shortcut its owner has already replaces it).
#[utoipa::path(tag = "canned", request_body = CannedBody,
    responses((status = 201, body = SavedReply), (status = 400), (status = 409)))]
#[post("/canned")]
async fn add_canned(
    c: Caller,
    state: web::Data<AppState>,
    body: web::Json<CannedBody>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let b = body.into_inner();
    let (shortcut, text) = checked(
        b.shortcut.as_deref().unwrap_or(""),
        b.body.as_deref().unwrap_or(""),
    )?;
    let owner = b.agent_id.map(AgentId);
    let now = state.clock.now_naive();
    let saved = state
        .storage
        .run(move |db| {
            if let Some(a) = owner {
                agents::find(db, a)?;
            }
            canned::put(db, owner, &[(shortcut.clone(), text)], now)?;
            let mine = canned::list(db, owner)?;
            mine.into_iter()
                .find(|c| c.shortcut == shortcut)
                .ok_or(StorageError::NotFound)
        })
        .await
        .map_err(|e| match e {
            StorageError::Conflict => {
                ApiErr::conflict("that owner has as many saved replies as allowed")
            }
            StorageError::NotFound => ApiErr::bad_request("agent_id names no agent"),
            e => e.into(),
        })?;
    Ok(HttpResponse::Created().json(SavedReply::from(saved)))
}

/// Changes a saved reply.
#[utoipa::path(tag = "canned", request_body = CannedBody,
    responses((status = 200, body = SavedReply), (status = 400), (status = 404), (status = 409)))]
#[patch("/canned/{id}")]
async fn change_canned(
    c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<CannedBody>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let (id, b) = (id.into_inner(), body.into_inner());
    if b.agent_id.is_some() {
        return Err(ApiErr::bad_request("agent_id cannot change; add a new one"));
    }
    let cur = state.storage.run(move |db| canned::find(db, id)).await?;
    let (shortcut, text) = checked(
        b.shortcut.as_deref().unwrap_or(&cur.shortcut),
        b.body.as_deref().unwrap_or(&cur.body),
    )?;
    let saved = state
        .storage
        .run(move |db| canned::update(db, id, &shortcut, &text))
        .await
        .map_err(|e| match e {
            StorageError::Conflict => ApiErr::conflict("its owner has a reply with that shortcut"),
            e => e.into(),
        })?;
    Ok(HttpResponse::Ok().json(SavedReply::from(saved)))
}

/// Deletes a saved reply.
#[utoipa::path(tag = "canned", responses((status = 204), (status = 404)))]
#[delete("/canned/{id}")]
async fn drop_canned(
    c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let id = id.into_inner();
    state
        .storage
        .run(move |db| {
            let cur = canned::find(db, id)?;
            canned::delete(db, cur.owner_id.map(AgentId), id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct RoomResource {
    id: i64,
    name: String,
    topic: Option<String>,
    /// Every active agent is in it.
    everyone: bool,
    /// Its members' ids (empty for `everyone`).
    member_ids: Vec<i64>,
    last_seq: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Rooms {
    data: Vec<RoomResource>,
}

/// Every team room, with its members.
#[utoipa::path(tag = "rooms", responses((status = 200, body = Rooms)))]
#[get("/rooms")]
async fn list_rooms(_c: Caller, state: web::Data<AppState>) -> Result<web::Json<Rooms>, ApiErr> {
    let all = state.storage.run(rooms::list).await?;
    Ok(web::Json(Rooms {
        data: all
            .into_iter()
            .map(|(room, members)| RoomResource {
                id: room.id,
                name: room.name,
                topic: room.topic,
                everyone: room.everyone,
                member_ids: members.iter().map(|(id, _)| id.0).collect(),
                last_seq: room.last_seq,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomPost {
    body: String,
    client_id: String,
    /// Who writes (a member); the token's admin if absent.
    agent_id: Option<i64>,
}

/// Posts to a room as an agent who is in it (else 404, as for no room).
#[utoipa::path(tag = "rooms", request_body = RoomPost,
    responses((status = 201, body = Object), (status = 404), (status = 422)))]
#[post("/rooms/{id}/messages")]
async fn post_room(
    c: Caller,
    state: web::Data<AppState>,
    cx: web::Data<ChatContext>,
    id: web::Path<i64>,
    body: web::Json<RoomPost>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let b = body.into_inner();
    let cid = ClientId::parse(&b.client_id)
        .map_err(|e| ApiErr::from(ErrorBody::new(code::BAD_CLIENT_ID, e.to_string())))?;
    let text = MessageBody::parse(&b.body)
        .map_err(|e| ApiErr::from(ErrorBody::new(code::VALIDATION, e.to_string())))?;
    let card = match b.agent_id {
        None => c.card,
        Some(a) => {
            let agent = state
                .storage
                .run(move |db| agents::find(db, AgentId(a)))
                .await
                .map_err(|_| ApiErr::bad_request("agent_id names no agent"))?;
            AgentCard::of(&agent)
        }
    };
    let view: RoomMessageView = agent_actions::room_message(
        cx.into_inner(),
        (card, next_session_id()),
        RoomId(id.into_inner()),
        cid,
        text,
    )
    .await?;
    Ok(HttpResponse::Created().json(view))
}
