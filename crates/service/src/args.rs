//! The flag groups every service and the CLI flatten (`#[command(flatten)]`): defined once, so
//! the same flag reads the same environment variable and follows the same rule everywhere.
//!
//! A service that needs its own default or environment variable for a shared flag (the market
//! and the scheduler each have their own database and listen address) sets it with clap's
//! `mut_arg` on its command, e.g.
//! `#[command(mut_arg("db", |a| a.env("DEXEC_MARKET_DB").default_value("sqlite://.dexec/market.db")))]`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use dexec_sdk::wallet;
use dexec_sdk::{ChainEntry, ChainFile};

/// Environment variable holding the wallet password (never put it on the command line).
pub const PASSWORD_ENV: &str = "DEXEC_WALLET_PASSWORD";

/// A flag group's value could not be used; the sentence says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// No chain.json where the flags point.
    #[error(
        "no chain configuration at {0}: start a local chain with `dexec devnet`, or point \
         --chain-file at a chain.json"
    )]
    NoChainFile(PathBuf),
    /// chain.json unreadable or without the chain asked for.
    #[error(transparent)]
    ChainFile(#[from] dexec_sdk::ChainFileError),
    /// No wallet chosen, or the chosen one cannot be opened.
    #[error("{0}")]
    Wallet(String),
    /// A database URL that is neither SQLite nor PostgreSQL.
    #[error("--db `{0}` must be a sqlite:// or postgres:// URL")]
    DbUrl(String),
}

/// Which chain, from which chain.json, through which JSON-RPC node.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ChainArgs {
    /// chain.json to read [default: ./chain.json, else ./.dexec/chain.json written by
    /// `dexec devnet`].
    #[arg(long, global = true, env = "DEXEC_CHAIN_FILE", value_name = "FILE")]
    pub chain_file: Option<PathBuf>,
    /// Chain of chain.json to use [default: its "default"].
    #[arg(long, global = true, env = "DEXEC_CHAIN", value_name = "NAME")]
    pub chain: Option<String>,
    /// JSON-RPC URL overriding the chain's `host` in chain.json.
    #[arg(long, global = true, env = "DEXEC_RPC_URL", value_name = "URL")]
    pub rpc_url: Option<String>,
    /// How long one request may wait for an answer, seconds: a JSON-RPC request to the
    /// chain's node, and in the CLI a request to the market or the store (which may take
    /// longer while bytes flow); a peer that accepts the connection and never answers then
    /// fails the command with a sentence instead of holding it [default: 30].
    #[arg(long, global = true, env = "DEXEC_RPC_TIMEOUT_SECS", value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub rpc_timeout_secs: Option<u64>,
}

impl ChainArgs {
    /// The chain.json in use: `--chain-file`, else `./chain.json` if it exists (an iExec
    /// project), else `./.dexec/chain.json` (what `dexec devnet` writes).
    pub fn file_path(&self) -> PathBuf {
        if let Some(path) = &self.chain_file {
            return path.clone();
        }
        let local = PathBuf::from("chain.json");
        if local.is_file() {
            return local;
        }
        PathBuf::from(".dexec").join("chain.json")
    }

    /// The JSON-RPC request timeout: `--rpc-timeout-secs`, else
    /// [`dexec_contracts::tx::DEFAULT_RPC_TIMEOUT`].
    pub fn rpc_timeout(&self) -> std::time::Duration {
        self.rpc_timeout_secs
            .map(std::time::Duration::from_secs)
            .unwrap_or(dexec_sdk::DEFAULT_RPC_TIMEOUT)
    }

    /// The chain in use, its name, and its entry with `--rpc-url` applied.
    pub fn entry(&self) -> Result<(String, ChainEntry), ArgsError> {
        let path = self.file_path();
        if !path.is_file() {
            return Err(ArgsError::NoChainFile(path));
        }
        let (name, mut entry) = ChainFile::load_entry(&path, self.chain.as_deref())?;
        if let Some(url) = &self.rpc_url {
            entry.host = url.clone();
        }
        Ok((name, entry))
    }
}

/// Which wallet signs: a keystore (by file or by address in a keystore directory) or, on a
/// devnet, one of anvil's well-known accounts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WalletArgs {
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
    /// Use dev account N of a local devnet (anvil's public test keys; refused on other chains).
    #[arg(long, global = true, env = "DEXEC_DEV_ACCOUNT", value_name = "N")]
    pub dev_account: Option<u32>,
}

