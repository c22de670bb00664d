//! The runtime: a deterministic wasmtime engine, a module cache and the per-task sandbox.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::{
    CallHook, Config, Engine, InstancePre, Linker, Module, Store, StoreLimitsBuilder, Trap,
};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::cache::ModuleCache;
use crate::shell::split_args;
use crate::wasi::{self, Capture, Limiter, SeededRng, State, VirtualClock, WriteBudgetExceeded};
use crate::{fuel_for_category, wall_clock_limit_for_category, Error, Result};

/// Size of the WebAssembly stack (`max_wasm_stack`): 512 KiB, wasmtime's default.
///
/// Part of the deterministic profile, so not configurable: where deep recursion overflows
/// depends on it (and on the wasmtime version and CPU architecture, which the protocol pins).
pub const WASM_STACK_BYTES: usize = 512 * 1024;

/// The virtual wall clock's default reading when an app starts: 2025-01-01T00:00:00Z.
pub const DEFAULT_CLOCK_START_UNIX_SECS: u64 = 1_735_689_600;

/// Fuel charged for every call the app makes into the host (WASI), on top of the fuel of the
/// app's own instructions: 10^5, what about 5 µs of compute-bound work costs on the reference
/// core (`docs/runtime.md`, "Fuel and categories").
///
/// wasmtime counts only WebAssembly operators, so without it an app looping on a cheap host
/// call (reading an empty stdin, sleeping on the virtual clock) spends fuel a thousand times
/// slower than one that computes and would reach the wall-clock limit instead of running out
/// of fuel. The number of host calls is a function of the app and its inputs, so the charge
/// is the same on every worker. Part of the deterministic profile (it moves where `OutOfFuel`
/// falls), so not configurable.
pub const HOST_CALL_FUEL: u64 = 100_000;

/// Default memory limit of an app: 256 MiB of linear memory.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;

/// How a run ended. Every variant but [`Outcome::Timeout`] and [`Outcome::HostError`] is a
/// deterministic function of the app, its inputs and the limits: every honest worker gets the
/// same one. All but [`Outcome::HostError`] are the app's doing and end in a result the worker
/// contributes (an error result for all but a zero exit); `HostError` is the worker's own
/// fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Outcome {
    /// The app ran to completion: returned from `_start` (exit code 0) or called `proc_exit`.
    /// A non-zero code is an app error, but a deterministic one.
    Ok {
        /// The exit code (0 = success).
        exit_code: i32,
    },
    /// The fuel budget ran out (deterministic: fuel counts instructions, not time).
    OutOfFuel,
    /// The app trapped: the wasm trap's description (e.g. `call stack exhausted`,
    /// `wasm \`unreachable\` instruction executed`).
    Trap(String),
    /// The app went past a limit.
    LimitExceeded(Limit),
    /// The module cannot run: not valid WebAssembly, imports something dexec does not
    /// provide, or has no `_start` (not a WASI command).
    InvalidApp(String),
    /// The wall-clock deadline ([`Job::timeout`]) passed (epoch interruption). Not a function
    /// of the app alone (a much slower host gets there sooner), but the app's doing: fuel, with
    /// [`HOST_CALL_FUEL`] per host call, stops compute and host-call loops long before it, and
    /// no host call blocks, so only an app that keeps the host busy (large host calls) gets
    /// here; workers contribute an error result naming the limit, which every worker of the
    /// task shares ([`crate::wall_clock_limit_for_category`]).
    Timeout,
    /// The host failed while running the app: a worker fault, never a result.
    HostError(String),
}

impl Outcome {
    /// Whether every honest worker reaches this same outcome, whatever its speed.
    pub fn is_deterministic(&self) -> bool {
        !matches!(self, Self::Timeout | Self::HostError(_))
    }

    /// Whether the host, not the app, failed ([`Outcome::HostError`]): the one outcome that
    /// gives no result (the worker reports its fault and the task goes to another worker).
    pub fn is_host_fault(&self) -> bool {
        matches!(self, Self::HostError(_))
    }

    /// Whether the app completed with exit code 0.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Ok { exit_code: 0 })
    }
}

