//! The market's wire types: the bodies of its routes and answers, shared by the server and
//! its clients (the query strings are in [`super::query`]). Field names and formats are those of `docs/market.md` (iExec's where they
//! exist): camelCase, hashes and addresses as lowercase 0x-hex, amounts as JSON integers.

use std::fmt;
use std::str::FromStr;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::signers::SignerSync;
use alloy::sol;
use alloy::sol_types::{Eip712Domain, SolStruct};
use dexec_primitives::{AppOrder, DatasetOrder, OrderKind, RequestOrder, Signed, WorkerpoolOrder};
use serde::{Deserialize, Serialize, Serializer};

use crate::orders::HubOrder;

/// A signed order of any of the four kinds, as the market stores and serves it: the order's
/// fields and `sign`, flat (iExec's format). Its kind is carried beside it
/// ([`OrderView::kind`]), so that it is read back as the right type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedOrder {
    /// An app order.
    App(Signed<AppOrder>),
    /// A dataset order.
    Dataset(Signed<DatasetOrder>),
    /// A workerpool order.
    Workerpool(Signed<WorkerpoolOrder>),
    /// A request order.
    Request(Signed<RequestOrder>),
}

impl SignedOrder {
    /// Its kind.
    pub fn kind(&self) -> OrderKind {
        match self {
            Self::App(_) => OrderKind::App,
            Self::Dataset(_) => OrderKind::Dataset,
            Self::Workerpool(_) => OrderKind::Workerpool,
            Self::Request(_) => OrderKind::Request,
        }
    }

    /// Read a signed order of `kind` from its JSON text.
    pub fn from_json(kind: OrderKind, json: &str) -> serde_json::Result<Self> {
        Ok(match kind {
            OrderKind::App => Self::App(serde_json::from_str(json)?),
            OrderKind::Dataset => Self::Dataset(serde_json::from_str(json)?),
            OrderKind::Workerpool => Self::Workerpool(serde_json::from_str(json)?),
            OrderKind::Request => Self::Request(serde_json::from_str(json)?),
        })
    }

    /// Read a signed order of `kind` from a JSON value.
    pub fn from_value(kind: OrderKind, json: serde_json::Value) -> serde_json::Result<Self> {
        Ok(match kind {
            OrderKind::App => Self::App(serde_json::from_value(json)?),
            OrderKind::Dataset => Self::Dataset(serde_json::from_value(json)?),
            OrderKind::Workerpool => Self::Workerpool(serde_json::from_value(json)?),
            OrderKind::Request => Self::Request(serde_json::from_value(json)?),
        })
    }

    /// The order as a JSON value (to show its fields by name).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Its signature (empty when presigned on chain).
    pub fn sign(&self) -> &Bytes {
        match self {
            Self::App(o) => &o.sign,
            Self::Dataset(o) => &o.sign,
            Self::Workerpool(o) => &o.sign,
            Self::Request(o) => &o.sign,
        }
    }

    /// The order as its own type, if it is of kind `T`.
    pub fn into_signed<T: MarketOrder>(self) -> Option<Signed<T>> {
        T::unwrap(self)
    }
}

impl Serialize for SignedOrder {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::App(o) => o.serialize(serializer),
            Self::Dataset(o) => o.serialize(serializer),
            Self::Workerpool(o) => o.serialize(serializer),
            Self::Request(o) => o.serialize(serializer),
        }
    }
}

/// The four order types, as the market lists them.
pub trait MarketOrder: HubOrder {
    /// `order` as a [`SignedOrder`].
    fn wrap(order: Signed<Self>) -> SignedOrder;
    /// The order inside `order`, if it is of this kind.
    fn unwrap(order: SignedOrder) -> Option<Signed<Self>>;
}

macro_rules! market_order {
    ($order:ident, $kind:ident) => {
        impl MarketOrder for $order {
            fn wrap(order: Signed<Self>) -> SignedOrder {
                SignedOrder::$kind(order)
            }
            fn unwrap(order: SignedOrder) -> Option<Signed<Self>> {
                match order {
                    SignedOrder::$kind(o) => Some(o),
                    _ => None,
                }
            }
        }
    };
}
market_order!(AppOrder, App);
market_order!(DatasetOrder, Dataset);
market_order!(WorkerpoolOrder, Workerpool);
market_order!(RequestOrder, Request);

/// Where an order is in the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BookStatus {
    /// Listed: may still match.
    Open,
    /// No volume left on chain (deals used it all).
    Filled,
    /// Closed on chain by its owner.
    Cancelled,
    /// Its signer no longer owns the asset or lacks the balance or stake it needs.
    Dead,
    /// Withdrawn from the book by its signer (still valid on chain).
    Unpublished,
    /// A workerpool order whose scheduler stopped its heartbeats: out of the book until they
    /// resume (see [`crate::market::liveness`]).
    Offline,
}

impl BookStatus {
    /// Every status.
    pub const ALL: [Self; 6] = [
        Self::Open,
        Self::Filled,
        Self::Cancelled,
        Self::Dead,
        Self::Unpublished,
        Self::Offline,
    ];

