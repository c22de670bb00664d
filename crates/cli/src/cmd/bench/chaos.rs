//! `dexec bench chaos`: the whole system as separate processes, on simulated hosts (network
//! namespaces), under a stream of tasks while faults are injected at random moments; then
//! the chain is checked: every task completed or was claimed with its payer refunded, none was
//! paid twice, and the hub holds exactly what its accounts add up to.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use dexec_sdk::primitives::{AppOrder, Nrlc, RequestOrder, Signed, WorkerpoolOrder};
use dexec_sdk::{Client, DealInfo, DealRef, EventFollower, HubEvent, MatchInput, TaskStatus};
use eyre::{eyre, WrapErr};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::hosts::{run_on_hosts, set_link, signal_anvil, System, Topology, APP_OWNER, REQUESTER};
use crate::cluster::random_salt;

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

/// Run `dexec bench chaos`.
pub async fn run(args: Args) -> eyre::Result<()> {
    let wasm = std::fs::read(&args.app).wrap_err_with(|| {
        format!(
            "cannot read {} (build the apps: `make apps`)",
            args.app.display()
        )
    })?;
    if args.hosts > 0 && !args.inside {
        // the scheduler's host, then the workers'
        return run_on_hosts(&args.hosts_script, &args.netns_prefix, args.hosts + 1);
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

/// The system under faults.
struct Chaos {
    system: System,
    started: Instant,
}

impl Chaos {
    async fn run(args: &Args, seed: u64, wasm: Vec<u8>) -> eyre::Result<Report> {
        let system = System::start(&Topology {
            hosts: args.hosts,
            workers_per_host: args.workers_per_host,
            worker_slots: args.worker_slots,
            block_time: args.block_time,
            scheduler_db: args.scheduler_db.clone(),
            state_dir: args.state_dir.clone(),
            netns_prefix: args.netns_prefix.clone(),
            wasm,
            scheduler_flags: Vec::new(),
        })
        .await?;
        let requester = system.requester.clone();
        let every = system.accounts.clone();
        let (app_order, pool_order, pool) = (
            system.app_order.clone(),
            system.pool_order.clone(),
            system.pool,
        );
        let mut chaos = Chaos {
            system,
            started: Instant::now(),
        };
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
        let deals = chaos.deals_of(&requester, pool, first_block).await?;
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
        chaos.system.stop().await;
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
            self.system.restart_crashed()?;
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
        if self.system.hosts > 0 {
            kinds.extend([FaultKind::CutHost, FaultKind::CutHost]);
        }
        let kind = kinds[rng.gen_range(0..kinds.len())];
        let at_s = self.started.elapsed().as_secs_f64();
        let kill = |this: &mut Self, index: usize, for_s: f64| {
            let name = this.system.services[index].name.clone();
            if busy.contains(&name) || !this.system.services[index].running() {
                return None;
            }
            this.system.services[index].kill();
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
                let index = self.system.workers[rng.gen_range(0..self.system.workers.len())];
                let for_s = rng.gen_range(1.0..10.0);
                kill(self, index, for_s)
            }
            FaultKind::KillScheduler => {
                let for_s = rng.gen_range(1.0..10.0);
                kill(self, self.system.scheduler, for_s)
            }
            FaultKind::KillMarket => {
                let for_s = rng.gen_range(1.0..10.0);
                kill(self, self.system.market, for_s)
            }
            FaultKind::KillStore => {
                let for_s = rng.gen_range(1.0..10.0);
                kill(self, self.system.store, for_s)
            }
            FaultKind::StopRpc => {
                let for_s = rng.gen_range(2.0..12.0);
                if busy.contains("rpc") {
                    None
                } else {
                    signal_anvil(&self.system.chain, rustix::process::Signal::STOP)?;
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
                let host = rng.gen_range(1..=self.system.hosts + 1);
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
                if !self.system.services[index].running() {
                    self.system.services[index].start()?;
                }
            }
            Recovery::ResumeRpc => signal_anvil(&self.system.chain, rustix::process::Signal::CONT)?,
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
            self.system.restart_crashed()?;
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
        let requester = self.system.chain.signers[REQUESTER].address();
        let app_owner = self.system.chain.signers[APP_OWNER].address();
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
            .system
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
                    self.system.services.len(),
                    self.system.services.iter().map(|s| s.starts).sum::<u32>()
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
            workers: self.system.workers.len(),
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

/// A wait drawn from an exponential law of mean `mean_s` (faults at random moments), at
/// least 0.5 s.
fn exponential(rng: &mut StdRng, mean_s: f64) -> Duration {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    Duration::from_secs_f64((-u.ln() * mean_s).max(0.5))
}
