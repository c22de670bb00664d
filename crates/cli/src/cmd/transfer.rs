//! `dexec wallet send-ether | send-rlc | sweep`: move the wallet's own money (native currency and
//! base tokens, outside the hub) to another address.
//!
//! Every check that can refuse is made before anything is sent: a zero or unparsable amount,
//! the zero address, a balance short of the amount plus the gas.

use alloy::network::TransactionBuilder;
use alloy::primitives::utils::{format_ether, parse_units, ParseUnits};
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use dexec_sdk::primitives::Nrlc;
use dexec_sdk::{Client, TxOutcome};
use serde_json::json;

use crate::context::{confirm, Global};
use crate::exit::Fail;
use crate::json;
use crate::output::{rows, Output};

use super::{amount, tx_line};

/// Gas of a plain transfer of native currency to an account without code.
const TRANSFER_GAS: u64 = 21_000;

/// Parse `<amount> [unit]` of native currency: `wei` (a plain number), `gwei`, `ether`/`eth`.
pub fn ether_amount(words: &[String]) -> eyre::Result<U256> {
    let text = words.join(" ");
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = (text[..split].trim(), text[split..].trim().to_lowercase());
    let unit = match unit.as_str() {
        "" | "wei" => "wei",
        "gwei" => "gwei",
        "ether" | "eth" => "ether",
        other => {
            return Err(Fail::usage(format!(
                "unknown unit `{other}`: use ether (or eth), gwei or wei (a plain number is wei)"
            )))
        }
    };
    let bad = || {
        Fail::usage(format!(
            "`{text}` is not an amount: write e.g. `0.5 ether`, `1000 gwei` or `1000` (wei)"
        ))
    };
    if !number.bytes().any(|b| b.is_ascii_digit())
        || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return Err(bad());
    }
    let (decimals, smallest) = match unit {
        "ether" => (18, "0.000000000000000001 ether"),
        "gwei" => (9, "0.000000001 gwei"),
        _ => (0, "1 wei"),
    };
    // parse_units would drop the digits past the unit's precision: refuse them instead
    if number
        .split_once('.')
        .is_some_and(|(_, fraction)| fraction.trim_end_matches('0').len() > decimals)
    {
        return Err(Fail::usage(format!(
            "`{text}` is more precise than the smallest amount, {smallest}"
        )));
    }
    match parse_units(number, unit) {
        Ok(ParseUnits::U256(value)) => Ok(value),
        Ok(ParseUnits::I256(_)) => Err(bad()),
        Err(e) => Err(Fail::usage(format!("`{text}` is not an amount: {e}"))),
    }
}

/// `dexec wallet send-ether <to> <amount>`.
pub async fn send_ether(
    to: Address,
    words: &[String],
    force: bool,
    global: &Global,
) -> eyre::Result<Output> {
    let value = ether_amount(words)?;
    refuse_zero_address(to)?;
    if value.is_zero() {
        return Err(Fail::usage("the amount is zero: there is nothing to send"));
    }
    let client = global.signer().await?;
    let me = client.address()?;
    let balance = client.provider().get_balance(me).await?;
    let gas_price = U256::from(client.provider().get_gas_price().await?);
    let fee = gas_price * U256::from(TRANSFER_GAS);
    if balance < value.saturating_add(fee) {
        return Err(Fail::refused(format!(
            "{me} holds {} ETH, short of {} ETH plus about {} ETH of gas; nothing was sent",
            format_ether(balance),
            format_ether(value),
            format_ether(fee)
        )));
    }
    confirm(
        &format!("Send {} ETH from {me} to {to}?", format_ether(value)),
        force,
    )?;
    let tx = send_native(&client, to, value, None).await?;
    Output::new(
        json!({ "from": me, "to": to, "sentWei": json::wei(value), "tx": tx }),
        rows(&[
            ("sent", format!("{} ETH", format_ether(value))),
            ("from", me.to_string()),
            ("to", to.to_string()),
            ("", tx_line(&tx)),
        ]),
    )
}

/// `dexec wallet send-rlc <to> <amount>`.
pub async fn send_rlc(
    to: Address,
    words: &[String],
    force: bool,
    global: &Global,
) -> eyre::Result<Output> {
    let value = amount(words)?;
    refuse_zero_address(to)?;
    if value == Nrlc::ZERO {
        return Err(Fail::usage("the amount is zero: there is nothing to send"));
    }
    let client = global.signer().await?;
    let me = client.address()?;
    let held = token_balance(&client, me).await?;
    if held < value {
        return Err(Fail::refused(format!(
            "{me} holds {held} in its wallet, short of {value}; nothing was sent (tokens \
             deposited on the hub come back with `dexec account withdraw`)"
        )));
    }
    confirm(&format!("Send {value} from {me} to {to}?"), force)?;
    let tx = send_tokens(&client, to, value).await?;
    Output::new(
        json!({ "from": me, "to": to, "sentNrlc": json::nrlc(value), "tx": tx }),
        rows(&[
            ("sent", value.to_string()),
            ("from", me.to_string()),
            ("to", to.to_string()),
            ("", tx_line(&tx)),
        ]),
    )
}

