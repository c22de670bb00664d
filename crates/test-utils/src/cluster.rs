//! A workerpool on a fresh chain (feature `cluster`): the hub, a store, a registered
//! workerpool, its scheduler and workers, all in-process, and the apps and deals tests run.
//! The scheduler's and the worker's integration tests both drive a [`Pool`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use dexec_primitives::orders::{AppOrder, RequestOrder, WorkerpoolOrder};
use dexec_scheduler::{Config, Trust1Mode};
use dexec_sdk::scheduler::TaskView;
use dexec_sdk::{AppSpec, DealInfo, MatchInput, TaskInfo, TaskStatus, WorkerpoolSpec};
use dexec_service::ServiceHandle;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::{wait_for, TestChain, TestStore};

/// Dev account of the app's owner (0 owns the hub).
pub const APP_OWNER: usize = 1;
/// Dev account of the workerpool's owner, who runs its scheduler.
pub const SCHEDULER: usize = 2;
/// Dev account of the requester.
pub const REQUESTER: usize = 3;
/// Workers are dev accounts 4, 5, …
pub const FIRST_WORKER: usize = 4;

/// The app's price per task, nRLC.
pub const APP_PRICE: u64 = 1_000;
/// The workerpool's price per task, nRLC.
pub const WORKERPOOL_PRICE: u64 = 100_000;

/// What the hello app writes to `/iexec_out/result.txt`.
pub const HELLO_OUTPUT: &[u8] = b"hello, dexec\n";

/// A WASI app that spins `iterations` times, then writes [`HELLO_OUTPUT`] to
/// `/iexec_out/result.txt` and a `computed.json` naming it.
pub fn hello_app(iterations: u64) -> Vec<u8> {
    let computed = r#"{"deterministic-output-path":"/iexec_out/result.txt"}"#;
    let escaped = computed.replace('"', "\\\"");
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "result.txt")
  (data (i32.const 16) "computed.json")
  (data (i32.const 32) "{hello}")
  (data (i32.const 64) "{escaped}")
  (func $write (param $name i32) (param $name_len i32) (param $buf i32) (param $len i32)
    ;; fd 4 is /iexec_out; O_CREAT | O_TRUNC
    (if (call $path_open (i32.const 4) (i32.const 0) (local.get $name) (local.get $name_len)
          (i32.const 9) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 200))
      (then unreachable))
    (i32.store (i32.const 208) (local.get $buf))
    (i32.store (i32.const 212) (local.get $len))
    (if (call $fd_write (i32.load (i32.const 200)) (i32.const 208) (i32.const 1) (i32.const 216))
      (then unreachable))
    (drop (call $fd_close (i32.load (i32.const 200)))))
  (func $spin (local $i i64)
    (block $done
      (loop $l
        (br_if $done (i64.ge_u (local.get $i) (i64.const {iterations})))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $l))))
  (func (export "_start")
    (call $spin)
    (call $write (i32.const 0) (i32.const 10) (i32.const 32) (i32.const {hello_len}))
    (call $write (i32.const 16) (i32.const 13) (i32.const 64) (i32.const {computed_len}))))"#,
        hello = "hello, dexec\\n",
        hello_len = HELLO_OUTPUT.len(),
        computed_len = computed.len(),
    );
    wat::parse_str(wat).expect("valid WAT")
}

/// An app that never stops (runs out of fuel).
pub fn forever_app() -> Vec<u8> {
    wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "_start") (loop $l (br $l))))"#,
    )
    .expect("valid WAT")
}

/// An app that exits at once with `code` (WASI `proc_exit`).
pub fn exit_app(code: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const {code}))))"#
    ))
    .expect("valid WAT")
}

/// A WASI command that writes `stderr` (at most 1 KiB, no quotes or backslashes) to its
/// stderr, then exits with `code`.
pub fn exit_app_saying(code: u32, stderr: &str) -> Vec<u8> {
    let text = stderr.replace('\n', "\\0a");
    let len = stderr.len();
    wat::parse_str(format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{text}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (i32.const {code}))))"#
    ))
    .expect("valid WAT")
}

