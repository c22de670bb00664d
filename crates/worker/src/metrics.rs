//! The worker's Prometheus metrics and health, served on `--metrics-listen` (a worker calls
//! its scheduler and listens on nothing else).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use dexec_service::metrics::{
    exponential_buckets, registry, ByOp, ByStatus, Counter, Family, Freshness, Gauge, Histogram,
    HttpMetrics, LatencyFamily, Registry,
};

/// Past this long without an answer from its scheduler, the worker is unhealthy: it gets no
/// work and its reports wait.
pub(crate) const SCHEDULER_STALE: Duration = Duration::from_secs(60);

/// Every metric the worker exports.
#[derive(Debug)]
pub struct WorkerMetrics {
    registry: Registry,
    http: HttpMetrics,
    slots: Family<ByStatus, Gauge>,
    /// Runs by outcome (`ok`, `error-result`, `fault`).
    runs: Family<ByStatus, Counter>,
    /// Run time by runtime (`wasm`, `oci`), compilation or image start included.
    run_seconds: LatencyFamily<ByOp>,
    /// Fuel of WASM runs.
    fuel: Histogram,
    /// Replicates finished, by how (`done`, `abort`, `failed`).
    replicates: Family<ByStatus, Counter>,
    /// Gas of the worker's transactions, by transaction.
    gas: Family<ByOp, Counter>,
    /// Reports sent to the scheduler, and the requests that carried them.
    reports: Counter,
    report_requests: Counter,
    /// Answers from the scheduler.
    pub(crate) scheduler: Freshness,
}

impl WorkerMetrics {
    /// Register every metric; `slots` is the worker's `--max-concurrent`.
    pub fn new(slots: u32) -> Self {
        let mut registry = registry();
        let http = HttpMetrics::register(&mut registry);
        let slot_gauges = Family::<ByStatus, Gauge>::default();
        slot_gauges
            .get_or_create(&ByStatus::new("total"))
            .set(i64::from(slots));
        slot_gauges.get_or_create(&ByStatus::new("busy")).set(0);
        let runs = Family::<ByStatus, Counter>::default();
        let run_seconds = dexec_service::metrics::latency_family::<ByOp>();
        // 1e6 .. ~5e11 fuel units
        let fuel = Histogram::new(exponential_buckets(1e6, 4.0, 15));
        let replicates = Family::<ByStatus, Counter>::default();
        let gas = Family::<ByOp, Counter>::default();
        let reports = Counter::default();
        let report_requests = Counter::default();
        registry.register(
            "worker_reports",
            "Replicate reports sent to the scheduler",
            reports.clone(),
        );
        registry.register(
            "worker_report_requests",
            "Requests that carried the reports (several reports made at once go in one)",
            report_requests.clone(),
        );
        registry.register(
            "worker_slots",
            "The worker's slots: total (--max-concurrent) and busy (a replicate in each)",
            slot_gauges.clone(),
        );
        registry.register(
            "worker_runs",
            "App runs by outcome: ok, error-result (the app failed: an error result), fault (the worker's trouble)",
            runs.clone(),
        );
        registry.register(
            "worker_run_seconds",
            "Time of an app run by runtime (op=wasm|oci), compilation or container start included",
            run_seconds.clone(),
        );
        registry.register(
            "worker_wasm_fuel",
            "Fuel used by a WebAssembly run",
            fuel.clone(),
        );
        registry.register(
            "worker_replicates",
            "Replicates ended, by how: done, abort (the scheduler stopped it), failed",
            replicates.clone(),
        );
        registry.register(
            "gas_spent",
            "Gas of this service's transactions, by transaction",
            gas.clone(),
        );
        // every series a dashboard reads exists from the start (at 0), not from its first event
        for outcome in ["ok", "error-result", "fault"] {
            let _ = runs.get_or_create(&ByStatus::new(outcome));
        }
        for runtime in ["wasm", "oci"] {
            let _ = run_seconds.get_or_create(&ByOp::new(runtime));
        }
        for how in ["done", "abort", "failed"] {
            let _ = replicates.get_or_create(&ByStatus::new(how));
        }
        for op in ["contributeAndFinalize", "contribute", "reveal"] {
            let _ = gas.get_or_create(&ByOp::new(op));
        }
        Self {
            registry,
            http,
            slots: slot_gauges,
            runs,
            run_seconds,
            fuel,
            replicates,
            gas,
            reports,
            report_requests,
            scheduler: Freshness::default(),
        }
    }

    /// One request carrying `reports` reports.
    pub(crate) fn reports_sent(&self, reports: usize) {
        self.report_requests.inc();
        self.reports
            .inc_by(u64::try_from(reports).unwrap_or(u64::MAX));
    }

    /// A slot taken (`+1`) or freed (`-1`).
    pub(crate) fn busy(&self, delta: i64) {
        self.slots
            .get_or_create(&ByStatus::new("busy"))
            .inc_by(delta);
    }

    /// One app run.
    pub(crate) fn run(&self, runtime: &str, outcome: &str, elapsed: Duration, fuel: Option<u64>) {
        self.runs.get_or_create(&ByStatus::new(outcome)).inc();
        self.run_seconds
            .get_or_create(&ByOp::new(runtime))
            .observe(elapsed.as_secs_f64());
        if let Some(fuel) = fuel {
            self.fuel.observe(fuel as f64);
        }
    }

    /// One replicate ended.
    pub(crate) fn replicate(&self, how: &str) {
        self.replicates.get_or_create(&ByStatus::new(how)).inc();
    }

    /// Gas of one of the worker's transactions.
    pub(crate) fn gas_spent(&self, op: &str, gas: u64) {
        self.gas.get_or_create(&ByOp::new(op)).inc_by(gas);
    }
}

/// Serve `/metrics` and `/health` on `listen` until `stop` fires: the bound address.
pub(crate) async fn serve(
    listen: SocketAddr,
    metrics: Arc<WorkerMetrics>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let router = Router::new()
        .route("/metrics", get(render))
        .route("/health", get(health))
        .fallback(|| async {
            dexec_service::http::no_route("worker", "GET /health and GET /metrics")
        })
        .layer(axum::middleware::from_fn_with_state(
            metrics.http.clone(),
            HttpMetrics::layer,
        ))
        .with_state(metrics);
    let mut stop = stop;
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = dexec_service::http::serve(listener, router, stopped).await {
            tracing::error!(target: "worker", error = %e, "the metrics listener failed");
        }
    });
    Ok(addr)
}

async fn render(State(metrics): State<Arc<WorkerMetrics>>) -> Response {
    dexec_service::metrics::render(&metrics.registry)
}

/// Whether the scheduler answers, and if not why (503); the slots either way.
async fn health(State(metrics): State<Arc<WorkerMetrics>>) -> Response {
    let mut health = dexec_service::metrics::Health::new();
    let since = metrics.scheduler.since_ok();
    if since > SCHEDULER_STALE {
        health.unhealthy(format!(
            "the scheduler has not answered for {} s: no work comes and reports wait (is it \
             running, and is --scheduler-url right? the error is in the log)",
            since.as_secs()
        ));
    }
    let slot = |status: &str| metrics.slots.get_or_create(&ByStatus::new(status)).get();
    health.detail(
        "slots",
        serde_json::json!({ "total": slot("total"), "busy": slot("busy") }),
    );
    health.into_response()
}
