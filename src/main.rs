use clap::Parser;
use livedesk::config::{Cli, Command};
use livedesk::startup::Application;
use livedesk::{cli, telemetry};

fn main() -> std::process::ExitCode {
    livedesk::telemetry::return_large_blocks_to_the_os();
    // One readable line for people, never a backtrace.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[actix_web::main]
async fn run() -> anyhow::Result<()> {
    let Cli { settings, command } = Cli::parse();
    telemetry::init(&settings)?;
    match command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings.clone()).await?;
            if let Some(first) = &app.first_admin {
                println!("First admin account created:");
                println!("  username: {}", first.username);
                match &first.generated_password {
                    Some(p) => println!("  password: {p}   (shown only this once: write it down)"),
                    None => println!("  password: the value of LIVEDESK_ADMIN_PASSWORD"),
                }
            }
            let host = settings
                .bind
                .rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or("127.0.0.1");
            println!("livedesk is running at http://{host}:{}/", app.port());
            app.run_until_stopped().await?;
        }
        Command::Migrate => actix_web::web::block(move || cli::migrate(&settings)).await??,
        Command::Agent(cmd) => actix_web::web::block(move || cli::agent(&settings, cmd)).await??,
        Command::Room(cmd) => actix_web::web::block(move || cli::room(&settings, cmd)).await??,
    }
    Ok(())
}
