//! `dexec worker` flags ([`Args`]) and the validated [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use dexec_sdk::ChainEntry;
use dexec_service::{ChainArgs, WalletArgs};

use crate::error::{Error, Result};

/// Arguments of `dexec worker`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The scheduler's URL.
    #[arg(
        long,
        env = "DEXEC_SCHEDULER_URL",
        default_value = "http://127.0.0.1:13000"
    )]
    pub scheduler_url: String,
    /// The chain: chain.json, chain name, RPC override.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The worker's wallet (it contributes, stakes and is paid with it).
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// Name shown by the scheduler.
    #[arg(long, default_value = "worker")]
    pub name: String,
    /// Directory for task state and files (interrupted tasks resume from it).
    #[arg(long, env = "DEXEC_WORKER_DIR", default_value = ".dexec/worker")]
    pub work_dir: PathBuf,
    /// Blob store for results and blob-id locations (default: the scheduler's).
    #[arg(long, env = "DEXEC_STORE_URL")]
    pub store_url: Option<String>,
    /// Tasks run at once (default: cores − 1, at least 1).
    #[arg(long)]
    pub max_concurrent: Option<u32>,
    /// Tags offered, comma-separated names or a 0x bytes32 (`gpu`, `tee`, …).
    #[arg(long, default_value = "0x0")]
    pub tags: String,
    /// Memory offered, MiB.
    #[arg(long, default_value_t = 4096)]
    pub memory_mb: u64,
    /// Let input-file URLs reach loopback and private addresses (off by default).
    #[arg(long)]
    pub allow_private_inputs: bool,
    /// Let input files come from this host even when it is a loopback or private address:
    /// `host` (any port) or `host:port`, compared with the URL's host as written (repeat, or
    /// comma-separate). For sources the operator vouches for, such as a devnet's price
    /// servers; every other private address stays refused.
    #[arg(
        long = "allow-inputs-from",
        value_name = "HOST[:PORT]",
        value_delimiter = ','
    )]
    pub allow_inputs_from: Vec<String>,
    /// Largest download (app, dataset, input file), MiB.
    #[arg(long, default_value_t = 256)]
    pub max_download_mb: u64,
    /// Run container apps (app type `OCI`) with podman: the worker checks at start that its
    /// engine runs a container in the app sandbox (root, runc, no network), then offers the
    /// `container` tag. Without it the worker runs WASM apps only.
    #[arg(long)]
    pub containers: bool,
    /// Largest container image archive to download, MiB (with --containers).
    #[arg(long, default_value_t = 2048, requires = "containers")]
    pub max_image_mb: u64,
    /// Disk the app images kept by the engine may take, MiB; the oldest go first (with
    /// --containers).
    #[arg(long, default_value_t = 8192, requires = "containers")]
    pub image_cache_mb: u64,
    /// Longest download, seconds.
    #[arg(long, default_value_t = 120)]
    pub download_timeout_secs: u64,
    /// Serve Prometheus metrics (`/metrics`) and health (`/health`) on this address, e.g.
    /// 127.0.0.1:9102 [default: none; the worker listens on nothing else].
    #[arg(long, env = "DEXEC_WORKER_METRICS_LISTEN", value_name = "ADDRESS")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Fuel per task instead of the category's budget (private pools; every worker of the
    /// pool must use the same value or honest workers disagree).
    #[arg(long, hide = true)]
    pub fuel: Option<u64>,
    /// Wall-clock limit of every app run, seconds, instead of half the category's time
    /// reference (tests; every worker of the pool must use the same value: an app stopped by
    /// it gets an error result that names it).
    #[arg(long, hide = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub wall_clock_limit_secs: Option<u64>,
    /// Test hook: contribute a corrupted digest (to exercise consensus and slashing):
    /// `collude` (the default when the flag has no value) votes the wrong digest every
    /// colluding worker votes, `alone` a wrong digest of this worker's own.
    #[arg(
        long,
        hide = true,
        value_name = "MODE",
        num_args = 0..=1,
        default_missing_value = "collude"
    )]
    pub dishonest: Option<Honesty>,
}

