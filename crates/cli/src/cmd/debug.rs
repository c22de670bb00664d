//! `dexec task debug`: everything a requester can learn about one task, from every party that
//! knows something of it: the chain (state, deadlines, each worker's contribution and vote),
//! the workerpool's scheduler (replicates and their errors), the market (the deal it indexed)
//! and the result itself (the app's error sentence). A party that cannot be reached is said,
//! not fatal.

use std::time::Duration;

use alloy::primitives::{Address, B256};
use dexec_sdk::primitives::ContributionStatus;
use dexec_sdk::scheduler::{task_view, TaskView};
use dexec_sdk::{Client, DealInfo, HubEvent, HubLog, TaskInfo};
use serde::Serialize;

use crate::context::Global;
use crate::output::{rows, table, Output};

use super::task::ResultOutcome;

/// How long the scheduler and the market may take to answer.
const SERVICE_TIMEOUT: Duration = Duration::from_secs(10);

/// `task debug`'s JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskDebug {
    /// The task as the chain has it.
    task: TaskInfo,
    /// Its deal's terms that matter to its execution.
    deal: DealSummary,
    /// Unix time of the latest block (against which the deadlines are read).
    now: u64,
    /// One entry per worker that contributed, in order of contribution.
    workers: Vec<WorkerVote>,
    /// The hub's events about the task, oldest first.
    events: Vec<HubLog>,
    /// `computed`, `appError`, `unchecked` or `none` (not completed).
    result: &'static str,
    /// The app's error sentence, when the result is the workers' error result.
    #[serde(skip_serializing_if = "Option::is_none")]
    app_error: Option<String>,
    /// Why the result could not be checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    result_unchecked: Option<String>,
    /// What the workerpool's scheduler says.
    scheduler: Service<TaskView>,
    /// What the market says of the deal.
    market: Service<dexec_sdk::market::DealView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DealSummary {
    deal_id: B256,
    app: Address,
    dataset: Address,
    workerpool: Address,
    requester: Address,
    trust: u32,
    category: u32,
    timeref: u32,
    start_time: u64,
    block: u64,
}

/// A worker's part in the task, from the hub's events and its contribution record.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WorkerVote {
    worker: Address,
    /// The result hash it committed to.
    result_hash: B256,
    /// Block of its contribution.
    block: u64,
    /// `contributed`, `revealed` (proved), `rejected` (by a reopen) or `none`.
    status: &'static str,
    /// Whether it voted for the consensus, once there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    with_consensus: Option<bool>,
    /// The digest it revealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    revealed: Option<B256>,
    /// At finalization: rewarded (true) or its stake seized (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    accurate: Option<bool>,
}

/// A service asked, and its answer or why there is none.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Service<T> {
    /// Where it was asked (none when no URL is known).
    url: Option<String>,
    /// Whether it answered.
    reachable: bool,
    /// Its view (none when it does not know the task or could not be asked).
    view: Option<T>,
    /// What went wrong, or why it was not asked, in a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl<T> Service<T> {
    fn not_asked(note: String) -> Self {
        Self {
            url: None,
            reachable: false,
            view: None,
            note: Some(note),
        }
    }
}

/// Run `dexec task debug`.
pub async fn debug(
    task_id: B256,
    deal: Option<B256>,
    scheduler: Option<String>,
    global: &Global,
) -> eyre::Result<Output> {
    let client = global.reader().await?;
    let deal = super::task::find_deal(&client, task_id, deal).await?;
    let index = super::task::index_in(&deal, task_id)?;
    let task = client.task(&deal, index).await?;
    let now = client.now().await?;
    let events = client.task_events(&deal, task_id).await?;
    let workers = votes(&client, &task, &events).await?;
    let (result, app_error, result_unchecked) = match ResultOutcome::of(&task).await {
        ResultOutcome::NoResult => ("none", None, None),
        ResultOutcome::Computed => ("computed", None, None),
        ResultOutcome::AppError(error) => ("appError", Some(error), None),
        ResultOutcome::Unchecked(why) => ("unchecked", None, Some(why)),
    };
    let scheduler = ask_scheduler(scheduler, task_id).await;
    let market = ask_market(global, &client, &deal).await;
    let d = &deal.deal;
    let debug = TaskDebug {
        deal: DealSummary {
            deal_id: deal.deal_id,
            app: d.app,
            dataset: d.dataset,
            workerpool: d.workerpool,
            requester: d.requester,
            trust: d.trust,
            category: d.category,
            timeref: d.timeref,
            start_time: d.start_time,
            block: deal.block,
        },
        task,
        now,
        workers,
        events,
        result,
        app_error,
        result_unchecked,
        scheduler,
        market,
    };
    let text = describe(&debug);
    Output::new(crate::json::with_units(&debug)?, text)
}

