//! `dexec demo`: the whole system on one machine, one task end to end.
//!
//! A devnet chain with the hub, the blob store, a workerpool's scheduler and two workers run
//! in this process on loopback; an app provider, a workerpool owner and a requester (dev
//! accounts 1, 2 and 3) deploy, sign and match; the task runs in the deterministic WASM
//! runtime, the result is settled on chain, downloaded and verified against the chain's
//! digest. Everything stops at the end unless `--keep`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use alloy::primitives::{B256, U256};
use alloy::signers::local::PrivateKeySigner;
use dexec_sdk::primitives::{AppOrder, Nrlc, RequestOrder, WorkerpoolOrder};
use dexec_sdk::{AppSpec, ChainEntry, Client, MatchInput, TaskStatus, WorkerpoolSpec};
use eyre::{eyre, WrapErr};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::devnet::deploy_and_fund;
use crate::local::LocalChain;

/// Long help of `dexec demo`.
pub const LONG_ABOUT: &str = "\
Run the whole system on this machine and one task end to end (what `make demo` does).

Starts, on 127.0.0.1: a devnet chain (anvil, hub deployed, dev accounts funded), the blob store,
a workerpool's scheduler and two workers. Then, as dev accounts: the app provider (1) uploads
the app module to the store and registers it, the workerpool owner (2) registers a workerpool,
both sign orders, the requester (3) signs a request and matches the orders into a deal. The task
runs on a worker in the deterministic WASM runtime, is settled on chain, and its result is
downloaded from the store and verified against the digest the chain agreed on, then printed.

Everything stops at the end unless --keep (then Ctrl-C stops it). State lives in --state-dir,
emptied at start.";

/// Arguments of `dexec demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app to run (a WASI module).
    #[arg(long, default_value = "apps/build/hello.wasm", value_name = "WASM")]
    app: PathBuf,
    /// Arguments given to the app (`iexec_args`).
    #[arg(long, default_value = "dexec")]
    args: String,
    /// Seconds between blocks of the devnet.
    #[arg(long, default_value_t = 1)]
    block_time: u64,
    /// Directory for the store, the scheduler's database and the workers' state.
    #[arg(long, default_value = ".dexec/demo", value_name = "DIR")]
    state_dir: PathBuf,
    /// Keep everything running after the result (Ctrl-C stops).
    #[arg(long)]
    keep: bool,
    /// Give up waiting for the result after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Dev accounts by role.
const APP_OWNER: usize = 1;
const POOL_OWNER: usize = 2;
const REQUESTER: usize = 3;
const WORKERS: [usize; 2] = [4, 5];

fn step(started: Instant, text: impl AsRef<str>) {
    println!(
        "[{:>6.2}s] {}",
        started.elapsed().as_secs_f64(),
        text.as_ref()
    );
}

