//! One replicate's computation: fetch inputs, run the app, digest, zip and upload.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Bytes, B256};
use dexec_primitives::results::COMPUTED_JSON;
use dexec_primitives::{Deal, RequestParams};
use dexec_runtime::oci::{ContainerJob, ContainerLimits, Engine, EngineError};
use dexec_runtime::{
    fuel_for_category, wall_clock_limit_for_category, Job, Outcome, Runtime, TaskEnv,
};
use dexec_sdk::results::{file_sha256, output_digest, read_computed};
use dexec_sdk::scheduler::Assignment;
use dexec_sdk::store::{StoreClient, StoreError};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fetch::{fetch, fetch_to_file, zip_dir, Limits};

use dexec_primitives::results::ERROR_PREFIX;
pub use dexec_primitives::results::{ERROR_DETAIL_FILE, ERROR_FILE};

/// Why an app produced no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The one-line sentence every honest worker reaches (the error result's content).
    pub sentence: String,
    /// What this worker saw (the runtime's full error, fuel, time, the app's stderr and
    /// stdout), written beside the error result for people; not part of the digest.
    pub detail: Option<String>,
}

impl Failure {
    /// A failure told by its sentence alone.
    pub fn said(sentence: impl Into<String>) -> Self {
        Self {
            sentence: sentence.into(),
            detail: None,
        }
    }
}

/// What a computation produced.
#[derive(Debug, Clone)]
pub struct Computation {
    /// The result digest (what workers vote on).
    pub digest: B256,
    /// Callback data (callback deals).
    pub callback_data: Option<Bytes>,
    /// The result zip's URL in the store, if uploaded.
    pub result_location: Option<String>,
    /// Whether the app failed deterministically (an error result).
    pub error: Option<String>,
}

/// What the executor needs.
#[derive(Clone)]
pub struct Executor {
    /// The runtime.
    pub runtime: Arc<Runtime>,
    /// HTTP client for downloads.
    pub http: reqwest::Client,
    /// The trusted store (apps, datasets by id; results go there).
    pub store: Option<String>,
    /// Where results are uploaded: one client for the worker's life (its connections are
    /// kept, and a client loads the system's root certificates when it is made, which cost
    /// more than the hello app itself when done for every task), small results together.
    pub uploads: Option<Uploads>,
    /// Download limits.
    pub limits: Limits,
    /// Fuel for every task instead of the category's (all workers of a pool must agree).
    pub fuel_override: Option<u64>,
    /// Wall-clock limit of every run instead of the category's (all workers of a pool must
    /// agree: it is in the error result of an app that reaches it).
    pub wall_clock_override: Option<Duration>,
    /// Apps already fetched, by checksum.
    pub apps: AppCache,
    /// Container apps, when this worker runs them (`--containers`).
    pub containers: Option<Containers>,
    /// Where runs are counted.
    pub metrics: Arc<crate::metrics::WorkerMetrics>,
}

/// What runs a task: a WebAssembly module or a container image loaded in the engine.
enum App {
    Wasm(Vec<u8>),
    Image(String),
}

/// Container apps on this worker: the engine, where image archives land while they are
/// checked and loaded, and the limits every run gets.
#[derive(Clone)]
pub struct Containers {
    /// The container engine.
    pub engine: Engine,
    /// Where image archives are downloaded (then loaded and deleted).
    pub images_dir: PathBuf,
    /// Largest image archive.
    pub max_image_bytes: u64,
    /// Disk the app images may take before the oldest are removed.
    pub cache_bytes: u64,
    /// Memory, CPU and process limits of every run.
    pub limits: ContainerLimits,
    /// One image acquisition at a time: a bag's tasks download their image once.
    acquiring: Arc<tokio::sync::Mutex<()>>,
}

impl Containers {
    /// Container apps with `engine`, archives under `work_dir/images`, default limits.
    pub fn new(engine: Engine, work_dir: &Path, max_image_bytes: u64, cache_bytes: u64) -> Self {
        Self {
            engine,
            images_dir: work_dir.join("images"),
            max_image_bytes,
            cache_bytes,
            limits: ContainerLimits::default(),
            acquiring: Arc::default(),
        }
    }

