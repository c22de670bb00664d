//! Configuration: the `dexec market` flags ([`Args`]) and the validated [`Config`].

use std::net::SocketAddr;
use std::time::Duration;

use dexec_sdk::ChainEntry;
use dexec_service::{ChainArgs, DbArgs, DbUrl, ListenArgs};

use crate::{Error, Result};

/// Default listen address of `dexec market`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8702";
/// Default database: a SQLite file.
pub const DEFAULT_DB: &str = "sqlite://.dexec/market.db";

/// Flags of `dexec market` (flatten into a clap command). The chain, database and listen
/// flags are `dexec-service`'s groups, with the market's defaults and environment variables.
#[derive(Debug, Clone, clap::Args)]
// a default makes the shared flags optional (clap keeps a flattened arg required otherwise)
#[command(mut_arg("db", |a| a.env("DEXEC_MARKET_DB").default_value(DEFAULT_DB).required(false)))]
#[command(mut_arg("listen", |a| {
    a.env("DEXEC_MARKET_LISTEN").default_value(DEFAULT_LISTEN).required(false)
}))]
pub struct Args {
    /// The chain: `--chain-file`, `--chain`, `--rpc-url`.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Where the book is kept: `--db`.
    #[command(flatten)]
    pub db: DbArgs,
    /// Where to listen: `--listen`.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Blocks an event must be buried under before the watcher acts on it.
    #[arg(long, env = "DEXEC_MARKET_CONFIRMATIONS", default_value_t = 0)]
    pub confirmations: u64,
    /// First block to watch on a fresh database. Keep 0 (or the hub's deployment block):
    /// publish checks then read consumed volumes from the watcher's record instead of the chain.
    #[arg(long, default_value_t = 0)]
    pub from_block: u64,
    /// Milliseconds between watcher polls when it is caught up.
    #[arg(long, default_value_t = 1_000)]
    pub poll_interval_ms: u64,
    /// Requests per second allowed per client IP (token bucket; 0 disables).
    #[arg(long, env = "DEXEC_MARKET_RATE_PER_IP", default_value_t = 20.0)]
    pub rate_per_ip: f64,
    /// Burst allowed per client IP.
    #[arg(long, default_value_t = 100)]
    pub burst_per_ip: u32,
    /// Publishes and unpublishes per second allowed per signer (token bucket; 0 disables).
    #[arg(long, env = "DEXEC_MARKET_RATE_PER_ADDRESS", default_value_t = 5.0)]
    pub rate_per_address: f64,
    /// Burst allowed per signer.
    #[arg(long, default_value_t = 50)]
    pub burst_per_address: u32,
    /// Largest request order `params`, in bytes.
    #[arg(long, default_value_t = 4096)]
    pub max_params_size: usize,
    /// Most open orders per signer and order kind.
    #[arg(long, default_value_t = 50)]
    pub max_open_orders: u64,
    /// How long a scheduler's heartbeat keeps its workerpool live, seconds: the workerpool
    /// orders of a pool that sent heartbeats and then stopped for longer leave the book
    /// (status `offline`) until the next one. Schedulers beat every 10 s.
    #[arg(long, env = "DEXEC_MARKET_HEARTBEAT_TTL_SECS", default_value_t = DEFAULT_HEARTBEAT_TTL_SECS)]
    pub heartbeat_ttl_secs: u64,
}

/// How long a scheduler's heartbeat keeps its pool live by default, seconds.
pub const DEFAULT_HEARTBEAT_TTL_SECS: u64 = 45;

/// A token bucket's refill rate and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens per second; 0 disables the limit.
    pub per_second: f64,
    /// Bucket size.
    pub burst: u32,
}

impl Rate {
    /// No limit.
    pub const UNLIMITED: Self = Self {
        per_second: 0.0,
        burst: 0,
    };
}

