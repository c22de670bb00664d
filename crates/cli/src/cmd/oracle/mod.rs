//! `dexec oracle`: contracts that order computations and receive the results (docs/oracles.md).

pub mod demo;
pub mod prices;
pub mod update;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, I256};
use dexec_sdk::market::{AddressFilter, MarketClient, OrderQuery};
use dexec_sdk::oracle::{feed_id, FeedValue, OracleSpec, STATUS_NOT_FOUND, STATUS_OK};
use dexec_sdk::primitives::{tag, Nrlc, RequestParams};
use dexec_sdk::primitives::{AppOrder, WorkerpoolOrder};
use dexec_sdk::Client;
use serde_json::json;

use crate::context::Global;
use crate::exit::Fail;
use crate::output::{rows, Output};

use super::tx_line;

/// Long help of `dexec oracle`.
pub const LONG_ABOUT: &str = "\
Oracles: smart contracts that order computations on dexec and receive the results.

A consumer contract (contracts/src/oracle: DexecOracleConsumer, and PriceFeedOracle built on
it) presigns a request order on the hub from its own hub account and is called back
(`receiveResult`, EIP-1154) by the hub when the task completes; the callback data is what the
app wrote as `callback-data` (its keccak256 is the task's agreed digest). Replication at trust
N decides the value, as for any task.

A price feed (the `pricefeed` example app: the median of N sources, rounded to the feed's
decimals and time bucket so that honest replicas agree byte for byte):
  dexec oracle deploy --fund \"10 RLC\"                # a PriceFeedOracle owned by the wallet
  dexec oracle update 0xFeed --id ETH/USD --app 0xPricefeedApp \\
      --source https://a.example/eth --source https://b.example/eth --source https://c.example/eth
  dexec oracle read 0xFeed ETH/USD --decimals 8       # valueFor: value, timestamp, status
  dexec oracle feed 0xFeed … --every 600 --deviation 0.5 --budget \"20 RLC\"   # keep it updated

Any app that writes callback-data, for any consumer contract:
  dexec oracle request 0xApp --callback 0xConsumer --args … --watch

Requests go to the market, where a workerpool's scheduler fills them (schedulers fill limit
orders their policy accepts); workers fetch the sources themselves (private addresses are
refused unless the worker's operator allows them: `dexec worker --allow-inputs-from`).";

/// Arguments of `dexec oracle`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// The consumer contracts `dexec oracle deploy` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Consumer {
    /// PriceFeedOracle: a feed kept up to date by `dexec oracle update` / `feed`.
    PriceFeed,
    /// HashCheckConsumer: keeps each task's callback data, decodes `abi.encode(bool)` answers.
    HashCheck,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Deploy a consumer contract on this hub, owned by the wallet: a PriceFeedOracle, or the
    /// HashCheckConsumer example (`--consumer hash-check`, for `dexec oracle request`).
    Deploy {
        /// Which consumer.
        #[arg(long, value_enum, default_value_t = Consumer::PriceFeed)]
        consumer: Consumer,
        /// Deposit this much of the wallet's tokens into the feed's hub account (it pays its
        /// updates from there), e.g. `"10 RLC"` or `1500` (nRLC).
        #[arg(long, value_name = "AMOUNT")]
        fund: Option<Nrlc>,
        /// Accounts allowed to request updates besides the owner (repeat, or comma-separate).
        #[arg(long, value_name = "ADDRESS", value_delimiter = ',')]
        updater: Vec<Address>,
    },
    /// Deposit the wallet's tokens into a consumer contract's hub account.
    Fund {
        /// The consumer contract.
        consumer: Address,
        /// How much, e.g. `10 RLC` or `1500` (nRLC).
        #[arg(num_args = 1..=2, required = true)]
        amount: Vec<String>,
    },
    /// Let an account request updates of a feed, or stop it (--remove); the owner only.
    Updater {
        /// The feed.
        feed: Address,
        /// The account.
        account: Address,
        /// Take the right away.
        #[arg(long)]
        remove: bool,
    },
    /// Values of a feed id older than this read as stale (status 408); 0: never. The owner
    /// only.
    MaxAge {
        /// The feed.
        feed: Address,
        /// The feed id: a name (hashed with keccak256) or 0x and 64 hex digits.
        id: String,
        /// Seconds.
        seconds: u64,
    },
    /// One update of a feed: request, fill by a scheduler, run, callback; prints the value.
    Update(UpdateArgs),
    /// Keep a feed updated: on a schedule (--every) and when the sources move more than
    /// --deviation percent from the value on chain, within --budget.
    Feed(FeedArgs),
    /// Read a feed: valueFor (EIP-2362 shape) and the task that produced the value.
    Read {
        /// The feed.
        feed: Address,
        /// The feed id: a name (hashed with keccak256) or 0x and 64 hex digits.
        id: String,
        /// Show the value with this many decimals (the feed's declared precision).
        #[arg(long, default_value_t = 0)]
        decimals: u32,
    },
    /// Run any app that writes callback-data with a consumer contract called back with each
    /// task's result (`app run --callback`), and show what was delivered.
    Request(RequestArgs),
    /// Serve a price on loopback as the `pricefeed` app reads it
    /// (`{"price": "…", "timestamp": …}`), for devnets and tests; Ctrl-C stops.
    PriceServer {
        /// The price, a decimal number.
        #[arg(long)]
        price: String,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Report this observation time (Unix seconds) [default: the clock, floored to --step].
        #[arg(long)]
        timestamp: Option<u64>,
        /// The clock's granularity, seconds.
        #[arg(long, default_value_t = 60)]
        step: u64,
    },
}