    /// Check that this host runs container apps (`--containers`): the engine's self-check,
    /// or a sentence saying why not.
    pub async fn start(config: &crate::config::Config) -> Result<Self> {
        let containers = Self::new(
            Engine::podman(),
            &config.work_dir,
            config.max_image_bytes,
            config.image_cache_bytes,
        );
        tokio::fs::create_dir_all(&containers.images_dir).await?;
        match containers.engine.self_check(&containers.images_dir).await {
            Ok(said) => {
                tracing::info!(target: "worker::containers", check = %said, "container apps enabled");
                Ok(containers)
            }
            Err(why) => Err(Error::Config(format!(
                "--containers: this host cannot run container apps: {why}"
            ))),
        }
    }

    /// The engine's image of `a`'s app: loaded already, or downloaded, checked against the
    /// app's checksum and loaded. `Ok(Err(_))` is the app's fault (an error result every
    /// worker reaches), `Err` this worker's.
    async fn image(
        &self,
        exec: &Executor,
        a: &Assignment,
    ) -> Result<std::result::Result<String, Failure>> {
        if a.app_checksum == B256::ZERO {
            return Ok(Err(Failure::said(
                "app: a container app needs its image manifest digest as checksum",
            )));
        }
        let manifest = a.app_checksum.0;
        let _one_at_a_time = self.acquiring.lock().await;
        if let Some(id) = self.engine.app_image(manifest).await {
            return Ok(Ok(id));
        }
        tokio::fs::create_dir_all(&self.images_dir).await?;
        let path = self
            .images_dir
            .join(format!("{}.tar", hex::encode(manifest)));
        let limits = Limits {
            allow_private: true,
            max_bytes: self.max_image_bytes,
            // images are large: at least ten minutes whatever --download-timeout-secs says
            timeout: exec.limits.timeout.max(Duration::from_secs(600)),
            ..exec.limits.clone()
        };
        let fetched = fetch_to_file(
            &exec.http,
            &a.app_multiaddr,
            exec.store.as_deref(),
            &path,
            &limits,
        )
        .await;
        if let Err(e) = fetched {
            let _ = tokio::fs::remove_file(&path).await;
            return Ok(Err(Failure::said(format!("app: {e}"))));
        }
        let loaded = self.engine.load_app(&path, manifest).await;
        let _ = tokio::fs::remove_file(&path).await;
        match loaded {
            Ok(id) => {
                match self.engine.prune(self.cache_bytes, &id).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(target: "worker::containers", removed = n, "app images pruned")
                    }
                    Err(e) => {
                        tracing::warn!(target: "worker::containers", error = %e, "cannot prune app images")
                    }
                }
                Ok(Ok(id))
            }
            Err(EngineError::Archive(e)) => Ok(Err(Failure::said(format!("app: {e}")))),
            Err(e) => Err(Error::Fault(format!("container engine: {e}"))),
        }
    }
}

/// An app's checksum and bytes.
type CachedApp = (B256, Arc<Vec<u8>>);

/// Apps already fetched and verified, by their on-chain checksum: a bag of tasks downloads its
/// app once. Bounded in bytes (256 MiB by default); the oldest entries go first.
#[derive(Clone)]
pub struct AppCache {
    inner: Arc<std::sync::Mutex<Vec<CachedApp>>>,
    max_bytes: usize,
}

impl Default for AppCache {
    fn default() -> Self {
        Self::with_max_bytes(256 * 1024 * 1024)
    }
}

impl AppCache {
    /// A cache keeping at most `max_bytes`.
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        Self {
            inner: Arc::default(),
            max_bytes,
        }
    }

    fn get(&self, checksum: &B256) -> Option<Arc<Vec<u8>>> {
        let entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .find(|(c, _)| c == checksum)
            .map(|(_, bytes)| bytes.clone())
    }

    fn put(&self, checksum: B256, bytes: Arc<Vec<u8>>) {
        let mut entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if entries.iter().any(|(c, _)| *c == checksum) || bytes.len() > self.max_bytes {
            return;
        }
        entries.push((checksum, bytes));
        while entries.iter().map(|(_, b)| b.len()).sum::<usize>() > self.max_bytes {
            entries.remove(0);
        }
    }
}

