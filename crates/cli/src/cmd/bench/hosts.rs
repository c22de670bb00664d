//! The whole system as separate processes on simulated hosts (network namespaces made by
//! scripts/hosts.sh), for `dexec bench chaos` and `dexec bench scale`: a devnet chain, the
//! market and the store on the core host, the scheduler on host 1, workers on hosts 2 …
//! (or everything on loopback with no hosts).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use dexec_sdk::primitives::{AppOrder, Nrlc, Signed, WorkerpoolOrder};
use dexec_sdk::{AppSpec, Client, WorkerpoolSpec};
use eyre::{eyre, WrapErr};
use sha2::{Digest, Sha256};

use crate::cluster::{empty_state_dir, random_salt};
use crate::cmd::devnet::deploy_and_fund;
use crate::local::{LocalChain, EXEC_WITH_PARENT_DEATH_ENV, PARENT_PID_ENV};

/// Dev accounts by role.
pub(super) const APP_OWNER: usize = 1;
pub(super) const POOL_OWNER: usize = 2;
pub(super) const REQUESTER: usize = 3;
pub(super) const FIRST_WORKER: usize = 4;
/// Address of the core host (chain, market, store) and of host k (`10.213.0.{10+k}`), as
/// scripts/hosts.sh makes them.
const CORE_ADDRESS: &str = "10.213.0.1";
fn host_address(k: u32) -> String {
    format!("10.213.0.{}", 10 + k)
}

/// What to start.
pub(super) struct Topology {
    /// Worker hosts (0: everything on loopback in this namespace).
    pub hosts: u32,
    /// Workers on each worker host (with no hosts: workers in all).
    pub workers_per_host: u32,
    /// Replicates each worker runs at once.
    pub worker_slots: u32,
    /// Seconds between blocks.
    pub block_time: u64,
    /// The scheduler's PostgreSQL server (a fresh database is made on it); else SQLite.
    pub scheduler_db: Option<String>,
    /// Services' state and logs (emptied first).
    pub state_dir: PathBuf,
    /// Prefix of the namespaces.
    pub netns_prefix: String,
    /// The app (a WASI module).
    pub wasm: Vec<u8>,
    /// Flags added to the scheduler's.
    pub scheduler_flags: Vec<String>,
}

/// The running system.
pub(super) struct System {
    pub chain: LocalChain,
    pub services: Vec<Service>,
    /// Index of the scheduler, market and store in `services`; workers are the rest.
    pub scheduler: usize,
    pub market: usize,
    pub store: usize,
    pub workers: Vec<usize>,
    pub hosts: u32,
    pub pool: Address,
    pub app_order: Signed<AppOrder>,
    pub pool_order: Signed<WorkerpoolOrder>,
    /// The requester's client (dev account 3).
    pub requester: Client,
    /// Every dev account, and the kitty (address 0).
    pub accounts: Vec<Address>,
    /// The PostgreSQL server and the database made there for the scheduler (dropped at the
    /// end).
    made_database: Option<(String, String)>,
}

impl System {
    /// Start everything `t` describes; ready once the workers are started.
    pub async fn start(t: &Topology) -> eyre::Result<Self> {
        empty_state_dir(&t.state_dir)?;
        let state = std::fs::canonicalize(&t.state_dir)?;
        std::fs::create_dir_all(state.join("logs"))?;
        let on_hosts = t.hosts > 0;
        let core = if on_hosts { CORE_ADDRESS } else { "127.0.0.1" };
        let workers = (t.workers_per_host * t.hosts.max(1)) as usize;
        let accounts = FIRST_WORKER + workers;

        // the chain, on the core host
        let port = free_port(core)?;
        let builder = dexec_contracts::anvil::anvil(None)
            .host(if on_hosts { "0.0.0.0" } else { "127.0.0.1" })
            .port(port)
            .args(["--accounts", &accounts.to_string()]);
        let chain = LocalChain::spawn(builder, None).await?;
        let deployment = deploy_and_fund(&chain, accounts).await?;
        if t.block_time > 0 {
            let _: serde_json::Value = chain
                .provider
                .raw_request("evm_setIntervalMining".into(), (t.block_time,))
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
            "devnet {rpc} ({} s blocks), hub {}",
            t.block_time, deployment.hub
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
        let ns = |k: u32| on_hosts.then(|| format!("{}-h{k}", t.netns_prefix));
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
                    "--log-format",
                    "json",
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
                    "--log-format",
                    "json",
                ]),
            ),
        ];
        let (store, market) = (0, 1);
        for i in [store, market] {
            services[i].start()?;
            wait_listening(&services[i]).await?;
        }
        eprintln!("store {store_url}, market {market_url}");

        // the app, the workerpool and their standing orders
        let signers = chain.signers.clone();
        let signer = |i: usize| -> PrivateKeySigner { signers[i].clone() };
        let app_owner = Client::connect(&entry, Some(signer(APP_OWNER))).await?;
        let blob = dexec_sdk::store::StoreClient::new(&store_url)?
            .put(t.wasm.clone())
            .await?;
        let app = app_owner
            .deploy_app(&AppSpec {
                name: "hello".into(),
                app_type: "WASM".into(),
                multiaddr: blob.url.to_string(),
                checksum: B256::from_slice(&Sha256::digest(&t.wasm)),
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
        let mut made_database = None;
        let scheduler_db = match &t.scheduler_db {
            Some(url) => {
                let (created, name) = fresh_database(url).await?;
                made_database = Some((url.clone(), name));
                created
            }
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
            ])
            .into_iter()
            .chain(t.scheduler_flags.iter().cloned())
            .collect(),
        ));
        let scheduler = services.len() - 1;
        let mut worker_ids = Vec::new();
        for n in 0..workers {
            let host = 2 + n as u32 / t.workers_per_host;
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
                    &t.worker_slots.to_string(),
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
            "scheduler {} ({}), {workers} workers{}",
            scheduler_listen,
            if t.scheduler_db.is_some() {
                "on the given database"
            } else {
                "on SQLite"
            },
            if on_hosts {
                format!(" on {} hosts ({} per host)", t.hosts, t.workers_per_host)
            } else {
                " on loopback".to_owned()
            }
        );

        let requester = Client::connect(&entry, Some(signer(REQUESTER))).await?;
        let every: Vec<Address> = (0..accounts)
            .map(|i| chain.signers[i].address())
            .chain([Address::ZERO])
            .collect();
        Ok(Self {
            chain,
            services,
            scheduler,
            market,
            store,
            workers: worker_ids,
            hosts: t.hosts,
            pool: pool.address,
            app_order,
            pool_order,
            requester,
            accounts: every,
            made_database,
        })
    }

    /// Start again every service that died on its own (each death is kept in its `crashes`).
    pub fn restart_crashed(&mut self) -> eyre::Result<()> {
        for service in &mut self.services {
            if service.crashed() {
                eprintln!(
                    "the {} died on its own ({}); restarting it (see {})",
                    service.name,
                    service.crashes.last().map(String::as_str).unwrap_or(""),
                    service.log.display()
                );
                service.start()?;
            }
        }
        Ok(())
    }

    /// The scheduler's base URL.
    pub fn scheduler_url(&self) -> String {
        format!(
            "http://{}",
            self.services[self.scheduler]
                .addr
                .as_deref()
                .unwrap_or_default()
        )
    }

    /// The scheduler's process id, if it runs.
    pub fn scheduler_pid(&self) -> Option<u32> {
        self.services[self.scheduler].child.as_ref().map(Child::id)
    }

    /// Stop every service, then the chain; drop the scheduler's database if this made one.
    pub async fn stop(mut self) {
        for service in self.services.iter_mut().rev() {
            service.kill();
        }
        // a stopped anvil cannot be stopped again
        let _ = signal_anvil(&self.chain, rustix::process::Signal::CONT);
        if let Some((server, name)) = self.made_database.take() {
            use sqlx::Connection;
            if let Ok(mut admin) = sqlx::PgConnection::connect(&server).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            }
        }
    }
}

