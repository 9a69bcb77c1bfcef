//! The admin console: agent accounts. Admins only; the last-admin rule is
//! enforced in storage so the CLI obeys it too.

use actix_session::Session;
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{format_time, render, see_other, Chrome};
use crate::chat::{hub::Logins, messages::CloseReason};
use crate::domain::{password, AgentId, DisplayName, NewPassword, Role, Username, ValidationError};
use crate::storage::agents::{self, Agent, NewAgent};
use crate::storage::{conversations, login_attempts, sessions, StorageError, StorageResult};
use crate::web::auth::AdminAgent;
use crate::web::error::WebError;
use crate::web::i18n::{Lang, Strings};
use crate::web::session::{self, Flash};
use crate::web::AppState;

pub struct AgentRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub is_admin: bool,
    pub active: bool,
    pub last_login: String,
    pub created: String,
}

impl AgentRow {
    fn new(a: &Agent, t: &'static Strings) -> Self {
        AgentRow {
            id: a.id.0,
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            role: match a.role {
                Role::Admin => t.role_admin,
                Role::Agent => t.role_agent,
            },
            is_admin: a.is_admin(),
            active: a.active,
            last_login: format_time(a.last_login_at, t.never),
            created: format_time(Some(a.created_at), t.never),
        }
    }
}

pub struct AttemptRow {
    pub time: String,
    pub username: String,
    pub ip: String,
    pub success: bool,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "admin/agents.html")]
struct ListPage<'a> {
    c: Chrome,
    js: String,
    agents: Vec<AgentRow>,
    attempts: Vec<AttemptRow>,
    /// The queue's text ("N waiting") when anything waits in it.
    queue_waiting: Option<String>,
    flash: Option<String>,
    error: Option<&'a str>,
    form: CreateForm,
}

#[derive(Template)]
#[template(path = "admin/agent.html")]
struct EditPage<'a> {
    c: Chrome,
    agent: AgentRow,
    flash: Option<String>,
    error: Option<&'a str>,
}

#[derive(Deserialize, Default)]
pub struct CreateForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    pub role: String,
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
pub struct ActiveForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    active: String,
}

fn flash_text(t: &'static Strings, f: Flash) -> String {
    match f {
        Flash::Created => t.flash_created.into(),
        Flash::Saved => t.flash_saved.into(),
        Flash::Password => t.flash_password.into(),
        Flash::Disabled => t.flash_disabled.into(),
        Flash::Enabled => t.flash_enabled.into(),
        Flash::QueueClosed(n) => t.flash_queue_closed.replace("{n}", &n.to_string()),
    }
}

/// The audit trail's outcome, in the reader's language.
fn outcome_text(t: &'static Strings, outcome: &str) -> String {
    match outcome {
        "success" => t.outcome_success,
        "bad_captcha" => t.outcome_bad_captcha,
        "bad_credentials" => t.outcome_bad_credentials,
        "disabled" => t.outcome_disabled,
        "rate_limited" => t.outcome_rate_limited,
        other => other,
    }
    .to_owned()
}

fn validation_text(t: &'static Strings, e: ValidationError) -> &'static str {
    match e {
        ValidationError::Username => t.err_invalid_username,
        ValidationError::DisplayName => t.err_invalid_display_name,
        ValidationError::Password => t.err_invalid_password,
        ValidationError::Role => t.err_invalid_role,
    }
}

/// A refusal shown on the form itself (4xx), or a real failure.
enum Refusal {
    Invalid(ValidationError),
    Taken,
    LastAdmin,
    Other(WebError),
}

impl From<StorageError> for Refusal {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict => Refusal::Taken,
            StorageError::LastAdmin => Refusal::LastAdmin,
            other => Refusal::Other(other.into()),
        }
    }
}

impl From<ValidationError> for Refusal {
    fn from(e: ValidationError) -> Self {
        Refusal::Invalid(e)
    }
}

impl Refusal {
    fn text(&self, t: &'static Strings) -> Result<(StatusCode, &'static str), WebError> {
        match self {
            Refusal::Invalid(v) => Ok((StatusCode::BAD_REQUEST, validation_text(t, *v))),
            Refusal::Taken => Ok((StatusCode::CONFLICT, t.err_username_taken)),
            Refusal::LastAdmin => Ok((StatusCode::CONFLICT, t.err_last_admin)),
            Refusal::Other(_) => Err(WebError::Session("unreachable".into())),
        }
    }
}

