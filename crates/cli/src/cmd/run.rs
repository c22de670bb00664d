//! `dexec app run` and `dexec app request-execution`: buy an execution at the market's best
//! price, or publish a limit request for one.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use dexec_sdk::market::{
    AddressFilter, Liveness, MarketClient, MarketOrder, OrderQuery, OrderView,
};
use dexec_sdk::primitives::{
    tag, AppOrder, DatasetOrder, Nrlc, RequestOrder, Signed, WorkerpoolOrder,
};
use dexec_sdk::{AssetKind, Client, MatchInput, MatchPlan, Matched, OrderKind, TaskInfo};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::context::{confirm, Global};
use crate::exit::Fail;
use crate::output::{rows, Output};
use crate::project::DeployedFile;

use super::task::{watch_tasks, WatchOptions};

/// Long help of `dexec app run`.
pub const RUN_ABOUT: &str = "\
Run an app: find the orders, check, pay and make the deal, as iExec's `iexec app run`.

How the orders are chosen:
  app         if the wallet owns the app, a free order it signs now (private to itself);
              else the cheapest (then oldest) open app order on the market that admits this
              requester, dataset and workerpool, with volume left on chain;
  dataset     (with --dataset) the same rules;
  workerpool  if the wallet owns --workerpool, a free order it signs now; else the cheapest
              market order of the category that admits the app, dataset and requester, has
              the tag bits asked for (by the app, dataset and --tag) and at least --trust,
              with volume left; pools whose scheduler is known to run (its heartbeats reach
              the market) before pools the market never heard from, whatever their price
              (the market lists no order of a pool whose heartbeats stopped); without
              --category it tries categories 0, 1, 2… in turn;
  request     signed now: the orders' prices as maxima, the workerpool's category, --trust,
              --tag, --params (with --args and --input-files merged in), for the deal's tasks.
--volume N buys exactly N tasks: when no single set of orders has N left (an app order with
3 left), it makes one deal per set, best prices first (at most 16 deals), or refuses with
what is available before anything is paid.
Then it checks what the hub would refuse (incompatible orders, volume, the requester's
balance, the scheduler's stake), shows the total cost and asks before paying (--force skips
the question), matches, and prints the deal and task ids. --watch follows the tasks.

Examples:
  dexec app run 0xApp --args \"hello\" --force
  dexec app run --workerpool 0xPool --category 1 --trust 3 --watch
  dexec app run 0xApp --dataset 0xData --input-files https://example.org/a.txt";

/// Long help of `dexec app request-execution`.
pub const REQUEST_ABOUT: &str = "\
Publish a request order on the market: a limit order that any workerpool (with matching app
and dataset orders) may fill, as iExec's `iexec app request-execution`. Schedulers fill the
requests their policy accepts on their own; the answer says whether an open order matches it
now, or why none does (`dexec order show <hash>` asks again later).

The maximum prices default to the best current market price of each order kind (0 where the
market has none, and for the workerpool when no --category is given); the market checks that
the requester's hub balance covers volume × their sum.";

/// What to run, common to `run` and `request-execution`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// The app: an address, or `deployed` (the last one deployed from here) [default:
    /// deployed].
    pub app: Option<String>,
    /// A dataset the app reads: an address, or `deployed`.
    #[arg(long, value_name = "ADDRESS")]
    pub dataset: Option<String>,
    /// The workerpool to run on: an address, or `deployed` [default: the market's best].
    #[arg(long, value_name = "ADDRESS")]
    pub workerpool: Option<String>,
    /// Arguments passed to the app (iexec_args; may start with a hyphen: `--args "--seed 1"`).
    #[arg(long, allow_hyphen_values = true)]
    pub args: Option<String>,
    /// URLs of input files, comma-separated (iexec_input_files).
    #[arg(long, value_delimiter = ',', value_name = "URL,…")]
    pub input_files: Vec<String>,
    /// Work category [default: the first with an offer].
    #[arg(long)]
    pub category: Option<u64>,
    /// Trust: how many agreeing replicas the result needs (1: one worker).
    #[arg(long, default_value_t = 1)]
    pub trust: u64,
    /// Tag bits the workers must have (hex, or names such as `tee,gpu`).
    #[arg(long, default_value = "0x0")]
    pub tag: String,
    /// Contract to call with each task's result (oracle use).
    #[arg(long, value_name = "ADDRESS")]
    pub callback: Option<Address>,
    /// Who may read the results [default: the requester].
    #[arg(long, value_name = "ADDRESS")]
    pub beneficiary: Option<Address>,
    /// Request params as a JSON object (--args and --input-files are merged into it).
    #[arg(long, value_name = "JSON")]
    pub params: Option<String>,
    /// Number of tasks.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub volume: u64,
}

impl ExecArgs {
    /// One task of `app` at trust 1, no tag, no params: the command line's defaults.
    pub fn new(app: Address) -> Self {
        Self {
            app: Some(app.to_string()),
            dataset: None,
            workerpool: None,
            args: None,
            input_files: Vec::new(),
            category: None,
            trust: 1,
            tag: "0x0".into(),
            callback: None,
            beneficiary: None,
            params: None,
            volume: 1,
        }
    }
}

