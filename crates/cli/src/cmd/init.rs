//! `dexec init`: project files in the current directory.

use std::path::Path;

use dexec_sdk::ChainFile;
use serde_json::json;

use crate::exit::Fail;
use crate::output::Output;
use crate::project::{write_json, PROJECT};

/// Long help of `dexec init`.
pub const LONG_ABOUT: &str = "\
Create the project files of a dexec project in the current directory, as `iexec init` does:

  dexec.json   what `dexec app|dataset|workerpool deploy` registers and the order templates
               `dexec order sign` signs (filled by `dexec <asset> init` and `dexec order init`)
  chain.json   the chains this project talks to (copied from .dexec/chain.json when a devnet
               has run here; every command reads ./chain.json first, then .dexec/chain.json)

Later commands write deployed.json (last deployed assets per chain) and orders.json (signed
orders per chain). No wallet is created: use `dexec wallet create` or `--dev-account N` on a
devnet. Existing files are kept unless --force.";

/// Arguments of `dexec init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Overwrite existing dexec.json and chain.json.
    #[arg(long)]
    force: bool,
}

/// Run `dexec init`.
pub fn run(args: Args) -> eyre::Result<Output> {
    let project = Path::new(PROJECT);
    if project.exists() && !args.force {
        return Err(Fail::refused(format!(
            "{PROJECT} exists already; pass --force to overwrite it"
        )));
    }
    write_json(
        project,
        &json!({
            "description": "A dexec project: see `dexec app init --help` and `dexec order init --help`.",
            "order": {}
        }),
    )?;
    let mut written = vec![PROJECT.to_owned()];
    let devnet = Path::new(".dexec").join("chain.json");
    let chain = Path::new("chain.json");
    let mut note = String::new();
    if chain.exists() && !args.force {
        note = "chain.json kept".into();
    } else if devnet.is_file() {
        ChainFile::load(&devnet)?.save(chain)?;
        written.push("chain.json".into());
    } else {
        note = "no chain.json written: start `dexec devnet` here (commands then read \
                .dexec/chain.json) or write one"
            .into();
    }
    let text = format!(
        "wrote {}{}\nnext: dexec app init --wasm <module.wasm>, dexec app deploy",
        written.join(", "),
        if note.is_empty() {
            String::new()
        } else {
            format!("\n{note}")
        }
    );
    Output::new(json!({ "written": written, "note": note }), text)
}
