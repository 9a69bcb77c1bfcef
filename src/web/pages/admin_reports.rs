//! The admin console's reports (`web::reports` computes them, for this page,
//! its CSV export and the API alike), and the team's business hours and
//! satisfaction survey.

use actix_web::{http::header, http::StatusCode, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::admin::{AdminPost, CsrfForm, Ctx};
use super::{render, Chrome};
use crate::chat::dispatcher::HoursChanged;
use crate::domain::hours::{parse_spans, spans_text, BusinessHours};
use crate::storage::policies::{self, CsatPolicy};
use crate::web::error::WebError;
use crate::web::reports::{self, BadQuery, Named, ReportQuery};
use crate::web::state::AppState;

/// A line of the tables, as shown.
struct Row {
    name: String,
    cells: Vec<String>,
}

fn row(name: String, f: &crate::domain::reports::Figures, presence: Option<(i64, i64)>) -> Row {
    let mut cells = vec![
        f.started.to_string(),
        f.answered.to_string(),
        f.missed.to_string(),
        dur(&f.first_response_median),
        dur(&f.first_response_p90),
        dur(&f.resolution_median),
        dur(&f.resolution_p90),
        dur(&f.queue_wait_median),
        dur(&f.queue_wait_p90),
        opt(&f.messages_per_conversation),
        opt(&f.rating_average),
        opt(&f.rating_response_rate),
    ];
    match presence {
        Some((on, away)) => cells.extend([dur(&Some(on)), dur(&Some(away))]),
        None => cells.extend([String::new(), String::new()]),
    }
    Row { name, cells }
}

#[derive(Template)]
#[template(path = "admin/reports.html")]
struct ReportsPage {
    c: Chrome,
    q: ReportQuery,
    r: Option<Named>,
    rows: Vec<Row>,
    team: Option<Row>,
    days: Vec<(String, u32, String)>,
    error: Option<&'static str>,
    per_day: String,
    frt_per_day: String,
    load: String,
    zones: &'static [chrono_tz::Tz],
    csv_query: String,
}

/// `90 s`, `12 min`, `2.5 h`: a duration as the tables show it.
pub fn dur(secs: &Option<i64>) -> String {
    match secs {
        None => "—".into(),
        Some(s) if *s < 120 => format!("{s} s"),
        Some(s) if *s < 7200 => format!("{:.0} min", *s as f64 / 60.0),
        Some(s) => format!("{:.1} h", *s as f64 / 3600.0),
    }
}

pub fn opt(v: &Option<f64>) -> String {
    v.map_or("—".into(), |x| x.to_string())
}

/// GET /admin/reports
pub async fn show(
    cx: Ctx,
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, WebError> {
    let t = &cx.lang.strings().rep;
    let q = q.into_inner();
    let (r, error) = match reports::build(&state, &q).await {
        Ok(r) => (Some(r?), None),
        Err(BadQuery::Dates) => (None, Some(t.err_dates)),
        Err(BadQuery::Zone) => (None, Some(t.err_zone)),
    };
    let days = [t.mon, t.tue, t.wed, t.thu, t.fri, t.sat, t.sun];
    let (per_day, frt_per_day, load) = match &r {
        Some(r) => (
            reports::bars(
                &r.days
                    .iter()
                    .map(|d| (d.date.format("%m-%d").to_string(), f64::from(d.started)))
                    .collect::<Vec<_>>(),
                "",
            ),
            reports::bars(
                &r.days
                    .iter()
                    .map(|d| {
                        (
                            d.date.format("%m-%d").to_string(),
                            d.first_response_median.unwrap_or(0) as f64,
                        )
                    })
                    .collect::<Vec<_>>(),
                "s",
            ),
            reports::heat(&r.load, &days),
        ),
        None => Default::default(),
    };
    let csv_query = serde_urlencoded::to_string([
        ("from", q.from.clone().unwrap_or_default()),
        ("to", q.to.clone().unwrap_or_default()),
        ("tz", q.tz.clone().unwrap_or_default()),
        (
            "business_hours",
            q.business_hours.clone().unwrap_or_default(),
        ),
    ])
    .unwrap_or_default();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let rows = r
        .iter()
        .flat_map(|r| &r.agents)
        .map(|a| {
            let name = a.name.clone().unwrap_or_else(|| t.nobody.to_owned());
            row(name, &a.figures, Some((a.online_seconds, a.away_seconds)))
        })
        .collect();
    let team = r.as_ref().map(|r| row(t.team.to_owned(), &r.team, None));
    let day_rows = r
        .iter()
        .flat_map(|r| &r.days)
        .map(|d| (d.date.to_string(), d.started, dur(&d.first_response_median)))
        .collect();
    render(
        status,
        &ReportsPage {
            c: cx.chrome()?,
            q,
            r,
            rows,
            team,
            days: day_rows,
            error,
            per_day,
            frt_per_day,
            load,
            zones: &chrono_tz::TZ_VARIANTS,
            csv_query,
        },
    )
}

/// GET /admin/reports.csv
pub async fn csv(
    _cx: Ctx,
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, WebError> {
    let r = reports::build(&state, &q)
        .await
        .map_err(|_| WebError::BadRequest)??;
    let name = format!("livedesk-report-{}-{}.csv", r.from, r.to);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(reports::csv(&r)))
}

#[derive(Template)]
#[template(path = "admin/hours.html")]
struct HoursPage {
    c: Chrome,
    csat: CsatPolicy,
    hours_on: bool,
    tz: String,
    days: Vec<(&'static str, &'static str, String)>,
    holidays: String,
    special: String,
    saved: bool,
    error: Option<&'static str>,
}

const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

async fn hours_page(
    cx: &Ctx,
    state: &AppState,
    status: StatusCode,
    saved: bool,
    error: Option<&'static str>,
) -> Result<HttpResponse, WebError> {
    let t = &cx.lang.strings().rep;
    let (csat, hours) = state
        .storage
        .run(|db| Ok((policies::csat(db)?, policies::hours(db)?)))
        .await?;
    let names = [t.mon, t.tue, t.wed, t.thu, t.fri, t.sat, t.sun];
    let h = hours.clone().unwrap_or(BusinessHours {
        tz: "UTC".into(),
        weekly: std::array::from_fn(|i| if i < 5 { vec![(540, 1020)] } else { vec![] }),
        holidays: vec![],
        special: vec![],
    });
    render(
        status,
        &HoursPage {
            c: cx.chrome()?,
            csat,
            hours_on: hours.is_some(),
            tz: h.tz.clone(),
            days: (0..7)
                .map(|i| (DAY_KEYS[i], names[i], spans_text(&h.weekly[i])))
                .collect(),
            holidays: h
                .holidays
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            special: h
                .special
                .iter()
                .map(|(d, s)| format!("{d} {}", spans_text(s)))
                .collect::<Vec<_>>()
                .join("\n"),
            saved,
            error,
        },
    )
}

/// GET /admin/hours
pub async fn show_hours(cx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    hours_page(&cx, &state, StatusCode::OK, false, None).await
}

#[derive(Deserialize)]
pub struct HoursForm {
    #[serde(default)]
    csrf_token: String,
    csat_enabled: Option<String>,
    #[serde(default)]
    question_en: String,
    #[serde(default)]
    question_zh: String,
    hours_on: Option<String>,
    #[serde(default)]
    tz: String,
    #[serde(default)]
    mon: String,
    #[serde(default)]
    tue: String,
    #[serde(default)]
    wed: String,
    #[serde(default)]
    thu: String,
    #[serde(default)]
    fri: String,
    #[serde(default)]
    sat: String,
    #[serde(default)]
    sun: String,
    #[serde(default)]
    holidays: String,
    #[serde(default)]
    special: String,
}

impl CsrfForm for HoursForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

fn parse_hours(f: &HoursForm) -> Option<BusinessHours> {
    let days = [&f.mon, &f.tue, &f.wed, &f.thu, &f.fri, &f.sat, &f.sun];
    let mut weekly: [Vec<(u16, u16)>; 7] = Default::default();
    for (i, d) in days.iter().enumerate() {
        weekly[i] = parse_spans(d).ok()?;
    }
    let date = |s: &str| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    let holidays = f
        .holidays
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(date)
        .collect::<Option<Vec<_>>>()?;
    let special = f
        .special
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (d, rest) = l.trim().split_once(' ')?;
            Some((date(d)?, parse_spans(rest).ok()?))
        })
        .collect::<Option<Vec<_>>>()?;
    BusinessHours {
        tz: f.tz.trim().to_owned(),
        weekly,
        holidays,
        special,
    }
    .checked()
    .ok()
}

/// POST /admin/hours
pub async fn save_hours(
    post: AdminPost<HoursForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let (cx, f) = (post.cx, post.form);
    let t = &cx.lang.strings().rep;
    let limit = |s: &str| s.trim().chars().take(200).collect::<String>();
    let csat = CsatPolicy {
        enabled: f.csat_enabled.is_some(),
        question_en: limit(&f.question_en),
        question_zh: limit(&f.question_zh),
    };
    let hours = match f.hours_on.is_some() {
        false => None,
        true => match parse_hours(&f) {
            Some(h) => Some(h),
            None => {
                return hours_page(
                    &cx,
                    &state,
                    StatusCode::BAD_REQUEST,
                    false,
                    Some(t.err_hours),
                )
                .await
            }
        },
    };
    let h2 = hours.clone();
    state
        .storage
        .run(move |db| {
            policies::set_csat(db, &csat)?;
            policies::set_hours(db, h2.as_ref())
        })
        .await?;
    // This node's Dispatcher at once; others within half a minute.
    state.dispatcher.do_send(HoursChanged(hours));
    hours_page(&cx, &state, StatusCode::OK, true, None).await
}
