//! `dexec bench oracle`: what one price-feed update costs and how long it takes, end to end
//! on this machine (devnet with real blocks, market, scheduler filling the feed's request,
//! workers fetching loopback sources, the PriceFeedOracle consumer called back).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use dexec_sdk::oracle::feed_id;
use eyre::WrapErr;
use serde::Serialize;

use crate::cluster::Options;
use crate::cmd::oracle::demo::OracleSetup;
use crate::cmd::oracle::update::{update, Updated};

/// Long help of `dexec bench oracle`.
pub const LONG_ABOUT: &str = "\
Measure price-feed updates end to end on this machine: a devnet with real block times, the
market, a scheduler that fills the feed's presigned request, three workers fetching three
price sources on loopback, and a PriceFeedOracle called back by the hub.

  oracle_update_latency_p50_s         requestUpdate sent -> the new value readable on chain
                                      (valueFor), trust 1
  oracle_update_latency_trust3_p50_s  the same at trust 3 (replicas agree on the median)
  oracle_gas_per_update               gas of every transaction of one update at trust 1, once
                                      the feed holds a value: requestUpdate (presign) +
                                      matchOrders (the scheduler) + contributeAndFinalize with
                                      the callback (the worker)
  request_fill_latency_p50_s          a request published on the market -> its deal mined,
                                      matched by a scheduler (every update's request)

Each figure is the median of the runs, printed with its range. Anchors: Chainlink Functions
~185k gas of overhead plus the callback per request; a Pyth pull update ~380k gas.
Targets: trust-1 update <= 4 s, gas <= 150k, fill <= 2 s. Writes target/bench/oracle.json.";

/// Arguments of `dexec bench oracle`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/bench/oracle.json", value_name = "FILE")]
    out: PathBuf,
    /// Updates measured at trust 1 (the first, the feed's first value, is not counted in the
    /// gas figure).
    #[arg(long, default_value_t = 8)]
    updates: usize,
    /// Updates measured at trust 3.
    #[arg(long, default_value_t = 5)]
    updates_trust3: usize,
    /// Seconds between devnet blocks.
    #[arg(long, default_value_t = 1)]
    block_time: u64,
    /// State of the services during the bench (emptied first).
    #[arg(long, default_value = "target/bench/oracle-state", value_name = "DIR")]
    state_dir: PathBuf,
}

/// A figure: its median and range over the runs.
#[derive(Debug, Serialize)]
struct Figure {
    median: f64,
    min: f64,
    max: f64,
    runs: usize,
}

