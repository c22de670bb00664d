//! `dexec bench chaos`: the whole system as separate processes, on simulated hosts (network
//! namespaces), under a stream of tasks while faults are injected at random moments; then
//! the chain is checked: every task completed or was claimed with its payer refunded, none was
//! paid twice, and the hub holds exactly what its accounts add up to.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use dexec_sdk::primitives::{AppOrder, Nrlc, RequestOrder, Signed, WorkerpoolOrder};
use dexec_sdk::{
    AppSpec, ChainEntry, Client, DealInfo, DealRef, EventFollower, HubEvent, MatchInput,
    TaskStatus, WorkerpoolSpec,
};
use eyre::{eyre, WrapErr};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cluster::{empty_state_dir, random_salt};
use crate::cmd::devnet::deploy_and_fund;
use crate::local::{LocalChain, EXEC_WITH_PARENT_DEATH_ENV, PARENT_PID_ENV};

/// Long help of `dexec bench chaos`.
pub const LONG_ABOUT: &str = "\
Run the whole system as separate processes and break it while it works: a devnet chain, the
market and the store on one host, the scheduler on a second, workers on the others (with
--hosts N: N+2 network namespaces joined by a bridge, made by scripts/hosts.sh; needs root),
a requester matching a stream of deals (trust 1 and 3, single tasks and bags).

For --duration-secs, at random moments (seeded by --seed), one of these faults:
  kill a worker, the scheduler, the market or the store with SIGKILL (restarted seconds later)
  stop the chain's RPC node (SIGSTOP, then SIGCONT seconds later)
  cut a host off the network (its link goes down, then up again)
Then every fault is healed, the system is given --settle-secs to finish, tasks still open are
claimed past their deadline, and the chain is checked:
  every task of every deal ended COMPLETED, or FAILED (claimed) with its payer refunded
  no task was paid twice (the app owner earned its price once per completed task, the
    requester paid once per completed task and nothing for the others)
  the hub's token balance equals the sum of all accounts (kitty included)
  no service died on its own (only the faults killed them)
Prints what it did and the verdict; writes the report as JSON (--out, target/chaos/).
Exits non-zero when a check fails.";

/// Arguments of `dexec bench chaos`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// How long faults are injected, seconds (the settling and checks come after).
    #[arg(long, default_value_t = 1800, value_name = "SECONDS")]
    duration_secs: u64,
    /// Seed of the fault schedule and of the requests (printed: a run is repeated with it).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker hosts (network namespaces); 0 runs everything in this namespace on loopback
    /// (no network cuts then).
    #[arg(long, default_value_t = 4)]
    hosts: u32,
    /// Workers on each worker host (with --hosts 0: workers in all).
    #[arg(long, default_value_t = 2)]
    workers_per_host: u32,
    /// Replicates each worker runs at once.
    #[arg(long, default_value_t = 2)]
    worker_slots: u32,
    /// Mean time between two faults, seconds.
    #[arg(long, default_value_t = 20.0, value_name = "SECONDS")]
    fault_every_secs: f64,
    /// Mean time between two deals of the requester, milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    submit_every_ms: u64,
    /// The scheduler's database, as the scheduler's host reaches it (a PostgreSQL URL; a
    /// server on this machine is reached from a namespace through its Unix socket:
    /// `postgres://user@localhost:PORT/db?host=/socket/dir`). Default: SQLite in --state-dir.
    #[arg(long, value_name = "URL")]
    scheduler_db: Option<String>,
    /// Time given to the system to finish its tasks once faults stop, seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    settle_secs: u64,
    /// The app (a WASI module).
    #[arg(long, default_value = "apps/build/hello.wasm", value_name = "WASM")]
    app: PathBuf,
    /// Seconds between devnet blocks.
    #[arg(long, default_value_t = 1)]
    block_time: u64,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/chaos/chaos.json", value_name = "FILE")]
    out: PathBuf,
    /// Services' state and logs (emptied first).
    #[arg(long, default_value = "target/chaos/state", value_name = "DIR")]
    state_dir: PathBuf,
    /// Prefix of the network namespaces (scripts/hosts.sh PREFIX).
    #[arg(long, default_value = "dexec-chaos", value_name = "PREFIX")]
    netns_prefix: String,
    /// The script that makes and removes the hosts.
    #[arg(long, default_value = "scripts/hosts.sh", value_name = "FILE")]
    hosts_script: PathBuf,
    /// Set by the run itself when it re-enters inside the core host's namespace.
    #[arg(long, hide = true)]
    inside: bool,
}

/// Dev accounts by role.
const APP_OWNER: usize = 1;
const POOL_OWNER: usize = 2;
const REQUESTER: usize = 3;
const FIRST_WORKER: usize = 4;
/// Address of the core host (chain, market, store) and of host k (`10.213.0.{10+k}`), as
/// scripts/hosts.sh makes them.
const CORE_ADDRESS: &str = "10.213.0.1";
fn host_address(k: u32) -> String {
    format!("10.213.0.{}", 10 + k)
}