/// What one update asks for.
#[derive(Debug, Clone, clap::Args)]
pub struct UpdateArgs {
    /// The feed.
    pub feed: Address,
    /// The feed id: a name such as `ETH/USD` (hashed with keccak256) or 0x and 64 hex digits.
    #[arg(long)]
    pub id: String,
    /// The oracle app (e.g. one made with `dexec app init --example pricefeed`).
    #[arg(long, value_name = "ADDRESS")]
    pub app: Address,
    /// A source URL the workers fetch (repeat; the median is taken, more than half must
    /// answer).
    #[arg(long = "source", value_name = "URL", required = true)]
    pub sources: Vec<String>,
    /// The feed's precision: the value is the price × 10^decimals, rounded.
    #[arg(long, default_value_t = 8)]
    pub decimals: u32,
    /// The feed's time bucket, seconds: the value's timestamp is floored to it.
    #[arg(long, default_value_t = 60)]
    pub bucket: u64,
    /// Trust: how many agreeing replicas the value needs.
    #[arg(long, default_value_t = 1)]
    pub trust: u64,
    /// Work category.
    #[arg(long, default_value_t = 0)]
    pub category: u64,
    /// Only this workerpool [default: any].
    #[arg(long, value_name = "ADDRESS")]
    pub workerpool: Option<Address>,
    /// Most paid to the app per update [default: the market's best order of the app].
    #[arg(long, value_name = "AMOUNT")]
    pub app_max_price: Option<Nrlc>,
    /// Most paid to the workerpool per update [default: the market's best of the category
    /// and trust].
    #[arg(long, value_name = "AMOUNT")]
    pub workerpool_max_price: Option<Nrlc>,
    /// Tag bits the workers must have.
    #[arg(long, default_value = "0x0")]
    pub tag: String,
    /// Give up waiting for an update after this many seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
}

/// `dexec oracle feed`.
#[derive(Debug, Clone, clap::Args)]
pub struct FeedArgs {
    #[command(flatten)]
    update: UpdateArgs,
    /// Update at least this often, seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    every: u64,
    /// Update as soon as the sources' median moves this many percent away from the value on
    /// chain (0: only on schedule).
    #[arg(long, default_value_t = 0.5, value_name = "PERCENT")]
    deviation: f64,
    /// How often to read the sources for the deviation check, seconds.
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    check_every: u64,
    /// Stop before an update could take the spending past this (at most price × updates).
    #[arg(long, value_name = "AMOUNT")]
    budget: Nrlc,
    /// Stop after this many updates [default: run until Ctrl-C or the budget is spent].
    #[arg(long)]
    updates: Option<u64>,
}