impl Figure {
    fn of(samples: &[f64]) -> Self {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Self {
            median: sorted
                .get((sorted.len().max(1) - 1) / 2)
                .copied()
                .unwrap_or(f64::NAN),
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
            runs: sorted.len(),
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    figures: BTreeMap<&'static str, f64>,
    ranges: BTreeMap<&'static str, Figure>,
    targets: BTreeMap<&'static str, String>,
    anchors: BTreeMap<&'static str, &'static str>,
    samples: BTreeMap<&'static str, Vec<f64>>,
    gas_breakdown: BTreeMap<&'static str, u64>,
    config: BTreeMap<&'static str, u64>,
}

/// One update of `id`, said on stderr.
async fn measure(
    setup: &OracleSetup,
    id: &str,
    spec: &dexec_sdk::oracle::OracleSpec,
    label: &str,
    i: usize,
) -> eyre::Result<Updated> {
    let done = update(
        &setup.cluster.requester,
        setup.market()?,
        setup.feed,
        feed_id(id),
        spec,
        Duration::from_secs(180),
        &|_: &str| {},
    )
    .await
    .wrap_err_with(|| format!("{label} update {i}"))?;
    eprintln!(
        "{label} update {i}: {:.2} s, filled after {:.2} s, gas {}",
        done.latency_s, done.fill_latency_s, done.gas.total
    );
    Ok(done)
}

/// Run `dexec bench oracle`.
pub async fn run(args: Args) -> eyre::Result<()> {
    let base = Options {
        wasm: Vec::new(),
        app_name: String::new(),
        block_time: args.block_time,
        state_dir: args.state_dir.clone(),
        workers: 3,
        trust1_mode: dexec_scheduler::Trust1Mode::Fast,
        pool_trust: 3,
        market: true,
        batch_size: 64,
        worker_slots: 2,
        allowed_input_hosts: Vec::new(),
        liars_alone: 0,
        liars_colluding: 0,
    };
    let setup = OracleSetup::start(base, 3, 3, 0, false, |line| eprintln!("{line}")).await?;
    // trust 1: one feed id updated again and again (timestamps to the second, bucket 1 s)
    let id = "BENCH/T1";
    let spec = setup.spec(id, 1, 1).await?;
    let mut trust1: Vec<Updated> = Vec::new();
    for i in 0..args.updates {
        // a newer second than the value held
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        trust1.push(measure(&setup, id, &spec, "trust 1", i).await?);
    }
    // trust 3: a fresh id each time (one-hour buckets: replicas fetching a second apart agree)
    let mut trust3: Vec<Updated> = Vec::new();
    for i in 0..args.updates_trust3 {
        let id = format!("BENCH/T3/{i}");
        let spec = setup.spec(&id, 3, 3600).await?;
        trust3.push(measure(&setup, &id, &spec, "trust 3", i).await?);
    }
    setup.stop().await;

    let latency1: Vec<f64> = trust1.iter().map(|u| u.latency_s).collect();
    let latency3: Vec<f64> = trust3.iter().map(|u| u.latency_s).collect();
    // the first update writes the feed's first value (fresh storage): steady state after it
    let steady: Vec<&Updated> = trust1.iter().skip(1).collect();
    let gas: Vec<f64> = steady.iter().map(|u| u.gas.total as f64).collect();
    let fill: Vec<f64> = trust1
        .iter()
        .chain(trust3.iter())
        .map(|u| u.fill_latency_s)
        .collect();
    let ranges: BTreeMap<&'static str, Figure> = [
        ("oracle_update_latency_p50_s", Figure::of(&latency1)),
        ("oracle_update_latency_trust3_p50_s", Figure::of(&latency3)),
        ("oracle_gas_per_update", Figure::of(&gas)),
        ("request_fill_latency_p50_s", Figure::of(&fill)),
    ]
    .into();
    let figures: BTreeMap<&'static str, f64> = ranges.iter().map(|(k, f)| (*k, f.median)).collect();
    let targets: BTreeMap<&'static str, String> = [
        ("oracle_update_latency_p50_s", "<= 4".to_owned()),
        ("oracle_gas_per_update", "<= 150000".to_owned()),
        ("request_fill_latency_p50_s", "<= 2".to_owned()),
    ]
    .into();
    let anchors: BTreeMap<&'static str, &'static str> = [
        (
            "oracle_gas_per_update",
            "Chainlink Functions ~185k overhead + callback; Pyth pull update ~380k",
        ),
        (
            "oracle_update_latency_p50_s",
            "Chainlink Functions: seconds to minutes (DON consensus)",
        ),
    ]
    .into();
    let met = |name: &str, value: f64| -> &'static str {
        let bound = match name {
            "oracle_update_latency_p50_s" => 4.0,
            "oracle_gas_per_update" => 150_000.0,
            "request_fill_latency_p50_s" => 2.0,
            _ => return "",
        };
        if value <= bound {
            " ✓"
        } else {
            " ✗"
        }
    };
    crate::outln!(
        "price-feed updates on this machine ({} s blocks, 3 workers, 3 loopback sources)\n",
        args.block_time
    );
    crate::outln!(
        "{:<36} {:>10} {:>21}  {:<12} anchor",
        "figure (median)",
        "measured",
        "range",
        "target"
    );
    for (name, f) in &ranges {
        let target = targets.get(name).map_or("-", String::as_str);
        crate::outln!(
            "{name:<36} {:>10.2} {:>21}  {:<12} {}",
            f.median,
            format!("[{:.2}, {:.2}] n={}", f.min, f.max, f.runs),
            format!("{target}{}", met(name, f.median)),
            anchors.get(name).copied().unwrap_or("")
        );
    }
    let median_of = |pick: fn(&Updated) -> u64| {
        let mut values: Vec<u64> = steady.iter().map(|u| pick(u)).collect();
        values.sort_unstable();
        values
            .get((values.len().max(1) - 1) / 2)
            .copied()
            .unwrap_or(0)
    };
    let gas_breakdown: BTreeMap<&'static str, u64> = [
        ("request_update", median_of(|u| u.gas.request)),
        ("match_orders", median_of(|u| u.gas.matched)),
        (
            "contribute_and_finalize_with_callback",
            median_of(|u| u.gas.execution),
        ),
        (
            "first_update_total",
            trust1.first().map_or(0, |u| u.gas.total),
        ),
    ]
    .into();
    crate::outln!(
        "\ngas of one trust-1 update (median): requestUpdate {}, matchOrders {}, \
         contributeAndFinalize with the callback {}",
        gas_breakdown["request_update"],
        gas_breakdown["match_orders"],
        gas_breakdown["contribute_and_finalize_with_callback"]
    );
    let report = Report {
        figures,
        ranges,
        targets,
        anchors,
        samples: [
            ("oracle_update_latency_s", latency1),
            ("oracle_update_latency_trust3_s", latency3),
            ("oracle_gas_per_update", gas),
            ("request_fill_latency_s", fill),
        ]
        .into(),
        gas_breakdown,
        config: [
            ("updates", args.updates as u64),
            ("updates_trust3", args.updates_trust3 as u64),
            ("block_time_s", args.block_time),
            ("workers", 3),
            ("sources", 3),
        ]
        .into(),
    };
    super::report::write_json(&args.out, &report)?;
    crate::outln!("\nwritten to {}", args.out.display());
    Ok(())
}
