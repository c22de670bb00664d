//! Options shared by every command (chain, wallet, output) and what they resolve to.

use std::io::IsTerminal;
use std::path::PathBuf;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use dexec_sdk::market::MarketClient;
use dexec_sdk::{ChainEntry, Client};
use dexec_service::{ChainArgs, LogArgs, WalletArgs};
use eyre::eyre;

use crate::exit::Fail;

/// Options every command accepts: output, chain, wallet, market and logging. The chain,
/// wallet and logging groups are `dexec-service`'s, so they read the same flags and
/// environment variables as the services.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Print the result as JSON on stdout (errors too: {"ok": false, "error": "..."}; numbers:
    /// see "JSON output").
    #[arg(long, global = true)]
    pub json: bool,
    // chain.json, chain name, JSON-RPC override
    #[command(flatten)]
    pub chain: ChainArgs,
    // keystore, dev account, password file
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// URL of the market (order book API) [default: the chain's `market` in chain.json,
    /// which `dexec devnet` sets].
    #[arg(long, global = true, env = "DEXEC_MARKET_URL", value_name = "URL")]
    pub market: Option<String>,
    // --log-format, --log
    #[command(flatten)]
    pub log: LogArgs,
}

impl Global {
    /// The chain.json in use.
    pub fn chain_file_path(&self) -> PathBuf {
        self.chain.file_path()
    }

    /// The chain entry in use and its name (`--rpc-url` applied).
    pub fn chain_entry(&self) -> eyre::Result<(String, ChainEntry)> {
        self.chain.entry().map_err(|e| Fail::usage(e.to_string()))
    }

    /// The store client for `url`, silent for at most --rpc-timeout-secs.
    pub fn store(&self, url: &str) -> eyre::Result<dexec_sdk::store::StoreClient> {
        Ok(dexec_sdk::store::StoreClient::with_silence_limit(
            url,
            self.chain.rpc_timeout(),
        )?)
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
        Ok(MarketClient::with_timeout(
            &url,
            client.chain_id(),
            self.chain.rpc_timeout(),
        )?)
    }

    /// The keystore directory in use.
    pub fn keystore_dir(&self) -> PathBuf {
        self.wallet.keystore_dir()
    }

    /// A client without wallet.
    pub async fn reader(&self) -> eyre::Result<Client> {
        let (_, entry) = self.chain_entry()?;
        Ok(Client::connect_with_timeout(&entry, None, self.chain.rpc_timeout()).await?)
    }

    /// A client signing with the selected wallet.
    pub async fn signer(&self) -> eyre::Result<Client> {
        let (_, entry) = self.chain_entry()?;
        let chain_id = entry.chain_id().unwrap_or_default();
        let signer = self.load_wallet(chain_id)?;
        Ok(Client::connect_with_timeout(&entry, Some(signer), self.chain.rpc_timeout()).await?)
    }

    /// The selected wallet's address, without decrypting when the keystore states it.
    pub fn wallet_address(&self, chain_id: u64) -> eyre::Result<Address> {
        self.wallet
            .address(chain_id)
            .map_err(|e| Fail::usage(e.to_string()))
    }

    /// Decrypt the selected wallet (or derive the dev account).
    pub fn load_wallet(&self, chain_id: u64) -> eyre::Result<PrivateKeySigner> {
        self.wallet
            .signer(chain_id)
            .map_err(|e| Fail::usage(e.to_string()))
    }

    /// The wallet password: --password-file, else $DEXEC_WALLET_PASSWORD, else a prompt on
    /// the terminal (twice when `confirm`). Never echoed nor logged.
    pub fn password(&self, prompt: &str, confirm: bool) -> eyre::Result<String> {
        self.wallet
            .password(prompt, confirm)
            .map_err(|e| Fail::usage(e.to_string()))
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
