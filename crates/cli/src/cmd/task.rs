//! `dexec task show [--watch]`, `dexec task claim` (and `task debug`, in [`super::debug`]).

use std::io::IsTerminal;
use std::time::Duration;

use alloy::primitives::B256;
use dexec_sdk::primitives::Nrlc;
use dexec_sdk::{Client, DealInfo, DealRef, TaskInfo, TaskStatus};
use serde_json::json;

use crate::context::{confirm, Global};
use crate::exit::Fail;
use crate::output::{rows, Output};

use super::tx_line;

/// Long help of `dexec task`.
pub const TASK_ABOUT: &str = "\
Follow tasks: the units of work of a deal (task i of deal D has id keccak256(D, i)).

States: UNSET (nobody contributed yet), ACTIVE (contributions arriving), REVEALING (consensus
reached, winners revealing), COMPLETED (result agreed and paid), FAILED (claimed after the final
deadline: payer refunded), TIMEOUT (past the final deadline, not yet claimed).

`show` of a COMPLETED task fetches its result from the store and verifies it against the chain
to tell an app's own result from the workers' error result (\"COMPLETED with an app error: …\",
`appError` in the JSON); if the store cannot be reached it says the result was not checked.

`--watch` follows the task until it completes or fails, printing each change (progress goes to
stderr; with --json the final state is printed as JSON). It polls the chain every second, once
per devnet block (iExec's SDK polls every 5 s).

`debug` gathers what the chain, the workerpool's scheduler (--scheduler URL), the market and
the result say of a task, for a requester wondering why it is slow or failed.

`claim` settles a task in TIMEOUT: the payer gets the task's price back (and nothing more), the
scheduler's stake goes to the kitty (an account nobody can take from, so no one profits from a
failed task); contributors get their stakes back, except those who voted against a consensus,
stayed silent on it or were rejected by a reopen, whose stakes go to the kitty too. Anyone may
send it (the wallet pays the gas only).";

