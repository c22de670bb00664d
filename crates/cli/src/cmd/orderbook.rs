//! `dexec orderbook`: the market's open orders, best first, with iExec's filters.

use alloy::primitives::{Address, U256};
use dexec_sdk::market::{AddressFilter, OrderPage, OrderQuery, OrderView};
use dexec_sdk::primitives::{tag, Nrlc};
use dexec_sdk::OrderKind;
use serde_json::Value;

use crate::context::Global;
use crate::exit::Fail;
use crate::output::{table, Output};

/// Long help of `dexec orderbook`.
pub const LONG_ABOUT: &str = "\
Show the market's open orders, best first (cheapest then oldest; for requests the highest bid
first), as iExec's `iexec orderbook`.

  dexec orderbook app <app>                  # the app's orders open to anyone
  dexec orderbook app <app> --requester me   # … and those restricted to requester `me`
  dexec orderbook workerpool --category 0 --min-trust 3
  dexec orderbook requester --app <app>      # requests for an app

Restrictions: without --app/--dataset/--workerpool/--requester only unrestricted orders are
shown; with an address, also the orders restricted to it (only those with --*-strict); `any`
shows all. The market is --market, else the chain's `market` in chain.json.";

/// Arguments of `dexec orderbook`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// App orders of an app.
    App {
        /// The app: an address, or `deployed` (the last one `dexec app deploy` recorded here).
        #[arg(value_name = "APP")]
        address: String,
        #[command(flatten)]
        filters: Filters,
    },
    /// Dataset orders of a dataset.
    Dataset {
        /// The dataset: an address, or `deployed` (the last one `dexec dataset deploy` recorded
        /// here).
        #[arg(value_name = "DATASET")]
        address: String,
        #[command(flatten)]
        filters: Filters,
    },
    /// Workerpool orders (of one workerpool, or all).
    Workerpool {
        /// The workerpool [default: all].
        #[arg(value_name = "WORKERPOOL")]
        address: Option<Address>,
        #[command(flatten)]
        filters: Filters,
    },
    /// Request orders (of one requester, or all).
    Requester {
        /// The requester [default: all].
        #[arg(value_name = "REQUESTER")]
        address: Option<Address>,
        #[command(flatten)]
        filters: Filters,
    },
}

/// Filters of every order book (each kind uses those that apply to it).
#[derive(Debug, Default, clap::Args)]
struct Filters {
    /// Include orders restricted to this app (or `any`).
    #[arg(long, value_name = "ADDRESS")]
    app: Option<AddressFilter>,
    /// Include orders restricted to this dataset (or `any`).
    #[arg(long, value_name = "ADDRESS")]
    dataset: Option<AddressFilter>,
    /// Include orders restricted to this workerpool (or `any`).
    #[arg(long, value_name = "ADDRESS")]
    workerpool: Option<AddressFilter>,
    /// Include orders restricted to this requester (or `any`).
    #[arg(long, value_name = "ADDRESS")]
    requester: Option<AddressFilter>,
    /// Only orders restricted to --app.
    #[arg(long, requires = "app")]
    app_strict: bool,
    /// Only orders restricted to --dataset.
    #[arg(long, requires = "dataset")]
    dataset_strict: bool,
    /// Only orders restricted to --workerpool.
    #[arg(long, requires = "workerpool")]
    workerpool_strict: bool,
    /// Only orders restricted to --requester.
    #[arg(long, requires = "requester")]
    requester_strict: bool,
    /// Requests for this beneficiary.
    #[arg(long, value_name = "ADDRESS")]
    beneficiary: Option<Address>,
    /// Exactly this tag (hex, or names such as `tee,gpu`).
    #[arg(long, conflicts_with_all = ["require_tag", "max_tag"])]
    tag: Option<String>,
    /// At least these tag bits.
    #[arg(long, value_name = "TAG")]
    require_tag: Option<String>,
    /// At most these tag bits.
    #[arg(long, value_name = "TAG")]
    max_tag: Option<String>,
    /// Category (workerpool and request orders).
    #[arg(long)]
    category: Option<u64>,
    /// Least trust (workerpool orders).
    #[arg(long)]
    min_trust: Option<u64>,
    /// Most trust (request orders).
    #[arg(long)]
    max_trust: Option<u64>,
    /// Least remaining volume.
    #[arg(long)]
    min_volume: Option<u64>,
    /// Orders per page (10 to 1000).
    #[arg(long, default_value_t = 20)]
    page_size: u64,
    /// Page to show, from 0.
    #[arg(long, default_value_t = 0)]
    page: u64,
    /// Wait up to this many seconds for at least one order (a scheduler publishes its offer
    /// once a worker has registered); exit code 4 if none came.
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u64>,
}

