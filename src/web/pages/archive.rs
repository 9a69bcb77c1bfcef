//! GET /agent/archive: conversations by agent, label, status, dates, the
//! visitor's name or email and text in their messages, newest first, 50 a
//! page. Agents find their own and the queue; admins everything.

use actix_session::Session;
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::{format_time, render, Chrome};
use crate::domain::{AgentId, ConversationStatus};
use crate::storage::archive::{self, Filter, Found, Viewer};
use crate::storage::{agents, labels};
use crate::web::auth::CurrentAgent;
use crate::web::error::WebError;
use crate::web::i18n::Lang;
use crate::web::state::AppState;

const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct Query {
    #[serde(default, deserialize_with = "number")]
    agent: Option<i64>,
    #[serde(default, deserialize_with = "number")]
    label: Option<i64>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    visitor: String,
    #[serde(default)]
    q: String,
    #[serde(default, deserialize_with = "number")]
    before: Option<i64>,
    /// Page size (tests); 1-100.
    #[serde(default, deserialize_with = "number")]
    per: Option<i64>,
}

/// A number, or none for an empty field (the form sends `label=` for "any").
fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let s = String::deserialize(d)?;
    match s.trim() {
        "" => Ok(None),
        t => t.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

struct Row {
    id: i64,
    visitor: String,
    agent: String,
    status: String,
    started: String,
}

#[derive(Template)]
#[template(path = "archive.html")]
struct ArchivePage {
    c: Chrome,
    rows: Vec<Row>,
    agents: Vec<(i64, String)>,
    labels: Vec<(i64, String)>,
    admin: bool,
    agent: i64,
    label: i64,
    status: String,
    from: String,
    to: String,
    visitor: String,
    q: String,
    /// The query string for the next page, if there is one.
    older: Option<String>,
}

fn day(s: &str) -> Option<chrono::NaiveDateTime> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

pub async fn show(
    req: HttpRequest,
    s: Session,
    lang: Lang,
    a: CurrentAgent,
    state: web::Data<AppState>,
    q: web::Query<Query>,
) -> Result<HttpResponse, WebError> {
    let me = a.0;
    let q = q.into_inner();
    let viewer = match me.is_admin() {
        true => Viewer::Admin,
        false => Viewer::Agent(me.id),
    };
    let status = ConversationStatus::parse(q.status.trim());
    let filter = Filter {
        agent: q.agent.map(AgentId),
        label: q.label,
        status,
        from: day(&q.from),
        // Up to and with that day.
        until: day(&q.to).map(|d| d + chrono::Duration::days(1)),
        visitor: Some(q.visitor.clone()),
        text: Some(q.q.clone()),
        before: q.before,
    };
    let per = q.per.unwrap_or(PAGE).clamp(1, 100);
    let (found, all_agents, all_labels) = state
        .storage
        .run(move |db| {
            Ok((
                archive::search(db, viewer, &filter, per + 1)?,
                agents::list(db)?,
                labels::all(db)?,
            ))
        })
        .await?;
    let t = lang.strings();
    let more = found.len() as i64 > per;
    let shown: Vec<Found> = found.into_iter().take(per as usize).collect();
    let older = match (more, shown.last()) {
        (true, Some(last)) => {
            let mut next = url_of(&q);
            next.push_str(&format!("&before={}", last.id));
            Some(next)
        }
        _ => None,
    };
    let page = ArchivePage {
        c: Chrome::for_agent(lang, req.path(), &me, &s)?,
        rows: shown
            .into_iter()
            .map(|f| Row {
                id: f.id,
                visitor: f
                    .visitor_name
                    .or(f.visitor_email)
                    .unwrap_or_else(|| format!("{} #{}", t.visitor_word, f.id)),
                agent: f.agent.unwrap_or_default(),
                status: f.status,
                started: format_time(Some(f.created_at), ""),
            })
            .collect(),
        agents: all_agents
            .iter()
            .map(|a| (a.id.0, a.display_name.clone()))
            .collect(),
        labels: all_labels.iter().map(|l| (l.id, l.name.clone())).collect(),
        admin: me.is_admin(),
        agent: q.agent.unwrap_or(0),
        label: q.label.unwrap_or(0),
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        from: q.from.clone(),
        to: q.to.clone(),
        visitor: q.visitor.clone(),
        q: q.q.clone(),
        older,
    };
    render(StatusCode::OK, &page)
}

/// The filters as a query string (without `before`), for the next page.
fn url_of(q: &Query) -> String {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    if let Some(a) = q.agent {
        pairs.append_pair("agent", &a.to_string());
    }
    if let Some(l) = q.label {
        pairs.append_pair("label", &l.to_string());
    }
    for (k, v) in [
        ("status", &q.status),
        ("from", &q.from),
        ("to", &q.to),
        ("visitor", &q.visitor),
        ("q", &q.q),
    ] {
        if !v.is_empty() {
            pairs.append_pair(k, v);
        }
    }
    if let Some(p) = q.per {
        pairs.append_pair("per", &p.to_string());
    }
    pairs.finish()
}
