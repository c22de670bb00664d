//! `dexec deal show` and `dexec deal list`.

use alloy::primitives::{Address, B256};
use dexec_sdk::market::{AddressFilter, DealQuery, DealView};
use dexec_sdk::primitives::Nrlc;
use dexec_sdk::{DealInfo, DealRef, TaskInfo, TaskStatus};
use serde_json::json;

use crate::context::{confirm, Global};
use crate::exit::Fail;
use crate::output::{rows, table, Output};

/// Tasks listed by `deal show` at most (the JSON has them all).
const SHOWN_TASKS: usize = 20;

/// Arguments of `dexec deal`.
#[derive(Debug, clap::Args)]
pub struct DealArgs {
    #[command(subcommand)]
    command: DealCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DealCommand {
    /// Show a deal's terms and its tasks' states.
    Show {
        /// The deal id (printed by `dexec order fill` / `dexec app run`).
        deal_id: B256,
    },
    /// List deals from the market's index, newest first: by default the selected wallet's
    /// own (as requester); `--requester`, `--app`, `--workerpool` choose others.
    ///
    /// Each line gives the deal id, its app, workerpool, task count and price per task;
    /// `dexec deal show <id>` tells where its tasks are.
    List(ListArgs),
    /// Claim every task of a deal that passed its final deadline without completing: each
    /// task's price goes back to the payer, the scheduler's stakes to the kitty (tasks nobody
    /// contributed to go in batches of 100, the others one by one so their contributors'
    /// stakes are settled). Anyone may send it.
    Claim {
        /// The deal id.
        deal_id: B256,
        /// Do not ask for confirmation before sending.
        #[arg(long)]
        force: bool,
    },
}

/// Tasks claimed per `claimBatch` transaction.
const CLAIM_BATCH: usize = 100;

/// Arguments of `dexec deal list`.
#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Deals of this requester [default: the selected wallet, if any, else every requester].
    #[arg(long, value_name = "ADDRESS")]
    requester: Option<Address>,
    /// Deals of every requester (with no wallet selected, the default).
    #[arg(long, conflicts_with = "requester")]
    all: bool,
    /// Only deals of this app.
    #[arg(long, value_name = "ADDRESS")]
    app: Option<Address>,
    /// Only deals of this workerpool.
    #[arg(long, value_name = "ADDRESS")]
    workerpool: Option<Address>,
    /// Deals per page, 10 to 1000.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(10..=1000))]
    page_size: u64,
    /// Page to show, from 0 (the answer names the next one).
    #[arg(long, default_value_t = 0)]
    page: u64,
}

/// Run `dexec deal`.
pub async fn run_deal(args: DealArgs, global: &Global) -> eyre::Result<Output> {
    let deal_id = match args.command {
        DealCommand::Show { deal_id } => deal_id,
        DealCommand::List(list) => return list_deals(list, global).await,
        DealCommand::Claim { deal_id, force } => return claim_deal(deal_id, force, global).await,
    };
    let client = global.reader().await?;
    let deal = client.deal(deal_id).await?;
    let mut tasks = Vec::new();
    for index in deal.deal.task_indices() {
        tasks.push(client.task(&deal, index).await?);
    }
    let text = describe_deal(&deal, &tasks);
    Output::new(
        crate::json::with_units(json!({ "deal": deal, "tasks": tasks }))?,
        text,
    )
}

fn describe_deal(deal: &DealInfo, tasks: &[TaskInfo]) -> String {
    let d = &deal.deal;
    let mut text = rows(&[
        ("deal", deal.deal_id.to_string()),
        ("app", format!("{} (price {})", d.app, Nrlc(d.app_price))),
        (
            "dataset",
            if d.dataset.is_zero() {
                "none".into()
            } else {
                format!("{} (price {})", d.dataset, Nrlc(d.dataset_price))
            },
        ),
        (
            "workerpool",
            format!("{} (price {})", d.workerpool, Nrlc(d.workerpool_price)),
        ),
        ("requester", d.requester.to_string()),
        ("beneficiary", deal.beneficiary.to_string()),
        (
            "category",
            format!("{} (timeref {} s)", d.category, d.timeref),
        ),
        ("trust", d.trust.to_string()),
        ("tag", d.tag.to_string()),
        ("params", deal.params.clone()),
        (
            "tasks",
            format!("{} from index {}", d.bot_size, d.bot_first),
        ),
        (
            "started",
            format!("unix {} (block {})", d.start_time, deal.block),
        ),
        ("final deadline", format!("unix {}", deal.final_deadline())),
    ]);
    let body: Vec<Vec<String>> = tasks
        .iter()
        .take(SHOWN_TASKS)
        .map(|t| {
            vec![
                t.index.to_string(),
                t.task_id.to_string(),
                t.status.to_string(),
            ]
        })
        .collect();
    text.push('\n');
    text.push_str(&table(&["INDEX", "TASK", "STATUS"], &body));
    if tasks.len() > SHOWN_TASKS {
        text.push_str(&format!(
            "… {} more (--json lists all)\n",
            tasks.len() - SHOWN_TASKS
        ));
    }
    text
}

