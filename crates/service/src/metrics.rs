//! Prometheus metrics, the same way in every service: one registry per service (names start
//! with `dexec_`), the HTTP metrics every router gets from [`HttpMetrics::layer`], the
//! `/metrics` response in the OpenMetrics text format, and the health answer that says why a
//! service is unhealthy.
//!
//! Metrics that describe state (tasks by status, orders in the book) are gauges refreshed by
//! the service's `/metrics` handler just before it encodes, so a scrape is the one moment they
//! are counted; events (a request served, gas spent, a run) are counters and histograms
//! updated where they happen.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use prometheus_client::encoding::EncodeLabelSet;
pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::gauge::Gauge;
pub use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
pub use prometheus_client::registry::Registry;

/// The content type of the OpenMetrics text format, which Prometheus negotiates.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A fresh registry: every metric registered in it is named `dexec_<name>`.
pub fn registry() -> Registry {
    Registry::with_prefix("dexec")
}

/// Buckets for latencies from 5 ms to about 20 min (seconds, doubling).
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.005, 2.0, 18)
}

/// A histogram of latencies in seconds ([`latency_buckets`]).
pub fn latency_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

/// A family of latency histograms, one per label set.
pub type LatencyFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// A new [`LatencyFamily`].
pub fn latency_family<L: Clone + std::hash::Hash + Eq>() -> LatencyFamily<L> {
    Family::new_with_constructor(latency_histogram)
}

/// Labels of a counter or gauge split by one word (a status, a kind, an outcome).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ByStatus {
    /// The word.
    pub status: String,
}

impl ByStatus {
    /// Labels `{status="<status>"}`.
    pub fn new(status: impl Into<String>) -> Self {
        Self {
            status: status.into(),
        }
    }
}

/// Labels of a counter or histogram split by operation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ByOp {
    /// The operation (a transaction's method, a store operation).
    pub op: String,
}

impl ByOp {
    /// Labels `{op="<op>"}`.
    pub fn new(op: impl Into<String>) -> Self {
        Self { op: op.into() }
    }
}

/// Set a gauge family to exactly `counts`: label sets counted before and absent now go to 0
/// (a status nobody is in any more still shows, as 0, rather than its last count).
pub fn set_counts<I, S>(family: &Family<ByStatus, Gauge>, counts: I, known: &[&str])
where
    I: IntoIterator<Item = (S, i64)>,
    S: Into<String>,
{
    for status in known {
        family.get_or_create(&ByStatus::new(*status)).set(0);
    }
    for (status, n) in counts {
        family.get_or_create(&ByStatus::new(status)).set(n);
    }
}

/// The HTTP request metrics of one service: requests by route, method and status, and their
/// duration by route.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: Family<HttpLabels, Counter>,
    seconds: LatencyFamily<RouteLabels>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

impl HttpMetrics {
    /// Register `dexec_http_requests_total` and `dexec_http_request_duration_seconds`.
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::<HttpLabels, Counter>::default();
        let seconds = latency_family::<RouteLabels>();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route (the pattern, not the path) and status code",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            seconds.clone(),
        );
        Self { requests, seconds }
    }

    /// The middleware that counts every request of a router:
    /// `router.layer(axum::middleware::from_fn_with_state(metrics, HttpMetrics::layer))`.
    pub async fn layer(
        State(metrics): State<HttpMetrics>,
        request: Request,
        next: Next,
    ) -> Response {
        let method = request.method().as_str().to_owned();
        // the route's pattern keeps the label set small (no ids in it)
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
        let started = Instant::now();
        let response = next.run(request).await;
        metrics
            .seconds
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        metrics
            .requests
            .get_or_create(&HttpLabels {
                method,
                route,
                code: response.status().as_u16(),
            })
            .inc();
        response
    }
}

/// `GET /metrics`: the registry in the OpenMetrics text format.
pub fn render(registry: &Registry) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, registry) {
        Ok(()) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(target: "service::metrics", error = %e, "metrics could not be encoded");
            crate::http::json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the metrics could not be encoded; the error is in the log",
            )
        }
    }
}

/// A registry shared by the handlers once every metric is registered.
pub type SharedRegistry = Arc<Registry>;

/// What a health check found: healthy when `reasons` is empty, else each reason is a sentence
/// an operator can act on.
#[derive(Debug, Default, Clone)]
pub struct Health {
    reasons: Vec<String>,
    details: serde_json::Map<String, serde_json::Value>,
}

