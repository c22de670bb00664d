//! `dexec deal show`.

use alloy::primitives::B256;
use dexec_sdk::primitives::Nrlc;
use dexec_sdk::{DealInfo, TaskInfo};
use serde_json::json;

use crate::context::Global;
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
}

/// Run `dexec deal`.
pub async fn run_deal(args: DealArgs, global: &Global) -> eyre::Result<Output> {
    let DealCommand::Show { deal_id } = args.command;
    let client = global.reader().await?;
    let deal = client.deal(deal_id).await?;
    let mut tasks = Vec::new();
    for index in deal.deal.task_indices() {
        tasks.push(client.task(&deal, index).await?);
    }
    let text = describe_deal(&deal, &tasks);
    Output::new(json!({ "deal": deal, "tasks": tasks }), text)
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