/// A limit an app can exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// Linear memory ([`Job::memory_limit`]); growth past it traps.
    Memory,
    /// Table elements.
    TableElements,
    /// Bytes written to files during the run ([`OutputLimits::max_written_bytes`]).
    WrittenBytes,
    /// Total size of `/iexec_out` after the run ([`OutputLimits::max_bytes`]).
    OutputBytes,
    /// Number of entries in `/iexec_out` after the run ([`OutputLimits::max_entries`]).
    OutputEntries,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Memory => "memory",
            Self::TableElements => "table elements",
            Self::WrittenBytes => "bytes written",
            Self::OutputBytes => "output size",
            Self::OutputEntries => "output entries",
        })
    }
}

/// Limits on what an app leaves in `/iexec_out`. Part of the result's definition: every worker
/// of a task must use the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// Total size of the regular files in `/iexec_out` after the run.
    pub max_bytes: u64,
    /// Number of files and directories in `/iexec_out` after the run.
    pub max_entries: u64,
    /// Bytes the app may write to files during the run (rewrites count again); stops the run
    /// as soon as it is passed, so an app cannot fill the worker's disk.
    pub max_written_bytes: u64,
}

impl Default for OutputLimits {
    /// 64 MiB and 4,096 entries in `/iexec_out`, 256 MiB written.
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            max_entries: 4096,
            max_written_bytes: 256 << 20,
        }
    }
}

/// What the app sees of its task, as iExec's environment variables (DESIGN §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEnv {
    /// `IEXEC_TASK_ID` (0x-hex); also seeds the app's random source.
    pub task_id: [u8; 32],
    /// `IEXEC_DEAL_ID` (0x-hex).
    pub deal_id: [u8; 32],
    /// `IEXEC_TASK_INDEX` and `IEXEC_BOT_TASK_INDEX`: the task's index in its deal.
    pub task_index: u64,
    /// `IEXEC_BOT_SIZE`: the number of tasks of the deal.
    pub bot_size: u64,
    /// `IEXEC_BOT_FIRST_INDEX`: the index of the deal's first task.
    pub bot_first_index: u64,
    /// `IEXEC_DATASET_ADDRESS` (0x-hex), empty without a dataset.
    pub dataset_address: Option<String>,
    /// `IEXEC_DATASET_FILENAME`: the dataset's file name in `/iexec_in`, empty without one.
    pub dataset_filename: Option<String>,
    /// `IEXEC_INPUT_FILE_NAME_<n>` (1-based) and `IEXEC_INPUT_FILES_NUMBER`: input files'
    /// names in `/iexec_in`.
    pub input_files: Vec<String>,
    /// The virtual wall clock's reading when the app starts, in Unix seconds. Every worker of
    /// a task must pass the same value: the deal's on-chain start time, or
    /// [`DEFAULT_CLOCK_START_UNIX_SECS`].
    pub clock_start_unix_secs: u64,
}

impl TaskEnv {
    /// A task environment with the given task id and everything else empty: deal id zero,
    /// index 0 of a bag of 1, no dataset, no input files, the default clock start.
    pub fn new(task_id: [u8; 32]) -> Self {
        Self {
            task_id,
            deal_id: [0; 32],
            task_index: 0,
            bot_size: 1,
            bot_first_index: 0,
            dataset_address: None,
            dataset_filename: None,
            input_files: Vec::new(),
            clock_start_unix_secs: DEFAULT_CLOCK_START_UNIX_SECS,
        }
    }

