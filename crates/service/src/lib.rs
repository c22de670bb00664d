//! `dexec-service`: what every dexec service shares, written once.
//!
//! - [`args`]: the flag groups flattened into every service and the CLI — chain and RPC
//!   ([`ChainArgs`], one chain.json lookup rule), wallet ([`WalletArgs`], the same environment
//!   variables and `--password-file` everywhere), database ([`DbArgs`]), listen address
//!   ([`ListenArgs`]) and logging ([`LogArgs`], `--log-format text|json`).
//! - [`db`] (feature `db`): [`DbUrl`], a database URL whose `Debug` and `Display` hide the
//!   password, and [`db::open`], the SQLite/PostgreSQL pool set-up (a SQLite file and its
//!   directory are created, pragmas applied to each connection).
//! - [`http`] (feature `http`): the one JSON error body `{"error": "<sentence>"}`, the one
//!   error-to-response rule (a 5xx is logged once, the caller gets a sentence without
//!   internals), the health route, and serving a router until shutdown.
//! - [`metrics`] (feature `http`): one Prometheus registry per service (`dexec_*` names), the
//!   HTTP request metrics every router gets, `/metrics` in the OpenMetrics text format, and
//!   [`metrics::Health`], the health answer that says why a service is unhealthy (503).
//! - [`lock`]: one process per state directory ([`StateLock`], a kernel lock that dies with
//!   its process).
//! - [`log`]: the tracing subscriber, set up in one place.
//! - [`shutdown`]: Ctrl-C as a future, and [`ServiceHandle`], what starting any service
//!   returns (its bound address and the task to await).
//!
//! Services (`dexec-market`, `dexec-store`, `dexec-scheduler`, the worker) depend on this crate;
//! it depends on no service.

pub mod args;
#[cfg(feature = "db")]
pub mod db;
#[cfg(feature = "http")]
pub mod http;
pub mod lock;
pub mod log;
#[cfg(feature = "http")]
pub mod metrics;
pub mod shutdown;

pub use args::{ChainArgs, DbArgs, ListenArgs, LogArgs, LogFormat, WalletArgs};
#[cfg(feature = "db")]
pub use db::DbUrl;
pub use lock::{LockError, StateLock};
pub use shutdown::{ctrl_c, ServiceHandle};

/// How long a service starting waits for a chain node it cannot reach (down, restarting, or
/// the network cut) before it gives up: a pool's machines seldom come up in order.
pub const START_PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);
