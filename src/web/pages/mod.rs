//! Server-rendered pages. Every template gets a `Chrome`: the language's
//! strings and what the header needs (who is signed in, the logout token).

pub mod admin;
pub mod admin_agent;
pub mod admin_integrations;
pub mod admin_labels;
pub mod admin_news;
pub mod admin_reports;
pub mod admin_rooms;
pub mod archive;
pub mod canned;
pub mod dashboard;
pub mod login;
pub mod system;
pub mod transcript;
pub mod widget;

use actix_session::Session;
use actix_web::{http::header, http::StatusCode, HttpResponse};
use askama::Template;

use super::auth::CurrentAgent;
use super::error::WebError;
use super::i18n::Lang;
use super::session;
use crate::storage::agents::Agent;

pub use super::chrome::{Chrome, NavAgent, PAGE_CSP_NO_FRAMES};

/// The header for a signed-in agent (an inherent impl here: it needs the
/// session, which `chrome.rs` must not, so error pages stay below it).
impl Chrome {
    pub fn for_agent(lang: Lang, path: &str, agent: &Agent, s: &Session) -> Result<Self, WebError> {
        let mut c = Chrome::anonymous(lang, path);
        c.agent = Some(NavAgent {
            name: agent.display_name.clone(),
            is_admin: agent.is_admin(),
        });
        c.csrf = session::csrf_token(s)?;
        Ok(c)
    }
}

/// Our pages load scripts, styles and images from livedesk only, and talk only to it.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'";

/// Renders a page with the given status; pages are never cached (they carry
/// tokens) and never framed by another site.
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, WebError> {
    render_framable(status, page, "'none'")
}

/// Like `render`, with the sites allowed to frame the page (`*` for the widget).
pub fn render_framable(
    status: StatusCode,
    page: &impl Template,
    frame_ancestors: &str,
) -> Result<HttpResponse, WebError> {
    let body = page.render()?;
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            format!("{CSP}; frame-ancestors {frame_ancestors}"),
        ));
    if frame_ancestors == "'none'" {
        res.insert_header((header::X_FRAME_OPTIONS, "DENY"));
    }
    Ok(res.body(body))
}

/// UI text for the browser scripts, as JSON for a `data-` attribute.
pub fn js_text(lang: Lang) -> String {
    serde_json::to_string(&lang.strings().js).unwrap_or_else(|_| "{}".into())
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

pub async fn home(agent: Option<CurrentAgent>) -> HttpResponse {
    match agent {
        Some(_) => see_other("/agent"),
        None => see_other("/login"),
    }
}

pub fn format_time(t: Option<chrono::NaiveDateTime>, never: &str) -> String {
    match t {
        Some(t) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => never.to_owned(),
    }
}
