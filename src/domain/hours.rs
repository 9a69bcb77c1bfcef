//! Business hours: a weekly schedule in one time zone, holidays (closed all
//! day) and special dates (other hours). Times are minutes since local
//! midnight (`24:00` is 1440), so a day's hours are exact through DST changes:
//! 09:00 is 09:00 on the local clock, whatever its offset that day.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Open from the first minute up to (not including) the second.
pub type Span = (u16, u16);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHours {
    /// An IANA zone name.
    pub tz: String,
    /// Monday first.
    pub weekly: [Vec<Span>; 7],
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    #[serde(default)]
    pub special: Vec<(NaiveDate, Vec<Span>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("unknown time zone")]
    Zone,
    #[error("a time is not HH:MM, or an opening does not end after it starts")]
    Span,
}

/// `HH:MM` as minutes (`24:00` allowed as the end of a day).
pub fn minutes(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

/// Minutes as `HH:MM`.
pub fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// `09:00-12:00, 13:00-18:00` (empty: none) as spans.
pub fn parse_spans(s: &str) -> Result<Vec<Span>, HoursError> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (a, b) = p.split_once('-').ok_or(HoursError::Span)?;
            let (a, b) = (
                minutes(a).ok_or(HoursError::Span)?,
                minutes(b).ok_or(HoursError::Span)?,
            );
            if a < b {
                Ok((a, b))
            } else {
                Err(HoursError::Span)
            }
        })
        .collect()
}

