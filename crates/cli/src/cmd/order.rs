//! `dexec order`: order templates, signing, on-chain cancellation, status and filling.

use std::path::Path;

use alloy::primitives::{Address, B256};
use dexec_sdk::primitives::{
    tag, AppOrder, DatasetOrder, Nrlc, RequestOrder, Signed, WorkerpoolOrder,
};
use dexec_sdk::{AssetKind, Client, HubOrder, MatchInput, OrderKind, OrderStatus};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use dexec_sdk::market::{MarketClient, MarketOrder, OrderView};

use crate::context::{confirm, Global};
use crate::exit::Fail;
use crate::output::{rows, table, Output};
use crate::project::{DeployedFile, OrdersFile, Project};

use super::tx_line;

/// Long help of `dexec order`.
pub const LONG_ABOUT: &str = "\
Write, sign, cancel, inspect and fill orders, as iExec's `iexec order`.

Orders are EIP-712 messages signed off-chain by their owner and matched on-chain by the hub:
  --app         an app order (app owner): price per run, volume, restrictions
  --dataset     a dataset order (dataset owner)
  --workerpool  a workerpool order (scheduler): price, category, trust, tag
  --request     a request order (requester): app, max prices, category, trust, params

Flow:
  dexec order init --app       # template in dexec.json (order.apporder), from deployed.json
  (edit dexec.json: prices accept \"1.5 RLC\", tags accept \"tee,gpu\", params an object)
  dexec order sign --app       # signs it into orders.json (per chain id)
  dexec order show             # the signed orders and their remaining volume on chain
  dexec order fill             # matches app + workerpool (+ dataset) + request into a deal
  dexec order publish --app    # lists it on the market, where `dexec app run` finds it
  dexec order unpublish --app  # takes it off the market (still valid on chain)
  dexec order cancel --app     # closes the order on chain, for good

Signing checks that the wallet owns the asset (or is the requester) first. A signed order in
orders.json is never replaced silently: `sign` refuses unless --force, and then saves the old
one to orders.json.bak.";

/// Arguments of `dexec order`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// Which order kinds a command acts on.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
struct Kinds {
    /// The app order.
    #[arg(long)]
    app: bool,
    /// The dataset order.
    #[arg(long)]
    dataset: bool,
    /// The workerpool order.
    #[arg(long)]
    workerpool: bool,
    /// The request order.
    #[arg(long)]
    request: bool,
}

impl Kinds {
    fn selected(self) -> Vec<OrderKind> {
        [
            (self.app, OrderKind::App),
            (self.dataset, OrderKind::Dataset),
            (self.workerpool, OrderKind::Workerpool),
            (self.request, OrderKind::Request),
        ]
        .into_iter()
        .filter_map(|(on, kind)| on.then_some(kind))
        .collect()
    }

    fn required(self) -> eyre::Result<Vec<OrderKind>> {
        let kinds = self.selected();
        if kinds.is_empty() {
            return Err(Fail::usage(
                "choose at least one of --app, --dataset, --workerpool, --request",
            ));
        }
        Ok(kinds)
    }
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write order templates into dexec.json (addresses from deployed.json and the wallet).
    Init {
        #[command(flatten)]
        kinds: Kinds,
        /// Replace existing templates.
        #[arg(long)]
        force: bool,
    },
    /// Sign the templates of dexec.json into orders.json.
    Sign {
        #[command(flatten)]
        kinds: Kinds,
        /// Replace a different signed order already in orders.json (it is saved to
        /// orders.json.bak).
        #[arg(long)]
        force: bool,
    },
    /// Cancel signed orders of orders.json on chain (their remaining volume becomes zero).
    Cancel {
        #[command(flatten)]
        kinds: Kinds,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
    /// Publish signed orders of orders.json on the market (it checks them against the chain
    /// first: signer, asset, volume left, balance or stake).
    Publish {
        #[command(flatten)]
        kinds: Kinds,
    },
    /// Take orders off the market's book: those of orders.json for the flags, or the given
    /// hashes. They stay valid on chain; `dexec order cancel` closes them for good.
    Unpublish {
        #[command(flatten)]
        kinds: Kinds,
        /// Hashes of orders to unpublish (signed by the wallet).
        #[arg(value_name = "ORDER_HASH")]
        hashes: Vec<B256>,
    },
    /// Show the signed orders of orders.json and their state on chain (all without flags), or
    /// orders of the market by hash: their book status (open, filled, cancelled, dead,
    /// unpublished, offline) and what is left on chain.
    Show {
        #[command(flatten)]
        kinds: Kinds,
        /// Hashes of orders on the market to show instead of orders.json's.
        #[arg(value_name = "HASH", conflicts_with_all = ["app", "dataset", "workerpool", "request"])]
        hashes: Vec<B256>,
    },
    /// Match orders into a deal: the signed orders of orders.json, or orders of the market
    /// named by hash (`--request <hash>` fills a requester's limit order, as iExec's `order
    /// fill --request`). Without a request, one is signed from the template or from the other
    /// orders.
    Fill {
        /// Params of the request when one is built here (JSON, e.g.
        /// '{"iexec_args":"hello"}').
        #[arg(long, conflicts_with = "request")]
        params: Option<String>,
        /// The request order: this hash on the market [default: orders.json's, or one signed
        /// here].
        #[arg(long, value_name = "HASH")]
        request: Option<B256>,
        /// The app order: this hash on the market [default: orders.json's].
        #[arg(long, value_name = "HASH")]
        app: Option<B256>,
        /// The dataset order: this hash on the market [default: orders.json's, when the
        /// request names a dataset].
        #[arg(long, value_name = "HASH")]
        dataset: Option<B256>,
        /// The workerpool order: this hash on the market [default: orders.json's].
        #[arg(long, value_name = "HASH")]
        workerpool: Option<B256>,
        /// Do not ask for confirmation before paying.
        #[arg(long)]
        force: bool,
    },
}

/// Orders of a fill named by their hash on the market.
#[derive(Debug, Clone, Copy, Default)]
struct FromMarket {
    request: Option<B256>,
    app: Option<B256>,
    dataset: Option<B256>,
    workerpool: Option<B256>,
}

impl FromMarket {
    fn any(&self) -> bool {
        self.request.is_some()
            || self.app.is_some()
            || self.dataset.is_some()
            || self.workerpool.is_some()
    }
}

/// Run `dexec order`.
pub async fn run(args: Args, global: &Global) -> eyre::Result<Output> {
    let dir = Path::new(".");
    match args.command {
        Command::Init { kinds, force } => init(kinds.required()?, force, global, dir).await,
        Command::Sign { kinds, force } => sign(kinds.required()?, force, global, dir).await,
        Command::Cancel { kinds, force } => cancel(kinds.required()?, force, global, dir).await,
        Command::Show { kinds, hashes } if !hashes.is_empty() => {
            let _ = kinds;
            show_market(hashes, global).await
        }
        Command::Show { kinds, .. } => {
            let mut kinds = kinds.selected();
            if kinds.is_empty() {
                kinds = vec![
                    OrderKind::App,
                    OrderKind::Dataset,
                    OrderKind::Workerpool,
                    OrderKind::Request,
                ];
            }
            show(kinds, global, dir).await
        }
        Command::Fill {
            params,
            request,
            app,
            dataset,
            workerpool,
            force,
        } => {
            let named = FromMarket {
                request,
                app,
                dataset,
                workerpool,
            };
            fill(params, named, force, global, dir).await
        }
        Command::Publish { kinds } => publish(kinds.required()?, global, dir).await,
        Command::Unpublish { kinds, hashes } => {
            let kinds = if hashes.is_empty() {
                kinds.required()?
            } else {
                kinds.selected()
            };
            unpublish(kinds, hashes, global, dir).await
        }
    }
}

// ---- templates ----

fn zero() -> Value {
    json!(Address::ZERO)
}

/// The template of `kind`, filled from deployed.json and the wallet.
fn template(kind: OrderKind, deployed: &DeployedFile, chain_id: u64, me: Option<Address>) -> Value {
    let asset = |k| deployed.get(k, chain_id).map_or_else(zero, |a| json!(a));
    let me = me.map_or_else(zero, |a| json!(a));
    match kind {
        OrderKind::App => json!({
            "app": asset(AssetKind::App), "appprice": "0", "volume": "1000000", "tag": "0x0",
            "datasetrestrict": zero(), "workerpoolrestrict": zero(), "requesterrestrict": zero()
        }),
        OrderKind::Dataset => json!({
            "dataset": asset(AssetKind::Dataset), "datasetprice": "0", "volume": "1000000",
            "tag": "0x0", "apprestrict": zero(), "workerpoolrestrict": zero(),
            "requesterrestrict": zero()
        }),
        OrderKind::Workerpool => json!({
            "workerpool": asset(AssetKind::Workerpool), "workerpoolprice": "0",
            "volume": "1000000", "category": "0", "trust": "1", "tag": "0x0",
            "apprestrict": zero(), "datasetrestrict": zero(), "requesterrestrict": zero()
        }),
        OrderKind::Request => json!({
            "app": asset(AssetKind::App), "appmaxprice": "0",
            "dataset": zero(), "datasetmaxprice": "0",
            "workerpool": zero(), "workerpoolmaxprice": "0",
            "requester": me, "volume": "1", "category": "0", "trust": "1", "tag": "0x0",
            "beneficiary": me, "callback": zero(), "params": { "iexec_args": "" }
        }),
    }
}

/// Whole-number fields of order templates (volume at least 1).
const COUNT_FIELDS: [&str; 3] = ["volume", "trust", "category"];

/// Address fields of order templates.
const ADDRESS_FIELDS: [&str; 10] = [
    "app",
    "dataset",
    "workerpool",
    "requester",
    "beneficiary",
    "callback",
    "apprestrict",
    "datasetrestrict",
    "workerpoolrestrict",
    "requesterrestrict",
];

/// Why `text` is not an address, as a sentence (`None` when it is one).
fn address_problem(text: &str) -> Option<String> {
    if text.parse::<Address>().is_ok() {
        return None;
    }
    let Some(digits) = text.strip_prefix("0x") else {
        return Some(format!(
            "`{text}` is not an address: an address is 0x and 40 hex digits"
        ));
    };
    Some(match digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        Some(c) => format!("`{text}` is not an address: `{c}` is not a hex digit"),
        None => format!(
            "`{text}` is not an address: it has {} hex digits, an address has 40",
            digits.len()
        ),
    })
}

const PRICE_FIELDS: [&str; 6] = [
    "appprice",
    "datasetprice",
    "workerpoolprice",
    "appmaxprice",
    "datasetmaxprice",
    "workerpoolmaxprice",
];

/// Turn a template into the order's JSON: missing fields from the defaults, prices with units
/// to nRLC, tag names to hex, numbers to strings, a params object to its JSON text, and a
/// fresh random salt unless one is set.
fn normalize(kind: OrderKind, template_value: &Value, defaults: Value) -> eyre::Result<Value> {
    let user = template_value.as_object().ok_or_else(|| {
        Fail::usage(format!(
            "dexec.json: order.{} must be an object",
            kind.file_key()
        ))
    })?;
    let mut out: Map<String, Value> = defaults.as_object().cloned().unwrap_or_default();
    for (key, value) in user {
        out.insert(key.clone(), value.clone());
    }
    let bad = |field: &str, why: String| {
        Fail::usage(format!(
            "dexec.json: order.{}.{field}: {why}",
            kind.file_key()
        ))
    };
    for (key, value) in out.iter_mut() {
        if PRICE_FIELDS.contains(&key.as_str()) {
            let text = match value {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => return Err(bad(key, "must be an amount such as \"1.5 RLC\"".into())),
            };
            let amount: Nrlc = text
                .parse()
                .map_err(|e: dexec_sdk::primitives::AmountError| bad(key, e.to_string()))?;
            if amount > Nrlc::MAX_ORDER_PRICE {
                return Err(bad(
                    key,
                    format!(
                        "{amount} is more than an order may ask, {} (the market's limit, \
                         2^63 - 1 nRLC)",
                        Nrlc::MAX_ORDER_PRICE
                    ),
                ));
            }
            *value = json!(amount.0.to_string());
        } else if ADDRESS_FIELDS.contains(&key.as_str()) {
            let text = value.as_str().unwrap_or_default();
            if let Some(problem) = address_problem(text) {
                return Err(bad(key, problem));
            }
        } else if key == "tag" {
            if let Value::String(s) = value {
                let parsed = tag::parse(s).map_err(|e| bad(key, e.to_string()))?;
                *value = json!(parsed);
            }
        } else if COUNT_FIELDS.contains(&key.as_str()) {
            let text = match value {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.trim().to_owned(),
                _ => return Err(bad(key, "must be a whole number".into())),
            };
            let n: u64 = text
                .parse()
                .map_err(|_| bad(key, format!("must be a whole number, not `{text}`")))?;
            if key == "volume" && n == 0 {
                return Err(bad(key, "0 tasks: an order offers at least 1".into()));
            }
            *value = json!(n.to_string());
        } else if key == "params" {
            if value.is_object() {
                *value = json!(serde_json::to_string(value)?);
            }
        } else if let Value::Number(n) = value {
            *value = json!(n.to_string());
        }
    }
    if kind == OrderKind::Request {
        // the market keeps what one task may cost, the max prices' sum, in the same 63 bits
        let sum = ["appmaxprice", "datasetmaxprice", "workerpoolmaxprice"]
            .iter()
            .filter_map(|k| out.get(*k)?.as_str()?.parse::<u128>().ok())
            .fold(0u128, u128::saturating_add);
        if sum > Nrlc::MAX_ORDER_PRICE.0 {
            return Err(Fail::usage(format!(
                "dexec.json: order.requestorder: the max prices add up to {}, more than one task \
                 may cost, {} (the market's limit, 2^63 - 1 nRLC)",
                Nrlc(sum),
                Nrlc::MAX_ORDER_PRICE
            )));
        }
    }
    let salt_missing = out
        .get("salt")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<B256>().ok())
        .is_none_or(|s| s == B256::ZERO);
    if salt_missing {
        out.insert("salt".into(), json!(B256::from(rand::random::<[u8; 32]>())));
    }
    Ok(Value::Object(out))
}

