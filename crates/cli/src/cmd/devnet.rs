//! `dexec devnet`: a local chain with the hub deployed and funded dev accounts.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use dexec_contracts::chain_file::DEVNET;
use dexec_contracts::deploy::artifacts_fingerprint;
use dexec_contracts::tx::send;
use dexec_contracts::{anvil, deploy_hub, ChainFile, Deployment};
use dexec_primitives::Nrlc;
use eyre::{bail, eyre, WrapErr};
use serde::Serialize;

use crate::local::LocalChain;

/// Long help of `dexec devnet`.
pub const LONG_ABOUT: &str = "\
Run a local development chain with the dexec hub deployed, for building and testing against.

What it does:
  1. starts anvil (the pinned npm binary) on 127.0.0.1:<port> with <accounts> dev accounts,
     derived from anvil's well-known mnemonic `test test test test test test test test test
     test test junk` (never send real funds to them);
  2. deploys the dev token (dRLC, 9 decimals), the app / dataset / workerpool registries and
     the hub, owned by account 0, and creates the categories XS, S, M, L, XL (ids 0-4);
  3. mints 1,000,000 RLC to every dev account and deposits 100,000 RLC of it on the hub;
  4. serves a market (the order book API, `dexec market`) on 127.0.0.1:<market-port>, its
     book in <state-dir>/market.db, and a blob store (`dexec store`: apps, datasets, results)
     on 127.0.0.1:<store-port>, its blobs in <state-dir>/store (unless --no-services or
     --once);
  5. writes <state-dir>/chain.json (chain id, RPC URL, contract addresses, the market and
     store URLs; iExec's format) and prints them;
  6. mines a block every <block-time> seconds until Ctrl-C.

The chain survives restarts: on exit anvil saves its state in <state-dir>/anvil-state.json and
the next `dexec devnet` resumes it (same addresses, balances and deals) instead of deploying
again; the market's book is kept with it and catches up with the chain. `--reset` starts from scratch, and so does a saved chain whose contracts differ from the
ones this binary carries (after `make abi`). anvil's own log is in <state-dir>/anvil.log.

Examples:
  dexec devnet                      # chain on :8545, 1 s blocks, state in ./.dexec
  dexec devnet --block-time 0       # mine each transaction at once (fastest for scripts)
  dexec devnet --once --json        # deploy (or resume), print JSON, stop (no services)
  dexec devnet --market-port 9000   # the market on :9000
  dexec devnet --reset --port 8546  # fresh chain on another port";

/// Tokens minted to each dev account.
const MINT: Nrlc = Nrlc::from_rlc(1_000_000);
/// Of which deposited on the hub.
const DEPOSIT: Nrlc = Nrlc::from_rlc(100_000);

/// Arguments of `dexec devnet`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port of the JSON-RPC endpoint, on 127.0.0.1.
    #[arg(long, default_value_t = 8545)]
    port: u16,
    /// Seconds between blocks; 0 mines each transaction as soon as it arrives.
    #[arg(long, default_value_t = 1, value_name = "SECONDS")]
    block_time: u64,
    /// Number of dev accounts to create and fund (only at deployment).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    accounts: u32,
    /// Directory for chain.json, the saved chain state and anvil's log.
    #[arg(long, default_value = ".dexec", value_name = "DIR")]
    state_dir: PathBuf,
    /// Port of the market (order book API) on 127.0.0.1.
    #[arg(long, default_value_t = 8547)]
    market_port: u16,
    /// Port of the blob store on 127.0.0.1.
    #[arg(long, default_value_t = 8548)]
    store_port: u16,
    /// Serve neither the market nor the store.
    #[arg(long, alias = "no-market")]
    no_services: bool,
    /// Forget the saved chain and deploy a fresh one.
    #[arg(long)]
    reset: bool,
    /// Exit after deploying (or resuming) and printing; the chain state is saved.
    #[arg(long)]
    once: bool,
    /// Print the chain description as JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
    /// anvil binary to run instead of the pinned npm one.
    #[arg(long, env = "DEXEC_ANVIL", value_name = "PATH")]
    anvil_bin: Option<PathBuf>,
    /// Run in the background: return once the chain and its services are ready (their logs go
    /// to --log-file, else <state-dir>/devnet.log); `dexec devnet --stop` stops it.
    #[arg(long, conflicts_with_all = ["once", "stop"])]
    detach: bool,
    /// Stop the devnet running on --state-dir (started with --detach, or in another terminal)
    /// and wait until it has saved its chain.
    #[arg(long, conflicts_with_all = ["once", "reset"])]
    stop: bool,
}

/// How long `--detach` waits for the devnet to be ready, and `--stop` for it to end.
const DETACH_TIMEOUT: Duration = Duration::from_secs(120);

/// `--detach`: start this same command without it in a process group of its own, its output
/// in files, and return once it printed its summary (it is ready) or ended (it failed).
fn detach(args: &Args, log_file: Option<&Path>) -> eyre::Result<()> {
    std::fs::create_dir_all(&args.state_dir)
        .wrap_err_with(|| format!("cannot create {}", args.state_dir.display()))?;
    let summary_file = args.state_dir.join("devnet.out");
    let log = log_file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| args.state_dir.join("devnet.log"));
    let open = |path: &Path| {
        std::fs::File::create(path).wrap_err_with(|| format!("cannot write {}", path.display()))
    };
    let summary = open(&summary_file)?;
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .wrap_err_with(|| format!("cannot write {}", log.display()))?;
    let child_args: Vec<std::ffi::OsString> = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--detach")
        .collect();
    let exe = std::env::current_exe().wrap_err("cannot find the dexec binary to run")?;
    let mut child = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(exe)
            .args(child_args)
            .stdin(std::process::Stdio::null())
            .stdout(summary)
            .stderr(stderr)
            // Ctrl-C in this terminal is not for it
            .process_group(0)
            .spawn()
            .wrap_err("cannot start the devnet in the background")?
    };
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            bail!(
                "the devnet stopped before it was ready ({status}); the end of {}:\n{}",
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let printed = std::fs::read_to_string(&summary_file).unwrap_or_default();
        // the summary is printed once everything is ready, in one write: wait for all of it
        let whole = if args.json {
            serde_json::from_str::<serde_json::Value>(&printed).is_ok()
        } else {
            printed.contains("Ctrl-C stops the chain") && printed.ends_with('\n')
        };
        if whole {
            let printed = printed
                .split("\nCtrl-C stops the chain")
                .next()
                .unwrap_or_default();
            crate::outln!("{}", printed.trim_end());
            eprintln!(
                "devnet running in the background (pid {}); logs in {}; stop it with `dexec devnet \
                 --stop{}`",
                child.id(),
                log.display(),
                if args.state_dir == Path::new(".dexec") {
                    String::new()
                } else {
                    format!(" --state-dir {}", args.state_dir.display())
                }
            );
            return Ok(());
        }
        if started.elapsed() > DETACH_TIMEOUT {
            let _ = child.kill();
            bail!(
                "the devnet was not ready after {} s; see {}",
                DETACH_TIMEOUT.as_secs(),
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `--stop`: SIGTERM to the devnet holding the state directory's lock, then wait until it let
/// go (anvil saved the chain).
fn stop(args: &Args) -> eyre::Result<()> {
    let lock = args.state_dir.join(dexec_service::lock::LOCK_FILE);
    let holder = match dexec_service::StateLock::acquire(&args.state_dir, "devnet") {
        Ok(_free) => {
            crate::outln!("no devnet runs on {}", args.state_dir.display());
            return Ok(());
        }
        Err(dexec_service::LockError::Busy { .. }) => std::fs::read_to_string(&lock)
            .wrap_err_with(|| format!("cannot read {}", lock.display()))?,
        Err(e) => return Err(e.into()),
    };
    let pid = holder
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| !part.is_empty())
        .and_then(|pid| pid.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| {
            eyre!(
                "{} does not say which process holds it: `{}`",
                lock.display(),
                holder.trim()
            )
        })?;
    if !holder.contains("devnet") {
        bail!(
            "{} is held by {} , not by a devnet: not stopping it",
            args.state_dir.display(),
            holder.trim()
        );
    }
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).map_err(|e| {
        eyre!(
            "cannot signal the devnet (pid {}): {e}",
            pid.as_raw_nonzero()
        )
    })?;
    let started = std::time::Instant::now();
    loop {
        if dexec_service::StateLock::acquire(&args.state_dir, "devnet").is_ok() {
            crate::outln!(
                "devnet stopped (pid {}); its chain is saved in {} (the next `dexec devnet` resumes it)",
                pid.as_raw_nonzero(),
                args.state_dir.display()
            );
            return Ok(());
        }
        if started.elapsed() > DETACH_TIMEOUT {
            bail!(
                "the devnet (pid {}) did not stop within {} s",
                pid.as_raw_nonzero(),
                DETACH_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Files kept in the state directory.
struct Paths {
    chain_file: PathBuf,
    state: PathBuf,
    log: PathBuf,
    /// Which contracts the saved chain runs ([`DevnetMeta`]).
    meta: PathBuf,
    /// The market's SQLite book.
    market_db: PathBuf,
    /// The store's blobs.
    store_dir: PathBuf,
}

impl Paths {
    fn new(dir: &Path) -> Self {
        Self {
            chain_file: dir.join("chain.json"),
            state: dir.join("anvil-state.json"),
            log: dir.join("anvil.log"),
            meta: dir.join("devnet.json"),
            market_db: dir.join("market.db"),
            store_dir: dir.join("store"),
        }
    }

    /// Forget the saved chain.
    fn reset(&self) -> eyre::Result<()> {
        remove_if_present(&self.state)?;
        remove_if_present(&self.chain_file)?;
        remove_if_present(&self.meta)?;
        self.forget_market()
    }

    /// Forget the market's book (it describes a chain that is gone).
    fn forget_market(&self) -> eyre::Result<()> {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.market_db.clone().into_os_string();
            path.push(suffix);
            remove_if_present(Path::new(&path))?;
        }
        Ok(())
    }
}

/// What the devnet remembers beside chain.json.
#[derive(Debug, Serialize, serde::Deserialize)]
struct DevnetMeta {
    /// [`artifacts_fingerprint`] of the contracts deployed on the saved chain.
    artifacts: B256,
}

/// Run `dexec devnet` (`log_file`: the global --log-file).
pub async fn run(args: Args, log_file: Option<&Path>) -> eyre::Result<()> {
    if args.stop {
        return stop(&args);
    }
    if args.detach {
        return detach(&args, log_file);
    }
    std::fs::create_dir_all(&args.state_dir)
        .wrap_err_with(|| format!("cannot create {}", args.state_dir.display()))?;
    // one devnet per state directory, held until this process ends (however it ends)
    let _state_lock = dexec_service::StateLock::acquire(&args.state_dir, "devnet")?;
    let paths = Paths::new(&args.state_dir);
    if args.reset {
        paths.reset()?;
    }
    let saved = saved_chain(&paths)?;
    // anvil would only say so on its stderr and leave us waiting for it
    std::net::TcpListener::bind(("127.0.0.1", args.port)).map_err(|e| {
        match listener_of(args.port) {
            Some((pid, command)) if command.contains("anvil") => eyre!(
                "port {} is taken by an anvil (pid {pid}: {command}), probably left by an earlier \
             devnet that did not stop cleanly: stop it with `kill {pid}`, or use another --port",
                args.port
            ),
            Some((pid, command)) => eyre!(
                "port {} is taken by pid {pid} ({command}): stop it, or use another --port",
                args.port
            ),
            None => eyre!(
                "port {} is not available ({e}); is another devnet running? try --port",
                args.port
            ),
        }
    })?;
    let with_services = !args.no_services && !args.once;
    if with_services {
        for (what, port, flag) in [
            ("market", args.market_port, "--market-port"),
            ("store", args.store_port, "--store-port"),
        ] {
            std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
                eyre!(
                    "{what} port {port} is not available ({e}); is another devnet running? \
                     try {flag}, or --no-services"
                )
            })?;
        }
    }

    let builder = anvil::anvil(args.anvil_bin.as_deref())
        .port(args.port)
        .args(["--accounts", &args.accounts.to_string()])
        .arg("--state")
        .arg(&paths.state)
        .keep_stdout();
    tracing::info!(target: "devnet", port = args.port, "starting anvil");
    let mut chain = LocalChain::spawn(builder, args.anvil_bin.as_ref()).await?;
    log_anvil_output(&mut chain, &paths.log)?;

    let (deployment, restored) = match saved {
        Some(saved) => (resume(&chain, &saved).await?, true),
        None => (
            deploy_and_fund(&chain, args.accounts as usize).await?,
            false,
        ),
    };
    if args.block_time > 0 {
        let _: serde_json::Value = chain
            .provider
            .raw_request("evm_setIntervalMining".into(), (args.block_time,))
            .await
            .wrap_err("cannot set the block time")?;
    }
    let meta = DevnetMeta {
        artifacts: artifacts_fingerprint(),
    };
    std::fs::write(&paths.meta, serde_json::to_string_pretty(&meta)? + "\n")
        .wrap_err_with(|| format!("cannot write {}", paths.meta.display()))?;
    let rpc_url = chain.rpc_url();
    let mut file = ChainFile::single(DEVNET, chain.chain_id, &rpc_url, deployment);
    file.save(&paths.chain_file)?;
    let (stop_services, services) = if with_services {
        if !restored {
            paths.forget_market()?;
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (market_url, market) = start_market(&paths, args.market_port, stopped.clone()).await?;
        let (store_url, store) = start_store(&paths, args.store_port, stopped).await?;
        if let Some(entry) = file.chains.get_mut(DEVNET) {
            entry.store = Some(store_url);
            entry.market = Some(market_url);
        }
        file.save(&paths.chain_file)?;
        (Some(stop), vec![market, store])
    } else {
        (None, Vec::new())
    };

    let entry = file.default_chain();
    let summary = Summary::read(
        &chain,
        &args,
        &paths,
        deployment,
        restored,
        entry.and_then(|e| e.market.clone()),
        entry.and_then(|e| e.store.clone()),
    )
    .await?;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        crate::out!("{}", summary.table());
    }
    std::io::stdout().flush()?;

    let mut outcome = if args.once {
        Ok(())
    } else {
        wait_for_stop(&mut chain, &paths.log).await
    };
    if let Some(stop) = stop_services {
        let _ = stop.send(true);
        for task in services {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => outcome = outcome.and(Err(e)),
                Err(e) => outcome = outcome.and(Err(eyre!("a service task failed: {e}"))),
            }
        }
    }
    // SIGTERM: anvil writes its state file before exiting.
    tokio::task::spawn_blocking(move || drop(chain)).await?;
    if paths.state.is_file() {
        tracing::info!(target: "devnet", state = %paths.state.display(), "chain stopped, state saved");
    }
    outcome
}

fn remove_if_present(path: &Path) -> eyre::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).wrap_err_with(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// The saved chain to resume, if there is one and it runs the contracts this binary was built
/// with. A saved chain without chain.json (addresses unknown) or with other contracts (the
/// bindings were re-exported since) is discarded, with a warning.
fn saved_chain(paths: &Paths) -> eyre::Result<Option<ChainFile>> {
    if !paths.state.is_file() {
        return Ok(None);
    }
    let why_not = if !paths.chain_file.is_file() {
        Some("saved chain state without chain.json")
    } else {
        let meta = std::fs::read_to_string(&paths.meta)
            .ok()
            .and_then(|text| serde_json::from_str::<DevnetMeta>(&text).ok());
        match meta {
            Some(meta) if meta.artifacts == artifacts_fingerprint() => None,
            Some(_) => Some("the contracts changed since the saved chain was deployed"),
            None => Some("the saved chain does not say which contracts it runs"),
        }
    };
    if let Some(reason) = why_not {
        tracing::warn!(target: "devnet", state = %paths.state.display(), "{reason}: deploying afresh");
        paths.reset()?;
        return Ok(None);
    }
    Ok(Some(ChainFile::load(&paths.chain_file)?))
}

/// Check that the resumed chain holds the saved deployment.
async fn resume(chain: &LocalChain, saved: &ChainFile) -> eyre::Result<Deployment> {
    let entry = saved
        .chains
        .get(DEVNET)
        .ok_or_else(|| eyre!("chain.json has no `{DEVNET}` chain; run `dexec devnet --reset`"))?;
    if entry.chain_id() != Some(chain.chain_id) {
        bail!(
            "chain.json is for chain {} but anvil runs chain {}; run `dexec devnet --reset`",
            entry.id,
            chain.chain_id
        );
    }
    let code = chain.provider.get_code_at(entry.deployment.hub).await?;
    if code.is_empty() {
        bail!(
            "the saved chain state has no hub at {}; run `dexec devnet --reset`",
            entry.deployment.hub
        );
    }
    tracing::info!(target: "devnet", hub = %entry.deployment.hub, "resumed the saved chain");
    Ok(entry.deployment)
}

/// Deploy the contracts from account 0, then mint and deposit for the first `accounts` accounts.
pub(crate) async fn deploy_and_fund(
    chain: &LocalChain,
    accounts: usize,
) -> eyre::Result<Deployment> {
    let owner = chain.address(0);
    tracing::info!(target: "devnet", %owner, "deploying the hub");
    let deployment = deploy_hub(&chain.provider, owner)
        .await
        .wrap_err("deployment failed")?;
    let token = deployment.token(&chain.provider);
    let hub = deployment.hub(&chain.provider);
    tracing::info!(target: "devnet", accounts, mint = %MINT, deposit = %DEPOSIT, "funding dev accounts");
    for signer in chain.signers.iter().take(accounts) {
        let who = signer.address();
        send(&token.mint(who, MINT.to_u256()).from(owner))
            .await
            .wrap_err("mint failed")?;
        send(&token.approve(deployment.hub, DEPOSIT.to_u256()).from(who))
            .await
            .wrap_err("approve failed")?;
        send(&hub.deposit(DEPOSIT.to_u256()).from(who))
            .await
            .wrap_err("deposit failed")?;
    }
    Ok(deployment)
}

/// Copy anvil's stdout (one line per RPC call / mined block) to `log`.
fn log_anvil_output(chain: &mut LocalChain, log: &Path) -> eyre::Result<()> {
    let Some(stdout) = chain.anvil.child_mut().stdout.take() else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .wrap_err_with(|| format!("cannot open {}", log.display()))?;
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if writeln!(file, "{line}").is_err() {
                break;
            }
        }
    });
    Ok(())
}

/// Block until Ctrl-C or SIGTERM; an anvil that dies on its own is an error.
/// A service task: ends with the service, reporting its error.
type ServiceTask = tokio::task::JoinHandle<eyre::Result<()>>;

/// Resolves when `stop` turns true.
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serve a market on `port` over the chain of `paths.chain_file`, its book in
/// `paths.market_db`, until `stop`; its URL and task.
async fn start_market(
    paths: &Paths,
    port: u16,
    stop: tokio::sync::watch::Receiver<bool>,
) -> eyre::Result<(String, ServiceTask)> {
    #[derive(clap::Parser)]
    struct MarketFlags {
        #[command(flatten)]
        args: dexec_market::Args,
    }
    let flags = <MarketFlags as clap::Parser>::try_parse_from([
        "market".as_ref(),
        "--chain-file".as_ref(),
        paths.chain_file.as_os_str(),
        "--listen".as_ref(),
        format!("127.0.0.1:{port}").as_ref(),
        "--db".as_ref(),
        format!("sqlite://{}", paths.market_db.display()).as_ref(),
        "--poll-interval-ms".as_ref(),
        "250".as_ref(),
    ] as [&std::ffi::OsStr; 9])
    .map_err(|e| eyre!("market flags: {e}"))?;
    let config = dexec_market::Config::from_args(flags.args)?;
    let dexec_service::ServiceHandle { addr, task } =
        dexec_market::serve(config, stopped(stop)).await?;
    tracing::info!(target: "devnet", %addr, "market serving");
    let task =
        tokio::spawn(async move { task.await?.map_err(|e| eyre!("the market failed: {e}")) });
    Ok((format!("http://{addr}"), task))
}

/// Serve a blob store on `port`, its blobs in `paths.store_dir`, until `stop`; its URL and
/// task.
async fn start_store(
    paths: &Paths,
    port: u16,
    stop: tokio::sync::watch::Receiver<bool>,
) -> eyre::Result<(String, ServiceTask)> {
    let mut config = dexec_store::Config::test(&paths.store_dir);
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let dexec_service::ServiceHandle { addr, task } =
        dexec_store::serve(config, stopped(stop)).await?;
    tracing::info!(target: "devnet", %addr, "store serving");
    let task = tokio::spawn(async move { task.await?.map_err(|e| eyre!("the store failed: {e}")) });
    Ok((format!("http://{addr}"), task))
}

async fn wait_for_stop(chain: &mut LocalChain, log: &Path) -> eyre::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            result = &mut ctrl_c => return result.wrap_err("cannot listen for Ctrl-C"),
            _ = terminate.recv() => return Ok(()),
            _ = tick.tick() => {
                if let Some(status) = chain.anvil.child_mut().try_wait()? {
                    bail!("anvil exited on its own ({status}); see {}", log.display());
                }
            }
        }
    }
}

/// What `dexec devnet` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    chain_id: u64,
    rpc_url: String,
    /// Seconds between blocks, 0 for automine.
    block_time: u64,
    /// True if the chain was resumed from saved state rather than deployed now.
    restored: bool,
    chain_file: PathBuf,
    /// The market's URL, when one is served.
    market_url: Option<String>,
    /// The store's URL, when one is served.
    store_url: Option<String>,
    state_file: PathBuf,
    anvil_log: PathBuf,
    /// Hub owner and token minter (dev account 0).
    owner: Address,
    deployment: Deployment,
    accounts: Vec<AccountInfo>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountInfo {
    address: Address,
    /// anvil's well-known test key.
    private_key: String,
    /// Token balance of the wallet, in nRLC.
    token_balance_nrlc: String,
    /// Free hub balance, in nRLC.
    hub_balance_nrlc: String,
}

impl Summary {
    async fn read(
        chain: &LocalChain,
        args: &Args,
        paths: &Paths,
        deployment: Deployment,
        restored: bool,
        market_url: Option<String>,
        store_url: Option<String>,
    ) -> eyre::Result<Self> {
        let token = deployment.token(&chain.provider);
        let hub = deployment.hub(&chain.provider);
        let mut accounts = Vec::new();
        for signer in chain.signers.iter().take(args.accounts as usize) {
            let address = signer.address();
            let token_balance = token.balanceOf(address).call().await?;
            let hub_balance = hub.balanceOf(address).call().await?;
            accounts.push(AccountInfo {
                address,
                private_key: private_key_hex(signer),
                token_balance_nrlc: token_balance.to_string(),
                hub_balance_nrlc: hub_balance.to_string(),
            });
        }
        Ok(Self {
            chain_id: chain.chain_id,
            rpc_url: chain.rpc_url(),
            block_time: args.block_time,
            restored,
            chain_file: paths.chain_file.clone(),
            market_url,
            store_url,
            state_file: paths.state.clone(),
            anvil_log: paths.log.clone(),
            owner: chain.address(0),
            deployment,
            accounts,
        })
    }

    fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let blocks = match self.block_time {
            0 => "a block per transaction".to_owned(),
            s => format!("a block every {s} s"),
        };
        let origin = if self.restored {
            "resumed from saved state"
        } else {
            "deployed now"
        };
        let d = &self.deployment;
        // writing to a String cannot fail
        let _ = writeln!(
            out,
            "dexec devnet: chain {} at {} ({blocks})",
            self.chain_id, self.rpc_url
        );
        let _ = writeln!(out, "\n  {:<22} address", "contract");
        for (name, address) in [
            ("hub", d.hub),
            ("token (dRLC, 9 dec.)", d.token),
            ("app registry", d.app_registry),
            ("dataset registry", d.dataset_registry),
            ("workerpool registry", d.workerpool_registry),
            ("hub execution module", d.poco_module),
        ] {
            let _ = writeln!(out, "  {name:<22} {address}");
        }
        let _ = writeln!(out, "  {:<22} {} ({origin})", "hub owner", self.owner);
        let _ = writeln!(
            out,
            "\n  {:<22} {}",
            "chain file",
            self.chain_file.display()
        );
        if let Some(url) = &self.market_url {
            let _ = writeln!(out, "  {:<22} {url}", "market");
        }
        if let Some(url) = &self.store_url {
            let _ = writeln!(out, "  {:<22} {url}", "store");
        }
        let _ = writeln!(out, "  {:<22} {}", "saved state", self.state_file.display());
        let _ = writeln!(out, "  {:<22} {}", "anvil log", self.anvil_log.display());
        let _ = writeln!(
            out,
            "\n  dev accounts (anvil's well-known test keys: never use them on a real chain)"
        );
        let _ = writeln!(
            out,
            "  {:<3} {:<42}  {:<66}  {:>16}  {:>16}",
            "#", "address", "private key", "wallet", "on the hub"
        );
        for (i, account) in self.accounts.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {i:<3} {:<42}  {:<66}  {:>16}  {:>16}",
                account.address.to_string(),
                account.private_key,
                rlc(&account.token_balance_nrlc),
                rlc(&account.hub_balance_nrlc),
            );
        }
        let _ = writeln!(
            out,
            "\nCtrl-C stops the chain and saves it; the next `dexec devnet` resumes it \
             (`--reset` starts over)."
        );
        out
    }
}

/// An nRLC decimal string as `1.5 RLC` (or as given, if it is not a u128).
fn rlc(nrlc: &str) -> String {
    nrlc.parse::<U256>()
        .ok()
        .and_then(|v| Nrlc::try_from(v).ok())
        .map_or_else(|| format!("{nrlc} nRLC"), |n| n.to_string())
}

fn private_key_hex(signer: &PrivateKeySigner) -> String {
    alloy::hex::encode_prefixed(signer.to_bytes())
}

/// The process listening on TCP `port` (IPv4 or IPv6) and its command line, from `/proc`
/// (Linux; `None` elsewhere, or when the listener belongs to another user).
fn listener_of(port: u16) -> Option<(u32, String)> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|table| {
            let text = std::fs::read_to_string(table).ok()?;
            text.lines().skip(1).find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let local_port = fields.get(1)?.rsplit(':').next()?;
                let listening = fields.get(3) == Some(&"0A");
                (listening && u16::from_str_radix(local_port, 16).ok()? == port)
                    .then(|| fields.get(9).map(|inode| format!("socket:[{inode}]")))?
            })
        })?;
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let holds = std::fs::read_dir(entry.path().join("fd"))
                .ok()?
                .flatten()
                .any(|fd| {
                    std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == inode.as_str())
                });
            holds.then(|| {
                let command = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let command = String::from_utf8_lossy(&command).replace('\0', " ");
                (pid, command.trim().to_owned())
            })
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod listener_tests {
    #[test]
    fn the_process_on_a_port_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (pid, _) = super::listener_of(port).expect("our own listener");
        assert_eq!(pid, std::process::id());
        drop(listener);
        assert!(super::listener_of(port).is_none());
    }
}
