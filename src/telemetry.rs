use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::config::{LogFormat, Settings};

/// Logs go to standard error, so standard output carries only what livedesk
/// prints for people (the URL, first-admin credentials, CLI results).
pub fn init(settings: &Settings) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&settings.log)
        .map_err(|e| anyhow::anyhow!("invalid LIVEDESK_LOG '{}': {e}", settings.log))?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match settings.log_format {
        LogFormat::Text => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
    Ok(())
}