async fn init(
    kinds: Vec<OrderKind>,
    force: bool,
    global: &Global,
    dir: &Path,
) -> eyre::Result<Output> {
    let client = global.reader().await?;
    let me = global.wallet_address(client.chain_id()).ok();
    let deployed = DeployedFile::load(dir)?;
    let mut project = Project::require(dir)?;
    let mut written = Map::new();
    for kind in kinds {
        if project.order_template(kind).is_some() && !force {
            return Err(Fail::refused(format!(
                "{} already has order.{}; pass --force to reset it",
                project.path().display(),
                kind.file_key()
            )));
        }
        let value = template(kind, &deployed, client.chain_id(), me);
        project.set_order_template(kind, value.clone());
        written.insert(kind.file_key().into(), value);
    }
    project.save()?;
    let text = format!(
        "wrote to {}:\n{}",
        project.path().display(),
        serde_json::to_string_pretty(&written)?
    );
    Output::new(json!({ "file": project.path(), "orders": written }), text)
}

/// Read, normalize and sign the template of an order type.
async fn sign_template<T: HubOrder>(
    client: &Client,
    project: &Project,
    deployed: &DeployedFile,
) -> eyre::Result<Signed<T>> {
    let kind = T::KIND;
    let value = project.order_template(kind).ok_or_else(|| {
        Fail::usage(format!(
            "{} has no order.{}: run `dexec order init --{kind}` first",
            project.path().display(),
            kind.file_key()
        ))
    })?;
    let defaults = template(kind, deployed, client.chain_id(), client.address().ok());
    let order: T = parse_order(kind, normalize(kind, value, defaults)?)?;
    Ok(client.sign_order(order).await?)
}

