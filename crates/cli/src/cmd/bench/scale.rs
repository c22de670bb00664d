//! `dexec bench scale`: bag throughput as worker hosts are added (network namespaces on this
//! machine, two workers each), and the scheduler's CPU per task: where one scheduler
//! saturates.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::providers::Provider;
use dexec_sdk::primitives::RequestOrder;
use dexec_sdk::MatchInput;
use eyre::{eyre, WrapErr};
use serde::Serialize;

use super::hosts::{run_on_hosts, System, Topology};
use crate::cluster::random_salt;

/// Long help of `dexec bench scale`.
pub const LONG_ABOUT: &str = "\
Measure how one scheduler's pool grows with its machines: for each count of worker hosts in
--hosts-list (network namespaces on this machine, joined by a bridge: scripts/hosts.sh; needs
root), start the whole system as separate processes (devnet, market and store on the core
host, the scheduler on its own host, --workers-per-host workers with --worker-slots slots on
each worker host), match one bag of --bag trust-1 hello tasks, and wait until the last is
settled (the scheduler pushes results in batches).

  throughput_tasks_per_s   tasks / (match -> last task finalized on chain)
  steady_tasks_per_s       the same after the first settling block
  scheduler_cpu_ms_per_task  the scheduler process's CPU time (user + system) over the bag,
                           per task

All hosts share this machine's cores: the curve shows where the scheduler (or the machine)
saturates, not what separate machines would give. Writes target/bench/scale.json.";

/// Arguments of `dexec bench scale`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Counts of worker hosts to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    hosts_list: Vec<u32>,
    /// Workers on each host.
    #[arg(long, default_value_t = 2)]
    workers_per_host: u32,
    /// Replicates each worker runs at once.
    #[arg(long, default_value_t = 4)]
    worker_slots: u32,
    /// Tasks in the bag of each measure.
    #[arg(long, default_value_t = 400)]
    bag: u64,
    /// Largest `pushResults` batch of the scheduler.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// Seconds between devnet blocks.
    #[arg(long, default_value_t = 1)]
    block_time: u64,
    /// The scheduler's PostgreSQL server (a fresh database is made on it; reached from the
    /// scheduler's host: see `dexec bench chaos --help`). Default: SQLite.
    #[arg(long, value_name = "URL")]
    scheduler_db: Option<String>,
    /// The app (a WASI module).
    #[arg(long, default_value = "apps/build/hello.wasm", value_name = "WASM")]
    app: PathBuf,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/bench/scale.json", value_name = "FILE")]
    out: PathBuf,
    /// Services' state and logs (emptied first).
    #[arg(long, default_value = "target/bench/scale-state", value_name = "DIR")]
    state_dir: PathBuf,
    /// Prefix of the network namespaces (scripts/hosts.sh PREFIX).
    #[arg(long, default_value = "dexec-scale", value_name = "PREFIX")]
    netns_prefix: String,
    /// The script that makes and removes the hosts.
    #[arg(long, default_value = "scripts/hosts.sh", value_name = "FILE")]
    hosts_script: PathBuf,
    /// Set by the run itself when it re-enters inside the core host's namespace.
    #[arg(long, hide = true)]
    inside: bool,
}

/// One measure.
#[derive(Debug, Serialize)]
struct Point {
    hosts: u32,
    workers: u32,
    slots: u32,
    tasks: u64,
    throughput_tasks_per_s: f64,
    steady_tasks_per_s: f64,
    scheduler_cpu_ms_per_task: f64,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    points: Vec<Point>,
    anchors: BTreeMap<&'static str, &'static str>,
    targets: BTreeMap<&'static str, &'static str>,
    notes: Vec<String>,
}

/// Run `dexec bench scale`.
pub async fn run(args: Args) -> eyre::Result<()> {
    let wasm = std::fs::read(&args.app).wrap_err_with(|| {
        format!(
            "cannot read {} (build the apps: `make apps`)",
            args.app.display()
        )
    })?;
    let most = args.hosts_list.iter().copied().max().unwrap_or(0);
    if most == 0 || args.hosts_list.contains(&0) {
        return Err(eyre!("--hosts-list counts worker hosts: 1 or more each"));
    }
    if !args.inside {
        // the scheduler's host, then the workers'
        return run_on_hosts(&args.hosts_script, &args.netns_prefix, most + 1);
    }
    let mut points = Vec::new();
    for &hosts in &args.hosts_list {
        let point = measure(&args, hosts, wasm.clone()).await?;
        eprintln!(
            "{hosts} worker host(s), {} workers: {:.1} tasks/s ({:.1} steady), scheduler {:.2} ms CPU per task",
            point.workers,
            point.throughput_tasks_per_s,
            point.steady_tasks_per_s,
            point.scheduler_cpu_ms_per_task
        );
        points.push(point);
    }
    crate::outln!(
        "{:>6} {:>8} {:>12} {:>12} {:>16}",
        "hosts",
        "workers",
        "tasks/s",
        "steady/s",
        "sched CPU ms/task"
    );
    for p in &points {
        crate::outln!(
            "{:>6} {:>8} {:>12.1} {:>12.1} {:>16.2}",
            p.hosts,
            p.workers,
            p.throughput_tasks_per_s,
            p.steady_tasks_per_s,
            p.scheduler_cpu_ms_per_task
        );
    }
    crate::outln!(
        "anchor: Bacalhau ~16 no-op jobs/s; target: throughput >= 500 tasks/s (make bench-e2e's figure)"
    );
    let report = Report {
        points,
        anchors: [("throughput_tasks_per_s", "Bacalhau ~16 no-op jobs/s")].into(),
        targets: [("throughput_tasks_per_s", ">= 500 (bench-e2e, one machine)")].into(),
        notes: vec![format!(
            "all hosts are network namespaces of one machine with {} cores: they share its CPU",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        )],
    };
    super::report::write_json(&args.out, &report)?;
    crate::outln!("report: {}", args.out.display());
    Ok(())
}

