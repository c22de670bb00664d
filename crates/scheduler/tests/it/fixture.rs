//! A workerpool on a fresh chain: hub, store, app, workerpool, scheduler, workers, deals —
//! `dexec_test_utils::cluster`, shared with the worker's integration tests.

pub use dexec_test_utils::cluster::*;
