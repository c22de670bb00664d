//! The market benchmark: publish throughput through the real HTTP API (signature checks and
//! all), and query latency over a book of 100 000 open orders. `make bench-market` runs it.
//!
//! It spawns its own anvil with the hub, registers one app per publishing account, and serves
//! the market in-process on a temporary SQLite file (and on PostgreSQL when a URL is given).
//! The clients run in the same process as the server, so they share its CPU.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use dexec_contracts::tx::signing_provider;
use dexec_contracts::{anvil, deploy_hub, ChainEntry};
use dexec_primitives::{tag, AppOrder, DatasetOrder, RequestOrder, Signed, WorkerpoolOrder};
use dexec_sdk::{AppSpec, Client};
use serde::{Deserialize, Serialize};

use dexec_service::DbUrl;

use crate::book::BookOrder;
use crate::db::{Db, NewOrder};
use crate::{Config, Error, Rate, Result};

/// Target of the publish figures (DESIGN §8).
pub const PUBLISH_TARGET: f64 = 5_000.0;
/// Target of the query p99 figures, ms (DESIGN §8).
pub const QUERY_P99_TARGET_MS: f64 = 5.0;
/// The anchor DESIGN §8 names for both figures.
pub const ANCHOR: &str = "iExec market (Node + MongoDB), not measured here";

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Orders published in the publish run.
    pub publishes: usize,
    /// Accounts publishing them (each owns an app).
    pub publishers: usize,
    /// Concurrent HTTP requests while publishing.
    pub concurrency: usize,
    /// Open orders in the book for the query run.
    pub book_size: usize,
    /// Queries timed.
    pub queries: usize,
    /// Run the publish runs.
    pub publish: bool,
    /// Run the query runs.
    pub query: bool,
    /// A PostgreSQL server URL (`postgres://user@host:port/db`) for the PostgreSQL variants;
    /// the benchmark creates a database of its own there.
    pub postgres_url: Option<String>,
    /// Directory for the SQLite files (a temporary one when `None`).
    pub dir: Option<PathBuf>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            publishes: 5_000,
            publishers: 10,
            concurrency: 32,
            book_size: 100_000,
            queries: 2_000,
            publish: true,
            query: true,
            postgres_url: None,
            dir: None,
        }
    }
}

/// The figures, as written to `target/bench/market.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BenchReport {
    /// `publish_per_s_{sqlite,postgres}` (signed orders published per second through HTTP),
    /// `publish_p50_ms_…`/`publish_p99_ms_…` (latency of one publish under that load),
    /// `query_p50_ms_100k_…`/`query_p99_ms_100k_…` (best-order queries over 100 000 open
    /// orders, one client).
    pub figures: BTreeMap<String, f64>,
    /// Target of each headline figure.
    pub targets: BTreeMap<String, String>,
    /// Anchor of each headline figure.
    pub anchors: BTreeMap<String, String>,
    /// Query p99 per filter shape and database, ms.
    pub query_p99_ms_by_shape: BTreeMap<String, f64>,
    /// What was run.
    pub config: BTreeMap<String, String>,
}

impl BenchReport {
    /// The figures as lines: name, value, anchor and target; headline figures first.
    pub fn lines(&self) -> Vec<String> {
        let mut names: Vec<&String> = self.figures.keys().collect();
        names.sort_by_key(|name| (!self.targets.contains_key(*name), name.contains("postgres")));
        names
            .into_iter()
            .map(|name| (name, self.figures[name]))
            .map(|(name, value)| {
                let value = if name.starts_with("publish_per_s") {
                    format!("{value:>10.0}")
                } else {
                    format!("{value:>10.2}")
                };
                let mut line = format!("{name:<30} {value}");
                if let Some(target) = self.targets.get(name) {
                    let met = target_met(target, self.figures[name]);
                    line.push_str(&format!(
                        "   target {target} {}",
                        if met { "met" } else { "MISSED" }
                    ));
                }
                if let Some(anchor) = self.anchors.get(name) {
                    line.push_str(&format!("   anchor: {anchor}"));
                }
                line
            })
            .collect()
    }

    fn headline(&mut self, name: String, value: f64, target: String) {
        self.figures.insert(name.clone(), value);
        self.targets.insert(name.clone(), target);
        self.anchors.insert(name, ANCHOR.into());
    }
}

/// `">= 5000"` / `"<= 5"` against `value`.
fn target_met(target: &str, value: f64) -> bool {
    let (op, bound) = target.split_at(2);
    let bound: f64 = bound.trim().parse().unwrap_or(f64::NAN);
    match op {
        ">=" => value >= bound,
        "<=" => value <= bound,
        _ => false,
    }
}

fn bench_err(e: impl std::fmt::Display) -> Error {
    Error::Config(format!("benchmark setup: {e}"))
}

