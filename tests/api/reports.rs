//! Reports on a seeded data set whose every figure was computed by hand
//! (docs/reports.md): the page, the CSV export and the API agree with those
//! values, and with each other, in two time zones, on both backends.

use diesel::prelude::*;
use livedesk::domain::Role;
use livedesk::storage::schema::{
    conversation_events as ev, conversations as c, csat, messages as m, notes as n,
    presence_events as p, visitors as v,
};
use livedesk::storage::DbConnection;
use scraper::{Html, Selector};
use serde_json::Value;

use crate::both_backends;
use crate::helpers::*;
use crate::rest::Api;
use livedesk::storage::api_tokens::Scope;

both_backends!(page_csv_and_api_agree_with_the_hand_computed_figures);

fn t(s: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

macro_rules! run {
    ($db:expr, $q:expr) => {
        match $db {
            DbConnection::Pg(x) => $q.execute(x),
            DbConnection::Sqlite(x) => $q.execute(x),
        }
        .unwrap()
    };
}

/// The data set of docs/reports.md: agents A (lin) and B (wang).
fn seed(db: &mut DbConnection, a: i64, b: i64) {
    // (id, created, closed_at, status, agent, messages (sender, agent, at), events (kind, agent, at), ratings)
    type Msg = (&'static str, Option<i64>, &'static str);
    type Ev = (&'static str, Option<i64>, &'static str);
    type Conv = (
        i64,
        &'static str,
        Option<&'static str>,
        &'static str,
        Option<i64>,
        Vec<Msg>,
        Vec<Ev>,
        Vec<(i32, i32)>,
    );
    let convs: Vec<Conv> = vec![
        (
            1,
            "2026-12-01 09:00:00",
            Some("2026-12-01 09:10:00"),
            "closed",
            Some(a),
            vec![
                ("visitor", None, "2026-12-01 09:00:00"),
                ("system", None, "2026-12-01 09:00:06"),
                ("agent", Some(a), "2026-12-01 09:02:00"),
            ],
            vec![
                ("assigned", Some(a), "2026-12-01 09:00:05"),
                ("closed", None, "2026-12-01 09:10:00"),
            ],
            vec![(1, 5)],
        ),
        (
            2,
            "2026-12-01 10:00:00",
            Some("2026-12-01 10:20:00"),
            "closed",
            Some(b),
            vec![
                ("visitor", None, "2026-12-01 10:00:00"),
                ("agent", Some(b), "2026-12-01 10:03:00"),
                ("visitor", None, "2026-12-01 10:04:00"),
            ],
            vec![
                ("assigned", Some(a), "2026-12-01 10:00:10"),
                ("assigned", Some(b), "2026-12-01 10:01:00"),
                ("closed", None, "2026-12-01 10:20:00"),
            ],
            vec![(1, 3)],
        ),
        (
            3,
            "2026-12-02 08:00:00",
            Some("2026-12-02 12:30:00"),
            "closed",
            Some(b),
            vec![
                ("visitor", None, "2026-12-02 08:00:00"),
                ("agent", Some(a), "2026-12-02 08:01:00"),
                ("visitor", None, "2026-12-02 12:00:00"),
                ("agent", Some(b), "2026-12-02 12:10:00"),
            ],
            vec![
                ("assigned", Some(a), "2026-12-02 08:00:30"),
                ("closed", None, "2026-12-02 08:05:00"),
                ("reopened", None, "2026-12-02 12:00:00"),
                ("assigned", Some(b), "2026-12-02 12:00:20"),
                ("closed", None, "2026-12-02 12:30:00"),
            ],
            vec![(1, 4), (2, 2)],
        ),
        (
            4,
            "2026-12-02 15:00:00",
            Some("2026-12-02 15:05:00"),
            "closed",
            None,
            vec![
                ("visitor", None, "2026-12-02 15:00:00"),
                ("system", None, "2026-12-02 15:00:01"),
            ],
            vec![("closed", None, "2026-12-02 15:05:00")],
            vec![],
        ),
        (
            5,
            "2026-12-03 20:00:00",
            None,
            "queued",
            None,
            vec![("visitor", None, "2026-12-03 20:00:00")],
            vec![],
            vec![],
        ),
        (
            6,
            "2026-12-03 21:00:00",
            None,
            "assigned",
            Some(a),
            vec![
                ("visitor", None, "2026-12-03 21:00:00"),
                ("agent", Some(a), "2026-12-03 21:00:32"),
            ],
            vec![("assigned", Some(a), "2026-12-03 21:00:02")],
            vec![],
        ),
    ];
    for (id, created, closed, status, agent, msgs, events, ratings) in convs {
        run!(
            db,
            diesel::insert_into(v::table).values((
                v::id.eq(id),
                v::token_hash.eq(format!("seed-{id}")),
                v::first_seen_at.eq(t(created)),
                v::last_seen_at.eq(t(created))
            ))
        );
        let updated = events.last().map_or(created, |e| e.2);
        run!(
            db,
            diesel::insert_into(c::table).values((
                c::id.eq(id),
                c::visitor_id.eq(id),
                c::agent_id.eq(agent),
                c::status.eq(status),
                c::last_seq.eq(msgs.len() as i64),
                c::created_at.eq(t(created)),
                c::updated_at.eq(t(updated)),
                c::closed_at.eq(closed.map(t))
            ))
        );
        for (i, (sender, by, at)) in msgs.iter().enumerate() {
            run!(
                db,
                diesel::insert_into(m::table).values((
                    m::conversation_id.eq(id),
                    m::seq.eq(i as i64 + 1),
                    m::sender.eq(*sender),
                    m::agent_id.eq(*by),
                    m::client_id.eq(format!("c{id}-{i}")),
                    m::body.eq("x"),
                    m::created_at.eq(t(at))
                ))
            );
        }
        for (kind, by, at) in events {
            run!(
                db,
                diesel::insert_into(ev::table).values((
                    ev::conversation_id.eq(id),
                    ev::kind.eq(kind),
                    ev::agent_id.eq(by),
                    ev::at.eq(t(at))
                ))
            );
        }
        for (episode, rating) in ratings {
            run!(
                db,
                diesel::insert_into(csat::table).values((
                    csat::conversation_id.eq(id),
                    csat::episode.eq(episode),
                    csat::rating.eq(rating),
                    csat::created_at.eq(t(created))
                ))
            );
        }
    }
    // A private note is no reply: written by A before anyone answered C4.
    run!(
        db,
        diesel::insert_into(n::table).values((
            n::conversation_id.eq(4),
            n::seq.eq(1),
            n::agent_id.eq(a),
            n::client_id.eq("n"),
            n::body.eq("spam?"),
            n::created_at.eq(t("2026-12-02 15:00:30"))
        ))
    );
    for (agent, status, at) in [
        (a, "online", "2026-12-01 08:00:00"),
        (a, "away", "2026-12-01 12:00:00"),
        (a, "offline", "2026-12-01 13:00:00"),
        (b, "online", "2026-12-02 11:00:00"),
        (b, "offline", "2026-12-02 13:00:00"),
    ] {
        run!(
            db,
            diesel::insert_into(p::table).values((
                p::agent_id.eq(agent),
                p::status.eq(status),
                p::at.eq(t(at))
            ))
        );
    }
    if let DbConnection::Pg(x) = db {
        for table in ["visitors", "conversations"] {
            diesel::sql_query(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)"
            ))
            .execute(x)
            .unwrap();
        }
    }
}

