//! Saved replies: an agent's own at `/agent/canned`, the shared ones at
//! `/admin/canned` (admins), each with import and export as JSON; and
//! `/agent/canned.json`, what the composer's `/` picker offers, filled in
//! for one conversation.

use actix_session::{Session, SessionExt};
use actix_web::{dev::Payload, http::StatusCode, web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};

use super::{render, see_other, Chrome};
use crate::chat::messages::AgentCard;
use crate::chat::ChatContext;
use crate::domain::canned::{fill, parse_shortcut, Values};
use crate::domain::{ConversationId, MessageBody};
use crate::storage::agents::Agent;
use crate::storage::canned::{self, Canned, Owner};
use crate::storage::{visitors, StorageError};
use crate::web::auth::CurrentAgent;
use crate::web::error::WebError;
use crate::web::i18n::Lang;
use crate::web::session;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "canned.html")]
struct CannedPage<'a> {
    c: Chrome,
    title: &'static str,
    base: &'static str,
    items: Vec<Canned>,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct CannedForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    shortcut: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    json: String,
}

#[derive(Serialize, Deserialize)]
struct Item {
    shortcut: String,
    body: String,
}

/// Whose list a request is about.
#[derive(Clone, Copy)]
enum Scope {
    Mine,
    Shared,
}

impl Scope {
    fn owner(self, agent: &Agent) -> Owner {
        match self {
            Scope::Mine => Some(agent.id),
            Scope::Shared => None,
        }
    }
    fn base(self) -> &'static str {
        match self {
            Scope::Mine => "/agent/canned",
            Scope::Shared => "/admin/canned",
        }
    }
}

pub struct Asker {
    req: HttpRequest,
    s: Session,
    lang: Lang,
    agent: Agent,
}

async fn page(
    w: &Asker,
    state: &AppState,
    scope: Scope,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, WebError> {
    let t = w.lang.strings();
    let owner = scope.owner(&w.agent);
    let items = state.storage.run(move |db| canned::list(db, owner)).await?;
    let page = CannedPage {
        c: Chrome::for_agent(w.lang, w.req.path(), &w.agent, &w.s)?,
        title: match scope {
            Scope::Mine => t.my_replies,
            Scope::Shared => t.canned_shared_title,
        },
        base: scope.base(),
        items,
        error,
    };
    render(status, &page)
}

/// Checks one (shortcut, body); the refusal's text otherwise.
fn checked(lang: Lang, shortcut: &str, body: &str) -> Result<(String, String), &'static str> {
    let t = lang.strings();
    let s = parse_shortcut(shortcut).ok_or(t.err_shortcut)?;
    let b = MessageBody::parse(body).map_err(|_| t.err_canned_body)?;
    Ok((s, b.as_str().to_owned()))
}

