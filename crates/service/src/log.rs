//! Logging: the tracing subscriber, set up in one place for the CLI and every service.
//!
//! Logs go to stderr (or, with `--log-file`, are appended to a file), so that `--json` output
//! on stdout stays machine-readable. The filter is
//! `--log`, else `RUST_LOG`, else the caller's default; `--log-format json` writes one JSON
//! object per event for log collectors.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::args::{LogArgs, LogFormat};

/// The default filter of dexec's binaries: info for its services, warn for everything else.
pub const DEFAULT_FILTER: &str =
    "warn,devnet=info,bench=info,store=info,scheduler=info,worker=info,market=info,service=info";

/// Install the global subscriber. A second call (tests that start several services) keeps
/// the first one.
pub fn init(args: &LogArgs, default_filter: &str) {
    let filter = args
        .log
        .as_deref()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter));
    if let Some(path) = &args.log_file {
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        match opened {
            Ok(file) => {
                let builder = tracing_subscriber::fmt()
                    .with_env_filter(filter)
                    .with_writer(std::sync::Mutex::new(file))
                    .with_ansi(false);
                // a subscriber may already be installed (tests): keep it
                let _ = match args.log_format {
                    LogFormat::Text => builder.try_init(),
                    LogFormat::Json => builder.json().with_current_span(false).try_init(),
                };
                return;
            }
            Err(e) => eprintln!(
                "cannot write logs to {}: {e}; they go to stderr",
                path.display()
            ),
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // a subscriber may already be installed (tests): keep it
    let _ = match args.log_format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
    };
}