/// What every admin page needs to know about the request it answers.
struct Ctx<'a> {
    req: &'a HttpRequest,
    s: &'a Session,
    lang: Lang,
    admin: &'a Agent,
}

impl Ctx<'_> {
    fn chrome(&self) -> Result<Chrome, WebError> {
        Chrome::for_agent(self.lang, self.req.path(), self.admin, self.s)
    }
}

async fn list_page(
    cx: &Ctx<'_>,
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
    form: CreateForm,
) -> Result<HttpResponse, WebError> {
    let t = cx.lang.strings();
    let (list, attempts) = state
        .storage
        .run(|c| -> StorageResult<_> { Ok((agents::list(c)?, login_attempts::latest(c, 20)?)) })
        .await?;
    let page = ListPage {
        c: cx.chrome()?,
        js: super::js_text(cx.lang),
        agents: list.iter().map(|a| AgentRow::new(a, t)).collect(),
        attempts: attempts
            .into_iter()
            .map(|a| AttemptRow {
                time: format_time(Some(a.created_at), t.never),
                username: a.username,
                ip: a.ip,
                success: a.success,
                outcome: outcome_text(t, &a.outcome),
            })
            .collect(),
        queue_waiting: queued_count(state)
            .await
            .filter(|n| *n > 0)
            .map(|n| t.queue_waiting.replace("{n}", &n.to_string())),
        flash: session::take_flash(cx.s).map(|f| flash_text(t, f)),
        error,
        form,
    };
    render(status, &page)
}