impl WalletArgs {
    /// Whether any wallet was chosen.
    pub fn is_set(&self) -> bool {
        self.dev_account.is_some() || self.wallet_file.is_some() || self.wallet_address.is_some()
    }

    /// The keystore directory in use.
    pub fn keystore_dir(&self) -> PathBuf {
        self.keystore_dir
            .clone()
            .unwrap_or_else(wallet::default_keystore_dir)
    }

    /// The keystore file chosen: `--wallet-file`, else the one of `--wallet-address` in the
    /// keystore directory, else the directory's only keystore.
    pub fn keystore_path(&self) -> Result<PathBuf, ArgsError> {
        if let Some(path) = &self.wallet_file {
            return Ok(path.clone());
        }
        let dir = self.keystore_dir();
        match self.wallet_address {
            Some(address) => wallet::find(&dir, address),
            None => wallet::only(&dir),
        }
        .map_err(|e| ArgsError::Wallet(e.to_string()))
    }

    /// The chosen wallet's address, without decrypting when the keystore states it.
    pub fn address(&self, chain_id: u64) -> Result<Address, ArgsError> {
        if let Some(index) = self.dev_account {
            return wallet::dev_account(index, chain_id)
                .map(|s| s.address())
                .map_err(|e| ArgsError::Wallet(e.to_string()));
        }
        if let Some(address) = self.wallet_address {
            return Ok(address);
        }
        let path = self.keystore_path()?;
        let stated = wallet::list(path.parent().unwrap_or(Path::new(".")))
            .map_err(|e| ArgsError::Wallet(e.to_string()))?
            .into_iter()
            .find(|entry| entry.path == path)
            .and_then(|entry| entry.address);
        match stated {
            Some(address) => Ok(address),
            None => Ok(self.signer(chain_id)?.address()),
        }
    }

    /// Decrypt the chosen wallet (or derive the dev account). The password comes from
    /// [`password`](Self::password) without confirmation.
    pub fn signer(&self, chain_id: u64) -> Result<PrivateKeySigner, ArgsError> {
        if let Some(index) = self.dev_account {
            return wallet::dev_account(index, chain_id)
                .map_err(|e| ArgsError::Wallet(e.to_string()));
        }
        let path = self.keystore_path()?;
        let password = self.password(&format!("Password of {}: ", path.display()), false)?;
        wallet::open(&path, password.as_bytes()).map_err(|e| ArgsError::Wallet(e.to_string()))
    }

    /// A service's signing key: like [`signer`](Self::signer), but a service never guesses
    /// (no "only keystore of the directory"): without `--wallet-file`, `--wallet-address` or
    /// `--dev-account` it refuses with a sentence naming `role`.
    pub fn service_signer(&self, chain_id: u64, role: &str) -> Result<PrivateKeySigner, ArgsError> {
        if !self.is_set() {
            return Err(ArgsError::Wallet(format!(
                "{role} needs a wallet: pass --wallet-file (or --wallet-address) or --dev-account"
            )));
        }
        self.signer(chain_id)
    }

    /// The wallet password: `--password-file`, else `$DEXEC_WALLET_PASSWORD`, else a prompt on
    /// the terminal (twice when `confirm`). Never echoed nor logged.
    pub fn password(&self, prompt: &str, confirm: bool) -> Result<String, ArgsError> {
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ArgsError::Wallet(format!("cannot read password file {}: {e}", path.display()))
            })?;
            return Ok(text.lines().next().unwrap_or_default().to_owned());
        }
        if let Ok(password) = std::env::var(PASSWORD_ENV) {
            return Ok(password);
        }
        if !std::io::stdin().is_terminal() {
            return Err(ArgsError::Wallet(format!(
                "a wallet password is needed: set {PASSWORD_ENV}, pass --password-file, or run \
                 in a terminal to be prompted"
            )));
        }
        let read = |prompt: &str| {
            rpassword::prompt_password(prompt)
                .map_err(|e| ArgsError::Wallet(format!("cannot read the password: {e}")))
        };
        let password = read(prompt)?;
        if confirm && read("Repeat the password: ")? != password {
            return Err(ArgsError::Wallet(
                "the two passwords differ; nothing was written".into(),
            ));
        }
        Ok(password)
    }
}

