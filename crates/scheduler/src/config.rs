//! `dexec scheduler` flags ([`Args`]) and the validated [`Config`].

use std::net::SocketAddr;
use std::time::Duration;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use dexec_primitives::Nrlc;
use dexec_sdk::ChainEntry;
use dexec_service::{ChainArgs, DbArgs, DbUrl, ListenArgs, WalletArgs};

use crate::capacity::{max_reachable_trust, DEFAULT_MARGIN_PERCENT, HUB_MAX_TRUST};
use crate::error::{Error, Result};
use crate::offer::{OfferPolicy, Restrictions};

/// The scheduler's database unless `--db` or `DEXEC_SCHEDULER_DB` names another.
pub const DEFAULT_DB: &str = "sqlite://.dexec/scheduler.db";
/// The scheduler's address unless `--listen` or `DEXEC_SCHEDULER_LISTEN` names another.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:13000";

/// How trust-1 tasks settle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Trust1Mode {
    /// Each worker sends `Hub.contributeAndFinalize` (one transaction per task, lowest latency).
    Fast,
    /// Workers report results; the scheduler settles many tasks of a deal per `pushResults`
    /// (cheapest per task, for bags of tasks).
    Batch,
}

/// Arguments of `dexec scheduler`.
#[derive(Debug, Clone, clap::Args)]
#[command(mut_arg("db", |a| a.env("DEXEC_SCHEDULER_DB").default_value(DEFAULT_DB)))]
#[command(mut_arg("listen", |a| a.env("DEXEC_SCHEDULER_LISTEN").default_value(DEFAULT_LISTEN)))]
pub struct Args {
    /// The chain and its node.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The workerpool owner's wallet: its key signs authorizations and the pool's orders.
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// The scheduler's database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Where the scheduler serves workers.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// The workerpool this scheduler runs (its owner's key signs authorizations): its address,
    /// or `deployed` for the last one `dexec workerpool deploy` recorded in ./deployed.json for
    /// this chain.
    #[arg(long, env = "DEXEC_WORKERPOOL", value_name = "ADDRESS|deployed")]
    pub workerpool: String,
    /// Only act on events this many blocks deep.
    #[arg(long, default_value_t = 0)]
    pub confirmations: u64,
    /// Watch the scheduler's own settlement transactions (`pushResults`, `finalize`) until
    /// they are this many blocks deep: one a reorg drops (its block replaced, and the
    /// transaction not mined again) is sent again, so the tasks it settled do not expire
    /// and get claimed against the pool. 64 blocks is two epochs of Ethereum, where blocks
    /// are final.
    #[arg(long, default_value_t = 64, value_name = "BLOCKS")]
    pub reorg_depth: u64,
    /// Block to start following events from when the database has no cursor yet.
    #[arg(long, default_value_t = 0)]
    pub from_block: u64,
    /// Blob store workers upload results to (advertised to workers) [default: the chain's
    /// `store` in chain.json].
    #[arg(long, env = "DEXEC_STORE_URL")]
    pub store_url: Option<String>,
    /// How often to poll the chain, milliseconds.
    #[arg(long, default_value_t = 250)]
    pub poll_interval_ms: u64,
    /// How often workers must send a heartbeat, milliseconds.
    #[arg(long, default_value_t = 2_000)]
    pub heartbeat_interval_ms: u64,
    /// A worker silent this long is lost and its running replicates re-assigned, milliseconds.
    #[arg(long, default_value_t = 15_000)]
    pub lost_after_ms: u64,
    /// A replicate with no progress this long is re-assigned, seconds (default: the deal's
    /// category time reference).
    #[arg(long)]
    pub replicate_timeout_secs: Option<u64>,
    /// How trust-1 tasks settle.
    #[arg(long, value_enum, default_value_t = Trust1Mode::Fast)]
    pub trust1_mode: Trust1Mode,
    /// Largest `pushResults` batch (batch mode). A batch that reverts or is not mined is split
    /// in halves down to single tasks, so one task that cannot settle never holds back others.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Batch mode: hold a deal's results up to this long to fill a batch of --batch-size
    /// (fewer transactions), milliseconds; results are pushed at once when the batch is full
    /// or the deal's final deadline is less than a time reference away [default: push what
    /// is held at every poll].
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub batch_linger_ms: u64,
    /// Admit only these workers (repeat, or comma-separate) [default: any worker that signs
    /// the challenge].
    #[arg(long = "allow-worker", value_name = "ADDRESS", value_delimiter = ',')]
    pub allow_workers: Vec<Address>,
    /// Admit only workers with at least this on-chain score.
    #[arg(long, default_value_t = 0)]
    pub min_worker_score: u64,
    /// Market where the scheduler keeps a workerpool order open (with --offer-price) [default:
    /// the chain's `market` in chain.json].
    #[arg(long, env = "DEXEC_MARKET_URL", value_name = "URL")]
    pub market: Option<String>,
    /// Keep a workerpool order at this price per task open on the market: publish one
    /// whenever none is (e.g. `0.1 RLC`). Without it the scheduler publishes nothing.
    #[arg(long, value_name = "AMOUNT")]
    pub offer_price: Option<Nrlc>,
    /// The most tasks the offered order holds (a cap). The volume offered is what the pool's
    /// workers can finish before the category's deadline (their slots, the measured task
    /// durations, --offer-margin), less the tasks already accepted; the order is closed on
    /// chain and published again when that changes, and none is open without workers.
    #[arg(long, default_value_t = 1_000, requires = "offer_price")]
    pub offer_volume: u64,
    /// Share of the category's deadline window the capacity leaves unplanned, percent (0 to
    /// 90): settlement, re-assignments after lost workers and slower tasks than measured use
    /// it.
    #[arg(long, default_value_t = DEFAULT_MARGIN_PERCENT, value_name = "PERCENT", requires = "offer_price")]
    pub offer_margin: u64,
    /// Category of the offered orders.
    #[arg(long, default_value_t = 0, requires = "offer_price")]
    pub offer_category: u64,
    /// Trust of the offered orders (the most the pool replicates for): at most 65536, what 16
    /// fresh workers reach (refused at start-up above that).
    #[arg(long, default_value_t = 1, requires = "offer_price")]
    pub offer_trust: u64,
    /// Offer only to this requester (the order's `requesterrestrict`): an account, or an
    /// ERC-734 identity contract whose members (keys with purpose 4) may match [default:
    /// any requester].
    #[arg(long, value_name = "ADDRESS", requires = "offer_price")]
    pub offer_requester: Option<Address>,
    /// Offer only for this app (the order's `apprestrict`), or the members of this ERC-734
    /// group of apps [default: any app].
    #[arg(long, value_name = "ADDRESS", requires = "offer_price")]
    pub offer_app: Option<Address>,
    /// Tag of the offered orders: what the pool's workers have (hex or names).
    #[arg(long, default_value = "0x0", requires = "offer_price")]
    pub offer_tag: String,
    /// Do not fill requesters' limit orders. By default a scheduler with an offer matches the
    /// market's request orders its policy accepts (workerpool price at least --offer-price,
    /// its category, trust and tag, app orders available, capacity free) against its
    /// standing order, best price first; `GET /requests` shows what it decided and why.
    #[arg(long, requires = "offer_price")]
    pub no_fill_requests: bool,
    /// How often to look for request orders to fill, milliseconds.
    #[arg(
        long,
        default_value_t = 500,
        value_name = "MS",
        requires = "offer_price"
    )]
    pub fill_interval_ms: u64,
}

