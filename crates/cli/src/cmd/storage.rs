//! `dexec storage init | check`: the blob store the project uploads to (apps, datasets, input
//! files), set in chain.json and checked end to end.

use dexec_sdk::store::StoreClient;
use dexec_sdk::ChainFile;
use eyre::WrapErr;
use serde_json::json;

use crate::context::Global;
use crate::exit::Fail;
use crate::output::{rows, Output};

/// Long help of `dexec storage`.
pub const LONG_ABOUT: &str = "\
Set up and check the blob store the project uploads to.

dexec has one kind of storage: a content-addressed blob store (`dexec store`, or any server
with its API) where apps, datasets, input files and results live, each named by the sha256 of
its bytes and verified against it when read. Uploads need no token: a blob cannot be forged
under another's name, so there is nothing to register. This is unlike iExec, whose
`storage init` stores a provider token (IPFS, Dropbox) in the SMS so that TEE workers can push
results; dexec's workers upload results to the store their scheduler names.

What a project needs is the store's URL: `app deploy --wasm` and `dataset deploy --file` upload
there (--store, else the chain's `store` in chain.json, which `dexec devnet` sets).

  init   write --store URL as the chain's `store` in chain.json, after checking it works
  check  check the store (--store, else chain.json's): it answers /health, accepts an upload
         and serves it back with the same bytes

Examples:
  dexec storage check
  dexec storage init --store https://store.example.org";

/// A small blob uploaded by `check`: always the same, so checking again stores nothing new.
const PROBE: &[u8] = b"dexec storage check: this blob tests that the store accepts uploads\n";

/// Arguments of `dexec storage`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Check the store and write its URL as the chain's `store` in chain.json.
    Init {
        /// The store's URL, e.g. http://127.0.0.1:8700.
        #[arg(long, value_name = "URL")]
        store: String,
        /// Replace a different `store` already in chain.json.
        #[arg(long)]
        force: bool,
    },
    /// Check that the store answers, accepts an upload and serves it back intact.
    Check {
        /// The store's URL [default: the chain's `store` in chain.json].
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
}

/// Run `dexec storage`.
pub async fn run(args: Args, global: &Global) -> eyre::Result<Output> {
    match args.command {
        Command::Check { store } => {
            let url = match store {
                Some(url) => url,
                None => global.chain_entry()?.1.store.ok_or_else(|| {
                    Fail::usage(format!(
                        "no store is configured for this chain: pass --store <URL>, or set one \
                         with `dexec storage init --store <URL>` (it goes to {})",
                        global.chain_file_path().display()
                    ))
                })?,
            };
            let checked = check(&url).await?;
            Output::new(checked.json(), checked.text())
        }
        Command::Init { store, force } => init(&store, force, global).await,
    }
}

/// What `check` found.
struct Checked {
    url: String,
    blob: dexec_sdk::store::BlobRef,
}

impl Checked {
    fn json(&self) -> serde_json::Value {
        json!({
            "store": self.url,
            "healthy": true,
            "upload": { "id": format!("0x{}", self.blob.id), "size": self.blob.size, "url": self.blob.url },
            "verified": true,
        })
    }

    fn text(&self) -> String {
        rows(&[
            ("store", self.url.clone()),
            ("health", "ok".into()),
            (
                "upload",
                format!("ok: {} bytes at {}", self.blob.size, self.blob.url),
            ),
            ("download", "ok: same bytes, sha256 verified".into()),
        ])
    }
}

/// The store at `url` answers /health, takes [`PROBE`] and gives it back; each failure is said
/// with the step that failed.
async fn check(url: &str) -> eyre::Result<Checked> {
    let client = StoreClient::new(url).map_err(|e| Fail::usage(format!("--store {url}: {e}")))?;
    client
        .health()
        .await
        .wrap_err_with(|| format!("the store at {url} does not answer GET /health"))?;
    let blob = client
        .put(PROBE.to_vec())
        .await
        .wrap_err_with(|| format!("the store at {url} refused an upload"))?;
    let back = client
        .get(&blob.id)
        .await
        .wrap_err_with(|| format!("the store at {url} does not serve back what it accepted"))?;
    if back.as_ref() != PROBE {
        return Err(eyre::eyre!(
            "the store at {url} served other bytes than it accepted for blob {}",
            blob.id
        ));
    }
    Ok(Checked {
        url: url.to_owned(),
        blob,
    })
}

async fn init(url: &str, force: bool, global: &Global) -> eyre::Result<Output> {
    let path = global.chain_file_path();
    let (name, _) = global.chain_entry()?;
    let mut file = ChainFile::load(&path)?;
    let entry = file
        .chains
        .get_mut(&name)
        .ok_or_else(|| Fail::usage(format!("{} has no chain named `{name}`", path.display())))?;
    match entry.store.as_deref() {
        Some(current) if current == url => {
            return Output::new(
                json!({ "chain": name, "store": url, "file": path, "changed": false }),
                format!(
                    "chain `{name}` already uses the store {url} ({}): nothing to do",
                    path.display()
                ),
            );
        }
        Some(current) if !force => {
            return Err(Fail::refused(format!(
                "chain `{name}` uses the store {current} ({}); pass --force to replace it with \
                 {url}",
                path.display()
            )));
        }
        _ => {}
    }
    let checked = check(url).await?;
    entry.store = Some(url.to_owned());
    file.save(&path)?;
    let mut text = checked.text();
    text.push_str(&format!(
        "\nchain `{name}` now uploads to {url} ({})\n",
        path.display()
    ));
    let mut json = checked.json();
    if let Some(map) = json.as_object_mut() {
        map.insert("chain".into(), json!(name));
        map.insert("file".into(), json!(path));
        map.insert("changed".into(), json!(true));
    }
    Output::new(json, text)
}
