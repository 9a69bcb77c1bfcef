//! Archive search as the archive grows: the database is filled with
//! conversations of 20 messages (English and Chinese text, an order number
//! in each) up to each size in turn, and at each size every kind of query
//! is run through the product's own `storage::archive::search`, as the
//! archive page asks for its first page (51 rows, newest first, an admin
//! seeing all). It reports p50 / p95 / max per kind and size.

use std::time::Instant;

use anyhow::Context;
use diesel::{sql_query, RunQueryDsl};
use hdrhistogram::Histogram;

use super::{histogram, ms};
use livedesk::storage::archive::{self, Filter, Viewer};
use livedesk::storage::{migrations, Backend, DatabaseUrl, DbConnection, Storage};

#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// An empty database (migrations are run).
    pub database_url: String,
    /// Message counts to measure at, ascending.
    pub sizes: Vec<u64>,
    /// Queries of each kind at each size.
    pub queries: usize,
}

const PER_CONVERSATION: u64 = 20;
/// The archive page's first page: 50 shown, one more to know of a next.
const PAGE: i64 = 51;

/// What an agent types, and what it finds.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// One order number: one conversation.
    Rare,
    /// An English word in one message of twelve: a full first page.
    Common,
    /// Three Chinese characters, in one message of twelve.
    Chinese3,
    /// Two Chinese characters: no trigram, a scan.
    Chinese2,
    /// Nothing has it.
    Missing,
    /// Two characters nothing has: the whole scan.
    Missing2,
}

const KINDS: [Kind; 6] = [
    Kind::Rare,
    Kind::Common,
    Kind::Chinese3,
    Kind::Chinese2,
    Kind::Missing,
    Kind::Missing2,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Rare => "order number (1 hit)",
            Kind::Common => "\"refund\" (1 in 12 messages)",
            Kind::Chinese3 => "\"退款单\" (1 in 12 messages)",
            Kind::Chinese2 => "\"发票\" (2 characters: scan)",
            Kind::Missing => "\"zebra unicorn\" (no hit)",
            Kind::Missing2 => "\"快递\" (2 characters, no hit)",
        }
    }

    fn text(self, i: usize, size: u64) -> String {
        match self {
            // Spread over the archive, old and new.
            Kind::Rare => format!("(ORD-{})", 1 + (i as u64 * 7_919) % size),
            Kind::Common => "refund".into(),
            Kind::Chinese3 => "退款单".into(),
            Kind::Chinese2 => "发票".into(),
            Kind::Missing => "zebra unicorn".into(),
            Kind::Missing2 => "快递".into(),
        }
    }
}

pub struct Row {
    pub size: u64,
    pub kind: &'static str,
    pub latency: Histogram<u64>,
    pub hits: usize,
}

pub struct SearchReport {
    pub config: SearchConfig,
    pub backend: Backend,
    /// Seconds to fill each step (the index kept up as rows go in).
    pub fill_secs: Vec<(u64, f64)>,
    pub rows: Vec<Row>,
}

impl SearchReport {
    pub fn command(&self) -> String {
        let sizes: Vec<String> = self.config.sizes.iter().map(u64::to_string).collect();
        format!(
            "livedesk-bench search --database-url <url> --sizes {} --queries {}",
            sizes.join(","),
            self.config.queries
        )
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "archive search: {:?}, {} queries of each kind per size, first page ({PAGE} rows)\n",
            self.backend, self.config.queries
        );
        for (size, secs) in &self.fill_secs {
            out += &format!("  filled to {size} messages in {secs:.1} s\n");
        }
        out += "  messages   query                              p50 ms   p95 ms   max ms  hits\n";
        for r in &self.rows {
            out += &format!(
                "  {:>9}  {:<34} {:>7.2}  {:>7.2}  {:>7.2}  {:>4}\n",
                r.size,
                r.kind,
                ms(&r.latency, 0.5),
                ms(&r.latency, 0.95),
                r.latency.max() as f64 / 1e6,
                r.hits
            );
        }
        out += &format!("  reproduce: {}\n", self.command());
        out
    }
}

/// Rows `from + 1 ..= to` of a series, for either database.
fn series(conn: &DbConnection, from: u64, to: u64) -> String {
    match conn {
        DbConnection::Pg(_) => format!("SELECT generate_series({}, {to})::bigint AS x", from + 1),
        DbConnection::Sqlite(_) => format!(
            "WITH RECURSIVE g(x) AS (SELECT {} UNION ALL SELECT x + 1 FROM g WHERE x < {to}) SELECT x FROM g",
            from + 1
        ),
    }
}

