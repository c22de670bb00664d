//! `dexec bench runtime`: start-up cost and speed of the WebAssembly runtime.
//!
//! Runs the example apps of `apps/` (built by `make apps`) through `dexec-runtime` exactly as a
//! worker does (deterministic configuration, fuel metering, WASI sandbox) and, for the speed
//! ratio, the same C built natively. The measuring itself is `dexec_runtime::bench`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use dexec_runtime::bench::{BenchConfig, RuntimeBench};
use eyre::WrapErr;
use serde::Serialize;

/// Long help of `dexec bench runtime`.
pub const LONG_ABOUT: &str = "\
Measure the WebAssembly runtime: start-up cost and speed against native code.

Uses the example apps built by `make apps` (apps/build):
  cold_start_ms         compile + instantiate + run `hello` with an empty module cache (median)
  warm_start_ms         instantiate + run `hello` with the module cached (median)
  pi_wasm_ms            `pi N` (Monte-Carlo pi, integer arithmetic) as WebAssembly, cached
  pi_native_ms          the same C compiled natively with gcc -O2, as a process
  wasm_vs_native_ratio  pi_wasm_ms / pi_native_ms (target <= 1.3)
  fuel_per_second       fuel `pi` consumed per second here (calibrates the category budgets)
Both pi builds must write the same result.txt (checked). Times are wall-clock medians.