/// Sign the template of `T`: the signed order as JSON, and its hash.
async fn sign_one<T: HubOrder>(
    client: &Client,
    project: &Project,
    deployed: &DeployedFile,
) -> eyre::Result<(Value, B256)> {
    let order = sign_template::<T>(client, project, deployed).await?;
    Ok((
        serde_json::to_value(&order)?,
        client.order_hash(&order.order),
    ))
}

fn parse_order<T: DeserializeOwned>(kind: OrderKind, value: Value) -> eyre::Result<T> {
    serde_json::from_value(value).map_err(|e| {
        Fail::usage(format!(
            "dexec.json: order.{} is malformed: {e}",
            kind.file_key()
        ))
    })
}

async fn sign(
    kinds: Vec<OrderKind>,
    force: bool,
    global: &Global,
    dir: &Path,
) -> eyre::Result<Output> {
    let client = global.signer().await?;
    let project = Project::require(dir)?;
    let deployed = DeployedFile::load(dir)?;
    let mut orders = OrdersFile::load(dir)?;
    let chain = client.chain_id();
    let mut signed = Map::new();
    let mut lines = Vec::new();
    for kind in kinds {
        let (value, hash) = by_kind!(kind, sign_one(&client, &project, &deployed))?;
        let replaced = orders.put(chain, kind, &value, force)?;
        lines.push((
            format!("{} signed", kind.file_key()),
            format!(
                "{hash}{}",
                if replaced {
                    " (replaced the previous one)"
                } else {
                    ""
                }
            ),
        ));
        signed.insert(
            kind.file_key().into(),
            json!({ "hash": hash, "order": value, "replaced": replaced }),
        );
    }
    lines.push(("saved in".into(), orders.path().display().to_string()));
    Output::new(json!({ "chainId": chain, "signed": signed }), rows(&lines))
}

