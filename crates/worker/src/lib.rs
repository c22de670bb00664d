//! dexec-worker: a workerpool's worker (`dexec worker`).
//!
//! It registers with its scheduler (signed challenge), sends heartbeats, long-polls for
//! replicates and runs up to `max_concurrent` of them at once. Per replicate: check the
//! scheduler's authorization, fetch the app (and dataset, input files) with limits and
//! checksums, run it in the deterministic WASM runtime off the async threads, digest the
//! result, zip `/iexec_out` deterministically into the store, then settle as told:
//! `contributeAndFinalize` (trust 1), or `contribute` then `reveal` (replicated), reporting
//! each step to the scheduler. Every way an app can fail to produce a result (a failed
//! download, a non-zero exit, a trap, fuel, memory or output limits, an invalid app or
//! `computed.json`, and the wall-clock limit) becomes an error result (`error.txt` saying why,
//! the same sentence on every honest worker), contributed like any result, so the task
//! completes and its scheduler is paid rather than claimed against. Only the worker's own
//! trouble (the runtime's host errors, local disk, the store, the chain) is reported to the
//! scheduler as a failure, and the task goes to another worker. Each replicate's state is kept
//! on disk and resumed after a restart. Protocol: `docs/workerpool.md`; outcomes:
//! `docs/runtime.md`.

