//! `dexec bench byzantine`: liars at scale. Many replicated tasks on the real hub with a share
//! of the workers lying (some alone, some colluding on one wrong answer); what the chain says
//! afterwards: wrong results accepted, liars' stakes seized, honest workers' earnings, gas per
//! task, and whether every token is still accounted for.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use dexec_primitives::poco;
use dexec_sdk::EventFollower;
use dexec_worker::Honesty;
use eyre::eyre;
use serde::Serialize;

mod chain;

use self::chain::{gas_between, Gas, Ledger, Snapshot};
use super::report::{aligned, thousands, write_json};
use crate::cluster::{Cluster, Options};

/// Long help of `dexec bench byzantine`.
pub const LONG_ABOUT: &str = "\
Liars at scale: the whole system on this machine (devnet with real blocks and the real hub,
store, scheduler, workers, the hello app) runs many tasks at a trust above 1 while some
workers lie: the first --liars-alone each vote a wrong digest of their own, the next
--liars-colluding all vote the same wrong digest. Liars register first, so the scheduler
tends to hand them replicates early. The tasks go as bags (deals of --bag tasks), at most
--bags-in-flight at a time. Every figure is read from the chain:

  wrong_results_accepted      finalized tasks whose digest is not the honest one (the
                              digest this command gets running the app itself, as an
                              honest worker does)
  tasks_won_by_liars          tasks where the hub judged a liar's contribution accurate
  liar_contributions          contributions of liars (TaskContribute events), and how many
  liar_contributions_slashed  of them the hub judged faulty (FaultyContribution: stake
                              seized, score cut by a third)
  liar_stake_seized_rlc       those contributions times the deal's worker stake
  liars_balance_change_rlc    the liars' hub balances after minus before (measured)
  honest_earnings_rlc         the honest workers' hub balances after minus before
  gas_per_task                gasUsed of every transaction sent to the hub during the run
                              (matches, contributions, reveals, finalizations, anything
                              else, reverted ones included) / tasks
  contributions_per_task      TaskContribute events / tasks
  money_unaccounted_nrlc      what the dev accounts and the kitty hold on the hub, before
                              minus after (the hub's totalHeld and token balance must agree)

The command fails (exit code 1, after writing the JSON) when a task did not complete or
money is not conserved. Writes target/bench/byzantine.json.";

/// Arguments of `dexec bench byzantine`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the JSON report.
    #[arg(
        long,
        default_value = "target/bench/byzantine.json",
        value_name = "FILE"
    )]
    out: PathBuf,
    /// Tasks in all.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    tasks: u64,
    /// Workers in all, liars included.
    #[arg(long, default_value_t = 10)]
    workers: usize,
    /// Workers that each vote a wrong digest of their own.
    #[arg(long, default_value_t = 1)]
    liars_alone: usize,
    /// Workers that all vote the same wrong digest.
    #[arg(long, default_value_t = 2)]
    liars_colluding: usize,
    /// Trust of every task (replicated: at least 2).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(2..=65_536))]
    trust: u64,
    /// Tasks per deal.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    bag: u64,
    /// Deals matched and not yet complete at any time (the next is matched when one
    /// completes, so that no bag waits long enough to near its deadlines).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    bags_in_flight: u64,
    /// Seconds between devnet blocks.
    #[arg(long, default_value_t = 1)]
    block_time: u64,
    /// Replicates each worker runs at once (`dexec worker --max-concurrent`).
    #[arg(long, default_value_t = 2)]
    worker_slots: u32,
    /// Give up on tasks not final after this many seconds (they count as not completed).
    #[arg(long, default_value_t = 3600)]
    timeout_secs: u64,
    /// State of the services during the bench (emptied first).
    #[arg(
        long,
        default_value = "target/bench/byzantine-state",
        value_name = "DIR"
    )]
    state_dir: PathBuf,
}

