//! `dexec demo --oracle`: a decentralized price feed end to end on this machine.
//!
//! Three price sources on loopback (two honest ones a cent apart, one lying by 20%), the
//! `pricefeed` app on the market, a workerpool at trust 3 with three honest workers and one
//! that lies about its result, and a PriceFeedOracle consumer deployed and funded by the
//! requester. The consumer presigns a request, the CLI publishes it, the scheduler fills it,
//! the workers fetch the sources and agree on the median, the liar is outvoted and slashed,
//! and the hub calls the consumer back: the demo prints `valueFor`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use dexec_sdk::oracle::feed_id;
use dexec_sdk::primitives::Nrlc;
use eyre::eyre;

use super::prices::{self, Quote};
use super::update;
use crate::cluster::{Cluster, Options};
use crate::cmd::demo::step;

/// The demo's sources: (what it is, price). The liar asks 20% more.
const SOURCES: [(&str, &str); 3] = [
    ("honest source A", "2000.12"),
    ("honest source B", "2000.14"),
    ("lying source C (+20%)", "2400.15"),
];

/// The feed's precision in the demo: one decimal (both honest sources round to 2000.1).
const DECIMALS: u32 = 1;

/// Trust of the feed's tasks.
const TRUST: u64 = 3;

/// What the demo sets up, for `dexec demo --oracle` and the oracle benchmark.
pub struct OracleSetup {
    /// The running system (the requester is the feed's owner).
    pub cluster: Cluster,
    /// The feed contract.
    pub feed: Address,
    /// The sources' URLs.
    pub sources: Vec<String>,
    /// Stops the price servers.
    stop: tokio::sync::watch::Sender<bool>,
}

impl OracleSetup {
    /// Start the price servers and the system (`workers` workers of which `liars` lie, the
    /// pool at `trust`), deploy the feed as the requester and fund it. The sources report
    /// the time they started (`fixed_time`) or the clock, to the second.
    pub async fn start(
        base: Options,
        trust: u64,
        workers: usize,
        liars: usize,
        fixed_time: bool,
        log: impl Fn(String),
    ) -> eyre::Result<Self> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let observed = fixed_time.then(prices::unix_now);
        let mut sources = Vec::new();
        let mut hosts = Vec::new();
        for (what, price) in SOURCES {
            let mut stopped = stopped.clone();
            let (addr, _task): (SocketAddr, _) = prices::serve(
                "127.0.0.1:0".parse()?,
                Quote {
                    price: price.into(),
                    timestamp: observed,
                    step: 1,
                },
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            )
            .await?;
            log(format!("{what}: {price} at http://{addr}/price"));
            sources.push(format!("http://{addr}/price"));
            hosts.push(addr.to_string());
        }
        let pricefeed = crate::examples::find("pricefeed")?;
        let cluster = Cluster::start(
            Options {
                wasm: pricefeed.wasm.to_vec(),
                app_name: pricefeed.name.to_owned(),
                workers,
                pool_trust: trust,
                market: true,
                allowed_input_hosts: hosts,
                liars_alone: 0,
                liars_colluding: liars,
                ..base
            },
            &log,
        )
        .await?;
        let (feed, tx) = cluster.requester.deploy_price_feed().await?;
        log(format!(
            "PriceFeedOracle deployed at {feed} by the requester (gas {})",
            tx.gas_used
        ));
        let fund = Nrlc::from_rlc(100);
        cluster.requester.deposit_for(fund, feed).await?;
        log(format!("the feed's hub account funded with {fund}"));
        Ok(Self {
            cluster,
            feed,
            sources,
            stop,
        })
    }

    /// The feed's request for one update of `id` at `trust` (timestamps floored to `bucket`
    /// seconds), at the market's prices.
    pub async fn spec(
        &self,
        id: &str,
        trust: u64,
        bucket: u64,
    ) -> eyre::Result<dexec_sdk::oracle::OracleSpec> {
        let market = self.market()?;
        let args = super::UpdateArgs {
            feed: self.feed,
            id: id.to_owned(),
            app: self.cluster.app,
            sources: self.sources.clone(),
            decimals: DECIMALS,
            bucket,
            trust,
            category: 0,
            workerpool: None,
            app_max_price: None,
            workerpool_max_price: None,
            tag: "0x0".into(),
            timeout: 120,
        };
        super::spec_of(&self.cluster.requester, market, &args).await
    }

    /// The market.
    pub fn market(&self) -> eyre::Result<&dexec_sdk::market::MarketClient> {
        self.cluster
            .market
            .as_ref()
            .ok_or_else(|| eyre!("the oracle setup serves a market"))
    }

    /// Stop the price servers and the system.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.cluster.stop().await;
    }
}

/// Run the oracle demo.
pub async fn run(args: &crate::cmd::demo::Args, started: Instant) -> eyre::Result<()> {
    let base = crate::cmd::demo::options(args, Vec::new(), String::new());
    let setup = OracleSetup::start(base, TRUST, 4, 1, true, |line| step(started, line)).await?;
    let id = "ETH/USD";
    let spec = setup.spec(id, TRUST, 60).await?;
    step(
        started,
        format!(
            "the feed asks for {id} at trust {TRUST}: app {}, at most {} per update",
            spec.app,
            spec.max_cost()
        ),
    );
    let say = |line: &str| step(started, line);
    let updated = update::update(
        &setup.cluster.requester,
        setup.market()?,
        setup.feed,
        feed_id(id),
        &spec,
        Duration::from_secs(args.timeout),
        &say,
    )
    .await?;
    let client = &setup.cluster.requester;
    let deal = client.deal(updated.deal_id).await?;
    let contributors = client
        .contributors(updated.requested.task_id, deal.block)
        .await?;
    for (worker, lies) in &setup.cluster.workers {
        if !contributors.contains(worker) {
            continue;
        }
        let account = client.account(*worker).await?;
        let role = if lies.lies() {
            "the liar: outvoted, its stake went to the winners"
        } else {
            "honest: paid"
        };
        step(
            started,
            format!(
                "worker {worker} ({role}): score {}, hub balance {}",
                account.score, account.hub_balance
            ),
        );
    }
    let value = client.feed_value(setup.feed, feed_id(id)).await?;
    crate::outln!(
        "\nvalueFor({id}) on chain: {} (status {}), timestamp {}, from task {}",
        super::scaled(value.value, DECIMALS),
        value.status,
        value.timestamp,
        value.task_id
    );
    crate::outln!(
        "the median of the sources, {} at {DECIMALS} decimal: the lying source and the lying \
         worker changed nothing ({:.2} s from request to value, gas {})",
        super::scaled(value.value, DECIMALS),
        updated.latency_s,
        updated.gas.total
    );
    if args.keep {
        crate::outln!(
            "\nstill running (Ctrl-C stops): chain {}, feed {}",
            setup.cluster.entry.host,
            setup.feed
        );
        tokio::signal::ctrl_c().await?;
    }
    setup.stop().await;
    step(started, "stopped");
    Ok(())
}