/// How a worker votes. Anything but `Honest` is a test hook (`--dishonest`) that exercises
/// consensus and slashing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Honesty {
    /// The digest of its result.
    #[default]
    #[value(skip)]
    Honest,
    /// A wrong digest that no other worker votes (keccak256 of the digest, `dishonest` and
    /// the worker's address): a lone liar.
    #[value(name = "alone")]
    LiesAlone,
    /// The same wrong digest as every other colluding worker (keccak256 of the digest and
    /// `dishonest`): liars that agree on a wrong answer.
    #[value(name = "collude")]
    Colludes,
}

impl Honesty {
    /// Whether the worker lies at all.
    pub fn lies(self) -> bool {
        self != Self::Honest
    }
}

/// The worker's validated configuration.
#[derive(Clone)]
pub struct Config {
    /// The scheduler's URL.
    pub scheduler_url: String,
    /// The chain and hub.
    pub chain: ChainEntry,
    /// How long one JSON-RPC request may wait (`--rpc-timeout-secs`, default 30 s).
    pub rpc_timeout: std::time::Duration,
    /// The worker's key (contributes, stakes, is paid).
    pub signer: PrivateKeySigner,
    /// Name shown by the scheduler.
    pub name: String,
    /// Task state directory.
    pub work_dir: PathBuf,
    /// Store override.
    pub store_url: Option<String>,
    /// Tasks at once.
    pub max_concurrent: u32,
    /// Cores offered.
    pub cores: u32,
    /// Memory offered, MiB.
    pub memory_mb: u64,
    /// Tags offered.
    pub tags: B256,
    /// Allow private input-file addresses.
    pub allow_private_inputs: bool,
    /// Private hosts input files may come from anyway (`host` or `host:port`).
    pub allowed_input_hosts: Vec<String>,
    /// Largest download.
    pub max_download_bytes: u64,
    /// Run container apps (`--containers`).
    pub containers: bool,
    /// Largest image archive.
    pub max_image_bytes: u64,
    /// Disk the app images may take before pruning.
    pub image_cache_bytes: u64,
    /// Longest download.
    pub download_timeout: Duration,
    /// Fuel override.
    pub fuel: Option<u64>,
    /// Wall-clock limit override (default: the category's, see
    /// `dexec_runtime::wall_clock_limit_for_category`).
    pub wall_clock_limit: Option<Duration>,
    /// Corrupt digests (tests): how the worker votes.
    pub honesty: Honesty,
    /// How long a `next` long poll may wait.
    pub poll_wait: Duration,
    /// How often to repeat a report while told to wait.
    pub report_interval: Duration,
    /// Where `/metrics` and `/health` are served (none: not served).
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for Config {
    // The signer holds the worker's private key: show its address only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("scheduler_url", &self.scheduler_url)
            .field("chain", &self.chain)
            .field("address", &self.signer.address())
            .field("name", &self.name)
            .field("work_dir", &self.work_dir)
            .field("max_concurrent", &self.max_concurrent)
            .field("tags", &self.tags)
            .field("containers", &self.containers)
            .field("honesty", &self.honesty)
            .finish_non_exhaustive()
    }
}

fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

