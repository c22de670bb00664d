//! Runtime benchmark (`dexec bench runtime`): start-up cost and WebAssembly speed.
//!
//! - `cold_start_ms`: compile + instantiate + run the `hello` app with an empty module cache
//!   (median of [`BenchConfig::cold_runs`]);
//! - `warm_start_ms`: the same with the module cached (median of [`BenchConfig::warm_runs`]);
//! - `wasm_vs_native_ratio`: wall time of the `pi` app with [`BenchConfig::pi_iterations`]
//!   as WebAssembly under the runtime (module cached, fuel metering and all) over the same C
//!   built natively with gcc (medians of [`BenchConfig::ratio_runs`] each). The two builds
//!   must write the same `result.txt`, which the bench checks.
//!
//! The apps come from `apps/` (`make -C apps`): `build/hello.wasm`, `build/pi.wasm`,
//! `build/native/pi`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{Job, Outcome, Runtime, RuntimeConfig, TaskEnv};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// `apps/build`: holds `hello.wasm`, `pi.wasm` and `native/pi`.
    pub apps_build_dir: PathBuf,
    /// Runs with an empty cache.
    pub cold_runs: usize,
    /// Runs with the module cached.
    pub warm_runs: usize,
    /// `pi`'s iteration count (its argument) for the speed ratio.
    pub pi_iterations: u64,
    /// Runs of each of the WebAssembly and native `pi`.
    pub ratio_runs: usize,
}

impl BenchConfig {
    /// Defaults for the apps built under `apps_build_dir`: 5 cold and 30 warm runs, 5 runs
    /// of `pi 200000000` each way (about a second natively on a current core).
    pub fn new(apps_build_dir: impl Into<PathBuf>) -> Self {
        Self {
            apps_build_dir: apps_build_dir.into(),
            cold_runs: 5,
            warm_runs: 30,
            pi_iterations: 200_000_000,
            ratio_runs: 5,
        }
    }
}

/// The measured figures.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeBench {
    /// Median milliseconds to compile, instantiate and run `hello` (empty cache).
    pub cold_start_ms: f64,
    /// Median milliseconds to instantiate and run `hello` (module cached).
    pub warm_start_ms: f64,
    /// Median milliseconds of `pi` as WebAssembly (module cached).
    pub pi_wasm_ms: f64,
    /// Median milliseconds of `pi` built natively.
    pub pi_native_ms: f64,
    /// `pi_wasm_ms / pi_native_ms` (target ≤ 1.3).
    pub wasm_vs_native_ratio: f64,
    /// `pi`'s iteration count.
    pub pi_iterations: u64,
    /// Fuel `pi` consumed (the same on every run and every machine).
    pub pi_fuel: u64,
    /// Fuel consumed per second of `pi` on this machine: calibrates
    /// [`crate::FUEL_PER_REFERENCE_SECOND`].
    pub fuel_per_second: f64,
    /// Fuel `hello` consumed.
    pub hello_fuel: u64,
}

