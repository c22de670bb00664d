//! Options shared by every command (chain, wallet, output) and what they resolve to.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use dexec_market::MarketClient;
use dexec_sdk::wallet;
use dexec_sdk::{ChainEntry, ChainFile, Client};
use eyre::{eyre, WrapErr};

use crate::exit::Fail;

/// Environment variable holding the wallet password (never put it on the command line).
pub const PASSWORD_ENV: &str = "DEXEC_WALLET_PASSWORD";

/// Options every command accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Print the result as JSON on stdout (errors too: {"ok": false, "error": "..."}).
    #[arg(long, global = true)]
    pub json: bool,
    /// chain.json to read [default: ./chain.json, else ./.dexec/chain.json written by
    /// `dexec devnet`].
    #[arg(long, global = true, env = "DEXEC_CHAIN_FILE", value_name = "FILE")]
    pub chain_file: Option<PathBuf>,
    /// Chain of chain.json to use [default: its "default"].
    #[arg(long, global = true, env = "DEXEC_CHAIN", value_name = "NAME")]
    pub chain: Option<String>,
    /// Keystore file of the wallet to use.
    #[arg(long, global = true, env = "DEXEC_WALLET_FILE", value_name = "FILE")]
    pub wallet_file: Option<PathBuf>,
    /// Address of the wallet to use, looked up in the keystore directory.
    #[arg(
        long,
        global = true,
        env = "DEXEC_WALLET_ADDRESS",
        value_name = "ADDRESS"
    )]
    pub wallet_address: Option<Address>,
    /// Directory of keystores [default: ~/.ethereum/keystore, as geth and iExec].
    #[arg(long, global = true, env = "DEXEC_KEYSTORE_DIR", value_name = "DIR")]
    pub keystore_dir: Option<PathBuf>,
    /// File whose first line is the wallet password [default: $DEXEC_WALLET_PASSWORD, else a
    /// prompt].
    #[arg(long, global = true, env = "DEXEC_PASSWORD_FILE", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// URL of the market (order book API) [default: the chain's `market` in chain.json,
    /// which `dexec devnet` sets].
    #[arg(long, global = true, env = "DEXEC_MARKET_URL", value_name = "URL")]
    pub market: Option<String>,
    /// Use dev account N of a local devnet (anvil's public test keys; refused on other chains).
    #[arg(long, global = true, env = "DEXEC_DEV_ACCOUNT", value_name = "N")]
    pub dev_account: Option<u32>,
}

impl Global {
    /// The chain.json in use.
    pub fn chain_file_path(&self) -> PathBuf {
        if let Some(path) = &self.chain_file {
            return path.clone();
        }
        let local = PathBuf::from("chain.json");
        if local.is_file() {
            return local;
        }
        PathBuf::from(".dexec").join("chain.json")
    }

    /// The chain entry in use and its name.
    pub fn chain_entry(&self) -> eyre::Result<(String, ChainEntry)> {
        let path = self.chain_file_path();
        if !path.is_file() {
            return Err(Fail::usage(format!(
                "no chain configuration at {}: start a local chain with `dexec devnet`, or \
                 point --chain-file at a chain.json",
                path.display()
            )));
        }
        ChainFile::load_entry(&path, self.chain.as_deref()).map_err(|e| Fail::usage(e.to_string()))
    }

    /// A client of the market of `client`'s chain: --market, else chain.json's `market`.
    pub fn market(&self, client: &Client) -> eyre::Result<MarketClient> {
        let url = match &self.market {
            Some(url) => url.clone(),
            None => self.chain_entry()?.1.market.ok_or_else(|| {
                Fail::usage(format!(
                    "no market is configured for this chain: pass --market <URL> (or set \
                     DEXEC_MARKET_URL), or add \"market\": \"<URL>\" to its entry in {}",
                    self.chain_file_path().display()
                ))
            })?,
        };
        Ok(MarketClient::new(&url, client.chain_id())?)
    }

    /// The keystore directory in use.
    pub fn keystore_dir(&self) -> PathBuf {
        self.keystore_dir
            .clone()
            .unwrap_or_else(wallet::default_keystore_dir)
    }

    /// A client without wallet.
    pub async fn reader(&self) -> eyre::Result<Client> {
        let (_, entry) = self.chain_entry()?;
        Ok(Client::connect(&entry, None).await?)
    }

    /// A client signing with the selected wallet.
    pub async fn signer(&self) -> eyre::Result<Client> {
        let (_, entry) = self.chain_entry()?;
        let chain_id = entry.chain_id().unwrap_or_default();
        let signer = self.load_wallet(chain_id)?;
        Ok(Client::connect(&entry, Some(signer)).await?)
    }

    /// The selected wallet's address, without decrypting when the keystore states it.
    pub fn wallet_address(&self, chain_id: u64) -> eyre::Result<Address> {
        if let Some(index) = self.dev_account {
            return Ok(wallet::dev_account(index, chain_id)?.address());
        }
        if let Some(address) = self.wallet_address {
            return Ok(address);
        }
        let path = self.keystore_path()?;
        let stated = wallet::list(path.parent().unwrap_or(Path::new(".")))?
            .into_iter()
            .find(|entry| entry.path == path)
            .and_then(|entry| entry.address);
        match stated {
            Some(address) => Ok(address),
            None => Ok(self.load_wallet(chain_id)?.address()),
        }
    }

    /// The keystore file selected by the options.
    fn keystore_path(&self) -> eyre::Result<PathBuf> {
        if let Some(path) = &self.wallet_file {
            return Ok(path.clone());
        }
        let dir = self.keystore_dir();
        Ok(match self.wallet_address {
            Some(address) => wallet::find(&dir, address)?,
            None => wallet::only(&dir)?,
        })
    }

    /// Decrypt the selected wallet (or derive the dev account).
    pub fn load_wallet(&self, chain_id: u64) -> eyre::Result<PrivateKeySigner> {
        if let Some(index) = self.dev_account {
            return Ok(wallet::dev_account(index, chain_id)?);
        }
        let path = self.keystore_path()?;
        let password = self.password(&format!("Password of {}: ", path.display()), false)?;
        Ok(wallet::open(&path, password.as_bytes())?)
    }

    /// The wallet password: --password-file, else $DEXEC_WALLET_PASSWORD, else a prompt on
    /// the terminal (twice when `confirm`). Never echoed nor logged.
    pub fn password(&self, prompt: &str, confirm: bool) -> eyre::Result<String> {
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("cannot read password file {}", path.display()))?;
            return Ok(text.lines().next().unwrap_or_default().to_owned());
        }
        if let Ok(password) = std::env::var(PASSWORD_ENV) {
            return Ok(password);
        }
        if !std::io::stdin().is_terminal() {
            return Err(Fail::usage(format!(
                "a wallet password is needed: set {PASSWORD_ENV}, pass --password-file, or run \
                 in a terminal to be prompted"
            )));
        }
        let password = rpassword::prompt_password(prompt).wrap_err("cannot read the password")?;
        if confirm {
            let again = rpassword::prompt_password("Repeat the password: ")
                .wrap_err("cannot read the password")?;
            if again != password {
                return Err(Fail::usage("the two passwords differ; nothing was written"));
            }
        }
        Ok(password)
    }
}

/// Ask `question` on the terminal unless `force`; refuse without a terminal.
pub fn confirm(question: &str, force: bool) -> eyre::Result<()> {
    if force {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Fail::aborted(format!(
            "{question} Not confirmed: re-run with --force to proceed without a prompt"
        )));
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| eyre!("cannot read the answer: {e}"))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(Fail::aborted("cancelled; nothing was sent"))
    }
}
