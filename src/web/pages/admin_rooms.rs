//! The admin console's team rooms: create, rename, delete, members. Each
//! change is made in storage first, then the members' open dashboards are
//! told (`room`, `room_removed`) through the Dispatcher, on every node.

use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::admin::{flash_text, AdminPost, CsrfForm, Ctx};
use super::{render, see_other, Chrome};
use crate::chat::messages::ToGroup;
use crate::chat::protocol::{AgentOut, RoomView};
use crate::domain::{AgentId, RoomId};
use crate::storage::rooms::{self, Members};
use crate::storage::{agents, StorageError};
use crate::web::error::WebError;
use crate::web::session::{self, Flash};
use crate::web::state::AppState;

struct RoomRow {
    id: i64,
    name: String,
    topic: String,
    everyone: bool,
    members: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/rooms.html")]
struct RoomsPage<'a> {
    c: Chrome,
    rooms: Vec<RoomRow>,
    flash: Option<String>,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct RoomForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    members: String,
}

#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
}

impl CsrfForm for RoomForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}
impl CsrfForm for MemberForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Why a change was refused, shown on the page (4xx).
enum Refused {
    Name,
    Taken,
    Topic,
    UnknownAgent,
    Everyone,
}

async fn page(
    cx: &Ctx,
    state: &AppState,
    status: StatusCode,
    refused: Option<Refused>,
) -> Result<HttpResponse, WebError> {
    let t = cx.lang.strings();
    let list = state.storage.run(rooms::list).await?;
    let page = RoomsPage {
        c: cx.chrome()?,
        rooms: list
            .into_iter()
            .map(|(r, m)| RoomRow {
                id: r.id,
                name: r.name,
                topic: r.topic.unwrap_or_default(),
                everyone: r.everyone,
                members: m.into_iter().map(|(_, u)| u).collect(),
            })
            .collect(),
        flash: session::take_flash(&cx.s).map(|f| flash_text(t, f)),
        error: refused.map(|r| match r {
            Refused::Name => t.err_room_name,
            Refused::Taken => t.err_room_taken,
            Refused::Topic => t.err_topic,
            Refused::UnknownAgent => t.err_unknown_agent,
            Refused::Everyone => t.err_everyone_fixed,
        }),
    };
    render(status, &page)
}

pub async fn show(cx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    page(&cx, &state, StatusCode::OK, None).await
}

