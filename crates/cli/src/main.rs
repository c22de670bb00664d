//! `dexec`: the command-line tool of the dexec computing marketplace.
//!
//! Thin: parses arguments, initialises logging, hands each command to its module and turns
//! the outcome into output and an exit code ([`exit`]).

mod cluster;
mod cmd;
mod context;
mod examples;
mod exit;
mod json;
mod local;
mod output;
mod project;
mod reference;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dexec_sdk::AssetKind;

use crate::context::Global;
use crate::output::Output;

/// dexec: a decentralized marketplace for computing.
///
/// App and dataset providers, workerpools and requesters trade computing power through signed
/// orders (EIP-712) matched by smart contracts (the hub); results are agreed by replication
/// with stakes or by trusted execution. The commands follow iExec's `iexec` tool.
///
/// Getting started on a local chain:
///   dexec devnet                                  # terminal 1: chain + hub + funded accounts
///   export DEXEC_DEV_ACCOUNT=1                    # use dev account 1 as wallet
///   dexec init && dexec app init --wasm app.wasm && dexec app deploy
///
/// Exit codes: 0 ok, 1 failure (node, I/O), 2 bad usage or input, 3 refused by the hub or a
/// check before sending, 4 not found, 5 not confirmed or interrupted, 6 a task completed with an
/// app error (its result is the workers' error.txt).
#[derive(Debug, Parser)]
#[command(
    name = "dexec",
    version,
    propagate_version = true,
    max_term_width = 100,
    verbatim_doc_comment
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// `dexec worker`: run one, or `init` its unit. `@FILE` reads flags from a file.
#[derive(Debug, clap::Args)]
struct WorkerCommand {
    #[command(subcommand)]
    init: Option<InitCommand>,
    #[command(flatten)]
    args: dexec_worker::Args,
}

/// `dexec scheduler`: run one, or `init` its unit. `@FILE` reads flags from a file.
#[derive(Debug, clap::Args)]
struct SchedulerCommand {
    #[command(subcommand)]
    init: Option<InitCommand>,
    #[command(flatten)]
    args: dexec_scheduler::Args,
}

#[derive(Debug, Subcommand)]
enum InitCommand {
    /// Check the service's flags (after `--`) and write them to an arguments file and a
    /// systemd unit that starts the service with them.
    #[command(long_about = cmd::service::INIT_ABOUT)]
    Init(cmd::service::InitArgs),
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the project files (dexec.json, chain.json) in the current directory.
    #[command(long_about = cmd::init::LONG_ABOUT)]
    Init(cmd::init::Args),
    /// Create, import and show wallets (keystores interoperable with geth, foundry, MetaMask);
    /// send ether and tokens from them.
    #[command(long_about = cmd::wallet::LONG_ABOUT)]
    Wallet(cmd::wallet::Args),
    /// Deposit to, withdraw from and show the hub account (escrow).
    #[command(long_about = cmd::account::LONG_ABOUT)]
    Account(cmd::account::Args),
    /// Register and manage apps (WebAssembly modules).
    #[command(long_about = cmd::asset::APP_ABOUT)]
    App(cmd::asset::AppArgs),
    /// Register and manage datasets.
    #[command(long_about = cmd::asset::DATASET_ABOUT)]
    Dataset(cmd::asset::Args),
    /// Register and manage workerpools.
    #[command(long_about = cmd::asset::WORKERPOOL_ABOUT)]
    Workerpool(cmd::asset::Args),
    /// Show the hub's work categories; create one (hub owner).
    #[command(long_about = cmd::category::LONG_ABOUT)]
    Category(cmd::category::Args),
    /// Write, sign, cancel, show and fill orders.
    #[command(long_about = cmd::order::LONG_ABOUT)]
    Order(cmd::order::Args),
    /// Oracles: price feeds and other contracts that order computations and receive the
    /// results.
    #[command(long_about = cmd::oracle::LONG_ABOUT)]
    Oracle(cmd::oracle::Args),
    /// Show the market's open orders, best first, with iExec's filters.
    #[command(long_about = cmd::orderbook::LONG_ABOUT)]
    Orderbook(cmd::orderbook::Args),
    /// Show deals.
    Deal(cmd::deal::DealArgs),
    /// Show and follow tasks.
    #[command(long_about = cmd::task::TASK_ABOUT)]
    Task(cmd::task::TaskArgs),
    /// Set up and check the blob store uploads go to (no token needed: content-addressed).
    #[command(long_about = cmd::storage::LONG_ABOUT)]
    Storage(cmd::storage::Args),
    /// Download task results, verified against the chain.
    #[command(long_about = cmd::result::LONG_ABOUT)]
    Result(cmd::result::Args),
    /// Show the chain and contract addresses in use.
    Info,
    /// Run a local development chain with the hub deployed and funded dev accounts.
    #[command(long_about = cmd::devnet::LONG_ABOUT)]
    Devnet(cmd::devnet::Args),
    /// Run the whole system on this machine and one task end to end (`make demo`).
    #[command(long_about = cmd::demo::LONG_ABOUT)]
    Demo(cmd::demo::Args),
    /// Serve the market: the order book API, its WebSocket feed and the chain watcher.
    #[command(long_about = MARKET_ABOUT)]
    Market(dexec_market::Args),
    /// Run a workerpool's scheduler (deals, worker registry, assignments, settlement);
    /// `dexec scheduler init` writes its systemd unit.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Scheduler(SchedulerCommand),
    /// Run a worker for a scheduler (runs tasks in the deterministic WASM runtime, and
    /// container apps with --containers); `dexec worker init` writes its systemd unit.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Worker(WorkerCommand),
    /// Serve the content-addressed blob store (apps, datasets, input files, results).
    #[command(long_about = STORE_ABOUT)]
    Store(dexec_store::Args),
    /// Measure the protocol (gas) and print the figures beside their anchors.
    Bench(cmd::bench::Args),
    /// Print the CLI reference (every command's --help) as Markdown.
    #[command(hide = true)]
    Reference,
}