/// Flags of `dexec app run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Follow the tasks until they complete or fail. The deal id, task ids and cost are
    /// printed first, as soon as the match is mined (with --json: a first JSON document with
    /// "stage": "matched", then the final one); Ctrl-C stops watching, not the tasks, and says
    /// how to follow them.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: give up after this many seconds (exit code 1); with --confirms, the
    /// longest wait for the confirmations (exit code 5).
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub timeout: u64,
    /// With --watch: download each completed task's result, verified against the chain's
    /// digest, into DIR (one task), or DIR/<task id> (several). DIR must not exist yet.
    #[arg(long, value_name = "DIR", requires = "watch")]
    pub download: Option<std::path::PathBuf>,
    /// Do not ask before paying.
    #[arg(long)]
    pub force: bool,
    /// Skip the checks of the app itself before paying: that its module can be fetched from
    /// its multiaddr (as workers do), matches its on-chain checksum and runs in dexec's
    /// runtime (a module that cannot would make every task a paid error).
    #[arg(long)]
    pub skip_preflight_check: bool,
    /// Wait until the match transaction has this many confirmations (its block included)
    /// before saying the deal is made (at most --timeout seconds); a reorg that drops it is
    /// said.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub confirms: u64,
    /// With --watch: no progress lines while watching, only the outcome.
    #[arg(long)]
    pub quiet: bool,
    /// Where the tasks' results are stored: `dexec`, the workerpool's dexec store (the only
    /// provider dexec workers support; iExec's `ipfs` and `dropbox` are not), recorded in the
    /// request's params as `iexec_result_storage_provider`.
    #[arg(long, value_name = "PROVIDER")]
    pub storage_provider: Option<String>,
}

/// `--storage-provider`: only `dexec`.
fn storage_provider(value: Option<&str>) -> eyre::Result<Option<String>> {
    match value {
        None => Ok(None),
        Some("dexec") => Ok(Some("dexec".into())),
        Some(other) => Err(Fail::usage(format!(
            "--storage-provider `{other}` is not one dexec workers support: results go to the \
             workerpool's dexec store (`--storage-provider dexec`, the default)"
        ))),
    }
}

/// The checks of the app before paying (`--skip-preflight-check` skips them): its module can
/// be fetched as a worker fetches it, hashes to the on-chain checksum and runs in dexec's
/// runtime. Workers would otherwise turn every task into a paid error result.
async fn preflight(client: &Client, app: Address, store: Option<&str>) -> eyre::Result<()> {
    let info = client.asset(AssetKind::App, app).await?;
    let dexec_sdk::AssetDetails::App(spec) = info.details else {
        return Ok(());
    };
    let refused = |why: String| {
        Fail::refused(format!(
            "preflight check of app {app}: {why}; every task would end in a paid error \
             result, so nothing was paid (--skip-preflight-check runs it anyway)"
        ))
    };
    let limits = dexec_worker::fetch::Limits {
        max_bytes: 256 << 20,
        timeout: Duration::from_secs(60),
        // the requester's own view of the app's location; workers apply their own rules
        allow_private: true,
        allowed_hosts: Vec::new(),
    };
    let http = reqwest::Client::new();
    let unreachable = |e: dexec_worker::fetch::FetchError| {
        refused(format!(
            "its {} cannot be fetched from its multiaddr `{}` as workers fetch it ({e})",
            if tag::is_container_app(&spec.app_type) {
                "image"
            } else {
                "module"
            },
            spec.multiaddr
        ))
    };
    if tag::is_container_app(&spec.app_type) {
        // the image archive, checked against the manifest digest as a worker checks it
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("image.tar");
        let limits = dexec_worker::fetch::Limits {
            max_bytes: 2048 << 20,
            timeout: Duration::from_secs(600),
            ..limits
        };
        dexec_worker::fetch::fetch_to_file(&http, &spec.multiaddr, store, &path, &limits)
            .await
            .map_err(unreachable)?;
        let file = std::io::BufReader::new(std::fs::File::open(&path)?);
        dexec_runtime::oci::archive::verify(file, Some(spec.checksum.0))
            .map_err(|e| refused(format!("its image archive is not the registered one: {e}")))?;
        return Ok(());
    }
    let wasm = dexec_worker::fetch::fetch(&http, &spec.multiaddr, store, spec.checksum, &limits)
        .await
        .map_err(unreachable)?;
    let runtime = dexec_runtime::Runtime::new(dexec_runtime::RuntimeConfig::default())?;
    runtime
        .check_module(&wasm)
        .map_err(|why| refused(format!("its module cannot run in dexec's runtime: {why}")))?;
    Ok(())
}