/// Run `dexec bench chaos`.
pub async fn run(args: Args) -> eyre::Result<()> {
    let wasm = std::fs::read(&args.app).wrap_err_with(|| {
        format!(
            "cannot read {} (build the apps: `make apps`)",
            args.app.display()
        )
    })?;
    if args.hosts > 0 && !args.inside {
        return run_on_hosts(&args);
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    eprintln!("chaos: seed {seed} (repeat with --seed {seed})");
    let report = Chaos::run(&args, seed, wasm).await?;
    super::report::write_json(&args.out, &report)?;
    crate::outln!("{}", report.summary());
    crate::outln!("report: {}", args.out.display());
    if report.passed {
        Ok(())
    } else {
        Err(eyre!(
            "chaos: {} check(s) failed (see above and {}; services' logs in {})",
            report.checks.iter().filter(|c| !c.passed).count(),
            args.out.display(),
            args.state_dir.join("logs").display()
        ))
    }
}

/// Make the hosts, run this same command inside the core host, remove the hosts.
fn run_on_hosts(args: &Args) -> eyre::Result<()> {
    let script = &args.hosts_script;
    if !script.is_file() {
        return Err(eyre!(
            "{} not found: run from the repository's root, or give --hosts-script (or --hosts 0 \
             to run everything on loopback)",
            script.display()
        ));
    }
    // the scheduler's host, then the workers' hosts
    let hosts = (args.hosts + 1).to_string();
    let up = Command::new(script)
        .args(["up", &args.netns_prefix, &hosts])
        .status()
        .wrap_err_with(|| format!("cannot run {}", script.display()))?;
    if !up.success() {
        return Err(eyre!(
            "{} up failed ({up}): simulated hosts need root and iproute2; --hosts 0 runs \
             everything on loopback",
            script.display()
        ));
    }
    let exe = std::env::current_exe().wrap_err("cannot find the dexec executable")?;
    let status = Command::new("ip")
        .args(["netns", "exec", &format!("{}-core", args.netns_prefix)])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .arg("--inside")
        .status();
    let down = Command::new(script)
        .args(["down", &args.netns_prefix])
        .status();
    let status = status.wrap_err("cannot enter the core host's namespace")?;
    if !matches!(down, Ok(s) if s.success()) {
        eprintln!(
            "chaos: warning: `{} down {}` failed; remove the namespaces by hand (ip netns list)",
            script.display(),
            args.netns_prefix
        );
    }
    if status.success() {
        Ok(())
    } else {
        Err(eyre!("chaos failed inside the core host ({status})"))
    }
}

/// A service process that faults kill and restart.
struct Service {
    name: String,
    /// The namespace it runs in (`None`: this one).
    netns: Option<String>,
    args: Vec<String>,
    log: PathBuf,
    /// Where it listens, to wait for it.
    addr: Option<String>,
    child: Option<Child>,
    starts: u32,
    /// Exits nobody caused, with their status.
    crashes: Vec<String>,
}

impl Service {
    fn start(&mut self) -> eyre::Result<()> {
        let exe = std::env::current_exe().wrap_err("cannot find the dexec executable")?;
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns]).arg(&exe);
                cmd
            }
            None => Command::new(&exe),
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .wrap_err_with(|| format!("cannot open {}", self.log.display()))?;
        // the service dies with this process, however it dies (see local.rs)
        let child = cmd
            .args(&self.args)
            .env(EXEC_WITH_PARENT_DEATH_ENV, &exe)
            .env(PARENT_PID_ENV, std::process::id().to_string())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .wrap_err_with(|| format!("cannot start the {}", self.name))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// SIGKILL, and reap.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it died on its own since the last look (recorded as a crash).
    fn crashed(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return false;
        };
        match child.try_wait() {
            Ok(Some(status)) => {
                self.crashes.push(status.to_string());
                self.child = None;
                true
            }
            _ => false,
        }
    }

    fn running(&self) -> bool {
        self.child.is_some()
    }
}

/// The kinds of faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
enum FaultKind {
    KillWorker,
    KillScheduler,
    KillMarket,
    KillStore,
    StopRpc,
    CutHost,
}

/// One injected fault.
#[derive(Debug, Clone, Serialize)]
struct Fault {
    kind: FaultKind,
    target: String,
    at_s: f64,
    for_s: f64,
}

/// What ends a fault.
enum Recovery {
    Restart(usize),
    ResumeRpc,
    Heal(u32),
}

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    passed: bool,
    detail: String,
}

/// The JSON report.
#[derive(Debug, Serialize)]
pub struct Report {
    seed: u64,
    passed: bool,
    duration_s: u64,
    hosts: u32,
    workers: usize,
    scheduler_db: &'static str,
    faults: Vec<Fault>,
    faults_by_kind: BTreeMap<FaultKind, u32>,
    kills: u32,
    deals: usize,
    tasks: usize,
    tasks_completed: usize,
    tasks_claimed: usize,
    tasks_claimed_by_this_run: usize,
    /// Tasks still open when the settling time ran out (then the chain's clock was moved).
    open_after_settling: Vec<String>,
    requests_matched: usize,
    requests_refused: u32,
    crashes: BTreeMap<String, Vec<String>>,
    settle_s: f64,
    checks: Vec<Check>,
}

