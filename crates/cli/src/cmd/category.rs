//! `dexec category`: the hub's work categories.

use dexec_sdk::primitives::category::{
    CONTRIBUTION_DEADLINE_RATIO, FINAL_DEADLINE_RATIO, REVEAL_DEADLINE_RATIO,
};
use serde_json::json;

use crate::context::Global;
use crate::output::{rows, table, Output};

/// Arguments of `dexec category`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Show a category and the deadlines it implies (all categories without ID).
    Show {
        /// Category id (0 = XS on a devnet).
        id: Option<u64>,
    },
    /// Count the categories.
    Count,
}

/// Run `dexec category`.
pub async fn run(args: Args, global: &Global) -> eyre::Result<Output> {
    let client = global.reader().await?;
    match args.command {
        Command::Show { id: Some(id) } => {
            let c = client.category(id).await?;
            let text = rows(&[
                ("id", c.id.to_string()),
                ("name", c.name.clone()),
                ("description", c.description.clone()),
                ("time reference", format!("{} s", c.timeref)),
                (
                    "contribution deadline",
                    format!(
                        "{} s after the deal",
                        c.timeref * CONTRIBUTION_DEADLINE_RATIO
                    ),
                ),
                (
                    "reveal deadline",
                    format!("{} s after consensus", c.timeref * REVEAL_DEADLINE_RATIO),
                ),
                (
                    "final deadline",
                    format!("{} s after the deal", c.timeref * FINAL_DEADLINE_RATIO),
                ),
            ]);
            Output::new(c, text)
        }
        Command::Show { id: None } => {
            let count = client.category_count().await?;
            let mut all = Vec::new();
            for id in 0..count {
                all.push(client.category(id).await?);
            }
            let body: Vec<Vec<String>> = all
                .iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        c.name.clone(),
                        format!("{} s", c.timeref),
                        c.description.clone(),
                    ]
                })
                .collect();
            let text = table(&["ID", "NAME", "TIMEREF", "DESCRIPTION"], &body);
            Output::new(json!({ "categories": all }), text)
        }
        Command::Count => {
            let count = client.category_count().await?;
            Output::new(json!({ "count": count }), format!("{count} categories"))
        }
    }
}