/// Arguments of `dexec task`.
#[derive(Debug, clap::Args)]
pub struct TaskArgs {
    #[command(subcommand)]
    command: TaskCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TaskCommand {
    /// Show a task's state and result.
    Show {
        /// The task id.
        task_id: B256,
        /// Its deal (found by scanning deals when omitted).
        #[arg(long, value_name = "DEAL_ID")]
        deal: Option<B256>,
        /// Follow the task until it completes or fails.
        #[arg(long)]
        watch: bool,
        /// With --watch: give up after this many seconds (exit code 1).
        #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
        timeout: u64,
    },
    /// Tell everything known about a task, to understand where it is or why it failed: the
    /// chain's view (status, deadlines, each worker's contribution, vote and stake, the
    /// consensus and the result digest, the hub's events), the workerpool's scheduler's (its
    /// replicates and their errors, with --scheduler), the market's (the deal it indexed) and,
    /// once completed, the app's error sentence if the result is an error result. A service
    /// that cannot be reached is said, and the rest is still shown.
    Debug {
        /// The task id.
        task_id: B256,
        /// Its deal (found by scanning deals when omitted).
        #[arg(long, value_name = "DEAL_ID")]
        deal: Option<B256>,
        /// URL of the workerpool's scheduler (it serves GET /tasks/<id>); not asked without.
        #[arg(long, env = "DEXEC_SCHEDULER_URL", value_name = "URL")]
        scheduler: Option<String>,
    },
    /// Claim a task past its final deadline that did not complete: refund its payer's price,
    /// send the scheduler's stake to the kitty and settle the contributors' stakes.
    Claim {
        /// The task id.
        task_id: B256,
        /// Its deal (found by scanning deals when omitted).
        #[arg(long, value_name = "DEAL_ID")]
        deal: Option<B256>,
        /// Do not ask for confirmation before sending.
        #[arg(long)]
        force: bool,
    },
}

/// Run `dexec task`.
pub async fn run_task(args: TaskArgs, global: &Global) -> eyre::Result<Output> {
    match args.command {
        TaskCommand::Show {
            task_id,
            deal,
            watch,
            timeout,
        } => show_task(task_id, deal, watch, timeout, global).await,
        TaskCommand::Claim {
            task_id,
            deal,
            force,
        } => claim_task(task_id, deal, force, global).await,
        TaskCommand::Debug {
            task_id,
            deal,
            scheduler,
        } => super::debug::debug(task_id, deal, scheduler, global).await,
    }
}

async fn claim_task(
    task_id: B256,
    deal: Option<B256>,
    force: bool,
    global: &Global,
) -> eyre::Result<Output> {
    let client = global.signer().await?;
    let deal = find_deal(&client, task_id, deal).await?;
    let index = index_in(&deal, task_id)?;
    let task = DealRef::from(&deal).task(index)?;
    let d = &deal.deal;
    let refund = Nrlc(d.app_price + d.dataset_price + d.workerpool_price);
    let seized = Nrlc(d.scheduler_stake());
    // ask only when the claim can go through; otherwise the SDK says why not, sending nothing
    if client.task(&deal, index).await?.status == TaskStatus::Timeout {
        confirm(
            &format!(
                "Claim task {task_id}: refund {refund} to its payer {} and send the scheduler's \
                 stake of {seized} to the kitty?",
                d.payer
            ),
            force,
        )?;
    }
    let tx = client.claim(&task).await?;
    let text = rows(&[
        ("claimed", task_id.to_string()),
        ("payer", d.payer.to_string()),
        ("refunded", refund.to_string()),
        ("scheduler stake to the kitty", seized.to_string()),
        ("", tx_line(&tx)),
    ]);
    Output::new(
        json!({
            "claimed": task_id,
            "dealId": deal.deal_id,
            "index": index,
            "payer": d.payer,
            "refundedNrlc": crate::json::nrlc(refund),
            "schedulerStakeSeizedNrlc": crate::json::nrlc(seized),
            "tx": tx,
        }),
        text,
    )
}

async fn show_task(
    task_id: B256,
    deal: Option<B256>,
    watch: bool,
    timeout: u64,
    global: &Global,
) -> eyre::Result<Output> {
    let client = global.reader().await?;
    let deal = find_deal(&client, task_id, deal).await?;
    let index = index_in(&deal, task_id)?;
    let task = if watch {
        let options = WatchOptions {
            timeout: Duration::from_secs(timeout),
            progress: std::io::stderr().is_terminal() || !global.json,
        };
        watch_indices(&client, &deal, &[index], options)
            .await?
            .pop()
            .expect("one task watched")
    } else {
        client.task(&deal, index).await?
    };
    let outcome = ResultOutcome::of(&task).await;
    if watch {
        if let ResultOutcome::AppError(error) = &outcome {
            return Err(Fail::app_error(format!(
                "task {task_id} completed with an app error: {error} (`dexec result download \
                 {task_id}` gets the workers' error result)"
            )));
        }
    }
    let text = describe_task(&task, &outcome);
    Output::new(
        TaskShown {
            task,
            app_error: match &outcome {
                ResultOutcome::AppError(error) => Some(error.clone()),
                _ => None,
            },
        },
        text,
    )
}

/// `task show`'s JSON: the task and, for a completed one whose result is an error result, the
/// error's sentence.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskShown {
    #[serde(flatten)]
    task: TaskInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_error: Option<String>,
}

/// What a task's result says about the app, as far as it could be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultOutcome {
    /// Not completed: no result yet (or never).
    NoResult,
    /// Completed with the app's own result.
    Computed,
    /// Completed with the workers' error result: the app produced none, for this reason.
    AppError(String),
    /// Completed, but the result could not be fetched or verified to tell (why).
    Unchecked(String),
}

impl ResultOutcome {
    /// Fetch and verify a completed task's result to tell which it is.
    pub async fn of(task: &TaskInfo) -> Self {
        if task.status != TaskStatus::Completed {
            return Self::NoResult;
        }
        match super::result::inspect(task).await {
            Ok(Some(error)) => Self::AppError(error),
            Ok(None) => Self::Computed,
            Err(e) => Self::Unchecked(crate::exit::message(&e)),
        }
    }
}

/// How to follow tasks.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Give up (an error) after this long.
    pub timeout: Duration,
    /// Print each change of status on stderr.
    pub progress: bool,
}

/// Follow every task of `deal` until all are final; their final states.
pub async fn watch_tasks(
    client: &Client,
    deal: &DealInfo,
    options: WatchOptions,
) -> eyre::Result<Vec<TaskInfo>> {
    let first = u64::from(deal.deal.bot_first);
    let indices: Vec<u64> = (first..first + deal.tasks.len() as u64).collect();
    watch_indices(client, deal, &indices, options).await
}

