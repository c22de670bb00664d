//! The workerpool end to end, in-process: real anvil with the real hub, the real store,
//! the scheduler and workers with the real wasmtime runtime.

mod batches;
mod fixture;
mod offer;
mod recovery;
mod replicated;
mod trust1;
