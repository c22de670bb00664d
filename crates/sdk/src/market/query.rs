//! The query strings of the market's read routes: the order book's filters ([`OrderQuery`],
//! with iExec's restriction semantics), the deals' ([`DealQuery`]) and the price candles'
//! ([`OhlcQuery`]). Address filters are typed ([`AddressFilter`]); a bad one is refused with a
//! sentence that names its parameter.

use std::fmt;
use std::str::FromStr;

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An address filter of a query: an address, or `any` (no filter). Omitted (`None` in
/// [`OrderQuery`]), a restriction filter means "unrestricted orders only".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressFilter {
    /// `any`: every order, whatever it names.
    Any,
    /// This address.
    Only(Address),
}

impl AddressFilter {
    /// The address, unless `any`.
    pub fn address(self) -> Option<Address> {
        match self {
            Self::Any => None,
            Self::Only(a) => Some(a),
        }
    }
}

impl From<Address> for AddressFilter {
    fn from(address: Address) -> Self {
        Self::Only(address)
    }
}

impl fmt::Display for AddressFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::Only(a) => write!(f, "{a:#x}"),
        }
    }
}

impl FromStr for AddressFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "any" {
            return Ok(Self::Any);
        }
        s.parse()
            .map(Self::Only)
            .map_err(|_| "must be an address (0x and 40 hex digits) or `any`".to_owned())
    }
}

impl Serialize for AddressFilter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AddressFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Deserializers of the address filters of [`OrderQuery`] and the deals query, each naming its
/// parameter in the sentence a bad value gets.
mod named {
    use super::AddressFilter;
    use serde::{Deserialize, Deserializer};

    fn filter<'de, D: Deserializer<'de>>(
        deserializer: D,
        name: &str,
    ) -> Result<Option<AddressFilter>, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("`{name}` {e}")))
    }

    macro_rules! named {
        ($($f:ident = $name:literal),* $(,)?) => {
            $(
                pub(super) fn $f<'de, D: Deserializer<'de>>(
                    d: D,
                ) -> Result<Option<AddressFilter>, D::Error> {
                    filter(d, $name)
                }
            )*
        };
    }
    named!(
        app = "app",
        dataset = "dataset",
        workerpool = "workerpool",
        requester = "requester",
        beneficiary = "beneficiary",
        app_owner = "appOwner",
        dataset_owner = "datasetOwner",
        workerpool_owner = "workerpoolOwner",
    );
}

/// Query string of the order book routes (`GET /{kind}orders`): every filter of every kind
/// (each kind reads its own).
///
/// Restriction filters follow iExec: given an address X, orders restricted to X or not
/// restricted (only X with the `is_*_strict` flag); omitted, only unrestricted orders; `any`,
/// no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct OrderQuery {
    /// Must be this market's chain when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// The app (app orders: the asset; others: a restriction; requests: exact), or `any`.
    #[serde(
        default,
        deserialize_with = "named::app",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub app: Option<AddressFilter>,
    /// The dataset (same rules as `app`).
    #[serde(
        default,
        deserialize_with = "named::dataset",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub dataset: Option<AddressFilter>,
    /// The workerpool (same rules as `app`).
    #[serde(
        default,
        deserialize_with = "named::workerpool",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub workerpool: Option<AddressFilter>,
    /// The requester (a restriction; requests: exact).
    #[serde(
        default,
        deserialize_with = "named::requester",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub requester: Option<AddressFilter>,
    /// The beneficiary (request orders).
    #[serde(
        default,
        deserialize_with = "named::beneficiary",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub beneficiary: Option<AddressFilter>,
    /// The app's owner, signer of app orders.
    #[serde(
        default,
        deserialize_with = "named::app_owner",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub app_owner: Option<AddressFilter>,
    /// The dataset's owner, signer of dataset orders.
    #[serde(
        default,
        deserialize_with = "named::dataset_owner",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub dataset_owner: Option<AddressFilter>,
    /// The workerpool's owner, signer of workerpool orders.
    #[serde(
        default,
        deserialize_with = "named::workerpool_owner",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub workerpool_owner: Option<AddressFilter>,
    /// Only orders restricted to exactly `app`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_app_strict: bool,
    /// Only orders restricted to exactly `dataset`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_dataset_strict: bool,
    /// Only orders restricted to exactly `workerpool`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_workerpool_strict: bool,
    /// Only orders restricted to exactly `requester`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_requester_strict: bool,
    /// Category (workerpool and request orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(maximum = 9223372036854775807_i64))]
    pub category: Option<u64>,
    /// Orders whose tag has all these bits: 0x-hex of bits 0 to 62, or names (tee, scone,
    /// gramine, tdx, gpu), comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        param(
            pattern = r"^(0x0{0,48}[0-7]?[0-9a-fA-F]{1,15}|(tee|scone|gramine|tdx|gpu)(,(tee|scone|gramine|tdx|gpu))*)$"
        )
    )]
    pub min_tag: Option<String>,
    /// Orders whose tag bits are all within these: 0x-hex (up to 64 digits), or names (tee,
    /// scone, gramine, tdx, gpu), comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        param(
            pattern = r"^(0x[0-9a-fA-F]{1,64}|(tee|scone|gramine|tdx|gpu)(,(tee|scone|gramine|tdx|gpu))*)$"
        )
    )]
    pub max_tag: Option<String>,
    /// Trust at least this (workerpool orders; applied when > 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(maximum = 9223372036854775807_i64))]
    pub min_trust: Option<u64>,
    /// Trust at most this (request orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(maximum = 9223372036854775807_i64))]
    pub max_trust: Option<u64>,
    /// Remaining volume at least this.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(maximum = 9223372036854775807_i64))]
    pub min_volume: Option<u64>,
    /// Orders per page, 10 to 1000 (default 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 10, maximum = 1000, default = 20))]
    pub page_size: Option<u64>,
    /// Page index, from 0 (pages start at most 10 000 000 items in: the document allows
    /// 10 000, which any page size keeps within).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(maximum = 10000))]
    pub page_index: Option<u64>,
}