/// Spans as they are written (`09:00-17:00, …`).
pub fn spans_text(s: &[Span]) -> String {
    s.iter()
        .map(|(a, b)| format!("{}-{}", hhmm(*a), hhmm(*b)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Local wall-clock time in `tz` to UTC; a time skipped by a DST change is
/// taken as the first instant after the gap, an ambiguous one as its first.
pub fn to_utc(tz: Tz, local: NaiveDateTime) -> NaiveDateTime {
    let mut l = local;
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&l).earliest() {
            return t.naive_utc();
        }
        l += Duration::minutes(30);
    }
    local
}

impl BusinessHours {
    /// Checks a schedule as an admin wrote it.
    pub fn checked(self) -> Result<Self, HoursError> {
        self.zone()?;
        let spans = self
            .weekly
            .iter()
            .flatten()
            .chain(self.special.iter().flat_map(|(_, s)| s));
        if spans.into_iter().any(|(a, b)| a >= b || *b > 1440) {
            return Err(HoursError::Span);
        }
        Ok(self)
    }

    pub fn zone(&self) -> Result<Tz, HoursError> {
        self.tz.parse().map_err(|_| HoursError::Zone)
    }

    /// The hours of a local date.
    pub fn spans(&self, date: NaiveDate) -> &[Span] {
        if self.holidays.contains(&date) {
            return &[];
        }
        if let Some((_, s)) = self.special.iter().find(|(d, _)| *d == date) {
            return s;
        }
        &self.weekly[date.weekday().num_days_from_monday() as usize]
    }

    /// Open at this instant?
    pub fn is_open(&self, at: DateTime<chrono::Utc>) -> bool {
        let Ok(tz) = self.zone() else { return true };
        let l = at.with_timezone(&tz);
        let m = (l.hour() * 60 + l.minute()) as u16;
        self.spans(l.date_naive())
            .iter()
            .any(|(a, b)| *a <= m && m < *b)
    }

    /// When it next opens after `at` (within four weeks), as a local time.
    pub fn next_open(&self, at: DateTime<chrono::Utc>) -> Option<DateTime<Tz>> {
        let tz = self.zone().ok()?;
        let now = at.with_timezone(&tz).naive_local();
        for day in 0..28 {
            let date = now.date() + Duration::days(day);
            for (a, _) in self.spans(date) {
                let opens = date.and_hms_opt(0, 0, 0)? + Duration::minutes(i64::from(*a));
                if opens > now {
                    let utc = to_utc(tz, opens);
                    return Some(tz.from_utc_datetime(&utc));
                }
            }
        }
        None
    }

    /// When the state (open or closed) next changes after `at`.
    pub fn next_change(&self, at: DateTime<chrono::Utc>) -> Option<DateTime<chrono::Utc>> {
        let tz = self.zone().ok()?;
        let now = at.with_timezone(&tz).naive_local();
        for day in 0..28 {
            let date = now.date() + Duration::days(day);
            for (a, b) in self.spans(date) {
                for m in [a, b] {
                    let t = date.and_hms_opt(0, 0, 0)? + Duration::minutes(i64::from(*m));
                    if t > now {
                        return Some(DateTime::from_naive_utc_and_offset(
                            to_utc(tz, t),
                            chrono::Utc,
                        ));
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> BusinessHours {
        let nine_to_five = vec![(9 * 60, 17 * 60)];
        BusinessHours {
            tz: "Europe/Berlin".into(),
            weekly: [
                nine_to_five.clone(),
                nine_to_five.clone(),
                nine_to_five.clone(),
                nine_to_five.clone(),
                nine_to_five,
                vec![],
                vec![],
            ],
            holidays: vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()],
            special: vec![(
                NaiveDate::from_ymd_opt(2026, 12, 24).unwrap(),
                vec![(9 * 60, 12 * 60)],
            )],
        }
    }

    fn utc(s: &str) -> DateTime<chrono::Utc> {
        DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn nine_local_is_nine_on_both_sides_of_a_dst_change() {
        let h = berlin();
        // Friday 27 March 2026 (UTC+1), Monday 30 March 2026 (UTC+2, after the change).
        assert!(!h.is_open(utc("2026-03-27T07:59:00Z")));
        assert!(h.is_open(utc("2026-03-27T08:00:00Z")));
        assert!(!h.is_open(utc("2026-03-30T06:59:00Z")));
        assert!(h.is_open(utc("2026-03-30T07:00:00Z")));
        // Friday after five: back Monday at 09:00 local, 07:00 UTC (summer time by then).
        let back = h.next_open(utc("2026-03-27T16:30:00Z")).unwrap();
        assert_eq!(back.naive_local().to_string(), "2026-03-30 09:00:00");
        assert_eq!(back.naive_utc().to_string(), "2026-03-30 07:00:00");
    }

    #[test]
    fn holidays_and_special_dates() {
        let h = berlin();
        // Christmas Eve: 09:00–12:00 only; Christmas Day closed; back on the 28th (Monday).
        assert!(h.is_open(utc("2026-12-24T10:00:00Z")));
        assert!(!h.is_open(utc("2026-12-24T11:30:00Z")));
        assert!(!h.is_open(utc("2026-12-25T10:00:00Z")));
        let back = h.next_open(utc("2026-12-24T11:30:00Z")).unwrap();
        assert_eq!(back.naive_local().to_string(), "2026-12-28 09:00:00");
        assert_eq!(
            h.next_change(utc("2026-12-24T10:00:00Z"))
                .unwrap()
                .to_rfc3339(),
            "2026-12-24T11:00:00+00:00"
        );
    }

    #[test]
    fn spans_as_written() {
        assert_eq!(
            parse_spans("09:00-12:00, 13:00-18:00"),
            Ok(vec![(540, 720), (780, 1080)])
        );
        assert_eq!(parse_spans(" "), Ok(vec![]));
        assert_eq!(parse_spans("12:00-09:00"), Err(HoursError::Span));
        assert_eq!(parse_spans("9-5"), Err(HoursError::Span));
        assert_eq!(spans_text(&[(540, 1440)]), "09:00-24:00");
    }

    #[test]
    fn times_are_checked() {
        assert_eq!(minutes("09:30"), Some(570));
        assert_eq!(minutes("24:00"), Some(1440));
        assert_eq!(minutes("24:01"), None);
        assert_eq!(minutes("9"), None);
        let mut bad = berlin();
        bad.weekly[0] = vec![(600, 500)];
        assert_eq!(bad.checked(), Err(HoursError::Span));
        let mut zone = berlin();
        zone.tz = "Mars/Olympus".into();
        assert_eq!(zone.checked(), Err(HoursError::Zone));
    }

    #[test]
    fn a_local_time_in_a_dst_gap_becomes_the_first_instant_after_it() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let gap = NaiveDate::from_ymd_opt(2026, 3, 29)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(to_utc(tz, gap).to_string(), "2026-03-29 01:00:00");
    }
}