/// sha256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> B256 {
    B256::from_slice(&Sha256::digest(bytes))
}

/// Options of [`Pool::start`].
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// How trust-1 tasks settle.
    pub trust1_mode: Trust1Mode,
    /// Database URL (default: a SQLite file in the pool's temporary directory).
    pub db_url: Option<String>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            trust1_mode: Trust1Mode::Fast,
            db_url: None,
        }
    }
}

/// A stoppable scheduler.
pub struct SchedulerHandle {
    /// The serving scheduler.
    pub running: ServiceHandle<dexec_scheduler::Error>,
    stop: Option<oneshot::Sender<()>>,
}

impl SchedulerHandle {
    /// Its base URL.
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// Stop gracefully and wait until it stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.running.task).await;
    }
}

/// A stoppable worker.
pub struct WorkerHandle {
    /// The running worker.
    pub running: dexec_worker::Running,
    _stop: oneshot::Sender<()>,
}

impl WorkerHandle {
    /// The worker's address.
    pub fn address(&self) -> Address {
        self.running.address
    }

    /// Kill the worker at once (as a crash would).
    pub fn kill(&self) {
        self.running.task.abort();
    }
}

/// A workerpool on a fresh chain: its store, its scheduler (started), and workers on demand.
pub struct Pool {
    /// The chain.
    pub chain: TestChain,
    /// The store (apps and results).
    pub store: TestStore,
    /// The workerpool, owned by [`SCHEDULER`].
    pub workerpool: Address,
    /// How it was started.
    pub options: PoolOptions,
    /// Scheduler database and workers' directories.
    pub dir: tempfile::TempDir,
    /// The scheduler, while running.
    pub scheduler: Option<SchedulerHandle>,
    /// Accounts whose hub balances are summed for money conservation.
    pub accounts: Vec<Address>,
}

impl Pool {
    /// A chain, a store, a workerpool and its scheduler.
    pub async fn start(options: PoolOptions) -> Pool {
        init_tracing();
        let chain = TestChain::start().await.expect("chain starts");
        let store = TestStore::start().await.expect("store starts");
        let workerpool = chain
            .client_for(SCHEDULER)
            .deploy_workerpool(&WorkerpoolSpec {
                description: "test pool".into(),
            })
            .await
            .expect("workerpool deploys")
            .address;
        let accounts = (0..chain.signers.len()).map(|i| chain.address(i)).collect();
        let mut pool = Pool {
            chain,
            store,
            workerpool,
            options,
            dir: tempfile::tempdir().expect("tempdir"),
            scheduler: None,
            accounts,
        };
        pool.start_scheduler(None).await;
        pool
    }

    /// The scheduler's database URL.
    pub fn db_url(&self) -> String {
        if let Some(url) = &self.options.db_url {
            return url.clone();
        }
        format!(
            "sqlite://{}",
            self.dir.path().join("scheduler.db").display()
        )
    }

    /// The scheduler's test configuration for this pool (on `listen`, else port 0).
    pub fn scheduler_config(&self, listen: Option<SocketAddr>) -> Config {
        let mut config = Config::test(
            self.chain.chain_entry(),
            self.chain.signer(SCHEDULER),
            self.workerpool,
            self.db_url().parse().expect("a database URL"),
        );
        config.store_url = Some(self.store.url.clone());
        config.trust1_mode = self.options.trust1_mode;
        if let Some(listen) = listen {
            config.listen = listen;
        }
        config
    }

    /// Start the scheduler with [`scheduler_config`](Self::scheduler_config).
    pub async fn start_scheduler(&mut self, listen: Option<SocketAddr>) {
        self.start_scheduler_with(self.scheduler_config(listen))
            .await;
    }

    /// Start the scheduler with `config`.
    pub async fn start_scheduler_with(&mut self, config: Config) {
        let (stop, stopped) = oneshot::channel::<()>();
        let running = dexec_scheduler::serve(config, async move {
            let _ = stopped.await;
        })
        .await
        .expect("scheduler starts");
        self.scheduler = Some(SchedulerHandle {
            running,
            stop: Some(stop),
        });
    }