/// `--confirms N`: wait until the match's block has `confirms` confirmations, then check that
/// the deal is still on chain.
async fn await_confirmations(
    client: &Client,
    matched: &Matched,
    confirms: u64,
    timeout: Duration,
    quiet: bool,
) -> eyre::Result<()> {
    if confirms <= 1 {
        return Ok(());
    }
    let target = matched.tx.block + confirms - 1;
    if !quiet {
        eprintln!(
            "waiting for {confirms} confirmations of the match (block {})",
            target
        );
    }
    let started = std::time::Instant::now();
    while client.block_number().await? < target {
        if started.elapsed() > timeout {
            return Err(Fail::aborted(format!(
                "the match of deal {} was mined in block {} but block {target} did not come \
                 within {} s; the deal may stand: `dexec deal show {}`",
                matched.deal_id,
                matched.tx.block,
                timeout.as_secs(),
                matched.deal_id
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    client.deal(matched.deal_id).await.map_err(|e| {
        eyre::eyre!(
            "deal {} is no longer on chain after {confirms} blocks (a reorganisation dropped the \
             match?): {e}",
            matched.deal_id
        )
    })?;
    Ok(())
}

/// Flags of `dexec app request-execution`.
#[derive(Debug, Clone, clap::Args)]
pub struct RequestArgs {
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Most the requester pays the app per task [default: the market's best app price].
    #[arg(long, value_name = "AMOUNT")]
    pub app_max_price: Option<Nrlc>,
    /// Most paid for the dataset per task [default: the market's best dataset price].
    #[arg(long, value_name = "AMOUNT")]
    pub dataset_max_price: Option<Nrlc>,
    /// Most paid to the workerpool per task [default: the market's best of the category].
    #[arg(long, value_name = "AMOUNT")]
    pub workerpool_max_price: Option<Nrlc>,
}

/// The resolved request: addresses and the params text.
#[derive(Debug, Clone)]
struct Want {
    me: Address,
    app: Address,
    dataset: Option<Address>,
    workerpool: Option<Address>,
    tag: B256,
    params: String,
}

fn resolve(
    kind: AssetKind,
    value: &Option<String>,
    deployed: &DeployedFile,
    chain_id: u64,
) -> eyre::Result<Option<Address>> {
    match value.as_deref() {
        None => Ok(None),
        Some("deployed") => deployed.get(kind, chain_id).map(Some).ok_or_else(|| {
            Fail::usage(format!(
                "no {kind} deployed from this directory on chain {chain_id} (deployed.json): \
                 pass its address"
            ))
        }),
        Some(text) => text.parse().map(Some).map_err(|_| {
            Fail::usage(format!(
                "--{kind} `{text}` is neither an address (0x and 40 hex digits) nor `deployed`"
            ))
        }),
    }
}

/// The request's params: --params, with --args and --input-files merged in.
fn params(exec: &ExecArgs) -> eyre::Result<String> {
    let mut map = match &exec.params {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(Fail::usage("--params must be a JSON object")),
            Err(e) => return Err(Fail::usage(format!("--params is not JSON: {e}"))),
        },
    };
    if let Some(args) = &exec.args {
        map.insert("iexec_args".into(), json!(args));
    }
    if !exec.input_files.is_empty() {
        for url in &exec.input_files {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Fail::usage(format!(
                    "--input-files: `{url}` is not an http(s) URL (workers download inputs)"
                )));
            }
        }
        map.insert("iexec_input_files".into(), json!(exec.input_files));
    }
    Ok(if map.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&map)?
    })
}

/// What `exec` asks for. A container app's tasks need workers that run containers: its
/// request carries the `container` tag whatever --tag says.
async fn want(exec: &ExecArgs, client: &Client, dir: &Path) -> eyre::Result<Want> {
    let chain_id = client.chain_id();
    let deployed = DeployedFile::load(dir)?;
    let app = match resolve(AssetKind::App, &exec.app, &deployed, chain_id)? {
        Some(app) => app,
        None => resolve(
            AssetKind::App,
            &Some("deployed".into()),
            &deployed,
            chain_id,
        )?
        .expect("`deployed` resolves or fails"),
    };
    Ok(Want {
        me: client.address()?,
        app,
        dataset: resolve(AssetKind::Dataset, &exec.dataset, &deployed, chain_id)?,
        workerpool: resolve(AssetKind::Workerpool, &exec.workerpool, &deployed, chain_id)?,
        tag: tag::parse(&exec.tag).map_err(|e| Fail::usage(format!("--tag: {e}")))?
            | app_type_tag(client, app).await,
        params: params(exec)?,
    })
}

/// The tag bits the app's type needs (`container` for an `OCI` app); none for an app that
/// cannot be read (the next steps say why).
async fn app_type_tag(client: &Client, app: Address) -> B256 {
    match client
        .asset(AssetKind::App, app)
        .await
        .map(|info| info.details)
    {
        Ok(dexec_sdk::AssetDetails::App(spec)) => tag::required_by_app_type(&spec.app_type),
        _ => B256::ZERO,
    }
}

fn text(address: Option<Address>) -> Option<AddressFilter> {
    address.map(AddressFilter::Only)
}

fn salt() -> B256 {
    B256::from(rand::random::<[u8; 32]>())
}

/// The app orders that admit this request (at most its tag).
fn app_query(want: &Want) -> OrderQuery {
    OrderQuery {
        app: text(Some(want.app)),
        dataset: text(want.dataset),
        workerpool: text(want.workerpool),
        requester: text(Some(want.me)),
        max_tag: Some(want.tag.to_string()),
        ..OrderQuery::default()
    }
}

/// The orders of `dataset` that admit this request.
fn dataset_query(want: &Want, dataset: Address) -> OrderQuery {
    OrderQuery {
        dataset: text(Some(dataset)),
        app: text(Some(want.app)),
        workerpool: text(want.workerpool),
        requester: text(Some(want.me)),
        max_tag: Some(want.tag.to_string()),
        ..OrderQuery::default()
    }
}

/// The workerpool orders of `category` that admit this request, with the `tag` bits and at
/// least `trust`.
fn workerpool_query(want: &Want, category: u64, tag: B256, trust: u64) -> OrderQuery {
    OrderQuery {
        workerpool: text(want.workerpool),
        category: Some(category),
        app: text(Some(want.app)),
        dataset: text(want.dataset),
        requester: text(Some(want.me)),
        min_tag: Some(tag.to_string()),
        min_trust: Some(trust),
        ..OrderQuery::default()
    }
}

/// The best order of `T` on the market for `query` that still has volume on chain.
pub(crate) async fn best<T: MarketOrder>(
    client: &Client,
    market: &MarketClient,
    query: OrderQuery,
) -> eyre::Result<Option<Signed<T>>> {
    let query = OrderQuery {
        page_size: Some(100),
        ..query
    };
    let page = market.orders(T::KIND, &query).await?;
    for view in page.orders {
        let Some(order) = view.order.into_signed::<T>() else {
            tracing::warn!(hash = %view.order_hash, "the market served an order this client cannot read; skipped");
            continue;
        };
        if !client.order_status(&order).await?.remaining.is_zero() {
            return Ok(Some(order));
        }
    }
    Ok(None)
}

/// Orders of one kind to buy from, best first, each with the tasks it has left on chain.
#[derive(Debug, Clone)]
struct Supply<T> {
    orders: VecDeque<(Signed<T>, u64)>,
}

impl<T> Supply<T> {
    /// One order the wallet signs itself, for `volume` tasks.
    fn one(order: Signed<T>, volume: u64) -> Self {
        Self {
            orders: VecDeque::from([(order, volume)]),
        }
    }

    /// Tasks left in all.
    fn total(&self) -> u64 {
        self.orders
            .iter()
            .fold(0u64, |sum, (_, left)| sum.saturating_add(*left))
    }

    /// The best order with tasks left, and how many.
    fn head(&self) -> Option<&(Signed<T>, u64)> {
        self.orders.front()
    }

    /// `n` tasks bought from the best order.
    fn take(&mut self, n: u64) {
        if let Some((_, left)) = self.orders.front_mut() {
            *left = left.saturating_sub(n);
            if *left == 0 {
                self.orders.pop_front();
            }
        }
    }
}

/// The market's orders in `views` this client can read, in the market's order.
fn readable<T: MarketOrder>(views: Vec<OrderView>) -> Vec<Signed<T>> {
    views
        .into_iter()
        .filter_map(|view| {
            let hash = view.order_hash;
            let order = view.order.into_signed::<T>();
            if order.is_none() {
                tracing::warn!(%hash, "the market served an order this client cannot read; skipped");
            }
            order
        })
        .collect()
}

/// `orders` (best first) that still have tasks left on chain, until they hold `wanted` in all.
async fn supply_of<T: MarketOrder>(
    client: &Client,
    orders: Vec<Signed<T>>,
    wanted: u64,
) -> eyre::Result<Supply<T>> {
    let mut supply = Supply {
        orders: VecDeque::new(),
    };
    for order in orders {
        if supply.total() >= wanted {
            break;
        }
        let left: u64 = client.order_status(&order).await?.remaining.saturating_to();
        if left > 0 {
            supply.orders.push_back((order, left));
        }
    }
    Ok(supply)
}

/// The market's orders of `T` for `query` (best first) with tasks left, up to `wanted`.
async fn market_supply<T: MarketOrder>(
    client: &Client,
    market: &MarketClient,
    query: OrderQuery,
    wanted: u64,
) -> eyre::Result<Supply<T>> {
    let query = OrderQuery {
        page_size: Some(100),
        ..query
    };
    let page = market.orders(T::KIND, &query).await?;
    supply_of(client, readable(page.orders), wanted).await
}

/// Most pools whose liveness `app run` asks the market for.
const LIVENESS_ASKED: usize = 20;

/// `orders` with those of pools whose scheduler is known to run (its heartbeats reach the
/// market) first, then pools the market knows nothing of; each group keeps the market's
/// order (best price first). The market lists no offline pool's orders; one that cannot say
/// (an older market) leaves the order as it is.
async fn prefer_live(
    market: &MarketClient,
    orders: Vec<Signed<WorkerpoolOrder>>,
) -> Vec<Signed<WorkerpoolOrder>> {
    let mut rank: HashMap<Address, Liveness> = HashMap::new();
    for order in &orders {
        let pool = order.order.workerpool;
        if rank.contains_key(&pool) || rank.len() >= LIVENESS_ASKED {
            continue;
        }
        let liveness = market
            .liveness(pool)
            .await
            .map_or(Liveness::Unknown, |l| l.liveness);
        rank.insert(pool, liveness);
    }
    let mut orders = orders;
    orders.sort_by_key(|o| {
        rank.get(&o.order.workerpool)
            .copied()
            .unwrap_or(Liveness::Unknown)
    });
    orders
}

fn none_found(kind: &str, what: String) -> eyre::Report {
    Fail::not_found(format!(
        "no {kind} order matching your conditions is currently available on the market \
         ({what})"
    ))
}

/// The app orders: a free private one if the wallet owns the app, else the market's best.
async fn app_supply(
    client: &Client,
    market: Option<&MarketClient>,
    want: &Want,
    volume: u64,
) -> eyre::Result<Supply<AppOrder>> {
    if owns(client, AssetKind::App, want.app, want.me).await? {
        let order = client
            .sign_order(AppOrder {
                app: want.app,
                appprice: U256::ZERO,
                volume: U256::from(volume),
                tag: B256::ZERO,
                datasetrestrict: Address::ZERO,
                workerpoolrestrict: Address::ZERO,
                requesterrestrict: want.me,
                salt: salt(),
            })
            .await?;
        return Ok(Supply::one(order, volume));
    }
    let market = need_market(market, "app")?;
    let supply = market_supply(client, market, app_query(want), volume).await?;
    if supply.head().is_none() {
        return Err(none_found("app", format!("app {}", want.app)));
    }
    Ok(supply)
}

/// Whether `me` owns `asset`; an unregistered asset is an error.
async fn owns(client: &Client, kind: AssetKind, asset: Address, me: Address) -> eyre::Result<bool> {
    let owner = client
        .asset_owner(kind, asset)
        .await?
        .ok_or_else(|| Fail::not_found(format!("{kind} {asset} is not registered on this hub")))?;
    Ok(owner == me)
}

fn need_market<'a>(market: Option<&'a MarketClient>, kind: &str) -> eyre::Result<&'a MarketClient> {
    market.ok_or_else(|| {
        Fail::usage(format!(
            "the wallet does not own the {kind}, and no market is configured to find an order \
             for it: pass --market <URL>"
        ))
    })
}

