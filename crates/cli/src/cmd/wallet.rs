//! `dexec wallet`: create, import, list and show wallets (Web3 Secret Storage keystores).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use alloy::primitives::{utils::format_ether, Address};
use dexec_sdk::wallet;
use eyre::WrapErr;
use serde_json::json;

use crate::context::Global;
use crate::exit::Fail;
use crate::output::{rows, table, Output};

/// Long help of `dexec wallet`.
pub const LONG_ABOUT: &str = "\
Create, import and inspect wallets, and send ether and tokens from them.

Wallets are Web3 Secret Storage (v3) keystore files, the format geth, foundry (`cast wallet`)
and MetaMask exports use, kept in a keystore directory (default ~/.ethereum/keystore, like geth
and iExec; --keystore-dir or DEXEC_KEYSTORE_DIR to change it). Files are written owner-only,
named like geth's (UTC--<time>--<address>), and never overwritten.

The password comes from --password-file, else the DEXEC_WALLET_PASSWORD environment variable,
else a prompt on the terminal. It is never printed nor logged, and there is no --password option
(it would show in the process list and shell history).

Other commands use the keystore's only wallet, or the one chosen with --wallet-address or
--wallet-file. On a local devnet, --dev-account N uses anvil's public test account N instead.

Examples:
  dexec wallet create
  dexec wallet import --keystore ~/.foundry/keystores/alice    # a cast wallet
  dexec wallet import 0xac09…ff80                              # a raw private key
  dexec wallet show
  dexec wallet send-rlc 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 10 RLC
  dexec wallet send-ether 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 0.1 ether
  dexec wallet sweep 0x70997970C51812dc3A010C7d01b50e0d17dc79C8

send-ether, send-rlc and sweep ask for confirmation on a terminal; --force sends without
asking (required when stdin is not a terminal).";

/// Arguments of `dexec wallet`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create a new random wallet, encrypted in the keystore directory (scrypt with geth's
    /// standard parameters, n = 2^18: about a second to open; --light for n = 2^12).
    Create {
        /// geth's light scrypt parameters (n = 2^12, p = 6): opens in milliseconds, far
        /// cheaper to brute-force; for test wallets and small machines.
        #[arg(long)]
        light: bool,
    },
    /// Import a private key or another tool's keystore file into the keystore directory.
    ///
    /// Without arguments, the private key is read from the terminal (hidden) or from stdin.
    Import {
        /// Private key as 64 hex digits (prefer stdin or --keystore: arguments end up in the
        /// shell history).
        private_key: Option<String>,
        /// A keystore file (geth, `cast wallet new` or `cast wallet import`, MetaMask export)
        /// to import; it is decrypted with the wallet password and re-saved, the original is
        /// left untouched.
        #[arg(long, value_name = "FILE", conflicts_with = "private_key")]
        keystore: Option<PathBuf>,
        /// geth's light scrypt parameters for the saved keystore (see `wallet create`).
        #[arg(long)]
        light: bool,
    },
    /// Show a wallet's address and balances (the selected wallet, or ADDRESS).
    Show {
        /// Any address [default: the selected wallet].
        address: Option<Address>,
    },
    /// List the keystores in the keystore directory.
    List,
    /// Send native currency (gas money) from the wallet to another address.
    ///
    /// AMOUNT is `<amount> [unit]` with unit ether (or eth), gwei or wei; a plain number is
    /// wei, as in iExec's CLI. Refused before sending when it is zero or the wallet cannot pay
    /// it plus the gas.
    SendEther {
        /// Who receives it.
        to: Address,
        /// Amount, e.g. `0.1 ether`, `1000 gwei` or `1000` (wei).
        #[arg(required = true, num_args = 1..=2, value_name = "AMOUNT [UNIT]")]
        amount: Vec<String>,
        /// Do not ask for confirmation before sending.
        #[arg(long)]
        force: bool,
    },
    /// Send base tokens held by the wallet (not those deposited on the hub) to another
    /// address.
    ///
    /// AMOUNT is `<amount> [unit]` with unit RLC or nRLC (1 RLC = 10^9 nRLC); a plain number
    /// is nRLC, as in iExec's CLI. Refused before sending when it is zero or more than the
    /// wallet holds.
    #[command(name = "send-rlc", alias = "send-RLC")]
    SendRlc {
        /// Who receives them.
        to: Address,
        /// Amount, e.g. `10 RLC` or `1500` (nRLC).
        #[arg(required = true, num_args = 1..=2, value_name = "AMOUNT [UNIT]")]
        amount: Vec<String>,
        /// Do not ask for confirmation before sending.
        #[arg(long)]
        force: bool,
    },
    /// Empty the wallet into another address: all its base tokens, then all its native
    /// currency but the gas of that last transfer (the hub account is left alone: withdraw
    /// first with `dexec account withdraw`).
    Sweep {
        /// Who receives everything.
        to: Address,
        /// Do not ask for confirmation before sending.
        #[arg(long)]
        force: bool,
    },
}