async fn act(
    w: Asker,
    form: CannedForm,
    state: &AppState,
    scope: Scope,
    what: &str,
) -> Result<HttpResponse, WebError> {
    session::check_csrf(&w.s, &form.csrf_token)?;
    let t = w.lang.strings();
    let items = match what {
        "import" => {
            let parsed: Result<Vec<Item>, _> = serde_json::from_str(&form.json);
            let all = parsed.ok().and_then(|v| {
                v.iter()
                    .map(|i| checked(w.lang, &i.shortcut, &i.body).ok())
                    .collect::<Option<Vec<_>>>()
            });
            match all {
                Some(v) if (v.len() as i64) <= canned::MAX_PER_OWNER => v,
                _ => {
                    return page(
                        &w,
                        state,
                        scope,
                        StatusCode::BAD_REQUEST,
                        Some(t.err_import),
                    )
                    .await
                }
            }
        }
        _ => match checked(w.lang, &form.shortcut, &form.body) {
            Ok(one) => vec![one],
            Err(e) => return page(&w, state, scope, StatusCode::BAD_REQUEST, Some(e)).await,
        },
    };
    let (owner, now) = (scope.owner(&w.agent), state.clock.now_naive());
    match state
        .storage
        .run(move |db| canned::put(db, owner, &items, now))
        .await
    {
        Ok(_) => Ok(see_other(scope.base())),
        Err(StorageError::Conflict) => {
            page(
                &w,
                state,
                scope,
                StatusCode::CONFLICT,
                Some(t.err_too_many_canned),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn remove(
    w: Asker,
    form: CannedForm,
    state: &AppState,
    scope: Scope,
    id: i64,
) -> Result<HttpResponse, WebError> {
    session::check_csrf(&w.s, &form.csrf_token)?;
    let owner = scope.owner(&w.agent);
    match state
        .storage
        .run(move |db| canned::delete(db, owner, id))
        .await
    {
        Ok(()) => Ok(see_other(scope.base())),
        Err(StorageError::NotFound) => Err(WebError::NotFound),
        Err(e) => Err(e.into()),
    }
}

async fn export(agent: &Agent, state: &AppState, scope: Scope) -> Result<HttpResponse, WebError> {
    let owner = scope.owner(agent);
    let items = state.storage.run(move |db| canned::list(db, owner)).await?;
    let out: Vec<Item> = items
        .into_iter()
        .map(|c| Item {
            shortcut: c.shortcut,
            body: c.body,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"saved-replies.json\"",
        ))
        .insert_header(("Cache-Control", "no-store"))
        .json(out))
}

/// Who asks, for whose list: `SHARED` lists are the admins' to manage.
pub struct Who<const SHARED: bool>(Asker);

impl<const SHARED: bool> Who<SHARED> {
    fn scope(&self) -> Scope {
        if SHARED {
            Scope::Shared
        } else {
            Scope::Mine
        }
    }
}

impl<const SHARED: bool> FromRequest for Who<SHARED> {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (r, s, lang) = (req.clone(), req.get_session(), Lang::of_request(req));
        let agent = CurrentAgent::from_request(req, payload);
        Box::pin(async move {
            let CurrentAgent(agent) = agent.await?;
            if SHARED && !agent.is_admin() {
                return Err(WebError::Forbidden);
            }
            Ok(Who(Asker {
                req: r,
                s,
                lang,
                agent,
            }))
        })
    }
}

pub async fn list<const SHARED: bool>(
    w: Who<SHARED>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let scope = w.scope();
    page(&w.0, &state, scope, StatusCode::OK, None).await
}

pub async fn add<const SHARED: bool>(
    w: Who<SHARED>,
    state: web::Data<AppState>,
    f: web::Form<CannedForm>,
) -> Result<HttpResponse, WebError> {
    let scope = w.scope();
    act(w.0, f.into_inner(), &state, scope, "one").await
}

pub async fn import<const SHARED: bool>(
    w: Who<SHARED>,
    state: web::Data<AppState>,
    f: web::Form<CannedForm>,
) -> Result<HttpResponse, WebError> {
    let scope = w.scope();
    act(w.0, f.into_inner(), &state, scope, "import").await
}

pub async fn delete<const SHARED: bool>(
    w: Who<SHARED>,
    state: web::Data<AppState>,
    f: web::Form<CannedForm>,
    id: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let scope = w.scope();
    remove(w.0, f.into_inner(), &state, scope, *id).await
}

pub async fn export_json<const SHARED: bool>(
    w: Who<SHARED>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let scope = w.scope();
    export(&w.0.agent, &state, scope).await
}

#[derive(Deserialize)]
pub struct PickQuery {
    conversation_id: Option<i64>,
}

#[derive(Serialize)]
struct Offer {
    id: i64,
    shortcut: String,
    body: String,
    /// The body filled in for the conversation asked about.
    text: String,
    shared: bool,
}

/// GET /agent/canned.json?conversation_id=N: what the `/` picker offers,
/// filled in for that conversation's visitor (which the agent must be able
/// to read: `404` otherwise, whether it exists or not).
pub async fn offers(
    a: CurrentAgent,
    state: web::Data<AppState>,
    chat: web::Data<ChatContext>,
    q: web::Query<PickQuery>,
) -> Result<HttpResponse, WebError> {
    let agent = a.0;
    let visitor = match q.conversation_id.map(ConversationId) {
        None => None,
        Some(id) => {
            let conv = chat.readable(&AgentCard::of(&agent), id).await?;
            let conv = conv.ok_or(WebError::NotFound)?;
            let vid = conv.visitor_id;
            Some(state.storage.run(move |db| visitors::find(db, vid)).await?)
        }
    };
    let me = agent.id;
    let list = state.storage.run(move |db| canned::usable(db, me)).await?;
    let values = Values {
        visitor_name: visitor.as_ref().and_then(|v| v.name.as_deref()),
        visitor_email: visitor.as_ref().and_then(|v| v.email.as_deref()),
        agent_name: Some(&agent.display_name),
    };
    let out: Vec<Offer> = list
        .into_iter()
        .map(|c| Offer {
            text: fill(&c.body, &values),
            shared: c.owner_id.is_none(),
            id: c.id,
            shortcut: c.shortcut,
            body: c.body,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(out))
}