async fn list_deals(args: ListArgs, global: &Global) -> eyre::Result<Output> {
    let client = global.reader().await?;
    let market = global.market(&client)?;
    let requester = match (args.requester, args.all) {
        (Some(requester), _) => Some(requester),
        (None, true) => None,
        // the selected wallet's own deals, when a wallet is selected
        (None, false) => global.wallet_address(client.chain_id()).ok(),
    };
    let query = DealQuery {
        requester: requester.map(AddressFilter::Only),
        app: args.app.map(AddressFilter::Only),
        workerpool: args.workerpool.map(AddressFilter::Only),
        page_size: Some(args.page_size),
        page_index: Some(args.page),
        ..DealQuery::default()
    };
    let page = market.deals(&query).await?;
    let text = describe_deals(&page.deals, page.count, requester, page.next_page);
    Output::new(crate::json::with_units(&page)?, text)
}

fn describe_deals(
    deals: &[DealView],
    count: i64,
    requester: Option<Address>,
    next_page: Option<u64>,
) -> String {
    let whose = requester.map_or_else(|| "every requester".to_owned(), |r| r.to_string());
    if deals.is_empty() {
        return format!("no deal of {whose} on this market\n");
    }
    let body: Vec<Vec<String>> = deals
        .iter()
        .map(|d| {
            vec![
                d.deal_id.to_string(),
                d.app.to_string(),
                d.workerpool.to_string(),
                d.volume.to_string(),
                Nrlc(
                    u128::from(d.app_price)
                        + u128::from(d.dataset_price)
                        + u128::from(d.workerpool_price),
                )
                .to_string(),
                d.block.to_string(),
            ]
        })
        .collect();
    let mut text = table(
        &["DEAL", "APP", "WORKERPOOL", "TASKS", "PER TASK", "BLOCK"],
        &body,
    );
    text.push_str(&format!("{} of {count} deal(s) of {whose}", deals.len()));
    if let Some(next) = next_page {
        text.push_str(&format!("; next: --page {next}"));
    }
    text.push('\n');
    text
}

async fn claim_deal(deal_id: B256, force: bool, global: &Global) -> eyre::Result<Output> {
    let client = global.signer().await?;
    let deal = client.deal(deal_id).await?;
    let mut tasks = Vec::new();
    for index in deal.deal.task_indices() {
        tasks.push(client.task(&deal, index).await?);
    }
    let claimable: Vec<&TaskInfo> = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Timeout)
        .collect();
    if claimable.is_empty() {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for task in &tasks {
            *counts.entry(task.status.to_string()).or_default() += 1;
        }
        let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        let pending = tasks
            .iter()
            .any(|t| !t.status.is_final() && t.status != TaskStatus::Timeout);
        return Err(Fail::refused(format!(
            "no task of deal {deal_id} can be claimed ({}){}",
            counts.join(", "),
            if pending {
                format!(
                    "; unfinished tasks become claimable at the final deadline, unix {}",
                    deal.final_deadline()
                )
            } else {
                String::new()
            }
        )));
    }
    let d = &deal.deal;
    let per_task = d.app_price + d.dataset_price + d.workerpool_price;
    let refund = Nrlc(per_task * claimable.len() as u128);
    let seized = Nrlc(d.scheduler_stake() * claimable.len() as u128);
    confirm(
        &format!(
            "Claim {} task(s) of deal {deal_id}: refund {refund} to its payer {} and send the \
             scheduler's stakes of {seized} to the kitty?",
            claimable.len(),
            d.payer
        ),
        force,
    )?;
    let deal_ref = DealRef::from(&deal);
    let (silent, contributed): (Vec<&TaskInfo>, Vec<&TaskInfo>) =
        claimable.iter().partition(|t| t.contributors == 0);
    let mut txs = Vec::new();
    for chunk in silent.chunks(CLAIM_BATCH) {
        let indices: Vec<u64> = chunk.iter().map(|t| t.index).collect();
        txs.push(client.claim_batch(&deal_ref, &indices).await?);
    }
    for task in contributed {
        txs.push(client.claim(&deal_ref.task(task.index)?).await?);
    }
    let claimed: Vec<B256> = claimable.iter().map(|t| t.task_id).collect();
    let mut text = rows(&[
        ("deal", deal_id.to_string()),
        ("claimed", format!("{} task(s)", claimed.len())),
        ("payer", d.payer.to_string()),
        ("refunded", refund.to_string()),
        ("scheduler stakes to the kitty", seized.to_string()),
    ]);
    for tx in &txs {
        text.push_str(&super::tx_line(tx));
        text.push('\n');
    }
    Output::new(
        json!({
            "dealId": deal_id,
            "claimed": claimed,
            "payer": d.payer,
            "refundedNrlc": crate::json::nrlc(refund),
            "schedulerStakeSeizedNrlc": crate::json::nrlc(seized),
            "txs": txs,
        }),
        text,
    )
}