async fn dataset_supply(
    client: &Client,
    market: Option<&MarketClient>,
    want: &Want,
    dataset: Address,
    volume: u64,
) -> eyre::Result<Supply<DatasetOrder>> {
    if owns(client, AssetKind::Dataset, dataset, want.me).await? {
        let order = client
            .sign_order(DatasetOrder {
                dataset,
                datasetprice: U256::ZERO,
                volume: U256::from(volume),
                tag: B256::ZERO,
                apprestrict: want.app,
                workerpoolrestrict: Address::ZERO,
                requesterrestrict: want.me,
                salt: salt(),
            })
            .await?;
        return Ok(Supply::one(order, volume));
    }
    let market = need_market(market, "dataset")?;
    let supply = market_supply(client, market, dataset_query(want, dataset), volume).await?;
    if supply.head().is_none() {
        return Err(none_found("dataset", format!("dataset {dataset}")));
    }
    Ok(supply)
}

fn or_tags(tags: &[B256]) -> B256 {
    tags.iter().fold(B256::ZERO, |acc, t| acc | *t)
}

/// The workerpool orders: a free one if the wallet owns --workerpool, else the market's best of
/// the first category (walking up from 0 when none is given) that has any, pools whose
/// scheduler is known to run first ([`prefer_live`]).
async fn workerpool_supply(
    client: &Client,
    market: Option<&MarketClient>,
    want: &Want,
    exec: &ExecArgs,
    required_tag: B256,
) -> eyre::Result<Supply<WorkerpoolOrder>> {
    if let Some(pool) = want.workerpool {
        if owns(client, AssetKind::Workerpool, pool, want.me).await? {
            let order = client
                .sign_order(WorkerpoolOrder {
                    workerpool: pool,
                    workerpoolprice: U256::ZERO,
                    volume: U256::from(exec.volume),
                    tag: required_tag,
                    category: U256::from(exec.category.unwrap_or(0)),
                    trust: U256::from(exec.trust),
                    apprestrict: want.app,
                    datasetrestrict: want.dataset.unwrap_or_default(),
                    requesterrestrict: want.me,
                    salt: salt(),
                })
                .await?;
            return Ok(Supply::one(order, exec.volume));
        }
    }
    let market = need_market(market, "workerpool")?;
    let categories = match exec.category {
        Some(c) => c..c + 1,
        None => 0..client.category_count().await?,
    };
    for category in categories.clone() {
        let query = OrderQuery {
            page_size: Some(100),
            ..workerpool_query(want, category, required_tag, exec.trust)
        };
        let page = market.orders(OrderKind::Workerpool, &query).await?;
        let orders = prefer_live(market, readable(page.orders)).await;
        let supply = supply_of(client, orders, exec.volume).await?;
        if supply.head().is_some() {
            return Ok(supply);
        }
    }
    Err(none_found(
        "workerpool",
        format!(
            "categor{} {}, trust ≥ {}, tag ⊇ {}{}",
            if categories.end - categories.start == 1 {
                "y"
            } else {
                "ies"
            },
            if categories.is_empty() {
                "none".to_owned()
            } else if categories.end - categories.start == 1 {
                categories.start.to_string()
            } else {
                format!("{}–{}", categories.start, categories.end - 1)
            },
            exec.trust,
            required_tag,
            want.workerpool
                .map_or(String::new(), |p| format!(", workerpool {p}")),
        ),
    ))
}