/// The scheduler's validated configuration.
#[derive(Clone)]
pub struct Config {
    /// The chain and hub.
    pub chain: ChainEntry,
    /// How long one JSON-RPC request may wait (`--rpc-timeout-secs`, default 30 s).
    pub rpc_timeout: std::time::Duration,
    /// The workerpool owner's key.
    pub signer: PrivateKeySigner,
    /// The workerpool.
    pub workerpool: Address,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Database URL (its password never shows in `Debug`).
    pub db_url: DbUrl,
    /// Confirmation depth.
    pub confirmations: u64,
    /// How deep settlement transactions are watched for reorgs.
    pub reorg_depth: u64,
    /// First block to follow without a stored cursor.
    pub from_block: u64,
    /// Store advertised to workers.
    pub store_url: Option<String>,
    /// Chain polling period.
    pub poll_interval: Duration,
    /// Heartbeat period asked of workers.
    pub heartbeat_interval: Duration,
    /// Silence after which a worker is lost.
    pub lost_after: Duration,
    /// Replicate timeout (default: the deal's time reference).
    pub replicate_timeout: Option<Duration>,
    /// Trust-1 settlement.
    pub trust1_mode: Trust1Mode,
    /// Largest `pushResults` batch.
    pub batch_size: usize,
    /// How long a deal's held results may wait for a full batch.
    pub batch_linger: Duration,
    /// Longest a `next` long poll is held.
    pub max_wait: Duration,
    /// The workerpool order to keep open on a market, if any. Its `volume` is a cap: the
    /// volume offered follows the pool's capacity (`capacity.rs`).
    pub offer: Option<OfferPolicy>,
    /// Who and what the offered order is for (default: anyone, any app).
    pub offer_restrict: Restrictions,
    /// Share of the deadline window the offered capacity leaves unplanned, percent.
    pub offer_margin_percent: u64,
    /// How often the market's request orders are read and filled (none: not filled).
    pub fill_interval: Option<Duration>,
    /// Workers admitted (empty: any).
    pub allow_workers: Vec<Address>,
    /// Least on-chain score a worker needs to register.
    pub min_worker_score: u64,
    /// The market told that this scheduler is alive, and how often: its signed heartbeats keep
    /// the pool's workerpool orders in the book (they leave it when the heartbeats stop).
    pub market_heartbeat: Option<(String, Duration)>,
}