    /// The name, as stored and sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Filled => "filled",
            Self::Cancelled => "cancelled",
            Self::Dead => "dead",
            Self::Unpublished => "unpublished",
            Self::Offline => "offline",
        }
    }

    /// Filled and cancelled orders are closed on chain for good: they cannot be published
    /// again (dead and unpublished ones can).
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Filled | Self::Cancelled)
    }
}

impl fmt::Display for BookStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BookStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown order status `{s}`"))
    }
}

/// An order as the market returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawOrderView")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderView {
    /// The order's EIP-712 hash under the hub's domain.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Bytes32))]
    pub order_hash: B256,
    /// Its kind.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::OrderKind))]
    pub kind: OrderKind,
    /// The chain.
    pub chain_id: u64,
    /// The signed order as published: its fields and `sign`, flat.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::AnySignedOrder))]
    pub order: SignedOrder,
    /// Who signed it.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Address))]
    pub signer: Address,
    /// Volume still available on chain (as last seen).
    pub remaining: i64,
    /// Where it is in the book.
    pub status: BookStatus,
    /// Publication number, named by unpublish signatures.
    pub publication: i64,
    /// When it was published, Unix milliseconds.
    pub publication_timestamp: i64,
}

/// [`OrderView`] as read, before its order is read as the type its kind names.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOrderView {
    order_hash: B256,
    kind: OrderKind,
    chain_id: u64,
    order: serde_json::Value,
    signer: Address,
    remaining: i64,
    status: BookStatus,
    publication: i64,
    publication_timestamp: i64,
}

impl TryFrom<RawOrderView> for OrderView {
    type Error = String;
    fn try_from(raw: RawOrderView) -> Result<Self, Self::Error> {
        Ok(Self {
            order: SignedOrder::from_value(raw.kind, raw.order)
                .map_err(|e| format!("not a signed {} order: {e}", raw.kind))?,
            order_hash: raw.order_hash,
            kind: raw.kind,
            chain_id: raw.chain_id,
            signer: raw.signer,
            remaining: raw.remaining,
            status: raw.status,
            publication: raw.publication,
            publication_timestamp: raw.publication_timestamp,
        })
    }
}

/// A page of orders.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderPage {
    /// Always true (iExec compatibility).
    pub ok: bool,
    /// The orders, best first.
    pub orders: Vec<OrderView>,
    /// Matching orders, exact up to 1000 (beyond, at least 1000).
    pub count: i64,
    /// This page's index.
    pub page_index: u64,
    /// The next page's index, if there is one.
    pub next_page: Option<u64>,
}

/// A deal as the market recorded it from the hub's `DealCreated` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Deal))]
pub struct DealView {
    /// The deal id.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Bytes32))]
    pub deal_id: B256,
    /// Block of its creation.
    pub block: u64,
    /// Position of its event in the block.
    pub log_index: u64,
    /// Transaction that created it.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Bytes32))]
    pub tx_hash: B256,
    /// Category.
    pub category: u64,
    /// App.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Address))]
    pub app: Address,
    /// Dataset (zero if none).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Address))]
    pub dataset: Address,
    /// Workerpool.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Address))]
    pub workerpool: Address,
    /// App owner.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Address))]
    pub app_owner: Address,
    /// Dataset owner (zero if none).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Address))]
    pub dataset_owner: Address,
    /// Workerpool owner (the scheduler).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Address))]
    pub workerpool_owner: Address,
    /// Requester.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Address))]
    pub requester: Address,
    /// Beneficiary.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Address))]
    pub beneficiary: Address,
    /// App price per task, nRLC.
    pub app_price: u64,
    /// Dataset price per task, nRLC.
    pub dataset_price: u64,
    /// Workerpool price per task, nRLC.
    pub workerpool_price: u64,
    /// Number of tasks.
    pub volume: u64,
    /// Trust.
    pub trust: u64,
    /// Tag (0x-hex bytes32).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Bytes32))]
    pub tag: B256,
    /// Start time (Unix seconds, the block's timestamp).
    pub start_time: u64,
    /// App order hash.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Bytes32))]
    pub apporder_hash: B256,
    /// Dataset order hash (zero if none).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Bytes32))]
    pub datasetorder_hash: B256,
    /// Workerpool order hash.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Bytes32))]
    pub workerpoolorder_hash: B256,
    /// Request order hash.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::Bytes32))]
    pub requestorder_hash: B256,
}

/// A page of deals.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DealPage {
    /// Always true.
    pub ok: bool,
    /// The deals, newest first.
    pub deals: Vec<DealView>,
    /// How many deals match in all.
    pub count: i64,
    /// This page's index.
    pub page_index: u64,
    /// The next page's index, if there is one.
    pub next_page: Option<u64>,
}

/// One candle of workerpool prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candle {
    /// Start of the interval, Unix seconds.
    pub time: i64,
    /// First price.
    pub open: i64,
    /// Highest price.
    pub high: i64,
    /// Lowest price.
    pub low: i64,
    /// Last price.
    pub close: i64,
    /// Tasks traded.
    pub volume: i64,
}

