//! The whole system in this process on loopback, for `dexec demo` and `dexec bench e2e`: a
//! devnet chain with the hub, the blob store, one workerpool's scheduler and its workers, and
//! the app and workerpool orders of dev accounts 1 (app provider) and 2 (workerpool owner),
//! and optionally a market where those orders are published.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use alloy::primitives::{B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use dexec_sdk::primitives::{AppOrder, Nrlc, RequestOrder, Signed, WorkerpoolOrder};
use dexec_sdk::{
    AppSpec, ChainEntry, Client, DealInfo, MatchInput, Matched, TaskInfo, WorkerpoolSpec,
};
use eyre::{eyre, WrapErr};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use dexec_sdk::market::MarketClient;
use dexec_worker::Honesty;

use crate::cmd::devnet::deploy_and_fund;
use crate::cmd::run::{prepare, ExecArgs, Leg};
use crate::local::LocalChain;

/// Dev accounts by role.
const APP_OWNER: usize = 1;
const POOL_OWNER: usize = 2;
/// The requester.
pub const REQUESTER: usize = 3;
/// What the workerpool charges per task.
const POOL_PRICE: Nrlc = Nrlc::from_rlc(2);
/// First worker account; workers use the following ones.
const FIRST_WORKER: usize = 4;

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// The app module.
    pub wasm: Vec<u8>,
    /// Its name.
    pub app_name: String,
    /// Seconds between blocks (0: a block per transaction).
    pub block_time: u64,
    /// Store, database and worker state.
    pub state_dir: PathBuf,
    /// Number of workers.
    pub workers: usize,
    /// How the scheduler settles trust-1 tasks.
    pub trust1_mode: dexec_scheduler::Trust1Mode,
    /// Trust the workerpool order offers.
    pub pool_trust: u64,
    /// Serve a market and publish the standing orders there.
    pub market: bool,
    /// Largest `pushResults` batch of the scheduler (batch mode).
    pub batch_size: usize,
    /// Replicates each worker runs at once.
    pub worker_slots: u32,
    /// Private hosts the workers fetch input files from anyway (`host:port`; the oracle
    /// demo's price servers on loopback).
    pub allowed_input_hosts: Vec<String>,
    /// The first this many workers lie about their results, each with a wrong digest of its
    /// own (`dexec worker --dishonest alone`; demonstrations and benchmarks of consensus).
    pub liars_alone: usize,
    /// The next this many workers lie together: they all vote the same wrong digest
    /// (`--dishonest collude`).
    pub liars_colluding: usize,
}

/// A running system.
pub struct Cluster {
    /// The requester's client (dev account 3).
    pub requester: Client,
    /// The chain.
    pub entry: ChainEntry,
    /// The store's URL.
    pub store_url: String,
    /// The scheduler's URL.
    pub scheduler_url: String,
    /// The app.
    pub app: alloy::primitives::Address,
    /// The workerpool.
    pub pool: alloy::primitives::Address,
    /// The market, if one was asked for.
    pub market: Option<MarketClient>,
    /// The workers' addresses, each with how it votes (`Options::liars_alone`,
    /// `Options::liars_colluding`).
    pub workers: Vec<(alloy::primitives::Address, Honesty)>,
    /// Every dev account funded on the hub (owner, providers, requester, workers): with the
    /// kitty, all the money the hub holds.
    pub accounts: Vec<alloy::primitives::Address>,
    app_order: Signed<AppOrder>,
    pool_order: Signed<WorkerpoolOrder>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    // last: anvil stops when dropped, after the services
    chain: LocalChain,
}