/// `dexec oracle request`.
#[derive(Debug, Clone, clap::Args)]
pub struct RequestArgs {
    #[command(flatten)]
    run: super::run::RunArgs,
}

/// Run `dexec oracle`.
pub async fn run(args: Args, global: &Global) -> eyre::Result<Output> {
    match args.command {
        Command::Deploy {
            consumer,
            fund,
            updater,
        } => deploy(consumer, fund, updater, global).await,
        Command::Fund { consumer, amount } => {
            let client = global.signer().await?;
            let amount = super::amount(&amount)?;
            let tx = client.deposit_for(amount, consumer).await?;
            let free = client.account_free(consumer).await?;
            Output::new(
                crate::json::with_units(
                    json!({ "consumer": consumer, "depositedNrlc": amount.0.to_string(), "freeNrlc": free.0.to_string(), "tx": tx }),
                )?,
                rows(&[
                    (
                        "deposited",
                        format!("{amount} into {consumer}'s hub account"),
                    ),
                    ("free", free.to_string()),
                    ("", tx_line(&tx)),
                ]),
            )
        }
        Command::Updater {
            feed,
            account,
            remove,
        } => {
            let client = global.signer().await?;
            let tx = client.set_feed_updater(feed, account, !remove).await?;
            let said = if remove { "may no longer" } else { "may now" };
            Output::new(
                json!({ "feed": feed, "account": account, "allowed": !remove, "tx": tx }),
                rows(&[
                    (
                        "updater",
                        format!("{account} {said} request updates of {feed}"),
                    ),
                    ("", tx_line(&tx)),
                ]),
            )
        }
        Command::MaxAge { feed, id, seconds } => {
            let client = global.signer().await?;
            let key = feed_id(&id);
            let tx = client.set_feed_max_age(feed, key, seconds).await?;
            Output::new(
                json!({ "feed": feed, "id": key, "maxAgeSeconds": seconds, "tx": tx }),
                rows(&[
                    ("max age", format!("{seconds} s for {id} ({key})")),
                    ("", tx_line(&tx)),
                ]),
            )
        }
        Command::Update(args) => {
            let client = global.signer().await?;
            let market = global.market(&client)?;
            let spec = spec_of(&client, &market, &args).await?;
            let quiet = global.json;
            let say = |line: &str| {
                if !quiet {
                    eprintln!("{line}");
                }
            };
            let updated = update::update(
                &client,
                &market,
                args.feed,
                feed_id(&args.id),
                &spec,
                Duration::from_secs(args.timeout),
                &say,
            )
            .await?;
            let text = describe_update(&args.id, args.decimals, &updated);
            Output::new(crate::json::with_units(&updated)?, text)
        }
        Command::Feed(args) => run_feed(args, global).await,
        Command::Read { feed, id, decimals } => {
            let client = global.reader().await?;
            let key = feed_id(&id);
            let value = client.feed_value(feed, key).await?;
            let text = describe_value(&id, key, decimals, &value);
            if value.status == STATUS_NOT_FOUND {
                return Err(Fail::not_found(format!(
                    "feed {feed} has no value for {id} ({key}) yet (status 404)"
                )));
            }
            Output::new(
                json!({
                    "feed": feed,
                    "id": key,
                    "value": value.value.to_string(),
                    "decimals": decimals,
                    "timestamp": value.timestamp,
                    "status": value.status,
                    "taskId": value.task_id,
                }),
                text,
            )
        }
        Command::Request(args) => request(args, global).await,
        Command::PriceServer {
            price,
            listen,
            timestamp,
            step,
        } => {
            price
                .trim()
                .parse::<f64>()
                .map_err(|_| Fail::usage(format!("--price {price:?} is not a decimal number")))?;
            let quote = prices::Quote {
                price,
                timestamp,
                step,
            };
            let (addr, task) = prices::serve(listen, quote, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
            crate::outln!("serving the price at http://{addr}/ (Ctrl-C stops)");
            let _ = task.await;
            Output::new(json!({ "stopped": true }), "")
        }
    }
}

async fn deploy(
    consumer: Consumer,
    fund: Option<Nrlc>,
    updaters: Vec<Address>,
    global: &Global,
) -> eyre::Result<Output> {
    let client = global.signer().await?;
    if consumer == Consumer::HashCheck {
        if !updaters.is_empty() || fund.is_some() {
            return Err(Fail::usage(
                "HashCheckConsumer issues no requests: --fund and --updater are for price feeds",
            ));
        }
        let (address, tx) = client.deploy_hash_check_consumer().await?;
        return Output::new(
            json!({ "consumer": address, "kind": "HashCheckConsumer", "tx": tx }),
            rows(&[
                ("consumer", format!("HashCheckConsumer at {address}")),
                ("", tx_line(&tx)),
            ]),
        );
    }
    let (feed, tx) = client.deploy_price_feed().await?;
    let mut lines = vec![
        ("feed".to_owned(), format!("PriceFeedOracle at {feed}")),
        (String::new(), tx_line(&tx)),
    ];
    for who in &updaters {
        let tx = client.set_feed_updater(feed, *who, true).await?;
        lines.push(("updater".into(), format!("{who} ({})", tx_line(&tx))));
    }
    if let Some(amount) = fund {
        let tx = client.deposit_for(amount, feed).await?;
        lines.push(("funded".into(), format!("{amount} ({})", tx_line(&tx))));
    }
    let lines: Vec<(&str, String)> = lines.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    Output::new(
        json!({ "feed": feed, "tx": tx, "updaters": updaters, "fundedNrlc": fund.map(|f| f.0.to_string()) }),
        rows(&lines),
    )
}

/// The request an update makes: the app, its sources as input files, the feed's precision
/// and bucket as the app's arguments, and the max prices (the market's best unless given).
pub async fn spec_of(
    client: &Client,
    market: &MarketClient,
    args: &UpdateArgs,
) -> eyre::Result<OracleSpec> {
    if args.bucket == 0 {
        return Err(Fail::usage("--bucket must be at least 1 second"));
    }
    if args.decimals > 36 {
        return Err(Fail::usage("--decimals must be at most 36"));
    }
    let params = RequestParams {
        iexec_args: format!("{} {}", args.decimals, args.bucket),
        iexec_input_files: args.sources.clone(),
        ..RequestParams::default()
    };
    let params = serde_json::to_string(&params)?;
    RequestParams::parse(&params)?;
    let tag = tag::parse(&args.tag).map_err(|e| Fail::usage(format!("--tag: {e}")))?;
    let app_max_price = match args.app_max_price {
        Some(p) => p,
        None => {
            let query = OrderQuery {
                app: Some(AddressFilter::Only(args.app)),
                workerpool: args.workerpool.map(AddressFilter::Only),
                requester: Some(AddressFilter::Only(args.feed)),
                max_tag: Some(tag.to_string()),
                ..OrderQuery::default()
            };
            let best = super::run::best::<AppOrder>(client, market, query).await?;
            best.map(|o| Nrlc(o.order.appprice.saturating_to()))
                .ok_or_else(|| {
                    Fail::not_found(format!(
                        "the market has no order of app {} that admits the feed: publish one, or \
                     give --app-max-price",
                        args.app
                    ))
                })?
        }
    };
    let workerpool_max_price = match args.workerpool_max_price {
        Some(p) => p,
        None => {
            let query = OrderQuery {
                workerpool: args.workerpool.map(AddressFilter::Only),
                category: Some(args.category),
                app: Some(AddressFilter::Only(args.app)),
                requester: Some(AddressFilter::Only(args.feed)),
                min_tag: Some(tag.to_string()),
                min_trust: Some(args.trust),
                ..OrderQuery::default()
            };
            let best = super::run::best::<WorkerpoolOrder>(client, market, query).await?;
            best.map(|o| Nrlc(o.order.workerpoolprice.saturating_to()))
                .ok_or_else(|| {
                    Fail::not_found(format!(
                        "the market has no workerpool order of category {} at trust ≥ {}: give \
                         --workerpool-max-price to leave a limit order for schedulers",
                        args.category, args.trust
                    ))
                })?
        }
    };
    Ok(OracleSpec {
        app: args.app,
        app_max_price,
        dataset: Address::ZERO,
        dataset_max_price: Nrlc(0),
        workerpool: args.workerpool.unwrap_or_default(),
        workerpool_max_price,
        category: args.category,
        trust: args.trust,
        tag,
        params,
    })
}

/// `value` as a decimal with `decimals` digits after the point.
pub fn scaled(value: I256, decimals: u32) -> String {
    if decimals == 0 {
        return value.to_string();
    }
    let negative = value.is_negative();
    let digits = value.unsigned_abs().to_string();
    let width = decimals as usize + 1;
    let padded = format!("{digits:0>width$}");
    let (int, frac) = padded.split_at(padded.len() - decimals as usize);
    format!("{}{int}.{frac}", if negative { "-" } else { "" })
}

fn describe_value(name: &str, key: B256, decimals: u32, value: &FeedValue) -> String {
    let status = match value.status {
        STATUS_OK => "200 (fresh)".to_owned(),
        STATUS_NOT_FOUND => "404 (no value yet)".to_owned(),
        408 => "408 (stale: older than the id's max age)".to_owned(),
        other => other.to_string(),
    };
    rows(&[
        ("id", format!("{name} ({key})")),
        ("value", scaled(value.value, decimals)),
        ("timestamp", value.timestamp.to_string()),
        ("status", status),
        ("task", value.task_id.to_string()),
    ])
}

fn describe_update(name: &str, decimals: u32, updated: &update::Updated) -> String {
    let mut text = describe_value(name, updated.requested.id, decimals, &updated.value);
    text.push_str(&rows(&[
        ("deal", updated.deal_id.to_string()),
        ("cost", updated.cost.to_string()),
        (
            "latency",
            format!(
                "{:.2} s (filled after {:.2} s)",
                updated.latency_s, updated.fill_latency_s
            ),
        ),
        (
            "gas",
            format!(
                "{} (request {}, match {}, execution {})",
                updated.gas.total, updated.gas.request, updated.gas.matched, updated.gas.execution
            ),
        ),
    ]));
    text
}

/// `dexec oracle feed`: updates on schedule and on deviation until the budget or the count.
async fn run_feed(args: FeedArgs, global: &Global) -> eyre::Result<Output> {
    if !(args.deviation >= 0.0 && args.deviation.is_finite()) {
        return Err(Fail::usage("--deviation must be a percentage ≥ 0"));
    }
    let client = global.signer().await?;
    let market = global.market(&client)?;
    let u = &args.update;
    let key = feed_id(&u.id);
    let spec = spec_of(&client, &market, u).await?;
    let per_update = spec.max_cost();
    let http = reqwest::Client::new();
    let every = Duration::from_secs(args.every.max(1));
    let check = Duration::from_secs(args.check_every.max(1));
    let mut spent = Nrlc(0);
    let mut done = Vec::new();
    let mut last: Option<Instant> = None;
    let say = |line: &str| eprintln!("{line}");
    eprintln!(
        "feeding {} ({key}) of {}: every {} s or on a {} % move, at most {} per update, budget {}",
        u.id,
        u.feed,
        every.as_secs(),
        args.deviation,
        per_update,
        args.budget
    );
    let stop_reason = loop {
        if args.updates.is_some_and(|n| done.len() as u64 >= n) {
            break "the updates asked for are done".to_owned();
        }
        let on_chain = client.feed_value(u.feed, key).await?;
        let due = last.is_none_or(|t| t.elapsed() >= every) || on_chain.status == STATUS_NOT_FOUND;
        let moved = if due || args.deviation == 0.0 {
            None
        } else {
            let current = scaled(on_chain.value, u.decimals).parse::<f64>().ok();
            match (prices::median(&http, &u.sources).await, current) {
                (Some(now), Some(current)) if current != 0.0 => {
                    let percent = ((now - current) / current).abs() * 100.0;
                    (percent >= args.deviation).then_some(percent)
                }
                _ => None,
            }
        };
        if due || moved.is_some() {
            if Nrlc(spent.0.saturating_add(per_update.0)) > args.budget {
                break format!(
                    "the budget is spent: {spent} of {} used, an update may cost {per_update}",
                    args.budget
                );
            }
            match moved {
                Some(percent) => say(&format!("the sources moved {percent:.3} %: updating")),
                None => say("scheduled update"),
            }
            last = Some(Instant::now());
            let timeout = Duration::from_secs(u.timeout);
            // the money counts from the match on, whatever the task then does (a claim's
            // refund is not counted back: the budget errs on the safe side)
            let outcome =
                match update::request_and_fill(&client, &market, u.feed, key, &spec, timeout, &say)
                    .await
                {
                    Ok(filled) => {
                        spent = Nrlc(spent.0.saturating_add(filled.cost().0));
                        update::await_value(&client, u.feed, key, filled, timeout).await
                    }
                    Err(e) => Err(e),
                };
            match outcome {
                Ok(updated) => {
                    say(&format!(
                        "value {} at {} (task {}, {:.2} s, gas {})",
                        scaled(updated.value.value, u.decimals),
                        updated.value.timestamp,
                        updated.value.task_id,
                        updated.latency_s,
                        updated.gas.total
                    ));
                    done.push(updated);
                }
                Err(e) => say(&format!(
                    "update failed: {}; retrying at the next check",
                    crate::exit::message(&e)
                )),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(check) => {}
            _ = tokio::signal::ctrl_c() => break "stopped (Ctrl-C)".to_owned(),
        }
    };
    let text = rows(&[
        ("updates", done.len().to_string()),
        ("spent", spent.to_string()),
        ("stopped", stop_reason.clone()),
    ]);
    Output::new(
        crate::json::with_units(json!({
            "updates": done,
            "spentNrlc": spent.0.to_string(),
            "stopped": stop_reason,
        }))?,
        text,
    )
}

/// `dexec oracle request`: `app run --callback … --watch`, then what each task delivered.
async fn request(args: RequestArgs, global: &Global) -> eyre::Result<Output> {
    let mut run = args.run;
    let Some(consumer) = run.exec.callback else {
        return Err(Fail::usage(
            "--callback <contract> is required: the consumer the hub calls with each result",
        ));
    };
    let reader = global.reader().await?;
    if alloy::providers::Provider::get_code_at(reader.provider(), consumer)
        .await?
        .is_empty()
    {
        return Err(Fail::usage(format!(
            "--callback {consumer} is not a contract on chain {}: the hub would call nobody",
            reader.chain_id()
        )));
    }
    run.watch = true;
    let output = super::run::run(run, global).await?;
    let mut delivered = Vec::new();
    let mut lines = Vec::new();
    for deal in output.json["deals"].as_array().cloned().unwrap_or_default() {
        for task in deal["tasks"].as_array().cloned().unwrap_or_default() {
            let Some(task) = task.as_str().and_then(|t| t.parse::<B256>().ok()) else {
                continue;
            };
            let data = reader.callback_data(task).await?;
            lines.push((format!("task {task}"), format!("callback data {data}")));
            delivered.push(json!({ "taskId": task, "callbackData": data }));
        }
    }
    let mut text = output.text;
    let lines: Vec<(&str, String)> = lines.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    text.push_str(&rows(&lines));
    let mut value = output.json;
    value["callback"] = json!(consumer);
    value["delivered"] = json!(delivered);
    Output::new(value, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_with_their_decimals() {
        let v = |n: i64| I256::try_from(n).unwrap_or_default();
        assert_eq!(scaled(v(200_012), 2), "2000.12");
        assert_eq!(scaled(v(5), 3), "0.005");
        assert_eq!(scaled(v(-5), 3), "-0.005");
        assert_eq!(scaled(v(-200_012), 2), "-2000.12");
        assert_eq!(scaled(v(42), 0), "42");
    }
}