/// (started, answered, missed, frt median, frt p90, resolution median, p90, wait median, p90, msgs/conv, csat avg, rate)
type Hand = (u64, u64, u64, i64, i64, i64, i64, i64, i64, f64, f64, f64);

fn check_api(team: &Value, h: Hand) {
    let got = (
        team["started"].as_u64().unwrap(),
        team["answered"].as_u64().unwrap(),
        team["missed"].as_u64().unwrap(),
        team["first_response_median"].as_i64().unwrap(),
        team["first_response_p90"].as_i64().unwrap(),
        team["resolution_median"].as_i64().unwrap(),
        team["resolution_p90"].as_i64().unwrap(),
        team["queue_wait_median"].as_i64().unwrap(),
        team["queue_wait_p90"].as_i64().unwrap(),
        team["messages_per_conversation"].as_f64().unwrap(),
        team["rating_average"].as_f64().unwrap(),
        team["rating_response_rate"].as_f64().unwrap(),
    );
    assert_eq!(got, h);
}

fn csv_line(csv: &str, who: &str) -> Vec<String> {
    csv.lines()
        .find(|l| l.starts_with(&format!("{who},")))
        .unwrap_or_else(|| panic!("no {who} in\n{csv}"))
        .split(',')
        .map(str::to_owned)
        .collect()
}

