//! Integration tests of the bindings against the real hub on a real anvil, and of every
//! protocol rule of `dexec_primitives` against the hub's (`hashes`, `compat`, `parity`: seeded
//! random inputs; the seed is printed and `DEXEC_TEST_SEED` replays it; `settlement`: claims,
//! reopen, finalize without reveals and signed contribution batches).
//!
//! Each test spawns its own anvil (the pinned npm binary, or `$DEXEC_ANVIL`) on a free port
//! and deploys the hub with [`dexec_contracts::deploy_hub`].

mod compat;
mod fixture;
mod hashes;
mod matching;
mod parity;
mod settlement;