    /// The environment variables, in a fixed order.
    pub fn vars(&self) -> Vec<(String, String)> {
        let hex32 = |b: &[u8; 32]| format!("0x{}", hex::encode(b));
        let mut vars = vec![
            ("IEXEC_IN".to_owned(), GUEST_IN.to_owned()),
            ("IEXEC_OUT".to_owned(), GUEST_OUT.to_owned()),
            ("IEXEC_TASK_ID".to_owned(), hex32(&self.task_id)),
            ("IEXEC_DEAL_ID".to_owned(), hex32(&self.deal_id)),
            ("IEXEC_TASK_INDEX".to_owned(), self.task_index.to_string()),
            ("IEXEC_BOT_SIZE".to_owned(), self.bot_size.to_string()),
            (
                "IEXEC_BOT_FIRST_INDEX".to_owned(),
                self.bot_first_index.to_string(),
            ),
            (
                "IEXEC_BOT_TASK_INDEX".to_owned(),
                self.task_index.to_string(),
            ),
            (
                "IEXEC_DATASET_ADDRESS".to_owned(),
                self.dataset_address.clone().unwrap_or_default(),
            ),
            (
                "IEXEC_DATASET_FILENAME".to_owned(),
                self.dataset_filename.clone().unwrap_or_default(),
            ),
            ("IEXEC_INPUT_FILES_FOLDER".to_owned(), GUEST_IN.to_owned()),
            (
                "IEXEC_INPUT_FILES_NUMBER".to_owned(),
                self.input_files.len().to_string(),
            ),
        ];
        for (i, name) in self.input_files.iter().enumerate() {
            vars.push((format!("IEXEC_INPUT_FILE_NAME_{}", i + 1), name.clone()));
        }
        vars
    }
}

/// Where the app finds its inputs (read-only) and writes its outputs.
const GUEST_IN: &str = "/iexec_in";
const GUEST_OUT: &str = "/iexec_out";

/// One run of an app for a task.
#[derive(Debug, Clone)]
pub struct Job {
    /// The app's WebAssembly module (binary). Compiled once per runtime and cached by its
    /// sha256.
    pub wasm: Arc<[u8]>,
    /// `argv[0]`.
    pub app_name: String,
    /// The request's `iexec_args`, split like a shell does ([`crate::split_args`]) into
    /// `argv[1..]`.
    pub args: String,
    /// The task the app runs for.
    pub env: TaskEnv,
    /// Host directory preopened read-only as `/iexec_in` (created if missing).
    pub input_dir: PathBuf,
    /// Host directory preopened read-write as `/iexec_out` (created if missing).
    pub output_dir: PathBuf,
    /// Fuel budget (see [`crate::fuel_for_category`]).
    pub fuel: u64,
    /// Linear memory limit in bytes.
    pub memory_limit: usize,
    /// Wall-clock deadline; past it the run stops with [`Outcome::Timeout`] (see
    /// [`crate::wall_clock_limit_for_category`]).
    pub timeout: Duration,
    /// Limits on `/iexec_out`.
    pub output_limits: OutputLimits,
}

impl Job {
    /// A job with the XS category's fuel and wall-clock limit (time reference 300 s: see
    /// [`crate::fuel_for_category`] and [`crate::wall_clock_limit_for_category`]),
    /// [`DEFAULT_MEMORY_LIMIT`], default output limits, app name `app` and no arguments.
    pub fn new(
        wasm: impl Into<Arc<[u8]>>,
        env: TaskEnv,
        input_dir: impl Into<PathBuf>,
        output_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            wasm: wasm.into(),
            app_name: "app".to_owned(),
            args: String::new(),
            env,
            input_dir: input_dir.into(),
            output_dir: output_dir.into(),
            fuel: fuel_for_category(300),
            memory_limit: DEFAULT_MEMORY_LIMIT,
            timeout: wall_clock_limit_for_category(300),
            output_limits: OutputLimits::default(),
        }
    }
}

/// What a run produced besides `/iexec_out`.
#[derive(Debug, Clone)]
pub struct Run {
    /// How it ended.
    pub outcome: Outcome,
    /// When it ended in an error: the error's full text (a compiler's multi-line message, a
    /// trap's wasm backtrace). For people, not for consensus: it may differ between hosts.
    pub detail: Option<String>,
    /// Fuel used (deterministic: the same on every worker for the same task).
    pub fuel_consumed: u64,
    /// The first [`RuntimeConfig::stdio_capture_bytes`] bytes the app wrote to stdout.
    pub stdout: Vec<u8>,
    /// Whether stdout was longer than what was kept.
    pub stdout_truncated: bool,
    /// The first [`RuntimeConfig::stdio_capture_bytes`] bytes the app wrote to stderr.
    pub stderr: Vec<u8>,
    /// Whether stderr was longer than what was kept.
    pub stderr_truncated: bool,
    /// sha256 of the module's bytes.
    pub module_digest: [u8; 32],
    /// Whether the compiled module came from the cache.
    pub cache_hit: bool,
    /// Wall time of the whole run, compilation included (not deterministic).
    pub elapsed: Duration,
}

