//! Webhook endpoints and their delivery logs. A secret is shown once, when
//! it is made (or rotated); listing never shows it.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{cursor, limit, ApiErr, Caller, Page};
use crate::chat::protocol::rfc3339;
use crate::storage::webhooks::{self, Delivery, Webhook};
use crate::web::AppState;
use crate::webhooks::client::check_url;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(add)
        .service(change)
        .service(remove)
        .service(rotate)
        .service(log)
        .service(redeliver);
}

#[derive(Serialize, ToSchema)]
pub struct WebhookResource {
    id: i64,
    url: String,
    events: Vec<String>,
    include_notes: bool,
    active: bool,
    created_at: String,
    /// Until when the secret before the last rotation still signs too.
    previous_secret_until: Option<String>,
    /// Only when just made or rotated: shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl WebhookResource {
    fn of(w: Webhook, secret: Option<String>) -> Self {
        WebhookResource {
            id: w.id,
            url: w.url,
            events: w.events,
            include_notes: w.include_notes,
            active: w.active,
            created_at: rfc3339(w.created_at),
            previous_secret_until: w.previous_until.map(rfc3339),
            secret,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Webhooks {
    data: Vec<WebhookResource>,
}

/// Every endpoint (no secrets).
#[utoipa::path(tag = "webhooks", responses((status = 200, body = Webhooks)))]
#[get("/webhooks")]
async fn list(_c: Caller, state: web::Data<AppState>) -> Result<web::Json<Webhooks>, ApiErr> {
    let all = state.storage.run(webhooks::list).await?;
    Ok(web::Json(Webhooks {
        data: all
            .into_iter()
            .map(|w| WebhookResource::of(w, None))
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    url: Option<String>,
    /// Some of `conversation.created`, `conversation.assigned`,
    /// `conversation.closed`, `conversation.reopened`, `message.created`,
    /// `visitor.identified`, `csat.submitted`.
    events: Option<Vec<String>>,
    /// `message.created` for private notes too.
    include_notes: Option<bool>,
    active: Option<bool>,
}

fn checked_url(state: &AppState, url: &str) -> Result<String, ApiErr> {
    if url.len() > 2048 {
        return Err(ApiErr::bad_request("url: at most 2,048 characters"));
    }
    check_url(url, state.webhook_allow_private)
        .map(|u| u.to_string())
        .map_err(|why| ApiErr::bad_request(format!("url: {why}")))
}

fn checked_events(events: &[String]) -> Result<String, ApiErr> {
    webhooks::parse_events(events)
        .ok_or_else(|| ApiErr::bad_request("events: one or more of the known event names"))
}

/// Registers an endpoint; its signing secret is in the answer, this once.
#[utoipa::path(tag = "webhooks", request_body = WebhookBody,
    responses((status = 201, body = WebhookResource), (status = 400)))]
#[post("/webhooks")]
async fn add(
    c: Caller,
    state: web::Data<AppState>,
    body: web::Json<WebhookBody>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let b = body.into_inner();
    let url = checked_url(&state, b.url.as_deref().unwrap_or(""))?;
    let events = checked_events(b.events.as_deref().unwrap_or(&[]))?;
    let notes = b.include_notes.unwrap_or(false);
    let now = state.clock.now_naive();
    let (hook, secret) = state
        .storage
        .run(move |db| webhooks::create(db, &url, &events, notes, now))
        .await?;
    let mut hook = hook;
    if b.active == Some(false) {
        let id = hook.id;
        hook = state
            .storage
            .run(move |db| webhooks::update(db, id, None, None, None, Some(false)))
            .await?;
    }
    Ok(HttpResponse::Created().json(WebhookResource::of(hook, Some(secret))))
}

/// Changes an endpoint.
#[utoipa::path(tag = "webhooks", request_body = WebhookBody,
    responses((status = 200, body = WebhookResource), (status = 400), (status = 404)))]
#[patch("/webhooks/{id}")]
async fn change(
    c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<WebhookBody>,
) -> Result<web::Json<WebhookResource>, ApiErr> {
    c.may_write()?;
    let (id, b) = (id.into_inner(), body.into_inner());
    let url = b
        .url
        .as_deref()
        .map(|u| checked_url(&state, u))
        .transpose()?;
    let events = b.events.as_deref().map(checked_events).transpose()?;
    let hook = state
        .storage
        .run(move |db| {
            webhooks::update(
                db,
                id,
                url.as_deref(),
                events.as_deref(),
                b.include_notes,
                b.active,
            )
        })
        .await?;
    Ok(web::Json(WebhookResource::of(hook, None)))
}

/// Removes an endpoint and its deliveries.
#[utoipa::path(tag = "webhooks", responses((status = 204), (status = 404)))]
#[delete("/webhooks/{id}")]
async fn remove(
    c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiErr> {
    c.may_write()?;
    let id = id.into_inner();
    state
        .storage
        .run(move |db| webhooks::delete(db, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// How long the old secret keeps signing beside the new one (0–168 hours; 24).
    overlap_hours: Option<i64>,
}

/// A new secret (in the answer, this once); deliveries carry a signature by
/// each of the two secrets until the overlap ends.
#[utoipa::path(tag = "webhooks", request_body = RotateBody,
    responses((status = 200, body = WebhookResource), (status = 404)))]
#[post("/webhooks/{id}/rotate")]
async fn rotate(
    c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: Option<web::Json<RotateBody>>,
) -> Result<web::Json<WebhookResource>, ApiErr> {
    c.may_write()?;
    let hours = body.and_then(|b| b.overlap_hours).unwrap_or(24);
    if !(0..=168).contains(&hours) {
        return Err(ApiErr::bad_request("overlap_hours: 0–168"));
    }
    let (id, until) = (
        id.into_inner(),
        state.clock.now_naive() + chrono::Duration::hours(hours),
    );
    let (hook, secret) = state
        .storage
        .run(move |db| webhooks::rotate(db, id, until))
        .await?;
    Ok(web::Json(WebhookResource::of(hook, Some(secret))))
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryResource {
    id: i64,
    /// The same on every attempt (`X-Livedesk-Delivery`).
    delivery_id: String,
    event: String,
    event_id: i64,
    conversation_id: Option<i64>,
    /// `pending`, `delivered` or `failed`.
    status: String,
    attempts: i32,
    last_response_code: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: Option<String>,
    created_at: String,
    done_at: Option<String>,
}

impl From<Delivery> for DeliveryResource {
    fn from(d: Delivery) -> Self {
        DeliveryResource {
            next_attempt_at: (d.status == "pending").then(|| rfc3339(d.next_at)),
            id: d.id,
            delivery_id: d.delivery_id,
            event: d.kind,
            event_id: d.event_id,
            conversation_id: d.conversation_id,
            status: d.status,
            attempts: d.attempts,
            last_response_code: d.last_code,
            last_error: d.last_error,
            created_at: rfc3339(d.created_at),
            done_at: d.done_at.map(rfc3339),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(tag = "webhooks", params(LogQuery),
    responses((status = 200, body = Page<DeliveryResource>), (status = 404)))]
#[get("/webhooks/{id}/deliveries")]
async fn log(
    _c: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<LogQuery>,
) -> Result<web::Json<Page<DeliveryResource>>, ApiErr> {
    let (id, before, n) = (id.into_inner(), cursor(&q.cursor)?, limit(q.limit));
    let rows = state
        .storage
        .run(move |db| {
            webhooks::find(db, id)?;
            webhooks::log(db, id, before, n)
        })
        .await?;
    let next_cursor = (rows.len() as i64 == n)
        .then(|| rows.last().map(|d| d.id.to_string()))
        .flatten();
    Ok(web::Json(Page {
        data: rows.into_iter().map(DeliveryResource::from).collect(),
        next_cursor,
    }))
}

/// Sends a delivery again soon, with the same delivery id and body.
#[utoipa::path(tag = "webhooks",
    responses((status = 200, body = DeliveryResource), (status = 404)))]
#[post("/webhooks/{id}/deliveries/{delivery}/redeliver")]
async fn redeliver(
    c: Caller,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<web::Json<DeliveryResource>, ApiErr> {
    c.may_write()?;
    let ((hook, d), now) = (path.into_inner(), state.clock.now_naive());
    let row = state
        .storage
        .run(move |db| webhooks::redeliver(db, hook, d, now))
        .await?;
    Ok(web::Json(row.into()))
}