/// The `q` quantile of sorted `times`, in ms.
fn quantile_ms(times: &[Duration], q: f64) -> f64 {
    if times.is_empty() {
        return 0.0;
    }
    let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
    times[i].as_secs_f64() * 1000.0
}

/// Run the benchmark.
pub async fn bench(options: BenchOptions) -> Result<BenchReport> {
    let publishers = options.publishers.max(1);
    let anvil = anvil::anvil(None)
        .args(["--accounts", &(publishers + 1).to_string()])
        .try_spawn()
        .map_err(bench_err)?;
    let signers: Vec<PrivateKeySigner> = anvil.keys().iter().map(|k| k.clone().into()).collect();
    let admin = signing_provider(anvil.endpoint_url(), &signers[..1]);
    let deployment = deploy_hub(&admin, signers[0].address())
        .await
        .map_err(bench_err)?;
    let chain_id = admin.get_chain_id().await.map_err(bench_err)?;
    let chain = ChainEntry::new(chain_id, anvil.endpoint(), deployment);
    let mut apps = Vec::new();
    for (i, signer) in signers[1..].iter().enumerate() {
        let client = Client::from_provider(
            signing_provider(anvil.endpoint_url(), std::slice::from_ref(signer)),
            deployment,
            chain_id,
            anvil.endpoint(),
            Some(signer.clone()),
        );
        let app = client
            .deploy_app(&AppSpec {
                name: format!("bench-{i}"),
                app_type: "WASM".into(),
                multiaddr: format!("https://store.example/bench-{i}.wasm"),
                checksum: B256::repeat_byte(1),
                mrenclave: Default::default(),
            })
            .await?;
        apps.push((signer.clone(), app.address));
    }
    let temp = tempfile_dir(options.dir.clone())?;
    let mut report = BenchReport::default();
    let mut databases = vec![(
        "sqlite",
        format!("sqlite://{}/publish.db", temp.display()),
        format!("sqlite://{}/query.db", temp.display()),
    )];
    let mut created = Vec::new();
    if let Some(url) = &options.postgres_url {
        let (publish, query) = (fresh_pg(url).await?, fresh_pg(url).await?);
        created.extend([publish.clone(), query.clone()]);
        databases.push(("postgres", publish, query));
    }
    for (name, publish_db, query_db) in databases {
        if options.publish {
            let run = publish_run(&chain, &apps, &options, publish_db).await?;
            report.headline(
                format!("publish_per_s_{name}"),
                run.per_s,
                format!(">= {PUBLISH_TARGET}"),
            );
            report
                .figures
                .insert(format!("publish_p50_ms_{name}"), run.p50_ms);
            report
                .figures
                .insert(format!("publish_p99_ms_{name}"), run.p99_ms);
        }
        if options.query {
            let run = query_run(&chain, &options, query_db).await?;
            report.headline(
                format!("query_p99_ms_100k_{name}"),
                run.p99_ms,
                format!("<= {QUERY_P99_TARGET_MS}"),
            );
            report
                .figures
                .insert(format!("query_p50_ms_100k_{name}"), run.p50_ms);
            for (shape, p99) in run.by_shape {
                report
                    .query_p99_ms_by_shape
                    .insert(format!("{name} {shape}"), p99);
            }
        }
    }
    if options.dir.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    if let Some(url) = &options.postgres_url {
        drop_pg(url, &created).await;
    }
    for (key, value) in [
        ("publishes", options.publishes),
        ("publishers", publishers),
        ("concurrency", options.concurrency),
        ("book_size", options.book_size),
        ("queries", options.queries),
    ] {
        report.config.insert(key.into(), value.to_string());
    }
    report.config.insert(
        "build".into(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
    );
    report.config.insert(
        "cpus".into(),
        std::thread::available_parallelism()
            .map(|n| n.get().to_string())
            .unwrap_or_default(),
    );
    Ok(report)
}

fn tempfile_dir(dir: Option<PathBuf>) -> Result<PathBuf> {
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("dexec-market-bench-{}", rand::random::<u64>()))
    });
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A database of its own on the PostgreSQL server at `url`.
async fn fresh_pg(url: &str) -> Result<String> {
    use sqlx::Connection;
    let name = format!("market_bench_{}", rand::random::<u32>());
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    Ok(match url[scheme_end..].find('/') {
        Some(i) => format!("{}/{name}", &url[..scheme_end + i]),
        None => format!("{url}/{name}"),
    })
}

