//! dexec-runtime: runs a task's WebAssembly app deterministically.
//!
//! Apps are WASI preview 1 modules run by wasmtime with a configuration chosen so that every
//! honest worker computes the same bytes (DESIGN §5, checklist in `docs/runtime.md`):
//!
//! - NaN canonicalization, no threads, deterministic relaxed SIMD, a fixed wasm stack;
//! - fuel metering ([`Outcome::OutOfFuel`] is a deterministic result) and a memory limit that
//!   traps ([`Outcome::LimitExceeded`]); an epoch deadline stops runaway runs on wall-clock
//!   time ([`Outcome::Timeout`], a worker fault, never a result);
//! - `/iexec_in` preopened read-only, `/iexec_out` read-write, no network, stdin closed,
//!   stdout/stderr captured into bounded buffers;
//! - a virtual clock and a seeded random source derived from the task, and a `poll_oneoff`
//!   (sleep) that advances the virtual clock instead of blocking;
//! - output limits (bytes written during the run, then total size and file count of
//!   `/iexec_out`).
//!
//! [`Runtime::run`] is blocking: call it from `spawn_blocking` or use [`Runtime::run_blocking`].
//! Compiled modules are cached by the sha256 of their bytes and reused across tasks.
//!
//! The result digest of `/iexec_out` after a run (DESIGN §4) is protocol, not runtime: the
//! algorithm is `dexec_primitives::results`, reading the directory `dexec_sdk::results`.
//!
//! [`bench`] measures cold/warm start and the WASM/native speed ratio for `dexec bench runtime`.
//!
//! [`oci`] runs container apps (app type `OCI`) with podman in a sandbox that mirrors the WASM
//! one, returning the same [`Outcome`]s.

pub mod bench;
mod cache;
mod fuel;
pub mod oci;
mod runtime;
mod shell;
mod wasi;

pub use fuel::{fuel_for_category, wall_clock_limit_for_category, FUEL_PER_REFERENCE_SECOND};
pub use runtime::{
    Job, Limit, Outcome, OutputLimits, Run, Runtime, RuntimeConfig, TaskEnv,
    DEFAULT_CLOCK_START_UNIX_SECS, DEFAULT_MEMORY_LIMIT, HOST_CALL_FUEL, WASM_STACK_BYTES,
};
pub use shell::split_args;

use std::path::PathBuf;

/// Errors of the runtime itself (a run that cannot even start). What an app does wrong is an
/// [`Outcome`], never an [`Error`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The wasmtime engine rejected the configuration.
    #[error("wasmtime engine configuration: {0}")]
    Engine(String),
    /// Linking WASI into the host failed (a wasmtime-wasi bug or version mismatch).
    #[error("WASI linker setup: {0}")]
    Linker(String),
    /// A task directory could not be prepared or opened.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The directory or file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The blocking task running the app panicked or was cancelled.
    #[error("runtime task failed: {0}")]
    Join(String),
}

/// `Result` with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
