//! `dexec category`: the hub's work categories.

use alloy::primitives::U256;
use dexec_contracts::Hub;
use dexec_sdk::primitives::category::{
    CONTRIBUTION_DEADLINE_RATIO, FINAL_DEADLINE_RATIO, REVEAL_DEADLINE_RATIO,
};
use serde_json::json;

use crate::context::Global;
use crate::exit::Fail;
use crate::output::{rows, table, Output};

/// Long help of `dexec category`.
pub const LONG_ABOUT: &str = "\
Show the hub's work categories, and create one (hub owner only).

A category names a kind of work and its time reference (timeref, in seconds): a deal in it
accepts contributions for 7 x timeref after it starts, gives revealers 2 x timeref after
consensus, and can be claimed (its payer refunded) after 10 x timeref. Workerpool and request
orders name the category they are for; the hub matches them only in the same one.

Examples:
  dexec category show                 # all of them
  dexec category show 0
  dexec category create --name L --description \"Long tasks\" --max-time 3600";

/// Longest time reference the hub accepts (`MAX_TIMEREF`: 7 days).
const MAX_TIMEREF: u64 = 7 * 24 * 3600;

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
    /// Create a category (only the hub's owner may); prints its id.
    Create {
        /// Its short name (iExec's: XS, S, M, L, XL).
        #[arg(long)]
        name: String,
        /// What it is for.
        #[arg(long)]
        description: String,
        /// Its time reference in seconds (iExec's workClockTimeRef), 1 to 604800 (7 days):
        /// the deadlines of its deals are multiples of it.
        #[arg(long, value_name = "SECONDS")]
        max_time: u64,
    },
}

/// Run `dexec category`.
pub async fn run(args: Args, global: &Global) -> eyre::Result<Output> {
    match args.command {
        Command::Create {
            name,
            description,
            max_time,
        } => create(name, description, max_time, global).await,
        Command::Show { id: Some(id) } => {
            let client = global.reader().await?;
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
            let client = global.reader().await?;
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
            let client = global.reader().await?;
            let count = client.category_count().await?;
            Output::new(json!({ "count": count }), format!("{count} categories"))
        }
    }
}

/// `dexec category create`: the owner and the time reference are checked before sending.
async fn create(
    name: String,
    description: String,
    timeref: u64,
    global: &Global,
) -> eyre::Result<Output> {
    if timeref == 0 || timeref > MAX_TIMEREF {
        return Err(Fail::usage(format!(
            "--max-time {timeref} is out of range: the hub accepts 1 to {MAX_TIMEREF} seconds \
             (7 days)"
        )));
    }
    if name.trim().is_empty() {
        return Err(Fail::usage("--name is empty: give the category a name"));
    }
    let client = global.signer().await?;
    let me = client.address()?;
    let hub = client.deployment().hub(client.provider());
    let owner = hub
        .owner()
        .call()
        .await
        .map_err(dexec_contracts::Error::from)?;
    if owner != me {
        return Err(Fail::refused(format!(
            "only the hub's owner ({owner}) may create categories, and the wallet is {me}; \
             nothing was sent"
        )));
    }
    let receipt = dexec_contracts::tx::send(&hub.createCategory(
        name.clone(),
        description.clone(),
        U256::from(timeref),
    ))
    .await?;
    let id = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<Hub::CategoryCreated>().ok())
        .map(|log| log.inner.data.category.saturating_to::<u64>())
        .ok_or_else(|| eyre::eyre!("the hub did not log the new category"))?;
    let tx = dexec_sdk::TxOutcome::from(&receipt);
    Output::new(
        json!({
            "id": id,
            "name": name,
            "description": description,
            "timeref": timeref,
            "tx": tx,
        }),
        rows(&[
            ("category created", id.to_string()),
            ("name", name),
            ("description", description),
            ("time reference", format!("{timeref} s")),
            ("", super::tx_line(&tx)),
        ]),
    )
}