/// Follow the tasks of `deal` at `indices` until all are final, polling each second.
async fn watch_indices(
    client: &Client,
    deal: &DealInfo,
    indices: &[u64],
    options: WatchOptions,
) -> eyre::Result<Vec<TaskInfo>> {
    let started = std::time::Instant::now();
    let mut last: Vec<Option<TaskStatus>> = vec![None; indices.len()];
    loop {
        let mut tasks = Vec::with_capacity(indices.len());
        for (i, index) in indices.iter().enumerate() {
            let task = client.task(deal, *index).await?;
            if last[i] != Some(task.status) && options.progress {
                eprintln!(
                    "[{:>5.1}s] task {} {}",
                    started.elapsed().as_secs_f64(),
                    task.index,
                    progress_line(&task)
                );
            }
            last[i] = Some(task.status);
            tasks.push(task);
        }
        if tasks.iter().all(|t| t.status.is_final()) {
            return Ok(tasks);
        }
        if started.elapsed() > options.timeout {
            let pending = tasks.iter().filter(|t| !t.status.is_final()).count();
            return Err(eyre::eyre!(
                "{pending} task(s) of deal {} still running after {} s (see `dexec deal show`)",
                deal.deal_id,
                options.timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The absolute index of `task_id` in `deal`.
pub(super) fn index_in(deal: &DealInfo, task_id: B256) -> eyre::Result<u64> {
    let position = deal
        .tasks
        .iter()
        .position(|t| *t == task_id)
        .ok_or_else(|| {
            Fail::not_found(format!("task {task_id} is not in deal {}", deal.deal_id))
        })?;
    Ok(position as u64 + u64::from(deal.deal.bot_first))
}

/// The current state of `task_id` (of `deal` if given, else found by scanning deals).
pub async fn find_task(
    client: &Client,
    task_id: B256,
    deal: Option<B256>,
) -> eyre::Result<TaskInfo> {
    let deal = find_deal(client, task_id, deal).await?;
    let index = index_in(&deal, task_id)?;
    Ok(client.task(&deal, index).await?)
}

pub(super) async fn find_deal(
    client: &Client,
    task_id: B256,
    deal: Option<B256>,
) -> eyre::Result<DealInfo> {
    match deal {
        Some(id) => Ok(client.deal(id).await?),
        None => client
            .deal_of_task(task_id, 0)
            .await?
            .ok_or_else(|| Fail::not_found(format!("no deal on this chain has task {task_id}"))),
    }
}

fn progress_line(task: &TaskInfo) -> String {
    match task.status {
        TaskStatus::Active => format!("ACTIVE ({} contribution(s))", task.contributors),
        TaskStatus::Revealing => format!("REVEALING ({} reveal(s))", task.reveals),
        TaskStatus::Completed => format!(
            "COMPLETED digest {}",
            task.result
                .as_ref()
                .map(|r| r.digest.to_string())
                .unwrap_or_default()
        ),
        status => status.to_string(),
    }
}

fn describe_task(task: &TaskInfo, outcome: &ResultOutcome) -> String {
    let status = match outcome {
        ResultOutcome::AppError(error) => format!("{} with an app error: {error}", task.status),
        ResultOutcome::Unchecked(why) => format!("{} (result not checked: {why})", task.status),
        ResultOutcome::NoResult | ResultOutcome::Computed => task.status.to_string(),
    };
    let mut r = vec![
        ("task", task.task_id.to_string()),
        ("deal", task.deal_id.to_string()),
        ("index", task.index.to_string()),
        ("status", status),
        ("contributions", task.contributors.to_string()),
        ("reveals", task.reveals.to_string()),
    ];
    if let Some(consensus) = task.consensus {
        r.push(("consensus", consensus.to_string()));
    }
    r.push((
        "contribution deadline",
        format!("unix {}", task.contribution_deadline),
    ));
    r.push(("final deadline", format!("unix {}", task.final_deadline)));
    match task.status {
        TaskStatus::Timeout => r.push((
            "claimable",
            format!("now: `dexec task claim {}` refunds its payer", task.task_id),
        )),
        status if !status.is_final() => r.push((
            "claimable",
            format!(
                "from unix {} if it has not completed by then (`dexec task claim`)",
                task.final_deadline
            ),
        )),
        _ => {}
    }
    if let Some(result) = &task.result {
        r.push(("result digest", result.digest.to_string()));
        r.push((
            "results",
            String::from_utf8_lossy(&result.results).into_owned(),
        ));
        r.push((
            "finalized in",
            format!("{} (block {})", result.tx_hash, result.block),
        ));
    }
    rows(&r)
}
