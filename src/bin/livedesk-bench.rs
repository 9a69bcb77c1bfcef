//! Load generator: `livedesk-bench <scenario> --help`.

use std::time::Duration;

use clap::{Parser, Subcommand};
use livedesk::bench::{churn, connections, durable, ChurnConfig, ConnectionsConfig, DurableConfig};

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

#[derive(Subcommand)]
enum Scenario {
    /// V visitors each send at a fixed rate to A agents; every acked message is checked.
    /// The server needs LIVEDESK_WS_RATE/BURST above --rate.
    Durable {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long, default_value_t = 100)]
        visitors: usize,
        /// Messages per second per visitor.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// Seconds of sending.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        #[command(flatten)]
        agents: Agents,
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
        /// The server's pid, to read its resident memory from /proc.
        #[arg(long)]
        server_pid: Option<u32>,
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
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = match Cli::parse().scenario {
        Scenario::Durable {
            url,
            visitors,
            rate,
            duration,
            agents,
            database_url,
        } => durable(DurableConfig {
            url,
            visitors,
            agents: agents.agents,
            rate,
            duration: Duration::from_secs(duration),
            admin_password: agents.admin_password,
            agent_password: agents.agent_password,
            captcha: agents.captcha,
            database_url,
            drain_timeout: Duration::from_secs(30),
        })
        .await
        .map(|r| (r.render(), r.correct())),
        Scenario::Connections {
            url,
            visitors,
            parallel,
            server_pid,
        } => connections(ConnectionsConfig {
            url,
            visitors,
            server_pid,
            parallel,
        })
        .await
        .map(|r| (r.render(), r.connected == r.config.visitors)),
        Scenario::Churn {
            url,
            rate,
            duration,
            agents,
        } => churn(ChurnConfig {
            url,
            rate,
            duration: Duration::from_secs(duration),
            agents: agents.agents,
            admin_password: agents.admin_password,
            agent_password: agents.agent_password,
            captcha: agents.captcha,
        })
        .await
        .map(|r| (r.render(), r.notified == r.arrived)),
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