impl Executor {
    /// Compute `assignment` of `deal` in `task_dir` (wiped first).
    pub async fn compute(
        &self,
        assignment: &Assignment,
        deal: &Deal,
        task_dir: &Path,
    ) -> Result<Computation> {
        let in_dir = task_dir.join("iexec_in");
        let out_dir = task_dir.join("iexec_out");
        for dir in [&in_dir, &out_dir] {
            if dir.exists() {
                tokio::fs::remove_dir_all(dir).await?;
            }
            tokio::fs::create_dir_all(dir).await?;
        }
        let outcome = self.run(assignment, deal, &in_dir, &out_dir).await?;
        let (digest, callback_data, error) = match outcome {
            Ok(()) => {
                match read_computed(&out_dir).and_then(|c| Ok((output_digest(&c, &out_dir)?, c))) {
                    Ok((digest, computed)) => (
                        B256::from(digest),
                        computed.callback_data.map(Bytes::from),
                        None,
                    ),
                    Err(e) => {
                        let message = format!("invalid result: {e}");
                        (error_result(&out_dir, &message, None)?, None, Some(message))
                    }
                }
            }
            Err(failure) => (
                error_result(&out_dir, &failure.sentence, failure.detail.as_deref())?,
                None,
                Some(failure.sentence),
            ),
        };
        let result_location = match &self.uploads {
            Some(uploads) => {
                let zip = {
                    let out_dir = out_dir.clone();
                    tokio::task::spawn_blocking(move || zip_dir(&out_dir))
                        .await
                        .map_err(|e| Error::Fault(e.to_string()))??
                };
                let blob = uploads.upload(Bytes::from(zip), assignment.task_id).await?;
                Some(blob.url.to_string())
            }
            None => None,
        };
        Ok(Computation {
            digest,
            callback_data,
            result_location,
            error,
        })
    }