/// Start the system on `hosts` worker hosts, settle one bag, stop it.
async fn measure(args: &Args, hosts: u32, wasm: Vec<u8>) -> eyre::Result<Point> {
    let system = System::start(&Topology {
        hosts,
        workers_per_host: args.workers_per_host,
        worker_slots: args.worker_slots,
        block_time: args.block_time,
        scheduler_db: args.scheduler_db.clone(),
        state_dir: args.state_dir.join(format!("hosts-{hosts}")),
        netns_prefix: args.netns_prefix.clone(),
        wasm,
        scheduler_flags: vec![
            "--trust1-mode".into(),
            "batch".into(),
            "--batch-size".into(),
            args.batch_size.to_string(),
        ],
    })
    .await?;
    let outcome = async {
        let workers = hosts * args.workers_per_host;
        wait_workers(&system, workers).await?;
        let requester = &system.requester;
        let me = requester.address()?;
        let request = requester
            .sign_order(RequestOrder {
                app: system.app_order.order.app,
                appmaxprice: system.app_order.order.appprice,
                workerpool: system.pool,
                workerpoolmaxprice: system.pool_order.order.workerpoolprice,
                requester: me,
                beneficiary: me,
                volume: U256::from(args.bag),
                trust: U256::from(1),
                params: serde_json::json!({ "iexec_args": "scale" }).to_string(),
                salt: random_salt(),
                ..Default::default()
            })
            .await?;
        let pid = system
            .scheduler_pid()
            .ok_or_else(|| eyre!("the scheduler is not running"))?;
        let cpu_before = cpu_seconds(pid)?;
        let from = requester.provider().get_block_number().await?;
        let started = Instant::now();
        let matched = requester
            .match_orders(&MatchInput {
                app: system.app_order.clone(),
                dataset: None,
                workerpool: system.pool_order.clone(),
                request,
            })
            .await?;
        let (throughput, steady) = super::e2e::settle_rate(
            requester,
            from,
            started,
            matched.deal_id,
            args.bag,
            args.block_time,
        )
        .await?;
        let seconds = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid)? - cpu_before;
        Ok::<_, eyre::Report>(Point {
            hosts,
            workers,
            slots: workers * args.worker_slots,
            tasks: args.bag,
            throughput_tasks_per_s: throughput,
            steady_tasks_per_s: steady,
            scheduler_cpu_ms_per_task: cpu * 1000.0 / args.bag as f64,
            seconds,
        })
    }
    .await;
    system.stop().await;
    outcome
}

/// Wait until `workers` workers are registered and alive at the scheduler (60 s).
async fn wait_workers(system: &System, workers: u32) -> eyre::Result<()> {
    let url = format!("{}/health", system.scheduler_url());
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let alive = match http.get(&url).send().await {
            Ok(response) => response
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|health| {
                    let workers = health
                        .get("workers")
                        .or_else(|| health.get("details").and_then(|d| d.get("workers")))?;
                    workers.get("alive")?.as_u64()
                })
                .unwrap_or(0),
            Err(_) => 0,
        };
        if alive >= u64::from(workers) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(eyre!(
                "{alive} of {workers} workers registered after 60 s (see the logs in the state directory)"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// CPU time (user + system) of process `pid` so far, seconds.
fn cpu_seconds(pid: u32) -> eyre::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .wrap_err_with(|| format!("cannot read /proc/{pid}/stat"))?;
    // the command name (field 2) may hold spaces: count fields after its closing parenthesis
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| eyre!("unreadable /proc/{pid}/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name
    let ticks = |i: usize| -> eyre::Result<f64> {
        Ok(fields
            .get(i)
            .ok_or_else(|| eyre!("unreadable /proc/{pid}/stat"))?
            .parse::<f64>()?)
    };
    let per_second = rustix::param::clock_ticks_per_second() as f64;
    Ok((ticks(11)? + ticks(12)?) / per_second)
}