mod config;
mod error;
pub mod exec;
pub mod fetch;
pub mod metrics;
mod state;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{keccak256, Address, Bytes, Signature, B256, U256};
use dexec_contracts::tx::send;
use dexec_primitives::poco::{authorization_hash, result_hash, result_seal};
use dexec_primitives::{ContributionStatus, Deal, ResultsLink};
use dexec_runtime::{Runtime, RuntimeConfig};
use dexec_sdk::scheduler::{
    Action, Assignment, Capabilities, Report, ReportStatus, SchedulerClient, SchedulerError,
    TaskReport, MAX_REPORTS_PER_REQUEST,
};
use dexec_sdk::Client;
use tokio::sync::{Mutex, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

pub use config::{Args, Config, Honesty};
pub use error::{Error, Result};

use crate::exec::{Containers, Executor};
use crate::fetch::Limits;
use crate::state::{Phase, TaskState};

/// A worker running in the background.
///
/// Not a `dexec_service::ServiceHandle`: a worker listens on no address (it calls its
/// scheduler), so it is known by its wallet address instead.
#[derive(Debug)]
pub struct Running {
    /// The worker's address.
    pub address: Address,
    /// Ends when the worker stops. Aborting it kills the worker at once (its replicates
    /// stay on disk and resume at the next start).
    pub task: JoinHandle<Result<()>>,
    /// Where `/metrics` and `/health` are served (`--metrics-listen`).
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl Running {
    /// Wait until the worker stops; a panicked task is reported as a fault.
    pub async fn join(self) -> Result<()> {
        self.task.await.map_err(|e| Error::Fault(e.to_string()))?
    }
}

struct Worker {
    config: Config,
    client: Client,
    scheduler: SchedulerClient,
    executor: Executor,
    metrics: Arc<metrics::WorkerMetrics>,
    /// One transaction at a time (the provider reads nonces from the node).
    tx_lock: Mutex<()>,
    /// Where replicates queue their reports, sent together by [`Worker::send_reports`].
    reports: tokio::sync::mpsc::UnboundedSender<QueuedReport>,
    /// The other end, taken by `run`.
    queued_reports: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<QueuedReport>>>,
    /// This worker's hold on its work directory, released with the worker.
    _state_lock: dexec_service::StateLock,
}

/// How long a starting worker waits for a scheduler it cannot reach (one started at the same
/// time, restarting, or behind a network that is not up yet).
pub const REGISTER_PATIENCE: Duration = Duration::from_secs(120);

/// Register with the scheduler, waiting (with back-off, up to [`REGISTER_PATIENCE`]) while it
/// cannot be reached; a refusal is final at once.
async fn register(
    scheduler: &SchedulerClient,
    url: &str,
) -> Result<dexec_sdk::scheduler::Registered> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    let mut said = false;
    loop {
        match scheduler.register().await {
            Err(dexec_sdk::scheduler::SchedulerError::Unreachable(e))
                if started.elapsed() < REGISTER_PATIENCE =>
            {
                if !said {
                    tracing::warn!(target: "worker", scheduler = %url, error = %e, patience_s = REGISTER_PATIENCE.as_secs(), "the scheduler cannot be reached yet; waiting for it");
                    said = true;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(dexec_sdk::scheduler::SchedulerError::Unreachable(e)) => {
                return Err(Error::Fault(format!(
                    "the scheduler at {url} could not be reached for {} s: {e}; is it running, \
                     and is --scheduler-url right?",
                    REGISTER_PATIENCE.as_secs()
                )))
            }
            other => return Ok(other?),
        }
    }
}

/// Start a worker that runs until `shutdown` resolves.
pub async fn start<F>(config: Config, shutdown: F) -> Result<Running>
where
    F: Future<Output = ()> + Send + 'static,
{
    // first: a second worker on this folder would resume this one's replicates and delete
    // their live files
    let state_lock = dexec_service::StateLock::acquire(&config.work_dir, "worker")?;
    let client = Client::connect_patiently(
        &config.chain,
        Some(config.signer.clone()),
        config.rpc_timeout,
        dexec_service::START_PATIENCE,
    )
    .await?;
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default())?);
    let containers = if config.containers {
        Some(Containers::start(&config).await?)
    } else {
        None
    };
    let scheduler = SchedulerClient::new(
        &config.scheduler_url,
        config.signer.clone(),
        config.name.clone(),
        Capabilities {
            cores: config.cores,
            memory_mb: config.memory_mb,
            // offered once the self-check passed
            tags: if containers.is_some() {
                config.tags | dexec_primitives::tag::CONTAINER
            } else {
                config.tags
            },
            max_concurrent: config.max_concurrent,
        },
    );
    let registered = register(&scheduler, &config.scheduler_url).await?;
    let metrics = Arc::new(metrics::WorkerMetrics::new(config.max_concurrent));
    metrics.scheduler.ok();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let metrics_addr = match config.metrics_listen {
        Some(listen) => Some(
            metrics::serve(listen, metrics.clone(), stop_rx)
                .await
                .map_err(|e| Error::Config(format!("--metrics-listen {listen}: {e}")))?,
        ),
        None => None,
    };
    let store = config.store_url.clone().or(registered.store_url);
    let uploads = store
        .as_deref()
        .map(dexec_sdk::store::StoreClient::new)
        .transpose()?
        .map(exec::Uploads::new);
    let executor = Executor {
        runtime,
        uploads,
        // no redirects: a public input-file URL must not bounce the worker to a private
        // address after the check in `fetch` (SSRF)
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Fault(e.to_string()))?,
        store,
        limits: Limits {
            max_bytes: config.max_download_bytes,
            timeout: config.download_timeout,
            allow_private: config.allow_private_inputs,
            allowed_hosts: config.allowed_input_hosts.clone(),
        },
        fuel_override: config.fuel,
        wall_clock_override: config.wall_clock_limit,
        apps: Default::default(),
        containers,
        metrics: metrics.clone(),
    };
    std::fs::create_dir_all(config.work_dir.join("tasks"))?;
    let address = config.signer.address();
    let (reports, queued_reports) = tokio::sync::mpsc::unbounded_channel();
    let worker = Arc::new(Worker {
        config,
        client,
        scheduler,
        executor,
        metrics,
        tx_lock: Mutex::new(()),
        reports,
        queued_reports: std::sync::Mutex::new(Some(queued_reports)),
        _state_lock: state_lock,
    });
    tracing::info!(target: "worker", %address, name = %worker.config.name, metrics = ?metrics_addr, "worker registered");
    let task = tokio::spawn(async move {
        let result = tokio::select! {
            result = worker.run() => result,
            _ = shutdown => Ok(()),
        };
        let _ = stop_tx.send(true);
        result
    });
    Ok(Running {
        address,
        task,
        metrics_addr,
    })
}

