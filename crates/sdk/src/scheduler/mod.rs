//! The scheduler protocol (feature `scheduler`): the worker↔scheduler wire types ([`types`])
//! and the worker's client ([`SchedulerClient`]). The scheduler (`dexec-scheduler`) serves
//! these types; a worker talks to it through the client. Protocol: `docs/workerpool.md`.

pub mod client;
pub mod types;

pub use client::{task_view, SchedulerClient, SchedulerError, REPORT_PATIENCE};
pub use types::*;
