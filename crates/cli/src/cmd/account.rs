//! `dexec account`: the wallet's escrow account on the hub.

use alloy::primitives::Address;
use serde_json::json;

use crate::context::Global;
use crate::json;
use crate::output::{rows, Output};

use super::{amount, tx_line};

/// Long help of `dexec account`.
pub const LONG_ABOUT: &str = "\
Move tokens between the wallet and its account on the hub, and show balances.

Requesters pay deals from their hub account (price x volume is locked at match time);
schedulers and workers lock stakes there. Only the free balance can be withdrawn: locked funds
come back as deals settle.

Amounts are `<amount> [unit]` with unit RLC or nRLC (1 RLC = 10^9 nRLC); a plain number is
nRLC, as in iExec's CLI.

Examples:
  dexec account deposit 100 RLC
  dexec account withdraw 2500000000
  dexec account show

There is no `account approve`, `allowance` or `revoke` (iExec's let another address spend from
one's hub account): dexec's hub accounts are escrow balances, not ERC-20 tokens; the hub has no
approve nor transferFrom on them (only deposit, depositFor, withdraw and withdrawTo), and the
contracts are not changed from the CLI. To pay for someone else's tasks, sign their request as
a sponsor (the hub's sponsorMatchOrders draws from the sponsor's own account). The wallet's
ERC-20 allowance to the hub is handled by `deposit`: it approves exactly what it deposits when
the allowance is short.";

/// Arguments of `dexec account`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Deposit tokens from the wallet to its hub account (approves the hub if needed).
    Deposit {
        /// Amount, e.g. `10 RLC` or `1500` (nRLC).
        #[arg(required = true, num_args = 1..=2, value_name = "AMOUNT [UNIT]")]
        amount: Vec<String>,
    },
    /// Withdraw free tokens from the hub account back to the wallet.
    Withdraw {
        /// Amount, e.g. `10 RLC` or `1500` (nRLC).
        #[arg(required = true, num_args = 1..=2, value_name = "AMOUNT [UNIT]")]
        amount: Vec<String>,
    },
    /// Show the hub account of the wallet, or of ADDRESS.
    Show {
        /// Any address [default: the selected wallet].
        address: Option<Address>,
    },
}

/// Run `dexec account`.
pub async fn run(args: Args, global: &Global) -> eyre::Result<Output> {
    match args.command {
        Command::Deposit { amount: words } => {
            let value = amount(&words)?;
            let client = global.signer().await?;
            let tx = client.deposit(value).await?;
            let account = client.account(client.address()?).await?;
            Output::new(
                json!({ "depositedNrlc": json::nrlc(value), "tx": tx, "account": json::with_units(account)? }),
                rows(&[
                    ("deposited", value.to_string()),
                    ("hub balance (free)", account.hub_balance.to_string()),
                    ("", tx_line(&tx)),
                ]),
            )
        }
        Command::Withdraw { amount: words } => {
            let value = amount(&words)?;
            let client = global.signer().await?;
            let tx = client.withdraw(value).await?;
            let account = client.account(client.address()?).await?;
            Output::new(
                json!({ "withdrawnNrlc": json::nrlc(value), "tx": tx, "account": json::with_units(account)? }),
                rows(&[
                    ("withdrawn", value.to_string()),
                    ("hub balance (free)", account.hub_balance.to_string()),
                    ("", tx_line(&tx)),
                ]),
            )
        }
        Command::Show { address } => {
            let client = global.reader().await?;
            let who = match address {
                Some(a) => a,
                None => global.wallet_address(client.chain_id())?,
            };
            let account = client.account(who).await?;
            let text = rows(&[
                ("address", who.to_string()),
                ("free", account.hub_balance.to_string()),
                ("locked", account.hub_locked.to_string()),
                ("score", account.score.to_string()),
            ]);
            Output::new(json::with_units(account)?, text)
        }
    }
}