/// A message's text: one of twelve phrases (two in Chinese, of which one
/// about a refund slip and one about an invoice), with its order number.
const BODY: &str = "CASE x % 12 \
    WHEN 0 THEN 'I would like a refund for my last order' \
    WHEN 1 THEN '我想申请退款单，商品有问题' \
    WHEN 2 THEN 'Where is my parcel? It has been a week' \
    WHEN 3 THEN '请帮我开一张发票，谢谢' \
    WHEN 4 THEN 'Can I change the delivery address please' \
    WHEN 5 THEN 'Thanks, that solved it' \
    WHEN 6 THEN 'The app crashes when I open settings' \
    WHEN 7 THEN 'Do you ship to Canada and what does it cost' \
    WHEN 8 THEN 'My password reset email never arrived' \
    WHEN 9 THEN 'Is there a discount for students' \
    WHEN 10 THEN 'Hello, is anyone there?' \
    ELSE 'Let me check that for you, one moment' END \
    || ' (ORD-' || x || ')'";

/// Adds messages `from + 1 ..= to` (and their conversations and visitors),
/// a step at a time so no transaction grows large.
fn fill(conn: &mut DbConnection, from: u64, to: u64) -> anyhow::Result<()> {
    const STEP: u64 = 100_000;
    let mut at = from;
    while at < to {
        let end = (at + STEP).min(to);
        let (c0, c1) = (at / PER_CONVERSATION, end.div_ceil(PER_CONVERSATION));
        let convs = series(conn, c0, c1);
        let msgs = series(conn, at, end);
        let ts = "'2026-01-01 00:00:00'";
        for q in [
            format!(
                "INSERT INTO visitors (id, token_hash, name, email, first_seen_at, last_seen_at) \
                 SELECT x, 'search-bench-' || x, 'Visitor ' || x, 'v' || x || '@example.com', {ts}, {ts} FROM ({convs}) s"
            ),
            format!(
                "INSERT INTO conversations (id, visitor_id, status, last_seq, created_at, updated_at) \
                 SELECT x, x, 'closed', {PER_CONVERSATION}, {ts}, {ts} FROM ({convs}) s"
            ),
            format!(
                "INSERT INTO messages (conversation_id, seq, sender, body, created_at) \
                 SELECT 1 + (x - 1) / {PER_CONVERSATION}, 1 + (x - 1) % {PER_CONVERSATION}, \
                 CASE WHEN x % 2 = 0 THEN 'visitor' ELSE 'agent' END, {BODY}, {ts} FROM ({msgs}) s"
            ),
        ] {
            sql_query(q).execute(conn).context("filling the archive")?;
        }
        at = end;
    }
    if let DbConnection::Pg(_) = conn {
        sql_query("SELECT setval('visitors_id_seq', (SELECT max(id) FROM visitors))")
            .execute(conn)?;
        sql_query("SELECT setval('conversations_id_seq', (SELECT max(id) FROM conversations))")
            .execute(conn)?;
    }
    // What autovacuum does after a bulk insert: statistics, and on
    // PostgreSQL the GIN index's pending list merged into the index.
    let tidy = match conn {
        DbConnection::Pg(_) => "VACUUM ANALYZE",
        DbConnection::Sqlite(_) => "ANALYZE",
    };
    sql_query(tidy).execute(conn)?;
    Ok(())
}

/// Runs the scenario on the calling thread (it blocks: call it from a blocking task).
pub fn search(mut config: SearchConfig) -> anyhow::Result<SearchReport> {
    config.sizes.sort_unstable();
    let url = DatabaseUrl::parse(&config.database_url).context("bad --database-url")?;
    let storage = Storage::connect(&url, 2)?;
    let mut conn = storage.conn()?;
    migrations::run_pending(&mut conn)?;
    let (mut fill_secs, mut rows, mut have) = (Vec::new(), Vec::new(), 0u64);
    for &size in &config.sizes {
        let t = Instant::now();
        fill(&mut conn, have, size)?;
        have = size;
        fill_secs.push((size, t.elapsed().as_secs_f64()));
        for kind in KINDS {
            let (mut samples, mut hits) = (Vec::with_capacity(config.queries), 0);
            for i in 0..config.queries {
                let filter = Filter {
                    text: Some(kind.text(i, size)),
                    ..Filter::default()
                };
                let t = Instant::now();
                let found = archive::search(&mut conn, Viewer::Admin, &filter, PAGE)?;
                samples.push(t.elapsed().as_nanos() as u64);
                hits = found.len();
                if matches!(kind, Kind::Rare) {
                    anyhow::ensure!(hits == 1, "an order number found {hits} conversations");
                }
            }
            rows.push(Row {
                size,
                kind: kind.name(),
                latency: histogram(&samples)?,
                hits,
            });
        }
    }
    Ok(SearchReport {
        config,
        backend: url.backend,
        fill_secs,
        rows,
    })
}