    /// Fetch and run; `Ok(Err(failure))` is an app failure (an error result, see
    /// [`app_result`]), `Err` a worker fault.
    async fn run(
        &self,
        a: &Assignment,
        deal: &Deal,
        in_dir: &Path,
        out_dir: &Path,
    ) -> Result<std::result::Result<(), Failure>> {
        let params = match RequestParams::parse(&a.params) {
            Ok(params) => params,
            Err(e) => {
                return Ok(Err(Failure {
                    sentence: "invalid request params".into(),
                    detail: Some(format!("invalid request params: {e}")),
                }))
            }
        };
        let store = self.store.as_deref();
        // the app and dataset come from their on-chain owners; input files from the requester
        let trusted = Limits {
            allow_private: true,
            ..self.limits.clone()
        };
        let app = if dexec_primitives::tag::is_container_app(&a.app_type) {
            let Some(containers) = &self.containers else {
                return Err(Error::Fault(
                    "this worker does not run container apps (start it with --containers)".into(),
                ));
            };
            match containers.image(self, a).await? {
                Ok(id) => App::Image(id),
                Err(failure) => return Ok(Err(failure)),
            }
        } else {
            // a cached app was verified against the same checksum when it was fetched
            let cached = (a.app_checksum != B256::ZERO)
                .then(|| self.apps.get(&a.app_checksum))
                .flatten();
            App::Wasm(match cached {
                Some(wasm) => wasm.as_ref().clone(),
                None => match fetch(
                    &self.http,
                    &a.app_multiaddr,
                    store,
                    a.app_checksum,
                    &trusted,
                )
                .await
                {
                    Ok(wasm) => {
                        if a.app_checksum != B256::ZERO {
                            self.apps.put(a.app_checksum, Arc::new(wasm.clone()));
                        }
                        wasm
                    }
                    Err(e) => return Ok(Err(Failure::said(format!("app: {e}")))),
                },
            })
        };
        let mut env = TaskEnv::new(a.task_id.0);
        env.deal_id = a.deal_id.0;
        env.task_index = a.index;
        env.bot_size = u64::from(deal.bot_size);
        env.bot_first_index = u64::from(deal.bot_first);
        env.clock_start_unix_secs = deal.start_time;
        if let Some(dataset) = &a.dataset {
            let name = format!("{:#x}", dataset.address);
            match fetch(
                &self.http,
                &dataset.multiaddr,
                store,
                dataset.checksum,
                &trusted,
            )
            .await
            {
                Ok(bytes) => tokio::fs::write(in_dir.join(&name), bytes).await?,
                Err(e) => return Ok(Err(Failure::said(format!("dataset: {e}")))),
            }
            env.dataset_address = Some(name.clone());
            env.dataset_filename = Some(name);
        }
        for (i, url) in params.iexec_input_files.iter().enumerate() {
            let name = hex::encode(Sha256::digest(url.as_bytes()));
            match fetch(&self.http, url, None, B256::ZERO, &self.limits).await {
                Ok(bytes) => tokio::fs::write(in_dir.join(&name), bytes).await?,
                Err(e) => return Ok(Err(Failure::said(format!("input file {}: {e}", i + 1)))),
            }
            env.input_files.push(name);
        }
        let timeout = self
            .wall_clock_override
            .unwrap_or_else(|| wall_clock_limit_for_category(u64::from(deal.timeref)));
        let runtime = match &app {
            App::Wasm(_) => "wasm",
            App::Image(_) => "oci",
        };
        let run = match app {
            App::Wasm(wasm) => {
                let mut job = Job::new(wasm, env, in_dir.to_path_buf(), out_dir.to_path_buf());
                job.args = params.iexec_args;
                job.fuel = self
                    .fuel_override
                    .unwrap_or_else(|| fuel_for_category(u64::from(deal.timeref)));
                job.timeout = timeout;
                self.runtime.clone().run_blocking(job).await?
            }
            App::Image(image) => {
                let Some(containers) = &self.containers else {
                    unreachable!("an image comes from the worker's containers")
                };
                let mut job = ContainerJob::new(image, env, in_dir, out_dir);
                job.args = params.iexec_args;
                job.timeout = timeout;
                job.limits = containers.limits;
                containers
                    .engine
                    .run(&job)
                    .await
                    .map_err(|e| Error::Fault(format!("container engine: {e}")))?
            }
        };
        tracing::debug!(target: "worker::exec", task = %a.task_id, outcome = ?run.outcome, fuel = run.fuel_consumed, elapsed_ms = run.elapsed.as_millis() as u64, "app finished");
        let (elapsed, fuel) = (run.elapsed, run.fuel_consumed);
        let result = app_result(run, timeout);
        let outcome = match &result {
            Ok(Ok(())) => "ok",
            Ok(Err(_)) => "error-result",
            Err(_) => "fault",
        };
        let fuel = (runtime == "wasm").then_some(fuel);
        self.metrics.run(runtime, outcome, elapsed, fuel);
        result
    }
}

/// What a run's outcome makes of the replicate: `Ok(Ok(()))` the app's own result,
/// `Ok(Err(message))` an error result saying why the app produced none, `Err` a worker fault.
///
/// Every way an app can fail is an error result, the wall-clock stop included: fuel (host calls
/// charged too) ends a run long before the limit on an honest worker, so an app still running
/// at the limit is one that keeps the host busy and never finishes, and every worker that stops
/// it reaches the same sentence (the limit comes from the deal's category; `docs/runtime.md`,
/// "Apps that never finish"). Were it a worker fault, nobody would
/// contribute, the task would expire and the scheduler would lose its stake to a claim. Only the
/// host failing (`HostError`) is the worker's own trouble, reported so the task is reassigned.
pub fn app_result(
    run: dexec_runtime::Run,
    wall_clock_limit: Duration,
) -> Result<std::result::Result<(), Failure>> {
    let sentence = match &run.outcome {
        Outcome::Ok { exit_code: 0 } => return Ok(Ok(())),
        Outcome::Ok { exit_code } => format!("app exited with code {exit_code}"),
        Outcome::OutOfFuel => "app ran out of fuel".into(),
        Outcome::Trap(trap) => format!("app trapped: {trap}"),
        Outcome::LimitExceeded(limit) => format!("app exceeded its {limit} limit"),
        Outcome::InvalidApp(why) => format!("invalid app: {why}"),
        Outcome::Timeout => format!(
            "app ran past its wall-clock limit of {} s",
            wall_clock_limit.as_secs()
        ),
        Outcome::HostError(e) => return Err(Error::Fault(format!("host error: {e}"))),
    };
    let detail = run_detail(&sentence, &run);
    Ok(Err(Failure {
        sentence,
        detail: Some(detail),
    }))
}

