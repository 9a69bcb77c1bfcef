//! The seeded data set of docs/reports.md (figures computed by hand there),
//! checked figure by figure in two time zones.

use super::*;

pub(crate) fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// Agents 1 (A) and 2 (B); conversations 1–6 (docs/reports.md).
pub(crate) fn seed() -> (Vec<Facts>, BTreeMap<i64, Presence>) {
    use Author::*;
    use Change::*;
    let f =
        |id, created, changes: Vec<(Change, &str)>, messages: Vec<(Author, &str)>, ratings| Facts {
            id,
            created_at: t(created),
            changes: changes.into_iter().map(|(c, at)| (c, t(at))).collect(),
            messages: messages.into_iter().map(|(a, at)| (a, t(at))).collect(),
            ratings,
        };
    let facts = vec![
        f(
            1,
            "2026-12-01 09:00:00",
            vec![
                (Assigned(1), "2026-12-01 09:00:05"),
                (Closed, "2026-12-01 09:10:00"),
            ],
            vec![
                (Visitor, "2026-12-01 09:00:00"),
                (System, "2026-12-01 09:00:06"),
                (Agent(1), "2026-12-01 09:02:00"),
            ],
            vec![(1, 5)],
        ),
        f(
            2,
            "2026-12-01 10:00:00",
            vec![
                (Assigned(1), "2026-12-01 10:00:10"),
                (Assigned(2), "2026-12-01 10:01:00"),
                (Closed, "2026-12-01 10:20:00"),
            ],
            vec![
                (Visitor, "2026-12-01 10:00:00"),
                (Agent(2), "2026-12-01 10:03:00"),
                (Visitor, "2026-12-01 10:04:00"),
            ],
            vec![(1, 3)],
        ),
        f(
            3,
            "2026-12-02 08:00:00",
            vec![
                (Assigned(1), "2026-12-02 08:00:30"),
                (Closed, "2026-12-02 08:05:00"),
                (Reopened, "2026-12-02 12:00:00"),
                (Assigned(2), "2026-12-02 12:00:20"),
                (Closed, "2026-12-02 12:30:00"),
            ],
            vec![
                (Visitor, "2026-12-02 08:00:00"),
                (Agent(1), "2026-12-02 08:01:00"),
                (Visitor, "2026-12-02 12:00:00"),
                (Agent(2), "2026-12-02 12:10:00"),
            ],
            vec![(1, 4), (2, 2)],
        ),
        f(
            4,
            "2026-12-02 15:00:00",
            vec![(Closed, "2026-12-02 15:05:00")],
            vec![
                (Visitor, "2026-12-02 15:00:00"),
                (System, "2026-12-02 15:00:01"),
            ],
            vec![],
        ),
        f(
            5,
            "2026-12-03 20:00:00",
            vec![],
            vec![(Visitor, "2026-12-03 20:00:00")],
            vec![],
        ),
        f(
            6,
            "2026-12-03 21:00:00",
            vec![(Assigned(1), "2026-12-03 21:00:02")],
            vec![
                (Visitor, "2026-12-03 21:00:00"),
                (Agent(1), "2026-12-03 21:00:32"),
            ],
            vec![],
        ),
    ];
    let mut presence = BTreeMap::new();
    presence.insert(
        1,
        vec![
            ("online", t("2026-12-01 08:00:00")),
            ("away", t("2026-12-01 12:00:00")),
            ("offline", t("2026-12-01 13:00:00")),
        ],
    );
    presence.insert(
        2,
        vec![
            ("online", t("2026-12-02 11:00:00")),
            ("offline", t("2026-12-02 13:00:00")),
        ],
    );
    (facts, presence)
}

pub(crate) const NOW: &str = "2026-12-04 00:00:00";

fn period(tz: &str) -> Period {
    Period {
        from: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
        tz: tz.parse().unwrap(),
    }
}

