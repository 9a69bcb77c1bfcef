//! The admin console: one agent's page (profile, password, disabling). Each
//! change that ends or narrows the agent's sessions closes its open sockets.

use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::admin::{flash_text, AdminPost, AgentRow, CsrfForm, Ctx, Refusal};
use super::{render, see_other, Chrome};
use crate::chat::{hub::Logins, messages::CloseReason};
use crate::domain::{AgentId, DisplayName, NewPassword, Role};
use crate::storage::agents::{self, Agent};
use crate::storage::{sessions, StorageError};
use crate::web::error::WebError;
use crate::web::session::{self, Flash};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "admin/agent.html")]
struct EditPage<'a> {
    c: Chrome,
    agent: AgentRow,
    flash: Option<String>,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct CapacityForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    capacity: String,
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    active: String,
}

macro_rules! csrf_forms {
    ($($t:ty),*) => {$(
        impl CsrfForm for $t {
            fn csrf_token(&self) -> &str {
                &self.csrf_token
            }
        }
    )*};
}
csrf_forms!(ProfileForm, PasswordForm, ActiveForm, CapacityForm);

async fn load(state: &AppState, id: i64) -> Result<Agent, WebError> {
    state
        .storage
        .run(move |c| agents::find(c, AgentId(id)))
        .await
        .map_err(|e| match e {
            StorageError::NotFound => WebError::NotFound,
            other => other.into(),
        })
}

async fn edit_page(
    cx: &Ctx,
    agent: &Agent,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, WebError> {
    let t = cx.lang.strings();
    let page = EditPage {
        c: cx.chrome()?,
        agent: AgentRow::new(agent, t),
        flash: session::take_flash(&cx.s).map(|f| flash_text(t, f)),
        error,
    };
    render(status, &page)
}

pub async fn show(
    cx: Ctx,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let agent = load(&state, *id).await?;
    edit_page(&cx, &agent, StatusCode::OK, None).await
}

/// Shared tail of the edit actions: redirect with a notice, or show the form again.
async fn finish(
    cx: &Ctx,
    state: &AppState,
    id: i64,
    result: Result<Flash, Refusal>,
) -> Result<HttpResponse, WebError> {
    match result {
        Ok(flash) => {
            session::set_flash(&cx.s, flash)?;
            Ok(see_other(&format!("/admin/agents/{id}")))
        }
        Err(Refusal::Other(e)) => Err(e),
        Err(r) => {
            let (status, msg) = r.text(cx.lang.strings())?;
            let agent = load(state, id).await?;
            edit_page(cx, &agent, status, Some(msg)).await
        }
    }
}

pub async fn update(
    post: AdminPost<ProfileForm>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, form } = post;
    let id = *id;
    let before = load(&state, id).await?;
    let result = async {
        let display = DisplayName::parse(&form.display_name)?;
        let role = Role::parse(&form.role)?;
        let name = display.as_str().to_owned();
        state
            .storage
            .run(move |c| agents::update_profile(c, AgentId(id), display.as_str(), role))
            .await?;
        if before.role != role || before.display_name != name {
            // Open sockets carry the old rights and name: they reconnect with the new.
            state
                .agent_sockets
                .close(AgentId(id), Logins::All, CloseReason::Reauthorize);
        }
        tracing::info!(admin = %cx.admin.id, agent_id = id, role = role.as_str(), "agent profile changed");
        Ok(Flash::Saved)
    }
    .await;
    finish(&cx, &state, id, result).await
}

/// POST /admin/agents/{id}/capacity: empty for the default, else 0..=1000.
/// Open sockets reconnect (4001) to carry the new capacity to the Desk.
pub async fn set_capacity(
    post: AdminPost<CapacityForm>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, form } = post;
    let id = *id;
    load(&state, id).await?;
    let raw = form.capacity.trim();
    let capacity = match raw {
        "" => None,
        n => match n.parse::<i32>() {
            Ok(c) if (0..=1000).contains(&c) => Some(c),
            _ => {
                let agent = load(&state, id).await?;
                let t = cx.lang.strings();
                return edit_page(&cx, &agent, StatusCode::BAD_REQUEST, Some(t.err_capacity)).await;
            }
        },
    };
    state
        .storage
        .run(move |c| agents::set_capacity(c, AgentId(id), capacity))
        .await?;
    state
        .agent_sockets
        .close(AgentId(id), Logins::All, CloseReason::Reauthorize);
    tracing::info!(admin = %cx.admin.id, agent_id = id, ?capacity, "agent capacity changed");
    session::set_flash(&cx.s, Flash::Saved)?;
    Ok(see_other(&format!("/admin/agents/{id}")))
}

pub async fn reset_password(
    post: AdminPost<PasswordForm>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, form } = post;
    let id = *id;
    load(&state, id).await?;
    // Changing one's own password keeps this sign-in and ends every other.
    let keep = (cx.admin.id == AgentId(id))
        .then(|| session::login_id(&cx.s))
        .flatten();
    let result = async {
        let pw = NewPassword::parse(&form.password)?;
        let kept = keep.clone();
        let hash = state
            .hasher
            .hash(pw.expose().to_owned())
            .await
            .map_err(Refusal::Other)?;
        state
            .storage
            .run(move |c| {
                agents::set_password_hash(c, AgentId(id), &hash)?;
                // Whoever held the old password is signed out.
                match &kept {
                    Some(login) => sessions::delete_for_agent_except(c, AgentId(id), login)?,
                    None => sessions::delete_for_agent(c, AgentId(id))?,
                };
                Ok(())
            })
            .await?;
        let which = match &keep {
            Some(login) => Logins::AllBut(login),
            None => Logins::All,
        };
        state
            .agent_sockets
            .close(AgentId(id), which, CloseReason::SessionEnded);
        tracing::info!(admin = %cx.admin.id, agent_id = id, "agent password reset");
        Ok(Flash::Password)
    }
    .await;
    finish(&cx, &state, id, result).await
}

pub async fn set_active(
    post: AdminPost<ActiveForm>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, form } = post;
    let id = *id;
    load(&state, id).await?;
    let result = async {
        let active = match form.active.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(Refusal::Other(WebError::BadRequest)),
        };
        state
            .storage
            .run(move |c| {
                agents::set_active(c, AgentId(id), active)?;
                if !active {
                    sessions::delete_for_agent(c, AgentId(id))?;
                }
                Ok(())
            })
            .await?;
        if !active {
            state
                .agent_sockets
                .close(AgentId(id), Logins::All, CloseReason::Disabled);
            // Its sockets close and its conversations move now, not after the grace period.
            state
                .dispatcher
                .do_send(crate::chat::messages::KickAgent { agent: AgentId(id) });
        }
        tracing::info!(admin = %cx.admin.id, agent_id = id, active, "agent active flag changed");
        Ok(if active {
            Flash::Enabled
        } else {
            Flash::Disabled
        })
    }
    .await;
    finish(&cx, &state, id, result).await
}