/// What a failed run leaves beside `error.txt`: the sentence, the runtime's full error, the
/// fuel and time it used, and what it wrote to stderr and stdout (as much as was kept).
fn run_detail(sentence: &str, run: &dexec_runtime::Run) -> String {
    use std::fmt::Write as _;
    let mut text = format!("{sentence}\n");
    if let Some(detail) = &run.detail {
        let _ = write!(text, "\n{}\n", detail.trim_end());
    }
    let _ = write!(
        text,
        "\nfuel used: {}\nrun time: {} ms (compilation included{})\n",
        run.fuel_consumed,
        run.elapsed.as_millis(),
        if run.cache_hit { ", module cached" } else { "" }
    );
    for (name, bytes, truncated) in [
        ("stderr", &run.stderr, run.stderr_truncated),
        ("stdout", &run.stdout, run.stdout_truncated),
    ] {
        if bytes.is_empty() {
            let _ = writeln!(text, "{name}: (nothing)");
            continue;
        }
        let kept = if truncated { ", its beginning" } else { "" };
        let _ = write!(
            text,
            "\n{name} ({} bytes{kept}):\n{}\n",
            bytes.len(),
            String::from_utf8_lossy(bytes).trim_end()
        );
    }
    text
}

/// Replace `/iexec_out` with a deterministic error result: `error.txt` holding `message`
/// and a `computed.json` naming it, and `detail` (when there is one) in `error-detail.txt`
/// beside it, outside the digest. Returns the digest (sha256 of `error.txt`).
pub fn error_result(out_dir: &Path, message: &str, detail: Option<&str>) -> Result<B256> {
    if out_dir.exists() {
        std::fs::remove_dir_all(out_dir)?;
    }
    std::fs::create_dir_all(out_dir)?;
    let file: PathBuf = out_dir.join(ERROR_FILE);
    std::fs::write(&file, format!("{ERROR_PREFIX}{message}\n"))?;
    std::fs::write(
        out_dir.join(COMPUTED_JSON),
        format!("{{\"deterministic-output-path\":\"/iexec_out/{ERROR_FILE}\"}}\n"),
    )?;
    if let Some(detail) = detail {
        std::fs::write(out_dir.join(ERROR_DETAIL_FILE), detail)?;
    }
    let digest = file_sha256(&file).map_err(|e| Error::Fault(e.to_string()))?;
    Ok(B256::from(digest))
}

/// Results up to this size queue for a batch upload; larger ones go alone.
const BATCHED_RESULT_MAX: usize = 1 << 20;

/// A result waiting to be uploaded, and where its reference goes.
type QueuedUpload = (
    Bytes,
    B256,
    tokio::sync::oneshot::Sender<Result<dexec_sdk::store::BlobRef>>,
);

/// Result uploads of a worker. Small results queue and go together in one
/// `POST /blobs/batch`: every result made while the previous request was out (no pause is
/// added: a result alone goes at once). Larger ones go alone. A batch the store cannot take
/// is retried like a single upload, then each result alone.
#[derive(Debug, Clone)]
pub struct Uploads {
    client: StoreClient,
    queue: tokio::sync::mpsc::UnboundedSender<QueuedUpload>,
}