/// Each contributor's vote, from the `TaskContribute`, `TaskReveal` and `ContributionJudged`
/// events and the hub's record of its contribution.
async fn votes(
    client: &Client,
    task: &TaskInfo,
    events: &[HubLog],
) -> eyre::Result<Vec<WorkerVote>> {
    let mut workers: Vec<WorkerVote> = Vec::new();
    for log in events {
        match &log.event {
            HubEvent::TaskContribute {
                worker,
                result_hash,
                ..
            } => {
                // a reopen lets a worker contribute again: its latest contribution counts
                workers.retain(|w| w.worker != *worker);
                workers.push(WorkerVote {
                    worker: *worker,
                    result_hash: *result_hash,
                    block: log.block,
                    status: "none",
                    with_consensus: None,
                    revealed: None,
                    accurate: None,
                });
            }
            HubEvent::TaskReveal { worker, digest, .. } => {
                if let Some(w) = workers.iter_mut().find(|w| w.worker == *worker) {
                    w.revealed = Some(*digest);
                }
            }
            HubEvent::ContributionJudged {
                worker, accurate, ..
            } => {
                if let Some(w) = workers.iter_mut().find(|w| w.worker == *worker) {
                    w.accurate = Some(*accurate);
                }
            }
            _ => {}
        }
    }
    for w in &mut workers {
        w.status = match client.contribution(task.task_id, w.worker).await? {
            ContributionStatus::Contributed => "contributed",
            ContributionStatus::Proved => "revealed",
            ContributionStatus::Rejected => "rejected",
            ContributionStatus::Unset => "none",
        };
        w.with_consensus = task.consensus.map(|c| c == w.result_hash);
    }
    Ok(workers)
}

async fn ask_scheduler(url: Option<String>, task_id: B256) -> Service<TaskView> {
    let Some(url) = url else {
        return Service::not_asked(
            "not asked: pass --scheduler <URL> (or set DEXEC_SCHEDULER_URL) with the \
             workerpool's scheduler, which serves GET /tasks/<id>"
                .into(),
        );
    };
    match task_view(&url, task_id, SERVICE_TIMEOUT).await {
        Ok(Some(view)) => Service {
            url: Some(url),
            reachable: true,
            view: Some(view),
            note: None,
        },
        Ok(None) => Service {
            url: Some(url),
            reachable: true,
            view: None,
            note: Some(
                "the scheduler does not know this task (another workerpool's, or not seen yet)"
                    .into(),
            ),
        },
        Err(e) => Service {
            url: Some(url),
            reachable: false,
            view: None,
            note: Some(format!("{e} (not fatal: the chain's view above stands)")),
        },
    }
}

async fn ask_market(
    global: &Global,
    client: &Client,
    deal: &DealInfo,
) -> Service<dexec_sdk::market::DealView> {
    let market = match global.market(client) {
        Ok(market) => market,
        Err(e) => return Service::not_asked(format!("not asked: {}", crate::exit::message(&e))),
    };
    let url = market.base_url().to_string();
    match tokio::time::timeout(SERVICE_TIMEOUT, market.deal(deal.deal_id)).await {
        Ok(Ok(view)) => Service {
            url: Some(url),
            reachable: true,
            note: view
                .is_none()
                .then(|| "the market has not indexed this deal (yet)".to_owned()),
            view,
        },
        Ok(Err(e)) => Service {
            url: Some(url),
            reachable: false,
            view: None,
            note: Some(format!("market unreachable: {e}")),
        },
        Err(_) => Service {
            url: Some(url),
            reachable: false,
            view: None,
            note: Some(format!(
                "market unreachable: no answer within {} s",
                SERVICE_TIMEOUT.as_secs()
            )),
        },
    }
}