impl Report {
    fn summary(&self) -> String {
        let mut out = format!(
            "chaos (seed {}): {} s of faults, {} faults ({} kills), {} deals, {} tasks: {} completed, {} claimed ({} by this run after the settling time); settled {:.0} s after the last fault\n",
            self.seed,
            self.duration_s,
            self.faults.len(),
            self.kills,
            self.deals,
            self.tasks,
            self.tasks_completed,
            self.tasks_claimed,
            self.tasks_claimed_by_this_run,
            self.settle_s
        );
        for (kind, n) in &self.faults_by_kind {
            out.push_str(&format!("  {kind:?}: {n}\n"));
        }
        for check in &self.checks {
            out.push_str(&format!(
                "  [{}] {}: {}\n",
                if check.passed { "ok" } else { "FAILED" },
                check.name,
                check.detail
            ));
        }
        out.push_str(if self.passed {
            "verdict: nothing lost"
        } else {
            "verdict: FAILED"
        });
        out
    }
}

/// The running system.
struct Chaos {
    chain: LocalChain,
    entry: ChainEntry,
    services: Vec<Service>,
    /// Index of the scheduler, market and store in `services`; workers are the rest.
    scheduler: usize,
    market: usize,
    store: usize,
    workers: Vec<usize>,
    /// The namespace prefix when on hosts.
    hosts: u32,
    started: Instant,
}

