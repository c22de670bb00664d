//! The scheduler's HTTP protocol types, now in the SDK (`dexec_sdk::scheduler::types`): this
//! module re-exports them, and the protocol's hash rules from `dexec_primitives::poco`, while
//! the scheduler's imports move to those homes.

pub use dexec_primitives::poco::{authorization_hash, result_hash, result_seal};
pub use dexec_sdk::scheduler::types::*;

/// The on-chain results link of a blob in a dexec store (`dexec_primitives::ResultsLink`).
pub fn results_link(location: &str) -> String {
    dexec_primitives::ResultsLink::store(location).to_json()
}
