//! The reports as the page, the CSV export and the API ask for them: one
//! query, one computation (`domain::reports::report`), three renderings.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::reports::{self, Figures, Period, Report};
use crate::storage::{agents, policies, presence, reports as facts, StorageResult};
use crate::web::state::AppState;

/// Days a report may cover at most.
pub const MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First local date (`YYYY-MM-DD`); default: 6 days before `to`.
    pub from: Option<String>,
    /// Last local date; default: today.
    pub to: Option<String>,
    /// An IANA time zone (`Europe/Berlin`); default: the business hours' zone, else UTC.
    pub tz: Option<String>,
    /// Count only conversations that start within business hours.
    pub business_hours: Option<String>,
}

/// A query that cannot be answered, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadQuery {
    #[error("from and to are dates (YYYY-MM-DD), from not after to, at most 366 days")]
    Dates,
    #[error("tz is an IANA time zone name")]
    Zone,
}

/// A report, with what names it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Named {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tz: String,
    /// Only conversations started within business hours are counted.
    pub business_hours_only: bool,
    #[schema(value_type = Object)]
    pub team: Figures,
    #[schema(value_type = Vec<Object>)]
    pub agents: Vec<AgentLine>,
    #[schema(value_type = Vec<Object>)]
    pub days: Vec<reports::Day>,
    /// Conversations started per weekday (Monday first) and local hour.
    pub load: [[u32; 24]; 7],
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentLine {
    pub agent_id: Option<i64>,
    /// `null` for conversations nobody had.
    pub name: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
    pub online_seconds: i64,
    pub away_seconds: i64,
}

/// Builds the report asked for.
pub async fn build(state: &AppState, q: &ReportQuery) -> Result<StorageResult<Named>, BadQuery> {
    let parse = |s: &Option<String>| match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| BadQuery::Dates),
    };
    let (from, to) = (parse(&q.from)?, parse(&q.to)?);
    let only_open = q
        .business_hours
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v != "false");
    let hours = match state.storage.run(policies::hours).await {
        Ok(h) => h,
        Err(e) => return Ok(Err(e)),
    };
    let tz_name =
        q.tz.clone()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| hours.as_ref().map(|h| h.tz.clone()))
            .unwrap_or_else(|| "UTC".into());
    let tz: chrono_tz::Tz = tz_name.trim().parse().map_err(|_| BadQuery::Zone)?;
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - chrono::Duration::days(6));
    if from > to || (to - from).num_days() >= MAX_DAYS {
        return Err(BadQuery::Dates);
    }
    let period = Period { from, to, tz };
    let (start, end) = period.utc_bounds();
    let now_naive = now.naive_utc();
    let loaded = state
        .storage
        .run(move |db| {
            let f = facts::facts(db, start, end)?;
            let p = presence::between(db, start, end)?;
            let names: HashMap<i64, String> = agents::list(db)?
                .into_iter()
                .map(|a| (a.id.0, a.display_name))
                .collect();
            Ok((f, p, names))
        })
        .await;
    let (f, p, names) = match loaded {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let counted = |at: chrono::NaiveDateTime| {
        !only_open
            || hours.as_ref().is_none_or(|h| {
                h.is_open(chrono::DateTime::from_naive_utc_and_offset(at, chrono::Utc))
            })
    };
    let r: Report = reports::report(&f, &p, &period, now_naive, counted);
    Ok(Ok(Named {
        from,
        to,
        tz: tz_name.trim().to_owned(),
        business_hours_only: only_open,
        team: r.team,
        agents: r
            .agents
            .into_iter()
            .map(|a| AgentLine {
                name: a.agent.and_then(|id| names.get(&id).cloned()),
                agent_id: a.agent,
                figures: a.figures,
                online_seconds: a.online_seconds,
                away_seconds: a.away_seconds,
            })
            .collect(),
        days: r.days,
        load: r.load,
    }))
}