/// One deal `app run` would make: its orders, and what the match would cost.
#[derive(Debug, Clone)]
pub struct Leg {
    /// The four orders (the request for this deal's tasks only).
    pub input: MatchInput,
    /// The hub's terms and cost, checked.
    pub plan: MatchPlan,
}

/// The deals `app run` would make: one, unless no single deal on the best orders can buy
/// --volume tasks (an app order with 3 left, a pool with 10): then one deal per set of orders,
/// best prices first, each with a request for its own share of the tasks.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The deals, in the order they are made.
    pub legs: Vec<Leg>,
}

impl Prepared {
    /// Tasks bought in all.
    pub fn volume(&self) -> u64 {
        self.legs.iter().map(|l| l.plan.volume).sum()
    }

    /// What the requester pays in all.
    pub fn total_cost(&self) -> Nrlc {
        Nrlc(self.legs.iter().map(|l| l.plan.total_cost.0).sum())
    }
}

/// Most deals one `app run` makes.
pub const MAX_DEALS: usize = 16;

/// Choose and sign the orders for `exec` (steps 1–6 of `app run`) and check the matches.
pub async fn prepare(
    client: &Client,
    market: Option<&MarketClient>,
    exec: &ExecArgs,
    dir: &Path,
) -> eyre::Result<Prepared> {
    let want = want(exec, client, dir).await?;
    let mut apps = app_supply(client, market, &want, exec.volume).await?;
    let mut datasets = match want.dataset {
        Some(d) => Some(dataset_supply(client, market, &want, d, exec.volume).await?),
        None => None,
    };
    // a pool must have the tag bits of every app and dataset order it may run with
    let mut tags = vec![want.tag];
    tags.extend(apps.orders.iter().map(|(o, _)| o.order.tag));
    if let Some(datasets) = &datasets {
        tags.extend(datasets.orders.iter().map(|(o, _)| o.order.tag));
    }
    let required_tag = or_tags(&tags);
    let mut pools = workerpool_supply(client, market, &want, exec, required_tag).await?;
    let offered = [
        ("app", Some(apps.total())),
        ("dataset", datasets.as_ref().map(Supply::total)),
        ("workerpool", Some(pools.total())),
    ];
    let mut legs = Vec::new();
    let mut left = exec.volume;
    while left > 0 && legs.len() < MAX_DEALS {
        let (Some((app, app_left)), Some((pool, pool_left))) = (apps.head(), pools.head()) else {
            break;
        };
        let dataset = match &datasets {
            None => None,
            Some(supply) => match supply.head() {
                Some(head) => Some(head.clone()),
                None => break,
            },
        };
        let volume = left
            .min(*app_left)
            .min(*pool_left)
            .min(dataset.as_ref().map_or(u64::MAX, |(_, l)| *l));
        let request = client
            .sign_order(RequestOrder {
                app: want.app,
                appmaxprice: app.order.appprice,
                dataset: want.dataset.unwrap_or_default(),
                datasetmaxprice: dataset
                    .as_ref()
                    .map_or(U256::ZERO, |(d, _)| d.order.datasetprice),
                workerpool: pool.order.workerpool,
                workerpoolmaxprice: pool.order.workerpoolprice,
                requester: want.me,
                volume: U256::from(volume),
                tag: want.tag,
                category: pool.order.category,
                trust: U256::from(exec.trust),
                beneficiary: exec.beneficiary.unwrap_or(want.me),
                callback: exec.callback.unwrap_or_default(),
                params: want.params.clone(),
                salt: salt(),
            })
            .await?;
        let input = MatchInput {
            app: app.clone(),
            dataset: dataset.map(|(d, _)| d),
            workerpool: pool.clone(),
            request,
        };
        let plan = client.plan_match(&input).await?;
        // the request binds the deal's volume; less only if the chain moved meanwhile
        let bought = plan.volume.min(volume);
        apps.take(bought);
        pools.take(bought);
        if let Some(datasets) = &mut datasets {
            datasets.take(bought);
        }
        left -= bought;
        legs.push(Leg { input, plan });
    }
    if left > 0 {
        // never buy fewer tasks than asked without saying so: refuse, and say what is there
        let available = exec.volume - left;
        let short: Vec<String> = offered
            .iter()
            .filter_map(|(kind, total)| {
                let total = (*total)?;
                (total < exec.volume).then(|| format!("the {kind} orders have {total} left in all"))
            })
            .collect();
        let why = if short.is_empty() {
            format!("it would take more than {MAX_DEALS} deals")
        } else {
            short.join(", ")
        };
        return Err(Fail::refused(format!(
            "--volume {wanted} asks for {wanted} task(s), but the orders available now can buy \
             only {available}: {why}. Run with --volume {available}, or choose other orders \
             (--workerpool, or wait for offers with more volume); nothing was paid",
            wanted = exec.volume,
        )));
    }
    let prepared = Prepared { legs };
    if prepared.legs.len() > 1 {
        // each plan checked its own deal's cost; the payer must cover them all
        let free = client.account_free(want.me).await?;
        let total = prepared.total_cost();
        if free < total {
            return Err(Fail::refused(format!(
                "the {} deals cost {total} in all but {} has {free} free on the hub: deposit \
                 more (`dexec account deposit`) or ask for fewer tasks; nothing was paid",
                prepared.legs.len(),
                want.me
            )));
        }
    }
    Ok(prepared)
}

