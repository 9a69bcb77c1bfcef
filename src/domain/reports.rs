//! Every figure of the reports, from what storage recorded, in one place:
//! the page, the CSV export and the API all call `report`, so they cannot
//! disagree. Plain code over plain rows (no clock, no database).
//!
//! A conversation is counted per **episode**: from its start (or a reopening)
//! to its close. Per episode:
//! - **first response time**: from the visitor's first message to the first
//!   reply *by an agent* after it (system messages and private notes are no
//!   replies; notes never reach these rows);
//! - **answered**: it has such a reply; **missed**: closed without one, or
//!   abandoned (still open, nothing from the visitor for `ABANDONED_AFTER`);
//! - **queue wait**: from the episode's start to its first assignment;
//! - **resolution time**: from its start to its close;
//! - its **agent**: who answered first, else who had it last (else none);
//! - its **rating**, if the visitor gave one for that episode.
//!
//! Episodes count in the period they start in. Medians and 90th
//! percentiles are nearest-rank (a value that occurred, never an average of
//! two), so every figure can be checked by hand.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use chrono_tz::Tz;

/// An open episode with nothing from the visitor for this long is abandoned.
pub const ABANDONED_AFTER: Duration = Duration::minutes(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Visitor,
    Agent(i64),
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// To this agent (a transfer too).
    Assigned(i64),
    Queued,
    Closed,
    Reopened,
}

/// A conversation as storage has it (times in UTC, each list in time order).
#[derive(Debug, Clone)]
pub struct Facts {
    pub id: i64,
    pub created_at: NaiveDateTime,
    pub changes: Vec<(Change, NaiveDateTime)>,
    /// Public messages only.
    pub messages: Vec<(Author, NaiveDateTime)>,
    /// (episode, rating 1–5).
    pub ratings: Vec<(u32, u8)>,
}

/// One episode's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub conversation: i64,
    pub number: u32,
    pub start: NaiveDateTime,
    pub agent: Option<i64>,
    pub answered: bool,
    pub missed: bool,
    pub closed: bool,
    pub first_response: Option<Duration>,
    pub queue_wait: Option<Duration>,
    pub resolution: Option<Duration>,
    pub messages: u32,
    pub rating: Option<u8>,
}

/// A conversation's episodes, as of `now`.
pub fn episodes(f: &Facts, now: NaiveDateTime) -> Vec<Episode> {
    let mut starts = vec![f.created_at];
    starts.extend(
        f.changes
            .iter()
            .filter(|(c, _)| *c == Change::Reopened)
            .map(|(_, at)| *at),
    );
    let mut out = Vec::new();
    for (i, start) in starts.iter().enumerate() {
        let next_start = starts.get(i + 1).copied();
        let within = |at: &NaiveDateTime| *at >= *start && next_start.is_none_or(|n| *at < n);
        let close = f
            .changes
            .iter()
            .filter(|(c, at)| *c == Change::Closed && within(at))
            .map(|(_, at)| *at)
            .next();
        let msgs: Vec<&(Author, NaiveDateTime)> =
            f.messages.iter().filter(|(_, at)| within(at)).collect();
        let first_visitor = msgs
            .iter()
            .find(|(s, _)| *s == Author::Visitor)
            .map(|(_, at)| *at);
        let reply = first_visitor.and_then(|v| {
            msgs.iter().find_map(|(s, at)| match s {
                Author::Agent(a) if *at >= v => Some((*a, *at)),
                _ => None,
            })
        });
        let assigned: Vec<(i64, NaiveDateTime)> = f
            .changes
            .iter()
            .filter(|(_, at)| within(at))
            .filter_map(|(c, at)| match c {
                Change::Assigned(a) => Some((*a, *at)),
                _ => None,
            })
            .collect();
        let last_visitor = msgs
            .iter()
            .rev()
            .find(|(s, _)| *s == Author::Visitor)
            .map(|(_, at)| *at);
        let abandoned = close.is_none()
            && reply.is_none()
            && last_visitor.unwrap_or(*start) + ABANDONED_AFTER <= now;
        out.push(Episode {
            conversation: f.id,
            number: i as u32 + 1,
            start: *start,
            agent: reply.map(|(a, _)| a).or(assigned.last().map(|(a, _)| *a)),
            answered: reply.is_some(),
            missed: reply.is_none() && (close.is_some() || abandoned),
            closed: close.is_some(),
            first_response: reply.zip(first_visitor).map(|((_, r), v)| r - v),
            queue_wait: assigned.first().map(|(_, at)| *at - *start),
            resolution: close.map(|c| c - *start),
            messages: msgs.iter().filter(|(s, _)| *s != Author::System).count() as u32,
            rating: f
                .ratings
                .iter()
                .find(|(e, _)| *e == i as u32 + 1)
                .map(|(_, r)| *r),
        });
    }
    out
}