/// How often the scheduler tells the market it is alive (the market's default time-to-live is
/// 45 s: four heartbeats may be lost before the pool's orders leave the book).
pub const MARKET_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);

impl std::fmt::Debug for Config {
    // The signer holds the workerpool owner's private key: show its address only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("chain", &self.chain)
            .field("owner", &self.signer.address())
            .field("workerpool", &self.workerpool)
            .field("listen", &self.listen)
            .field("db_url", &self.db_url)
            .field("confirmations", &self.confirmations)
            .field("reorg_depth", &self.reorg_depth)
            .field("store_url", &self.store_url)
            .field("poll_interval", &self.poll_interval)
            .field("trust1_mode", &self.trust1_mode)
            .field("offer", &self.offer)
            .field("offer_restrict", &self.offer_restrict)
            .field("fill_interval", &self.fill_interval)
            .field("market_heartbeat", &self.market_heartbeat)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration for tests: listen on 127.0.0.1:0, fast polling and heartbeats.
    pub fn test(
        chain: ChainEntry,
        signer: PrivateKeySigner,
        workerpool: Address,
        db_url: DbUrl,
    ) -> Self {
        Self {
            chain,
            rpc_timeout: dexec_sdk::DEFAULT_RPC_TIMEOUT,
            signer,
            workerpool,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            db_url,
            confirmations: 0,
            reorg_depth: 64,
            from_block: 0,
            store_url: None,
            poll_interval: Duration::from_millis(100),
            heartbeat_interval: Duration::from_millis(300),
            lost_after: Duration::from_secs(2),
            replicate_timeout: None,
            trust1_mode: Trust1Mode::Fast,
            batch_size: 64,
            batch_linger: Duration::ZERO,
            max_wait: Duration::from_secs(2),
            offer: None,
            offer_restrict: Restrictions::default(),
            offer_margin_percent: DEFAULT_MARGIN_PERCENT,
            fill_interval: None,
            allow_workers: Vec::new(),
            min_worker_score: 0,
            market_heartbeat: None,
        }
    }