async fn page_csv_and_api_agree_with_the_hand_computed_figures(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app
        .add_agent("lin", "agent-password", Role::Agent)
        .await
        .id
        .0;
    let b = app
        .add_agent("wang", "agent-password", Role::Agent)
        .await
        .id
        .0;
    app.storage
        .run(move |db| {
            seed(db, a, b);
            Ok(())
        })
        .await
        .unwrap();
    app.login_admin().await;
    let api = Api::new(&app, Scope::Read).await;
    let q = "from=2026-12-01&to=2026-12-03";
    let utc: Hand = (7, 5, 2, 120, 600, 600, 1800, 10, 30, 1.86, 3.5, 0.8);
    let shanghai: Hand = (5, 4, 1, 120, 600, 600, 1800, 10, 30, 2.0, 3.5, 0.8);
    for (tz, hand) in [("UTC", utc), ("Asia/Shanghai", shanghai)] {
        let tzq = tz.replace('/', "%2F");
        // The API.
        let (s, r) = api.get(&format!("/reports/summary?{q}&tz={tzq}")).await;
        assert_eq!(s, 200, "{r}");
        check_api(&r["team"], hand);
        // The CSV: the same numbers.
        let (s, csv) = app
            .get_text(&format!("/admin/reports.csv?{q}&tz={tzq}"))
            .await;
        assert_eq!(s, 200);
        let team = csv_line(&csv, "(team)");
        let nums: Vec<String> = [hand.0.to_string(), hand.1.to_string(), hand.2.to_string()].into();
        assert_eq!(team[1..4], nums[..], "{csv}");
        assert_eq!(
            (
                team[5].as_str(),
                team[6].as_str(),
                team[12].as_str(),
                team[14].as_str(),
                team[15].as_str()
            ),
            (
                hand.3.to_string().as_str(),
                hand.4.to_string().as_str(),
                hand.9.to_string().as_str(),
                hand.10.to_string().as_str(),
                hand.11.to_string().as_str()
            )
        );
        // The agents' rows add up to the team's, in all three renderings.
        let sum: u64 = r["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["started"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, hand.0);
        // The page shows the same.
        let (s, html) = app.get_text(&format!("/admin/reports?{q}&tz={tzq}")).await;
        assert_eq!(s, 200);
        let doc = Html::parse_document(&html);
        let cells: Vec<String> = doc
            .select(&Selector::parse("tr[data-agent=team] td").unwrap())
            .map(|c| c.text().collect())
            .collect();
        assert_eq!(cells[..3], nums[..]);
        assert_eq!(cells[9], hand.9.to_string());
        assert!(html.contains("<svg"), "charts drawn");
    }
    // UTC, per agent and per day, as computed by hand.
    let (_, r) = api.get(&format!("/reports/summary?{q}&tz=UTC")).await;
    let row = |name: &str| {
        r["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()
            .clone()
    };
    let lin = row("lin");
    assert_eq!(
        (
            lin["started"].as_u64(),
            lin["first_response_median"].as_i64(),
            lin["first_response_p90"].as_i64()
        ),
        (Some(3), Some(60), Some(120))
    );
    assert_eq!(
        (
            lin["online_seconds"].as_i64(),
            lin["away_seconds"].as_i64(),
            lin["rating_average"].as_f64()
        ),
        (Some(14_400), Some(3_600), Some(4.5))
    );
    let wang = row("wang");
    assert_eq!(
        (
            wang["started"].as_u64(),
            wang["first_response_median"].as_i64(),
            wang["resolution_median"].as_i64()
        ),
        (Some(2), Some(180), Some(1200))
    );
    let nobody = r["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["agent_id"].is_null())
        .unwrap()
        .clone();
    assert_eq!(
        (nobody["started"].as_u64(), nobody["missed"].as_u64()),
        (Some(2), Some(2))
    );
    let days: Vec<(String, u64, Option<i64>)> = r["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().to_owned(),
                d["started"].as_u64().unwrap(),
                d["first_response_median"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-12-01".into(), 2, Some(120)),
            ("2026-12-02".into(), 3, Some(60)),
            ("2026-12-03".into(), 2, Some(32))
        ]
    );
    assert_eq!(r["load"][1][9], 1);
    // Bad queries: a clear 400.
    assert_eq!(
        api.get("/reports/summary?from=2026-12-05&to=2026-12-01")
            .await
            .0,
        400
    );
    assert_eq!(api.get("/reports/summary?tz=Mars%2FOlympus").await.0, 400);
    assert_eq!(app.get_text("/admin/reports?from=yesterday").await.0, 400);
}