/// The chosen orders, one line each.
fn describe_orders(input: &MatchInput) -> String {
    let (app, pool) = (&input.app.order, &input.workerpool.order);
    rows(&[
        ("app", format!("{} at {}", app.app, nrlc(app.appprice))),
        (
            "dataset",
            input.dataset.as_ref().map_or("-".into(), |d| {
                format!("{} at {}", d.order.dataset, nrlc(d.order.datasetprice))
            }),
        ),
        (
            "workerpool",
            format!(
                "{} at {} (category {}, trust {})",
                pool.workerpool,
                nrlc(pool.workerpoolprice),
                pool.category,
                pool.trust
            ),
        ),
    ])
}

/// What `app run` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RunOutput {
    /// The deals made (one unless --volume took several sets of orders).
    deals: Vec<DealOutput>,
    /// Tasks bought in all.
    volume: u64,
    /// What was paid in all.
    total_cost: Nrlc,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_states: Option<Vec<TaskInfo>>,
}

/// One deal of `app run`: the match and the orders it took.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DealOutput {
    #[serde(flatten)]
    matched: Matched,
    orders: Value,
}

fn order_hashes(client: &Client, input: &MatchInput) -> Value {
    json!({
        "apporder": client.order_hash(&input.app.order),
        "datasetorder": input.dataset.as_ref().map(|d| client.order_hash(&d.order)),
        "workerpoolorder": client.order_hash(&input.workerpool.order),
        "requestorder": client.order_hash(&input.request.order),
    })
}