impl Cluster {
    /// Start everything; `log` hears each step.
    pub async fn start(options: Options, log: impl Fn(String)) -> eyre::Result<Self> {
        empty_state_dir(&options.state_dir)?;
        let state_dir = std::fs::canonicalize(&options.state_dir)?;
        let accounts = FIRST_WORKER + options.workers;
        let (stop, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };

        // the chain: deploy and fund with a block per transaction, then mine on a clock
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let builder = dexec_contracts::anvil::anvil(None)
            .port(port)
            .args(["--accounts", &accounts.to_string()]);
        let chain = LocalChain::spawn(builder, None).await?;
        let deployment = deploy_and_fund(&chain, accounts).await?;
        if options.block_time > 0 {
            let _: serde_json::Value = chain
                .provider
                .raw_request("evm_setIntervalMining".into(), (options.block_time,))
                .await
                .wrap_err("cannot set the block time")?;
        }
        let entry = ChainEntry::new(chain.chain_id, chain.rpc_url(), deployment);
        log(format!(
            "devnet at {} ({} s blocks), hub {}",
            entry.host, options.block_time, deployment.hub
        ));
        let signer = |i: usize| -> PrivateKeySigner { chain.signers[i].clone() };
        let mut tasks = Vec::new();

        // the store
        let dexec_service::ServiceHandle {
            addr: store_addr,
            task: store_task,
        } = dexec_store::serve(
            dexec_store::Config::test(state_dir.join("store")),
            stopped(),
        )
        .await?;
        tasks.push(tokio::spawn(async move {
            let _ = store_task.await;
        }));
        let store_url = format!("http://{store_addr}");
        log(format!("store at {store_url}"));

        // the app provider uploads and registers the app; the workerpool owner its pool
        let app_owner = Client::connect(&entry, Some(signer(APP_OWNER))).await?;
        let blob = dexec_sdk::store::StoreClient::new(&store_url)?
            .put(options.wasm.clone())
            .await?;
        let app = app_owner
            .deploy_app(&AppSpec {
                name: options.app_name.clone(),
                app_type: "WASM".into(),
                multiaddr: blob.url.to_string(),
                checksum: B256::from_slice(&Sha256::digest(&options.wasm)),
                mrenclave: Default::default(),
            })
            .await?;
        log(format!(
            "app `{}` {} (module in the store: {})",
            options.app_name, app.address, blob.url
        ));
        let pool_owner = Client::connect(&entry, Some(signer(POOL_OWNER))).await?;
        let pool = pool_owner
            .deploy_workerpool(&WorkerpoolSpec {
                description: "demo workerpool".into(),
            })
            .await?;
        log(format!("workerpool {}", pool.address));

        // the market, where the scheduler keeps its workerpool order open
        let market = if options.market {
            let config = dexec_market::Config::test(
                entry.clone(),
                format!("sqlite://{}", state_dir.join("market.db").display()).parse()?,
            );
            let dexec_service::ServiceHandle {
                addr,
                task: market_task,
            } = dexec_market::serve(config, stopped()).await?;
            tasks.push(tokio::spawn(async move {
                let _ = market_task.await;
            }));
            let market = MarketClient::new(
                &format!("http://{addr}"),
                entry.chain_id().unwrap_or_default(),
            )?;
            log(format!("market at {}", market.base_url()));
            Some(market)
        } else {
            None
        };

        // the scheduler and its workers
        let mut config = dexec_scheduler::Config::test(
            entry.clone(),
            signer(POOL_OWNER),
            pool.address,
            format!(
                "sqlite://{}?mode=rwc",
                state_dir.join("scheduler.db").display()
            )
            .parse()?,
        );
        config.store_url = Some(store_url.clone());
        config.poll_interval = Duration::from_millis(200);
        config.trust1_mode = options.trust1_mode;
        config.batch_size = options.batch_size;
        config.offer = market
            .as_ref()
            .map(|m| dexec_scheduler::offer::OfferPolicy {
                market_url: m.base_url().to_string(),
                price: POOL_PRICE,
                volume: 1_000_000,
                category: 0,
                trust: options.pool_trust,
                tag: B256::ZERO,
                interval: Duration::from_millis(500),
            });
        // limit orders published on the market are filled by the scheduler
        config.fill_interval = config.offer.as_ref().map(|_| Duration::from_millis(250));
        let scheduler = dexec_scheduler::serve(config, stopped()).await?;
        let scheduler_url = scheduler.url();
        tasks.push(tokio::spawn(async move {
            let _ = scheduler.task.await;
        }));
        log(format!("scheduler at {scheduler_url}"));
        let mut workers = Vec::new();
        for n in 0..options.workers {
            let mut config = dexec_worker::Config::test(
                scheduler_url.clone(),
                entry.clone(),
                signer(FIRST_WORKER + n),
                state_dir.join(format!("worker-{n}")),
            );
            config.name = format!("worker-{n}");
            config.allow_private_inputs = false;
            config.allowed_input_hosts = options.allowed_input_hosts.clone();
            let honesty = honesty(n, &options);
            config.honesty = honesty;
            config.max_concurrent = options.worker_slots;
            let worker = dexec_worker::start(config, stopped()).await?;
            workers.push((worker.address, honesty));
            let role = match honesty {
                Honesty::Honest => "",
                Honesty::LiesAlone => ", lies about its results alone",
                Honesty::Colludes => ", lies about its results with the other colluders",
            };
            log(format!("worker {n} ({}{role})", worker.address));
            tasks.push(tokio::spawn(async move {
                let _ = worker.task.await;
            }));
        }

        // standing offers: 1 RLC per run of the app, 2 RLC per task of the workerpool
        let app_order = app_owner
            .sign_order(AppOrder {
                app: app.address,
                appprice: Nrlc::from_rlc(1).to_u256(),
                volume: U256::from(1_000_000),
                salt: random_salt(),
                ..Default::default()
            })
            .await?;
        let pool_order = pool_owner
            .sign_order(WorkerpoolOrder {
                workerpool: pool.address,
                workerpoolprice: POOL_PRICE.to_u256(),
                volume: U256::from(1_000_000),
                trust: U256::from(options.pool_trust),
                salt: random_salt(),
                ..Default::default()
            })
            .await?;
        if let Some(market) = &market {
            let published = market.publish(&app_order).await?;
            log(format!(
                "app order {} published: {} per run",
                published.order_hash,
                Nrlc::from_rlc(1)
            ));
            let offered = wait_for_offer(market, pool.address).await?;
            log(format!(
                "workerpool order {} published by the scheduler: {} per task",
                offered.order_hash,
                Nrlc::from_rlc(2)
            ));
        }
        let requester = Client::connect(&entry, Some(signer(REQUESTER))).await?;
        let accounts = (0..accounts).map(|i| signer(i).address()).collect();
        Ok(Self {
            requester,
            entry,
            store_url,
            scheduler_url,
            app: app.address,
            pool: pool.address,
            market,
            workers,
            accounts,
            app_order,
            pool_order,
            stop,
            tasks,
            chain,
        })
    }

