//! Load generator: `livedesk-bench durable --help`.

use std::time::Duration;

use clap::{Parser, Subcommand};
use livedesk::bench::{durable, DurableConfig};

#[derive(Parser)]
#[command(
    name = "livedesk-bench",
    about = "Drives a running livedesk as real clients do and measures it"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// V visitors each send at a fixed rate to A agents; every acked message is checked.
    /// The server must run with LIVEDESK_TEST_CAPTCHA (agents sign in) and a
    /// LIVEDESK_WS_RATE/BURST above --rate.
    Durable {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long, default_value_t = 100)]
        visitors: usize,
        #[arg(long, default_value_t = 4)]
        agents: usize,
        /// Messages per second per visitor.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// Seconds of sending.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        #[arg(long, env = "LIVEDESK_ADMIN_PASSWORD")]
        admin_password: String,
        #[arg(long, default_value = "bench-agent-password")]
        agent_password: String,
        #[arg(long, env = "LIVEDESK_TEST_CAPTCHA")]
        captcha: String,
        /// Check the stored transcripts against the acknowledgements.
        #[arg(long, env = "LIVEDESK_DATABASE_URL")]
        database_url: Option<String>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Scenario::Durable {
        url,
        visitors,
        agents,
        rate,
        duration,
        admin_password,
        agent_password,
        captcha,
        database_url,
    } = Cli::parse().scenario;
    let cfg = DurableConfig {
        url,
        visitors,
        agents,
        rate,
        duration: Duration::from_secs(duration),
        admin_password,
        agent_password,
        captcha,
        database_url,
        drain_timeout: Duration::from_secs(30),
    };
    match durable(cfg).await {
        Ok(report) => {
            print!("{}", report.render());
            if report.correct() {
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
