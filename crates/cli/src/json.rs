//! One number format in `--json` output: the rule ([`RULE`], printed in the CLI reference's
//! preamble) and the helpers every command builds its JSON with.
//!
//! Amounts a command computes itself go through [`nrlc`] and [`wei`] under a key that ends with
//! the unit (`"depositedNrlc"`). The SDK's types name their amounts without a unit and
//! serialize them as they come (`u128` as a JSON number, `U256` as 0x-hex), so their JSON goes
//! through [`with_units`], which renames each amount field it knows ([`SDK_AMOUNTS`]) and
//! writes its value as a decimal string.

use alloy::primitives::U256;
use serde::Serialize;
use serde_json::{Map, Value};

/// The rule, as the CLI reference states it.
pub const RULE: &str = "\
Numbers in --json output follow one rule:
  - token amounts are decimal strings of the smallest unit, and the key names the unit:
    \"hubBalanceNrlc\": \"2500000000\" (nRLC, 1 RLC = 10^9 nRLC), \"nativeWei\": \"10000\"
    (wei of the chain's native currency);
  - ids, hashes, addresses, tags, signatures and bytes are 0x-prefixed hex strings;
  - block numbers, gas, unix timestamps, indexes, counts, trust levels, category ids, ratios
    and chain ids are JSON numbers (all below 2^53);
  - other uint256 quantities (an order's volume, consumed and remaining) are decimal strings.
Order documents (the EIP-712 orders under \"order\", as `order sign` and the market give them)
keep their on-wire form, iExec's field names and uint256 values as written in orders.json:
they are what is signed, so the CLI does not rewrite them.";

/// Amount fields of the SDK's types (by their JSON key) and the key they are printed under.
pub const SDK_AMOUNTS: &[(&str, &str)] = &[
    // AccountInfo
    ("hubBalance", "hubBalanceNrlc"),
    ("hubLocked", "hubLockedNrlc"),
    ("tokenBalance", "tokenBalanceNrlc"),
    ("nativeWei", "nativeWei"),
    // Deal (primitives) and DealView (market)
    ("appPrice", "appPriceNrlc"),
    ("datasetPrice", "datasetPriceNrlc"),
    ("workerpoolPrice", "workerpoolPriceNrlc"),
    ("workerStake", "workerStakeNrlc"),
    // MatchPlan, Matched
    ("pricePerTask", "pricePerTaskNrlc"),
    ("totalCost", "totalCostNrlc"),
    ("schedulerStake", "schedulerStakeNrlc"),
];

/// An amount of base token (nRLC) as the rule writes it: a decimal string.
pub fn nrlc(amount: impl Into<U256>) -> Value {
    Value::String(amount.into().to_string())
}

/// An amount of native currency (wei) as the rule writes it: a decimal string.
pub fn wei(amount: U256) -> Value {
    Value::String(amount.to_string())
}

/// `value` serialized, each amount field of [`SDK_AMOUNTS`] renamed with its unit and written
/// as a decimal string, at any depth except inside order documents (keys `order`).
pub fn with_units(value: impl Serialize) -> eyre::Result<Value> {
    let mut value = serde_json::to_value(value)?;
    rename_amounts(&mut value);
    Ok(value)
}

fn rename_amounts(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let old = std::mem::take(map);
            let mut renamed = Map::with_capacity(old.len());
            for (key, mut inner) in old {
                if key == "order" {
                    renamed.insert(key, inner);
                    continue;
                }
                match SDK_AMOUNTS.iter().find(|(from, _)| *from == key) {
                    Some((_, to)) => {
                        renamed.insert((*to).to_owned(), decimal(&inner).unwrap_or(inner));
                    }
                    None => {
                        rename_amounts(&mut inner);
                        renamed.insert(key, inner);
                    }
                }
            }
            *map = renamed;
        }
        Value::Array(items) => items.iter_mut().for_each(rename_amounts),
        _ => {}
    }
}

/// An integer written as a JSON number, a decimal string or 0x-hex, as a decimal string.
fn decimal(value: &Value) -> Option<Value> {
    let n: U256 = match value {
        Value::Number(n) => n.to_string().parse().ok()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    Some(Value::String(n.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn sdk_amounts_get_their_unit_and_a_decimal_string() {
        let value = with_units(json!({
            "hubBalance": "5",
            "nativeWei": "0x16345785d8a0000",
            "deal": { "appPrice": 2_000_000_000u64, "trust": 1, "tag": "0x00" },
            "matches": [{ "totalCost": 9 }],
            "order": { "appPrice": "0x10" },
        }))
        .unwrap();
        assert_eq!(
            value,
            json!({
                "hubBalanceNrlc": "5",
                "nativeWei": "100000000000000000",
                "deal": { "appPriceNrlc": "2000000000", "trust": 1, "tag": "0x00" },
                "matches": [{ "totalCostNrlc": "9" }],
                "order": { "appPrice": "0x10" },
            })
        );
        assert_eq!(nrlc(dexec_sdk::primitives::Nrlc(7)), json!("7"));
        assert_eq!(wei(U256::from(10u8)), json!("10"));
    }
}
