//! The admin console: the list of agent accounts, creating one, who is online,
//! the queue. Admins only; the last-admin rule is enforced in storage so the
//! CLI obeys it too. One agent's page is `admin_agent`.

use actix_session::{Session, SessionExt};
use actix_web::{dev::Payload, http::StatusCode, web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use serde::{de::DeserializeOwned, Deserialize};

use super::{format_time, render, see_other, Chrome};
use crate::domain::{DisplayName, NewPassword, Role, Username, ValidationError};
use crate::storage::agents::{self, Agent, NewAgent};
use crate::storage::{conversations, login_attempts, StorageError, StorageResult};
use crate::web::auth::AdminAgent;
use crate::web::error::WebError;
use crate::web::i18n::{Lang, Strings};
use crate::web::session::{self, Flash};
use crate::web::state::AppState;

pub struct AgentRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub is_admin: bool,
    pub active: bool,
    pub last_login: String,
    pub created: String,
    /// The agent's own capacity, empty for the default.
    pub capacity: String,
}

impl AgentRow {
    pub(super) fn new(a: &Agent, t: &'static Strings) -> Self {
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
            capacity: a.capacity.map(|c| c.to_string()).unwrap_or_default(),
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

pub(super) fn flash_text(t: &'static Strings, f: Flash) -> String {
    match f {
        Flash::Created => t.flash_created.into(),
        Flash::Saved => t.flash_saved.into(),
        Flash::Password => t.flash_password.into(),
        Flash::Disabled => t.flash_disabled.into(),
        Flash::Enabled => t.flash_enabled.into(),
        Flash::QueueClosed(n) => t.flash_queue_closed.replace("{n}", &n.to_string()),
        Flash::Posted => t.flash_posted.into(),
        Flash::Deleted => t.flash_deleted.into(),
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
pub(super) enum Refusal {
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
    pub(super) fn text(&self, t: &'static Strings) -> Result<(StatusCode, &'static str), WebError> {
        match self {
            Refusal::Invalid(v) => Ok((StatusCode::BAD_REQUEST, validation_text(t, *v))),
            Refusal::Taken => Ok((StatusCode::CONFLICT, t.err_username_taken)),
            Refusal::LastAdmin => Ok((StatusCode::CONFLICT, t.err_last_admin)),
            Refusal::Other(_) => Err(WebError::Session("unreachable".into())),
        }
    }
}

/// What every admin page starts from: the request, its session and language,
/// and the signed-in admin (anyone else is refused before the handler runs).
pub struct Ctx {
    req: HttpRequest,
    pub(super) s: Session,
    pub(super) lang: Lang,
    pub(super) admin: Agent,
}

impl Ctx {
    pub(super) fn chrome(&self) -> Result<Chrome, WebError> {
        Chrome::for_agent(self.lang, self.req.path(), &self.admin, &self.s)
    }
}

impl FromRequest for Ctx {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let admin = AdminAgent::from_request(req, payload);
        let (req, s, lang) = (req.clone(), req.get_session(), Lang::of_request(req));
        Box::pin(async move {
            let AdminAgent(admin) = admin.await?;
            Ok(Ctx {
                req,
                s,
                lang,
                admin,
            })
        })
    }
}

/// A form that carries the session's CSRF token.
pub trait CsrfForm {
    fn csrf_token(&self) -> &str;
}

/// An admin's form post: `Ctx`, and the form, its CSRF token already checked.
pub struct AdminPost<F> {
    pub(super) cx: Ctx,
    pub(super) form: F,
}

impl<F: DeserializeOwned + CsrfForm + 'static> FromRequest for AdminPost<F> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let cx = Ctx::from_request(req, payload);
        let form = web::Form::<F>::from_request(req, payload);
        Box::pin(async move {
            let cx = cx.await?;
            let form = form.await?.into_inner();
            session::check_csrf(&cx.s, form.csrf_token())?;
            Ok(AdminPost { cx, form })
        })
    }
}

pub(super) async fn list_page(
    cx: &Ctx,
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
        flash: session::take_flash(&cx.s).map(|f| flash_text(t, f)),
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
pub struct QueueForm {
    #[serde(default)]
    csrf_token: String,
}

impl CsrfForm for QueueForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl CsrfForm for CreateForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /admin/queue/close: closes every queued conversation (a flood of
/// spam chats, a night's backlog nobody will answer).
pub async fn close_queue(
    post: AdminPost<QueueForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, .. } = post;
    let by = crate::chat::messages::AgentCard::of(&cx.admin);
    let unavailable = |_: actix::MailboxError| WebError::Unavailable("dispatcher");
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
    session::set_flash(&cx.s, Flash::QueueClosed(closed))?;
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
        .map_err(|_| WebError::Unavailable("dispatcher"))?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(agents))
}

pub async fn list(cx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let form = CreateForm {
        role: "agent".into(),
        ..Default::default()
    };
    list_page(&cx, &state, StatusCode::OK, None, form).await
}

pub async fn create(
    post: AdminPost<CreateForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, form } = post;
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
        let hash = state
            .hasher
            .hash(pw.expose().to_owned())
            .await
            .map_err(Refusal::Other)?;
        Ok(state
            .storage
            .run(move |c| {
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
            tracing::info!(admin = %cx.admin.id, agent_id = %agent.id, "agent created");
            session::set_flash(&cx.s, Flash::Created)?;
            Ok(see_other("/admin/agents"))
        }
        Err(Refusal::Other(e)) => Err(e),
        Err(r) => {
            let (status, msg) = r.text(cx.lang.strings())?;
            let keep = CreateForm {
                password: String::new(),
                csrf_token: String::new(),
                ..form
            };
            list_page(&cx, &state, status, Some(msg), keep).await
        }
    }
}