#[test]
fn the_seeded_set_in_utc() {
    let (facts, presence) = seed();
    let r = report(&facts, &presence, &period("UTC"), t(NOW), |_| true);
    let team = &r.team;
    assert_eq!(
        (team.started, team.answered, team.missed, team.closed),
        (7, 5, 2, 5)
    );
    assert_eq!(
        (team.first_response_median, team.first_response_p90),
        (Some(120), Some(600))
    );
    assert_eq!(
        (team.resolution_median, team.resolution_p90),
        (Some(600), Some(1800))
    );
    assert_eq!(
        (team.queue_wait_median, team.queue_wait_p90),
        (Some(10), Some(30))
    );
    assert_eq!(
        (team.messages, team.messages_per_conversation),
        (13, Some(1.86))
    );
    assert_eq!(
        (team.ratings, team.rating_average, team.rating_response_rate),
        (4, Some(3.5), Some(0.8))
    );
    let row = |a: Option<i64>| r.agents.iter().find(|x| x.agent == a).unwrap().clone();
    let a = row(Some(1));
    assert_eq!(
        (a.figures.started, a.figures.answered, a.figures.closed),
        (3, 3, 2)
    );
    assert_eq!(
        (
            a.figures.first_response_median,
            a.figures.first_response_p90
        ),
        (Some(60), Some(120))
    );
    assert_eq!(
        (a.figures.resolution_median, a.figures.resolution_p90),
        (Some(300), Some(600))
    );
    assert_eq!(
        (a.figures.queue_wait_median, a.figures.queue_wait_p90),
        (Some(5), Some(30))
    );
    assert_eq!(
        (
            a.figures.messages_per_conversation,
            a.figures.rating_average,
            a.figures.rating_response_rate
        ),
        (Some(2.0), Some(4.5), Some(1.0))
    );
    assert_eq!((a.online_seconds, a.away_seconds), (14_400, 3_600));
    let b = row(Some(2));
    assert_eq!(
        (
            b.figures.started,
            b.figures.first_response_median,
            b.figures.first_response_p90
        ),
        (2, Some(180), Some(600))
    );
    assert_eq!(
        (
            b.figures.resolution_median,
            b.figures.queue_wait_p90,
            b.figures.rating_average
        ),
        (Some(1200), Some(20), Some(2.5))
    );
    assert_eq!((b.online_seconds, b.away_seconds), (7_200, 0));
    let none = row(None);
    assert_eq!(
        (
            none.figures.started,
            none.figures.missed,
            none.figures.closed,
            none.figures.rating_response_rate
        ),
        (2, 2, 1, Some(0.0))
    );
    // The rows add up to the team.
    assert_eq!(
        r.agents.iter().map(|x| x.figures.started).sum::<u32>(),
        team.started
    );
    let days: Vec<(String, u32, Option<i64>)> = r
        .days
        .iter()
        .map(|d| (d.date.to_string(), d.started, d.first_response_median))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-12-01".into(), 2, Some(120)),
            ("2026-12-02".into(), 3, Some(60)),
            ("2026-12-03".into(), 2, Some(32))
        ]
    );
    assert_eq!(
        (
            r.load[1][9],
            r.load[1][10],
            r.load[2][8],
            r.load[2][12],
            r.load[2][15],
            r.load[3][20],
            r.load[3][21]
        ),
        (1, 1, 1, 1, 1, 1, 1)
    );
    assert_eq!(r.load.iter().flatten().sum::<u32>(), 7);
}

#[test]
fn the_seeded_set_in_shanghai_time() {
    let (facts, presence) = seed();
    let r = report(&facts, &presence, &period("Asia/Shanghai"), t(NOW), |_| {
        true
    });
    let team = &r.team;
    // Conversations 5 and 6 start on 4 December, Shanghai time.
    assert_eq!(
        (team.started, team.answered, team.missed, team.closed),
        (5, 4, 1, 5)
    );
    assert_eq!(
        (team.first_response_median, team.first_response_p90),
        (Some(120), Some(600))
    );
    assert_eq!(
        (team.queue_wait_median, team.queue_wait_p90),
        (Some(10), Some(30))
    );
    assert_eq!(
        (
            team.messages_per_conversation,
            team.rating_average,
            team.rating_response_rate
        ),
        (Some(2.0), Some(3.5), Some(0.8))
    );
    let days: Vec<u32> = r.days.iter().map(|d| d.started).collect();
    assert_eq!(days, [2, 3, 0]);
    // Tuesday 17:00 and 18:00 local.
    assert_eq!((r.load[1][17], r.load[1][18]), (1, 1));
}

#[test]
fn a_reopened_conversation_is_measured_from_its_reopening() {
    let (facts, _) = seed();
    let eps = episodes(&facts[2], t(NOW));
    assert_eq!(eps.len(), 2);
    assert_eq!(
        (eps[1].first_response, eps[1].resolution),
        (Some(Duration::seconds(600)), Some(Duration::seconds(1800)))
    );
    assert_eq!((eps[0].agent, eps[1].agent), (Some(1), Some(2)));
}

#[test]
fn nearest_rank_percentiles() {
    assert_eq!(percentile(&mut [], 50), None);
    assert_eq!(percentile(&mut [7], 90), Some(7));
    assert_eq!(percentile(&mut [4, 1, 3, 2], 50), Some(2));
    assert_eq!(percentile(&mut (1..=10).collect::<Vec<_>>(), 90), Some(9));
    assert_eq!(percentile(&mut (1..=11).collect::<Vec<_>>(), 90), Some(10));
}
