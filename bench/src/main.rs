//! Load generator: `livedesk-bench <scenario> --help`.

use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use livedesk_bench::{
    churn, connections, durable, search, serve_stdio, store, uploads, ChurnConfig,
    ConnectionsConfig, Credentials, DurableConfig, SearchConfig, Spawn, Spread, StoreConfig,
    UploadsConfig,
};

#[derive(Parser)]
#[command(
    name = "livedesk-bench",
    about = "Drives a running livedesk as real clients do and measures it"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(clap::Args)]
struct Agents {
    #[arg(long, default_value_t = 4)]
    agents: usize,
    #[arg(long, env = "LIVEDESK_ADMIN_PASSWORD")]
    admin_password: String,
    #[arg(long, default_value = "bench-agent-password")]
    agent_password: String,
    /// The server's LIVEDESK_TEST_CAPTCHA (agents sign in through the form).
    #[arg(long, env = "LIVEDESK_TEST_CAPTCHA")]
    captcha: String,
}

impl Agents {
    fn credentials(self) -> (usize, Credentials) {
        (
            self.agents,
            Credentials {
                admin_password: self.admin_password,
                agent_password: self.agent_password,
                captcha: self.captcha,
            },
        )
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Processes,
    Threads,
}

/// How the visitors are spread: one process may hold at most 20,000 open
/// files, and one source address offers ~28,000 ports.
#[derive(clap::Args)]
struct Workers {
    /// Workers the visitors are spread over.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    #[arg(long, value_enum, default_value_t = Kind::Processes)]
    spawn: Kind,
    /// Connect every worker from 127.0.0.1 instead of 127.0.0.(2+i).
    #[arg(long)]
    no_source_addresses: bool,
}

impl Workers {
    fn spread(self) -> anyhow::Result<Spread> {
        Ok(Spread {
            workers: self.workers.max(1),
            spawn: match self.spawn {
                Kind::Processes => Spawn::Processes(std::env::current_exe()?),
                Kind::Threads => Spawn::Threads,
            },
            source_addresses: !self.no_source_addresses,
        })
    }
}

#[derive(Subcommand)]
enum Scenario {
    /// V visitors each send at a fixed rate to A agents; every acked message is checked.
    /// The server needs LIVEDESK_WS_RATE/BURST above --rate.
    Durable {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The agents' node, when it is not `--url` (a cluster: visitors on
        /// one node, agents on another).
        #[arg(long)]
        agent_url: Option<String>,
        #[arg(long, default_value_t = 100)]
        visitors: usize,
        /// Messages per second per visitor.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// Seconds of sending.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Seconds over which each visitor first sends one message (opening
        /// its conversation) before the measured period; 0: none.
        #[arg(long, default_value_t = 0)]
        warmup: u64,
        #[command(flatten)]
        agents: Agents,
        #[command(flatten)]
        workers: Workers,
        /// Check the stored transcripts against the acknowledgements.
        #[arg(long, env = "LIVEDESK_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// N idle visitors held open: handshake+welcome rate and server memory per connection.
    Connections {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long, default_value_t = 1000)]
        visitors: usize,
        #[arg(long, default_value_t = 64)]
        parallel: usize,
        /// The server's pid, to read its resident memory from /proc (a
        /// cluster: every node's, comma-separated; their memory is summed).
        #[arg(long, value_delimiter = ',')]
        server_pid: Vec<u32>,
        /// A cluster's Redis, to read its `used_memory` before and after.
        #[arg(long)]
        redis_url: Option<String>,
        /// Seconds every socket is held open once all are connected (the
        /// run fails if the server closes any meanwhile).
        #[arg(long, default_value_t = 2)]
        hold: u64,
        #[command(flatten)]
        workers: Workers,
    },
    /// Visitors arriving at a fixed rate: connect->welcome and connect->agent notification.
    Churn {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// New visitors per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        #[arg(long, default_value_t = 10)]
        duration: u64,
        #[command(flatten)]
        agents: Agents,
        #[command(flatten)]
        workers: Workers,
    },
    /// Archive search as the archive grows: fills an empty database to each
    /// size in turn and times the archive's first page per kind of query.
    Search {
        /// An empty database; migrations are run.
        #[arg(long, env = "LIVEDESK_DATABASE_URL")]
        database_url: String,
        /// Message counts to measure at.
        #[arg(long, value_delimiter = ',', default_value = "100000,300000,1000000")]
        sizes: Vec<u64>,
        /// Queries of each kind at each size.
        #[arg(long, default_value_t = 100)]
        queries: usize,
    },
    /// The database alone: one writer stores batches as the server's writer does,
    /// as fast as it can; rate, time per batch and the database's CPU per message.
    Store {
        /// An empty database; migrations are run.
        #[arg(long, env = "LIVEDESK_DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 400)]
        conversations: usize,
        /// Messages per transaction (1: one insert per message, as LIVEDESK_WRITE_BATCH=1).
        #[arg(long, default_value_t = 256)]
        batch: usize,
        #[arg(long, default_value_t = 10)]
        duration: u64,
    },
    /// V visitors each upload R files of S bytes at once through `POST /files`:
    /// throughput, time per upload, and the server's memory while they are in
    /// flight. The server needs LIVEDESK_UPLOADS_PER_MINUTE=0 (or enough).
    Uploads {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long, default_value_t = 50)]
        visitors: usize,
        #[arg(long, default_value_t = 4)]
        rounds: usize,
        /// Bytes per file (at most the server's LIVEDESK_UPLOAD_MAX_BYTES).
        #[arg(long, default_value_t = 10 * 1024 * 1024)]
        size: usize,
        /// The server's pid, to sample its resident memory from /proc.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// A plain relay to compare livedesk with (acknowledges and forwards
    /// each message at once, stores nothing); `durable --url` drives it as
    /// it drives livedesk. Serves until killed.
    Relay {
        #[arg(long, default_value = "127.0.0.1:18600")]
        bind: String,
        /// HTTP worker threads (0: one per core, as livedesk).
        #[arg(long, default_value_t = 0)]
        workers: usize,
    },
    /// (internal) One worker, driven by the coordinator over stdin/stdout.
    #[command(hide = true)]
    Worker { job: String },
}

