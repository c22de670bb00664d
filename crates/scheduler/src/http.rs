//! The HTTP API (axum): worker registry, long-poll assignment, reports, task status, health.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dexec_service::http::no_route;
use dexec_service::metrics::{Health, HttpMetrics};
use serde::Deserialize;

use crate::api::{
    Assignments, Challenge, Heartbeat, NextAction, NextRequest, RegisterRequest, Registered,
    Report, ReportAnswers, ReportBatch, TaskView, MAX_REPORTS_PER_REQUEST,
};
use crate::error::{Error, Result};
use crate::service::Scheduler;

type AppState = Arc<Scheduler>;

/// The routes, for the answer to a path none of them knows.
const ROUTES: &str = "GET /health, GET /metrics, GET /workers/challenge, POST /workers/register, \
    POST /workers/{address}/heartbeat, POST /workers/{address}/next, \
    POST /workers/{address}/assignments, \
    POST /workers/{address}/replicates/{taskId}, POST /workers/{address}/reports, \
    GET /tasks/{taskId}, GET /requests and \
    GET /requests/{hash}";

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/workers/challenge", get(challenge))
        .route("/workers/register", post(register))
        .route("/workers/{address}/heartbeat", post(heartbeat))
        .route("/workers/{address}/next", post(next))
        .route("/workers/{address}/assignments", post(assignments))
        .route("/workers/{address}/replicates/{task_id}", post(report))
        .route("/workers/{address}/reports", post(reports))
        .route("/tasks/{task_id}", get(task))
        .route("/requests", get(requests))
        .route("/requests/{hash}", get(request))
        .fallback(|| async { no_route("scheduler", ROUTES) })
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.http.clone(),
            HttpMetrics::layer,
        ))
        .with_state(state)
}

fn session(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

fn address(s: &str) -> Result<Address> {
    s.parse()
        .map_err(|_| Error::BadRequest(format!("{s:?} is not an address")))
}

/// Whether the scheduler does its work, and if not why (503); its figures either way.
async fn health(State(s): State<AppState>) -> Response {
    let mut health = Health::new();
    let (alive, registered) = s.worker_count();
    match s.db.task_counts().await {
        Ok(counts) => {
            let tasks: serde_json::Map<String, serde_json::Value> = counts
                .into_iter()
                .map(|(status, n)| (status, n.into()))
                .collect();
            health.detail("tasks", tasks);
        }
        Err(e) => health.unhealthy(format!("the database does not answer: {e}")),
    }
    let since = s.metrics.ticks.since_ok();
    if since > crate::metrics::TICK_STALE {
        health.unhealthy(format!(
            "no tick has succeeded for {} s: the scheduler neither sees new deals nor settles \
             results (is the chain's RPC node up? the error is in the log)",
            since.as_secs()
        ));
    }
    health.detail("workerpool", s.config.workerpool.to_string());
    health.detail("scheduler", s.owner().to_string());
    health.detail("nextBlock", s.next_block());
    health.detail(
        "workers",
        serde_json::json!({ "alive": alive, "registered": registered }),
    );
    health.detail("cachedDeals", s.cached_deals());
    let json = |v: serde_json::Result<serde_json::Value>| v.unwrap_or_default();
    health.detail(
        "offer",
        json(serde_json::to_value(
            s.config.offer.is_some().then(|| s.offer.counts()),
        )),
    );
    health.detail(
        "fill",
        json(serde_json::to_value(
            s.config.fill_interval.is_some().then(|| s.fills.counts()),
        )),
    );
    health.detail("batches", json(serde_json::to_value(s.batch_counts())));
    health.into_response()
}

/// The Prometheus metrics, counted now.
async fn metrics(State(s): State<AppState>) -> Result<Response> {
    s.refresh_metrics().await?;
    Ok(dexec_service::metrics::render(&s.metrics.registry))
}

/// The market's request orders the fill loop looked at, most recently decided first, each
/// with its decision (`filled`, `refused` for good, `waiting`) and the reason.
async fn requests(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "filling": s.config.fill_interval.is_some(),
        "requests": s.fills.considered(),
    }))
}