    /// Validate `args`: read chain.json, open the owner's key, find the workerpool.
    pub fn from_args(args: Args) -> Result<Self> {
        let (_, chain) = args.chain.entry()?;
        let workerpool = resolve_workerpool(
            &args.workerpool,
            chain.chain_id().unwrap_or_default(),
            std::path::Path::new("."),
        )?;
        // the scheduler signs as the workerpool owner
        let signer = args.wallet.service_signer(
            chain.chain_id().unwrap_or(31337),
            "the scheduler (as the workerpool owner)",
        )?;
        let db_url = args.db.url()?;
        if args.batch_size == 0 {
            return Err(Error::Config("--batch-size must be at least 1".into()));
        }
        let market_heartbeat = args
            .market
            .clone()
            .or_else(|| chain.market.clone())
            .map(|url| (url, MARKET_HEARTBEAT_INTERVAL));
        let offer = match args.offer_price {
            None => None,
            Some(price) => {
                let market_url = args
                    .market
                    .or_else(|| chain.market.clone())
                    .ok_or_else(|| {
                        Error::Config(
                            "--offer-price needs a market: pass --market <URL>, or name it in the \
                         chain's `market` field of chain.json"
                                .into(),
                        )
                    })?;
                if price > Nrlc::MAX_ORDER_PRICE {
                    return Err(Error::Config(format!(
                        "--offer-price {price} is more than an order may ask, {} (the market's \
                         limit)",
                        Nrlc::MAX_ORDER_PRICE
                    )));
                }
                if args.offer_volume == 0 {
                    return Err(Error::Config("--offer-volume must be at least 1".into()));
                }
                if args.offer_margin > 90 {
                    return Err(Error::Config(format!(
                        "--offer-margin {} leaves no time to plan tasks in: give a percentage \
                         from 0 to 90 (default {DEFAULT_MARGIN_PERCENT})",
                        args.offer_margin
                    )));
                }
                let tag = dexec_primitives::tag::parse(&args.offer_tag)
                    .map_err(|e| Error::Config(format!("--offer-tag: {e}")))?;
                Some(OfferPolicy {
                    market_url,
                    price,
                    volume: args.offer_volume,
                    category: args.offer_category,
                    trust: args.offer_trust.max(1),
                    tag,
                    interval: Duration::from_secs(5),
                })
            }
        };
        let store_url = args.store_url.or_else(|| chain.store.clone());
        let fill_interval = (offer.is_some() && !args.no_fill_requests)
            .then(|| Duration::from_millis(args.fill_interval_ms.max(50)));
        let config = Self {
            offer,
            offer_restrict: Restrictions {
                requester: args.offer_requester.unwrap_or(Address::ZERO),
                app: args.offer_app.unwrap_or(Address::ZERO),
            },
            offer_margin_percent: args.offer_margin,
            fill_interval,
            allow_workers: args.allow_workers,
            min_worker_score: args.min_worker_score,
            market_heartbeat,
            chain,
            rpc_timeout: args.chain.rpc_timeout(),
            signer,
            workerpool,
            listen: args.listen.listen,
            db_url,
            confirmations: args.confirmations,
            reorg_depth: args.reorg_depth,
            from_block: args.from_block,
            store_url,
            poll_interval: Duration::from_millis(args.poll_interval_ms.max(10)),
            heartbeat_interval: Duration::from_millis(args.heartbeat_interval_ms.max(50)),
            lost_after: Duration::from_millis(args.lost_after_ms),
            replicate_timeout: args.replicate_timeout_secs.map(Duration::from_secs),
            trust1_mode: args.trust1_mode,
            batch_size: args.batch_size,
            batch_linger: Duration::from_millis(args.batch_linger_ms),
            max_wait: Duration::from_secs(20),
        };
        config.check_offer()?;
        Ok(config)
    }