/// Query string of `GET /deals`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct DealQuery {
    /// Must be this market's chain when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// Category.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(maximum = 9223372036854775807_i64))]
    pub category: Option<u64>,
    /// Requester.
    #[serde(
        default,
        deserialize_with = "named::requester",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub requester: Option<AddressFilter>,
    /// Beneficiary.
    #[serde(
        default,
        deserialize_with = "named::beneficiary",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub beneficiary: Option<AddressFilter>,
    /// App.
    #[serde(
        default,
        deserialize_with = "named::app",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub app: Option<AddressFilter>,
    /// Dataset.
    #[serde(
        default,
        deserialize_with = "named::dataset",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub dataset: Option<AddressFilter>,
    /// Workerpool.
    #[serde(
        default,
        deserialize_with = "named::workerpool",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub workerpool: Option<AddressFilter>,
    /// App owner.
    #[serde(
        default,
        deserialize_with = "named::app_owner",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub app_owner: Option<AddressFilter>,
    /// Dataset owner.
    #[serde(
        default,
        deserialize_with = "named::dataset_owner",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub dataset_owner: Option<AddressFilter>,
    /// Workerpool owner.
    #[serde(
        default,
        deserialize_with = "named::workerpool_owner",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^(0x[0-9a-fA-F]{40}|any)$"))]
    pub workerpool_owner: Option<AddressFilter>,
    /// Deals that used this order.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{64}$"))]
    pub order_hash: Option<B256>,
    /// Deals per page, 10 to 1000 (default 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 10, maximum = 1000, default = 20))]
    pub page_size: Option<u64>,
    /// Page index, from 0 (pages start at most 10 000 000 items in: the document allows
    /// 10 000, which any page size keeps within).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(maximum = 10000))]
    pub page_index: Option<u64>,
}

/// Query string of `GET /ohlc`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct OhlcQuery {
    /// Must be this market's chain when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// The category.
    #[cfg_attr(feature = "openapi", param(maximum = 9223372036854775807_i64))]
    pub category: u64,
    /// Candle width in seconds, 1 to a year (default 3600).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        param(minimum = 1, maximum = 31536000, default = 3600)
    )]
    pub interval: Option<u64>,
    /// First second covered, Unix time (default 0: all history).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(maximum = 9223372036854775807_i64))]
    pub since: Option<u64>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn address_filters_name_their_parameter() {
        let q: OrderQuery = serde_json::from_value(serde_json::json!({
            "app": "any",
            "requester": format!("{:#x}", Address::repeat_byte(1)),
        }))
        .unwrap();
        assert_eq!(q.app, Some(AddressFilter::Any));
        assert_eq!(
            q.requester,
            Some(AddressFilter::Only(Address::repeat_byte(1)))
        );
        let e = serde_json::from_value::<OrderQuery>(serde_json::json!({"appOwner": "nope"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`appOwner` must be an address"), "{e}");
    }
}
