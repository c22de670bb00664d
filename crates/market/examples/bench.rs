//! `cargo run --release -p dexec-market --example bench`: runs the market benchmark, prints the
//! figures beside their targets and writes them to `target/bench/market.json`. Set
//! `DEXEC_BENCH_POSTGRES_URL` for the PostgreSQL variants.

use dexec_market::bench::{bench, BenchOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = BenchOptions {
        postgres_url: std::env::var("DEXEC_BENCH_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty()),
        ..BenchOptions::default()
    };
    let report = bench(options).await?;
    println!(
        "publish_per_s_sqlite      {:>10.0}   (target >= 5000)",
        report.publish_per_s_sqlite
    );
    println!(
        "query_p99_ms_100k_sqlite  {:>10.2}   (target <= 5)",
        report.query_p99_ms_100k_sqlite
    );
    if let (Some(p), Some(q)) = (
        report.publish_per_s_postgres,
        report.query_p99_ms_100k_postgres,
    ) {
        println!("publish_per_s_postgres    {p:>10.0}");
        println!("query_p99_ms_100k_postgres {q:>9.2}");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("market.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    Ok(())
}
