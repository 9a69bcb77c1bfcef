//! Visitors (read, and what an integration may change) and agents with
//! their presence.

use actix_web::{get, patch, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{ApiErr, Caller};
use crate::chat::messages::GetPresence;
use crate::chat::protocol::code;
use crate::chat::ChatContext;
use crate::domain::VisitorId;
use crate::resources::{self, VisitorResource};
use crate::storage::identity::{self, Claim};
use crate::storage::{agents, visitors, StorageError};
use crate::web::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(visitor)
        .service(update_visitor)
        .service(list_agents);
}

/// One visitor.
#[utoipa::path(tag = "visitors", responses((status = 200, body = VisitorResource), (status = 404)))]
#[get("/visitors/{id}")]
async fn visitor(
    _c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<VisitorResource>, ApiErr> {
    let id = VisitorId(id.into_inner());
    Ok(web::Json(
        state
            .storage
            .run(move |db| resources::visitor(db, id))
            .await?,
    ))
}

/// Absent: unchanged; `null`: cleared.
fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorPatch {
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    /// Replaces the visitor's attributes (a JSON object, up to 8 KiB).
    #[schema(value_type = Option<Object>)]
    attributes: Option<serde_json::Value>,
    /// Who the site says this is; with `identifier_hash` (HMAC-SHA256 of it
    /// under the site's secret, hex) it is verified. Required when the site
    /// requires verified identities.
    identifier: Option<String>,
    identifier_hash: Option<String>,
}

fn text(
    v: Option<Option<String>>,
    max: usize,
    what: &'static str,
) -> Result<Option<Option<String>>, ApiErr> {
    match v {
        Some(Some(s)) if s.chars().count() > max || s.chars().any(char::is_control) => {
            Err(ApiErr::bad_request(what))
        }
        Some(Some(s)) if s.trim().is_empty() => Ok(Some(None)),
        Some(Some(s)) => Ok(Some(Some(s.trim().to_owned()))),
        other => Ok(other),
    }
}

/// Changes a visitor's name, email, attributes or identity.
#[utoipa::path(tag = "visitors", request_body = VisitorPatch,
    responses((status = 200, body = VisitorResource), (status = 400), (status = 403), (status = 404), (status = 409)))]
#[patch("/visitors/{id}")]
async fn update_visitor(
    c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<VisitorPatch>,
) -> Result<web::Json<VisitorResource>, ApiErr> {
    c.may_write()?;
    let id = VisitorId(id.into_inner());
    let p = body.into_inner();
    let name = text(p.name, 64, "name: at most 64 characters, no controls")?;
    let email = text(p.email, 254, "email: at most 254 characters, no controls")?;
    let attributes = match p.attributes {
        None => None,
        Some(v @ serde_json::Value::Object(_)) => {
            let s = v.to_string();
            if s.len() > 8 * 1024 {
                return Err(ApiErr::bad_request("attributes: at most 8 KiB of JSON"));
            }
            Some(s)
        }
        Some(_) => return Err(ApiErr::bad_request("attributes is a JSON object")),
    };
    let required = state.identity_required;
    let (ident, hash) = (p.identifier, p.identifier_hash);
    let updated = state
        .storage
        .run(move |db| {
            let claim = match ident {
                None if hash.is_some() => {
                    return Ok(Err(ApiErr::bad_request(
                        "identifier_hash without identifier",
                    )))
                }
                None => None,
                Some(i) => {
                    let secret = identity::secret(db)?;
                    match identity::judge(secret.as_deref(), Some(&i), hash.as_deref(), required) {
                        Ok(c) => c,
                        Err(identity::Invalid) => {
                            return Ok(Err(ApiErr::new(
                                actix_web::http::StatusCode::FORBIDDEN,
                                code::IDENTITY_INVALID,
                                "identifier_hash is not the site's signature of identifier",
                            )))
                        }
                    }
                }
            };
            visitors::find(db, id)?;
            if let Some(claim) = claim {
                let (ident, verified) = match &claim {
                    Claim::Verified(i) => (i.clone(), true),
                    Claim::Unverified(i) => (i.clone(), false),
                };
                identity::set(db, id, Some(&ident), verified)?;
            }
            visitors::update_profile(db, id, name, email, attributes)?;
            Ok(Ok(resources::visitor(db, id)?))
        })
        .await
        .map_err(|e| match e {
            StorageError::Conflict => {
                ApiErr::conflict("another visitor is verified with that identifier")
            }
            e => e.into(),
        })?;
    Ok(web::Json(updated?))
}

#[derive(Serialize, ToSchema)]
pub struct AgentResource {
    id: i64,
    username: String,
    name: String,
    /// `agent` or `admin`.
    role: String,
    active: bool,
    /// `online`, `away` or `offline`.
    status: String,
    open_conversations: usize,
    /// Open conversations at once (0: no limit).
    capacity: u32,
}

#[derive(Serialize, ToSchema)]
pub struct Agents {
    data: Vec<AgentResource>,
}

/// Every agent, with presence and load.
#[utoipa::path(tag = "agents", responses((status = 200, body = Agents)))]
#[get("/agents")]
async fn list_agents(
    _c: Caller,
    state: web::Data<AppState>,
    cx: web::Data<ChatContext>,
) -> Result<web::Json<Agents>, ApiErr> {
    let all = state.storage.run(agents::list).await?;
    let presence = cx.dispatcher.send(GetPresence).await?;
    let data = all
        .into_iter()
        .map(|a| {
            let p = presence.iter().find(|p| p.id == a.id.0);
            let status = p.map_or("offline".to_owned(), |p| {
                serde_json::to_value(p.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            });
            AgentResource {
                id: a.id.0,
                name: a.display_name.clone(),
                role: a.role.as_str().to_owned(),
                active: a.active,
                status,
                open_conversations: p.map_or(0, |p| p.open_conversations),
                capacity: a.capacity.map_or(cx.agent_capacity, |c| c.max(0) as u32),
                username: a.username,
            }
        })
        .collect();
    Ok(web::Json(Agents { data }))
}
