//! dexec-sdk: typed clients for dexec, shared by the `dexec` CLI and the services.
//!
//! - [`Client`]: one chain and its hub, with an optional wallet: escrow ([`Client::deposit`],
//!   [`Client::withdraw`], [`Client::account`]), categories, assets
//!   ([`Client::deploy_app`], [`Client::asset`], [`Client::transfer_asset`], …), orders
//!   ([`Client::sign_order`], [`Client::cancel_order`], [`Client::presign_order`],
//!   [`Client::order_status`]), matching ([`Client::plan_match`], [`Client::match_orders`]),
//!   deals and tasks ([`Client::deal`], [`Client::task`]).
//! - [`execution`]: what workers and schedulers send once a deal exists
//!   ([`Client::contribute`], [`Client::sign_contribution`], [`Client::reveal`],
//!   [`Client::contribute_and_finalize`], [`Client::contribute_batch`], [`Client::finalize`],
//!   [`Client::reopen`], [`Client::push_results`] / [`Client::submit_results`] (which deliver
//!   the callbacks of what they settled), [`Client::deliver_callbacks`], [`Client::claim`],
//!   [`Client::claim_batch`]), each refused with a sentence ([`Refusal`]) before sending when
//!   the task's state on chain says the hub would revert.
//! - [`events`]: hub and registry events decoded ([`HubEvent`]) and an [`EventFollower`] with a
//!   confirmation depth that resumes from a block.
//! - [`wallet`]: Web3 Secret Storage keystores (geth, foundry, MetaMask) and devnet accounts.
//! - `store` (feature `store`): the blob store's client (`StoreClient`: uploads checked end to
//!   end, downloads size-capped and verified) and wire types (`BlobId`, `BlobRef`).
//! - `scheduler` (feature `scheduler`): the worker↔scheduler protocol's types and the worker's
//!   client (`SchedulerClient`).
//! - `market` (feature `market`): the order book's client (`MarketClient`) and wire types
//!   (`OrderView`, `OrderQuery`, `DealView`, candles, the unpublish message).
//! - [`results`]: the result digest of an output directory (the algorithm is
//!   `dexec_primitives::results`), for the worker and `dexec result download`.
//! - [`ErrorBody`]: the JSON error body every dexec service answers with.
//! - [`Error`]: every failure as a sentence; the hub's custom errors are decoded.
//!
//! Every client and wire type of dexec lives here, one cargo feature each (`chain` is always
//! on), so a binary compiles only the clients it uses; servers depend on this crate for their
//! wire types, never the reverse.

pub mod assets;
pub mod client;
pub mod deals;
pub mod error;
pub mod error_body;
pub mod events;
pub mod execution;
#[cfg(feature = "market")]
pub mod market;
pub mod oracle;
pub mod orders;
pub mod results;
#[cfg(feature = "scheduler")]
pub mod scheduler;
#[cfg(feature = "store")]
pub mod store;
pub mod wallet;

pub use assets::{
    AppSpec, AssetDetails, AssetInfo, AssetKind, DatasetSpec, Deployed, WorkerpoolSpec,
};
pub use client::{AccountInfo, CategoryInfo, Client, TxOutcome};
pub use deals::{DealInfo, TaskInfo, TaskResult, TaskStatus};
pub use error::{Error, Result};
pub use error_body::ErrorBody;
pub use events::{EventFollower, HubEvent, HubLog};
pub use execution::{
    CallbackCall, CallbackDelivery, DealRef, DeliveryReceipt, EnclaveProof, PendingResults,
    PushedReceipt, PushedResult, Refusal, ResultsPushed, SignedContribution, TaskRef,
};
pub use orders::{
    HubOrder, MatchInput, MatchPlan, Matched, OrderKind, OrderStatus, RemainingVolumes,
};

pub use dexec_contracts::tx::DEFAULT_RPC_TIMEOUT;
pub use dexec_contracts::{ChainEntry, ChainFile, ChainFileError, Deployment};
pub use dexec_primitives as primitives;