/// `GET /ohlc` answer: candles of the workerpool price of a category's deals.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ohlc {
    /// The category.
    pub category: u64,
    /// Candle width, seconds.
    pub interval: u64,
    /// Price of the last deal of the category, if any.
    pub last_price: Option<i64>,
    /// Candles, oldest first.
    pub candles: Vec<Candle>,
}

/// `GET /health` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok`, or `unhealthy` (HTTP 503) with its reasons.
    pub status: String,
    /// What is wrong, each a sentence an operator can act on; empty when `ok`.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The watcher's cursor: the first block whose events it has not applied yet. Once it is
    /// past a block, everything that block did on chain is in the book.
    pub next_block: u64,
}

/// Body of a publish (`POST /{kind}orders`): `{"order": <signed order>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishBody<T> {
    /// The order's fields and `sign`, flat (as `dexec order sign` writes them).
    pub order: Signed<T>,
}

sol! {
    /// What a signer signs, under the hub's EIP-712 domain, to unpublish its order.
    #[derive(Debug)]
    struct UnpublishOrder {
        /// The order's EIP-712 hash.
        bytes32 orderHash;
        /// The publication number of the order in the market.
        uint256 publication;
    }
}

/// How an unpublish is signed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum UnpublishScheme {
    /// The EIP-712 typed data [`UnpublishOrder`].
    #[default]
    Eip712,
    /// EIP-191 `personal_sign` of the text [`unpublish_message`].
    Personal,
}

/// Body of `POST /orders/{hash}/unpublish`. The signer of an order signs the typed data
/// `UnpublishOrder(bytes32 orderHash,uint256 publication)`, where `publication` is the number
/// the market gave the order when it was (re)published: a signature is then good for one
/// unpublish only, and replayed after the order is republished it names an old publication
/// and is refused. Wallets that cannot sign typed data may `personal_sign` the text
/// [`unpublish_message`] instead (scheme `personal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Unpublish))]
pub struct UnpublishBody {
    /// The publication number the signature names (the order's `publication`).
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 9007199254740991_i64)
    )]
    pub publication: i64,
    /// The signer's 65- or 64-byte ECDSA signature, 0x-hex.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::market::schema::EcdsaSign))]
    pub sign: Bytes,
    /// `eip712` (default) or `personal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<UnpublishScheme>,
}

/// An integer written as a JSON integer, or as a float with no fraction up to 2^53 (`5.0`:
/// JSON Schema counts it as an integer, and some clients write one).
pub(crate) fn integral<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(deserializer)?;
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() <= (1u64 << 53) as f64)
                .map(|f| f as i64)
        })
        .ok_or_else(|| serde::de::Error::custom(format!("expected an integer, found {n}")))
}

/// The EIP-712 digest to sign to unpublish `hash` (publication `publication`).
pub fn unpublish_digest(domain: &Eip712Domain, hash: B256, publication: i64) -> B256 {
    UnpublishOrder {
        orderHash: hash,
        publication: U256::from(publication.max(0) as u64),
    }
    .eip712_signing_hash(domain)
}

/// The text to `personal_sign` instead of the typed data.
pub fn unpublish_message(hash: B256, publication: i64) -> String {
    format!("dexec market: unpublish order {hash:#x} publication {publication}")
}

/// The body of `POST /orders/{hash}/unpublish`, signed with the EIP-712 scheme.
pub fn sign_unpublish<S: SignerSync + ?Sized>(
    signer: &S,
    domain: &Eip712Domain,
    hash: B256,
    publication: i64,
) -> alloy::signers::Result<UnpublishBody> {
    let signature = signer.sign_hash_sync(&unpublish_digest(domain, hash, publication))?;
    Ok(UnpublishBody {
        publication,
        sign: Bytes::copy_from_slice(&signature.as_bytes()),
        scheme: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_order_view_reads_its_order_as_its_kind() {
        let order = AppOrder {
            app: Address::repeat_byte(1),
            appprice: U256::from(5),
            volume: U256::from(3),
            ..Default::default()
        };
        let view = OrderView {
            order_hash: B256::repeat_byte(2),
            kind: OrderKind::App,
            chain_id: 31337,
            order: SignedOrder::App(Signed::unsigned(order.clone())),
            signer: Address::repeat_byte(3),
            remaining: 3,
            status: BookStatus::Open,
            publication: 7,
            publication_timestamp: 8,
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["status"], "open");
        assert_eq!(json["order"]["app"], format!("{:#x}", order.app));
        assert_eq!(json["order"]["sign"], "0x");
        let back: OrderView = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, view);
        assert_eq!(back.order.into_signed::<AppOrder>().unwrap().order, order);
        for status in BookStatus::ALL {
            assert_eq!(status.to_string().parse::<BookStatus>(), Ok(status));
        }
        let mut wrong = json;
        wrong["kind"] = "request".into();
        assert!(serde_json::from_value::<OrderView>(wrong).is_err());
    }
}