/// Why the bench could not measure.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// An app is not built.
    #[error("{} is missing: build the apps first (`make apps` or `make -C apps`)", .0.display())]
    AppMissing(PathBuf),
    /// The runtime failed.
    #[error(transparent)]
    Runtime(#[from] crate::Error),
    /// An app did not succeed.
    #[error("{app} did not succeed: {detail}")]
    AppFailed {
        /// Which app (and build).
        app: String,
        /// The outcome or exit status.
        detail: String,
    },
    /// The WebAssembly and native builds of `pi` disagree.
    #[error("wasm and native pi wrote different results: {wasm:?} vs {native:?}")]
    Mismatch {
        /// The WebAssembly result.
        wasm: String,
        /// The native result.
        native: String,
    },
    /// A scratch directory or file could not be used.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Run the benchmark (blocking: it runs apps on the calling thread).
pub fn run(config: &BenchConfig) -> Result<RuntimeBench, BenchError> {
    let hello = read_app(&config.apps_build_dir.join("hello.wasm"))?;
    let pi = read_app(&config.apps_build_dir.join("pi.wasm"))?;
    let native_pi = config.apps_build_dir.join("native/pi");
    if !native_pi.is_file() {
        return Err(BenchError::AppMissing(native_pi));
    }
    let scratch = Scratch::new()?;
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let env = TaskEnv::new([7; 32]);

    let run = |wasm: &Arc<[u8]>, args: &str, out: &Path| -> Result<(Duration, u64), BenchError> {
        reset_dir(out)?;
        let mut job = Job::new(wasm.clone(), env.clone(), scratch.path("in"), out);
        job.args = args.to_owned();
        job.fuel = u64::MAX;
        job.timeout = Duration::from_secs(600);
        let started = Instant::now();
        let result = runtime.run(job)?;
        let elapsed = started.elapsed();
        if result.outcome != (Outcome::Ok { exit_code: 0 }) {
            return Err(BenchError::AppFailed {
                app: "wasm".into(),
                detail: format!("{:?}", result.outcome),
            });
        }
        Ok((elapsed, result.fuel_consumed))
    };

    let out = scratch.path("out");
    let mut cold = Vec::new();
    let mut hello_fuel = 0;
    for _ in 0..config.cold_runs.max(1) {
        runtime.clear_cache();
        let (elapsed, fuel) = run(&hello, "bench", &out)?;
        cold.push(elapsed);
        hello_fuel = fuel;
    }
    let mut warm = Vec::new();
    for _ in 0..config.warm_runs.max(1) {
        warm.push(run(&hello, "bench", &out)?.0);
    }

    let args = config.pi_iterations.to_string();
    run(&pi, "1000", &out)?; // compile once, outside the timings
                             // WebAssembly and native runs alternate: on a shared machine a slow spell then weighs on
                             // both sides, not on one
    let native_out = scratch.path("native");
    let mut wasm = Vec::new();
    let mut native = Vec::new();
    let mut pi_fuel = 0;
    for _ in 0..config.ratio_runs.max(1) {
        let (elapsed, fuel) = run(&pi, &args, &out)?;
        wasm.push(elapsed);
        pi_fuel = fuel;
        reset_dir(&native_out)?;
        let started = Instant::now();
        let status = Command::new(&native_pi)
            .arg(&args)
            .env_clear()
            .env("IEXEC_OUT", &native_out)
            .status()
            .map_err(|source| BenchError::Io {
                path: native_pi.clone(),
                source,
            })?;
        native.push(started.elapsed());
        if !status.success() {
            return Err(BenchError::AppFailed {
                app: "native pi".into(),
                detail: status.to_string(),
            });
        }
    }
    let wasm_result = read_text(&out.join("result.txt"))?;
    let native_result = read_text(&native_out.join("result.txt"))?;
    if wasm_result != native_result {
        return Err(BenchError::Mismatch {
            wasm: wasm_result,
            native: native_result,
        });
    }

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pi_wasm = median(&mut wasm);
    let pi_native = median(&mut native);
    Ok(RuntimeBench {
        cold_start_ms: ms(median(&mut cold)),
        warm_start_ms: ms(median(&mut warm)),
        pi_wasm_ms: ms(pi_wasm),
        pi_native_ms: ms(pi_native),
        wasm_vs_native_ratio: pi_wasm.as_secs_f64() / pi_native.as_secs_f64().max(1e-9),
        pi_iterations: config.pi_iterations,
        pi_fuel,
        fuel_per_second: pi_fuel as f64 / pi_wasm.as_secs_f64().max(1e-9),
        hello_fuel,
    })
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn read_app(path: &Path) -> Result<Arc<[u8]>, BenchError> {
    std::fs::read(path)
        .map(Arc::from)
        .map_err(|_| BenchError::AppMissing(path.to_owned()))
}

fn read_text(path: &Path) -> Result<String, BenchError> {
    std::fs::read_to_string(path).map_err(|source| BenchError::Io {
        path: path.to_owned(),
        source,
    })
}

fn reset_dir(dir: &Path) -> Result<(), BenchError> {
    let io = |source| BenchError::Io {
        path: dir.to_owned(),
        source,
    };
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    std::fs::create_dir_all(dir).map_err(io)
}

/// A scratch directory removed on drop.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Result<Self, BenchError> {
        tempfile::Builder::new()
            .prefix("dexec-bench-runtime")
            .tempdir()
            .map(Self)
            .map_err(|source| BenchError::Io {
                path: std::env::temp_dir(),
                source,
            })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}