    /// The running scheduler's URL.
    pub fn scheduler_url(&self) -> String {
        self.scheduler.as_ref().expect("scheduler running").url()
    }

    /// The work directory of the worker of dev account `account`.
    pub fn worker_dir(&self, account: usize) -> PathBuf {
        self.dir.path().join(format!("worker-{account}"))
    }

    /// A worker's test configuration for dev account `account`.
    pub fn worker_config(&self, account: usize) -> dexec_worker::Config {
        let mut config = dexec_worker::Config::test(
            self.scheduler_url(),
            self.chain.chain_entry(),
            self.chain.signer(account),
            self.worker_dir(account),
        );
        config.name = format!("worker-{account}");
        config
    }

    /// Start a worker (it stops when the handle is dropped).
    ///
    /// A worker [killed](WorkerHandle::kill) in this process lets its work directory go only
    /// once tokio has dropped its aborted tasks (a killed process would at once), so a restart
    /// on the same folder waits for the lock, up to 10 s.
    pub async fn start_worker(&self, config: dexec_worker::Config) -> WorkerHandle {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while matches!(
            dexec_service::StateLock::acquire(&config.work_dir, "worker"),
            Err(dexec_service::LockError::Busy { .. })
        ) && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let running = dexec_worker::start(config, async move {
            let _ = stopped.await;
        })
        .await
        .expect("worker starts");
        WorkerHandle {
            running,
            _stop: stop,
        }
    }

    /// Upload `wasm` to the store and register it as an app.
    pub async fn deploy_app(&self, name: &str, wasm: &[u8]) -> Address {
        let blob = self
            .store
            .client()
            .expect("store client")
            .put(wasm.to_vec())
            .await
            .expect("upload app");
        self.chain
            .client_for(APP_OWNER)
            .deploy_app(&AppSpec {
                name: name.into(),
                app_type: "WASM".into(),
                multiaddr: blob.url.to_string(),
                checksum: sha256(wasm),
                mrenclave: Default::default(),
            })
            .await
            .expect("app deploys")
            .address
    }

    /// Upload an OCI image archive to the store and register it as a container app (type
    /// `OCI`, checksum = its manifest digest).
    pub async fn deploy_container_app(&self, name: &str, archive: &[u8]) -> Address {
        let info = dexec_runtime::oci::archive::verify(archive, None).expect("an OCI archive");
        let blob = self
            .store
            .client()
            .expect("store client")
            .put(archive.to_vec())
            .await
            .expect("upload image");
        self.chain
            .client_for(APP_OWNER)
            .deploy_app(&AppSpec {
                name: name.into(),
                app_type: "OCI".into(),
                multiaddr: blob.url.to_string(),
                checksum: B256::from(info.manifest_digest),
                mrenclave: Default::default(),
            })
            .await
            .expect("app deploys")
            .address
    }

