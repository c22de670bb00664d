//! `dexec app|dataset|workerpool`: register, show, count and transfer assets.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, Bytes, B256};
use dexec_sdk::{AppSpec, AssetDetails, AssetInfo, AssetKind, DatasetSpec, WorkerpoolSpec};
use eyre::WrapErr;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::context::{confirm, Global};
use crate::exit::Fail;
use crate::output::{rows, Output};
use crate::project::{DeployedFile, Project};

use super::tx_line;

/// Long help of `dexec app`.
pub const APP_ABOUT: &str = "\
Register and manage apps: WebAssembly modules or container images that workers run.

An app is an ERC-721 token of the app registry; its address is its id. Its metadata (name,
type WASM or OCI, multiaddr = where workers fetch the module or image archive, checksum =
sha256 of the module or the image's manifest digest, mrenclave for TEE apps) is fixed at
registration: a new version is a new app. Registering the same metadata twice is harmless and
gives the same address. A module given with --wasm is checked first (valid WebAssembly, only
WASI preview 1 imports, a `_start` export): one that cannot run is refused, since every run of
it would be a paid error. An image archive given with --oci is checked blob by blob.

Container apps (type OCI) run on workers started with --containers; their requests carry the
`container` tag. `dexec app build --oci DIR` builds one from a Containerfile, and
`dexec app check-determinism` runs it twice before you publish (docs/runtime.md).

Examples ship inside dexec: `--example hello` (or pi, wordcount, pricefeed) writes ./hello.wasm and uses it.

Typical flow:
  dexec app init --example hello                # writes the `app` section of dexec.json
  dexec app deploy                              # registers it, records it in deployed.json
  dexec app show                                # the last deployed app on this chain
  dexec order init --app && dexec order sign --app
  dexec order publish --app                     # lists the order on the market
  dexec app run --args hello --watch            # buys one run and follows it";

/// Long help of `dexec dataset`.
pub const DATASET_ABOUT: &str = "\
Register and manage datasets: data that apps read without the requester seeing it.

A dataset is an ERC-721 token of the dataset registry: a name, a multiaddr (where workers fetch
it) and the sha256 checksum of what is fetched. Workers verify the checksum before use.

Typical flow:
  dexec dataset init --file words.txt
  dexec dataset deploy
  dexec order init --dataset && dexec order sign --dataset";

/// Long help of `dexec workerpool`.
pub const WORKERPOOL_ABOUT: &str = "\
Register and manage workerpools: a scheduler and its workers, selling computing power.

The workerpool's owner is its scheduler: it signs workerpool orders and contribution
authorizations, stakes 30% of its price per task at match time and is paid for the tasks.

Typical flow:
  dexec workerpool init --description \"my pool\"
  dexec workerpool deploy
  dexec order init --workerpool && dexec order sign --workerpool";

/// Arguments of `dexec app|dataset|workerpool`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// Arguments of `dexec app`: the asset commands, and running the app.
#[derive(Debug, clap::Args)]
pub struct AppArgs {
    #[command(subcommand)]
    command: AppCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AppCommand {
    #[command(flatten)]
    Asset(Command),
    /// Run the app: pick the best orders (own free ones for assets the wallet owns), check,
    /// pay, match; --watch follows the tasks.
    #[command(long_about = super::run::RUN_ABOUT)]
    Run(super::run::RunArgs),
    /// Publish a request order for the app on the market (a limit order others may fill).
    #[command(long_about = super::run::REQUEST_ABOUT)]
    RequestExecution(super::run::RequestArgs),
    /// Build a container app from a directory with a Containerfile (podman, reproducible
    /// timestamps), save it as an OCI archive, upload it and write the app into dexec.json.
    #[command(long_about = super::container::BUILD_ABOUT)]
    Build(super::container::BuildArgs),
    /// Run an app twice here, at different times in different directories, and compare the
    /// result digests: what replication will see, before you publish it.
    #[command(long_about = super::container::CHECK_ABOUT)]
    CheckDeterminism(super::container::CheckArgs),
}

/// Run `dexec app`.
pub async fn run_app(args: AppArgs, global: &Global) -> eyre::Result<Output> {
    match args.command {
        AppCommand::Asset(command) => run(AssetKind::App, Args { command }, global).await,
        AppCommand::Run(args) => super::run::run(args, global).await,
        AppCommand::RequestExecution(args) => super::run::request_execution(args, global).await,
        AppCommand::Build(args) => super::container::build(args, global).await,
        AppCommand::CheckDeterminism(args) => {
            super::container::check_determinism(args, global).await
        }
    }
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write this asset's section of dexec.json (the values `deploy` registers).
    Init(Spec),
    /// Register the asset from dexec.json (options override it) and record it in deployed.json.
    Deploy(Spec),
    /// Show an asset: by address, by index (with --user: among that owner's), or the last
    /// deployed one.
    Show {
        /// Address, or index in the registry (or among --user's assets).
        address_or_index: Option<String>,
        /// Owner whose assets an index counts.
        #[arg(long, value_name = "ADDRESS")]
        user: Option<Address>,
    },
    /// Count registered assets (all, or --user's).
    Count {
        /// Count only this owner's assets.
        #[arg(long, value_name = "ADDRESS")]
        user: Option<Address>,
    },
    /// Give an asset to another owner (its open orders stop matching).
    Transfer {
        /// The asset.
        address: Address,
        /// The new owner.
        #[arg(long, value_name = "ADDRESS")]
        to: Address,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
}

/// Values of an asset; each overrides dexec.json.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct Spec {
    /// App: the .wasm module (sets checksum = its sha256, name = its stem and, unless
    /// --multiaddr, multiaddr = its absolute path).
    #[arg(long, value_name = "FILE")]
    pub(crate) wasm: Option<PathBuf>,
    /// App: one of the example apps carried inside dexec (hello, pi, wordcount, pricefeed),
    /// written to ./<name>.wasm and used as --wasm.
    #[arg(long, value_name = "NAME", conflicts_with = "wasm")]
    pub(crate) example: Option<String>,
    /// App: a container image as an OCI archive (`podman save --format oci-archive`, or
    /// `dexec app build --oci DIR`): sets type = OCI, checksum = its manifest digest (checked
    /// blob by blob), name = its stem and multiaddr like --wasm. Workers run it with
    /// `--containers`.
    #[arg(long, value_name = "ARCHIVE", conflicts_with_all = ["wasm", "example"])]
    pub(crate) oci: Option<PathBuf>,
    /// Dataset: the data file (sets checksum, name and multiaddr like --wasm).
    #[arg(long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// App or dataset name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// App or dataset: where workers fetch it (URL or path).
    #[arg(long)]
    pub(crate) multiaddr: Option<String>,
    /// App or dataset: sha256 of the content, 0x-prefixed.
    #[arg(long)]
    pub(crate) checksum: Option<B256>,
    /// App: TEE measurement (hex), empty for non-TEE apps.
    #[arg(long)]
    pub(crate) mrenclave: Option<Bytes>,
    /// Workerpool: its description.
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// App or dataset with --wasm/--file: upload the file to this dexec store and use its
    /// blob URL as multiaddr (where workers fetch it) [default: the chain's `store` in
    /// chain.json, which `dexec devnet` sets].
    #[arg(long, env = "DEXEC_STORE_URL", value_name = "URL")]
    pub(crate) store: Option<String>,
    /// init: replace an existing section of dexec.json.
    #[arg(long)]
    pub(crate) force: bool,
}

/// `app init --oci ARCHIVE` with these values: upload, write the `app` section.
pub(crate) async fn init_oci(mut spec: Spec, global: &Global) -> eyre::Result<Output> {
    let dir = Path::new(".");
    upload(AssetKind::App, &mut spec, global).await?;
    init(AssetKind::App, spec, global, dir)
}

/// Run `dexec <kind>`.
pub async fn run(kind: AssetKind, args: Args, global: &Global) -> eyre::Result<Output> {
    let dir = Path::new(".");
    match args.command {
        Command::Init(mut spec) => {
            use_example(kind, &mut spec, dir)?;
            upload(kind, &mut spec, global).await?;
            init(kind, spec, global, dir)
        }
        Command::Deploy(mut spec) => {
            use_example(kind, &mut spec, dir)?;
            upload(kind, &mut spec, global).await?;
            deploy(kind, spec, global, dir).await
        }
        Command::Show {
            address_or_index,
            user,
        } => {
            let client = global.reader().await?;
            let address = match address_or_index {
                Some(text) => match text.parse::<Address>() {
                    Ok(address) => address,
                    Err(_) => {
                        let index: u64 = text.parse().map_err(|_| {
                            Fail::usage(format!("`{text}` is neither an address nor an index"))
                        })?;
                        client.asset_by_index(kind, user, index).await?
                    }
                },
                None => DeployedFile::load(dir)?
                    .get(kind, client.chain_id())
                    .ok_or_else(|| {
                        Fail::usage(format!(
                            "no {kind} given and none deployed from here on chain {}: pass an \
                             address or index",
                            client.chain_id()
                        ))
                    })?,
            };
            let info = client.asset(kind, address).await?;
            let text = describe(&info);
            Output::new(info, text)
        }
        Command::Count { user } => {
            let client = global.reader().await?;
            let count = client.asset_count(kind, user).await?;
            let whose = user.map(|u| format!(" of {u}")).unwrap_or_default();
            Output::new(
                json!({ "kind": kind, "user": user, "count": count }),
                format!("{count} {kind}(s){whose}"),
            )
        }
        Command::Transfer { address, to, force } => {
            let client = global.signer().await?;
            client
                .require_owner(kind, address, client.address()?)
                .await?;
            confirm(&format!("Give {kind} {address} to {to}?"), force)?;
            let tx = client.transfer_asset(kind, address, to).await?;
            Output::new(
                json!({ "kind": kind, "address": address, "to": to, "tx": tx }),
                format!("{kind} {address} now belongs to {to}\n{}", tx_line(&tx)),
            )
        }
    }
}

/// `--example NAME`: the example app written to `<dir>/<name>.wasm`, used as `--wasm`.
fn use_example(kind: AssetKind, spec: &mut Spec, dir: &Path) -> eyre::Result<()> {
    let Some(name) = spec.example.take() else {
        return Ok(());
    };
    if kind != AssetKind::App {
        return Err(Fail::usage(format!(
            "--example gives an example app; a {kind} has none"
        )));
    }
    spec.wasm = Some(crate::examples::write(&name, dir)?);
    Ok(())
}

/// The section dexec.json holds for `kind`, built from the options and the current file.
fn section(
    kind: AssetKind,
    spec: &Spec,
    current: Option<&Value>,
    owner: Option<Address>,
) -> eyre::Result<Value> {
    let mut value = current.cloned().unwrap_or_else(|| template(kind));
    let obj = value
        .as_object_mut()
        .ok_or_else(|| Fail::usage(format!("dexec.json: `{kind}` must be an object")))?;
    if let Some(owner) = owner {
        obj.insert("owner".into(), json!(owner));
    }
    let content = match kind {
        AssetKind::App => spec.wasm.as_ref().or(spec.oci.as_ref()),
        AssetKind::Dataset => spec.file.as_ref(),
        AssetKind::Workerpool => None,
    };
    let misplaced = match kind {
        AssetKind::App => spec.file.is_some() || spec.description.is_some(),
        AssetKind::Dataset => {
            spec.wasm.is_some()
                || spec.oci.is_some()
                || spec.description.is_some()
                || spec.mrenclave.is_some()
        }
        AssetKind::Workerpool => {
            spec.wasm.is_some()
                || spec.oci.is_some()
                || spec.store.is_some()
                || spec.file.is_some()
                || spec.name.is_some()
                || spec.multiaddr.is_some()
                || spec.checksum.is_some()
                || spec.mrenclave.is_some()
        }
    };
    if misplaced {
        return Err(Fail::usage(format!(
            "an option given does not apply to the {kind} kind (see `dexec {kind} deploy --help`)"
        )));
    }
    if let Some(path) = content {
        let (checksum, absolute) = if spec.oci.is_some() {
            obj.insert("type".into(), json!("OCI"));
            super::container::checksum_of_archive(path)?
        } else {
            if kind == AssetKind::App {
                obj.insert("type".into(), json!("WASM"));
                check_app(path)?;
            }
            checksum_of(path)?
        };
        obj.insert("checksum".into(), json!(checksum));
        obj.insert("multiaddr".into(), json!(absolute.display().to_string()));
        if let Some(name) = super::container::stem(path) {
            obj.insert("name".into(), json!(name));
        }
    }
    if let Some(name) = &spec.name {
        obj.insert("name".into(), json!(name));
    }
    if let Some(multiaddr) = &spec.multiaddr {
        obj.insert("multiaddr".into(), json!(multiaddr));
    }
    if let Some(checksum) = spec.checksum {
        obj.insert("checksum".into(), json!(checksum));
    }
    if let Some(mrenclave) = &spec.mrenclave {
        obj.insert("mrenclave".into(), json!(mrenclave));
    }
    if let Some(description) = &spec.description {
        obj.insert("description".into(), json!(description));
    }
    Ok(value)
}

/// iExec-like templates.
fn template(kind: AssetKind) -> Value {
    match kind {
        AssetKind::App => json!({
            "owner": Address::ZERO, "name": "my-app", "type": "WASM",
            "multiaddr": "", "checksum": B256::ZERO, "mrenclave": "0x"
        }),
        AssetKind::Dataset => json!({
            "owner": Address::ZERO, "name": "my-dataset", "multiaddr": "", "checksum": B256::ZERO
        }),
        AssetKind::Workerpool => json!({ "owner": Address::ZERO, "description": "my workerpool" }),
    }
}

/// Refuse a module the runtime cannot run (not WebAssembly, imports dexec does not provide,
/// no `_start`) before it is registered: apps are immutable, so every run of it would be a
/// paid error result.
fn check_app(path: &Path) -> eyre::Result<()> {
    let bytes = std::fs::read(path)
        .map_err(|e| Fail::usage(format!("cannot read {}: {e}", path.display())))?;
    let runtime = dexec_runtime::Runtime::new(dexec_runtime::RuntimeConfig::default())
        .wrap_err("cannot start the WebAssembly runtime to check the app")?;
    runtime.check_module(&bytes).map_err(|why| {
        Fail::usage(format!(
            "{} cannot run as a dexec app: {why}. Apps are immutable and every run of this one \
             would be a paid error, so it is not registered (build a WASI command: \
             `clang --target=wasm32-wasi`, see apps/)",
            path.display()
        ))
    })
}

/// sha256 of a file and its absolute path.
fn checksum_of(path: &Path) -> eyre::Result<(B256, PathBuf)> {
    let bytes = std::fs::read(path)
        .map_err(|e| Fail::usage(format!("cannot read {}: {e}", path.display())))?;
    let absolute = std::fs::canonicalize(path)
        .wrap_err_with(|| format!("cannot resolve {}", path.display()))?;
    Ok((B256::from_slice(&Sha256::digest(&bytes)), absolute))
}

/// With --store and a content file: upload it and point --multiaddr at the blob (unless
/// --multiaddr is given).
/// Upload the app's module or the dataset's file to the store (--store, else the chain's
/// `store` in chain.json) and use its blob URL as multiaddr, unless --multiaddr is given.
async fn upload(kind: AssetKind, spec: &mut Spec, global: &Global) -> eyre::Result<Option<String>> {
    let content = match kind {
        AssetKind::App => spec.wasm.clone().or(spec.oci.clone()),
        AssetKind::Dataset => spec.file.clone(),
        AssetKind::Workerpool => None,
    };
    let store = spec
        .store
        .clone()
        .or_else(|| global.chain_entry().ok().and_then(|(_, entry)| entry.store));
    let (Some(store), Some(path)) = (store, content) else {
        return Ok(None);
    };
    if spec.multiaddr.is_some() {
        return Ok(None);
    }
    if let Err(e) = std::fs::metadata(&path) {
        let hint = if kind == AssetKind::App {
            format!(
                " (the example apps ship inside dexec: `--example <name>`, one of {})",
                crate::examples::names()
            )
        } else {
            String::new()
        };
        return Err(Fail::usage(format!(
            "cannot read {}: {e}{hint}; nothing was uploaded",
            path.display()
        )));
    }
    let client = global.store(&store)?;
    let blob = client
        .put_file(&path)
        .await
        .wrap_err_with(|| format!("cannot upload {} to {store}", path.display()))?;
    spec.multiaddr = Some(blob.url.to_string());
    Ok(Some(blob.url.to_string()))
}

fn init(kind: AssetKind, spec: Spec, global: &Global, dir: &Path) -> eyre::Result<Output> {
    let mut project = Project::load(dir)?;
    if project.section(kind.name()).is_some() && !spec.force && !has_values(&spec) {
        return Err(Fail::refused(format!(
            "{} already has a `{kind}` section; pass --force to reset it to the template, or \
             options to update it",
            project.path().display()
        )));
    }
    let owner = global
        .chain_entry()
        .ok()
        .and_then(|(_, e)| global.wallet_address(e.chain_id().unwrap_or_default()).ok());
    let current = if spec.force {
        None
    } else {
        project.section(kind.name())
    };
    let value = section(kind, &spec, current, owner)?;
    project.set_section(kind.name(), value.clone());
    project.save()?;
    Output::new(
        json!({ "file": project.path(), kind.name(): value }),
        format!(
            "wrote the `{kind}` section of {}:\n{}",
            project.path().display(),
            serde_json::to_string_pretty(&value)?
        ),
    )
}

fn has_values(spec: &Spec) -> bool {
    spec.wasm.is_some()
        || spec.oci.is_some()
        || spec.file.is_some()
        || spec.name.is_some()
        || spec.multiaddr.is_some()
        || spec.checksum.is_some()
        || spec.mrenclave.is_some()
        || spec.description.is_some()
        || spec.store.is_some()
        || spec.example.is_some()
}

async fn deploy(kind: AssetKind, spec: Spec, global: &Global, dir: &Path) -> eyre::Result<Output> {
    let project = Project::load(dir)?;
    let value = section(kind, &spec, project.section(kind.name()), None)?;
    let client = global.signer().await?;
    let invalid = |e: serde_json::Error| {
        Fail::usage(format!(
            "the `{kind}` values are incomplete or malformed ({e}); see `dexec {kind} init --help`"
        ))
    };
    let deployed = match kind {
        AssetKind::App => {
            let app: AppSpec = serde_json::from_value(value).map_err(invalid)?;
            require_content(
                kind,
                &app.multiaddr,
                app.checksum,
                "--wasm FILE or --oci ARCHIVE",
            )?;
            client.deploy_app(&app).await?
        }
        AssetKind::Dataset => {
            let dataset: DatasetSpec = serde_json::from_value(value).map_err(invalid)?;
            require_content(kind, &dataset.multiaddr, dataset.checksum, "--file FILE")?;
            client.deploy_dataset(&dataset).await?
        }
        AssetKind::Workerpool => {
            let pool: WorkerpoolSpec = serde_json::from_value(value).map_err(invalid)?;
            client.deploy_workerpool(&pool).await?
        }
    };
    DeployedFile::record(dir, kind, client.chain_id(), deployed.address)?;
    let text = match &deployed.tx {
        Some(tx) => format!("deployed {kind} {}\n{}", deployed.address, tx_line(tx)),
        None => format!(
            "{kind} {} is already registered with these values (nothing sent)",
            deployed.address
        ),
    };
    Output::new(deployed, text)
}

fn require_content(
    kind: AssetKind,
    multiaddr: &str,
    checksum: B256,
    option: &str,
) -> eyre::Result<()> {
    if multiaddr.is_empty() || checksum == B256::ZERO {
        return Err(Fail::usage(format!(
            "the {kind} needs a multiaddr and a checksum: pass {option} (or --multiaddr and \
             --checksum), or fill dexec.json"
        )));
    }
    Ok(())
}

/// Readable description of an asset.
pub fn describe(info: &AssetInfo) -> String {
    let mut r: Vec<(&str, String)> = vec![
        ("kind", info.kind.to_string()),
        ("address", info.address.to_string()),
        ("owner", info.owner.to_string()),
    ];
    match &info.details {
        AssetDetails::App(app) => {
            r.push(("name", app.name.clone()));
            r.push(("type", app.app_type.clone()));
            r.push(("multiaddr", app.multiaddr.clone()));
            r.push(("checksum", app.checksum.to_string()));
            if !app.mrenclave.is_empty() {
                r.push(("mrenclave", app.mrenclave.to_string()));
            }
        }
        AssetDetails::Dataset(d) => {
            r.push(("name", d.name.clone()));
            r.push(("multiaddr", d.multiaddr.clone()));
            r.push(("checksum", d.checksum.to_string()));
        }
        AssetDetails::Workerpool {
            description,
            worker_stake_ratio,
            scheduler_reward_ratio,
        } => {
            r.push(("description", description.clone()));
            r.push((
                "worker stake",
                format!("{worker_stake_ratio}% of the price"),
            ));
            r.push((
                "scheduler reward",
                format!("{scheduler_reward_ratio}% of the price"),
            ));
        }
    }
    rows(&r)
}