/// Where a service keeps its state. Each service sets its own default and environment
/// variable with `mut_arg("db", ...)`.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Database URL: `sqlite://<file>` (created if missing), `sqlite::memory:` or
    /// `postgres://user:password@host/db`.
    // not `required`: clap does not count a default as given, and each service sets one
    #[arg(long = "db", value_name = "URL", required = false)]
    pub db: String,
}

impl DbArgs {
    /// The validated URL.
    #[cfg(feature = "db")]
    pub fn url(&self) -> Result<crate::DbUrl, ArgsError> {
        crate::DbUrl::parse(&self.db)
    }
}

/// Where a service listens. Each service sets its own default and environment variable with
/// `mut_arg("listen", ...)`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListenArgs {
    /// Address to listen on (port 0 picks a free port).
    // not `required`: clap does not count a default as given, and each service sets one
    #[arg(long, value_name = "ADDRESS", required = false)]
    pub listen: SocketAddr,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

/// Logging flags (stderr; the filter is `RUST_LOG` syntax).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(
        long,
        global = true,
        env = "DEXEC_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `warn,market=debug` [default: $RUST_LOG, else info for
    /// dexec's services and warn for the rest].
    #[arg(long, global = true, env = "DEXEC_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Append logs to FILE instead of writing them to stderr (each background service its
    /// own file, so their lines do not interleave in one terminal).
    #[arg(long, global = true, env = "DEXEC_LOG_FILE", value_name = "FILE")]
    pub log_file: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    #[command(mut_arg("db", |a| a.env("DEXEC_TEST_ONLY_DB").default_value("sqlite://x.db")))]
    #[command(mut_arg("listen", |a| a.default_value("127.0.0.1:9")))]
    struct Service {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(flatten)]
        wallet: WalletArgs,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        listen: ListenArgs,
        #[command(flatten)]
        log: LogArgs,
    }

    #[test]
    fn flag_groups_flatten_and_take_per_service_defaults() {
        use clap::CommandFactory;
        Service::command().debug_assert();
        let s =
            Service::try_parse_from(["svc", "--dev-account", "2", "--log-format", "json"]).unwrap();
        assert_eq!(s.db.db, "sqlite://x.db");
        assert_eq!(s.listen.listen.port(), 9);
        assert_eq!(s.wallet.dev_account, Some(2));
        assert_eq!(s.log.log_format, LogFormat::Json);
        let s = Service::try_parse_from(["svc", "--db", "postgres://u:p@h/db"]).unwrap();
        assert_eq!(s.db.db, "postgres://u:p@h/db");
    }

    #[test]
    fn a_missing_chain_file_says_how_to_get_one() {
        let args = ChainArgs {
            chain_file: Some("/nonexistent/chain.json".into()),
            ..ChainArgs::default()
        };
        let e = args.entry().unwrap_err().to_string();
        assert!(
            e.contains("dexec devnet") && e.contains("/nonexistent/chain.json"),
            "{e}"
        );
    }

    #[test]
    fn a_service_without_a_wallet_is_refused_with_its_role() {
        let e = WalletArgs::default()
            .service_signer(31337, "the worker")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("the worker needs a wallet"), "{e}");
        let dev = WalletArgs {
            dev_account: Some(2),
            ..WalletArgs::default()
        };
        assert_eq!(
            dev.service_signer(31337, "the worker").unwrap().address(),
            wallet::dev_account(2, 31337).unwrap().address()
        );
        assert!(
            dev.service_signer(1, "the worker").is_err(),
            "dev keys are devnet only"
        );
    }

    #[test]
    fn a_chain_file_entry_takes_the_rpc_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.json");
        let deployment = dexec_sdk::Deployment {
            token: Address::ZERO,
            app_registry: Address::ZERO,
            dataset_registry: Address::ZERO,
            workerpool_registry: Address::ZERO,
            hub: Address::ZERO,
            poco_module: Address::ZERO,
        };
        ChainFile::single("dev", 31337, "http://127.0.0.1:8545", deployment)
            .save(&path)
            .unwrap();
        let args = ChainArgs {
            chain_file: Some(path),
            chain: None,
            rpc_url: Some("http://127.0.0.1:9999".into()),
            rpc_timeout_secs: None,
        };
        let (name, entry) = args.entry().unwrap();
        assert_eq!(name, "dev");
        assert_eq!(entry.host, "http://127.0.0.1:9999");
    }
}