impl Filters {
    fn query(self) -> eyre::Result<OrderQuery> {
        let check_tag = |name: &str, value: Option<String>| -> eyre::Result<Option<String>> {
            value
                .map(|t| {
                    tag::parse(&t)
                        .map(|parsed| parsed.to_string())
                        .map_err(|e| Fail::usage(format!("--{name}: {e}")))
                })
                .transpose()
        };
        let exact = check_tag("tag", self.tag)?;
        Ok(OrderQuery {
            app: self.app,
            dataset: self.dataset,
            workerpool: self.workerpool,
            requester: self.requester,
            is_app_strict: self.app_strict,
            is_dataset_strict: self.dataset_strict,
            is_workerpool_strict: self.workerpool_strict,
            is_requester_strict: self.requester_strict,
            beneficiary: self.beneficiary.map(AddressFilter::Only),
            category: self.category,
            min_tag: exact
                .clone()
                .or(check_tag("require-tag", self.require_tag)?),
            max_tag: exact.or(check_tag("max-tag", self.max_tag)?),
            min_trust: self.min_trust,
            max_trust: self.max_trust,
            min_volume: self.min_volume,
            page_size: Some(self.page_size),
            page_index: Some(self.page),
            ..OrderQuery::default()
        })
    }
}

/// An asset given as an address or as `deployed` (the last one deployed from this directory).
fn asset_address(kind: dexec_sdk::AssetKind, text: &str, chain_id: u64) -> eyre::Result<Address> {
    match text {
        "deployed" => crate::project::DeployedFile::load(std::path::Path::new("."))?
            .get(kind, chain_id)
            .ok_or_else(|| {
                Fail::usage(format!(
                    "no {kind} deployed from this directory on chain {chain_id} (deployed.json): \
                     pass its address"
                ))
            }),
        text => text.parse().map_err(|_| {
            Fail::usage(format!(
                "`{text}` is neither a {kind} address (0x and 40 hex digits) nor `deployed`"
            ))
        }),
    }
}

