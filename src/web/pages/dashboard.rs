use actix_session::Session;
use actix_web::{http::StatusCode, HttpRequest, HttpResponse};
use askama::Template;

use super::{render, Chrome};
use crate::web::auth::CurrentAgent;
use crate::web::error::WebError;
use crate::web::i18n::Lang;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    c: Chrome,
    display_name: String,
    js: String,
}

/// GET /agent: the agent's workplace. The live view arrives with the real-time core.
pub async fn show(
    req: HttpRequest,
    s: Session,
    lang: Lang,
    agent: CurrentAgent,
) -> Result<HttpResponse, WebError> {
    let CurrentAgent(agent) = agent;
    let c = Chrome::for_agent(lang, req.path(), &agent, &s)?;
    render(
        StatusCode::OK,
        &DashboardPage {
            c,
            display_name: agent.display_name.clone(),
            js: super::js_text(lang),
        },
    )
}