/// What the fill loop decided about one request order.
async fn request(
    State(s): State<AppState>,
    Path(hash): Path<String>,
) -> Result<Json<crate::fill::Considered>> {
    let hash: B256 = hash
        .parse()
        .map_err(|_| Error::BadRequest(format!("{hash:?} is not a request order hash")))?;
    s.fills.get(hash).map(Json).ok_or_else(|| {
        Error::NotFound(format!(
            "request {hash} was not looked at by this scheduler (not on the market, not in its \
             category or for another workerpool, or not read yet)"
        ))
    })
}

#[derive(Deserialize)]
struct ChallengeQuery {
    address: String,
}

async fn challenge(
    State(s): State<AppState>,
    Query(q): Query<ChallengeQuery>,
) -> Result<Json<Challenge>> {
    Ok(Json(s.challenge(address(&q.address)?)))
}

async fn register(
    State(s): State<AppState>,
    Json(req): Json<RegisterRequest>,
) -> Result<Json<Registered>> {
    Ok(Json(s.register(req).await?))
}

async fn heartbeat(
    State(s): State<AppState>,
    Path(worker): Path<String>,
    headers: HeaderMap,
    Json(beat): Json<Heartbeat>,
) -> Result<StatusCode> {
    let worker = address(&worker)?;
    s.authenticate(worker, session(&headers))?;
    s.heartbeat(worker, beat);
    Ok(StatusCode::NO_CONTENT)
}

async fn next(
    State(s): State<AppState>,
    Path(worker): Path<String>,
    headers: HeaderMap,
    Json(req): Json<NextRequest>,
) -> Result<Response> {
    let worker = address(&worker)?;
    s.authenticate(worker, session(&headers))?;
    Ok(
        match s.next(worker, Duration::from_millis(req.wait_ms)).await? {
            Some(assignment) => Json(assignment).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

/// Up to `max` replicates at once: the first as `next` waits for it, the others only if
/// they are there now.
async fn assignments(
    State(s): State<AppState>,
    Path(worker): Path<String>,
    headers: HeaderMap,
    Json(req): Json<NextRequest>,
) -> Result<Json<Assignments>> {
    let worker = address(&worker)?;
    s.authenticate(worker, session(&headers))?;
    let max = req.max.unwrap_or(1).max(1);
    let assignments = s
        .assignments(worker, Duration::from_millis(req.wait_ms), max)
        .await?;
    Ok(Json(Assignments { assignments }))
}

async fn report(
    State(s): State<AppState>,
    Path((worker, task_id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(report): Json<Report>,
) -> Result<Json<NextAction>> {
    let worker = address(&worker)?;
    let task_id: B256 = task_id
        .parse()
        .map_err(|_| Error::BadRequest(format!("{task_id:?} is not a task id")))?;
    s.authenticate(worker, session(&headers))?;
    Ok(Json(s.report(worker, task_id, report).await?))
}

/// Several reports at once, each handled as its own `POST …/replicates/{taskId}`; one answer
/// per report, a refusal in its answer (the others still count).
async fn reports(
    State(s): State<AppState>,
    Path(worker): Path<String>,
    headers: HeaderMap,
    Json(batch): Json<ReportBatch>,
) -> Result<Json<ReportAnswers>> {
    let worker = address(&worker)?;
    s.authenticate(worker, session(&headers))?;
    if batch.reports.len() > MAX_REPORTS_PER_REQUEST {
        return Err(Error::BadRequest(format!(
            "{} reports in one request; at most {MAX_REPORTS_PER_REQUEST}",
            batch.reports.len()
        )));
    }
    Ok(Json(ReportAnswers {
        answers: s.reports(worker, batch.reports).await,
    }))
}

async fn task(State(s): State<AppState>, Path(task_id): Path<String>) -> Result<Json<TaskView>> {
    let task_id: B256 = task_id
        .parse()
        .map_err(|_| Error::BadRequest(format!("{task_id:?} is not a task id")))?;
    Ok(Json(s.task_view(task_id).await?))
}