/// A refusal re-renders the page with its reason; anything else is an error.
async fn done(
    cx: &Ctx,
    state: &AppState,
    r: Result<Flash, Result<Refused, WebError>>,
) -> Result<HttpResponse, WebError> {
    match r {
        Ok(f) => {
            session::set_flash(&cx.s, f)?;
            Ok(see_other("/admin/rooms"))
        }
        Err(Ok(refused)) => {
            let status = match refused {
                Refused::Taken | Refused::Everyone => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            page(cx, state, status, Some(refused)).await
        }
        Err(Err(e)) => Err(e),
    }
}

fn storage_refusal(e: StorageError) -> Result<Refused, WebError> {
    match e {
        StorageError::Conflict => Ok(Refused::Taken),
        StorageError::NotFound => Err(WebError::NotFound),
        other => Err(other.into()),
    }
}

fn tell(state: &AppState, to: Members, frame: AgentOut) {
    state.dispatcher.do_send(ToGroup {
        to,
        frame,
        except: None,
    });
}

async fn agent_ids(
    state: &AppState,
    names: &str,
) -> Result<Vec<AgentId>, Result<Refused, WebError>> {
    let names: Vec<String> = names
        .split([',', ' ', '\n'])
        .map(|n| n.trim().to_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    let mut ids = Vec::new();
    for n in names {
        let found = state
            .storage
            .run(move |db| agents::find_by_username(db, &n))
            .await;
        match found {
            Ok(Some((a, _))) => ids.push(a.id),
            Ok(None) | Err(StorageError::NotFound) => return Err(Ok(Refused::UnknownAgent)),
            Err(e) => return Err(Err(e.into())),
        }
    }
    Ok(ids)
}

/// POST /admin/rooms
pub async fn create(
    post: AdminPost<RoomForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, form } = post;
    let r = async {
        let name = rooms::parse_name(&form.name).ok_or(Ok(Refused::Name))?;
        let topic = rooms::parse_topic(Some(&form.topic)).map_err(|_| Ok(Refused::Topic))?;
        let members = agent_ids(&state, &form.members).await?;
        let now = state.clock.now_naive();
        let ids = members.clone();
        let room = state
            .storage
            .run(move |db| rooms::create(db, &name, topic.as_deref(), &ids, now))
            .await
            .map_err(storage_refusal)?;
        let frame = AgentOut::Room {
            room: RoomView::of(&room),
        };
        tell(&state, Members::Some(members), frame);
        Ok(Flash::Created)
    }
    .await;
    done(&cx, &state, r).await
}

/// POST /admin/rooms/{id}: name and topic.
pub async fn update(
    post: AdminPost<RoomForm>,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, form } = post;
    let id = RoomId(path.into_inner());
    let r = async {
        let name = rooms::parse_name(&form.name).ok_or(Ok(Refused::Name))?;
        let topic = rooms::parse_topic(Some(&form.topic)).map_err(|_| Ok(Refused::Topic))?;
        let was = state
            .storage
            .run(move |db| rooms::find(db, id))
            .await
            .map_err(storage_refusal)?;
        if was.everyone && was.name != name {
            return Err(Ok(Refused::Everyone));
        }
        let (room, members) = state
            .storage
            .run(move |db| {
                let room = rooms::update(db, id, &name, topic.as_deref())?;
                let members = rooms::members(db, &room)?;
                Ok((room, members))
            })
            .await
            .map_err(storage_refusal)?;
        let frame = AgentOut::Room {
            room: RoomView::of(&room),
        };
        tell(&state, members, frame);
        Ok(Flash::Saved)
    }
    .await;
    done(&cx, &state, r).await
}

/// POST /admin/rooms/{id}/members: adds `username`.
pub async fn add_member(
    post: AdminPost<MemberForm>,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    membership(post, path.into_inner(), state, true).await
}

/// POST /admin/rooms/{id}/members/remove: removes `username`.
pub async fn remove_member(
    post: AdminPost<MemberForm>,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    membership(post, path.into_inner(), state, false).await
}

async fn membership(
    post: AdminPost<MemberForm>,
    id: i64,
    state: web::Data<AppState>,
    add: bool,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, form } = post;
    let id = RoomId(id);
    let r = async {
        let agent = *agent_ids(&state, &form.username)
            .await?
            .first()
            .ok_or(Ok(Refused::UnknownAgent))?;
        let room = state
            .storage
            .run(move |db| {
                match add {
                    true => rooms::add_member(db, id, agent)?,
                    false => rooms::remove_member(db, id, agent)?,
                };
                rooms::find(db, id)
            })
            .await
            .map_err(|e| match e {
                StorageError::Conflict => Ok(Refused::Everyone),
                other => storage_refusal(other),
            })?;
        let frame = match add {
            true => AgentOut::Room {
                room: RoomView::of(&room),
            },
            false => AgentOut::RoomRemoved { room_id: room.id },
        };
        tell(&state, Members::Some(vec![agent]), frame);
        Ok(Flash::Saved)
    }
    .await;
    done(&cx, &state, r).await
}

/// POST /admin/rooms/{id}/delete
pub async fn delete(
    post: AdminPost<MemberForm>,
    path: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, .. } = post;
    let id = RoomId(path.into_inner());
    let r = async {
        let was = state
            .storage
            .run(move |db| rooms::delete(db, id))
            .await
            .map_err(|e| match e {
                StorageError::Conflict => Ok(Refused::Everyone),
                other => storage_refusal(other),
            })?;
        tell(&state, was, AgentOut::RoomRemoved { room_id: id.0 });
        Ok(Flash::Deleted)
    }
    .await;
    done(&cx, &state, r).await
}
