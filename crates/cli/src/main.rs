//! `dexec`: the command-line tool of the dexec computing marketplace.
//!
//! Thin: parses arguments, initialises logging and hands each subcommand to its module.

mod bench;
mod devnet;
mod local;

use std::io::IsTerminal;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// dexec: a decentralized marketplace for computing.
///
/// App and dataset providers, workerpools and requesters trade computing power through signed
/// orders matched by smart contracts (the hub). This tool runs a local chain with the hub
/// deployed and measures what the protocol costs.
#[derive(Debug, Parser)]
#[command(
    name = "dexec",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a local development chain with the hub deployed and funded dev accounts.
    #[command(long_about = devnet::LONG_ABOUT)]
    Devnet(devnet::Args),
    /// Measure the protocol (gas) and print the figures beside their anchors.
    Bench(bench::Args),
}

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let cli = Cli::parse();
    // Logs go to stderr so that `--json` output on stdout stays machine-readable.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("warn,devnet=info,bench=info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Command::Devnet(args) => devnet::run(args).await,
        Command::Bench(args) => bench::run(args).await,
    }
}