impl Health {
    /// Nothing wrong found yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Something is wrong: `reason` says what and, where it can, what to do.
    pub fn unhealthy(&mut self, reason: impl Into<String>) {
        self.reasons.push(reason.into());
    }

    /// A figure shown with the status (`nextBlock`, `workers`, …).
    pub fn detail(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.details.insert(key.to_owned(), value.into());
    }

    /// Whether nothing is wrong.
    pub fn is_healthy(&self) -> bool {
        self.reasons.is_empty()
    }

    /// The reasons found.
    pub fn reasons(&self) -> &[String] {
        &self.reasons
    }

    /// The answer: 200 `{"status":"ok", …}`, or 503 `{"status":"unhealthy","reasons":[…], …}`.
    pub fn into_response(self) -> Response {
        let healthy = self.is_healthy();
        let mut body = serde_json::Map::new();
        body.insert(
            "status".into(),
            if healthy { "ok" } else { "unhealthy" }.into(),
        );
        body.insert("reasons".into(), self.reasons.into());
        body.extend(self.details);
        let status = if healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (status, Json(serde_json::Value::Object(body))).into_response()
    }
}

/// How long a loop that reads the chain (or any dependency) has gone without succeeding,
/// shared between the loop and the health route.
#[derive(Debug)]
pub struct Freshness {
    started: Instant,
    last_ok_ms: std::sync::atomic::AtomicU64,
}

impl Default for Freshness {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            last_ok_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Freshness {
    /// The loop succeeded now.
    pub fn ok(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ok_ms
            .store(ms.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Time since the last success (since start when it never succeeded).
    pub fn since_ok(&self) -> std::time::Duration {
        let last = self.last_ok_ms.load(std::sync::atomic::Ordering::Relaxed);
        self.started
            .elapsed()
            .saturating_sub(std::time::Duration::from_millis(last))
    }

    /// Whether it ever succeeded.
    pub fn ever_ok(&self) -> bool {
        self.last_ok_ms.load(std::sync::atomic::Ordering::Relaxed) > 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::routing::get;
    use axum::Router;

    async fn text(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_pattern_and_rendered() {
        use tower::ServiceExt;
        let mut registry = registry();
        let http = HttpMetrics::register(&mut registry);
        let router = Router::new()
            .route("/blobs/{id}", get(|| async { "x" }))
            .layer(axum::middleware::from_fn_with_state(
                http.clone(),
                HttpMetrics::layer,
            ));
        for path in ["/blobs/a", "/blobs/b", "/nothing"] {
            let request = Request::builder().uri(path).body(axum::body::Body::empty());
            router.clone().oneshot(request.unwrap()).await.unwrap();
        }
        let (status, body) = text(render(&registry)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains(
                "dexec_http_requests_total{method=\"GET\",route=\"/blobs/{id}\",code=\"200\"} 2"
            ),
            "{body}"
        );
        assert!(
            body.contains(
                "dexec_http_requests_total{method=\"GET\",route=\"unmatched\",code=\"404\"} 1"
            ),
            "{body}"
        );
        assert!(body.contains("dexec_http_request_duration_seconds_count{route=\"/blobs/{id}\"} 2"));
        assert!(body.ends_with("# EOF\n"));
    }

    #[tokio::test]
    async fn unhealthy_says_why_with_503() {
        let mut health = Health::new();
        health.detail("nextBlock", 7);
        let (status, body) = text(health.clone().into_response()).await;
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "ok");
        assert_eq!(v["nextBlock"], 7);
        health.unhealthy("the chain's RPC has not answered for 90 s");
        let (status, body) = text(health.into_response()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "unhealthy");
        assert_eq!(v["reasons"][0], "the chain's RPC has not answered for 90 s");
    }

    #[test]
    fn counts_reset_statuses_no_longer_present() {
        let mut registry = registry();
        let family = Family::<ByStatus, Gauge>::default();
        registry.register("tasks", "tasks", family.clone());
        set_counts(&family, [("running", 3)], &["pending", "running"]);
        set_counts(&family, [("pending", 1)], &["pending", "running"]);
        assert_eq!(family.get_or_create(&ByStatus::new("running")).get(), 0);
        assert_eq!(family.get_or_create(&ByStatus::new("pending")).get(), 1);
    }
}