/// Make `hosts` simulated hosts named `prefix-…` with `script`, run this same command inside
/// the core host (with `--inside` added), remove the hosts.
pub(super) fn run_on_hosts(script: &Path, prefix: &str, hosts: u32) -> eyre::Result<()> {
    if !script.is_file() {
        return Err(eyre!(
            "{} not found: run from the repository's root, or give --hosts-script (or --hosts 0 \
             to run everything on loopback)",
            script.display()
        ));
    }
    let up = Command::new(script)
        .args(["up", prefix, &hosts.to_string()])
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
        .args(["netns", "exec", &format!("{}-core", prefix)])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .arg("--inside")
        .status();
    let down = Command::new(script).args(["down", prefix]).status();
    let status = status.wrap_err("cannot enter the core host's namespace")?;
    if !matches!(down, Ok(s) if s.success()) {
        eprintln!(
            "warning: `{} down {}` failed; remove the namespaces by hand (ip netns list)",
            script.display(),
            prefix
        );
    }
    if status.success() {
        Ok(())
    } else {
        Err(eyre!("chaos failed inside the core host ({status})"))
    }
}

/// A service process that faults kill and restart.
pub(super) struct Service {
    pub(super) name: String,
    /// The namespace it runs in (`None`: this one).
    netns: Option<String>,
    args: Vec<String>,
    pub(super) log: PathBuf,
    /// Where it listens, to wait for it.
    addr: Option<String>,
    pub(super) child: Option<Child>,
    pub(super) starts: u32,
    /// Exits nobody caused, with their status.
    pub(super) crashes: Vec<String>,
}

impl Service {
    pub(super) fn start(&mut self) -> eyre::Result<()> {
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
    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it died on its own since the last look (recorded as a crash).
    pub(super) fn crashed(&mut self) -> bool {
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

    pub(super) fn running(&self) -> bool {
        self.child.is_some()
    }
}

/// A database of its own on the PostgreSQL server of `url` (the scheduler resumes from the
/// block cursor its database holds: a previous run's would be on another chain); its URL and
/// its name.
pub(super) async fn fresh_database(url: &str) -> eyre::Result<(String, String)> {
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
    let made = if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    };
    Ok((made, name))
}

/// A port free on `host` now.
pub(super) fn free_port(host: &str) -> eyre::Result<u16> {
    Ok(std::net::TcpListener::bind((host, 0))?.local_addr()?.port())
}

/// Wait until the service accepts connections (30 s).
pub(super) async fn wait_listening(service: &Service) -> eyre::Result<()> {
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

pub(super) fn signal_anvil(
    chain: &LocalChain,
    signal: rustix::process::Signal,
) -> eyre::Result<()> {
    let pid = rustix::process::Pid::from_raw(chain.anvil.child().id() as i32)
        .ok_or_else(|| eyre!("anvil has no pid"))?;
    rustix::process::kill_process(pid, signal).wrap_err("cannot signal anvil")?;
    Ok(())
}

/// Bring host `k`'s link on the core's bridge down (cut) or up (heal); this process runs in
/// the core host's namespace, where the links are.
pub(super) fn set_link(k: u32, up: bool) -> eyre::Result<()> {
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

pub(super) fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}