/// The status of the order of `kind` in orders.json, if there is one.
async fn status_of(
    client: &Client,
    orders: &OrdersFile,
    kind: OrderKind,
) -> eyre::Result<Option<OrderStatus>> {
    by_kind!(kind, status_one(client, orders))
}

async fn status_one<T: HubOrder>(
    client: &Client,
    orders: &OrdersFile,
) -> eyre::Result<Option<OrderStatus>> {
    match orders.get::<Signed<T>>(client.chain_id(), T::KIND)? {
        Some(order) => Ok(Some(client.order_status(&order).await?)),
        None => Ok(None),
    }
}

/// The signed order of `T` in orders.json, or a sentence saying how to get one.
fn signed<T: HubOrder>(client: &Client, orders: &OrdersFile) -> eyre::Result<Signed<T>> {
    let chain = client.chain_id();
    orders.get(chain, T::KIND)?.ok_or_else(|| {
        Fail::not_found(format!(
            "no signed {} for chain {chain} in {}: sign one with `dexec order sign --{}`",
            T::KIND.file_key(),
            orders.path().display(),
            T::KIND
        ))
    })
}

async fn cancel_one<T: HubOrder>(
    client: &Client,
    orders: &OrdersFile,
) -> eyre::Result<dexec_sdk::TxOutcome> {
    Ok(client
        .cancel_order(&signed::<T>(client, orders)?.order)
        .await?)
}