/// Run `dexec bench byzantine`.
pub async fn run(args: Args) -> eyre::Result<()> {
    let liars = args.liars_alone + args.liars_colluding;
    if liars >= args.workers {
        return Err(crate::exit::Fail::usage(format!(
            "{liars} liars among {} workers leave no honest worker",
            args.workers
        )));
    }
    let honest_needed = honest_votes_needed(args.trust, args.liars_alone, args.liars_colluding)
        .ok_or_else(|| {
            crate::exit::Fail::usage(format!(
                "at trust {} no number of fresh honest workers outvotes {liars} liars within the \
                 hub's {} contributions per task: lower --trust or the liars",
                args.trust,
                poco::MAX_CONTRIBUTORS
            ))
        })?;
    if honest_needed > args.workers - liars {
        return Err(crate::exit::Fail::usage(format!(
            "at trust {} a task whose {liars} liars all voted first needs {honest_needed} honest \
             fresh workers (weight 2) to reach consensus, and there are {}: such a task would \
             never complete; add workers or lower --trust",
            args.trust,
            args.workers - liars
        )));
    }
    let hello = crate::examples::find("hello")?;
    let bags = args.tasks.div_ceil(args.bag);

    // the honest answer of every bag, from the app run here as an honest worker runs it
    let runtime = Arc::new(dexec_runtime::Runtime::new(
        dexec_runtime::RuntimeConfig::default(),
    )?);
    let mut plan = Vec::new();
    for b in 0..bags {
        let volume = args.bag.min(args.tasks - b * args.bag);
        let app_args = format!("liars at scale, bag {b}");
        let digest = honest_digest(&runtime, hello.wasm, &app_args).await?;
        plan.push((volume, app_args, digest));
    }

    let cluster = Cluster::start(
        Options {
            wasm: hello.wasm.to_vec(),
            app_name: hello.name.to_owned(),
            block_time: args.block_time,
            state_dir: args.state_dir.clone(),
            workers: args.workers,
            trust1_mode: dexec_scheduler::Trust1Mode::Fast,
            pool_trust: args.trust,
            market: false,
            batch_size: 64,
            worker_slots: args.worker_slots,
            allowed_input_hosts: Vec::new(),
            liars_alone: args.liars_alone,
            liars_colluding: args.liars_colluding,
        },
        |line| eprintln!("{line}"),
    )
    .await?;
    let result = measure(&cluster, &args, plan).await;
    cluster.stop().await;
    let measured = result?;
    let verdicts = measured.print(&args);
    write_json(&args.out, &measured.json)?;
    crate::outln!("\nwritten to {}", args.out.display());
    verdicts
}

/// Honest fresh votes (weight 2) a task needs when every liar voted first, or `None` when
/// the hub's contributor cap comes first.
fn honest_votes_needed(trust: u64, alone: usize, colluding: usize) -> Option<usize> {
    let trust = u32::try_from(trust).ok()?;
    let fresh = poco::weight(0);
    let mut votes: Vec<(B256, u64)> = (0..alone)
        .map(|i| (B256::with_last_byte(i as u8 + 1), fresh))
        .collect();
    votes.extend((0..colluding).map(|_| (B256::repeat_byte(0xcc), fresh)));
    // colluders who win on their own leave no room for honest votes: report wrong results
    // instead of refusing to run
    if poco::has_consensus(trust, &votes) {
        return Some(0);
    }
    let liars = votes.len();
    (1..=poco::MAX_CONTRIBUTORS.saturating_sub(liars)).find(|_| {
        votes.push((B256::repeat_byte(0xaa), fresh));
        poco::has_consensus(trust, &votes)
    })
}

/// Digest of the app's result for `app_args`, run in this process's runtime with the limits
/// a worker gives a task of category 0.
async fn honest_digest(
    runtime: &Arc<dexec_runtime::Runtime>,
    wasm: &[u8],
    app_args: &str,
) -> eyre::Result<B256> {
    let dir = tempfile::tempdir()?;
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::create_dir_all(&input)?;
    std::fs::create_dir_all(&output)?;
    let mut job = dexec_runtime::Job::new(
        wasm.to_vec(),
        dexec_runtime::TaskEnv::new([0; 32]),
        &input,
        &output,
    );
    job.args = app_args.to_owned();
    let run = runtime.clone().run_blocking(job).await?;
    if !matches!(run.outcome, dexec_runtime::Outcome::Ok { exit_code: 0 }) {
        return Err(eyre!("the app ended {:?} here", run.outcome));
    }
    let computed = dexec_sdk::results::read_computed(&output)?;
    Ok(B256::from(dexec_sdk::results::output_digest(
        &computed, &output,
    )?))
}

/// One deal of the run.
struct Bag {
    deal_id: B256,
    tasks: Vec<B256>,
    honest: B256,
    worker_stake: u128,
    done: bool,
}