/// Worker-local settings: none of them changes what an app computes.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// How many compiled modules to keep (least recently used out first).
    pub module_cache_capacity: usize,
    /// How much of stdout and of stderr to keep per run.
    pub stdio_capture_bytes: usize,
    /// Period of the epoch ticker that enforces [`Job::timeout`] (its precision).
    pub epoch_tick: Duration,
}

impl Default for RuntimeConfig {
    /// 32 cached modules, 64 KiB of stdout/stderr, a 10 ms epoch tick.
    fn default() -> Self {
        Self {
            module_cache_capacity: 32,
            stdio_capture_bytes: 64 << 10,
            epoch_tick: Duration::from_millis(10),
        }
    }
}

/// Runs apps. Cheap to share (`Arc<Runtime>`); runs may proceed concurrently on several
/// threads.
pub struct Runtime {
    engine: Engine,
    /// wasmtime-wasi's preview 1 functions with dexec's overrides on top.
    linker: Linker<State>,
    cache: ModuleCache,
    config: RuntimeConfig,
    /// Dropping it stops the epoch ticker thread.
    _ticker: mpsc::Sender<()>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .field("cached_modules", &self.cache.len())
            .finish_non_exhaustive()
    }
}

/// The engine configuration every worker uses (see `docs/runtime.md`).
pub(crate) fn deterministic_config() -> Config {
    let mut config = Config::new();
    config
        .strategy(wasmtime::Strategy::Cranelift)
        // NaN bit patterns are the one non-determinism of scalar/SIMD floats.
        .cranelift_nan_canonicalization(true)
        // No shared memory, no atomics waiting on other threads.
        .wasm_threads(false)
        .wasm_shared_everything_threads(false)
        // Relaxed SIMD results are otherwise allowed to depend on the CPU.
        .relaxed_simd_deterministic(true)
        .max_wasm_stack(WASM_STACK_BYTES)
        .consume_fuel(true)
        .epoch_interruption(true);
    config
}

