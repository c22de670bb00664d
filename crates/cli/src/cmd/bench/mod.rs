//! `dexec bench`: measure the protocol and print each figure beside its anchor and target.
//!
//! A benchmark is a command, never a timed test (see docs): it prints a table and writes its
//! figures as JSON under `target/bench/`.

mod byzantine;
mod chaos;
mod e2e;
mod gas;
mod hosts;
mod oracle;
mod report;
mod runtime;
mod scale;

/// Arguments of `dexec bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, clap::Subcommand)]
enum Bench {
    /// Gas of hub transactions (receipt gasUsed) on a fresh local chain, beside iExec's.
    #[command(long_about = gas::LONG_ABOUT)]
    Gas(gas::Args),
    /// Start-up cost and speed of the WebAssembly runtime, beside native code.
    #[command(long_about = runtime::LONG_ABOUT)]
    Runtime(runtime::Args),
    /// Order-to-result latency and bag throughput of the whole system on this machine.
    #[command(long_about = e2e::LONG_ABOUT)]
    E2e(e2e::Args),
    /// Latency and gas of price-feed updates, and how fast schedulers fill requests.
    #[command(long_about = oracle::LONG_ABOUT)]
    Oracle(oracle::Args),
    /// The whole system as processes on simulated hosts, under faults: is anything lost?
    #[command(long_about = chaos::LONG_ABOUT)]
    Chaos(chaos::Args),
    /// Bag throughput as worker hosts (network namespaces) are added, and the scheduler's CPU per task.
    #[command(long_about = scale::LONG_ABOUT)]
    Scale(scale::Args),
    /// Replicated tasks with a share of the workers lying: wrong results, slashing, earnings.
    #[command(long_about = byzantine::LONG_ABOUT)]
    Byzantine(byzantine::Args),
}

/// Run `dexec bench`.
pub async fn run(args: Args) -> eyre::Result<()> {
    match args.bench {
        Bench::Gas(args) => gas::run(args).await,
        Bench::Runtime(args) => runtime::run(args).await,
        Bench::E2e(args) => e2e::run(args).await,
        Bench::Oracle(args) => oracle::run(args).await,
        Bench::Chaos(args) => chaos::run(args).await,
        Bench::Scale(args) => scale::run(args).await,
        Bench::Byzantine(args) => byzantine::run(args).await,
    }
}