/// Run `dexec wallet`.
pub async fn run(args: Args, global: &Global) -> eyre::Result<Output> {
    match args.command {
        Command::Create { light } => {
            let dir = global.keystore_dir();
            let password = global.password("Password for the new wallet: ", true)?;
            let (signer, path) = wallet::create(&dir, password.as_bytes(), kdf(light))?;
            saved("created", signer.address(), &path)
        }
        Command::Import {
            private_key,
            keystore,
            light,
        } => {
            let dir = global.keystore_dir();
            let (signer, path) = match keystore {
                Some(file) => {
                    let password =
                        global.password(&format!("Password of {}: ", file.display()), false)?;
                    wallet::import_keystore(&dir, &file, password.as_bytes(), kdf(light))?
                }
                None => {
                    let key = match private_key {
                        Some(key) => key,
                        None => read_secret("Private key: ")?,
                    };
                    // check the key before asking for a password
                    wallet::parse_private_key(&key)?;
                    let password = global.password("Password for the wallet: ", true)?;
                    wallet::import_key(&dir, &key, password.as_bytes(), kdf(light))?
                }
            };
            saved("imported", signer.address(), &path)
        }
        Command::Show { address } => show(address, global).await,
        Command::SendEther { to, amount, force } => {
            super::transfer::send_ether(to, &amount, force, global).await
        }
        Command::SendRlc { to, amount, force } => {
            super::transfer::send_rlc(to, &amount, force, global).await
        }
        Command::Sweep { to, force } => super::transfer::sweep(to, force, global).await,
        Command::List => {
            let dir = global.keystore_dir();
            let entries = wallet::list(&dir)?;
            let body: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.address.map_or("(not stated)".into(), |a| a.to_string()),
                        e.path.display().to_string(),
                    ]
                })
                .collect();
            let text = if entries.is_empty() {
                format!("no wallet in {}", dir.display())
            } else {
                table(&["ADDRESS", "FILE"], &body)
            };
            let json = json!({
                "keystoreDir": dir,
                "wallets": entries.iter().map(|e| json!({"address": e.address, "file": e.path})).collect::<Vec<_>>(),
            });
            Output::new(json, text)
        }
    }
}

fn saved(what: &str, address: Address, path: &std::path::Path) -> eyre::Result<Output> {
    Output::new(
        json!({ "address": address, "file": path }),
        rows(&[
            (format!("wallet {what}"), address.to_string()),
            ("keystore".into(), path.display().to_string()),
        ]),
    )
}

async fn show(address: Option<Address>, global: &Global) -> eyre::Result<Output> {
    let client = global.reader().await?;
    let who = match address {
        Some(a) => a,
        None => global.wallet_address(client.chain_id())?,
    };
    let account = client.account(who).await?;
    let text = rows(&[
        ("address", who.to_string()),
        (
            "native balance",
            format!("{} ETH", format_ether(account.native_wei)),
        ),
        ("token balance", account.token_balance.to_string()),
        ("hub balance (free)", account.hub_balance.to_string()),
        ("hub balance (locked)", account.hub_locked.to_string()),
    ]);
    Output::new(crate::json::with_units(account)?, text)
}

/// Read a secret line from the terminal (hidden) or stdin.
fn read_secret(prompt: &str) -> eyre::Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt).wrap_err("cannot read from the terminal");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .wrap_err("cannot read stdin")?;
    let line = line.trim().to_owned();
    if line.is_empty() {
        return Err(Fail::usage(
            "no private key: give it as an argument, on stdin, or use --keystore FILE",
        ));
    }
    Ok(line)
}

fn kdf(light: bool) -> wallet::Kdf {
    if light {
        wallet::Kdf::Light
    } else {
        wallet::Kdf::Standard
    }
}
