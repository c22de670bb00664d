//! `dexec demo`: the whole system on one machine, one task end to end.
//!
//! A devnet chain with the hub, the blob store, the market, a workerpool's scheduler and two
//! workers run in this process on loopback; an app provider and a workerpool owner (dev
//! accounts 1 and 2) deploy and publish orders on the market, a requester (3) runs the app as
//! `dexec app run` does (best market orders, checks, match); the task runs in the deterministic WASM
//! runtime, the result is settled on chain, downloaded and verified against the chain's
//! digest. Everything stops at the end unless `--keep`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dexec_sdk::TaskStatus;
use eyre::{eyre, WrapErr};

use crate::cluster::{Cluster, Options};

/// Long help of `dexec demo`.
pub const LONG_ABOUT: &str = "\
Run the whole system on this machine and one task end to end (what `make demo` does).

Starts, on 127.0.0.1: a devnet chain (anvil, hub deployed, dev accounts funded), the blob store,
the market, a workerpool's scheduler and two workers. Then, as dev accounts: the app provider
(1) uploads the app module to the store and registers it, the workerpool owner (2) registers a
workerpool, both sign orders and publish them on the market; the requester (3) runs the app as
`dexec app run` does: it finds the best orders on the market, checks the match and makes the
deal. The task runs on a worker in the deterministic WASM runtime, is settled on chain, and its result is
downloaded from the store and verified against the digest the chain agreed on, then printed.

Everything stops at the end unless --keep (then Ctrl-C stops it). State lives in --state-dir,
emptied at start.";

/// Arguments of `dexec demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app to run (a WASI module) [default: the example app `hello`, carried inside
    /// dexec].
    #[arg(long, value_name = "WASM")]
    app: Option<PathBuf>,
    /// Arguments given to the app (`iexec_args`).
    #[arg(long, default_value = "dexec")]
    args: String,
    /// Seconds between blocks of the devnet.
    #[arg(long, default_value_t = 1)]
    pub block_time: u64,
    /// Directory for the store, the market's and scheduler's databases and the workers' state.
    #[arg(long, default_value = ".dexec/demo", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Keep everything running after the result (Ctrl-C stops).
    #[arg(long)]
    pub keep: bool,
    /// Give up waiting for the result after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Show the services' logs here (stderr) instead of in <state-dir>.log.
    #[arg(long)]
    verbose: bool,
    /// The oracle demo instead: three price sources on loopback (one lying by 20%), a
    /// PriceFeedOracle contract, a feed update at trust 3 on four workers (one lying about its
    /// result); prints the median the contract holds on chain.
    #[arg(long, conflicts_with_all = ["app", "args"])]
    pub oracle: bool,
}

impl Args {
    /// Where the services' logs go unless --verbose or --log-file: `<state-dir>.log`, beside
    /// the state directory (which is emptied at start).
    pub fn log_file(&self) -> Option<PathBuf> {
        (!self.verbose).then(|| self.state_dir.with_extension("log"))
    }
}

pub(crate) fn step(started: Instant, text: impl AsRef<str>) {
    crate::outln!(
        "[{:>6.2}s] {}",
        started.elapsed().as_secs_f64(),
        text.as_ref()
    );
}

/// The demo's system: two workers, the pool at trust 1, a market.
pub(crate) fn options(args: &Args, wasm: Vec<u8>, app_name: String) -> Options {
    Options {
        wasm,
        app_name,
        block_time: args.block_time,
        state_dir: args.state_dir.clone(),
        workers: 2,
        trust1_mode: dexec_scheduler::Trust1Mode::Fast,
        pool_trust: 1,
        market: true,
        batch_size: 64,
        worker_slots: 2,
        allowed_input_hosts: Vec::new(),
        liars_alone: 0,
        liars_colluding: 0,
    }
}

/// Run `dexec demo`.
pub async fn run(args: Args, log_file: Option<&std::path::Path>) -> eyre::Result<()> {
    let started = Instant::now();
    if let Some(log) = log_file {
        step(
            started,
            format!(
                "the services log to {} (--verbose shows them here)",
                log.display()
            ),
        );
    }
    if args.oracle {
        return crate::cmd::oracle::demo::run(&args, started).await;
    }
    let (wasm, app_name) = match &args.app {
        Some(path) => {
            let wasm = std::fs::read(path).wrap_err_with(|| {
                format!(
                    "cannot read the app {} (or leave --app out: dexec carries the example \
                     app `hello`)",
                    path.display()
                )
            })?;
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("app")
                .to_owned();
            (wasm, name)
        }
        None => {
            let hello = crate::examples::find("hello")?;
            (hello.wasm.to_vec(), hello.name.to_owned())
        }
    };
    let cluster =
        Cluster::start(options(&args, wasm, app_name), |line| step(started, line)).await?;

    // the requester runs the app as `dexec app run` does: best market orders, checks, match
    let ordered = Instant::now();
    let (prepared, matched) = cluster.run_app(&args.args).await?;
    let input = &prepared.input;
    step(
        started,
        format!(
            "app run chose app order {} and workerpool order {} from the market; {} task(s) at {}",
            cluster.requester.order_hash(&input.app.order),
            cluster.requester.order_hash(&input.workerpool.order),
            prepared.plan.volume,
            prepared.plan.price_per_task
        ),
    );
    let me = cluster.requester.address()?;
    let task_id = matched.tasks[0];
    step(
        started,
        format!(
            "deal {} matched for {} (requester {me}); task {task_id}",
            matched.deal_id, matched.total_cost
        ),
    );

    // the result on chain, then downloaded and verified
    let deal = cluster.requester.deal(matched.deal_id).await?;
    let task = cluster
        .wait_deal(&deal, Duration::from_secs(args.timeout))
        .await?
        .remove(0);
    if task.status != TaskStatus::Completed {
        return Err(eyre!("task {task_id} ended {}", task.status));
    }
    step(
        started,
        format!(
            "task COMPLETED on chain, digest {} ({:.2} s after the order)",
            task.result.as_ref().map(|r| r.digest).unwrap_or_default(),
            ordered.elapsed().as_secs_f64()
        ),
    );
    let out = std::fs::canonicalize(&args.state_dir)?.join("result");
    let verified = crate::cmd::result::download(&cluster.requester, &task, &out).await?;
    step(
        started,
        format!(
            "result downloaded and verified against the chain ({:.2} s after the order): {}",
            ordered.elapsed().as_secs_f64(),
            out.display()
        ),
    );
    for file in &verified.files {
        if file == "computed.json" {
            continue;
        }
        let text = std::fs::read_to_string(out.join(file)).unwrap_or_default();
        crate::outln!("\n--- {file} ---\n{}", text.trim_end());
    }
    let account = cluster.requester.account(me).await?;
    crate::outln!(
        "\nrequester paid {}; free balance now {}",
        matched.total_cost,
        account.hub_balance
    );

    if args.keep {
        crate::outln!(
            "\nstill running (Ctrl-C stops): chain {}, store {}, scheduler {}",
            cluster.entry.host,
            cluster.store_url,
            cluster.scheduler_url
        );
        tokio::signal::ctrl_c().await?;
    }
    cluster.stop().await;
    step(started, "stopped");
    Ok(())
}