/// Drop the databases [`fresh_pg`] created (their URLs); best effort.
async fn drop_pg(url: &str, created: &[String]) {
    use sqlx::Connection;
    let Ok(mut conn) = sqlx::PgConnection::connect(url).await else {
        return;
    };
    for db in created {
        if let Some(name) = db.rsplit('/').next() {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
}

fn db_url(url: &str) -> Result<DbUrl> {
    url.parse().map_err(bench_err)
}

fn unlimited(chain: &ChainEntry, db_url: DbUrl) -> Config {
    let mut config = Config::test(chain.clone(), db_url);
    config.per_ip = Rate::UNLIMITED;
    config.per_address = Rate::UNLIMITED;
    config.max_open_orders = u64::MAX / 2;
    config
}

/// Figures of one publish run.
struct PublishRun {
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn publish_run(
    chain: &ChainEntry,
    apps: &[(PrivateKeySigner, Address)],
    options: &BenchOptions,
    db_url: String,
) -> Result<PublishRun> {
    let domain =
        dexec_primitives::domain(chain.chain_id().unwrap_or_default(), chain.deployment.hub);
    // sign beforehand: the clients' work is not the market's
    let salt0 = rand::random::<u64>();
    let bodies: Vec<String> = (0..options.publishes)
        .map(|i| {
            let (signer, app) = &apps[i % apps.len()];
            let order = AppOrder {
                app: *app,
                appprice: U256::from(i % 1000),
                volume: U256::from(100),
                salt: B256::from(U256::from(salt0) << 64 | U256::from(i)),
                ..Default::default()
            };
            let signed = Signed::sign(order, &domain, signer).map_err(bench_err)?;
            Ok(serde_json::json!({ "order": signed }).to_string())
        })
        .collect::<Result<_>>()?;
    let db_url = self::db_url(&db_url)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let market = crate::serve(unlimited(chain, db_url.clone()), async {
        let _ = rx.await;
    })
    .await?;
    let url = format!("{}/apporders", market.url());
    let http = reqwest::Client::new();
    // warm up: owner caches, connections
    for (i, body) in bodies.iter().take(apps.len()).enumerate() {
        post(&http, &url, body.clone(), i).await?;
    }
    let queue = Arc::new(std::sync::Mutex::new(
        bodies
            .into_iter()
            .enumerate()
            .skip(apps.len())
            .collect::<Vec<_>>(),
    ));
    let count = queue.lock().map(|q| q.len()).unwrap_or_default();
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.concurrency.max(1) {
        let queue = queue.clone();
        let http = http.clone();
        let url = url.clone();
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some((i, body)) = next else {
                    return Ok::<_, Error>(times);
                };
                let sent = Instant::now();
                post(&http, &url, body, i).await?;
                times.push(sent.elapsed());
            }
        }));
    }
    let mut times = Vec::with_capacity(count);
    for w in workers {
        times.extend(w.await.map_err(bench_err)??);
    }
    let per_s = count as f64 / start.elapsed().as_secs_f64();
    let _ = tx.send(());
    market.join().await?;
    // nothing answered 201 is missing after a restart
    let stored = Db::connect(&db_url).await?.open_orders().await?;
    if stored != options.publishes as i64 {
        return Err(bench_err(format!(
            "{} publishes were answered 201 but the book holds {stored} open orders after a \
             restart",
            options.publishes
        )));
    }
    times.sort();
    Ok(PublishRun {
        per_s,
        p50_ms: quantile_ms(&times, 0.5),
        p99_ms: quantile_ms(&times, 0.99),
    })
}

async fn post(http: &reqwest::Client, url: &str, body: String, i: usize) -> Result<()> {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(bench_err)?;
    if r.status().as_u16() != 201 {
        let text = r.text().await.unwrap_or_default();
        return Err(bench_err(format!("publish {i} refused: {text}")));
    }
    Ok(())
}

/// Fill a book with `book_size` orders of the four kinds directly (their validation is the
/// publish run's business), then time a mix of realistic queries through HTTP.
/// Figures of one query run.
struct QueryRun {
    p50_ms: f64,
    p99_ms: f64,
    by_shape: Vec<(String, f64)>,
}

/// The query shapes, named for the report.
const SHAPES: [&str; 6] = [
    "app",
    "app+requester",
    "workerpool category+minTrust",
    "workerpool category+minTag+app",
    "dataset+app=any",
    "request app+category",
];

