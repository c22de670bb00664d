//! The market (feature `market`): its wire types ([`OrderView`], [`OrderQuery`], [`OrderPage`],
//! [`DealView`], [`Ohlc`], the unpublish message, …) and its client ([`MarketClient`]). The
//! market server (`dexec-market`) answers with these types; the CLI, schedulers and anyone who
//! builds matches read and publish through the client. API: `docs/market.md`.

pub mod client;
pub mod liveness;
pub mod query;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod types;

pub use client::{collection, ClientError, ClientResult, MarketClient};
pub use liveness::{
    heartbeat_digest, sign_heartbeat, HeartbeatBody, Liveness, PoolLiveness, SchedulerHeartbeat,
};
pub use query::{AddressFilter, DealQuery, OhlcQuery, OrderQuery};
pub use types::{
    sign_unpublish, unpublish_digest, unpublish_message, BookStatus, Candle, DealPage, DealView,
    Health, MarketOrder, Ohlc, OrderPage, OrderView, PublishBody, SignedOrder, UnpublishBody,
    UnpublishOrder, UnpublishScheme,
};
