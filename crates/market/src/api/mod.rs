//! The HTTP API (axum): the routes, the per-IP limit, and what every handler shares. The
//! handlers parse the request, call the book or the database, and map the result; the rules
//! are in [`crate::book`], the error → status mapping in [`error`], the OpenAPI document, made
//! from the handlers' types, in [`openapi`].

mod deals;
mod error;
mod liveness;
pub(crate) mod openapi;
mod orders;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dexec_primitives::{AppOrder, DatasetOrder, RequestOrder, WorkerpoolOrder};
use dexec_sdk::market::Health;
use dexec_service::http::json_error;
use dexec_service::metrics::HttpMetrics;
use serde::Deserialize;

use crate::state::Shared;
use crate::{Error, Result};

/// Smallest and largest page size.
const PAGE_SIZES: (u64, u64) = (10, 1000);
/// Page size when none is given.
const DEFAULT_PAGE_SIZE: u64 = 20;

/// Shared state of the handlers.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub shared: Arc<Shared>,
}

/// The market's routes.
pub(crate) fn router(state: AppState) -> Router {
    let max_body = state.shared.config.max_body_size;
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::serve))
        .route(
            "/apporders",
            post(orders::publish::<AppOrder>).get(orders::query_app),
        )
        .route(
            "/datasetorders",
            post(orders::publish::<DatasetOrder>).get(orders::query_dataset),
        )
        .route(
            "/workerpoolorders",
            post(orders::publish::<WorkerpoolOrder>).get(orders::query_workerpool),
        )
        .route(
            "/requestorders",
            post(orders::publish::<RequestOrder>).get(orders::query_request),
        )
        .route("/apporders/{hash}", get(orders::get_app))
        .route("/datasetorders/{hash}", get(orders::get_dataset))
        .route("/workerpoolorders/{hash}", get(orders::get_workerpool))
        .route("/requestorders/{hash}", get(orders::get_request))
        .route("/orders/{hash}", get(orders::get_any))
        .route("/orders/{hash}/unpublish", post(orders::unpublish))
        .route(
            "/workerpools/{address}/heartbeat",
            post(liveness::heartbeat),
        )
        .route("/workerpools/{address}/liveness", get(liveness::liveness))
        .route("/deals", get(deals::deals))
        .route("/deals/{id}", get(deals::deal))
        .route("/ohlc", get(deals::ohlc))
        .route("/ws", get(crate::feed::ws))
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit_ip,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            json_errors,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.shared.metrics.http.clone(),
            HttpMetrics::layer,
        ))
        .with_state(state)
}

/// Per-IP token bucket on every request.
async fn limit_ip(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if let Err(wait) = state.shared.per_ip.take(peer.ip()) {
        return Error::RateLimited(format!(
            "too many requests from {}: slow down and retry in {:.1} s",
            peer.ip(),
            wait.max(0.1)
        ))
        .into_response();
    }
    next.run(request).await
}

/// Every error is JSON `{"error": "<sentence>"}`, including those axum answers itself before a
/// handler runs, as plain text or with no body: 405 for a method a path does not serve (its
/// `Allow` header kept), 413 for a body over the limit, 400 for a path segment that does not
/// decode. Handlers' own errors are JSON already and pass through.
async fn json_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let json = HeaderValue::from_static("application/json");
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().get(header::CONTENT_TYPE) == Some(&json)
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let allow = parts.headers.get(header::ALLOW).cloned();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let sentence = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!(
            "{method} is not served at {path}; it serves {} (see /openapi.json)",
            allow
                .as_ref()
                .and_then(|a| a.to_str().ok())
                .unwrap_or("other methods")
        ),
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "the request body is larger than {} bytes; orders are small, and request params are \
             limited to {} bytes",
            state.shared.config.max_body_size, state.shared.config.max_params_size
        ),
        _ if text.is_empty() => status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_owned(),
        _ => text,
    };
    if status.is_server_error() {
        tracing::error!(target: "market::api", %status, %method, %path, "request failed outside a handler");
    }
    let mut response = json_error(status, sentence);
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

/// The market answers, and how far its watcher has read the chain; unhealthy (503) with its
/// reasons when its database or its chain reads fail.
#[utoipa::path(get, path = "/health", tag = "service",
    responses(
        (status = 200, description = "The market serves; `nextBlock` is the watcher's cursor", body = Health),
        (status = 503, description = "The market is unhealthy: `reasons` says why", body = Health)))]
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let s = &state.shared;
    let mut reasons = Vec::new();
    let next_block = match s.db.next_block().await {
        Ok(block) => block.unwrap_or(s.config.from_block),
        Err(e) => {
            reasons.push(format!("the database does not answer: {e}"));
            s.config.from_block
        }
    };
    let since = s.metrics.watched.since_ok();
    if since > crate::metrics::WATCH_STALE {
        reasons.push(format!(
            "the chain has not been read for {} s: the book keeps filled and cancelled orders \
             and no deal is recorded (is the chain's RPC node up? the error is in the log)",
            since.as_secs()
        ));
    }
    let status = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let health = Health {
        status: if reasons.is_empty() {
            "ok"
        } else {
            "unhealthy"
        }
        .into(),
        reasons,
        next_block,
    };
    (status, Json(health)).into_response()
}

/// The Prometheus metrics, counted now (not in the OpenAPI document: a text format).
async fn metrics(State(state): State<AppState>) -> Result<Response> {
    let s = &state.shared;
    s.metrics
        .set_state(s.db.book_counts().await?, s.feed.receiver_count());
    Ok(dexec_service::metrics::render(&s.metrics.registry))
}

async fn no_route(uri: Uri) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        format!(
            "there is nothing at {}; see /openapi.json for the market's routes",
            uri.path()
        ),
    )
}

/// `?chainId=` accepted by every route, checked when given.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ChainQuery {
    /// Must be this market's chain when given (the served document lists it).
    chain_id: Option<u64>,
}

fn check_chain(shared: &Shared, chain_id: Option<u64>) -> Result<()> {
    match chain_id {
        Some(id) if id != shared.chain_id => Err(Error::BadRequest(format!(
            "this market serves chain {}, not chain {id}: use the market of chain {id}",
            shared.chain_id
        ))),
        _ => Ok(()),
    }
}

fn query_error(e: QueryRejection) -> Error {
    Error::BadRequest(format!("bad query string: {}", e.body_text()))
}

/// `(limit, offset, index)` of a page.
fn page(size: Option<u64>, index: Option<u64>) -> Result<(i64, i64, u64)> {
    let size = size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(PAGE_SIZES.0..=PAGE_SIZES.1).contains(&size) {
        return Err(Error::BadRequest(format!(
            "`pageSize` must be between {} and {}",
            PAGE_SIZES.0, PAGE_SIZES.1
        )));
    }
    let index = index.unwrap_or(0);
    let offset = index
        .checked_mul(size)
        .filter(|o| *o <= 10_000_000)
        .ok_or_else(|| Error::BadRequest("`pageIndex` is too large".into()))?;
    Ok((size as i64, offset as i64, index))
}