async fn query_run(chain: &ChainEntry, options: &BenchOptions, db_url: String) -> Result<QueryRun> {
    let url = self::db_url(&db_url)?;
    let db = Db::connect(&url).await?;
    let n = options.book_size;
    let addr = |kind: u8, i: usize| {
        let mut bytes = [0u8; 20];
        bytes[0] = kind;
        bytes[12..20].copy_from_slice(&(i as u64).to_be_bytes());
        Address::from(bytes)
    };
    let requester = |i: usize| addr(9, i % 500);
    let now = crate::db::now_ms();
    let mut rows: Vec<(B256, crate::book::Columns, Address, String)> = Vec::with_capacity(n);
    for i in 0..n {
        let salt = B256::from(U256::from(i));
        let restricted = if i % 10 == 0 {
            requester(i)
        } else {
            Address::ZERO
        };
        let (columns, body) = match i % 10 {
            0..=3 => {
                let o = AppOrder {
                    app: addr(1, i % 200),
                    appprice: U256::from(i % 997),
                    volume: U256::from(10),
                    requesterrestrict: restricted,
                    salt,
                    ..Default::default()
                };
                (o.columns()?, serde_json::to_string(&Signed::unsigned(o)))
            }
            4 => {
                let o = DatasetOrder {
                    dataset: addr(2, i % 100),
                    datasetprice: U256::from(i % 991),
                    volume: U256::from(10),
                    salt,
                    ..Default::default()
                };
                (o.columns()?, serde_json::to_string(&Signed::unsigned(o)))
            }
            5..=7 => {
                let o = WorkerpoolOrder {
                    workerpool: addr(3, i % 20),
                    workerpoolprice: U256::from(i % 983),
                    volume: U256::from(10),
                    category: U256::from(i % 5),
                    trust: U256::from(i % 7),
                    tag: if i % 3 == 0 { tag::TEE } else { B256::ZERO },
                    salt,
                    ..Default::default()
                };
                (o.columns()?, serde_json::to_string(&Signed::unsigned(o)))
            }
            _ => {
                let o = RequestOrder {
                    app: addr(1, i % 200),
                    appmaxprice: U256::from(1000),
                    workerpoolmaxprice: U256::from(i % 977),
                    requester: requester(i),
                    volume: U256::from(1),
                    category: U256::from(i % 5),
                    params: "{}".into(),
                    salt,
                    ..Default::default()
                };
                (o.columns()?, serde_json::to_string(&Signed::unsigned(o)))
            }
        };
        let body = body.map_err(bench_err)?;
        rows.push((salt, columns, requester(i), body));
    }
    let orders: Vec<NewOrder> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (hash, columns, signer, body))| NewOrder {
            hash,
            columns,
            signer,
            publication: i as i64,
            published_at: now,
            body,
            consumed: None,
        })
        .collect();
    db.insert_many(&orders).await?;
    drop(orders);
    drop(db);
    if db_url.starts_with("postgres") {
        // the state autovacuum keeps a live book in (visibility map set, statistics fresh),
        // which a table loaded in one go reaches only minutes later
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&db_url).await?;
        sqlx::query("VACUUM ANALYZE orders")
            .execute(&mut conn)
            .await?;
    }

    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let market = crate::serve(unlimited(chain, url), async {
        let _ = rx.await;
    })
    .await?;
    let base = market.url();
    let http = reqwest::Client::new();
    let paths: Vec<String> = (0..options.queries)
        .map(|i| match i % 6 {
            0 => format!("/apporders?app={}", addr(1, i % 200)),
            1 => format!(
                "/apporders?app={}&requester={}",
                addr(1, i % 200),
                requester(i)
            ),
            2 => format!("/workerpoolorders?category={}&minTrust=3", i % 5),
            3 => format!(
                "/workerpoolorders?category={}&minTag=tee&app={}",
                i % 5,
                addr(1, i % 200)
            ),
            4 => format!("/datasetorders?dataset={}&app=any", addr(2, i % 100)),
            _ => format!("/requestorders?app={}&category={}", addr(1, i % 200), i % 5),
        })
        .collect();
    for path in paths.iter().take(50) {
        get(&http, &base, path).await?;
    }
    let mut times = Vec::with_capacity(paths.len());
    let mut by_shape: Vec<Vec<Duration>> = vec![Vec::new(); SHAPES.len()];
    for (i, path) in paths.iter().enumerate() {
        let start = Instant::now();
        get(&http, &base, path).await?;
        times.push(start.elapsed());
        by_shape[i % SHAPES.len()].push(start.elapsed());
    }
    let _ = tx.send(());
    market.join().await?;
    times.sort();
    let by_shape = SHAPES
        .iter()
        .zip(by_shape)
        .map(|(name, mut times)| {
            times.sort();
            (name.to_string(), quantile_ms(&times, 0.99))
        })
        .collect();
    Ok(QueryRun {
        p50_ms: quantile_ms(&times, 0.5),
        p99_ms: quantile_ms(&times, 0.99),
        by_shape,
    })
}

async fn get(http: &reqwest::Client, base: &str, path: &str) -> Result<()> {
    let r = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .map_err(bench_err)?;
    if !r.status().is_success() {
        let text = r.text().await.unwrap_or_default();
        return Err(bench_err(format!("query {path} failed: {text}")));
    }
    r.bytes().await.map_err(bench_err)?;
    Ok(())
}