/// Figures over a set of episodes (the team's, or one agent's).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Figures {
    pub started: u32,
    pub answered: u32,
    pub missed: u32,
    pub closed: u32,
    /// Seconds.
    pub first_response_median: Option<i64>,
    pub first_response_p90: Option<i64>,
    pub resolution_median: Option<i64>,
    pub resolution_p90: Option<i64>,
    pub queue_wait_median: Option<i64>,
    pub queue_wait_p90: Option<i64>,
    pub messages: u32,
    /// Messages per conversation (two decimals).
    pub messages_per_conversation: Option<f64>,
    pub ratings: u32,
    /// Average rating (two decimals).
    pub rating_average: Option<f64>,
    /// Rated closed episodes over closed episodes (two decimals).
    pub rating_response_rate: Option<f64>,
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of `v`, in seconds.
pub fn percentile(v: &mut [i64], p: u32) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let rank = (v.len() as u64 * u64::from(p)).div_ceil(100).max(1) as usize;
    Some(v[rank - 1])
}

fn two(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn figures<'a>(eps: impl IntoIterator<Item = &'a Episode>) -> Figures {
    let eps: Vec<&Episode> = eps.into_iter().collect();
    let secs = |f: &dyn Fn(&Episode) -> Option<Duration>| -> Vec<i64> {
        eps.iter()
            .filter_map(|e| f(e).map(|d| d.num_seconds()))
            .collect()
    };
    let (mut frt, mut res, mut wait) = (
        secs(&|e| e.first_response),
        secs(&|e| e.resolution),
        secs(&|e| e.queue_wait),
    );
    let started = eps.len() as u32;
    let closed = eps.iter().filter(|e| e.closed).count() as u32;
    let messages: u32 = eps.iter().map(|e| e.messages).sum();
    let rated: Vec<u8> = eps.iter().filter_map(|e| e.rating).collect();
    let rated_closed = eps
        .iter()
        .filter(|e| e.closed && e.rating.is_some())
        .count() as f64;
    Figures {
        started,
        answered: eps.iter().filter(|e| e.answered).count() as u32,
        missed: eps.iter().filter(|e| e.missed).count() as u32,
        closed,
        first_response_median: percentile(&mut frt, 50),
        first_response_p90: percentile(&mut frt, 90),
        resolution_median: percentile(&mut res, 50),
        resolution_p90: percentile(&mut res, 90),
        queue_wait_median: percentile(&mut wait, 50),
        queue_wait_p90: percentile(&mut wait, 90),
        messages,
        messages_per_conversation: (started > 0)
            .then(|| two(f64::from(messages) / f64::from(started))),
        ratings: rated.len() as u32,
        rating_average: (!rated.is_empty())
            .then(|| two(rated.iter().map(|r| f64::from(*r)).sum::<f64>() / rated.len() as f64)),
        rating_response_rate: (closed > 0).then(|| two(rated_closed / f64::from(closed))),
    }
}