impl Runtime {
    /// Build the engine, link WASI preview 1 and start the epoch ticker thread.
    pub fn new(config: RuntimeConfig) -> Result<Self> {
        let engine =
            Engine::new(&deterministic_config()).map_err(|e| Error::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut State| &mut s.wasi)
            .map_err(|e| Error::Linker(e.to_string()))?;
        linker.allow_shadowing(true);
        wasi::add_overrides(&mut linker).map_err(|e| Error::Linker(e.to_string()))?;

        let (stop, ticks) = mpsc::channel::<()>();
        let ticker_engine = engine.clone();
        let tick = config.epoch_tick;
        std::thread::Builder::new()
            .name("dexec-epoch".into())
            .spawn(move || {
                // Ends when the runtime (the sender) is dropped.
                while let Err(mpsc::RecvTimeoutError::Timeout) = ticks.recv_timeout(tick) {
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(|e| Error::Engine(format!("cannot spawn the epoch thread: {e}")))?;

        Ok(Self {
            engine,
            linker,
            cache: ModuleCache::new(config.module_cache_capacity),
            config,
            _ticker: stop,
        })
    }

    /// The wasmtime engine (deterministic configuration).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Number of compiled modules in the cache.
    pub fn cached_modules(&self) -> usize {
        self.cache.len()
    }

    /// Empty the module cache (the next run of each app compiles it again).
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    /// Compile and link `wasm` (or take it from the cache). `Err` is the reason the app
    /// cannot run, a deterministic [`Outcome::InvalidApp`].
    fn prepare(
        &self,
        wasm: &[u8],
        digest: [u8; 32],
    ) -> Result<(InstancePre<State>, bool), Invalid> {
        if let Some(pre) = self.cache.get(&digest) {
            return Ok((pre, true));
        }
        let module = Module::from_binary(&self.engine, wasm)
            .map_err(|e| Invalid::new("not a WebAssembly module dexec can compile: ", &e))?;
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| Invalid::new("", &e))?;
        self.cache.insert(digest, pre.clone());
        Ok((pre, false))
    }

    /// Whether `wasm` is an app this runtime can run: valid WebAssembly that compiles here,
    /// imports only what dexec provides (WASI preview 1) and exports `_start` taking and
    /// returning nothing (a WASI command). `Err` is the one-line reason, the sentence a run
    /// of it would end with ([`Outcome::InvalidApp`]).
    ///
    /// Check an app before registering it: apps are immutable, so every run of one that cannot
    /// run is a paid error result.
    pub fn check_module(&self, wasm: &[u8]) -> std::result::Result<(), String> {
        let digest: [u8; 32] = Sha256::digest(wasm).into();
        let (pre, _) = self.prepare(wasm, digest).map_err(|i| i.sentence)?;
        match pre.module().get_export("_start") {
            Some(wasmtime::ExternType::Func(f))
                if f.params().len() == 0 && f.results().len() == 0 =>
            {
                Ok(())
            }
            Some(_) => Err(
                "not a WASI command: `_start` is not a function without parameters \
                            or results"
                    .into(),
            ),
            None => Err("not a WASI command: it exports no `_start`".into()),
        }
    }

    /// Run `job` to the end. **Blocking** (compiles and executes the app on the calling
    /// thread): call it from `tokio::task::spawn_blocking` or a plain thread, never directly
    /// on an async runtime's worker (see [`Runtime::run_blocking`]). The thread needs the usual
    /// 2 MiB of stack (the wasm stack is [`WASM_STACK_BYTES`]).
    ///
    /// `Err` means the run could not be set up (task directories); everything the app does
    /// is in [`Run::outcome`].
    pub fn run(&self, job: Job) -> Result<Run> {
        let started = Instant::now();
        let module_digest: [u8; 32] = Sha256::digest(&job.wasm).into();
        for dir in [&job.input_dir, &job.output_dir] {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                what: "cannot create task directory",
                path: dir.clone(),
                source,
            })?;
        }
        let stdout = Capture::new(self.config.stdio_capture_bytes);
        let stderr = Capture::new(self.config.stdio_capture_bytes);
        let finish =
            |outcome: Outcome, detail: Option<String>, fuel_consumed: u64, cache_hit: bool| {
                let (stdout, stdout_truncated) = stdout.take();
                let (stderr, stderr_truncated) = stderr.take();
                Run {
                    outcome,
                    detail,
                    fuel_consumed,
                    stdout,
                    stdout_truncated,
                    stderr,
                    stderr_truncated,
                    module_digest,
                    cache_hit,
                    elapsed: started.elapsed(),
                }
            };

        let (pre, cache_hit) = match self.prepare(&job.wasm, module_digest) {
            Ok(prepared) => prepared,
            Err(invalid) => {
                return Ok(finish(
                    Outcome::InvalidApp(invalid.sentence),
                    Some(invalid.detail),
                    0,
                    false,
                ))
            }
        };

        let mut store = self.store(&job, &stdout, &stderr)?;
        let (outcome, detail) = self.execute(&mut store, &pre);
        let remaining = store.get_fuel().unwrap_or(0);
        let fuel_consumed = job.fuel.saturating_sub(remaining);
        drop(store);

        let outcome = match outcome {
            Outcome::Ok { .. } => match check_output(&job.output_dir, &job.output_limits)? {
                Some(limit) => Outcome::LimitExceeded(limit),
                None => outcome,
            },
            other => other,
        };
        tracing::debug!(
            target: "runtime::run",
            task = %hex::encode(job.env.task_id),
            ?outcome,
            fuel_consumed,
            cache_hit,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "app finished"
        );
        Ok(finish(outcome, detail, fuel_consumed, cache_hit))
    }

    /// [`Runtime::run`] on tokio's blocking thread pool.
    pub async fn run_blocking(self: Arc<Self>, job: Job) -> Result<Run> {
        tokio::task::spawn_blocking(move || self.run(job))
            .await
            .map_err(|e| Error::Join(e.to_string()))?
    }