impl Config {
    /// A configuration for tests: fast polling, private inputs allowed.
    pub fn test(
        scheduler_url: impl Into<String>,
        chain: ChainEntry,
        signer: PrivateKeySigner,
        work_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            scheduler_url: scheduler_url.into(),
            chain,
            rpc_timeout: dexec_sdk::DEFAULT_RPC_TIMEOUT,
            signer,
            name: "test-worker".into(),
            work_dir: work_dir.into(),
            store_url: None,
            max_concurrent: 2,
            cores: cores(),
            memory_mb: 1024,
            tags: B256::ZERO,
            allow_private_inputs: true,
            allowed_input_hosts: Vec::new(),
            max_download_bytes: 64 << 20,
            containers: false,
            max_image_bytes: 2048 << 20,
            image_cache_bytes: 8192 << 20,
            download_timeout: Duration::from_secs(30),
            fuel: None,
            wall_clock_limit: None,
            honesty: Honesty::Honest,
            poll_wait: Duration::from_secs(1),
            report_interval: Duration::from_millis(200),
            metrics_listen: None,
        }
    }

    /// Validate `args`.
    pub fn from_args(args: Args) -> Result<Self> {
        let (_, chain) = args.chain.entry()?;
        let signer = args
            .wallet
            .service_signer(chain.chain_id().unwrap_or(31337), "the worker")?;
        let mut tags = dexec_primitives::tag::parse(&args.tags)
            .map_err(|e| Error::Config(format!("--tags: {e}")))?;
        if tags & dexec_primitives::tag::CONTAINER != B256::ZERO && !args.containers {
            return Err(Error::Config(
                "--tags container: pass --containers instead (the worker offers the tag once \
                 its container self-check passes)"
                    .into(),
            ));
        }
        if args.containers {
            tags |= dexec_primitives::tag::CONTAINER;
        }
        let cores = cores();
        Ok(Self {
            scheduler_url: args.scheduler_url,
            chain,
            rpc_timeout: args.chain.rpc_timeout(),
            signer,
            name: args.name,
            work_dir: args.work_dir,
            store_url: args.store_url,
            max_concurrent: args
                .max_concurrent
                .unwrap_or(cores.saturating_sub(1))
                .max(1),
            cores,
            memory_mb: args.memory_mb,
            tags,
            allow_private_inputs: args.allow_private_inputs,
            allowed_input_hosts: args.allow_inputs_from,
            max_download_bytes: args.max_download_mb << 20,
            containers: args.containers,
            max_image_bytes: args.max_image_mb << 20,
            image_cache_bytes: args.image_cache_mb << 20,
            download_timeout: Duration::from_secs(args.download_timeout_secs),
            fuel: args.fuel,
            wall_clock_limit: args.wall_clock_limit_secs.map(Duration::from_secs),
            honesty: args.dishonest.unwrap_or_default(),
            poll_wait: Duration::from_secs(20),
            report_interval: Duration::from_secs(1),
            metrics_listen: args.metrics_listen,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use alloy::primitives::Address;
    use clap::Parser;
    use dexec_sdk::{ChainFile, Deployment};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn config(argv: &[&str]) -> Result<Config> {
        let cli = Cli::try_parse_from(std::iter::once("worker").chain(argv.iter().copied()))
            .map_err(|e| Error::Config(e.to_string()))?;
        Config::from_args(cli.args)
    }

    /// The chain and wallet flags are the services' shared groups: `--chain-file`,
    /// `--rpc-url` and `--dev-account` read as everywhere else, and no wallet is refused with
    /// a sentence naming the worker.
    #[test]
    fn chain_and_wallet_come_from_the_shared_flag_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.json");
        let deployment = Deployment {
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
        let file = path.to_str().unwrap();
        let c = config(&[
            "--chain-file",
            file,
            "--rpc-url",
            "http://127.0.0.1:9999",
            "--dev-account",
            "4",
        ])
        .unwrap();
        assert_eq!(c.chain.host, "http://127.0.0.1:9999");
        assert_eq!(
            c.signer.address(),
            dexec_sdk::wallet::dev_account(4, 31337).unwrap().address()
        );
        let refused = config(&["--chain-file", file]).unwrap_err().to_string();
        assert!(
            refused.starts_with("the worker needs a wallet"),
            "{refused}"
        );
    }

    /// `--dishonest` alone means colluding (what tests and demos always passed); `alone` and
    /// `collude` say it; without the flag the worker is honest.
    #[test]
    fn dishonest_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.json");
        let deployment = Deployment {
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
        let file = path.to_str().unwrap();
        let honesty = |extra: &[&str]| {
            let mut argv = vec!["--chain-file", file, "--dev-account", "4"];
            argv.extend(extra);
            config(&argv).unwrap().honesty
        };
        assert_eq!(honesty(&[]), Honesty::Honest);
        assert_eq!(honesty(&["--dishonest"]), Honesty::Colludes);
        assert_eq!(honesty(&["--dishonest", "--name", "w"]), Honesty::Colludes);
        assert_eq!(honesty(&["--dishonest", "collude"]), Honesty::Colludes);
        assert_eq!(honesty(&["--dishonest", "alone"]), Honesty::LiesAlone);
        assert!(config(&["--chain-file", file, "--dishonest", "honest"]).is_err());
    }
}