/// An agent's presence changes (time order): `online`, `away` or `offline`.
pub type Presence = Vec<(&'static str, NaiveDateTime)>;

/// Seconds online and away within [from, to).
pub fn presence_time(p: &Presence, from: NaiveDateTime, to: NaiveDateTime) -> (i64, i64) {
    let (mut online, mut away) = (0, 0);
    let mut state = "offline";
    let mut since = from;
    for (status, at) in p {
        let at = (*at).clamp(from, to);
        if at > since {
            let d = (at - since).num_seconds();
            match state {
                "online" => online += d,
                "away" => away += d,
                _ => {}
            }
            since = at;
        }
        state = status;
    }
    if to > since {
        let d = (to - since).num_seconds();
        match state {
            "online" => online += d,
            "away" => away += d,
            _ => {}
        }
    }
    (online, away)
}

/// What a report is asked for: local dates [from, to] in `tz`.
#[derive(Debug, Clone)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tz: Tz,
}

impl Period {
    /// The period's bounds in UTC: from local midnight of `from` to local
    /// midnight after `to`.
    pub fn utc_bounds(&self) -> (NaiveDateTime, NaiveDateTime) {
        let at = |d: NaiveDate| {
            let local = d.and_hms_opt(0, 0, 0).unwrap_or_default();
            crate::domain::hours::to_utc(self.tz, local)
        };
        (at(self.from), at(self.to + Duration::days(1)))
    }

    pub fn local(&self, t: NaiveDateTime) -> NaiveDateTime {
        use chrono::TimeZone;
        self.tz.from_utc_datetime(&t).naive_local()
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentRow {
    pub agent: Option<i64>,
    pub figures: Figures,
    pub online_seconds: i64,
    pub away_seconds: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Day {
    pub date: NaiveDate,
    pub started: u32,
    pub first_response_median: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub team: Figures,
    /// Per agent (`agent: null`: episodes nobody had), then the team.
    pub agents: Vec<AgentRow>,
    pub days: Vec<Day>,
    /// Episodes started per weekday (Monday = 0) and local hour.
    pub load: [[u32; 24]; 7],
}

/// The report of a period: episodes that start in it (and, with
/// `counted`, only those it says to count: business hours).
pub fn report(
    facts: &[Facts],
    presence: &BTreeMap<i64, Presence>,
    period: &Period,
    now: NaiveDateTime,
    counted: impl Fn(NaiveDateTime) -> bool,
) -> Report {
    let (from, to) = period.utc_bounds();
    let eps: Vec<Episode> = facts
        .iter()
        .flat_map(|f| episodes(f, now))
        .filter(|e| e.start >= from && e.start < to && counted(e.start))
        .collect();
    let mut by_agent: BTreeMap<Option<i64>, Vec<&Episode>> = BTreeMap::new();
    for e in &eps {
        by_agent.entry(e.agent).or_default().push(e);
    }
    for a in presence.keys() {
        by_agent.entry(Some(*a)).or_default();
    }
    let agents = by_agent
        .into_iter()
        .map(|(agent, list)| {
            let (online_seconds, away_seconds) = agent
                .and_then(|a| presence.get(&a))
                .map_or((0, 0), |p| presence_time(p, from, to));
            AgentRow {
                agent,
                figures: figures(list),
                online_seconds,
                away_seconds,
            }
        })
        .collect();
    let mut days = Vec::new();
    let mut d = period.from;
    while d <= period.to {
        let today: Vec<&Episode> = eps
            .iter()
            .filter(|e| period.local(e.start).date() == d)
            .collect();
        let mut frt: Vec<i64> = today
            .iter()
            .filter_map(|e| e.first_response.map(|x| x.num_seconds()))
            .collect();
        days.push(Day {
            date: d,
            started: today.len() as u32,
            first_response_median: percentile(&mut frt, 50),
        });
        d += Duration::days(1);
    }
    let mut load = [[0u32; 24]; 7];
    for e in &eps {
        let l = period.local(e.start);
        load[l.weekday().num_days_from_monday() as usize][l.hour() as usize] += 1;
    }
    Report {
        team: figures(&eps),
        agents,
        days,
        load,
    }
}

#[cfg(test)]
#[path = "reports_tests.rs"]
mod tests;