    /// A store with the job's WASI context, limits, fuel and deadline.
    fn store(&self, job: &Job, stdout: &Capture, stderr: &Capture) -> Result<Store<State>> {
        let clock = VirtualClock::new(Duration::from_secs(job.env.clock_start_unix_secs));
        let mut argv = vec![job.app_name.clone()];
        argv.extend(split_args(&job.args));

        let mut wasi = WasiCtxBuilder::new();
        wasi.args(&argv)
            .envs(&job.env.vars())
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(clock.clone())
            .monotonic_clock(clock.clone())
            .secure_random(SeededRng::new(b"dexec.random.secure", &job.env.task_id))
            .insecure_random(SeededRng::new(b"dexec.random.insecure", &job.env.task_id))
            .insecure_random_seed(seed_u128(&job.env.task_id))
            // runs are on a blocking thread already: no need to hop to tokio's pool for I/O
            .allow_blocking_current_thread(true);
        let preopen = |wasi: &mut WasiCtxBuilder, host: &Path, guest: &str, perms| {
            wasi.preopened_dir(host, guest, perms)
                .map(|_| ())
                .map_err(|e| Error::Io {
                    what: "cannot preopen",
                    path: host.to_owned(),
                    source: std::io::Error::other(e.to_string()),
                })
        };
        preopen(&mut wasi, &job.input_dir, GUEST_IN, FsPerms::ReadOnly)?;
        preopen(&mut wasi, &job.output_dir, GUEST_OUT, FsPerms::ReadWrite)?;

        let limits = StoreLimitsBuilder::new()
            .memory_size(job.memory_limit)
            .table_elements(1 << 20)
            .instances(4)
            .memories(4)
            .tables(4)
            .trap_on_grow_failure(true)
            .build();
        let state = State {
            wasi: wasi.build_p1(),
            limiter: Limiter::new(limits),
            clock,
            written: 0,
            max_written: job.output_limits.max_written_bytes,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store
            .set_fuel(job.fuel)
            .map_err(|e| Error::Engine(e.to_string()))?;
        store.call_hook(|mut store, hook| {
            if matches!(hook, CallHook::CallingHost) {
                let left = store.get_fuel()?;
                store.set_fuel(left.saturating_sub(HOST_CALL_FUEL))?;
            }
            Ok(())
        });
        let tick = self.config.epoch_tick.as_nanos().max(1);
        let ticks = job.timeout.as_nanos().div_ceil(tick) + 1;
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();

        Ok(store)
    }

    /// Instantiate and call `_start`, then classify how it ended; with the error's full text
    /// (wasm backtrace included) when it ended in one.
    fn execute(
        &self,
        store: &mut Store<State>,
        pre: &InstancePre<State>,
    ) -> (Outcome, Option<String>) {
        let instance = match pre.instantiate(&mut *store) {
            Ok(instance) => instance,
            Err(e) => return (classify(&e, store.data()), Some(format!("{e:?}"))),
        };
        let start = match instance.get_typed_func::<(), ()>(&mut *store, "_start") {
            Ok(start) => start,
            Err(e) => {
                let invalid = Invalid::new("not a WASI command (no `_start`): ", &e);
                return (Outcome::InvalidApp(invalid.sentence), Some(invalid.detail));
            }
        };
        match start.call(&mut *store, ()) {
            Ok(()) => (Outcome::Ok { exit_code: 0 }, None),
            Err(e) => {
                let outcome = classify(&e, store.data());
                // an exit code is a sentence of its own; anything else has a story to tell
                let detail = (!matches!(outcome, Outcome::Ok { .. })).then(|| format!("{e:?}"));
                (outcome, detail)
            }
        }
    }
}

/// Why a module cannot run: the one-line sentence every worker agrees on, and the compiler's
/// or linker's full text.
struct Invalid {
    sentence: String,
    detail: String,
}

impl Invalid {
    fn new(prefix: &str, error: &wasmtime::Error) -> Self {
        Self {
            sentence: one_line(&format!("{prefix}{error:#}")),
            detail: format!("{prefix}{error:?}"),
        }
    }
}

/// `text` on one line: line breaks and runs of blanks become single spaces (wasmtime's
/// parse errors span lines; an error result's sentence must not).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Map an error out of wasm to an [`Outcome`].
fn classify(error: &wasmtime::Error, state: &State) -> Outcome {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Outcome::Ok { exit_code: exit.0 };
    }
    if let Some(limit) = state.limiter.hit {
        return Outcome::LimitExceeded(limit);
    }
    if error.downcast_ref::<WriteBudgetExceeded>().is_some() {
        return Outcome::LimitExceeded(Limit::WrittenBytes);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Outcome::OutOfFuel,
        Some(Trap::Interrupt) => Outcome::Timeout,
        // the trap code's fixed description only: backtraces carry addresses
        Some(trap) => {
            let text = trap.to_string();
            Outcome::Trap(text.strip_prefix("wasm trap: ").unwrap_or(&text).to_owned())
        }
        None => Outcome::HostError(format!("{error:#}")),
    }
}