Container apps (when podman with runc runs here as root: the worker's self-check):
  oci_cold_start_ms         a no-op container created, run to exit and removed, its image
                            already loaded, /iexec_out collected (median; target <= 1000)
  oci_vs_native_ratio       the same pi kernel built statically, as a container's only file,
                            its run time less oci_cold_start_ms over the binary run natively
                            (target <= 1.1); oci_vs_native_with_start keeps the start in
There is no warm start: every task gets a fresh container (no reuse between tasks).
Prints a table and writes {\"figures\", \"targets\", \"notes\", \"config\"} as JSON.";

/// Arguments of `dexec bench runtime`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the figures as JSON (directories are created).
    #[arg(long, default_value = "target/bench/runtime.json", value_name = "FILE")]
    out: PathBuf,
    /// Directory of the built example apps (`make apps`).
    #[arg(long, default_value = "apps/build", value_name = "DIR")]
    apps: PathBuf,
    /// Iterations of `pi` for the speed ratio.
    #[arg(long, default_value_t = 200_000_000)]
    pi_iterations: u64,
    /// Runs of each pi build (the median is kept).
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

/// Upper bound of the WebAssembly/native speed ratio.
const RATIO_TARGET: f64 = 1.3;

/// Targets of the figures that have one (`≤`).
const TARGETS: [(&str, f64); 3] = [
    ("wasm_vs_native_ratio", RATIO_TARGET),
    ("oci_cold_start_ms", 1000.0),
    ("oci_vs_native_ratio", 1.1),
];

/// The JSON written under `target/bench/`.
#[derive(Debug, Serialize)]
struct Report {
    figures: BTreeMap<&'static str, f64>,
    targets: BTreeMap<&'static str, f64>,
    notes: BTreeMap<&'static str, &'static str>,
    config: BTreeMap<&'static str, u64>,
}

/// Run `dexec bench runtime`.
pub async fn run(args: Args) -> eyre::Result<()> {
    let config = BenchConfig {
        pi_iterations: args.pi_iterations,
        ratio_runs: args.runs,
        ..BenchConfig::new(&args.apps)
    };
    let cfg = config.clone();
    // CPU-bound and blocking: off the async runtime
    let bench = tokio::task::spawn_blocking(move || dexec_runtime::bench::run(&cfg))
        .await
        .wrap_err("runtime bench task failed")?
        .wrap_err("runtime bench failed")?;
    tracing::debug!(target: "bench", ?bench, "measured");

    crate::outln!(
        "runtime (wasmtime, deterministic profile; medians of wall time; pi {} iterations)\n",
        args.pi_iterations
    );
    let mut rows = figures(&bench);
    let engine = dexec_runtime::oci::Engine::podman();
    let scratch = tempfile::tempdir()?;
    let containers = match engine.self_check(scratch.path()).await {
        Ok(_) => {
            dexec_runtime::oci::bench::run(&engine, &args.apps, args.pi_iterations, args.runs).await
        }
        Err(why) => Err(why),
    };
    match &containers {
        Ok(oci) => rows.extend(oci_figures(oci)),
        Err(why) => crate::outln!("container figures skipped: {why}\n"),
    }
    crate::out!("{}", table(&rows));

    let report = Report {
        figures: rows.iter().map(|(k, v, _)| (*k, *v)).collect(),
        targets: TARGETS.into(),
        notes: [
            (
                "cold_start_ms",
                "compile + instantiate + run hello, empty cache",
            ),
            ("warm_start_ms", "instantiate + run hello, module cached"),
            (
                "wasm_vs_native_ratio",
                "pi as WebAssembly (fuel metering on) / pi native (gcc -O2)",
            ),
            (
                "oci_cold_start_ms",
                "podman + runc: create, run `exit 0`, remove; image loaded; median",
            ),
            (
                "oci_vs_native_ratio",
                "static pi in a container minus the start / the same binary natively",
            ),
        ]
        .into(),
        config: [
            ("pi_iterations", config.pi_iterations),
            ("ratio_runs", config.ratio_runs as u64),
            ("cold_runs", config.cold_runs as u64),
            ("warm_runs", config.warm_runs as u64),
        ]
        .into(),
    };
    super::report::write_json(&args.out, &report)?;
    crate::outln!("\nwritten to {}", args.out.display());
    Ok(())
}

/// A figure: its name, its value, and the value printed with `decimals` decimals.
fn fig(name: &'static str, value: f64, decimals: usize) -> (&'static str, f64, String) {
    (name, value, format!("{value:.decimals$}"))
}

/// `(name, value, printed value)` of every figure, in table order.
fn figures(b: &RuntimeBench) -> Vec<(&'static str, f64, String)> {
    vec![
        fig("cold_start_ms", b.cold_start_ms, 2),
        fig("warm_start_ms", b.warm_start_ms, 3),
        fig("pi_wasm_ms", b.pi_wasm_ms, 1),
        fig("pi_native_ms", b.pi_native_ms, 1),
        fig("wasm_vs_native_ratio", b.wasm_vs_native_ratio, 3),
        (
            "fuel_per_second",
            b.fuel_per_second,
            format!("{:.3e}", b.fuel_per_second),
        ),
        ("pi_fuel", b.pi_fuel as f64, b.pi_fuel.to_string()),
        ("hello_fuel", b.hello_fuel as f64, b.hello_fuel.to_string()),
    ]
}

/// The container figures, in table order.
fn oci_figures(b: &dexec_runtime::oci::bench::OciBench) -> Vec<(&'static str, f64, String)> {
    vec![
        fig("oci_cold_start_ms", b.oci_cold_start_ms, 1),
        fig("pi_container_ms", b.pi_container_ms, 1),
        fig("pi_static_native_ms", b.pi_static_native_ms, 1),
        fig("oci_vs_native_ratio", b.oci_vs_native_ratio, 3),
        fig("oci_vs_native_with_start", b.oci_vs_native_with_start, 3),
    ]
}

/// The figures as an aligned table: figure | value | target | verdict.
fn table(figures: &[(&'static str, f64, String)]) -> String {
    let rows: Vec<[String; 4]> = figures
        .iter()
        .map(|(name, value, shown)| {
            let (target, verdict) = match TARGETS.iter().find(|(n, _)| n == name) {
                Some((_, target)) => {
                    let verdict = if value <= target {
                        "meets target"
                    } else {
                        "over target"
                    };
                    (format!("≤ {target}"), verdict)
                }
                None => ("—".to_owned(), ""),
            };
            [
                (*name).to_owned(),
                shown.clone(),
                target,
                verdict.to_owned(),
            ]
        })
        .collect();
    let header = ["figure", "value", "target", ""].map(str::to_owned);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (i, row) in std::iter::once(&header).chain(&rows).enumerate() {
        let mut line = String::new();
        for (col, (cell, width)) in row.iter().zip(widths).enumerate() {
            let pad = " ".repeat(width - cell.chars().count());
            // the value column is right-aligned
            if col == 1 {
                let _ = write!(line, "{pad}{cell}  ");
            } else {
                let _ = write!(line, "{cell}{pad}  ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
        if i == 0 {
            let _ = writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 8));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(ratio: f64) -> RuntimeBench {
        RuntimeBench {
            cold_start_ms: 20.0,
            warm_start_ms: 0.5,
            pi_wasm_ms: 1000.0 * ratio,
            pi_native_ms: 1000.0,
            wasm_vs_native_ratio: ratio,
            pi_iterations: 1,
            pi_fuel: 10,
            fuel_per_second: 1e9,
            hello_fuel: 5,
        }
    }

    #[test]
    fn table_has_a_row_per_figure_and_judges_the_ratio() {
        let text = table(&figures(&bench(1.1)));
        assert_eq!(text.lines().count(), 2 + figures(&bench(1.1)).len());
        assert!(
            text.lines()
                .any(|l| l.starts_with("wasm_vs_native_ratio") && l.ends_with("meets target")),
            "{text}"
        );
        assert!(table(&figures(&bench(1.5))).contains("over target"));
    }
}