async fn show(kinds: Vec<OrderKind>, global: &Global, dir: &Path) -> eyre::Result<Output> {
    let client = global.reader().await?;
    let orders = OrdersFile::load(dir)?;
    let mut all = Vec::new();
    for kind in kinds {
        if let Some(status) = status_of(&client, &orders, kind).await? {
            all.push(status);
        }
    }
    let body: Vec<Vec<String>> = all
        .iter()
        .map(|s| {
            vec![
                s.kind.to_string(),
                s.hash.to_string(),
                s.volume.to_string(),
                s.remaining.to_string(),
                s.signer.map_or("-".into(), |a| a.to_string()),
            ]
        })
        .collect();
    let text = if all.is_empty() {
        format!(
            "no signed order for chain {} in {}",
            client.chain_id(),
            orders.path().display()
        )
    } else {
        table(&["KIND", "HASH", "VOLUME", "REMAINING", "SIGNER"], &body)
    };
    Output::new(json!({ "chainId": client.chain_id(), "orders": all }), text)
}

/// Whether a request order of the market can be filled now, and if not why: what a requester
/// wants to know of a limit order that waits.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FillOutlook {
    /// A workerpool whose open order (with the best app order) matches it now, if any.
    pub fillable_by: Option<Address>,
    /// Whether that pool's scheduler beats (only a live scheduler fills requests on its own).
    pub liveness: Option<dexec_sdk::market::Liveness>,
    /// Why the best candidates do not match, one sentence each.
    pub reasons: Vec<String>,
}

impl FillOutlook {
    fn not_now(reason: String) -> Self {
        Self {
            fillable_by: None,
            liveness: None,
            reasons: vec![reason],
        }
    }

    /// One line for people.
    pub fn sentence(&self) -> String {
        use dexec_sdk::market::Liveness;
        match (self.fillable_by, self.liveness) {
            (Some(pool), Some(Liveness::Live)) => format!(
                "fillable now: workerpool {pool}'s order matches it and its scheduler is live \
                 (it fills matching requests within seconds)"
            ),
            (Some(pool), _) => format!(
                "fillable now by workerpool {pool}'s order, but the market hears no scheduler \
                 beating for it: fill it yourself (`dexec order fill --request <hash> --app \
                 <hash> --workerpool <hash>`) or wait for a live pool"
            ),
            (None, _) => format!("not fillable now: {}", self.reasons.join("; ")),
        }
    }
}

