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

pub mod amount;
pub mod category;
pub mod deal;
pub mod ids;
pub mod orders;
pub mod tag;

pub use amount::{AmountError, Nrlc};
pub use category::{Category, DEFAULT_CATEGORIES};
pub use deal::{Deal, DealError};
pub use ids::{deal_id, task_id};
pub use orders::{
    domain, AppOrder, AppOrderOperation, DatasetOrder, DatasetOrderOperation, Operable,
    OrderOperation, RequestOrder, RequestOrderOperation, Signed, SponsoredRequest, WorkerpoolOrder,
    WorkerpoolOrderOperation,
};
pub use tag::TagError;