fn seed_u128(task_id: &[u8; 32]) -> u128 {
    let digest: [u8; 32] = Sha256::new()
        .chain_update(b"dexec.random.seed")
        .chain_update(task_id)
        .finalize()
        .into();
    let mut seed = [0u8; 16];
    seed.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(seed)
}

/// Walk `/iexec_out` (without following links) and return the first limit it exceeds.
pub(crate) fn check_output(dir: &Path, limits: &OutputLimits) -> Result<Option<Limit>> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io {
            what: "cannot read output",
            path,
            source,
        }
    };
    let mut bytes: u64 = 0;
    let mut entries: u64 = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let meta = std::fs::symlink_metadata(entry.path()).map_err(io(&entry.path()))?;
            entries += 1;
            if entries > limits.max_entries {
                return Ok(Some(Limit::OutputEntries));
            }
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                bytes = bytes.saturating_add(meta.len());
                if bytes > limits.max_bytes {
                    return Ok(Some(Limit::OutputBytes));
                }
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_has_iexec_names_in_order() {
        let mut env = TaskEnv::new([0xab; 32]);
        env.input_files = vec!["a".into(), "b".into()];
        env.dataset_filename = Some("0xdata".into());
        let vars = env.vars();
        let get = |k: &str| {
            vars.iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("IEXEC_TASK_ID"),
            Some(format!("0x{}", "ab".repeat(32)).as_str())
        );
        assert_eq!(get("IEXEC_INPUT_FILES_NUMBER"), Some("2"));
        assert_eq!(get("IEXEC_INPUT_FILE_NAME_2"), Some("b"));
        assert_eq!(get("IEXEC_DATASET_FILENAME"), Some("0xdata"));
        assert_eq!(get("IEXEC_DATASET_ADDRESS"), Some(""));
        assert_eq!(get("IEXEC_OUT"), Some("/iexec_out"));
    }

    #[test]
    fn deterministic_outcomes() {
        assert!(Outcome::OutOfFuel.is_deterministic());
        assert!(Outcome::Ok { exit_code: 3 }.is_deterministic());
        assert!(!Outcome::Ok { exit_code: 3 }.is_success());
        assert!(!Outcome::Timeout.is_deterministic());
        assert!(!Outcome::Timeout.is_host_fault());
        assert!(!Outcome::HostError("x".into()).is_deterministic());
        assert!(Outcome::HostError("x".into()).is_host_fault());
        assert!(!Outcome::OutOfFuel.is_host_fault());
        let json = serde_json::to_string(&Outcome::LimitExceeded(Limit::Memory)).expect("json");
        assert_eq!(json, r#"{"kind":"limit_exceeded","detail":"memory"}"#);
    }

    #[test]
    fn output_limits_count_bytes_and_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/a"), [0u8; 10]).expect("write");
        std::fs::write(dir.path().join("b"), [0u8; 10]).expect("write");
        let limits = |max_bytes, max_entries| OutputLimits {
            max_bytes,
            max_entries,
            max_written_bytes: 0,
        };
        assert_eq!(
            check_output(dir.path(), &limits(20, 3)).expect("walk"),
            None
        );
        assert_eq!(
            check_output(dir.path(), &limits(19, 3)).expect("walk"),
            Some(Limit::OutputBytes)
        );
        assert_eq!(
            check_output(dir.path(), &limits(20, 2)).expect("walk"),
            Some(Limit::OutputEntries)
        );
    }
}