/// What the market's open orders say about filling `request` now: the best app (and dataset)
/// order for it, then each workerpool order of its category, best price first, checked with
/// the hub's rules.
pub(crate) async fn fill_outlook(
    market: &MarketClient,
    request: &RequestOrder,
) -> eyre::Result<FillOutlook> {
    use dexec_sdk::market::{AddressFilter, OrderQuery};
    use dexec_sdk::primitives::compat::{incompatibilities, MatchOrders};
    let only = |a: Address| Some(AddressFilter::Only(a));
    let dataset = (request.dataset != Address::ZERO).then_some(request.dataset);
    let query = OrderQuery {
        app: only(request.app),
        requester: only(request.requester),
        dataset: dataset.map(AddressFilter::Only),
        page_size: Some(10),
        ..OrderQuery::default()
    };
    let page = market.orders(OrderKind::App, &query).await?;
    let Some(app) = page
        .orders
        .into_iter()
        .find_map(|v| v.order.into_signed::<AppOrder>())
    else {
        return Ok(FillOutlook::not_now(format!(
            "no app order of {} on the market admits requester {}",
            request.app, request.requester
        )));
    };
    let dataset_order = match dataset {
        None => None,
        Some(d) => {
            let query = OrderQuery {
                dataset: only(d),
                app: only(request.app),
                requester: only(request.requester),
                page_size: Some(10),
                ..OrderQuery::default()
            };
            let page = market.orders(OrderKind::Dataset, &query).await?;
            let found = page
                .orders
                .into_iter()
                .find_map(|v| v.order.into_signed::<DatasetOrder>());
            match found {
                Some(order) => Some(order),
                None => {
                    return Ok(FillOutlook::not_now(format!(
                        "no order of dataset {d} on the market admits requester {}",
                        request.requester
                    )))
                }
            }
        }
    };
    let query = OrderQuery {
        category: Some(request.category.saturating_to()),
        app: only(request.app),
        requester: only(request.requester),
        workerpool: (request.workerpool != Address::ZERO)
            .then_some(AddressFilter::Only(request.workerpool)),
        page_size: Some(20),
        ..OrderQuery::default()
    };
    let pools = market.orders(OrderKind::Workerpool, &query).await?;
    let mut reasons = Vec::new();
    // a pool whose scheduler beats fills on its own: preferred to a cheaper silent one
    let mut silent = None;
    for view in pools.orders {
        let Some(pool) = view.order.into_signed::<WorkerpoolOrder>() else {
            continue;
        };
        let why = incompatibilities(&MatchOrders {
            app: &app.order,
            dataset: dataset_order.as_ref().map(|d| &d.order),
            workerpool: &pool.order,
            request,
        });
        let address = pool.order.workerpool;
        if why.is_empty() {
            let liveness = market.liveness(address).await?.liveness;
            if liveness == dexec_sdk::market::Liveness::Live {
                return Ok(FillOutlook {
                    fillable_by: Some(address),
                    liveness: Some(liveness),
                    reasons,
                });
            }
            silent.get_or_insert((address, liveness));
            continue;
        }
        if reasons.len() < 3 {
            let said: Vec<String> = why.iter().map(ToString::to_string).collect();
            reasons.push(format!("workerpool {address}: {}", said.join(", ")));
        }
    }
    if let Some((address, liveness)) = silent {
        return Ok(FillOutlook {
            fillable_by: Some(address),
            liveness: Some(liveness),
            reasons,
        });
    }
    if reasons.is_empty() {
        reasons.push(format!(
            "no workerpool order of category {} on the market admits it",
            request.category
        ));
    }
    Ok(FillOutlook {
        fillable_by: None,
        liveness: None,
        reasons,
    })
}

/// Orders of the market by hash: kind, book status, what is left on chain.
async fn show_market(hashes: Vec<B256>, global: &Global) -> eyre::Result<Output> {
    let client = global.reader().await?;
    let market = global.market(&client)?;
    let mut views = Vec::new();
    let mut body = Vec::new();
    let mut notes = Vec::new();
    for hash in hashes {
        let view = market.order(hash).await?.ok_or_else(|| {
            Fail::not_found(format!(
                "the market at {} knows no order {hash}",
                market.base_url()
            ))
        })?;
        let remaining = client.consumed(hash).await.map(|consumed| {
            let volume = view.order.to_json()["volume"]
                .as_str()
                .and_then(|v| v.parse::<alloy::primitives::U256>().ok())
                .unwrap_or_default();
            volume.saturating_sub(consumed)
        })?;
        // a limit order that waits: can it be filled, and if not why
        let outlook = match view.order.clone().into_signed::<RequestOrder>() {
            Some(request)
                if view.status == dexec_sdk::market::BookStatus::Open && !remaining.is_zero() =>
            {
                Some(fill_outlook(&market, &request.order).await?)
            }
            _ => None,
        };
        if let Some(outlook) = &outlook {
            notes.push(format!("{hash}: {}", outlook.sentence()));
        }
        body.push(vec![
            view.kind.name().to_owned(),
            hash.to_string(),
            view.status.to_string(),
            remaining.to_string(),
            view.signer.to_string(),
        ]);
        views.push(json!({
            "market": view,
            "remainingOnChain": remaining.to_string(),
            "fill": outlook,
        }));
    }
    let mut text = table(
        &["KIND", "HASH", "STATUS", "LEFT ON CHAIN", "SIGNER"],
        &body,
    );
    for note in notes {
        text.push_str(&format!("\n{note}"));
    }
    Output::new(
        crate::json::with_units(json!({ "chainId": client.chain_id(), "orders": views }))?,
        text,
    )
}

