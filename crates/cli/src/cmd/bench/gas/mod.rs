//! `dexec bench gas`: receipt `gasUsed` of hub transactions, beside iExec's measured figures.
//!
//! Method (the one `research/iexec-gas-measured.md` used for iExec, so figures compare):
//! a fresh anvil (Prague, automine) with the hub deployed; an app, a dataset and a workerpool
//! registered; the requester, the scheduler and three replicated workers hold hub balances
//! (the two trust-1 workers start with none). That state is snapshotted and every scenario
//! starts from it. A scenario runs twice with new orders (new salts): the first run is reported
//! as `<name>_first` (accounts cold: e.g. locked balances go from zero to non-zero), the second
//! as `<name>`, the steady state iExec's document calls "repeat".
//! Figures are receipt `gasUsed`: 21,000 + calldata + execution − refunds, summed over a
//! flow's transactions (and divided by its tasks for per-task figures).
//!
//! To add a scenario: a [`Scenario`] variant, its figures in [`scenarios::SPECS`] and its arm
//! in `Scenario::run`, which returns one [`Measured`](measure::Measured) per spec; a figure
//! may sum several transactions, and one flow may yield several figures (its total and its
//! single calls).
//!
//! - [`scenarios`]: the flows and their figures (names, iExec anchors, targets, notes);
//! - [`world`]: the chain, the hub and the registered assets, snapshot and revert, funding;
//! - [`market`]: matching, deposit, withdraw, cancel; [`execution`]: what follows a match;
//! - [`measure`]: receipt gas and its intrinsic part, summed over a flow.

mod execution;
mod market;
mod measure;
mod scenarios;
mod world;

use std::path::PathBuf;

use dexec_contracts::anvil;
use eyre::{ensure, WrapErr};

use super::report::{notes, table, Figure, Report};
use crate::local::LocalChain;
use scenarios::Scenario;
use world::{World, ACCOUNTS};

/// Long help of `dexec bench gas`.
pub const LONG_ABOUT: &str = "\
Measure the gas of hub transactions and compare it with iExec's.

Spawns a fresh anvil (Prague, a block per transaction), deploys the hub, registers an app, a
dataset and a workerpool, and measures the receipt gasUsed (21,000 + calldata + execution -
refunds) of real transactions with orders signed in EIP-712 (65-byte signatures):
  match_volume1_no_dataset      matchOrders, volume 1, empty dataset order
  match_volume1_with_dataset    matchOrders, volume 1, with a dataset
  match_volume100_with_dataset  matchOrders, every order volume 100, with a dataset
  deposit                       deposit into an account that already has a balance
  withdraw                      partial withdraw (the balance stays non-zero)
  cancel_order                  manageRequestOrder(CLOSE) sent by the requester
  contribute_and_finalize       the trust-1 fast path, sent by the worker
  task_trust1_total             matchOrders + contributeAndFinalize
  task_trust3_two_workers_total trust 3: match + 2 contribute + 2 reveal + finalize
  task_trust3_three_workers_total
                                3 workers, at trust 5 (three fresh workers are only all
                                needed from trust 5), the scheduler's path: match + one
                                contributeBatch of the 3 signed contributions + finalize (no
                                reveal: the digest proves the winners)
  contribute_batch_three_workers, finalize
                                single calls of that run
  task_trust3_three_workers_each_total
                                the same task, each worker sending its own contribute and
                                reveal: match + 3 contribute + 3 reveal + finalize
  contribute, contribute_consensus, reveal
                                single calls of that run (first contribution, the one reaching
                                consensus, first reveal)
  bag100_per_task               (matchOrders volume 100 + two pushResults of 50) / 100
  claim                         claim of an unsettled trust-1 task after its final deadline
                                (the payer gets its price back, the scheduler's stake goes to
                                the kitty)
Prices: app 1,000 nRLC, dataset 1,000,000 nRLC, workerpool 1,000,000,000 nRLC; category 0,
no dataset unless named; the requester calls matchOrders itself. Each scenario starts from
the same snapshot and runs twice with new orders: `<name>_first` is the cold run, `<name>`
the steady state.

Anchors are iExec PoCo v6.2 receipts measured on this machine (research/iexec-gas-measured.md)
or, for single calls marked avg, the averages of iExec's own gas reports
(research/poco-contracts.md section 9).
Prints a table and writes {\"figures\", \"anchors\", \"targets\", \"alarms\", \"intrinsic\",
\"notes\"} as JSON.";

/// Arguments of `dexec bench gas`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the figures as JSON (directories are created).
    #[arg(long, default_value = "target/bench/gas.json", value_name = "FILE")]
    out: PathBuf,
    /// anvil binary to run instead of the pinned npm one.
    #[arg(long, env = "DEXEC_ANVIL", value_name = "PATH")]
    anvil_bin: Option<PathBuf>,
}

/// Run `dexec bench gas`.
pub async fn run(args: Args) -> eyre::Result<()> {
    let builder =
        anvil::anvil(args.anvil_bin.as_deref()).args(["--accounts", &ACCOUNTS.to_string()]);
    let chain = LocalChain::spawn(builder, args.anvil_bin.as_ref()).await?;
    ensure!(
        chain.signers.len() >= ACCOUNTS,
        "anvil gave {} dev accounts, the bench needs {ACCOUNTS}",
        chain.signers.len()
    );
    let mut world = World::setup(chain).await.wrap_err("bench setup failed")?;

    let mut figures = Vec::new();
    let mut first_runs = Vec::new();
    for scenario in Scenario::ALL {
        let specs = scenario.specs();
        let name = specs.first().map_or("?", |s| s.name);
        world.restore_snapshot().await?;
        let first = scenario.run_bounded(&mut world).await.wrap_err(name)?;
        let steady = scenario.run_bounded(&mut world).await.wrap_err(name)?;
        tracing::debug!(target: "bench", scenario = name, ?first, ?steady, "measured");
        ensure!(
            first.len() == specs.len() && steady.len() == specs.len(),
            "{name}: {} specs but {} figures measured",
            specs.len(),
            steady.len()
        );
        for ((spec, first), steady) in specs.into_iter().zip(first).zip(steady) {
            figures.push(Figure {
                name: spec.name.to_owned(),
                value: steady.gas,
                intrinsic: Some(steady.intrinsic),
                anchor: spec.anchor,
                target: spec.target,
                note: spec.note,
            });
            first_runs.push(Figure {
                name: format!("{}_first", spec.name),
                value: first.gas,
                intrinsic: Some(first.intrinsic),
                anchor: spec.anchor_first,
                target: None,
                note: None,
            });
        }
    }
    figures.extend(first_runs);

    crate::outln!("gas (receipt gasUsed, summed over a flow's transactions; anvil, Prague)\n");
    crate::out!("{}", table(&figures, "iExec anchor"));
    let notes = notes(&figures);
    if !notes.is_empty() {
        crate::out!("\n{notes}");
    }
    Report::new(&figures).write(&args.out)?;
    crate::outln!("\nwritten to {}", args.out.display());
    Ok(())
}