/// Validated configuration of a market server. Its `Debug` shows the database URL without
/// its password.
#[derive(Debug, Clone)]
pub struct Config {
    /// The chain and hub.
    pub chain: ChainEntry,
    /// How long one JSON-RPC request may wait (`--rpc-timeout-secs`, default 30 s).
    pub rpc_timeout: std::time::Duration,
    /// Address to bind (port 0 picks a free port; `serve` returns the bound address).
    pub listen: SocketAddr,
    /// Database URL.
    pub db_url: DbUrl,
    /// Confirmation depth of the watcher.
    pub confirmations: u64,
    /// First block the watcher reads on a fresh database.
    pub from_block: u64,
    /// Pause between watcher polls when caught up.
    pub poll_interval: Duration,
    /// Limit per client IP (all requests).
    pub per_ip: Rate,
    /// Limit per signer (publish and unpublish).
    pub per_address: Rate,
    /// Largest request order `params`, in bytes.
    pub max_params_size: usize,
    /// Largest request body, in bytes.
    pub max_body_size: usize,
    /// Most open orders per signer and kind.
    pub max_open_orders: u64,
    /// How long a sufficient balance read from the chain is trusted.
    pub balance_ttl: Duration,
    /// How long a scheduler's heartbeat keeps its pool live.
    pub heartbeat_ttl: Duration,
}

impl Config {
    /// A configuration for tests: port 0, a fast watcher, default limits.
    pub fn test(chain: ChainEntry, db_url: DbUrl) -> Self {
        Self {
            chain,
            rpc_timeout: dexec_sdk::DEFAULT_RPC_TIMEOUT,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            db_url,
            confirmations: 0,
            from_block: 0,
            poll_interval: Duration::from_millis(100),
            per_ip: Rate {
                per_second: 1_000.0,
                burst: 1_000,
            },
            per_address: Rate {
                per_second: 100.0,
                burst: 100,
            },
            max_params_size: 4096,
            max_body_size: 16 * 1024,
            max_open_orders: 50,
            balance_ttl: Duration::from_secs(10),
            heartbeat_ttl: Duration::from_secs(DEFAULT_HEARTBEAT_TTL_SECS),
        }
    }

    /// Validate `args`: read the chain file.
    pub fn from_args(args: Args) -> Result<Self> {
        let (_, chain) = args
            .chain
            .entry()
            .map_err(|e| Error::Config(e.to_string()))?;
        let db_url = args.db.url().map_err(|e| Error::Config(e.to_string()))?;
        if args.max_params_size == 0 || args.max_open_orders == 0 {
            return Err(Error::Config(
                "--max-params-size and --max-open-orders must be positive".into(),
            ));
        }
        if args.heartbeat_ttl_secs < 5 {
            return Err(Error::Config(format!(
                "--heartbeat-ttl-secs {} is shorter than two heartbeats: give at least 5 \
                 (schedulers beat every few seconds)",
                args.heartbeat_ttl_secs
            )));
        }
        if args.rate_per_ip < 0.0 || args.rate_per_address < 0.0 {
            return Err(Error::Config("rates cannot be negative".into()));
        }
        Ok(Self {
            chain,
            rpc_timeout: args.chain.rpc_timeout(),
            listen: args.listen.listen,
            db_url,
            confirmations: args.confirmations,
            from_block: args.from_block,
            poll_interval: Duration::from_millis(args.poll_interval_ms.max(10)),
            per_ip: Rate {
                per_second: args.rate_per_ip,
                burst: args.burst_per_ip.max(1),
            },
            per_address: Rate {
                per_second: args.rate_per_address,
                burst: args.burst_per_address.max(1),
            },
            max_params_size: args.max_params_size,
            max_body_size: args.max_params_size + 8 * 1024,
            max_open_orders: args.max_open_orders,
            balance_ttl: Duration::from_secs(10),
            heartbeat_ttl: Duration::from_secs(args.heartbeat_ttl_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_hides_the_database_password() {
        let deployment = dexec_sdk::Deployment {
            token: Default::default(),
            app_registry: Default::default(),
            dataset_registry: Default::default(),
            workerpool_registry: Default::default(),
            hub: Default::default(),
            poco_module: Default::default(),
        };
        let chain = ChainEntry::new(31337, "http://127.0.0.1:8545", deployment);
        let url = "postgres://dexec:s3cret@db.example/market".parse().unwrap();
        let shown = format!("{:?}", Config::test(chain, url));
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("dexec:***@db.example"), "{shown}");
    }

    #[test]
    fn flags_take_the_market_defaults() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cmd {
            #[command(flatten)]
            args: Args,
        }
        let cmd = Cmd::try_parse_from(["market"]).unwrap();
        assert_eq!(cmd.args.db.db, DEFAULT_DB);
        assert_eq!(cmd.args.listen.listen.to_string(), DEFAULT_LISTEN);
    }
}
