//! A workerpool on a fresh chain: hub, store, app, workerpool, scheduler, workers, deals —
//! `dexec_test_utils::cluster`, shared with the worker's integration tests.

pub use dexec_test_utils::cluster::*;

/// A worker played by the test over the scheduler's HTTP API: dev account `index`, one
/// core, `max_concurrent` slots, no tags; not registered yet.
pub fn test_worker(
    pool: &Pool,
    index: usize,
    max_concurrent: u32,
) -> dexec_sdk::scheduler::SchedulerClient {
    dexec_sdk::scheduler::SchedulerClient::new(
        &pool.scheduler_url(),
        pool.chain.signer(index),
        "test worker".into(),
        dexec_sdk::scheduler::Capabilities {
            cores: 1,
            memory_mb: 512,
            tags: alloy::primitives::B256::ZERO,
            max_concurrent,
        },
    )
}