async fn publish_one<T: MarketOrder>(
    client: &Client,
    market: &MarketClient,
    orders: &OrdersFile,
) -> eyre::Result<OrderView> {
    Ok(market.publish(&signed::<T>(client, orders)?).await?)
}

async fn publish(kinds: Vec<OrderKind>, global: &Global, dir: &Path) -> eyre::Result<Output> {
    let client = global.reader().await?;
    let market = global.market(&client)?;
    let orders = OrdersFile::load(dir)?;
    let mut published = Vec::new();
    let mut lines = Vec::new();
    for kind in kinds {
        let view = by_kind!(kind, publish_one(&client, &market, &orders))?;
        lines.push((
            kind.file_key().to_owned(),
            format!(
                "{} published ({} of volume left)",
                view.order_hash, view.remaining
            ),
        ));
        published.push(view);
    }
    lines.push(("market".into(), market.base_url().to_string()));
    Output::new(json!({ "published": published }), rows(&lines))
}

async fn hash_one<T: HubOrder>(client: &Client, orders: &OrdersFile) -> eyre::Result<B256> {
    Ok(client.order_hash(&signed::<T>(client, orders)?.order))
}

async fn unpublish(
    kinds: Vec<OrderKind>,
    mut hashes: Vec<B256>,
    global: &Global,
    dir: &Path,
) -> eyre::Result<Output> {
    let client = global.signer().await?;
    let market = global.market(&client)?;
    if !kinds.is_empty() {
        let orders = OrdersFile::load(dir)?;
        for kind in kinds {
            hashes.push(by_kind!(kind, hash_one(&client, &orders))?);
        }
    }
    let signer = client.signer().ok_or(dexec_sdk::Error::NoWallet)?;
    let mut done = Vec::new();
    let mut lines = Vec::new();
    for hash in hashes {
        let view = market.unpublish(hash, signer, &client.domain()).await?;
        lines.push((
            view.kind.file_key().to_owned(),
            format!("{hash} unpublished"),
        ));
        done.push(view);
    }
    Output::new(json!({ "unpublished": done }), rows(&lines))
}

async fn cancel(
    kinds: Vec<OrderKind>,
    force: bool,
    global: &Global,
    dir: &Path,
) -> eyre::Result<Output> {
    let client = global.signer().await?;
    let orders = OrdersFile::load(dir)?;
    let chain = client.chain_id();
    let mut done = Vec::new();
    let mut lines = Vec::new();
    for kind in kinds {
        let status = status_of(&client, &orders, kind).await?.ok_or_else(|| {
            Fail::not_found(format!(
                "no signed {} for chain {chain} in {}",
                kind.file_key(),
                orders.path().display()
            ))
        })?;
        if status.remaining.is_zero() {
            lines.push((
                kind.file_key().to_owned(),
                format!("{} has no volume left (nothing sent)", status.hash),
            ));
            continue;
        }
        confirm(
            &format!(
                "Cancel the {} {} on chain, for good?",
                kind.file_key(),
                status.hash
            ),
            force,
        )?;
        let tx = by_kind!(kind, cancel_one(&client, &orders))?;
        lines.push((
            kind.file_key().to_owned(),
            format!("{} cancelled, {}", status.hash, tx_line(&tx)),
        ));
        done.push(json!({ "kind": kind, "hash": status.hash, "tx": tx }));
    }
    Output::new(json!({ "cancelled": done }), rows(&lines))
}

/// A deal just made: id, volume, cost, transaction and (the first ten) task ids.
pub fn describe_matched(matched: &dexec_sdk::Matched) -> String {
    let mut text = rows(&[
        ("deal", matched.deal_id.to_string()),
        ("volume", matched.deal.bot_size.to_string()),
        ("cost", matched.total_cost.to_string()),
        ("", tx_line(&matched.tx)),
    ]);
    for (i, task) in matched.tasks.iter().enumerate().take(10) {
        text.push_str(&format!("task {i}  {task}\n"));
    }
    if matched.tasks.len() > 10 {
        text.push_str(&format!(
            "… {} more (dexec deal show)\n",
            matched.tasks.len() - 10
        ));
    }
    text
}

/// The order `hash` of kind `T` as the market has it.
async fn market_order<T: MarketOrder>(
    market: &MarketClient,
    hash: B256,
) -> eyre::Result<Signed<T>> {
    let kind = T::KIND;
    let view = market.order(hash).await?.ok_or_else(|| {
        Fail::not_found(format!(
            "the market at {} knows no order {hash}",
            market.base_url()
        ))
    })?;
    if view.kind != kind {
        return Err(Fail::usage(format!(
            "order {hash} on the market is a {} order, not a {} order",
            view.kind.name(),
            kind.name()
        )));
    }
    view.order.into_signed::<T>().ok_or_else(|| {
        eyre::eyre!("the market served order {hash} in a form this client cannot read")
    })
}

