//! The database's own cost per message, with no server and no sockets: one
//! writer stores batches of messages exactly as the server's message writer
//! does (`storage::messages::insert_batch`, or `insert` at batch size 1) as
//! fast as the database takes them. It reports the rate, the time per batch
//! and the CPU the database spent per message (the PostgreSQL backend's, read
//! from /proc; for SQLite, which runs in this process, this process's own),
//! and checks at the end that every conversation holds exactly what was
//! stored, numbered 1..n. This is the floor under the `durable` scenario:
//! what a message costs the database, whatever the server does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use diesel::sql_types::Integer;
use diesel::{sql_query, QueryableByName, RunQueryDsl};
use hdrhistogram::Histogram;

use super::{histogram, quantiles};
use livedesk::domain::Sender;
use livedesk::storage::messages::{self, OwnedNewMessage, Stored};
use livedesk::storage::visitors::VisitorInfo;
use livedesk::storage::{migrations, Backend, DatabaseUrl, DbConnection, Storage};

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// An empty database (migrations are run).
    pub database_url: String,
    pub conversations: usize,
    /// Messages per transaction; 1 takes the plain one-insert path.
    pub batch: usize,
    pub duration: Duration,
}

pub struct StoreReport {
    pub config: StoreConfig,
    pub backend: Backend,
    pub stored: u64,
    pub batches: u64,
    pub elapsed: Duration,
    /// Time to store one batch (commit included).
    pub per_batch: Histogram<u64>,
    /// CPU seconds the database spent (None when it could not be read).
    pub database_cpu: Option<f64>,
    pub problems: Vec<String>,
}

impl StoreReport {
    pub fn correct(&self) -> bool {
        self.stored > 0 && self.problems.is_empty()
    }

    pub fn rate(&self) -> f64 {
        self.stored as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Microseconds of database CPU per stored message.
    pub fn cpu_us_per_message(&self) -> Option<f64> {
        self.database_cpu
            .map(|s| s * 1e6 / (self.stored.max(1) as f64))
    }

    pub fn command(&self) -> String {
        let c = &self.config;
        format!(
            "livedesk-bench store --database-url <url> --conversations {} --batch {} --duration {}",
            c.conversations,
            c.batch,
            c.duration.as_secs()
        )
    }

    pub fn render(&self) -> String {
        let c = &self.config;
        let who = match self.backend {
            Backend::Postgres => "PostgreSQL backend",
            Backend::Sqlite => "this process (SQLite runs in it)",
        };
        let cpu = match (self.database_cpu, self.cpu_us_per_message()) {
            (Some(s), Some(us)) => format!("{s:.2} s, {us:.1} µs per message ({who})"),
            _ => "not readable (is the database on this machine?)".into(),
        };
        let check = if self.problems.is_empty() {
            "OK: every conversation holds exactly what was stored, seq 1..n".to_owned()
        } else {
            format!("STORAGE MISMATCH: {}", self.problems.join("; "))
        };
        format!(
            "database floor: {:?}, {} conversations, batch {}, {} s\n  \
             stored {} in {} batches -> {:.0} msg/s\n  \
             per batch       {}\n  \
             database CPU    {}\n  \
             correctness: {}\n  \
             reproduce: {}\n",
            self.backend,
            c.conversations,
            c.batch,
            c.duration.as_secs(),
            self.stored,
            self.batches,
            self.rate(),
            quantiles(&self.per_batch),
            cpu,
            check,
            self.command()
        )
    }
}

#[derive(QueryableByName)]
struct BackendPid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

/// utime + stime of a process (or of this one), in seconds.
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".into(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces: fields are counted after its ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks as f64 / hz as f64)
}

/// Runs the scenario on the calling thread (it blocks: call it from a blocking task).
pub fn store(config: StoreConfig) -> anyhow::Result<StoreReport> {
    let url = DatabaseUrl::parse(&config.database_url).context("bad --database-url")?;
    let storage = Storage::connect(&url, 2)?;
    let mut conn = storage.conn()?;
    migrations::run_pending(&mut conn)?;
    let now = || chrono::Utc::now().naive_utc();
    let info = VisitorInfo::default();
    let mut convs = Vec::with_capacity(config.conversations);
    for i in 0..config.conversations.max(1) {
        let (v, _, _, _) = livedesk::storage::arrivals::arrive(
            &mut conn,
            None,
            || format!("store-bench-{i}-{}", super::mono_ns()),
            &info,
            now(),
        )?;
        let conv =
            livedesk::storage::conversations::open_or_create(&mut conn, v.visitor_id(), now())?;
        convs.push(conv.id);
    }
    let database_pid = match &mut *conn {
        DbConnection::Pg(pg) => Some(
            sql_query("SELECT pg_backend_pid() AS pid")
                .get_result::<BackendPid>(pg)?
                .pid as u32,
        ),
        DbConnection::Sqlite(_) => None,
    };
    let cpu_before = cpu_seconds(database_pid);

    let batch = config.batch.max(1);
    let mut acks: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    let mut per_batch = Vec::new();
    let (mut stored, mut batches, mut next) = (0u64, 0u64, 0usize);
    let started = Instant::now();
    while started.elapsed() < config.duration {
        let msgs: Vec<OwnedNewMessage> = (0..batch)
            .map(|k| {
                let n = next + k;
                OwnedNewMessage {
                    conversation_id: convs[n % convs.len()],
                    sender: Sender::Visitor,
                    agent_id: None,
                    client_id: Some(format!("s{n}")),
                    body: format!("store bench message {n}"),
                }
            })
            .collect();
        next += batch;
        let t = Instant::now();
        let results = if batch == 1 {
            vec![messages::insert(&mut conn, &msgs[0].borrow(), now())]
        } else {
            messages::insert_batch(&mut conn, &msgs, now())?
        };
        per_batch.push(t.elapsed().as_nanos() as u64);
        batches += 1;
        for r in results {
            match r? {
                Stored::New(m) => {
                    stored += 1;
                    let cid = m.client_id.unwrap_or_default();
                    acks.entry(m.conversation_id.0)
                        .or_default()
                        .push((cid, m.seq));
                }
                Stored::Duplicate(m) => anyhow::bail!("fresh message {m:?} came back as a resend"),
            }
        }
    }
    let elapsed = started.elapsed();
    let database_cpu = cpu_before
        .zip(cpu_seconds(database_pid))
        .map(|(a, b)| b - a);
    drop(conn);
    let problems = super::durable::check_storage(&storage, &acks)?;
    Ok(StoreReport {
        config,
        backend: url.backend,
        stored,
        batches,
        elapsed,
        per_batch: histogram(&per_batch)?,
        database_cpu,
        problems,
    })
}