/// Run `dexec demo`.
pub async fn run(args: Args) -> eyre::Result<()> {
    let started = Instant::now();
    let wasm = std::fs::read(&args.app).wrap_err_with(|| {
        format!(
            "cannot read the app {} (build the example apps with `make apps`)",
            args.app.display()
        )
    })?;
    if args.state_dir.exists() {
        std::fs::remove_dir_all(&args.state_dir)
            .wrap_err_with(|| format!("cannot empty {}", args.state_dir.display()))?;
    }
    std::fs::create_dir_all(&args.state_dir)?;
    let state_dir = std::fs::canonicalize(&args.state_dir)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    // 1. the chain
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    // deploy and fund with a block per transaction, then mine on a clock like a real chain
    let builder = dexec_contracts::anvil::anvil(None).port(port);
    let chain = LocalChain::spawn(builder, None).await?;
    let deployment = deploy_and_fund(&chain, 6).await?;
    if args.block_time > 0 {
        use alloy::providers::Provider;
        let _: serde_json::Value = chain
            .provider
            .raw_request("evm_setIntervalMining".into(), (args.block_time,))
            .await
            .wrap_err("cannot set the block time")?;
    }
    let entry = ChainEntry {
        id: chain.chain_id.to_string(),
        host: chain.rpc_url(),
        deployment,
    };
    step(
        started,
        format!(
            "devnet at {} ({} s blocks), hub {}",
            entry.host, args.block_time, deployment.hub
        ),
    );
    let signer = |i: usize| -> PrivateKeySigner { chain.signers[i].clone() };
    let client = |i: usize| Client::connect(&entry, Some(signer(i)));

    // 2. the store
    let (store_addr, store_task) = dexec_store::serve(
        dexec_store::Config::test(state_dir.join("store")),
        stopped(),
    )
    .await?;
    let store_url = format!("http://{store_addr}");
    step(started, format!("store at {store_url}"));

    // 3. the app provider uploads and registers the app; the workerpool owner its pool
    let app_owner = client(APP_OWNER).await?;
    let blob = dexec_store::StoreClient::new(&store_url)?
        .put(wasm.clone())
        .await?;
    let app_name = args
        .app
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("app")
        .to_owned();
    let app = app_owner
        .deploy_app(&AppSpec {
            name: app_name.clone(),
            app_type: "WASM".into(),
            multiaddr: blob.url.to_string(),
            checksum: B256::from_slice(&Sha256::digest(&wasm)),
            mrenclave: Default::default(),
        })
        .await?;
    step(
        started,
        format!(
            "app `{app_name}` {} (module in the store: {})",
            app.address, blob.url
        ),
    );
    let pool_owner = client(POOL_OWNER).await?;
    let pool = pool_owner
        .deploy_workerpool(&WorkerpoolSpec {
            description: "demo workerpool".into(),
        })
        .await?;
    step(started, format!("workerpool {}", pool.address));

    // 4. the scheduler and two workers
    let mut scheduler_config = dexec_scheduler::Config::test(
        entry.clone(),
        signer(POOL_OWNER),
        pool.address,
        format!(
            "sqlite://{}?mode=rwc",
            state_dir.join("scheduler.db").display()
        ),
    );
    scheduler_config.store_url = Some(store_url.clone());
    scheduler_config.poll_interval = Duration::from_millis(200);
    let scheduler = dexec_scheduler::serve(scheduler_config, stopped()).await?;
    step(started, format!("scheduler at {}", scheduler.url()));
    let mut workers = Vec::new();
    for (n, account) in WORKERS.into_iter().enumerate() {
        let mut config = dexec_worker::Config::test(
            scheduler.url(),
            entry.clone(),
            signer(account),
            state_dir.join(format!("worker-{n}")),
        );
        config.name = format!("demo-worker-{n}");
        config.allow_private_inputs = false;
        let worker = dexec_worker::start(config, stopped()).await?;
        step(started, format!("worker {} ({})", n, worker.address));
        workers.push(worker);
    }

    // 5. orders: app and workerpool offers, the request, matched into a deal
    let app_order = app_owner
        .sign_order(AppOrder {
            app: app.address,
            appprice: Nrlc::from_rlc(1).to_u256(),
            volume: U256::from(1_000),
            salt: random_salt(),
            ..Default::default()
        })
        .await?;
    let pool_order = pool_owner
        .sign_order(WorkerpoolOrder {
            workerpool: pool.address,
            workerpoolprice: Nrlc::from_rlc(2).to_u256(),
            volume: U256::from(1_000),
            trust: U256::from(1),
            salt: random_salt(),
            ..Default::default()
        })
        .await?;
    let requester = client(REQUESTER).await?;
    let me = requester.address()?;
    let request = requester
        .sign_order(RequestOrder {
            app: app.address,
            appmaxprice: Nrlc::from_rlc(1).to_u256(),
            workerpool: pool.address,
            workerpoolmaxprice: Nrlc::from_rlc(2).to_u256(),
            requester: me,
            beneficiary: me,
            volume: U256::from(1),
            trust: U256::from(1),
            params: serde_json::json!({ "iexec_args": args.args }).to_string(),
            salt: random_salt(),
            ..Default::default()
        })
        .await?;
    let ordered = Instant::now();
    let matched = requester
        .match_orders(&MatchInput {
            app: app_order,
            dataset: None,
            workerpool: pool_order,
            request,
        })
        .await?;
    let task_id = matched.tasks[0];
    step(
        started,
        format!(
            "deal {} matched for {} (requester {me}); task {task_id}",
            matched.deal_id, matched.total_cost
        ),
    );

    // 6. wait for the result on chain
    let deal = requester.deal(matched.deal_id).await?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let task = loop {
        let task = requester.task(&deal, deal.deal.bot_first.into()).await?;
        if task.status.is_final() {
            break task;
        }
        if Instant::now() > deadline {
            return Err(eyre!(
                "task {task_id} is still {} after {} s; see the logs (RUST_LOG=info)",
                task.status,
                args.timeout
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if task.status != TaskStatus::Completed {
        return Err(eyre!("task {task_id} ended {}", task.status));
    }
    let settled_in = ordered.elapsed();
    step(
        started,
        format!(
            "task COMPLETED on chain, digest {} ({:.2} s after the order)",
            task.result.as_ref().map(|r| r.digest).unwrap_or_default(),
            settled_in.as_secs_f64()
        ),
    );

    // 7. download and verify
    let out = state_dir.join("result");
    let verified = crate::cmd::result::download(&requester, &task, &out).await?;
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
        println!("\n--- {file} ---\n{}", text.trim_end());
    }
    let paid = requester.account(me).await?;
    println!(
        "\nrequester paid {}; free balance now {}",
        matched.total_cost, paid.hub_balance
    );

    if args.keep {
        println!(
            "\nstill running (Ctrl-C stops): chain {}, store {store_url}, scheduler {}",
            entry.host,
            scheduler.url()
        );
        tokio::signal::ctrl_c().await?;
    }
    let _ = stop_tx.send(true);
    for worker in workers {
        let _ = tokio::time::timeout(Duration::from_secs(5), worker.task).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), scheduler.task).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), store_task).await;
    drop(chain);
    step(started, "stopped");
    Ok(())
}

fn random_salt() -> B256 {
    B256::from(rand::random::<[u8; 32]>())
}