/// Conversations in this node's queue (`None` if the Dispatcher does not answer).
async fn queued_count(state: &AppState) -> Option<usize> {
    state
        .dispatcher
        .send(crate::chat::messages::GetCounts)
        .await
        .ok()
        .map(|c| c.queued)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// POST /admin/queue/close: closes every queued conversation (a flood of
/// spam chats, a night's backlog nobody will answer).
pub async fn close_queue(
    admin: AdminAgent,
    s: Session,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    session::check_csrf(&s, &form.csrf_token)?;
    let by = crate::chat::messages::AgentCard {
        id: admin.0.id,
        name: admin.0.display_name.clone(),
        is_admin: true,
    };
    let unavailable = |e: actix::MailboxError| WebError::Session(e.to_string());
    let queued = state
        .dispatcher
        .send(crate::chat::messages::GetQueue)
        .await
        .map_err(unavailable)?;
    // Closed in storage first, then the Dispatcher follows (see `close_open`).
    let now = state.clock.now_naive();
    let conversations = state
        .storage
        .run(move |c| conversations::close_open(c, &queued, now))
        .await?;
    let closed = state
        .dispatcher
        .send(crate::chat::messages::CloseQueued { by, conversations })
        .await
        .map_err(unavailable)?;
    session::set_flash(&s, Flash::QueueClosed(closed))?;
    Ok(see_other("/admin/agents"))
}

/// GET /admin/presence: who is online now (the console refreshes it every few seconds).
pub async fn presence(
    _admin: AdminAgent,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let agents = state
        .dispatcher
        .send(crate::chat::messages::GetPresence)
        .await
        .map_err(|e| WebError::Session(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(agents))
}

pub async fn list(
    req: HttpRequest,
    s: Session,
    lang: Lang,
    state: web::Data<AppState>,
    admin: AdminAgent,
) -> Result<HttpResponse, WebError> {
    let form = CreateForm {
        role: "agent".into(),
        ..Default::default()
    };
    let cx = Ctx {
        req: &req,
        s: &s,
        lang,
        admin: &admin.0,
    };
    list_page(&cx, &state, StatusCode::OK, None, form).await
}

pub async fn create(
    req: HttpRequest,
    admin: AdminAgent,
    s: Session,
    lang: Lang,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, WebError> {
    session::check_csrf(&s, &form.csrf_token)?;
    let form = form.into_inner();
    let result: Result<Agent, Refusal> = async {
        let username = Username::parse(&form.username)?;
        let display = if form.display_name.trim().is_empty() {
            DisplayName::parse(username.as_str())?
        } else {
            DisplayName::parse(&form.display_name)?
        };
        let role = Role::parse(&form.role)?;
        let pw = NewPassword::parse(&form.password)?;
        let now = state.clock.now_naive();
        Ok(state
            .storage
            .run(move |c| {
                let hash = password::hash_password(pw.expose());
                agents::insert(
                    c,
                    &NewAgent {
                        username: username.as_str(),
                        display_name: display.as_str(),
                        password_hash: &hash,
                        role,
                    },
                    now,
                )
            })
            .await?)
    }
    .await;
    match result {
        Ok(agent) => {
            tracing::info!(admin = %admin.0.id, agent_id = %agent.id, "agent created");
            session::set_flash(&s, Flash::Created)?;
            Ok(see_other("/admin/agents"))
        }
        Err(Refusal::Other(e)) => Err(e),
        Err(r) => {
            let (status, msg) = r.text(lang.strings())?;
            let keep = CreateForm {
                password: String::new(),
                csrf_token: String::new(),
                ..form
            };
            let cx = Ctx {
                req: &req,
                s: &s,
                lang,
                admin: &admin.0,
            };
            list_page(&cx, &state, status, Some(msg), keep).await
        }
    }
}

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
    cx: &Ctx<'_>,
    agent: &Agent,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, WebError> {
    let t = cx.lang.strings();
    let page = EditPage {
        c: cx.chrome()?,
        agent: AgentRow::new(agent, t),
        flash: session::take_flash(cx.s).map(|f| flash_text(t, f)),
        error,
    };
    render(status, &page)
}

pub async fn show(
    req: HttpRequest,
    admin: AdminAgent,
    s: Session,
    lang: Lang,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let agent = load(&state, *id).await?;
    let cx = Ctx {
        req: &req,
        s: &s,
        lang,
        admin: &admin.0,
    };
    edit_page(&cx, &agent, StatusCode::OK, None).await
}

/// Shared tail of the edit actions: redirect with a notice, or show the form again.
async fn finish(
    cx: &Ctx<'_>,
    state: &AppState,
    id: i64,
    result: Result<Flash, Refusal>,
) -> Result<HttpResponse, WebError> {
    match result {
        Ok(flash) => {
            session::set_flash(cx.s, flash)?;
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
    req: HttpRequest,
    admin: AdminAgent,
    s: Session,
    lang: Lang,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<ProfileForm>,
) -> Result<HttpResponse, WebError> {
    session::check_csrf(&s, &form.csrf_token)?;
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
        tracing::info!(admin = %admin.0.id, agent_id = id, role = role.as_str(), "agent profile changed");
        Ok(Flash::Saved)
    }
    .await;
    let cx = Ctx {
        req: &req,
        s: &s,
        lang,
        admin: &admin.0,
    };
    finish(&cx, &state, id, result).await
}

pub async fn reset_password(
    req: HttpRequest,
    admin: AdminAgent,
    s: Session,
    lang: Lang,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, WebError> {
    session::check_csrf(&s, &form.csrf_token)?;
    let id = *id;
    load(&state, id).await?;
    // Changing one's own password keeps this sign-in and ends every other.
    let keep = (admin.0.id == AgentId(id))
        .then(|| session::login_id(&s))
        .flatten();
    let result = async {
        let pw = NewPassword::parse(&form.password)?;
        let kept = keep.clone();
        state
            .storage
            .run(move |c| {
                let hash = password::hash_password(pw.expose());
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
        tracing::info!(admin = %admin.0.id, agent_id = id, "agent password reset");
        Ok(Flash::Password)
    }
    .await;
    let cx = Ctx {
        req: &req,
        s: &s,
        lang,
        admin: &admin.0,
    };
    finish(&cx, &state, id, result).await
}

pub async fn set_active(
    req: HttpRequest,
    admin: AdminAgent,
    s: Session,
    lang: Lang,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<ActiveForm>,
) -> Result<HttpResponse, WebError> {
    session::check_csrf(&s, &form.csrf_token)?;
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
        tracing::info!(admin = %admin.0.id, agent_id = id, active, "agent active flag changed");
        Ok(if active {
            Flash::Enabled
        } else {
            Flash::Disabled
        })
    }
    .await;
    let cx = Ctx {
        req: &req,
        s: &s,
        lang,
        admin: &admin.0,
    };
    finish(&cx, &state, id, result).await
}
