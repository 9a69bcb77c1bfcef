//! The admin console's integrations: API tokens, webhook endpoints (with
//! their delivery logs), the site's identity secret. A token or secret is
//! shown once, in the answer to the form that made it (never stored in a
//! session, never shown again).

use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::admin::{AdminPost, CsrfForm, Ctx};
use super::{render, see_other, Chrome};
use crate::chat::protocol::rfc3339;
use crate::storage::api_tokens::{self, ApiToken, Scope};
use crate::storage::webhooks::{self, Delivery, Webhook, EVENTS};
use crate::storage::{identity, StorageError};
use crate::web::error::WebError;
use crate::web::state::AppState;
use crate::webhooks::client::check_url;

#[derive(Template)]
#[template(path = "admin/integrations.html")]
struct Page {
    c: Chrome,
    tokens: Vec<TokenRow>,
    hooks: Vec<Webhook>,
    events: &'static [&'static str],
    identity_set: bool,
    identity_required: bool,
    /// Shown once: (what it is, the text).
    once: Option<(&'static str, String)>,
    error: Option<String>,
}

struct TokenRow {
    t: ApiToken,
    state: &'static str,
    scope: &'static str,
    created: String,
    expires: String,
    last_used: String,
}

fn when(t: Option<chrono::NaiveDateTime>, never: &'static str) -> String {
    t.map_or(never.to_owned(), |t| rfc3339(t)[..16].replace('T', " "))
}

async fn page(
    cx: &Ctx,
    state: &AppState,
    status: StatusCode,
    once: Option<(&'static str, String)>,
    error: Option<String>,
) -> Result<HttpResponse, WebError> {
    let i = &cx.lang.strings().integ;
    let now = state.clock.now_naive();
    let (tokens, hooks, identity_set) = state
        .storage
        .run(|db| {
            Ok((
                api_tokens::list(db)?,
                webhooks::list(db)?,
                identity::secret(db)?.is_some(),
            ))
        })
        .await?;
    let tokens = tokens
        .into_iter()
        .map(|t| TokenRow {
            state: match (t.revoked_at, t.live(now)) {
                (Some(_), _) => i.state_revoked,
                (None, false) => i.state_expired,
                (None, true) => i.state_active,
            },
            scope: match t.scope {
                Scope::Read => i.scope_read,
                Scope::Write => i.scope_write,
            },
            created: when(Some(t.created_at), i.never),
            expires: when(t.expires_at, i.never),
            last_used: when(t.last_used_at, i.never),
            t,
        })
        .collect();
    render(
        status,
        &Page {
            c: cx.chrome()?,
            tokens,
            hooks,
            events: EVENTS,
            identity_set,
            identity_required: state.identity_required,
            once,
            error,
        },
    )
}

pub async fn show(cx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    page(&cx, &state, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    expires_days: String,
}

#[derive(Deserialize)]
pub struct Plain {
    #[serde(default)]
    csrf_token: String,
}

#[derive(Deserialize)]
pub struct HookForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    include_notes: Option<String>,
    #[serde(default)]
    active: Option<String>,
    #[serde(default, rename = "conversation.created")]
    e_created: Option<String>,
    #[serde(default, rename = "conversation.assigned")]
    e_assigned: Option<String>,
    #[serde(default, rename = "conversation.closed")]
    e_closed: Option<String>,
    #[serde(default, rename = "conversation.reopened")]
    e_reopened: Option<String>,
    #[serde(default, rename = "message.created")]
    e_message: Option<String>,
    #[serde(default, rename = "visitor.identified")]
    e_identified: Option<String>,
    #[serde(default, rename = "csat.submitted")]
    e_csat: Option<String>,
}

impl HookForm {
    fn events(&self) -> Vec<String> {
        let ticked = [
            &self.e_created,
            &self.e_assigned,
            &self.e_closed,
            &self.e_reopened,
            &self.e_message,
            &self.e_identified,
            &self.e_csat,
        ];
        EVENTS
            .iter()
            .zip(ticked)
            .filter(|(_, t)| t.is_some())
            .map(|(e, _)| (*e).to_owned())
            .collect()
    }
}

macro_rules! csrf_form {
    ($($t:ty),*) => {$(
        impl CsrfForm for $t {
            fn csrf_token(&self) -> &str {
                &self.csrf_token
            }
        }
    )*};
}
csrf_form!(TokenForm, Plain, HookForm);

/// POST /admin/integrations/tokens: the new token, shown once.
pub async fn create_token(
    post: AdminPost<TokenForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let (cx, f) = (post.cx, post.form);
    let i = &cx.lang.strings().integ;
    let name = f.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return page(
            &cx,
            &state,
            StatusCode::BAD_REQUEST,
            None,
            Some(i.err_name.into()),
        )
        .await;
    }
    let scope = Scope::parse(&f.scope).unwrap_or(Scope::Read);
    let expires = match f.expires_days.trim() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(n) if (1..=3650).contains(&n) => {
                Some(state.clock.now_naive() + chrono::Duration::days(n))
            }
            _ => {
                return page(
                    &cx,
                    &state,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some(i.err_expires.into()),
                )
                .await
            }
        },
    };
    let (by, now) = (cx.admin.id, state.clock.now_naive());
    let (_, token) = state
        .storage
        .run(move |db| api_tokens::create(db, &name, scope, Some(by), expires, now))
        .await?;
    page(
        &cx,
        &state,
        StatusCode::OK,
        Some((i.token_once, token)),
        None,
    )
    .await
}

