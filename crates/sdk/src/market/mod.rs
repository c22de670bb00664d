//! The market (feature `market`): its wire types ([`OrderView`], [`OrderQuery`], [`OrderPage`],
//! [`DealView`], [`Ohlc`], the unpublish message, …) and its client ([`MarketClient`]). The
//! market server (`dexec-market`) answers with these types; the CLI, schedulers and anyone who
//! builds matches read and publish through the client. API: `docs/market.md`.

pub mod client;
pub mod types;

pub use client::{collection, ClientError, ClientResult, MarketClient};
pub use types::{
    sign_unpublish, unpublish_digest, unpublish_message, AddressFilter, BookStatus, Candle,
    DealPage, DealQuery, DealView, Health, MarketOrder, Ohlc, OhlcQuery, OrderPage, OrderQuery,
    OrderView, PublishBody, SignedOrder, UnpublishBody, UnpublishOrder, UnpublishScheme,
};
