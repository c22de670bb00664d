//! One module per command of `dexec`, following iExec's command tree: the user commands, and
//! `devnet`, `demo` and `bench` (the services it serves are their crates' own `Args` and `run`).

/// Call the generic async function `$f::<T>(args…)` for the order type `T` of the
/// [`OrderKind`](dexec_sdk::OrderKind) `$kind`, and await it.
macro_rules! by_kind {
    ($kind:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $kind {
            dexec_sdk::OrderKind::App => $f::<dexec_sdk::primitives::AppOrder>($($arg),*).await,
            dexec_sdk::OrderKind::Dataset => {
                $f::<dexec_sdk::primitives::DatasetOrder>($($arg),*).await
            }
            dexec_sdk::OrderKind::Workerpool => {
                $f::<dexec_sdk::primitives::WorkerpoolOrder>($($arg),*).await
            }
            dexec_sdk::OrderKind::Request => {
                $f::<dexec_sdk::primitives::RequestOrder>($($arg),*).await
            }
        }
    };
}

pub mod account;
pub mod asset;
pub mod bench;
pub mod category;
pub mod container;
pub mod deal;
pub mod debug;
pub mod demo;
pub mod devnet;
pub mod info;
pub mod init;
pub mod oracle;
pub mod order;
pub mod orderbook;
pub mod result;
pub mod run;
pub mod service;
pub mod storage;
pub mod task;
pub mod transfer;
pub mod wallet;

use dexec_sdk::primitives::Nrlc;
use dexec_sdk::TxOutcome;

use crate::exit::Fail;

/// Parse `<amount> [unit]` given as one or two words (`10`, `10 RLC`, `1.5RLC`, `500 nRLC`).
pub fn amount(words: &[String]) -> eyre::Result<Nrlc> {
    words
        .join(" ")
        .parse::<Nrlc>()
        .map_err(|e| Fail::usage(e.to_string()))
}

/// "tx 0x… (block n, gas g)".
pub fn tx_line(tx: &TxOutcome) -> String {
    format!(
        "tx {} (block {}, gas {})",
        tx.tx_hash, tx.block, tx.gas_used
    )
}