    /// Refuse an offer the pool cannot honour: a trust its workers cannot reach within the
    /// hub's 16 contributors (or that the hub refuses), a margin that leaves no time.
    pub fn check_offer(&self) -> Result<()> {
        let Some(offer) = &self.offer else {
            return Ok(());
        };
        let weakest = dexec_primitives::poco::weight(self.min_worker_score);
        let reachable = max_reachable_trust(weakest);
        if offer.trust > reachable {
            let why = if offer.trust > HUB_MAX_TRUST {
                format!("the hub accepts no trust above {HUB_MAX_TRUST}")
            } else {
                format!(
                    "16 workers of weight {weakest} (the weakest this pool admits) reach at \
                     most {reachable}"
                )
            };
            return Err(Error::Config(format!(
                "--offer-trust {} cannot be reached: {why}, so every task would end in a claim \
                 against the scheduler's stake; offer a trust of at most {reachable}",
                offer.trust
            )));
        }
        if self.offer_margin_percent > 90 {
            return Err(Error::Config(format!(
                "an offer margin of {}% leaves no time to plan tasks in: give 0 to 90",
                self.offer_margin_percent
            )));
        }
        Ok(())
    }
}

/// `--workerpool`: an address, or `deployed`: the workerpool `dexec workerpool deploy`
/// recorded for `chain_id` in `dir/deployed.json` (`{"workerpool": {"<chain id>": "0x…"}}`,
/// the CLI's project file).
pub fn resolve_workerpool(text: &str, chain_id: u64, dir: &std::path::Path) -> Result<Address> {
    if text != "deployed" {
        return text.parse().map_err(|_| {
            Error::Config(format!(
                "--workerpool `{text}` is neither an address (0x and 40 hex digits) nor `deployed`"
            ))
        });
    }
    let path = dir.join("deployed.json");
    let missing = || {
        Error::Config(format!(
            "--workerpool deployed: {} names no workerpool for chain {chain_id}; deploy one with \
             `dexec workerpool deploy` in this directory, or pass its address",
            path.display()
        ))
    };
    let text = std::fs::read_to_string(&path).map_err(|_| missing())?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{} is not valid JSON: {e}", path.display())))?;
    json["workerpool"][chain_id.to_string()]
        .as_str()
        .and_then(|a| a.parse().ok())
        .ok_or_else(missing)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Args {
        Cli::try_parse_from([&["dexec-scheduler"], argv].concat())
            .unwrap()
            .args
    }

    #[test]
    fn shared_flags_have_the_scheduler_defaults() {
        let pool = "0x00000000000000000000000000000000000000aa";
        let args = parse(&["--workerpool", pool]);
        // (the environment of the test run may set these; only without it the defaults hold)
        if std::env::var_os("DEXEC_SCHEDULER_DB").is_none() {
            assert_eq!(args.db.db, DEFAULT_DB);
        }
        if std::env::var_os("DEXEC_SCHEDULER_LISTEN").is_none() {
            assert_eq!(args.listen.listen, DEFAULT_LISTEN.parse().unwrap());
        }
        let args = parse(&[
            "--workerpool",
            pool,
            "--db",
            "postgres://sched:secret@db:5432/dexec",
            "--listen",
            "0.0.0.0:13001",
            "--dev-account",
            "2",
            "--password-file",
            "/run/secrets/pool",
        ]);
        assert_eq!(args.listen.listen.port(), 13001);
        assert_eq!(args.wallet.dev_account, Some(2));
        assert!(args.wallet.password_file.is_some());
        let url = args.db.url().unwrap();
        assert_eq!(url.expose(), "postgres://sched:secret@db:5432/dexec");
        let chain = ChainEntry {
            id: "31337".into(),
            host: "http://127.0.0.1:8545".into(),
            deployment: dexec_sdk::Deployment {
                token: Address::ZERO,
                app_registry: Address::ZERO,
                dataset_registry: Address::ZERO,
                workerpool_registry: Address::ZERO,
                hub: Address::ZERO,
                poco_module: Address::ZERO,
            },
            market: None,
            store: None,
        };
        let config = Config::test(chain, PrivateKeySigner::random(), Address::ZERO, url);
        let shown = format!("{config:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("sched:***@db"), "{shown}");
    }

    fn test_chain() -> ChainEntry {
        ChainEntry {
            id: "31337".into(),
            host: "http://127.0.0.1:8545".into(),
            deployment: dexec_sdk::Deployment {
                token: Address::ZERO,
                app_registry: Address::ZERO,
                dataset_registry: Address::ZERO,
                workerpool_registry: Address::ZERO,
                hub: Address::ZERO,
                poco_module: Address::ZERO,
            },
            market: Some("http://127.0.0.1:1".into()),
            store: None,
        }
    }

    #[test]
    fn the_offer_flags_restrict_and_cap() {
        let pool = "0x00000000000000000000000000000000000000aa";
        let requester = "0x00000000000000000000000000000000000000bb";
        let args = parse(&[
            "--workerpool",
            pool,
            "--offer-price",
            "0.1 RLC",
            "--offer-requester",
            requester,
            "--offer-app",
            pool,
            "--offer-volume",
            "40",
            "--offer-margin",
            "30",
        ]);
        assert_eq!(args.offer_requester, Some(requester.parse().unwrap()));
        assert_eq!(args.offer_app, Some(pool.parse().unwrap()));
        assert_eq!(args.offer_volume, 40);
        assert_eq!(args.offer_margin, 30);
        // restrictions belong to an offer: without --offer-price they are refused
        let without = Cli::try_parse_from([
            "dexec-scheduler",
            "--workerpool",
            pool,
            "--offer-requester",
            requester,
        ]);
        assert!(without.is_err());
        let defaults = parse(&["--workerpool", pool, "--offer-price", "0.1 RLC"]);
        assert_eq!(defaults.offer_requester, None, "any requester by default");
        assert_eq!(defaults.offer_margin, DEFAULT_MARGIN_PERCENT);
    }

    #[test]
    fn an_unreachable_trust_is_refused_with_a_sentence() {
        let url: DbUrl = "sqlite://x.db".parse().unwrap();
        let mut config = Config::test(test_chain(), PrivateKeySigner::random(), Address::ZERO, url);
        config.offer = Some(OfferPolicy {
            market_url: "http://127.0.0.1:1".into(),
            price: Nrlc(1),
            volume: 10,
            category: 0,
            trust: HUB_MAX_TRUST,
            tag: Default::default(),
            interval: Duration::from_secs(5),
        });
        config.check_offer().unwrap();
        for trust in [HUB_MAX_TRUST + 1, u64::MAX] {
            config.offer.as_mut().unwrap().trust = trust;
            let err = config.check_offer().unwrap_err().to_string();
            assert!(
                err.contains(&format!("--offer-trust {trust} cannot be reached")),
                "{err}"
            );
            assert!(err.contains("at most 65536"), "{err}");
        }
        // veterans do not lift the hub's bound
        config.min_worker_score = 1_000;
        assert!(config.check_offer().is_err());
        config.offer.as_mut().unwrap().trust = 3;
        config.offer_margin_percent = 95;
        assert!(config.check_offer().is_err(), "a margin above 90%");
    }

    #[test]
    fn the_workerpool_may_be_the_deployed_one() {
        let dir = tempfile::tempdir().unwrap();
        let pool = "0x00000000000000000000000000000000000000aa";
        assert_eq!(
            resolve_workerpool(pool, 31337, dir.path()).unwrap(),
            pool.parse::<Address>().unwrap()
        );
        let none = resolve_workerpool("deployed", 31337, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            none.contains("names no workerpool for chain 31337")
                && none.contains("dexec workerpool deploy"),
            "{none}"
        );
        std::fs::write(
            dir.path().join("deployed.json"),
            format!(r#"{{"app":{{"31337":"0x00000000000000000000000000000000000000bb"}},"workerpool":{{"31337":"{pool}"}}}}"#),
        )
        .unwrap();
        assert_eq!(
            resolve_workerpool("deployed", 31337, dir.path()).unwrap(),
            pool.parse::<Address>().unwrap()
        );
        assert!(
            resolve_workerpool("deployed", 1, dir.path()).is_err(),
            "another chain's"
        );
        let bad = resolve_workerpool("0x12", 31337, dir.path())
            .unwrap_err()
            .to_string();
        assert!(bad.contains("neither an address"), "{bad}");
    }
}