/// Run `dexec worker`: validate `args`, work until Ctrl-C.
pub async fn run(args: Args) -> Result<()> {
    let config = Config::from_args(args)?;
    start(config, dexec_service::ctrl_c()).await?.join().await
}

impl Worker {
    fn task_dir(&self, task_id: &B256) -> PathBuf {
        self.config
            .work_dir
            .join("tasks")
            .join(format!("{task_id:#x}"))
    }

    /// Heartbeats, recovered replicates, then new ones. Dropping this future (shutdown or
    /// abort) stops every replicate in progress.
    async fn run(self: Arc<Self>) -> Result<()> {
        let slots = Arc::new(Semaphore::new(self.config.max_concurrent as usize));
        let mut tasks = JoinSet::new();
        let beat = self.clone();
        tasks.spawn(async move {
            beat.heartbeats().await;
        });
        let queued = self
            .queued_reports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .ok_or_else(|| Error::Fault("the worker runs once".into()))?;
        let reporter = self.clone();
        tasks.spawn(async move {
            reporter.send_reports(queued).await;
        });
        for state in state::load_all(&self.config.work_dir.join("tasks"))? {
            tracing::info!(target: "worker", task = %state.assignment.task_id, phase = ?state.phase, "resuming interrupted replicate");
            let permit = slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| Error::Fault(e.to_string()))?;
            let me = self.clone();
            tasks.spawn(async move {
                me.replicate(state, permit).await;
            });
        }
        // a scheduler that is down for an hour: a few lines, not two per second
        let mut failing = dexec_service::log::Repeated::new(Duration::from_secs(30));
        loop {
            // one free slot at least, and every other free one: as many replicates at once
            let mut permits = vec![slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| Error::Fault(e.to_string()))?];
            while let Ok(more) = slots.clone().try_acquire_owned() {
                permits.push(more);
            }
            while tasks.try_join_next().is_some() {}
            let max = u32::try_from(permits.len()).unwrap_or(u32::MAX);
            let next = self.scheduler.assignments(self.config.poll_wait, max).await;
            if next.is_ok() {
                self.metrics.scheduler.ok();
                if let dexec_service::log::Say::Recovered { failures, lasted } = failing.success() {
                    tracing::info!(target: "worker", failures, lasted_s = lasted.as_secs(), "the scheduler answers again");
                }
            }
            match next {
                Ok(assignments) => {
                    for assignment in assignments {
                        let Some(permit) = permits.pop() else {
                            // more than asked for: the scheduler's mistake, refused below
                            tracing::warn!(target: "worker", task = %assignment.task_id, "an assignment beyond the free slots; not run");
                            let mut report = Report::status(ReportStatus::Failed);
                            report.error = Some("the worker has no free slot for it".into());
                            let _ = self.report(assignment.task_id, &report).await;
                            continue;
                        };
                        let state = TaskState {
                            assignment,
                            phase: Phase::Received,
                        };
                        state.save(&self.task_dir(&state.assignment.task_id))?;
                        let me = self.clone();
                        tasks.spawn(async move {
                            me.replicate(state, permit).await;
                        });
                    }
                    // slots asked for and not filled are free again
                    drop(permits);
                }
                Err(e) => {
                    drop(permits);
                    if let dexec_service::log::Say::Failure { unlogged } = failing.failure() {
                        tracing::warn!(target: "worker", error = %e, unlogged, "asking for work failed; retrying (said at most every 30 s)");
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Report on a replicate and learn what to do next. Reports queue for
    /// [`send_reports`](Self::send_reports): one request carries every report made while
    /// the previous request was out, so a worker finishing many replicates at once asks its
    /// scheduler once (no pause is added: a report alone goes at once).
    async fn report(
        &self,
        task_id: B256,
        report: &Report,
    ) -> std::result::Result<Action, SchedulerError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let queued = TaskReport {
            task_id,
            report: report.clone(),
        };
        if self.reports.send((queued, answer)).is_err() {
            // the sender is gone only when the worker stops
            return Err(SchedulerError::Answer("the worker is stopping".into()));
        }
        answered
            .await
            .unwrap_or_else(|_| Err(SchedulerError::Answer("the worker is stopping".into())))
    }

    /// Send the queued reports, every one waiting in one request (at most
    /// `MAX_REPORTS_PER_REQUEST`), and hand each replicate its answer.
    async fn send_reports(&self, mut queued: tokio::sync::mpsc::UnboundedReceiver<QueuedReport>) {
        while let Some(first) = queued.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_REPORTS_PER_REQUEST {
                match queued.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            let (reports, waiting): (Vec<TaskReport>, Vec<_>) = batch.into_iter().unzip();
            self.metrics.reports_sent(reports.len());
            match self.scheduler.reports(&reports).await {
                Ok(answers) => {
                    for (answer, waiter) in answers.into_iter().zip(waiting) {
                        let _ = waiter.send(answer);
                    }
                }
                Err(e) => {
                    let said = e.to_string();
                    for waiter in waiting {
                        let _ = waiter.send(Err(SchedulerError::Answer(said.clone())));
                    }
                }
            }
        }
    }

    async fn heartbeats(&self) {
        loop {
            let interval = self.scheduler.heartbeat_interval().await;
            match self.scheduler.heartbeat().await {
                Ok(_) => self.metrics.scheduler.ok(),
                Err(e) => tracing::warn!(target: "worker", error = %e, "heartbeat failed"),
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Drive one replicate to its end; failures are reported to the scheduler.
    async fn replicate(&self, mut state: TaskState, permit: tokio::sync::OwnedSemaphorePermit) {
        let task_id = state.assignment.task_id;
        let dir = self.task_dir(&task_id);
        let mut slot = Some(Slot::take(permit, self.metrics.clone()));
        let outcome = self.drive(&mut state, &dir, &mut slot).await;
        drop(slot);
        match outcome {
            Ok(action) => {
                tracing::info!(target: "worker", task = %task_id, ?action, "replicate finished");
                self.metrics.replicate(if action == Action::Abort {
                    "abort"
                } else {
                    "done"
                });
            }
            Err(e) => {
                self.metrics.replicate("failed");
                tracing::warn!(target: "worker", task = %task_id, error = %e, "replicate failed");
                let mut report = Report::status(ReportStatus::Failed);
                report.error = Some(e.to_string());
                if let Err(e) = self.report(task_id, &report).await {
                    tracing::warn!(target: "worker", task = %task_id, error = %e, "cannot report the failure");
                }
            }
        }
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            tracing::debug!(target: "worker", task = %task_id, error = %e, "cannot remove the task directory");
        }
    }

    /// Run the replicate to its end. `slot` is its compute slot: given back once its vote is
    /// on chain (waiting for the others' votes and revealing need no compute, and a worker
    /// whose every slot waited on tasks that need its other slots would never finish them).
    async fn drive(
        &self,
        state: &mut TaskState,
        dir: &std::path::Path,
        slot: &mut Option<Slot>,
    ) -> Result<Action> {
        let a = state.assignment.clone();
        let deal = Deal::decode(&a.deal).map_err(|error| Error::BadDeal {
            task: a.task_id,
            error,
        })?;
        self.check_authorization(&a, &deal)?;
        // resumed after its contribution was mined but before that was saved: the scheduler
        // counts it as contributed and waits for its reveal, which only the `contributed`
        // phase sends (in `computed` the worker would ask what to do forever)
        if let Phase::Computed { digest, .. } = state.phase {
            if deal.trust > 1 && self.my_contribution(a.task_id).await? != ContributionStatus::Unset
            {
                tracing::info!(target: "worker", task = %a.task_id, "the contribution was mined before the restart");
                state.phase = Phase::Contributed {
                    digest: self.vote(digest),
                };
                state.save(dir)?;
            }
        }
        loop {
            match state.phase.clone() {
                Phase::Received => {
                    let computed = self.executor.compute(&a, &deal, dir).await?;
                    if let Some(error) = &computed.error {
                        tracing::info!(target: "worker::exec", task = %a.task_id, %error, "error result");
                    }
                    state.phase = Phase::Computed {
                        digest: computed.digest,
                        result_location: computed.result_location,
                        callback_data: computed.callback_data,
                    };
                    state.save(dir)?;
                }
                Phase::Computed {
                    digest,
                    result_location,
                    callback_data,
                } => {
                    let report = Report {
                        status: ReportStatus::Computed,
                        digest: Some(digest),
                        result_location: result_location.clone(),
                        callback_data: callback_data.clone(),
                        error: None,
                    };
                    let action = self.report(a.task_id, &report).await?;
                    match action {
                        Action::ContributeAndFinalize => {
                            let link =
                                ResultsLink::store(result_location.clone().unwrap_or_default())
                                    .to_json();
                            self.contribute_and_finalize(
                                &a,
                                digest,
                                link,
                                callback_data.unwrap_or_default(),
                            )
                            .await?;
                            state.phase = Phase::Finalized { digest };
                            state.save(dir)?;
                        }
                        Action::Contribute => {
                            let vote = self.vote(digest);
                            self.contribute(&a, vote).await?;
                            state.phase = Phase::Contributed { digest: vote };
                            state.save(dir)?;
                        }
                        Action::Wait | Action::Reveal => {
                            tokio::time::sleep(self.config.report_interval).await
                        }
                        Action::Abort | Action::Done => return Ok(action),
                    }
                }
                Phase::Contributed { digest } => {
                    slot.take();
                    let mut report = Report::status(ReportStatus::Contributed);
                    report.digest = Some(digest);
                    match self.report(a.task_id, &report).await? {
                        Action::Reveal => {
                            self.reveal(&a, digest).await?;
                            state.phase = Phase::Revealed { digest };
                            state.save(dir)?;
                        }
                        Action::Abort => return Ok(Action::Abort),
                        Action::Done => return Ok(Action::Done),
                        _ => tokio::time::sleep(self.config.report_interval).await,
                    }
                }
                Phase::Revealed { digest } => {
                    let mut report = Report::status(ReportStatus::Revealed);
                    report.digest = Some(digest);
                    match self.report(a.task_id, &report).await? {
                        action @ (Action::Done | Action::Abort) => return Ok(action),
                        _ => tokio::time::sleep(self.config.report_interval).await,
                    }
                }
                Phase::Finalized { digest } => {
                    let mut report = Report::status(ReportStatus::Finalized);
                    report.digest = Some(digest);
                    return Ok(self.report(a.task_id, &report).await?);
                }
            }
        }
    }

    /// The digest this worker votes for: the real one, or a corrupted one with `--dishonest`.
    fn vote(&self, digest: B256) -> B256 {
        vote(self.config.honesty, self.config.signer.address(), digest)
    }

    /// Never contribute without the workerpool owner's authorization.
    fn check_authorization(&self, a: &Assignment, deal: &Deal) -> Result<()> {
        let me = self.config.signer.address();
        let hash = authorization_hash(me, a.task_id, a.enclave);
        let signer = Signature::from_raw(&a.authorization)
            .ok()
            .and_then(|s| s.recover_address_from_msg(hash.as_slice()).ok());
        if signer != Some(deal.workerpool_owner)
            || dexec_primitives::task_id(a.deal_id, a.index) != a.task_id
        {
            return Err(Error::BadAuthorization(a.task_id));
        }
        Ok(())
    }

    async fn contribute_and_finalize(
        &self,
        a: &Assignment,
        digest: B256,
        results: String,
        callback: Bytes,
    ) -> Result<()> {
        let _tx = self.tx_lock.lock().await;
        let hub = self.client.deployment().hub(self.client.provider());
        let call = hub.contributeAndFinalize(
            a.deal.clone(),
            a.deal_id,
            U256::from(a.index),
            self.vote(digest),
            Bytes::from(results.into_bytes()),
            callback,
            a.enclave,
            Bytes::new(),
            a.authorization.clone(),
        );
        let receipt = send(&call).await?;
        tracing::info!(target: "worker::chain", task = %a.task_id, gas = receipt.gas_used, "contributeAndFinalize mined");
        self.metrics
            .gas_spent("contributeAndFinalize", receipt.gas_used);
        Ok(())
    }

    /// The status of this worker's contribution to `task_id` on chain (a restarted worker
    /// must not send a contribution or a reveal twice).
    async fn my_contribution(&self, task_id: B256) -> Result<ContributionStatus> {
        let poco = self.client.deployment().poco(self.client.provider());
        let contribution = poco
            .viewContribution(task_id, self.config.signer.address())
            .call()
            .await
            .map_err(dexec_contracts::Error::from)?;
        let code = contribution.status;
        u64::try_from(code)
            .ok()
            .and_then(ContributionStatus::from_code)
            .ok_or_else(|| Error::Fault(format!("the hub reports contribution status {code}")))
    }

    async fn contribute(&self, a: &Assignment, digest: B256) -> Result<()> {
        let _tx = self.tx_lock.lock().await;
        let me = self.config.signer.address();
        let poco = self.client.deployment().poco(self.client.provider());
        if self.my_contribution(a.task_id).await? != ContributionStatus::Unset {
            return Ok(()); // contributed before a restart
        }
        let call = poco.contribute(
            a.deal.clone(),
            a.deal_id,
            U256::from(a.index),
            result_hash(a.task_id, digest),
            result_seal(me, a.task_id, digest),
            a.enclave,
            Bytes::new(),
            a.authorization.clone(),
        );
        let receipt = send(&call).await?;
        tracing::info!(target: "worker::chain", task = %a.task_id, gas = receipt.gas_used, "contribute mined");
        self.metrics.gas_spent("contribute", receipt.gas_used);
        Ok(())
    }

    async fn reveal(&self, a: &Assignment, digest: B256) -> Result<()> {
        let _tx = self.tx_lock.lock().await;
        let poco = self.client.deployment().poco(self.client.provider());
        if self.my_contribution(a.task_id).await? == ContributionStatus::Proved {
            return Ok(()); // revealed before a restart
        }
        let receipt = send(&poco.reveal(a.task_id, digest)).await?;
        tracing::info!(target: "worker::chain", task = %a.task_id, gas = receipt.gas_used, "reveal mined");
        self.metrics.gas_spent("reveal", receipt.gas_used);
        Ok(())
    }
}

/// The digest a worker of `honesty` with address `me` votes for when its result's digest is
/// `digest`: colluding liars all vote one wrong digest, a lone liar one of its own.
fn vote(honesty: Honesty, me: Address, digest: B256) -> B256 {
    match honesty {
        Honesty::Honest => digest,
        Honesty::Colludes => keccak256([digest.as_slice(), b"dishonest"].concat()),
        Honesty::LiesAlone => keccak256([digest.as_slice(), b"dishonest", me.as_slice()].concat()),
    }
}

/// A report waiting to be sent, and where its answer goes.
type QueuedReport = (
    TaskReport,
    tokio::sync::oneshot::Sender<std::result::Result<Action, SchedulerError>>,
);

/// A compute slot held by a replicate: counted busy in the metrics until dropped.
struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    metrics: Arc<metrics::WorkerMetrics>,
}

impl Slot {
    fn take(
        permit: tokio::sync::OwnedSemaphorePermit,
        metrics: Arc<metrics::WorkerMetrics>,
    ) -> Self {
        metrics.busy(1);
        Self {
            _permit: permit,
            metrics,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.busy(-1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liars_collude_or_lie_alone() {
        let digest = B256::repeat_byte(7);
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        assert_eq!(vote(Honesty::Honest, a, digest), digest);
        let colluded = vote(Honesty::Colludes, a, digest);
        assert_ne!(colluded, digest);
        assert_eq!(
            colluded,
            vote(Honesty::Colludes, b, digest),
            "one shared lie"
        );
        let alone = vote(Honesty::LiesAlone, a, digest);
        assert!(alone != digest && alone != colluded);
        assert_ne!(
            alone,
            vote(Honesty::LiesAlone, b, digest),
            "each its own lie"
        );
    }
}
