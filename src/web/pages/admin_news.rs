//! The admin console's announcements to agents (every online dashboard at
//! once, the newest in each later `welcome`) and notices to visitors (every
//! connected widget at once, new ones until it expires). Text only, bounded.

use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::admin::{flash_text, AdminPost, CsrfForm, Ctx};
use super::{format_time, render, see_other, Chrome};
use crate::chat::messages::{ToAllVisitors, ToGroup};
use crate::chat::protocol::{AgentOut, AnnouncementView, VisitorOut};
use crate::storage::announcements::{self, Audience};
use crate::storage::rooms::Members;
use crate::web::error::WebError;
use crate::web::session::{self, Flash};
use crate::web::state::AppState;

pub const BODY_MAX: usize = 1000;
const NOTICE_HOURS_MAX: i64 = 72;

struct Row {
    time: String,
    author: String,
    body: String,
    until: String,
}

#[derive(Template)]
#[template(path = "admin/announcements.html")]
struct NewsPage<'a> {
    c: Chrome,
    items: Vec<Row>,
    flash: Option<String>,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct NewsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    hours: String,
}

impl CsrfForm for NewsForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn page(
    cx: &Ctx,
    state: &AppState,
    status: StatusCode,
    error: Option<&'static str>,
) -> Result<HttpResponse, WebError> {
    let t = cx.lang.strings();
    let list = state
        .storage
        .run(|db| announcements::latest(db, 20))
        .await?;
    let page = NewsPage {
        c: cx.chrome()?,
        items: list
            .into_iter()
            .map(|a| Row {
                time: format_time(Some(a.created_at), t.never),
                author: a.author_name,
                body: a.body,
                until: a
                    .until
                    .map(|u| format_time(Some(u), t.never))
                    .unwrap_or_default(),
            })
            .collect(),
        flash: session::take_flash(&cx.s).map(|f| flash_text(t, f)),
        error,
    };
    render(status, &page)
}

pub async fn show(cx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    page(&cx, &state, StatusCode::OK, None).await
}

/// Trimmed, control characters (but line breaks) out, 1..=BODY_MAX characters.
fn body_of(raw: &str) -> Option<String> {
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    (1..=BODY_MAX).contains(&s.chars().count()).then_some(s)
}

/// POST /admin/announcements
pub async fn announce(
    post: AdminPost<NewsForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, form } = post;
    let Some(body) = body_of(&form.body) else {
        let t = cx.lang.strings();
        return page(
            &cx,
            &state,
            StatusCode::BAD_REQUEST,
            Some(t.err_announcement),
        )
        .await;
    };
    let (id, name) = (cx.admin.id, cx.admin.display_name.clone());
    let now = state.clock.now_naive();
    let a = state
        .storage
        .run(move |db| announcements::insert(db, &body, (id, &name), Audience::Agents, now))
        .await?;
    state.dispatcher.do_send(ToGroup {
        to: Members::All,
        frame: AgentOut::Announcement {
            announcement: AnnouncementView::of(&a),
        },
        except: None,
    });
    session::set_flash(&cx.s, Flash::Posted)?;
    Ok(see_other("/admin/announcements"))
}

/// POST /admin/notices: a notice every widget shows for `hours`.
pub async fn notice(
    post: AdminPost<NewsForm>,
    state: web::Data<AppState>,
    chat: web::Data<crate::chat::ChatContext>,
) -> Result<HttpResponse, WebError> {
    let AdminPost { cx, form } = post;
    let t = cx.lang.strings();
    let Some(body) = body_of(&form.body).filter(|b| b.chars().count() <= 280) else {
        return page(
            &cx,
            &state,
            StatusCode::BAD_REQUEST,
            Some(t.err_announcement),
        )
        .await;
    };
    let hours = match form.hours.trim().parse::<i64>() {
        Ok(h) if (1..=NOTICE_HOURS_MAX).contains(&h) => h,
        _ => return page(&cx, &state, StatusCode::BAD_REQUEST, Some(t.err_hours)).await,
    };
    let (id, name) = (cx.admin.id, cx.admin.display_name.clone());
    let now = state.clock.now_naive();
    let until = now + chrono::Duration::hours(hours);
    let a = state
        .storage
        .run(move |db| {
            announcements::insert(db, &body, (id, &name), Audience::Visitors { until }, now)
        })
        .await?;
    chat.notices.set(Some(a.clone()));
    if let Some(n) = crate::chat::protocol::NoticeView::of(&a) {
        state.dispatcher.do_send(ToAllVisitors {
            frame: VisitorOut::Notice {
                body: n.body,
                until: n.until,
            },
        });
    }
    session::set_flash(&cx.s, Flash::Posted)?;
    Ok(see_other("/admin/announcements"))
}
