//! dexec domain types, shared by every other crate and free of I/O.
//!
//! - [`orders`]: the four signed order types (app, dataset, workerpool, request), sponsored
//!   requests and order operations as EIP-712 structs identical to `contracts/src/libs/Orders.sol`,
//!   the hub's EIP-712 [`domain`], digests and signing ([`Signed`]).
//! - [`deal`]: [`Deal`], the terms of a match, and the packed encoding the hub commits to.
//! - [`ids`]: deal and task ids, computed exactly as the hub does.
//! - [`tag`]: tag bits (TEE, GPU, TEE frameworks) and tag parsing.
//! - [`category`]: the default work categories (XS … XL) and the deadlines they imply.
//! - [`amount`]: [`Nrlc`] amounts (9-decimal base-token units) with parsing and display.
//! - [`kinds`]: [`AssetKind`] and [`OrderKind`].
//! - [`poco`]: Proof-of-Contribution rules: vote hashes, the scheduler's authorization,
//!   contribution statuses, Sarmenta weights and consensus, stakes and rewards; deadlines are
//!   methods of [`Deal`].
//! - [`params`]: the request's `params` ([`RequestParams`]: `iexec_args`, `iexec_input_files`, …).
//! - [`link`]: the on-chain results link ([`ResultsLink`]).
//! - [`compat`]: whether four orders can match, by the hub's rules ([`Incompatibility`]).
//!
//! Every rule here is the hub's, written once in Rust; `crates/contracts/tests/it` checks them
//! against the deployed hub.

pub mod amount;
pub mod category;
pub mod compat;
pub mod deal;
pub mod ids;
pub mod kinds;
pub mod link;
pub mod orders;
pub mod params;
pub mod poco;
pub mod results;
pub mod tag;

pub use amount::{AmountError, Nrlc};
pub use category::{Category, DEFAULT_CATEGORIES};
pub use compat::{incompatibilities, Incompatibility, MatchOrders};
pub use deal::{Deal, DealError};
pub use ids::{deal_id, task_id};
pub use kinds::{AssetKind, OrderKind};
pub use link::{LinkError, ResultsLink};
pub use orders::{
    domain, recover_signer, AppOrder, AppOrderOperation, DatasetOrder, DatasetOrderOperation,
    Operable, OrderOperation, RequestOrder, RequestOrderOperation, SignatureError, Signed,
    SponsoredRequest, WorkerpoolOrder, WorkerpoolOrderOperation,
};
pub use params::{ParamsError, RequestParams};
pub use poco::ContributionStatus;
pub use tag::TagError;
