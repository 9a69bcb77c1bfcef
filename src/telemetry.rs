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

/// glibc keeps freed memory in per-thread arenas and raises its mmap
/// threshold after each large free: a password hash's ~19 MiB, run on
/// whichever blocking thread, then stays with that thread (a burst of
/// sign-ins took the process from 16 to 640 MiB for good). A fixed
/// threshold of 1 MiB gives every block that large back at once.
pub fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called first thing
    // in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
