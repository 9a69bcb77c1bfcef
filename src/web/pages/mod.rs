//! Server-rendered pages. Every template gets a `Chrome`: the language's
//! strings and what the header needs (who is signed in, the logout token).

pub mod admin;
pub mod dashboard;
pub mod login;
pub mod system;

use actix_session::Session;
use actix_web::{http::header, http::StatusCode, HttpResponse};
use askama::Template;

use super::auth::CurrentAgent;
use super::error::WebError;
use super::i18n::{Lang, Strings};
use super::session;
use crate::storage::agents::Agent;

pub struct Chrome {
    pub t: &'static Strings,
    pub lang_href: String,
    pub agent: Option<NavAgent>,
    pub csrf: String,
}

pub struct NavAgent {
    pub name: String,
    pub is_admin: bool,
}

impl Chrome {
    pub fn anonymous(lang: Lang, path: &str) -> Self {
        let t = lang.strings();
        let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        Chrome {
            t,
            lang_href: format!("/lang/{}?next={next}", t.other_lang_code),
            agent: None,
            csrf: String::new(),
        }
    }

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

/// Renders a page with the given status; pages are never cached (they carry tokens).
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, WebError> {
    let body = page.render()?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
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