/// Match the bags (at most `bags_in_flight` unfinished), follow the hub until every task is
/// final (or the timeout), then read balances and receipts.
async fn measure(
    cluster: &Cluster,
    args: &Args,
    plan: Vec<(u64, String, B256)>,
) -> eyre::Result<Measured> {
    let client = &cluster.requester;
    let before = Snapshot::take(client, &cluster.accounts).await?;
    let from = client.block_number().await? + 1;
    let mut follower = EventFollower::new(client.clone(), from);
    let mut ledger = Ledger::default();
    let mut bags: Vec<Bag> = Vec::new();
    let mut plan = plan.into_iter();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout_secs);
    let mut last_final = started;
    loop {
        while (bags.iter().filter(|b| !b.done).count() as u64) < args.bags_in_flight {
            let Some((volume, app_args, honest)) = plan.next() else {
                break;
            };
            let matched = cluster.request(&app_args, args.trust, volume).await?;
            for task in &matched.tasks {
                ledger.bag_of.insert(*task, bags.len());
            }
            bags.push(Bag {
                deal_id: matched.deal_id,
                tasks: matched.tasks,
                honest,
                worker_stake: matched.deal.worker_stake,
                done: false,
            });
        }
        for log in follower.poll().await? {
            ledger.record(log.event);
        }
        for (i, bag) in bags.iter_mut().enumerate() {
            if !bag.done && bag.tasks.iter().all(|t| ledger.is_final(t)) {
                bag.done = true;
                last_final = Instant::now();
                eprintln!(
                    "bag {}/{} ({} tasks, deal {}) final at {:.1} s",
                    i + 1,
                    args.tasks.div_ceil(args.bag),
                    bag.tasks.len(),
                    bag.deal_id,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        let all_matched = plan.len() == 0;
        if all_matched && bags.iter().all(|b| b.done) {
            break;
        }
        if Instant::now() > deadline {
            eprintln!(
                "giving up after {} s: tasks not final count as not completed",
                args.timeout_secs
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let duration = last_final.duration_since(started);
    // two more blocks, so that a transaction sent right after the last finalization counts
    let end = client.block_number().await? + 2;
    while client.block_number().await? < end {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while follower.next_block() <= end {
        for log in follower.poll().await? {
            ledger.record(log.event);
        }
    }
    let after = Snapshot::take(client, &cluster.accounts).await?;
    let gas = gas_between(client, from, end).await?;
    Ok(Measured::new(
        args,
        &cluster.workers,
        &bags,
        &ledger,
        &before,
        &after,
        gas,
        duration,
        (from, end),
    ))
}

/// One worker's part in the run.
#[derive(Serialize)]
struct WorkerReport {
    address: Address,
    honesty: &'static str,
    contributions: u64,
    /// Votes for another digest than the honest one.
    wrong_votes: u64,
    judged_accurate: u64,
    judged_faulty: u64,
    balance_change_nrlc: i128,
    score_before: u64,
    score_after: u64,
}

/// The hub's money before and after.
#[derive(Serialize)]
struct Money {
    on_hub_before_nrlc: u128,
    on_hub_after_nrlc: u128,
    kitty_before_nrlc: u128,
    kitty_after_nrlc: u128,
    total_held_before_nrlc: u128,
    total_held_after_nrlc: u128,
    hub_tokens_before_nrlc: u128,
    hub_tokens_after_nrlc: u128,
    conserved: bool,
}

/// The JSON report.
#[derive(Serialize)]
struct Json {
    figures: BTreeMap<&'static str, f64>,
    anchors: BTreeMap<&'static str, &'static str>,
    targets: BTreeMap<&'static str, &'static str>,
    workers: Vec<WorkerReport>,
    money: Money,
    gas: Gas,
    blocks: (u64, u64),
    config: BTreeMap<&'static str, u64>,
}

/// The figures of a run and the checks that fail it.
struct Measured {
    json: Json,
    failures: Vec<String>,
}

/// `nRLC` as RLC.
fn rlc(nrlc: i128) -> f64 {
    nrlc as f64 / 1e9
}

impl Measured {
    #[allow(clippy::too_many_arguments)] // one call site: the measurement's parts
    fn new(
        args: &Args,
        workers: &[(Address, Honesty)],
        bags: &[Bag],
        ledger: &Ledger,
        before: &Snapshot,
        after: &Snapshot,
        gas: Gas,
        duration: Duration,
        blocks: (u64, u64),
    ) -> Self {
        let honesty: HashMap<Address, Honesty> = workers.iter().copied().collect();
        let lies = |w: &Address| honesty.get(w).is_some_and(|h| h.lies());
        let tasks = args.tasks;
        let completed = ledger
            .finalized
            .keys()
            .filter(|t| ledger.bag_of.contains_key(*t))
            .count() as u64;
        let claimed = ledger.claimed.len() as u64;
        let wrong = ledger
            .finalized
            .iter()
            .filter(|(task, digest)| {
                ledger
                    .bag_of
                    .get(*task)
                    .is_some_and(|b| bags[*b].honest != **digest)
            })
            .count() as u64;
        let won_by_liars: HashSet<B256> = ledger
            .judged
            .iter()
            .filter(|((_, w), accurate)| **accurate && lies(w))
            .map(|((task, _), _)| *task)
            .collect();

        // per worker: contributions, wrong votes, judgements, balance and score
        let mut reports: Vec<WorkerReport> = workers
            .iter()
            .map(|(address, h)| WorkerReport {
                address: *address,
                honesty: match h {
                    Honesty::Honest => "honest",
                    Honesty::LiesAlone => "alone",
                    Honesty::Colludes => "collude",
                },
                contributions: 0,
                wrong_votes: 0,
                judged_accurate: 0,
                judged_faulty: 0,
                balance_change_nrlc: after.holding(address) - before.holding(address),
                score_before: before.score(address),
                score_after: after.score(address),
            })
            .collect();
        let index: HashMap<Address, usize> = workers
            .iter()
            .enumerate()
            .map(|(i, (a, _))| (*a, i))
            .collect();
        let mut contributions = 0u64;
        let mut stake_seized = 0u128;
        for (task, votes) in &ledger.contributions {
            let Some(bag) = ledger.bag_of.get(task).map(|b| &bags[*b]) else {
                continue;
            };
            let honest_vote = poco::result_hash(*task, bag.honest);
            for (worker, hash) in votes {
                contributions += 1;
                let Some(r) = index.get(worker).map(|i| &mut reports[*i]) else {
                    continue;
                };
                r.contributions += 1;
                r.wrong_votes += u64::from(*hash != honest_vote);
                match ledger.judged.get(&(*task, *worker)) {
                    Some(true) => r.judged_accurate += 1,
                    Some(false) => {
                        r.judged_faulty += 1;
                        if r.honesty != "honest" {
                            stake_seized += bag.worker_stake;
                        }
                    }
                    None => {}
                }
            }
        }
        let (liar_reports, honest_reports): (Vec<&WorkerReport>, Vec<&WorkerReport>) =
            reports.iter().partition(|r| r.honesty != "honest");
        let sum = |rs: &[&WorkerReport], f: fn(&WorkerReport) -> u64| -> u64 {
            rs.iter().map(|r| f(r)).sum()
        };
        let liar_contributions = sum(&liar_reports, |r| r.contributions);
        let liar_slashed = sum(&liar_reports, |r| r.judged_faulty);
        let liar_lies = sum(&liar_reports, |r| r.wrong_votes);
        let honest_slashed = sum(&honest_reports, |r| r.judged_faulty);
        let honest_wrong = sum(&honest_reports, |r| r.wrong_votes);
        let liars_change: i128 = liar_reports.iter().map(|r| r.balance_change_nrlc).sum();
        let honest_earnings: Vec<i128> = honest_reports
            .iter()
            .map(|r| r.balance_change_nrlc)
            .collect();
        let liars_contributed = liar_reports.iter().filter(|r| r.contributions > 0).count();

        let on_hub = (before.on_hub(), after.on_hub());
        let conserved = on_hub.0 == on_hub.1
            && before.total_held == on_hub.0
            && after.total_held == on_hub.1
            && before.hub_tokens == before.total_held
            && after.hub_tokens == after.total_held;
        let money = Money {
            on_hub_before_nrlc: on_hub.0,
            on_hub_after_nrlc: on_hub.1,
            kitty_before_nrlc: before.kitty,
            kitty_after_nrlc: after.kitty,
            total_held_before_nrlc: before.total_held,
            total_held_after_nrlc: after.total_held,
            hub_tokens_before_nrlc: before.hub_tokens,
            hub_tokens_after_nrlc: after.hub_tokens,
            conserved,
        };
        let mut failures = Vec::new();
        if completed < tasks {
            failures.push(format!(
                "{} of {tasks} tasks did not complete ({claimed} claimed at their deadline, the \
                 others not final after {} s)",
                tasks - completed,
                args.timeout_secs
            ));
        }
        if !conserved {
            failures.push(format!(
                "money is not conserved: the dev accounts and the kitty held {} nRLC on the hub \
                 before and {} after; the hub's totalHeld went {} -> {}, its token balance {} \
                 -> {}",
                on_hub.0,
                on_hub.1,
                before.total_held,
                after.total_held,
                before.hub_tokens,
                after.hub_tokens
            ));
        }

        let secs = duration.as_secs_f64();
        let per_task = |n: u64| n as f64 / tasks as f64;
        let figures: BTreeMap<&'static str, f64> = [
            ("tasks_completed", completed as f64),
            ("tasks_claimed", claimed as f64),
            ("wrong_results_accepted", wrong as f64),
            ("tasks_won_by_liars", won_by_liars.len() as f64),
            ("contributions_per_task", per_task(contributions)),
            ("liars_that_contributed", liars_contributed as f64),
            ("liar_contributions", liar_contributions as f64),
            ("liar_wrong_votes", liar_lies as f64),
            ("liar_contributions_slashed", liar_slashed as f64),
            ("liar_stake_seized_rlc", rlc(stake_seized as i128)),
            ("liars_balance_change_rlc", rlc(liars_change)),
            (
                "liars_score_after_max",
                liar_reports
                    .iter()
                    .map(|r| r.score_after)
                    .max()
                    .unwrap_or(0) as f64,
            ),
            (
                "honest_earnings_rlc",
                rlc(honest_earnings.iter().sum::<i128>()),
            ),
            (
                "honest_earnings_min_rlc",
                rlc(honest_earnings.iter().copied().min().unwrap_or(0)),
            ),
            (
                "honest_earnings_max_rlc",
                rlc(honest_earnings.iter().copied().max().unwrap_or(0)),
            ),
            ("honest_wrong_votes", honest_wrong as f64),
            ("honest_contributions_slashed", honest_slashed as f64),
            (
                "honest_score_after_min",
                honest_reports
                    .iter()
                    .map(|r| r.score_after)
                    .min()
                    .unwrap_or(0) as f64,
            ),
            ("reopens", ledger.reopened as f64),
            ("gas_per_task", (gas.total as f64 / tasks as f64).round()),
            ("duration_s", (secs * 10.0).round() / 10.0),
            (
                "throughput_tasks_per_s",
                (completed as f64 / secs.max(f64::EPSILON) * 100.0).round() / 100.0,
            ),
            ("money_unaccounted_nrlc", on_hub.0.abs_diff(on_hub.1) as f64),
        ]
        .into();
        let config: BTreeMap<&'static str, u64> = [
            ("tasks", tasks),
            ("workers", args.workers as u64),
            ("liars_alone", args.liars_alone as u64),
            ("liars_colluding", args.liars_colluding as u64),
            ("trust", args.trust),
            ("bag", args.bag),
            ("bags_in_flight", args.bags_in_flight),
            ("block_time_s", args.block_time),
            ("worker_slots", u64::from(args.worker_slots)),
            (
                "worker_stake_nrlc",
                bags.first().map_or(0, |b| b.worker_stake as u64),
            ),
        ]
        .into();
        Self {
            json: Json {
                figures,
                anchors: ANCHORS.iter().map(|(n, a)| (*n, *a)).collect(),
                targets: TARGETS.iter().map(|(n, t, _)| (*n, *t)).collect(),
                workers: reports,
                money,
                gas,
                blocks,
                config,
            },
            failures,
        }
    }

    /// Print the table; `Err` with every failed check.
    fn print(&self, args: &Args) -> eyre::Result<()> {
        let f = &self.json.figures;
        crate::outln!(
            "liars at scale: {} tasks at trust {}, {} workers of which {} lie alone and {} \
             collude ({} s blocks, hello app)\n",
            args.tasks,
            args.trust,
            args.workers,
            args.liars_alone,
            args.liars_colluding,
            args.block_time
        );
        let mut rows = vec![["figure", "dexec", "target", "", "anchor"]
            .map(str::to_owned)
            .to_vec()];
        for (name, value) in f {
            let target = TARGETS.iter().find(|(n, _, _)| n == name);
            let met = target.map(|(_, _, check)| check(*value, f));
            rows.push(vec![
                (*name).to_owned(),
                number(*value),
                target.map_or("—", |(_, t, _)| t).to_owned(),
                match met {
                    Some(true) => "✓",
                    Some(false) => "✗",
                    None => "",
                }
                .to_owned(),
                ANCHORS
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or("—", |(_, a)| a)
                    .to_owned(),
            ]);
        }
        crate::out!("{}", aligned(&rows, &[false, true, false, false, false]));
        let gas = &self.json.gas;
        crate::outln!(
            "\ngas: {} transactions to the hub ({} reverted) in blocks {}..={}",
            thousands(gas.transactions),
            gas.reverted,
            self.json.blocks.0,
            self.json.blocks.1
        );
        for (name, f) in &gas.by_function {
            crate::outln!(
                "  {name:<22} {:>7} txs  {:>14} gas  {:>9} per task  {:>3} per block at most{}",
                thousands(f.transactions),
                thousands(f.gas),
                thousands(f.gas / args.tasks),
                f.max_per_block,
                if f.reverted > 0 {
                    format!("  ({} reverted)", f.reverted)
                } else {
                    String::new()
                }
            );
        }
        if self.failures.is_empty() {
            return Ok(());
        }
        for failure in &self.failures {
            eprintln!("FAILED: {failure}");
        }
        Err(eyre!("{}", self.failures.join("; ")))
    }
}

/// A figure for the table: integers with separators, others with two decimals.
fn number(value: f64) -> String {
    let sign = if value < 0.0 { "-" } else { "" };
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{sign}{}", thousands(value.abs() as u64))
    } else {
        format!("{sign}{:.2}", value.abs())
    }
}

/// Goals: (figure, as written, whether the figures meet it).
type Check = fn(f64, &BTreeMap<&'static str, f64>) -> bool;
const TARGETS: &[(&str, &str, Check)] = &[
    ("wrong_results_accepted", "= 0", |v, _| v == 0.0),
    ("tasks_won_by_liars", "= 0", |v, _| v == 0.0),
    ("tasks_claimed", "= 0", |v, _| v == 0.0),
    ("honest_contributions_slashed", "= 0", |v, _| v == 0.0),
    (
        "liar_contributions_slashed",
        "= liar_wrong_votes",
        |v, f| Some(&v) == f.get("liar_wrong_votes"),
    ),
    (
        "liars_balance_change_rlc",
        "= -liar_stake_seized_rlc",
        |v, f| {
            f.get("liar_stake_seized_rlc")
                .is_some_and(|s| (v + s).abs() < 1e-9)
        },
    ),
    ("money_unaccounted_nrlc", "= 0", |v, _| v == 0.0),
];

/// What each figure is compared with (`research/` in the shared notes).
const ANCHORS: &[(&str, &str)] = &[
    (
        "wrong_results_accepted",
        "iExec PoCo accepts a result at Sarmenta credibility > 1 − 1/trust (80% at trust 5) \
         (poco-contracts.md §4.3)",
    ),
    (
        "contributions_per_task",
        "3 fresh honest votes reach trust 5 with no liar (poco-contracts.md §4.3); Sarmenta: \
         voting with saboteurs costs 2–3× (peers.md §4)",
    ),
    (
        "liar_contributions_slashed",
        "iExec: every non-proved contribution loses its stake to the winners and ⌊score/3⌋ \
         (poco-contracts.md §5–6)",
    ),
    (
        "throughput_tasks_per_s",
        "trust 1, no liar: 100–142 tasks/s (bench e2e); iExec: ≥ 5 transactions and 5–10 s \
         polling per task (iexec-offchain.md)",
    ),
    (
        "gas_per_task",
        "iExec 2,333,065 (trust 8, 3 honest workers, volume 1; iexec-gas-measured.md §3.2); \
         dexec 737,063 (trust 5, 3 honest workers each contributing and revealing, bench gas)",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honest_votes_needed_with_fresh_workers() {
        // no liar: 3 votes at trust 5 (8·5 > 9·4), 2 at trust 3
        assert_eq!(honest_votes_needed(5, 0, 0), Some(3));
        assert_eq!(honest_votes_needed(3, 0, 0), Some(2));
        // one liar: 4 (16·5 > 19·4); all liars voting first: 5 whether they collude or not
        assert_eq!(honest_votes_needed(5, 1, 0), Some(4));
        assert_eq!(honest_votes_needed(5, 1, 1), Some(5));
        assert_eq!(honest_votes_needed(5, 0, 2), Some(5));
        assert_eq!(honest_votes_needed(5, 1, 2), Some(5));
        // three colluders reach trust 5 on their own
        assert_eq!(honest_votes_needed(5, 0, 3), Some(0));
    }

    #[test]
    fn numbers_for_the_table() {
        assert_eq!(number(1234.0), "1,234");
        assert_eq!(number(-1234.0), "-1,234");
        assert_eq!(number(2.5), "2.50");
        assert_eq!(number(-407.4), "-407.40");
    }
}