/// POST /admin/integrations/tokens/{id}/revoke
pub async fn revoke_token(
    post: AdminPost<Plain>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (id, now) = (id.into_inner(), state.clock.now_naive());
    state
        .storage
        .run(move |db| api_tokens::revoke(db, id, now))
        .await?;
    let _ = post;
    Ok(see_other("/admin/integrations"))
}

/// The form's URL and events, checked; or the message to show.
fn checked(state: &AppState, cx: &Ctx, f: &HookForm) -> Result<(String, String), String> {
    let i = &cx.lang.strings().integ;
    let url = check_url(&f.url, state.webhook_allow_private)
        .map_err(|why| i.err_url.replace("{why}", why))?;
    let events = webhooks::parse_events(&f.events()).ok_or_else(|| i.err_events.to_owned())?;
    Ok((url.to_string(), events))
}

/// POST /admin/integrations/webhooks: the new endpoint's secret, shown once.
pub async fn create_hook(
    post: AdminPost<HookForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let (cx, f) = (post.cx, post.form);
    let (url, events) = match checked(&state, &cx, &f) {
        Ok(v) => v,
        Err(e) => return page(&cx, &state, StatusCode::BAD_REQUEST, None, Some(e)).await,
    };
    let (notes, now) = (f.include_notes.is_some(), state.clock.now_naive());
    let (_, secret) = state
        .storage
        .run(move |db| webhooks::create(db, &url, &events, notes, now))
        .await?;
    let once = Some((cx.lang.strings().integ.secret_once, secret));
    page(&cx, &state, StatusCode::OK, once, None).await
}

/// POST /admin/integrations/webhooks/{id}: URL, events, notes, on or off.
pub async fn update_hook(
    post: AdminPost<HookForm>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (cx, f, id) = (post.cx, post.form, id.into_inner());
    let (url, events) = match checked(&state, &cx, &f) {
        Ok(v) => v,
        Err(e) => return page(&cx, &state, StatusCode::BAD_REQUEST, None, Some(e)).await,
    };
    let (notes, active) = (f.include_notes.is_some(), f.active.is_some());
    state
        .storage
        .run(move |db| {
            webhooks::update(db, id, Some(&url), Some(&events), Some(notes), Some(active))
        })
        .await?;
    Ok(see_other(&format!("/admin/integrations/webhooks/{id}")))
}

/// POST /admin/integrations/webhooks/{id}/rotate: the new secret, shown once.
pub async fn rotate_hook(
    post: AdminPost<Plain>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let (id, until) = (
        id.into_inner(),
        state.clock.now_naive() + chrono::Duration::hours(24),
    );
    let (_, secret) = state
        .storage
        .run(move |db| webhooks::rotate(db, id, until))
        .await?;
    let once = Some((post.cx.lang.strings().integ.secret_once, secret));
    page(&post.cx, &state, StatusCode::OK, once, None).await
}

/// POST /admin/integrations/webhooks/{id}/delete
pub async fn delete_hook(
    post: AdminPost<Plain>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    state
        .storage
        .run(move |db| webhooks::delete(db, id))
        .await?;
    let _ = post;
    Ok(see_other("/admin/integrations"))
}

/// POST /admin/integrations/identity: a new site secret, shown once.
pub async fn new_identity_secret(
    post: AdminPost<Plain>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let secret = state.storage.run(identity::new_secret).await?;
    let once = Some((post.cx.lang.strings().integ.identity_once, secret));
    page(&post.cx, &state, StatusCode::OK, once, None).await
}

#[derive(Template)]
#[template(path = "admin/webhook.html")]
struct HookPage {
    c: Chrome,
    hook: Webhook,
    events: &'static [&'static str],
    deliveries: Vec<(Delivery, String)>,
}

/// GET /admin/integrations/webhooks/{id}: the endpoint and its deliveries.
pub async fn show_hook(
    cx: Ctx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let (hook, deliveries) = state
        .storage
        .run(move |db| Ok((webhooks::find(db, id)?, webhooks::log(db, id, None, 100)?)))
        .await
        .map_err(|e| match e {
            StorageError::NotFound => WebError::NotFound,
            e => e.into(),
        })?;
    render(
        StatusCode::OK,
        &HookPage {
            c: cx.chrome()?,
            hook,
            events: EVENTS,
            deliveries: deliveries
                .into_iter()
                .map(|d| {
                    let t = when(Some(d.created_at), "");
                    (d, t)
                })
                .collect(),
        },
    )
}

/// POST /admin/integrations/webhooks/{id}/deliveries/{d}/redeliver
pub async fn redeliver(
    post: AdminPost<Plain>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, WebError> {
    let ((hook, d), now) = (path.into_inner(), state.clock.now_naive());
    state
        .storage
        .run(move |db| webhooks::redeliver(db, hook, d, now))
        .await
        .map_err(|e| match e {
            StorageError::NotFound => WebError::NotFound,
            e => e.into(),
        })?;
    let _ = post;
    Ok(see_other(&format!("/admin/integrations/webhooks/{hook}")))
}