impl Uploads {
    /// Uploads to `client`'s store; the batching task ends with the last clone.
    pub fn new(client: StoreClient) -> Self {
        let (queue, queued) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(send_batches(client.clone(), queued));
        Self { client, queue }
    }

    /// Upload the result `zip` of `task`.
    pub async fn upload(&self, zip: Bytes, task: B256) -> Result<dexec_sdk::store::BlobRef> {
        if zip.len() > BATCHED_RESULT_MAX {
            return upload_patiently(&self.client, zip, &task).await;
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        if let Err(unsent) = self.queue.send((zip, task, answer)) {
            let (zip, task, _) = unsent.0;
            return upload_patiently(&self.client, zip, &task).await;
        }
        answered
            .await
            .map_err(|_| Error::Fault("the upload queue stopped".into()))?
    }
}

/// The batching task of [`Uploads`].
async fn send_batches(
    client: StoreClient,
    mut queued: tokio::sync::mpsc::UnboundedReceiver<QueuedUpload>,
) {
    use dexec_sdk::store::{BATCH_MAX_BLOBS, BATCH_MAX_BYTES};
    let mut carried: Option<QueuedUpload> = None;
    loop {
        let first = match carried.take() {
            Some(first) => first,
            None => match queued.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let mut size = first.0.len() + 8;
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX_BLOBS {
            let Ok(next) = queued.try_recv() else { break };
            if size + next.0.len() + 8 > BATCH_MAX_BYTES {
                carried = Some(next);
                break;
            }
            size += next.0.len() + 8;
            batch.push(next);
        }
        if batch.len() == 1 {
            if let Some((zip, task, answer)) = batch.pop() {
                let _ = answer.send(upload_patiently(&client, zip, &task).await);
            }
            continue;
        }
        let zips: Vec<_> = batch.iter().map(|(zip, _, _)| zip.0.clone()).collect();
        let what = format!("{} results", zips.len());
        match patiently(&what, || client.put_many(&zips)).await {
            Ok(blobs) => {
                for ((_, _, answer), blob) in batch.into_iter().zip(blobs) {
                    let _ = answer.send(Ok(blob));
                }
            }
            Err(e) if transient(&e) => {
                // the store stayed down all the patience long: each would wait as long again
                let said = format!("the store could not take the result: {e}");
                for (_, _, answer) in batch {
                    let _ = answer.send(Err(Error::Fault(said.clone())));
                }
            }
            Err(e) => {
                // a store without batches, or one that refuses this one: each alone
                tracing::warn!(target: "worker::exec", results = batch.len(), error = %e, "the store did not take the results as a batch; uploading each alone");
                for (zip, task, answer) in batch {
                    let _ = answer.send(upload_patiently(&client, zip, &task).await);
                }
            }
        }
    }
}

/// How long a result upload is retried while the store cannot be reached or answers 5xx
/// (restarting): the computation is not thrown away for a store that is back in seconds.
const UPLOAD_PATIENCE: Duration = Duration::from_secs(120);

/// Upload `zip`, retrying transient failures for [`UPLOAD_PATIENCE`].
async fn upload_patiently(
    client: &StoreClient,
    zip: Bytes,
    task: &B256,
) -> Result<dexec_sdk::store::BlobRef> {
    let what = format!("the result of task {task}");
    Ok(patiently(&what, || client.put(zip.clone())).await?)
}

/// `call` until it succeeds, fails for good, or has failed transiently (the store down or
/// restarting) for [`UPLOAD_PATIENCE`]; said once in the log, naming `what`.
async fn patiently<T, F, Fut>(what: &str, call: F) -> std::result::Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, StoreError>>,
{
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        match call().await {
            Err(e) if transient(&e) && started.elapsed() < UPLOAD_PATIENCE => {
                if !said {
                    tracing::warn!(target: "worker::exec", error = %e, "the store cannot take {what} now; retrying");
                    said = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}

/// A store failure that may pass: no connection, or a server error.
fn transient(e: &StoreError) -> bool {
    match e {
        StoreError::Http(_) => true,
        StoreError::Status { status, .. } => *status >= 500,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `dexec_http_requests_total` lines of a service's metrics that name `route`.
    async fn requests_to(store: &str, route: &str) -> Vec<String> {
        let text = reqwest::get(format!("{store}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .filter(|l| l.starts_with("dexec_http_requests_total") && l.contains(route))
            .map(str::to_owned)
            .collect()
    }

    /// Results made at once go to the store in one request, each getting its own blob; a
    /// large one goes alone.
    #[tokio::test(flavor = "current_thread")]
    async fn results_made_together_are_uploaded_together() {
        let store = dexec_test_utils::TestStore::start().await.expect("store");
        let uploads = Uploads::new(StoreClient::new(&store.url).expect("client"));
        let zips: Vec<Bytes> = (0..5u8).map(|i| Bytes::from(vec![i; 100])).collect();
        // all five queue before the batching task runs (one thread: it runs when they wait)
        let up = |i: usize| uploads.upload(zips[i].clone(), B256::with_last_byte(i as u8));
        let (a, b, c, d, e) = tokio::join!(up(0), up(1), up(2), up(3), up(4));
        let stored = [a, b, c, d, e];
        let client = StoreClient::new(&store.url).expect("client");
        for (blob, zip) in stored.into_iter().zip(&zips) {
            let blob = blob.expect("uploaded");
            assert_eq!(client.get(&blob.id).await.expect("stored"), zip.to_vec());
        }
        let batches = requests_to(&store.url, "/blobs/batch").await;
        assert_eq!(batches.len(), 1, "{batches:?}");
        assert!(
            batches[0].ends_with(" 1"),
            "one request for five: {batches:?}"
        );
        assert!(
            requests_to(&store.url, "method=\"PUT\",route=\"/blobs/{id}\"")
                .await
                .is_empty()
        );

        let large = Bytes::from(vec![7u8; BATCHED_RESULT_MAX + 1]);
        let blob = uploads
            .upload(large.clone(), B256::ZERO)
            .await
            .expect("uploaded");
        assert_eq!(blob.size, large.len() as u64);
        let alone = requests_to(&store.url, "method=\"PUT\",route=\"/blobs/{id}\"").await;
        assert_eq!(alone.len(), 1, "the large result went alone: {alone:?}");
    }

    #[test]
    fn app_cache_keeps_the_newest_within_its_bound() {
        let cache = AppCache::with_max_bytes(10);
        let (a, b, c) = (
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            B256::repeat_byte(3),
        );
        cache.put(a, Arc::new(vec![1; 4]));
        cache.put(b, Arc::new(vec![2; 4]));
        assert_eq!(cache.get(&a).as_deref(), Some(&vec![1; 4]));
        cache.put(c, Arc::new(vec![3; 4])); // 12 bytes: the oldest goes
        assert!(cache.get(&a).is_none());
        assert_eq!(cache.get(&b).as_deref(), Some(&vec![2; 4]));
        assert_eq!(cache.get(&c).as_deref(), Some(&vec![3; 4]));
        cache.put(B256::repeat_byte(4), Arc::new(vec![4; 11])); // larger than the bound
        assert!(cache.get(&B256::repeat_byte(4)).is_none());
        assert!(cache.get(&c).is_some());
    }

    #[test]
    fn error_results_are_deterministic() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        std::fs::write(a.path().join("partial"), b"junk").expect("write");
        let da = error_result(a.path(), "app ran out of fuel", Some("on host a")).expect("a");
        let db = error_result(b.path(), "app ran out of fuel", None).expect("b");
        assert_eq!(da, db);
        assert!(!a.path().join("partial").exists());
        assert_eq!(
            da,
            B256::from_slice(&Sha256::digest(b"dexec error: app ran out of fuel\n"))
        );
        let digest = dexec_sdk::results::result_digest(a.path()).expect("digest");
        assert_eq!(
            B256::from(digest),
            da,
            "the detail beside it is not in the digest"
        );
        assert_eq!(
            std::fs::read_to_string(a.path().join(ERROR_DETAIL_FILE)).expect("detail"),
            "on host a"
        );
    }
}