    /// The requester signs a request for `volume` tasks at `trust` with `args` and matches
    /// it with the standing offers.
    pub async fn request(&self, args: &str, trust: u64, volume: u64) -> eyre::Result<Matched> {
        let me = self.requester.address()?;
        let request = self
            .requester
            .sign_order(RequestOrder {
                app: self.app,
                appmaxprice: self.app_order.order.appprice,
                workerpool: self.pool,
                workerpoolmaxprice: self.pool_order.order.workerpoolprice,
                requester: me,
                beneficiary: me,
                volume: U256::from(volume),
                trust: U256::from(trust),
                params: serde_json::json!({ "iexec_args": args }).to_string(),
                salt: random_salt(),
                ..Default::default()
            })
            .await?;
        Ok(self
            .requester
            .match_orders(&MatchInput {
                app: self.app_order.clone(),
                dataset: None,
                workerpool: self.pool_order.clone(),
                request,
            })
            .await?)
    }

    /// The requester runs the app as `dexec app run` does: the best orders on the market,
    /// checked, then matched (one task: one deal). Needs the market.
    pub async fn run_app(&self, args: &str) -> eyre::Result<(Leg, Matched)> {
        let market = self
            .market
            .as_ref()
            .ok_or_else(|| eyre!("this cluster serves no market"))?;
        let mut exec = ExecArgs::new(self.app);
        exec.args = Some(args.to_owned());
        let prepared = prepare(
            &self.requester,
            Some(market),
            &exec,
            std::path::Path::new("."),
        )
        .await?;
        let leg = prepared
            .legs
            .into_iter()
            .next()
            .ok_or_else(|| eyre!("app run chose no orders"))?;
        let matched = self.requester.match_orders(&leg.input).await?;
        Ok((leg, matched))
    }