/// Long help of `dexec market`.
const MARKET_ABOUT: &str = "\
Serve the market: where providers publish signed orders and requesters find the best ones.

Publishing checks the EIP-712 signature against the hub's domain, that the signer owns the asset
(or is the requester), that volume is left on chain and that the signer can pay or stake.
Queries take iExec's filters and sort by price, then publication time. A watcher follows the
hub (with a confirmation depth, resuming after downtime) and marks orders filled, cancelled or
dead. State: a SQLite file by default, PostgreSQL with --db postgres://... API reference: the
OpenAPI spec at /openapi.json (docs/openapi/market.json); details in docs/market.md.";

/// Long help of `dexec store`.
const STORE_ABOUT: &str = "\
Serve the content-addressed blob store: apps (.wasm), datasets, input files and results live
there, each named by the sha256 of its bytes.

  PUT /blobs            body = bytes -> {\"id\": sha256, \"size\", \"url\"}  (201, or 200 if known)
  PUT /blobs/<sha256>   the same, refused unless the body hashes to <sha256>
  GET /blobs/<sha256>   the bytes, verified against their id before they are served
  HEAD /blobs/<sha256>  200 with Content-Length, or 404
  GET /health

Backed by a local directory (default .dexec/store) or any S3-compatible bucket
(--backend-url s3://bucket/prefix). See docs/store.md.";

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(program) = std::env::var_os(local::EXEC_WITH_PARENT_DEATH_ENV) {
        // `dexec` launching anvil for a devnet (see `local::LocalChain::spawn`)
        let error = local::exec_with_parent_death_signal(&program);
        eprintln!("dexec: cannot start {}: {error}", program.to_string_lossy());
        return ExitCode::from(exit::FAILURE);
    }
    let argv = match cmd::service::expand_args_files(std::env::args().collect()) {
        Ok(argv) => argv,
        Err(e) => {
            eprintln!("dexec: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let mut matches = match <Cli as clap::CommandFactory>::command().try_get_matches_from(argv) {
        Ok(matches) => matches,
        Err(e) => return usage_error(e),
    };
    // `dexec worker|scheduler init` before the service's own flags are read into its `Args`
    // (the scheduler's --workerpool is required to run it, not to write its unit)
    if let Some((json, result)) = service_init(&matches) {
        return finish(json, result.map(Some));
    }
    let mut cli = match <Cli as clap::FromArgMatches>::from_arg_matches_mut(&mut matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // the demo tells its story on stdout; the services' log lines go to a file it names
    if let Command::Demo(args) = &cli.command {
        if cli.global.log.log_file.is_none() {
            if let Some(file) = args.log_file() {
                if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    let _ = std::fs::create_dir_all(dir);
                }
                cli.global.log.log_file = Some(file);
            }
        }
    }
    // Logs go to stderr so that `--json` output on stdout stays machine-readable.
    dexec_service::log::init(&cli.global.log, dexec_service::log::DEFAULT_FILTER);
    let json = cli.global.json;
    finish(json, run(cli).await)
}

/// `dexec worker init` or `dexec scheduler init`, when that is the command: `--json`, and
/// what it did.
fn service_init(matches: &clap::ArgMatches) -> Option<(bool, eyre::Result<Output>)> {
    use clap::FromArgMatches;
    let (name, service) = matches.subcommand()?;
    let kind = match name {
        "worker" => cmd::service::Service::Worker,
        "scheduler" => cmd::service::Service::Scheduler,
        _ => return None,
    };
    let ("init", init) = service.subcommand()? else {
        return None;
    };
    let json = matches.get_flag("json");
    let result = cmd::service::InitArgs::from_arg_matches(init)
        .map_err(|e| exit::Fail::usage(e.to_string()))
        .and_then(|args| cmd::service::init(kind, args));
    Some((json, result))
}

/// Print what a command gave (or its error, JSON with `--json`) and its exit code.
fn finish(json: bool, result: eyre::Result<Option<Output>>) -> ExitCode {
    match result {
        Ok(Some(output)) => {
            output.print(json);
            ExitCode::from(exit::OK)
        }
        Ok(None) => ExitCode::from(exit::OK),
        Err(report) => {
            let message = exit::message(&report);
            if json {
                crate::outln!(
                    "{}",
                    serde_json::json!({ "ok": false, "error": message, "code": exit::code(&report) })
                );
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(exit::code(&report))
        }
    }
}

/// A command line clap refused (or `--help`/`--version`): with `--json` anywhere in it, a usage
/// error is the JSON error object on stdout like any other error, exit 2; otherwise clap's
/// own text and code.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let error = hex_sentence(error);
    let json = std::env::args_os().skip(1).any(|a| a == "--json");
    let informational = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if json && !informational {
        let message = error.render().to_string();
        // clap's text: "error: <sentence>\n\n<usage>…"; keep the sentence and the tip
        let message = message
            .trim()
            .trim_start_matches("error: ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        crate::outln!(
            "{}",
            serde_json::json!({ "ok": false, "error": message, "code": exit::USAGE })
        );
        return ExitCode::from(exit::USAGE);
    }
    let _ = error.print();
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(exit::USAGE))
}

/// A value clap refused because it is not the hex an address, hash or id is: the hex
/// decoder's "invalid string length" or "odd number of digits" become a sentence that says
/// what was expected and what is wrong with the value.
fn hex_sentence(error: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() != ErrorKind::ValueValidation {
        return error;
    }
    let Some(source) = std::error::Error::source(&error).map(|s| s.to_string()) else {
        return error;
    };
    let from_hex = [
        "invalid string length",
        "odd number of digits",
        "invalid character",
        "Invalid character",
    ];
    if !from_hex.iter().any(|h| source.contains(h)) {
        return error;
    }
    let (Some(ContextValue::String(value)), Some(ContextValue::String(arg))) = (
        error.get(ContextKind::InvalidValue),
        error.get(ContextKind::InvalidArg),
    ) else {
        return error;
    };
    let digits = value.strip_prefix("0x").unwrap_or(value);
    let why = match digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        Some(c) => format!("`{c}` is not a hex digit"),
        None => format!("it has {} hex digits", digits.len()),
    };
    let message = format!(
        "invalid value '{value}' for '{arg}': {why}; an address is 0x and 40 hex digits, a hash \
         or an id 0x and 64"
    );
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap::Error::raw(ErrorKind::ValueValidation, message).format(&mut cmd)
}

/// Run a command; `None` for commands that print for themselves.
async fn run(cli: Cli) -> eyre::Result<Option<Output>> {
    let g = &cli.global;
    let output = match cli.command {
        Command::Init(args) => cmd::init::run(args)?,
        Command::Wallet(args) => cmd::wallet::run(args, g).await?,
        Command::Account(args) => cmd::account::run(args, g).await?,
        Command::App(args) => cmd::asset::run_app(args, g).await?,
        Command::Dataset(args) => cmd::asset::run(AssetKind::Dataset, args, g).await?,
        Command::Workerpool(args) => cmd::asset::run(AssetKind::Workerpool, args, g).await?,
        Command::Category(args) => cmd::category::run(args, g).await?,
        Command::Order(args) => cmd::order::run(args, g).await?,
        Command::Orderbook(args) => cmd::orderbook::run(args, g).await?,
        Command::Oracle(args) => cmd::oracle::run(args, g).await?,
        Command::Deal(args) => cmd::deal::run_deal(args, g).await?,
        Command::Task(args) => cmd::task::run_task(args, g).await?,
        Command::Result(args) => cmd::result::run(args, g).await?,
        Command::Storage(args) => cmd::storage::run(args, g).await?,
        Command::Info => cmd::info::run(g).await?,
        Command::Devnet(args) => {
            cmd::devnet::run(args, g.log.log_file.as_deref()).await?;
            return Ok(None);
        }
        Command::Demo(args) => {
            cmd::demo::run(args, g.log.log_file.as_deref()).await?;
            return Ok(None);
        }
        Command::Market(args) => {
            dexec_market::run(args).await?;
            return Ok(None);
        }
        // `init` was dispatched by `service_init` before the service's `Args` were built
        Command::Scheduler(SchedulerCommand { args, .. }) => {
            dexec_scheduler::run(args).await?;
            return Ok(None);
        }
        Command::Worker(WorkerCommand { args, .. }) => {
            dexec_worker::run(args).await?;
            return Ok(None);
        }
        Command::Store(args) => {
            dexec_store::run(args).await?;
            return Ok(None);
        }
        Command::Bench(args) => {
            cmd::bench::run(args).await?;
            return Ok(None);
        }
        Command::Reference => {
            crate::out!(
                "{}",
                reference::markdown(<Cli as clap::CommandFactory>::command())
            );
            return Ok(None);
        }
    };
    Ok(Some(output))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks (unique argument names, valid defaults, …) over every
    /// subcommand, which it otherwise runs only when that subcommand is parsed.
    #[test]
    fn command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
