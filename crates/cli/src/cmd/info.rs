//! `dexec info`: the chain and contracts in use.

use serde_json::json;

use crate::context::Global;
use crate::output::{rows, Output};

/// Run `dexec info`.
pub async fn run(global: &Global) -> eyre::Result<Output> {
    let (name, entry) = global.chain_entry()?;
    let client = global.reader().await?;
    let block = client.block_number().await?;
    let categories = client.category_count().await?;
    let d = client.deployment();
    let text = rows(&[
        ("chain", format!("{name} (id {})", client.chain_id())),
        ("rpc", entry.host.clone()),
        ("block", block.to_string()),
        ("hub", d.hub.to_string()),
        ("token", d.token.to_string()),
        ("app registry", d.app_registry.to_string()),
        ("dataset registry", d.dataset_registry.to_string()),
        ("workerpool registry", d.workerpool_registry.to_string()),
        ("categories", categories.to_string()),
        ("chain file", global.chain_file_path().display().to_string()),
    ]);
    Output::new(
        json!({
            "chain": name,
            "chainId": client.chain_id(),
            "host": entry.host,
            "block": block,
            "deployment": d,
            "categories": categories,
        }),
        text,
    )
}