impl Chaos {
    async fn run(args: &Args, seed: u64, wasm: Vec<u8>) -> eyre::Result<Report> {
        empty_state_dir(&args.state_dir)?;
        let state = std::fs::canonicalize(&args.state_dir)?;
        std::fs::create_dir_all(state.join("logs"))?;
        let on_hosts = args.hosts > 0;
        let core = if on_hosts { CORE_ADDRESS } else { "127.0.0.1" };
        let workers = (args.workers_per_host * args.hosts.max(1)) as usize;
        let accounts = FIRST_WORKER + workers;

        // the chain, on the core host
        let port = free_port(core)?;
        let builder = dexec_contracts::anvil::anvil(None)
            .host(if on_hosts { "0.0.0.0" } else { "127.0.0.1" })
            .port(port)
            .args(["--accounts", &accounts.to_string()]);
        let chain = LocalChain::spawn(builder, None).await?;
        let deployment = deploy_and_fund(&chain, accounts).await?;
        if args.block_time > 0 {
            let _: serde_json::Value = chain
                .provider
                .raw_request("evm_setIntervalMining".into(), (args.block_time,))
                .await
                .wrap_err("cannot set the block time")?;
        }
        let rpc = format!("http://{core}:{port}");
        let store_url = format!("http://{core}:{}", free_port(core)?);
        let market_url = format!("http://{core}:{}", free_port(core)?);
        let mut file = dexec_contracts::chain_file::ChainFile::single(
            dexec_contracts::chain_file::DEVNET,
            chain.chain_id,
            &rpc,
            deployment,
        );
        for entry in file.chains.values_mut() {
            entry.market = Some(market_url.clone());
            entry.store = Some(store_url.clone());
        }
        let chain_file = state.join("chain.json");
        file.save(&chain_file)?;
        let entry = file
            .default_chain()
            .cloned()
            .ok_or_else(|| eyre!("chain.json without its chain"))?;
        eprintln!(
            "chaos: devnet {rpc} ({} s blocks), hub {}",
            args.block_time, deployment.hub
        );

        let chain_arg = chain_file.display().to_string();
        let service = |name: &str, netns: Option<String>, addr: Option<&str>, args: Vec<String>| {
            let mut all = args;
            all.extend(["--chain-file".to_owned(), chain_arg.clone()]);
            Service {
                name: name.to_owned(),
                netns,
                args: all,
                log: state.join("logs").join(format!("{name}.log")),
                addr: addr.map(str::to_owned),
                child: None,
                starts: 0,
                crashes: Vec::new(),
            }
        };
        let ns = |k: u32| on_hosts.then(|| format!("{}-h{k}", args.netns_prefix));
        let listen = |url: &str| url.trim_start_matches("http://").to_owned();
        let mut services = vec![
            service(
                "store",
                None,
                Some(&listen(&store_url)),
                strings(&[
                    "store",
                    "--listen",
                    &listen(&store_url),
                    "--dir",
                    &state.join("store").display().to_string(),
                ]),
            ),
            service(
                "market",
                None,
                Some(&listen(&market_url)),
                strings(&[
                    "market",
                    "--listen",
                    &listen(&market_url),
                    "--db",
                    &format!("sqlite://{}", state.join("market.db").display()),
                ]),
            ),
        ];
        let (store, market) = (0, 1);
        for i in [store, market] {
            services[i].start()?;
            wait_listening(&services[i]).await?;
        }
        eprintln!("chaos: store {store_url}, market {market_url}");

        // the app, the workerpool and their standing orders
        let signers = chain.signers.clone();
        let signer = |i: usize| -> PrivateKeySigner { signers[i].clone() };
        let app_owner = Client::connect(&entry, Some(signer(APP_OWNER))).await?;
        let blob = dexec_sdk::store::StoreClient::new(&store_url)?
            .put(wasm.clone())
            .await?;
        let app = app_owner
            .deploy_app(&AppSpec {
                name: "hello".into(),
                app_type: "WASM".into(),
                multiaddr: blob.url.to_string(),
                checksum: B256::from_slice(&Sha256::digest(&wasm)),
                mrenclave: Default::default(),
            })
            .await?;
        let pool_owner = Client::connect(&entry, Some(signer(POOL_OWNER))).await?;
        let pool = pool_owner
            .deploy_workerpool(&WorkerpoolSpec {
                description: "chaos workerpool".into(),
            })
            .await?;
        let app_order = app_owner
            .sign_order(AppOrder {
                app: app.address,
                appprice: Nrlc::from_rlc(1).to_u256(),
                volume: U256::from(1_000_000),
                salt: random_salt(),
                ..Default::default()
            })
            .await?;
        let pool_order = pool_owner
            .sign_order(WorkerpoolOrder {
                workerpool: pool.address,
                workerpoolprice: Nrlc::from_rlc(2).to_u256(),
                volume: U256::from(1_000_000),
                trust: U256::from(3),
                salt: random_salt(),
                ..Default::default()
            })
            .await?;

        // the scheduler on host 1, the workers on hosts 2 …
        let scheduler_listen = if on_hosts {
            format!("{}:8800", host_address(1))
        } else {
            format!("127.0.0.1:{}", free_port("127.0.0.1")?)
        };
        let scheduler_db = match &args.scheduler_db {
            Some(url) => fresh_database(url).await?,
            None => format!("sqlite://{}?mode=rwc", state.join("scheduler.db").display()),
        };
        services.push(service(
            "scheduler",
            ns(1),
            Some(&scheduler_listen),
            strings(&[
                "scheduler",
                "--dev-account",
                &POOL_OWNER.to_string(),
                "--workerpool",
                &pool.address.to_string(),
                "--db",
                &scheduler_db,
                "--listen",
                &scheduler_listen,
                "--store-url",
                &store_url,
                "--market",
                &market_url,
                "--heartbeat-interval-ms",
                "1000",
                "--lost-after-ms",
                "6000",
                "--replicate-timeout-secs",
                "60",
                "--log-format",
                "json",
            ]),
        ));
        let scheduler = services.len() - 1;
        let mut worker_ids = Vec::new();
        for n in 0..workers {
            let host = 2 + n as u32 / args.workers_per_host;
            let name = format!("worker-{n}");
            services.push(service(
                &name,
                ns(host),
                None,
                strings(&[
                    "worker",
                    "--dev-account",
                    &(FIRST_WORKER + n).to_string(),
                    "--scheduler-url",
                    &format!("http://{scheduler_listen}"),
                    "--work-dir",
                    &state.join(&name).display().to_string(),
                    "--max-concurrent",
                    &args.worker_slots.to_string(),
                    "--name",
                    &name,
                    "--log-format",
                    "json",
                ]),
            ));
            worker_ids.push(services.len() - 1);
        }
        services[scheduler].start()?;
        wait_listening(&services[scheduler]).await?;
        for &w in &worker_ids {
            services[w].start()?;
        }
        eprintln!(
            "chaos: scheduler {} ({}), {workers} workers{}",
            scheduler_listen,
            if args.scheduler_db.is_some() {
                "on the given database"
            } else {
                "on SQLite"
            },
            if on_hosts {
                format!(
                    " on {} hosts ({} per host)",
                    args.hosts, args.workers_per_host
                )
            } else {
                " on loopback".to_owned()
            }
        );

        let mut chaos = Chaos {
            chain,
            entry,
            services,
            scheduler,
            market,
            store,
            workers: worker_ids,
            hosts: args.hosts,
            started: Instant::now(),
        };
        let requester = Client::connect(&chaos.entry, Some(signer(REQUESTER))).await?;
        let every: Vec<Address> = (0..accounts)
            .map(|i| chaos.chain.signers[i].address())
            .chain([Address::ZERO])
            .collect();
        let before = Ledger::read(&requester, &every).await?;
        let first_block = requester.provider().get_block_number().await?;

        // the requester's stream and the faults, for the duration
        let submitted = Arc::new(Mutex::new(Submitted::default()));
        let stop_at = Instant::now() + Duration::from_secs(args.duration_secs);
        let submitter = tokio::spawn(submit(
            requester.clone(),
            app_order,
            pool_order,
            StdRng::seed_from_u64(seed.wrapping_add(1)),
            Duration::from_millis(args.submit_every_ms),
            stop_at,
            submitted.clone(),
        ));
        let faults = chaos
            .inject(&mut StdRng::seed_from_u64(seed), args, stop_at)
            .await?;
        let _ = submitter.await;
        let (matched, refused) = submitted
            .lock()
            .map(|s| (s.deals.len(), s.refused))
            .unwrap_or_default();
        eprintln!(
            "chaos: faults over ({} injected); every service runs again; waiting for the tasks",
            faults.len()
        );

        // settle, then claim what is left past its deadline
        let settling = Instant::now();
        let deals = chaos
            .deals_of(&requester, pool.address, first_block)
            .await?;
        let settled = chaos
            .settle(&requester, &deals, Duration::from_secs(args.settle_secs))
            .await?;
        let settle_s = settling.elapsed().as_secs_f64();
        let claimed_by_us = if settled.is_empty() {
            0
        } else {
            chaos.expire(&requester, &deals).await?
        };
        let after = Ledger::read(&requester, &every).await?;
        let outcome = Outcome {
            deals,
            faults,
            matched,
            refused,
            before,
            after,
            settle_s,
            claimed_by_us,
            open_after_settling: settled,
        };
        let report = chaos.check(&requester, args, seed, outcome).await?;
        chaos.stop();
        Ok(report)
    }