/// Run `dexec orderbook`.
pub async fn run(args: Args, global: &Global) -> eyre::Result<Output> {
    let client = global.reader().await?;
    let wait = match &args.command {
        Command::App { filters, .. }
        | Command::Dataset { filters, .. }
        | Command::Workerpool { filters, .. }
        | Command::Requester { filters, .. } => filters.wait,
    };
    let (kind, query) = match args.command {
        Command::App { address, filters } => (
            OrderKind::App,
            OrderQuery {
                app: Some(AddressFilter::Only(asset_address(
                    dexec_sdk::AssetKind::App,
                    &address,
                    client.chain_id(),
                )?)),
                ..filters.query()?
            },
        ),
        Command::Dataset { address, filters } => (
            OrderKind::Dataset,
            OrderQuery {
                dataset: Some(AddressFilter::Only(asset_address(
                    dexec_sdk::AssetKind::Dataset,
                    &address,
                    client.chain_id(),
                )?)),
                ..filters.query()?
            },
        ),
        Command::Workerpool { address, filters } => {
            let mut query = filters.query()?;
            if address.is_some() {
                query.workerpool = address.map(AddressFilter::Only);
            }
            (OrderKind::Workerpool, query)
        }
        Command::Requester { address, filters } => {
            let mut query = filters.query()?;
            if address.is_some() {
                query.requester = address.map(AddressFilter::Only);
            }
            (OrderKind::Request, query)
        }
    };
    let market = global.market(&client)?;
    let mut page = market.orders(kind, &query).await?;
    if let Some(seconds) = wait {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while page.orders.is_empty() {
            if std::time::Instant::now() >= deadline {
                return Err(Fail::not_found(format!(
                    "no {kind} order came within {seconds} s"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            page = market.orders(kind, &query).await?;
        }
    }
    let text = render(kind, &page);
    Output::new(crate::json::with_units(&page)?, text)
}

/// A field of the signed order as text (numbers in decimal, addresses as given).
fn field(view: &OrderView, name: &str) -> String {
    match &view.order.to_json()[name] {
        Value::String(s) if s.starts_with("0x") && s.len() <= 66 && name != "tag" => {
            match (s.len(), s.parse::<U256>()) {
                (42, _) | (_, Err(_)) => s.clone(),
                (_, Ok(n)) => n.to_string(),
            }
        }
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn price(view: &OrderView, name: &str) -> String {
    let text = field(view, name);
    text.parse::<Nrlc>().map_or(text, |p| p.to_string())
}

fn tag_names(view: &OrderView) -> String {
    match view.order.to_json()["tag"].as_str().map(tag::parse) {
        Some(Ok(t)) if t.is_zero() => "-".into(),
        Some(Ok(t)) => tag::names(t).join(","),
        _ => field(view, "tag"),
    }
}

/// The kind-specific cells of a row (between the hash and the remaining volume).
type Cells = fn(&OrderView) -> Vec<String>;

fn render(kind: OrderKind, page: &OrderPage) -> String {
    if page.orders.is_empty() {
        return format!("no open {} matches", kind.file_key());
    }
    let (header, cells): (Vec<&str>, Cells) = match kind {
        OrderKind::App => (vec!["HASH", "APP", "PRICE", "LEFT", "TAG"], |v| {
            vec![field(v, "app"), price(v, "appprice")]
        }),
        OrderKind::Dataset => (vec!["HASH", "DATASET", "PRICE", "LEFT", "TAG"], |v| {
            vec![field(v, "dataset"), price(v, "datasetprice")]
        }),
        OrderKind::Workerpool => (
            vec![
                "HASH",
                "WORKERPOOL",
                "PRICE",
                "CATEGORY",
                "TRUST",
                "LEFT",
                "TAG",
            ],
            |v| {
                vec![
                    field(v, "workerpool"),
                    price(v, "workerpoolprice"),
                    field(v, "category"),
                    field(v, "trust"),
                ]
            },
        ),
        OrderKind::Request => (
            vec![
                "HASH",
                "REQUESTER",
                "APP",
                "POOL MAX",
                "CATEGORY",
                "TRUST",
                "LEFT",
                "TAG",
            ],
            |v| {
                vec![
                    field(v, "requester"),
                    field(v, "app"),
                    price(v, "workerpoolmaxprice"),
                    field(v, "category"),
                    field(v, "trust"),
                ]
            },
        ),
    };
    let body: Vec<Vec<String>> = page
        .orders
        .iter()
        .map(|v| {
            let mut row = vec![v.order_hash.to_string()];
            row.extend(cells(v));
            row.push(v.remaining.to_string());
            row.push(tag_names(v));
            row
        })
        .collect();
    let mut text = table(&header, &body);
    let shown = page.orders.len();
    text.push_str(&format!(
        "\n{shown} of {}{} (page {}{})\n",
        page.count,
        if page.count >= 1000 { "+" } else { "" },
        page.page_index,
        page.next_page
            .map_or(String::new(), |n| format!("; next: --page {n}")),
    ));
    text
}
