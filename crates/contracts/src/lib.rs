//! dexec-contracts: alloy bindings for the dexec hub contracts and helpers to deploy and
//! talk to them.
//!
//! - [`Hub`], [`HubPoco`] (the execution module, called at the hub's address), [`AppRegistry`],
//!   [`DatasetRegistry`], [`WorkerpoolRegistry`], [`DevToken`]:
//!   `sol!` bindings generated from the committed forge artifacts in `abi/` (exported by
//!   `scripts/export-abi.py`; never read from `contracts/` at build time).
//! - [`PriceFeedOracle`], [`HashCheckConsumer`]: the oracle consumers of `contracts/src/oracle/`
//!   (a price feed updated by dexec tasks, and the example request/response consumer).
//! - [`convert`]: from `dexec_primitives` orders ([`Signed`](dexec_primitives::Signed)) to the
//!   ABI structs, and order operations (presign / close).
//! - [`deploy`]: deploy the token, the registries and the hub, and create the default categories.
//! - [`error`]: this crate's [`Error`], with custom errors of the hub decoded into sentences.
//! - [`anvil`]: find and spawn the pinned anvil binary (devnet, tests, benchmarks).
//! - [`chain_file`]: `chain.json`, where a deployment lives (iExec's project file).
//! - [`tx`]: send a transaction and wait for its receipt; find events in receipts.

mod bindings;

pub mod anvil;
pub mod chain_file;
pub mod convert;
pub mod deploy;
pub mod error;
pub mod tx;

pub use bindings::{
    AppRegistry, DatasetRegistry, DevToken, HashCheckConsumer, Hub, HubBase, HubPoco,
    PriceFeedOracle, WorkerpoolRegistry,
};
pub use chain_file::{ChainEntry, ChainFile, ChainFileError};
pub use deploy::{deploy_hub, Deployment};
pub use error::{describe_revert, Error, Result};