/// The question before paying: how many tasks, at what price, in how many deals.
fn cost_question(prepared: &Prepared) -> String {
    let legs = &prepared.legs;
    let payer = legs.first().map(|l| l.plan.payer).unwrap_or_default();
    let how = match legs.as_slice() {
        [one] => format!("at {} each", one.plan.price_per_task),
        several => format!(
            "in {} deals ({})",
            several.len(),
            several
                .iter()
                .map(|l| format!("{} at {}", l.plan.volume, l.plan.price_per_task))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "Run {} task(s) {how}: spend {} from {payer}'s hub account?",
        prepared.volume(),
        prepared.total_cost()
    )
}

/// Run `dexec app run`.
pub async fn run(args: RunArgs, global: &Global) -> eyre::Result<Output> {
    let client = global.signer().await?;
    let market = match global.market(&client) {
        Ok(market) => Some(market),
        Err(_) if global.market.is_none() => None,
        Err(e) => return Err(e),
    };
    let mut exec = args.exec.clone();
    if let Some(provider) = storage_provider(args.storage_provider.as_deref())? {
        let mut map = match exec.params.as_deref().map(serde_json::from_str::<Value>) {
            None => Map::new(),
            Some(Ok(Value::Object(map))) => map,
            Some(_) => return Err(Fail::usage("--params must be a JSON object")),
        };
        map.insert("iexec_result_storage_provider".into(), json!(provider));
        exec.params = Some(Value::Object(map).to_string());
    }
    if !args.skip_preflight_check {
        let want = want(&exec, &client, Path::new(".")).await?;
        let store = global.chain_entry().ok().and_then(|(_, entry)| entry.store);
        preflight(&client, want.app, store.as_deref()).await?;
    }
    let prepared = prepare(&client, market.as_ref(), &exec, Path::new(".")).await?;
    if !global.json {
        for leg in &prepared.legs {
            eprint!("{}", describe_orders(&leg.input));
        }
    }
    confirm(&cost_question(&prepared), args.force)?;
    // listening before the ids are out: a Ctrl-C right after them must find the handler
    let mut interrupt = if args.watch {
        Some(tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::interrupt(),
        )?)
    } else {
        None
    };
    let mut made: Vec<(Matched, Value)> = Vec::new();
    let mut text = String::new();
    for leg in &prepared.legs {
        let matched = match client.match_orders(&leg.input).await {
            Ok(matched) => matched,
            Err(e) if made.is_empty() => return Err(e.into()),
            Err(e) => {
                let deals: Vec<String> = made.iter().map(|(m, _)| m.deal_id.to_string()).collect();
                return Err(eyre::eyre!(
                    "bought {} of {} task(s) in deal(s) {}, then the next match failed: {e}. \
                     The deals made run on: follow them with `dexec deal show <deal>`; run \
                     again for the rest",
                    made.iter().map(|(m, _)| m.tasks.len()).sum::<usize>(),
                    prepared.volume(),
                    deals.join(", ")
                ));
            }
        };
        await_confirmations(
            &client,
            &matched,
            args.confirms,
            Duration::from_secs(args.timeout),
            args.quiet || global.json,
        )
        .await?;
        let described = super::order::describe_matched(&matched);
        if args.watch {
            // the ids and the cost the moment the match is mined, before watching: whatever
            // happens to the watch (Ctrl-C, a timeout), the user knows what was bought
            announce_matched(&matched, &described, global.json);
        } else {
            text.push_str(&described);
        }
        made.push((matched, order_hashes(&client, &leg.input)));
    }
    let task_states = match &mut interrupt {
        Some(interrupt) => {
            let watching = async {
                let mut all = Vec::new();
                for (matched, _) in &made {
                    let deal = client.deal(matched.deal_id).await?;
                    let options = WatchOptions {
                        timeout: Duration::from_secs(args.timeout),
                        progress: !args.quiet,
                    };
                    all.extend(watch_tasks(&client, &deal, options).await?);
                }
                Ok::<_, eyre::Report>(all)
            };
            let deals: Vec<String> = made.iter().map(|(m, _)| m.deal_id.to_string()).collect();
            let follow = deals
                .iter()
                .map(|d| format!("`dexec deal show {d}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let tasks = tokio::select! {
                tasks = watching => tasks?,
                _ = interrupt.recv() => return Err(Fail::aborted(format!(
                    "stopped watching; deal {} and its task(s) run on without you: follow them \
                     with {follow} (or `dexec deal list`), get a result with \
                     `dexec result download <task>`",
                    deals.join(", ")
                ))),
            };
            let done = tasks
                .iter()
                .filter(|t| t.status == dexec_sdk::TaskStatus::Completed)
                .count();
            text.push_str(&format!("completed {done} of {} task(s)\n", tasks.len()));
            // completed is not succeeded: say which tasks' apps produced no result
            let mut app_errors = Vec::new();
            for task in tasks.iter().take(INSPECTED_TASKS) {
                if let super::task::ResultOutcome::AppError(error) =
                    super::task::ResultOutcome::of(task).await
                {
                    app_errors.push((task.task_id, error));
                }
            }
            if let Some((first, error)) = app_errors.first() {
                return Err(Fail::app_error(format!(
                    "{} of {} task(s) completed with an app error; task {first}: {error} \
                     (`dexec result download {first}` gets the workers' error result)",
                    app_errors.len(),
                    tasks.len().min(INSPECTED_TASKS),
                )));
            }
            if done < tasks.len() {
                return Err(eyre::eyre!(
                    "{} of {} task(s) did not complete (see {follow})",
                    tasks.len() - done,
                    tasks.len(),
                ));
            }
            if let Some(dir) = &args.download {
                if dir.exists() {
                    return Err(Fail::refused(format!(
                        "{} exists already: the tasks completed, get their results with `dexec \
                         result download <task> --out <new dir>`",
                        dir.display()
                    )));
                }
                for task in &tasks {
                    let out = if tasks.len() == 1 {
                        dir.clone()
                    } else {
                        dir.join(task.task_id.to_string())
                    };
                    let verified = super::result::download(&client, task, &out).await?;
                    text.push_str(&format!(
                        "result of task {} in {} (digest {} verified against the chain)\n",
                        task.task_id,
                        out.display(),
                        verified.digest
                    ));
                }
            }
            Some(tasks)
        }
        None => None,
    };
    Output::new(
        crate::json::with_units(RunOutput {
            volume: prepared.volume(),
            total_cost: Nrlc(made.iter().map(|(m, _)| m.total_cost.0).sum()),
            deals: made
                .into_iter()
                .map(|(matched, orders)| DealOutput { matched, orders })
                .collect(),
            task_states,
        })?,
        text,
    )
}

/// How many completed tasks `app run --watch` downloads to tell app errors from results.
const INSPECTED_TASKS: usize = 100;

/// Print the match at once (`app run --watch`): its text on stdout, or with `--json` a first
/// JSON document `{"ok": true, "stage": "matched", …}` on one line (the final one follows).
fn announce_matched(matched: &Matched, text: &str, json: bool) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let line = if json {
        let mut value = crate::json::with_units(matched).unwrap_or_default();
        if let Value::Object(map) = &mut value {
            map.insert("ok".into(), Value::Bool(true));
            map.insert("stage".into(), Value::String("matched".into()));
        }
        value.to_string()
    } else {
        text.trim_end().to_owned()
    };
    // a closed stdout must not stop the watch: the ids are also in the final output
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// Best current market price of `T` for `query`, or 0.
async fn market_price<T: MarketOrder>(
    client: &Client,
    market: &MarketClient,
    query: OrderQuery,
    price: fn(&T) -> U256,
) -> eyre::Result<U256> {
    Ok(best::<T>(client, market, query)
        .await?
        .map_or(U256::ZERO, |o| price(&o.order)))
}

fn nrlc(amount: U256) -> Nrlc {
    Nrlc(u128::try_from(amount).unwrap_or(u128::MAX))
}

/// Run `dexec app request-execution`.
pub async fn request_execution(args: RequestArgs, global: &Global) -> eyre::Result<Output> {
    let client = global.signer().await?;
    let market = global.market(&client)?;
    let exec = &args.exec;
    let want = want(exec, &client, Path::new(".")).await?;
    let app_max = match args.app_max_price {
        Some(p) => U256::from(p.0),
        None => {
            market_price::<AppOrder>(&client, &market, app_query(&want), |o| o.appprice).await?
        }
    };
    let dataset_max = match (args.dataset_max_price, want.dataset) {
        (Some(p), _) => U256::from(p.0),
        (None, None) => U256::ZERO,
        (None, Some(dataset)) => {
            let query = dataset_query(&want, dataset);
            market_price::<DatasetOrder>(&client, &market, query, |o| o.datasetprice).await?
        }
    };
    let workerpool_max = match (args.workerpool_max_price, exec.category) {
        (Some(p), _) => U256::from(p.0),
        (None, None) => U256::ZERO,
        (None, Some(category)) => {
            let query = workerpool_query(&want, category, want.tag, exec.trust);
            market_price::<WorkerpoolOrder>(&client, &market, query, |o| o.workerpoolprice).await?
        }
    };
    let sum = [app_max, dataset_max, workerpool_max]
        .iter()
        .fold(U256::ZERO, |a, b| a.saturating_add(*b));
    if sum > U256::from(Nrlc::MAX_ORDER_PRICE.0) {
        return Err(Fail::usage(format!(
            "the max prices add up to {}, more than one task may cost, {} (the market's limit)",
            nrlc(sum),
            Nrlc::MAX_ORDER_PRICE
        )));
    }
    let request = client
        .sign_order(RequestOrder {
            app: want.app,
            appmaxprice: app_max,
            dataset: want.dataset.unwrap_or_default(),
            datasetmaxprice: dataset_max,
            workerpool: want.workerpool.unwrap_or_default(),
            workerpoolmaxprice: workerpool_max,
            requester: want.me,
            volume: U256::from(exec.volume),
            tag: want.tag,
            category: U256::from(exec.category.unwrap_or(0)),
            trust: U256::from(exec.trust),
            beneficiary: exec.beneficiary.unwrap_or(want.me),
            callback: exec.callback.unwrap_or_default(),
            params: want.params,
            salt: salt(),
        })
        .await?;
    let view = market.publish(&request).await?;
    let outlook = crate::cmd::order::fill_outlook(&market, &request.order).await?;
    let text = rows(&[
        ("requestorder", view.order_hash.to_string()),
        (
            "max prices",
            format!(
                "app {}, dataset {}, workerpool {}",
                nrlc(app_max),
                nrlc(dataset_max),
                nrlc(workerpool_max)
            ),
        ),
        ("volume", view.remaining.to_string()),
        ("market", market.base_url().to_string()),
        ("fill", outlook.sentence()),
    ]);
    Output::new(
        crate::json::with_units(json!({ "published": view, "order": request, "fill": outlook }))?,
        text,
    )
}
