//! The scheduler's HTTP protocol types, now in the SDK (`dexec_sdk::scheduler::types`),
//! re-exported here while the scheduler's imports move there. The protocol's hash rules are in
//! `dexec_primitives::poco`, the results link is `dexec_primitives::ResultsLink`.

pub use dexec_sdk::scheduler::types::*;
