//! `cargo run --release -p dexec-market --example bench`: runs the market benchmark, prints the
//! figures beside their anchors and targets and writes them to `target/bench/market.json`. Set
//! `DEXEC_BENCH_POSTGRES_URL` for the PostgreSQL variants; `DEXEC_BENCH_ONLY=publish` or
//! `query` runs one half.

use dexec_market::bench::{bench, BenchOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let only = std::env::var("DEXEC_BENCH_ONLY").unwrap_or_default();
    let options = BenchOptions {
        postgres_url: std::env::var("DEXEC_BENCH_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty()),
        publish: only != "query",
        query: only != "publish",
        ..BenchOptions::default()
    };
    let report = bench(options).await?;
    for line in report.lines() {
        println!("{line}");
    }
    for (shape, p99) in &report.query_p99_ms_by_shape {
        println!("  query p99 {shape:<40} {p99:>8.2} ms");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("market.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    Ok(())
}