/// `dexec wallet sweep <to>`: every token, then every wei the gas leaves.
pub async fn sweep(to: Address, force: bool, global: &Global) -> eyre::Result<Output> {
    refuse_zero_address(to)?;
    let client = global.signer().await?;
    let me = client.address()?;
    if to == me {
        return Err(Fail::usage(format!(
            "{to} is the wallet itself: sweep moves everything to another address"
        )));
    }
    let tokens = token_balance(&client, me).await?;
    let gas_price = client.provider().get_gas_price().await?;
    let token_gas = if tokens == Nrlc::ZERO {
        0
    } else {
        client
            .deployment()
            .token(client.provider())
            .transfer(to, tokens.to_u256())
            .from(me)
            .estimate_gas()
            .await
            .map_err(dexec_contracts::Error::from)?
    };
    let ether_gas = native_gas(&client, me, to).await?;
    let balance = client.provider().get_balance(me).await?;
    let token_fee = U256::from(gas_price) * U256::from(token_gas);
    if balance < token_fee {
        return Err(Fail::refused(format!(
            "{me} holds {} ETH, short of the gas of sending its tokens (about {} ETH); \
             nothing was sent",
            format_ether(balance),
            format_ether(token_fee)
        )));
    }
    let fees = token_fee + U256::from(gas_price) * U256::from(ether_gas);
    if tokens == Nrlc::ZERO && balance <= fees {
        return Err(Fail::refused(format!(
            "{me} holds no token and {} ETH, not more than the gas of a transfer; nothing was \
             sent",
            format_ether(balance)
        )));
    }
    let ether = balance.saturating_sub(fees);
    confirm(
        &format!(
            "Sweep {tokens} and {} ETH (all but the gas) from {me} to {to}?",
            format_ether(ether)
        ),
        force,
    )?;
    let mut txs = Vec::new();
    if tokens != Nrlc::ZERO {
        txs.push(send_tokens(&client, to, tokens).await?);
    }
    // what the token transfer really cost decides what is left to send
    let balance = client.provider().get_balance(me).await?;
    let ether = balance.saturating_sub(U256::from(gas_price) * U256::from(ether_gas));
    if !ether.is_zero() {
        txs.push(send_native(&client, to, ether, Some((gas_price, ether_gas))).await?);
    }
    let mut text = rows(&[
        ("swept to", to.to_string()),
        ("tokens", tokens.to_string()),
        ("ether", format!("{} ETH", format_ether(ether))),
    ]);
    for tx in &txs {
        text.push_str(&tx_line(tx));
        text.push('\n');
    }
    Output::new(
        json!({
            "from": me,
            "to": to,
            "sentNrlc": json::nrlc(tokens),
            "sentWei": json::wei(ether),
            "txs": txs,
        }),
        text,
    )
}

fn refuse_zero_address(to: Address) -> eyre::Result<()> {
    if to.is_zero() {
        return Err(Fail::usage(
            "refusing to send to the zero address: nobody could ever spend it",
        ));
    }
    Ok(())
}

async fn token_balance(client: &Client, who: Address) -> eyre::Result<Nrlc> {
    let held = client
        .deployment()
        .token(client.provider())
        .balanceOf(who)
        .call()
        .await
        .map_err(dexec_contracts::Error::from)?;
    Ok(Nrlc::try_from(held)?)
}

/// Gas of sending native currency to `to` (more than 21 000 when `to` is a contract);
/// estimated without value, which an empty wallet could not cover.
async fn native_gas(client: &Client, from: Address, to: Address) -> eyre::Result<u64> {
    let request = TransactionRequest::default().with_from(from).with_to(to);
    Ok(client.provider().estimate_gas(request).await?)
}

/// Send `value` wei to `to`; with `fixed` = (gas price, gas limit), as a legacy transaction at
/// that price (a sweep must know its fee exactly to leave nothing behind).
async fn send_native(
    client: &Client,
    to: Address,
    value: U256,
    fixed: Option<(u128, u64)>,
) -> eyre::Result<TxOutcome> {
    let mut request = TransactionRequest::default()
        .with_from(client.address()?)
        .with_to(to)
        .with_value(value);
    if let Some((gas_price, gas)) = fixed {
        request = request.with_gas_price(gas_price).with_gas_limit(gas);
    }
    let receipt = client
        .provider()
        .send_transaction(request)
        .await?
        .get_receipt()
        .await?;
    if !receipt.status() {
        return Err(eyre::eyre!(
            "transaction {} failed",
            receipt.transaction_hash
        ));
    }
    Ok(TxOutcome::from(&receipt))
}

async fn send_tokens(client: &Client, to: Address, value: Nrlc) -> eyre::Result<TxOutcome> {
    let token = client.deployment().token(client.provider());
    let receipt = dexec_contracts::tx::send(&token.transfer(to, value.to_u256())).await?;
    Ok(TxOutcome::from(&receipt))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(s: &str) -> eyre::Result<U256> {
        ether_amount(&s.split(' ').map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn ether_amounts_take_units() {
        assert_eq!(parse("1 ether").unwrap(), U256::from(10u64.pow(18)));
        assert_eq!(parse("0.5 ETH").unwrap(), U256::from(5 * 10u64.pow(17)));
        assert_eq!(parse("3 gwei").unwrap(), U256::from(3_000_000_000u64));
        assert_eq!(parse("42").unwrap(), U256::from(42));
        assert_eq!(parse("42 wei").unwrap(), U256::from(42));
        for bad in ["-1 ether", "1 rlc", "ether", "1.5 wei", "1e3", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