fn cell(v: Option<impl ToString>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The report as CSV: one row per agent, then the team's, the same figures
/// as the page and the API.
pub fn csv(n: &Named) -> String {
    let mut out = String::from(
        "agent,started,answered,missed,closed,first_response_median_s,first_response_p90_s,\
         resolution_median_s,resolution_p90_s,queue_wait_median_s,queue_wait_p90_s,messages,\
         messages_per_conversation,ratings,rating_average,rating_response_rate,online_s,away_s\n",
    );
    let line = |name: &str, f: &Figures, on: Option<i64>, away: Option<i64>| {
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_text(name),
            f.started,
            f.answered,
            f.missed,
            f.closed,
            cell(f.first_response_median),
            cell(f.first_response_p90),
            cell(f.resolution_median),
            cell(f.resolution_p90),
            cell(f.queue_wait_median),
            cell(f.queue_wait_p90),
            f.messages,
            cell(f.messages_per_conversation),
            f.ratings,
            cell(f.rating_average),
            cell(f.rating_response_rate),
            cell(on),
            cell(away),
        )
    };
    for a in &n.agents {
        let name = a.name.clone().unwrap_or_else(|| "(nobody)".into());
        out += &line(
            &name,
            &a.figures,
            Some(a.online_seconds),
            Some(a.away_seconds),
        );
    }
    out += &line("(team)", &n.team, None, None);
    out
}

/// A CSV field: quoted when it must be; a leading `=`, `+`, `-` or `@` is
/// defused so a spreadsheet never runs an agent's name as a formula.
fn csv_text(s: &str) -> String {
    let s = match s.chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{s}"),
        _ => s.to_owned(),
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// A bar chart as SVG, drawn from numbers and escaped labels only.
pub fn bars(values: &[(String, f64)], unit: &str) -> String {
    let (w, h, pad) = (640.0, 180.0, 24.0);
    let max = values.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0);
    let n = values.len().max(1) as f64;
    let bw = (w - 2.0 * pad) / n;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" class="chart"><line x1="{pad}" y1="{y}" x2="{x2}" y2="{y}" stroke="#999"/>"##,
        y = h - pad,
        x2 = w - pad
    );
    for (i, (label, v)) in values.iter().enumerate() {
        let bh = (h - 2.0 * pad) * v / max;
        let x = pad + i as f64 * bw;
        svg += &format!(
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#2764d8"><title>{}: {} {}</title></rect>"##,
            x + bw * 0.15,
            h - pad - bh,
            bw * 0.7,
            bh,
            escape(label),
            v,
            escape(unit)
        );
        if values.len() <= 31 {
            svg += &format!(
                r#"<text x="{:.1}" y="{:.1}" font-size="9" text-anchor="middle">{}</text>"#,
                x + bw / 2.0,
                h - pad + 12.0,
                escape(label)
            );
        }
    }
    svg + "</svg>"
}

/// Load per hour of the week as a grid of shaded squares.
pub fn heat(load: &[[u32; 24]; 7], days: &[&str; 7]) -> String {
    let max = load.iter().flatten().copied().max().unwrap_or(0).max(1);
    let mut svg = String::from(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 520 170" role="img" class="chart">"#,
    );
    for (d, row) in load.iter().enumerate() {
        let y = 10.0 + d as f64 * 20.0;
        svg += &format!(
            r#"<text x="0" y="{:.1}" font-size="10">{}</text>"#,
            y + 13.0,
            escape(days[d])
        );
        for (hr, n) in row.iter().enumerate() {
            let shade = 0.08 + 0.92 * f64::from(*n) / f64::from(max);
            svg += &format!(
                r##"<rect x="{}" y="{y:.1}" width="18" height="18" fill="#2764d8" fill-opacity="{shade:.2}"><title>{} {:02}:00 {}</title></rect>"##,
                40 + hr * 19,
                escape(days[d]),
                hr,
                n
            );
        }
    }
    svg + "</svg>"
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_text("Lin"), "Lin");
        assert_eq!(csv_text("a,b"), "\"a,b\"");
        assert_eq!(csv_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    }

    #[test]
    fn charts_carry_no_markup_from_labels() {
        let svg = bars(&[("<script>".into(), 2.0)], "x");
        assert!(!svg.contains("<script>") && svg.contains("&lt;script&gt;"));
    }
}