    /// Wait until every task of `deal` is final (polling every 50 ms); their states.
    pub async fn wait_deal(
        &self,
        deal: &DealInfo,
        timeout: Duration,
    ) -> eyre::Result<Vec<TaskInfo>> {
        let deadline = Instant::now() + timeout;
        let mut done: Vec<Option<TaskInfo>> = vec![None; deal.tasks.len()];
        loop {
            for (i, index) in deal.deal.task_indices().enumerate() {
                if done[i].is_none() {
                    let task = self.requester.task(deal, index).await?;
                    if task.status.is_final() {
                        done[i] = Some(task);
                    }
                }
            }
            if done.iter().all(Option::is_some) {
                return Ok(done.into_iter().flatten().collect());
            }
            if Instant::now() > deadline {
                let left = done.iter().filter(|t| t.is_none()).count();
                return Err(eyre!(
                    "{left} task(s) of deal {} not final after {} s",
                    deal.deal_id,
                    timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stop the services, then the chain.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        drop(self.chain);
    }
}

/// How worker `n` votes: the first `liars_alone` lie alone, the next `liars_colluding`
/// collude (liars register first, so the scheduler tends to give them the first replicates).
fn honesty(n: usize, options: &Options) -> Honesty {
    if n < options.liars_alone {
        Honesty::LiesAlone
    } else if n < options.liars_alone + options.liars_colluding {
        Honesty::Colludes
    } else {
        Honesty::Honest
    }
}

/// The open workerpool order of `pool` on `market`, once its scheduler published one.
async fn wait_for_offer(
    market: &MarketClient,
    pool: alloy::primitives::Address,
) -> eyre::Result<dexec_sdk::market::OrderView> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = market
            .orders(
                dexec_sdk::OrderKind::Workerpool,
                &dexec_sdk::market::OrderQuery {
                    workerpool: Some(pool.into()),
                    ..Default::default()
                },
            )
            .await?;
        if let Some(order) = page.orders.into_iter().next() {
            return Ok(order);
        }
        if Instant::now() > deadline {
            return Err(eyre!(
                "the scheduler published no workerpool order within 30 s (see its log)"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Marks a directory as a cluster's state, which a later run may empty.
const MARKER: &str = "dexec-cluster.state";

/// Create `dir` empty. An existing directory is emptied only if a previous run marked it (or
/// it is empty): a mistyped `--state-dir` must never wipe someone's files.
pub(crate) fn empty_state_dir(dir: &std::path::Path) -> eyre::Result<()> {
    if dir.exists() {
        let is_empty = std::fs::read_dir(dir)
            .wrap_err_with(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_none();
        if !is_empty && !dir.join(MARKER).is_file() {
            return Err(eyre!(
                "refusing to empty {}: it is not a state directory of an earlier run (no {MARKER}); \
                 choose another --state-dir",
                dir.display()
            ));
        }
        std::fs::remove_dir_all(dir).wrap_err_with(|| format!("cannot empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(MARKER),
        "state of `dexec demo` / `dexec bench e2e`; emptied by the next run\n",
    )?;
    Ok(())
}

pub(crate) fn random_salt() -> B256 {
    B256::from(rand::random::<[u8; 32]>())
}