async fn run(scenario: Scenario) -> anyhow::Result<(String, bool)> {
    Ok(match scenario {
        Scenario::Durable {
            url,
            agent_url,
            visitors,
            rate,
            duration,
            warmup,
            agents,
            workers,
            database_url,
        } => {
            let (agents, who) = agents.credentials();
            let r = durable(DurableConfig {
                url,
                agent_url,
                visitors,
                agents,
                rate,
                duration: Duration::from_secs(duration),
                warmup: Duration::from_secs(warmup),
                who,
                database_url,
                drain_timeout: Duration::from_secs(30),
                spread: workers.spread()?,
            })
            .await?;
            (r.render(), r.correct())
        }
        Scenario::Connections {
            url,
            visitors,
            parallel,
            server_pid,
            redis_url,
            hold,
            workers,
        } => {
            let r = connections(ConnectionsConfig {
                url,
                visitors,
                server_pids: server_pid,
                redis_url,
                hold: Duration::from_secs(hold),
                parallel,
                spread: workers.spread()?,
            })
            .await?;
            (r.render(), r.correct())
        }
        Scenario::Churn {
            url,
            rate,
            duration,
            agents,
            workers,
        } => {
            let (agents, who) = agents.credentials();
            let r = churn(ChurnConfig {
                url,
                rate,
                duration: Duration::from_secs(duration),
                agents,
                who,
                spread: workers.spread()?,
            })
            .await?;
            (r.render(), r.notified == r.arrived)
        }
        Scenario::Store {
            database_url,
            conversations,
            batch,
            duration,
        } => {
            let config = StoreConfig {
                database_url,
                conversations,
                batch,
                duration: Duration::from_secs(duration),
            };
            let r = tokio::task::spawn_blocking(move || store(config)).await??;
            (r.render(), r.correct())
        }
        Scenario::Search {
            database_url,
            sizes,
            queries,
        } => {
            let config = SearchConfig {
                database_url,
                sizes,
                queries,
            };
            let r = tokio::task::spawn_blocking(move || search(config)).await??;
            (r.render(), true)
        }
        Scenario::Uploads {
            url,
            visitors,
            rounds,
            size,
            server_pid,
        } => {
            let r = uploads(UploadsConfig {
                url,
                visitors,
                rounds,
                size,
                server_pid,
            })
            .await?;
            (r.render() + "\n", true)
        }
        Scenario::Worker { .. } | Scenario::Relay { .. } => {
            unreachable!("handled before the runtime starts")
        }
    })
}

fn main() -> std::process::ExitCode {
    let scenario = Cli::parse().scenario;
    let result = match scenario {
        Scenario::Worker { job } => serve_stdio(&job).map(|()| (String::new(), true)),
        Scenario::Relay { bind, workers } => {
            livedesk_bench::relay::serve(&bind, workers).map(|()| (String::new(), true))
        }
        other => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(run(other))),
    };
    match result {
        Ok((text, ok)) => {
            print!("{text}");
            if ok {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
