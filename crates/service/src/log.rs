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

/// A loop's repeated failure, logged once and then at most every `every` (with how many were
/// not logged), so a dependency that is down for an hour gives a handful of lines, not one
/// per retry; and when the loop succeeds again, how long it failed.
#[derive(Debug)]
pub struct Repeated {
    every: std::time::Duration,
    since: Option<std::time::Instant>,
    last_logged: Option<std::time::Instant>,
    unlogged: u64,
    failures: u64,
}

/// What [`Repeated`] says about a failure or a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    /// Nothing to log.
    Quiet,
    /// Log this failure; `unlogged` failures since the last line were not.
    Failure {
        /// Failures not logged since the last line.
        unlogged: u64,
    },
    /// The loop works again after `failures` failures during `lasted`.
    Recovered {
        /// How many attempts failed.
        failures: u64,
        /// Since the first failure.
        lasted: std::time::Duration,
    },
}

impl Repeated {
    /// Log a failure at most every `every`.
    pub fn new(every: std::time::Duration) -> Self {
        Self {
            every,
            since: None,
            last_logged: None,
            unlogged: 0,
            failures: 0,
        }
    }

    /// One more failure: whether to log it.
    pub fn failure(&mut self) -> Say {
        let now = std::time::Instant::now();
        self.since.get_or_insert(now);
        self.failures += 1;
        match self.last_logged {
            Some(last) if now.duration_since(last) < self.every => {
                self.unlogged += 1;
                Say::Quiet
            }
            _ => {
                self.last_logged = Some(now);
                Say::Failure {
                    unlogged: std::mem::take(&mut self.unlogged),
                }
            }
        }
    }

    /// A success: after failures, say the loop recovered (once).
    pub fn success(&mut self) -> Say {
        match self.since.take() {
            Some(since) => {
                let failures = std::mem::take(&mut self.failures);
                self.last_logged = None;
                self.unlogged = 0;
                Say::Recovered {
                    failures,
                    lasted: since.elapsed(),
                }
            }
            None => Say::Quiet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_failure_is_logged_once_per_period_and_its_recovery_once() {
        let mut repeated = Repeated::new(std::time::Duration::from_secs(3600));
        assert_eq!(repeated.failure(), Say::Failure { unlogged: 0 });
        for _ in 0..99 {
            assert_eq!(repeated.failure(), Say::Quiet);
        }
        assert!(matches!(
            repeated.success(),
            Say::Recovered { failures: 100, .. }
        ));
        assert_eq!(repeated.success(), Say::Quiet);
        // a new outage is logged at once
        assert_eq!(repeated.failure(), Say::Failure { unlogged: 0 });

        let mut often = Repeated::new(std::time::Duration::ZERO);
        assert_eq!(often.failure(), Say::Failure { unlogged: 0 });
        assert_eq!(often.failure(), Say::Failure { unlogged: 0 });
    }
}
