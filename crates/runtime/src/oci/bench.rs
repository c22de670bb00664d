//! Container figures of `dexec bench runtime`:
//!
//! - `oci_cold_start_ms`: the probe image already loaded, one container created, run to exit
//!   (`exit 0`) and removed, `/iexec_out` collected: what every container task pays (median);
//! - `oci_vs_native_ratio`: the `pi` kernel built statically (`apps/build/static/pi`) as a
//!   container's only file, its run time less the median start, over the same binary run
//!   natively (medians); `oci_vs_native_with_start` keeps the start in.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{archive, probe_archive, ContainerJob, Engine};
use crate::{Outcome, TaskEnv};

/// The measured container figures.
#[derive(Debug, Clone, Serialize)]
pub struct OciBench {
    /// Median milliseconds to create, run to exit and remove a no-op container.
    pub oci_cold_start_ms: f64,
    /// Median milliseconds of static `pi` in a container, start included.
    pub pi_container_ms: f64,
    /// Median milliseconds of the same binary run natively.
    pub pi_static_native_ms: f64,
    /// `(pi_container_ms − oci_cold_start_ms) / pi_static_native_ms` (target ≤ 1.1).
    pub oci_vs_native_ratio: f64,
    /// `pi_container_ms / pi_static_native_ms`.
    pub oci_vs_native_with_start: f64,
}

/// Measure with `engine`: `runs` of each, `pi_iterations` for the kernel, the static `pi` in
/// `apps_build_dir/static/pi`. `Err` is a sentence (no engine, no static build, a failed run).
pub async fn run(
    engine: &Engine,
    apps_build_dir: &Path,
    pi_iterations: u64,
    runs: usize,
) -> Result<OciBench, String> {
    let pi_path = apps_build_dir.join("static/pi");
    let pi = std::fs::read(&pi_path).map_err(|_| {
        format!(
            "{} is missing: build the apps first (`make apps`)",
            pi_path.display()
        )
    })?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let load = |name: &str, bytes: Vec<u8>| {
        let path = scratch.path().join(format!("{name}.tar"));
        async move {
            let info = archive::verify(&bytes[..], None).map_err(|e| e.to_string())?;
            std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
            engine
                .load_app(&path, info.manifest_digest)
                .await
                .map_err(|e| e.to_string())
        }
    };
    let probe = load("probe", probe_archive()).await?;
    let kernel = archive::write_single_layer(&[("pi", 0o755, &pi)], &["/pi"], "dexec-bench-pi")
        .map_err(|e| e.to_string())?;
    let kernel = load("pi", kernel).await?;

    let runs = runs.max(1);
    let timed = |image: String, args: String, dir: PathBuf| async move {
        let _ = std::fs::remove_dir_all(&dir);
        let mut job = ContainerJob::new(
            image,
            TaskEnv::new([7; 32]),
            dir.join("in"),
            dir.join("out"),
        );
        job.args = args;
        job.timeout = Duration::from_secs(600);
        let started = Instant::now();
        let run = engine.run(&job).await.map_err(|e| e.to_string())?;
        let elapsed = started.elapsed();
        if run.outcome != (Outcome::Ok { exit_code: 0 }) {
            return Err(format!(
                "the container run failed: {:?} {}",
                run.outcome,
                String::from_utf8_lossy(&run.stderr)
            ));
        }
        let result = std::fs::read_to_string(dir.join("out/result.txt")).unwrap_or_default();
        Ok::<_, String>((elapsed, result))
    };
    let mut cold = Vec::new();
    for i in 0..runs {
        let dir = scratch.path().join(format!("cold-{i}"));
        cold.push(timed(probe.clone(), "exit 0".into(), dir).await?.0);
    }
    let args = pi_iterations.to_string();
    let mut container = Vec::new();
    let mut container_result = String::new();
    for i in 0..runs {
        let dir = scratch.path().join(format!("pi-{i}"));
        let (elapsed, result) = timed(kernel.clone(), args.clone(), dir).await?;
        container.push(elapsed);
        container_result = result;
    }
    let mut native = Vec::new();
    let out = scratch.path().join("native");
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let status = tokio::process::Command::new(&pi_path)
            .arg(&args)
            .env_clear()
            .env("IEXEC_OUT", &out)
            .status()
            .await
            .map_err(|e| format!("{}: {e}", pi_path.display()))?;
        native.push(started.elapsed());
        if !status.success() {
            return Err(format!("native pi failed: {status}"));
        }
    }
    let native_result = std::fs::read_to_string(out.join("result.txt")).unwrap_or_default();
    if native_result != container_result {
        return Err(format!(
            "the container and native pi disagree: {container_result:?} vs {native_result:?}"
        ));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let start = ms(median(&mut cold));
    let in_container = ms(median(&mut container));
    let natively = ms(median(&mut native)).max(1e-6);
    Ok(OciBench {
        oci_cold_start_ms: start,
        pi_container_ms: in_container,
        pi_static_native_ms: natively,
        oci_vs_native_ratio: (in_container - start).max(0.0) / natively,
        oci_vs_native_with_start: in_container / natively,
    })
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}