/// The order of `T`: `hash` on the market when given, else orders.json's.
async fn fill_order<T: MarketOrder + DeserializeOwned>(
    hash: Option<B256>,
    market: Option<&MarketClient>,
    orders: &OrdersFile,
    chain: u64,
) -> eyre::Result<Option<Signed<T>>> {
    match (hash, market) {
        (Some(hash), Some(market)) => Ok(Some(market_order::<T>(market, hash).await?)),
        _ => Ok(orders.get(chain, T::KIND)?),
    }
}

async fn fill(
    params: Option<String>,
    named: FromMarket,
    force: bool,
    global: &Global,
    dir: &Path,
) -> eyre::Result<Output> {
    let client = global.signer().await?;
    let chain = client.chain_id();
    let market = if named.any() {
        Some(global.market(&client)?)
    } else {
        None
    };
    let market = market.as_ref();
    let orders = OrdersFile::load(dir)?;
    let need = |kind: OrderKind| {
        Fail::usage(format!(
            "no signed {} for chain {chain} in {}: sign one with `dexec order sign --{kind}`, or \
             name one of the market with --{kind} <hash>",
            kind.file_key(),
            orders.path().display()
        ))
    };
    let app: Signed<AppOrder> = fill_order(named.app, market, &orders, chain)
        .await?
        .ok_or_else(|| need(OrderKind::App))?;
    let workerpool: Signed<WorkerpoolOrder> = fill_order(named.workerpool, market, &orders, chain)
        .await?
        .ok_or_else(|| need(OrderKind::Workerpool))?;
    let dataset: Option<Signed<DatasetOrder>> =
        fill_order(named.dataset, market, &orders, chain).await?;
    let from_file = if named.request.is_some() {
        None
    } else {
        orders.get::<Signed<RequestOrder>>(chain, OrderKind::Request)?
    };
    let request = match (named.request, market, from_file) {
        (Some(hash), Some(market), _) => market_order::<RequestOrder>(market, hash).await?,
        (_, _, Some(request)) if params.is_none() => request,
        _ => {
            let project = Project::load(dir)?;
            let mut value = project
                .order_template(OrderKind::Request)
                .cloned()
                .unwrap_or_else(|| json!({}));
            let obj = value
                .as_object_mut()
                .ok_or_else(|| Fail::usage("dexec.json: order.requestorder must be an object"))?;
            // what the other orders imply, unless the template says otherwise
            let me = client.address()?;
            let implied = [
                ("app", json!(app.order.app)),
                ("appmaxprice", json!(app.order.appprice.to_string())),
                ("workerpool", json!(workerpool.order.workerpool)),
                (
                    "workerpoolmaxprice",
                    json!(workerpool.order.workerpoolprice.to_string()),
                ),
                ("category", json!(workerpool.order.category.to_string())),
                ("requester", json!(me)),
                ("beneficiary", json!(me)),
            ];
            for (key, v) in implied {
                obj.entry(key).or_insert(v);
            }
            if let Some(d) = &dataset {
                obj.entry("dataset").or_insert(json!(d.order.dataset));
                obj.entry("datasetmaxprice")
                    .or_insert(json!(d.order.datasetprice.to_string()));
            }
            if let Some(p) = &params {
                let parsed: Value = serde_json::from_str(p)
                    .map_err(|e| Fail::usage(format!("--params is not JSON: {e}")))?;
                obj.insert("params".into(), parsed);
            }
            let defaults = template(
                OrderKind::Request,
                &DeployedFile::default(),
                chain,
                Some(me),
            );
            let order: RequestOrder = parse_order(
                OrderKind::Request,
                normalize(OrderKind::Request, &value, defaults)?,
            )?;
            client.sign_order(order).await?
        }
    };
    let dataset = dataset.filter(|_| request.order.dataset != Address::ZERO);
    let input = MatchInput {
        app,
        dataset,
        workerpool,
        request,
    };
    let plan = client.plan_match(&input).await?;
    confirm(
        &format!(
            "Match {} task(s) at {} each: {} from {}'s hub account?",
            plan.volume, plan.price_per_task, plan.total_cost, plan.payer
        ),
        force,
    )?;
    let matched = client.match_orders(&input).await?;
    let text = describe_matched(&matched);
    Output::new(crate::json::with_units(matched)?, text)
}