    /// Inject faults until `stop_at`, then heal everything; what was done.
    async fn inject(
        &mut self,
        rng: &mut StdRng,
        args: &Args,
        stop_at: Instant,
    ) -> eyre::Result<Vec<Fault>> {
        let mut faults = Vec::new();
        let mut pending: Vec<(Instant, Recovery, String)> = Vec::new();
        let mut next = Instant::now() + exponential(rng, args.fault_every_secs);
        let mut last_report = Instant::now();
        loop {
            let now = Instant::now();
            // faults whose time is over
            let (due, later): (Vec<_>, Vec<_>) =
                pending.into_iter().partition(|(at, _, _)| *at <= now);
            pending = later;
            for (_, recovery, _) in due {
                self.recover(recovery).await?;
            }
            if now >= stop_at && pending.is_empty() {
                break;
            }
            // services that died on their own come back at once
            for service in &mut self.services {
                if service.crashed() {
                    eprintln!(
                        "chaos: the {} died on its own ({}); restarting it (see {})",
                        service.name,
                        service.crashes.last().map(String::as_str).unwrap_or(""),
                        service.log.display()
                    );
                    service.start()?;
                }
            }
            if now < stop_at && now >= next {
                let busy: HashSet<String> = pending.iter().map(|(_, _, t)| t.clone()).collect();
                if let Some((fault, recovery)) = self.pick(rng, &busy)? {
                    eprintln!(
                        "chaos: {:>6.1} s  {:?} {} for {:.1} s",
                        fault.at_s, fault.kind, fault.target, fault.for_s
                    );
                    pending.push((
                        now + Duration::from_secs_f64(fault.for_s),
                        recovery,
                        fault.target.clone(),
                    ));
                    faults.push(fault);
                }
                next = now + exponential(rng, args.fault_every_secs);
            }
            if last_report.elapsed() > Duration::from_secs(60) && now < stop_at {
                last_report = Instant::now();
                eprintln!(
                    "chaos: {:.0} s of {} s, {} faults so far",
                    self.started.elapsed().as_secs_f64(),
                    args.duration_secs,
                    faults.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(faults)
    }

    /// Choose and apply a fault on a target not already under one.
    fn pick(
        &mut self,
        rng: &mut StdRng,
        busy: &HashSet<String>,
    ) -> eyre::Result<Option<(Fault, Recovery)>> {
        let mut kinds = vec![
            FaultKind::KillWorker,
            FaultKind::KillWorker,
            FaultKind::KillWorker,
            FaultKind::KillScheduler,
            FaultKind::KillMarket,
            FaultKind::KillStore,
            FaultKind::StopRpc,
        ];
        if self.hosts > 0 {
            kinds.extend([FaultKind::CutHost, FaultKind::CutHost]);
        }
        let kind = kinds[rng.gen_range(0..kinds.len())];
        let at_s = self.started.elapsed().as_secs_f64();
        let kill = |this: &mut Self, index: usize, for_s: f64| {
            let name = this.services[index].name.clone();
            if busy.contains(&name) || !this.services[index].running() {
                return None;
            }
            this.services[index].kill();
            Some((
                Fault {
                    kind,
                    target: name,
                    at_s,
                    for_s,
                },
                Recovery::Restart(index),
            ))
        };
        let chosen = match kind {
            FaultKind::KillWorker => {
                let index = self.workers[rng.gen_range(0..self.workers.len())];
                let for_s = rng.gen_range(1.0..10.0);
                kill(self, index, for_s)
            }
            FaultKind::KillScheduler => {
                let for_s = rng.gen_range(1.0..10.0);
                kill(self, self.scheduler, for_s)
            }
            FaultKind::KillMarket => {
                let for_s = rng.gen_range(1.0..10.0);
                kill(self, self.market, for_s)
            }
            FaultKind::KillStore => {
                let for_s = rng.gen_range(1.0..10.0);
                kill(self, self.store, for_s)
            }
            FaultKind::StopRpc => {
                let for_s = rng.gen_range(2.0..12.0);
                if busy.contains("rpc") {
                    None
                } else {
                    signal_anvil(&self.chain, rustix::process::Signal::STOP)?;
                    Some((
                        Fault {
                            kind,
                            target: "rpc".into(),
                            at_s,
                            for_s,
                        },
                        Recovery::ResumeRpc,
                    ))
                }
            }
            FaultKind::CutHost => {
                // host 1 is the scheduler's, 2 … the workers'
                let host = rng.gen_range(1..=self.hosts + 1);
                let for_s = rng.gen_range(3.0..20.0);
                let target = format!("host-{host}");
                if busy.contains(&target) {
                    None
                } else {
                    set_link(host, false)?;
                    Some((
                        Fault {
                            kind,
                            target,
                            at_s,
                            for_s,
                        },
                        Recovery::Heal(host),
                    ))
                }
            }
        };
        Ok(chosen)
    }

    async fn recover(&mut self, recovery: Recovery) -> eyre::Result<()> {
        match recovery {
            Recovery::Restart(index) => {
                if !self.services[index].running() {
                    self.services[index].start()?;
                }
            }
            Recovery::ResumeRpc => signal_anvil(&self.chain, rustix::process::Signal::CONT)?,
            Recovery::Heal(host) => set_link(host, true)?,
        }
        Ok(())
    }

    /// Every deal of `pool` matched since `from_block`, read from the chain's events (the
    /// requester's own record may miss a deal whose receipt it never saw).
    async fn deals_of(
        &self,
        client: &Client,
        pool: Address,
        from_block: u64,
    ) -> eyre::Result<Vec<DealInfo>> {
        let mut follower = EventFollower::new(client.clone(), from_block);
        let head = client.provider().get_block_number().await?;
        let mut deals = Vec::new();
        while follower.next_block() <= head {
            for log in follower.poll().await? {
                if let HubEvent::DealCreated { deal_id, deal, .. } = &log.event {
                    if deal.workerpool == pool {
                        deals.push(client.deal(*deal_id).await?);
                    }
                }
            }
        }
        Ok(deals)
    }

    /// Wait until every task is final (or `limit` passed); the tasks still open.
    async fn settle(
        &mut self,
        client: &Client,
        deals: &[DealInfo],
        limit: Duration,
    ) -> eyre::Result<Vec<String>> {
        let deadline = Instant::now() + limit;
        let mut last = Instant::now();
        loop {
            let open = open_tasks(client, deals).await?;
            if open.is_empty() {
                return Ok(Vec::new());
            }
            if Instant::now() > deadline {
                eprintln!(
                    "chaos: {} task(s) still open after {} s of settling",
                    open.len(),
                    limit.as_secs()
                );
                let mut described = Vec::new();
                for (deal, index) in open {
                    let task = client.task(&deal, index).await?;
                    described.push(format!("{} {:?}", task.task_id, task.status));
                }
                return Ok(described);
            }
            if last.elapsed() > Duration::from_secs(15) {
                last = Instant::now();
                eprintln!("chaos: {} task(s) open", open.len());
            }
            for service in &mut self.services {
                if service.crashed() {
                    service.start()?;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Let the chain's clock run out for what is still open, as it would for a pool that is
    /// gone: first past every reveal deadline (the scheduler finalizes with the reveals it has,
    /// or reopens), then past every final deadline (the scheduler claims, the payer is
    /// refunded); the scheduler gets a minute after each step, and this run claims what is
    /// left. Returns how many tasks this run claimed.
    async fn expire(&mut self, client: &Client, deals: &[DealInfo]) -> eyre::Result<usize> {
        let timeref = deals
            .iter()
            .map(|d| u64::from(d.deal.timeref))
            .max()
            .unwrap_or_default();
        advance_time(client, 2 * timeref + 10).await?;
        eprintln!("chaos: the chain moved past the reveal deadlines");
        if self
            .settle(client, deals, Duration::from_secs(60))
            .await?
            .is_empty()
        {
            return Ok(0);
        }
        let latest = deals
            .iter()
            .map(|d| d.deal.final_deadline())
            .max()
            .unwrap_or_default();
        let now = client
            .provider()
            .get_block(alloy::eips::BlockNumberOrTag::Latest.into())
            .await?
            .map(|b| b.header.timestamp)
            .unwrap_or_default();
        advance_time(client, latest.saturating_sub(now) + 10).await?;
        eprintln!("chaos: the chain moved past the final deadlines");
        if self
            .settle(client, deals, Duration::from_secs(60))
            .await?
            .is_empty()
        {
            return Ok(0);
        }
        let mut claimed = 0;
        for (deal, index) in open_tasks(client, deals).await? {
            let task = DealRef::from(&deal).task(index)?;
            client
                .claim(&task)
                .await
                .wrap_err_with(|| format!("cannot claim task {index} of {}", deal.deal_id))?;
            claimed += 1;
        }
        Ok(claimed)
    }

    /// Check the run's outcome on chain; the report.
    async fn check(
        &self,
        client: &Client,
        args: &Args,
        seed: u64,
        outcome: Outcome,
    ) -> eyre::Result<Report> {
        let Outcome {
            deals,
            faults,
            matched,
            refused,
            before,
            after,
            settle_s,
            claimed_by_us,
            open_after_settling,
        } = outcome;
        let deals = &deals[..];
        let (before, after) = (&before, &after);
        let mut checks = Vec::new();
        let (mut completed, mut claimed, mut other) = (0usize, 0usize, Vec::new());
        let (mut paid, mut app_earned) = (0u128, 0u128);
        let mut finalized = HashSet::new();
        for deal in deals {
            for index in deal.deal.task_indices() {
                let task = client.task(deal, index).await?;
                match task.status {
                    TaskStatus::Completed => {
                        completed += 1;
                        paid += deal.deal.app_price
                            + deal.deal.dataset_price
                            + deal.deal.workerpool_price;
                        app_earned += deal.deal.app_price;
                        finalized.insert(task.task_id);
                    }
                    TaskStatus::Failed => claimed += 1,
                    status => other.push(format!("{} {status:?}", task.task_id)),
                }
            }
        }
        let tasks: usize = deals.iter().map(|d| d.tasks.len()).sum();
        checks.push(Check {
            name: "every task completed or claimed",
            passed: other.is_empty() && completed + claimed == tasks,
            detail: if other.is_empty() {
                format!("{completed} completed + {claimed} claimed = {tasks} tasks")
            } else {
                format!("{} task(s) neither: {}", other.len(), other.join(", "))
            },
        });
        let requester = self.chain.signers[REQUESTER].address();
        let app_owner = self.chain.signers[APP_OWNER].address();
        let spent = before.held(requester) - after.held(requester);
        checks.push(Check {
            name: "the requester paid once per completed task, and was refunded the rest",
            passed: spent == paid && after.locked(requester) == 0,
            detail: format!(
                "spent {} for {completed} completed tasks (expected {}), {} still locked",
                Nrlc(spent),
                Nrlc(paid),
                Nrlc(after.locked(requester))
            ),
        });
        let earned = after.held(app_owner) - before.held(app_owner);
        checks.push(Check {
            name: "no task paid twice (the app owner earned its price once per completed task)",
            passed: earned == app_earned,
            detail: format!(
                "app owner earned {} (expected {})",
                Nrlc(earned),
                Nrlc(app_earned)
            ),
        });
        checks.push(Check {
            name: "the hub's token balance equals the sum of all accounts",
            passed: after.token_balance == after.total() && before.token_balance == before.total(),
            detail: format!(
                "hub holds {}, accounts (kitty included) add up to {}",
                Nrlc(after.token_balance),
                Nrlc(after.total())
            ),
        });
        let crashes: BTreeMap<String, Vec<String>> = self
            .services
            .iter()
            .filter(|s| !s.crashes.is_empty())
            .map(|s| (s.name.clone(), s.crashes.clone()))
            .collect();
        checks.push(Check {
            name: "no service died on its own",
            passed: crashes.is_empty(),
            detail: if crashes.is_empty() {
                format!(
                    "{} services, {} starts",
                    self.services.len(),
                    self.services.iter().map(|s| s.starts).sum::<u32>()
                )
            } else {
                format!("{crashes:?}")
            },
        });
        let mut faults_by_kind = BTreeMap::new();
        for fault in &faults {
            *faults_by_kind.entry(fault.kind).or_insert(0) += 1;
        }
        let kills = faults
            .iter()
            .filter(|f| !matches!(f.kind, FaultKind::StopRpc | FaultKind::CutHost))
            .count() as u32;
        Ok(Report {
            seed,
            passed: checks.iter().all(|c| c.passed),
            duration_s: args.duration_secs,
            hosts: args.hosts,
            workers: self.workers.len(),
            scheduler_db: if args
                .scheduler_db
                .as_deref()
                .is_some_and(|d| d.starts_with("postgres"))
            {
                "postgresql"
            } else {
                "sqlite"
            },
            faults,
            faults_by_kind,
            kills,
            deals: deals.len(),
            tasks,
            tasks_completed: completed,
            tasks_claimed: claimed,
            tasks_claimed_by_this_run: claimed_by_us,
            open_after_settling,
            requests_matched: matched,
            requests_refused: refused,
            crashes,
            settle_s,
            checks,
        })
    }

    fn stop(mut self) {
        for service in self.services.iter_mut().rev() {
            service.kill();
        }
        // a stopped anvil cannot be stopped again
        let _ = signal_anvil(&self.chain, rustix::process::Signal::CONT);
    }
}

/// What a run did, for the checks.
struct Outcome {
    deals: Vec<DealInfo>,
    faults: Vec<Fault>,
    matched: usize,
    refused: u32,
    before: Ledger,
    after: Ledger,
    settle_s: f64,
    claimed_by_us: usize,
    open_after_settling: Vec<String>,
}

/// What the requester signed, matched or was refused.
#[derive(Default)]
struct Submitted {
    deals: Vec<B256>,
    refused: u32,
}

/// The requester's stream: a deal every `every` (jittered) until `stop_at`: trust 1 or 3,
/// one task or a bag of 2 to 5.
async fn submit(
    requester: Client,
    app_order: Signed<AppOrder>,
    pool_order: Signed<WorkerpoolOrder>,
    mut rng: StdRng,
    every: Duration,
    stop_at: Instant,
    submitted: Arc<Mutex<Submitted>>,
) {
    let Ok(me) = requester.address() else { return };
    // on a schedule: a slow match (the node stopped) delays the next ones, not the stream
    let mut next = tokio::time::Instant::now();
    while Instant::now() < stop_at {
        next += every.mul_f64(rng.gen_range(0.5..1.5));
        tokio::time::sleep_until(next).await;
        let trust: u64 = if rng.gen_bool(0.6) { 1 } else { 3 };
        let volume: u64 = if rng.gen_bool(0.7) {
            1
        } else {
            rng.gen_range(2..=5)
        };
        let matched = async {
            let request = requester
                .sign_order(RequestOrder {
                    app: app_order.order.app,
                    appmaxprice: app_order.order.appprice,
                    workerpool: pool_order.order.workerpool,
                    workerpoolmaxprice: pool_order.order.workerpoolprice,
                    requester: me,
                    beneficiary: me,
                    volume: U256::from(volume),
                    trust: U256::from(trust),
                    params: serde_json::json!({ "iexec_args": "chaos" }).to_string(),
                    salt: random_salt(),
                    ..Default::default()
                })
                .await?;
            requester
                .match_orders(&MatchInput {
                    app: app_order.clone(),
                    dataset: None,
                    workerpool: pool_order.clone(),
                    request,
                })
                .await
        };
        let outcome = tokio::time::timeout(Duration::from_secs(60), matched).await;
        let Ok(mut submitted) = submitted.lock() else {
            return;
        };
        match outcome {
            Ok(Ok(m)) => submitted.deals.push(m.deal_id),
            Ok(Err(e)) => {
                submitted.refused += 1;
                eprintln!("chaos: a request was not matched (it is not retried; the chain decides what exists): {e}");
            }
            Err(_) => {
                submitted.refused += 1;
                eprintln!("chaos: a match got no answer within 60 s");
            }
        }
    }
}

/// Move the chain's clock `seconds` ahead and mine a block.
async fn advance_time(client: &Client, seconds: u64) -> eyre::Result<()> {
    let _: serde_json::Value = client
        .provider()
        .raw_request("evm_increaseTime".into(), (seconds,))
        .await?;
    let _: serde_json::Value = client.provider().raw_request("evm_mine".into(), ()).await?;
    Ok(())
}

/// The tasks of `deals` not final yet.
async fn open_tasks(client: &Client, deals: &[DealInfo]) -> eyre::Result<Vec<(DealInfo, u64)>> {
    let mut open = Vec::new();
    for deal in deals {
        for index in deal.deal.task_indices() {
            let task = client.task(deal, index).await?;
            if !matches!(task.status, TaskStatus::Completed | TaskStatus::Failed) {
                open.push((deal.clone(), index));
            }
        }
    }
    Ok(open)
}

/// Every account's hub balance at one moment, and what the hub holds in tokens.
struct Ledger {
    accounts: BTreeMap<Address, (u128, u128)>,
    token_balance: u128,
}

impl Ledger {
    async fn read(client: &Client, accounts: &[Address]) -> eyre::Result<Self> {
        let deployment = client.deployment();
        let block = client.provider().get_block_number().await?;
        let hub = deployment.hub(client.provider());
        let mut out = BTreeMap::new();
        for who in accounts {
            let account = hub
                .viewAccount(*who)
                .block(block.into())
                .call()
                .await
                .map_err(dexec_contracts::Error::from)?;
            out.insert(*who, (u128_of(account.balance)?, u128_of(account.locked)?));
        }
        let token_balance = deployment
            .token(client.provider())
            .balanceOf(deployment.hub)
            .block(block.into())
            .call()
            .await
            .map_err(dexec_contracts::Error::from)?;
        Ok(Self {
            accounts: out,
            token_balance: u128_of(token_balance)?,
        })
    }

    fn held(&self, who: Address) -> u128 {
        self.accounts.get(&who).map(|(f, l)| f + l).unwrap_or(0)
    }

    fn locked(&self, who: Address) -> u128 {
        self.accounts.get(&who).map(|(_, l)| *l).unwrap_or(0)
    }

    fn total(&self) -> u128 {
        self.accounts.values().map(|(f, l)| f + l).sum()
    }
}

fn u128_of(value: U256) -> eyre::Result<u128> {
    u128::try_from(value).map_err(|_| eyre!("a balance beyond 2^128 nRLC"))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// A database of its own on the PostgreSQL server of `url` (the scheduler resumes from the
/// block cursor its database holds: a previous run's would be on another chain); its URL.
async fn fresh_database(url: &str) -> eyre::Result<String> {
    use sqlx::Connection;
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (server, _) = base
        .rsplit_once('/')
        .filter(|(server, _)| server.contains("://") && !server.ends_with('/'))
        .ok_or_else(|| eyre!("--scheduler-db {url}: a PostgreSQL URL ends with /<database>"))?;
    let name = format!("dexec_chaos_{}", rand::random::<u32>());
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .wrap_err_with(|| format!("cannot connect to PostgreSQL at {url}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .wrap_err("cannot create the scheduler's database")?;
    Ok(if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    })
}

/// A port free on `host` now.
fn free_port(host: &str) -> eyre::Result<u16> {
    Ok(std::net::TcpListener::bind((host, 0))?.local_addr()?.port())
}

/// Wait until the service accepts connections (30 s).
async fn wait_listening(service: &Service) -> eyre::Result<()> {
    let Some(addr) = &service.addr else {
        return Ok(());
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr.as_str()).await.is_err() {
        if Instant::now() > deadline {
            return Err(eyre!(
                "the {} never listened on {addr} (see {})",
                service.name,
                service.log.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn signal_anvil(chain: &LocalChain, signal: rustix::process::Signal) -> eyre::Result<()> {
    let pid = rustix::process::Pid::from_raw(chain.anvil.child().id() as i32)
        .ok_or_else(|| eyre!("anvil has no pid"))?;
    rustix::process::kill_process(pid, signal).wrap_err("cannot signal anvil")?;
    Ok(())
}

/// Bring host `k`'s link on the core's bridge down (cut) or up (heal); this process runs in
/// the core host's namespace, where the links are.
fn set_link(k: u32, up: bool) -> eyre::Result<()> {
    let status = Command::new("ip")
        .args([
            "link",
            "set",
            &format!("h{k}"),
            if up { "up" } else { "down" },
        ])
        .status()
        .wrap_err("cannot run ip")?;
    if status.success() {
        Ok(())
    } else {
        Err(eyre!("ip link set h{k} failed ({status})"))
    }
}

/// A wait drawn from an exponential law of mean `mean_s` (faults at random moments), at
/// least 0.5 s.
fn exponential(rng: &mut StdRng, mean_s: f64) -> Duration {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    Duration::from_secs_f64((-u.ln() * mean_s).max(0.5))
}