    /// Match orders for `volume` tasks of `app` at `trust` on this pool (category XS), with
    /// the params `{"iexec_args":"--greeting hello"}`.
    pub async fn request(&self, app: Address, trust: u64, volume: u64) -> DealInfo {
        self.request_with(app, trust, volume, r#"{"iexec_args":"--greeting hello"}"#)
            .await
    }

    /// Match orders for `volume` tasks of `app` at `trust` on this pool (category XS), the
    /// request carrying `params`.
    pub async fn request_with(
        &self,
        app: Address,
        trust: u64,
        volume: u64,
        params: &str,
    ) -> DealInfo {
        let salt = || B256::from(rand::random::<[u8; 32]>());
        let app_order = self
            .chain
            .client_for(APP_OWNER)
            .sign_order(AppOrder {
                app,
                appprice: U256::from(APP_PRICE),
                volume: U256::from(1000),
                salt: salt(),
                ..Default::default()
            })
            .await
            .expect("app order");
        let pool_order = self
            .chain
            .client_for(SCHEDULER)
            .sign_order(WorkerpoolOrder {
                workerpool: self.workerpool,
                workerpoolprice: U256::from(WORKERPOOL_PRICE),
                volume: U256::from(1000),
                trust: U256::from(trust),
                category: U256::ZERO,
                salt: salt(),
                ..Default::default()
            })
            .await
            .expect("workerpool order");
        let requester = self.chain.client_for(REQUESTER);
        let request = requester
            .sign_order(RequestOrder {
                app,
                appmaxprice: U256::from(APP_PRICE),
                workerpool: self.workerpool,
                workerpoolmaxprice: U256::from(WORKERPOOL_PRICE),
                requester: self.chain.address(REQUESTER),
                volume: U256::from(volume),
                trust: U256::from(trust),
                category: U256::ZERO,
                beneficiary: self.chain.address(REQUESTER),
                params: params.into(),
                salt: salt(),
                ..Default::default()
            })
            .await
            .expect("request order");
        let matched = requester
            .match_orders(&MatchInput {
                app: app_order,
                dataset: None,
                workerpool: pool_order,
                request,
            })
            .await
            .expect("orders match");
        requester.deal(matched.deal_id).await.expect("deal")
    }

    /// Wait until every task of `deal` is completed on chain; returns them.
    pub async fn wait_completed(&self, deal: &DealInfo, timeout: Duration) -> Vec<TaskInfo> {
        let reader = self.chain.reader();
        let tasks = wait_for(timeout, || async {
            let mut tasks = Vec::new();
            for index in deal.deal.task_indices() {
                let task = reader.task(deal, index).await.ok()?;
                if task.status != TaskStatus::Completed {
                    return None;
                }
                tasks.push(task);
            }
            Some(tasks)
        })
        .await;
        match tasks {
            Some(tasks) => tasks,
            None => {
                let mut states = Vec::new();
                for index in deal.deal.task_indices() {
                    states.push(reader.task(deal, index).await);
                }
                panic!(
                    "deal {} not completed in {timeout:?}: {states:#?}",
                    deal.deal_id
                )
            }
        }
    }

    /// The scheduler's view of a task, if it knows it.
    pub async fn try_task_view(&self, task_id: B256) -> Option<TaskView> {
        let response = reqwest::get(format!("{}/tasks/{task_id:#x}", self.scheduler_url()))
            .await
            .ok()?;
        response.error_for_status().ok()?.json().await.ok()
    }

    /// The scheduler's view of a task.
    pub async fn task_view(&self, task_id: B256) -> TaskView {
        reqwest::get(format!("{}/tasks/{task_id:#x}", self.scheduler_url()))
            .await
            .expect("GET /tasks")
            .error_for_status()
            .expect("task known")
            .json()
            .await
            .expect("task view JSON")
    }

    /// The scheduler's `GET /health` answer.
    pub async fn health(&self) -> serde_json::Value {
        reqwest::get(format!("{}/health", self.scheduler_url()))
            .await
            .expect("scheduler answers")
            .error_for_status()
            .expect("healthy")
            .json()
            .await
            .expect("health JSON")
    }

    /// Wait until the scheduler shows `task_id` in `status` (it follows the chain).
    pub async fn wait_view(&self, task_id: B256, status: &str) -> TaskView {
        let view = wait_for(Duration::from_secs(30), || async {
            let view = self.try_task_view(task_id).await?;
            (view.status == status).then_some(view)
        })
        .await;
        match view {
            Some(view) => view,
            None => panic!(
                "task {task_id}: {:?}, not {status}",
                self.task_view(task_id).await
            ),
        }
    }

    /// Sum of all dev accounts' hub balances (free + locked).
    pub async fn total_on_hub(&self) -> U256 {
        self.chain
            .total_on_hub(&self.accounts)
            .await
            .expect("balances")
    }
}

/// Services' logs in test output when `RUST_LOG` is set (e.g. `scheduler=debug,worker=debug`).
fn init_tracing() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("RUST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}