fn describe(d: &TaskDebug) -> String {
    let t = &d.task;
    let mut r = vec![
        ("task", t.task_id.to_string()),
        (
            "deal",
            format!("{} (task index {})", d.deal.deal_id, t.index),
        ),
        ("workerpool", d.deal.workerpool.to_string()),
        (
            "trust / category",
            format!(
                "{} / {} (timeref {} s)",
                d.deal.trust, d.deal.category, d.deal.timeref
            ),
        ),
        ("status (chain)", t.status.to_string()),
        ("now", format!("unix {}", d.now)),
        (
            "contribution deadline",
            deadline(t.contribution_deadline, d.now),
        ),
    ];
    if let Some(reveal) = t.reveal_deadline {
        r.push(("reveal deadline", deadline(reveal, d.now)));
    }
    r.push(("final deadline", deadline(t.final_deadline, d.now)));
    r.push((
        "contributions / reveals",
        format!("{} / {}", t.contributors, t.reveals),
    ));
    r.push((
        "consensus",
        t.consensus.map_or("none yet".into(), |c| c.to_string()),
    ));
    if let Some(result) = &t.result {
        r.push(("result digest", result.digest.to_string()));
    }
    r.push((
        "result",
        match (d.result, &d.app_error, &d.result_unchecked) {
            (_, Some(error), _) => format!("app error: {error}"),
            (_, _, Some(why)) => format!("not checked: {why}"),
            ("computed", _, _) => "computed by the app, verified against the chain".into(),
            _ => "none (not completed)".into(),
        },
    ));
    let mut text = rows(&r);
    if !d.workers.is_empty() {
        let body: Vec<Vec<String>> = d
            .workers
            .iter()
            .map(|w| {
                vec![
                    w.worker.to_string(),
                    w.status.to_string(),
                    match w.with_consensus {
                        Some(true) => "consensus".into(),
                        Some(false) => "against".into(),
                        None => "-".into(),
                    },
                    match w.accurate {
                        Some(true) => "rewarded".into(),
                        Some(false) => "seized".into(),
                        None => "-".into(),
                    },
                ]
            })
            .collect();
        text.push('\n');
        text.push_str(&table(&["WORKER", "CONTRIBUTION", "VOTE", "STAKE"], &body));
    }
    text.push('\n');
    text.push_str(&service_line("scheduler", &d.scheduler, |v| {
        let replicates: Vec<String> = v
            .replicates
            .iter()
            .map(|r| match &r.error {
                Some(error) => format!("{} {} ({error})", r.worker, r.status),
                None => format!("{} {}", r.worker, r.status),
            })
            .collect();
        format!(
            "{}; replicates: {}",
            v.status,
            if replicates.is_empty() {
                "none".into()
            } else {
                replicates.join(", ")
            }
        )
    }));
    text.push_str(&service_line("market", &d.market, |v| {
        format!("deal indexed at block {}", v.block)
    }));
    text
}

fn service_line<T>(name: &str, s: &Service<T>, view: impl Fn(&T) -> String) -> String {
    let at = s
        .url
        .as_deref()
        .map(|u| format!(" ({u})"))
        .unwrap_or_default();
    let what = match (&s.view, &s.note) {
        (Some(v), _) => view(v),
        (None, Some(note)) => note.clone(),
        (None, None) => "no answer".into(),
    };
    format!("{name}{at}: {what}\n")
}

fn deadline(at: u64, now: u64) -> String {
    if now < at {
        format!("unix {at} (in {} s)", at - now)
    } else {
        format!("unix {at} (passed {} s ago)", now - at)
    }
}
