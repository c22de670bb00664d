//! The HTTP API (axum): routes, handlers, and the one mapping from [`Error`] to status codes.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use dexec_sdk::store::{blob_url, BlobBatch, BlobId, BlobRef, BATCH_MAX_BLOBS, BATCH_MAX_BYTES};
use dexec_service::http::{error_response, json_error, ApiError};
use dexec_service::metrics::{Health, HttpMetrics};
use url::Url;

use crate::blobs::{BlobBody, BlobStore, PutOutcome};
use crate::Error;

/// Cache policy of blob responses: a blob's bytes never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Shared state of the handlers.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) store: BlobStore,
    /// Base of returned URLs, always ending with `/`.
    pub(crate) public_url: Url,
    /// Prometheus metrics (`GET /metrics`).
    pub(crate) metrics: std::sync::Arc<crate::metrics::StoreMetrics>,
}

/// The store's routes.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/blobs", put(put_blob))
        .route("/blobs/batch", post(put_batch))
        .route(
            "/blobs/{id}",
            put(put_blob_with_id).get(get_blob).head(head_blob),
        )
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.http.clone(),
            HttpMetrics::layer,
        ))
        .with_state(state)
}

impl ApiError for Error {
    const SERVICE: &'static str = "store";

    /// The HTTP status of each error: the one place that decides it.
    fn status(&self) -> StatusCode {
        match self {
            Error::InvalidId(_) | Error::DigestMismatch { .. } | Error::Body(_) => {
                StatusCode::BAD_REQUEST
            }
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Corrupt { .. } | Error::Backend(_) | Error::Config(_) | Error::Io(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Internals stay in the log, except integrity failures: the caller should know the blob
    /// was withdrawn and can be uploaded again.
    fn server_message(&self) -> String {
        match self {
            Error::Corrupt { .. } => self.to_string(),
            _ => "the store failed to handle the request; the error is in its log".to_owned(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}

async fn no_route(uri: Uri) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        format!(
            "there is nothing at {}; the store serves /blobs, /health and /metrics",
            uri.path()
        ),
    )
}

/// Whether the backend answers (a lookup of a blob nobody stores), and if not why (503).
async fn health(State(state): State<AppState>) -> Response {
    let mut health = Health::new();
    // any id does: found or not found, the backend answered
    match state.store.head(&BlobId::of(b"dexec health probe")).await {
        Ok(_) | Err(Error::NotFound(_)) => {}
        Err(e) => health.unhealthy(format!("the store's backend fails: {e}")),
    }
    health.detail("maxBlobSize", state.store.max_blob_size());
    health.into_response()
}

/// The Prometheus metrics.
async fn metrics(State(state): State<AppState>) -> Response {
    dexec_service::metrics::render(&state.metrics.registry)
}

async fn put_blob(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    store_body(&state, None, &headers, body).await
}

async fn put_blob_with_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    let id: BlobId = id.parse()?;
    store_body(&state, Some(id), &headers, body).await
}

async fn store_body(
    state: &AppState,
    expected: Option<BlobId>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (id, size, outcome) = state
        .store
        .put_stream(body.into_data_stream(), expected, declared)
        .await?;
    count_put(state, outcome, size);
    let status = match outcome {
        PutOutcome::Created => StatusCode::CREATED,
        PutOutcome::Existed => StatusCode::OK,
    };
    let url = blob_url(&state.public_url, &id);
    let mut response = (
        status,
        Json(BlobRef {
            id,
            size,
            url: url.clone(),
        }),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `POST /blobs/batch`: several small blobs in one request, each as its length (8 bytes,
/// big-endian) then its bytes; at most `BATCH_MAX_BLOBS` blobs and `BATCH_MAX_BYTES` in all.
/// Each is stored as `PUT /blobs` would store it; the answer lists them in order.
async fn put_batch(State(state): State<AppState>, body: Body) -> Result<Json<BlobBatch>, Error> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut received = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::Body(e.to_string()))?;
        if received.len() + chunk.len() > BATCH_MAX_BYTES {
            return Err(Error::TooLarge {
                limit: BATCH_MAX_BYTES as u64,
            });
        }
        received.extend_from_slice(&chunk);
    }
    let blobs = dexec_sdk::store::parse_batch_body(received.freeze()).map_err(Error::Body)?;
    if blobs.len() > BATCH_MAX_BLOBS {
        return Err(Error::Body(format!(
            "{} blobs in one batch; at most {BATCH_MAX_BLOBS}",
            blobs.len()
        )));
    }
    let limit = state.store.max_blob_size();
    if blobs.iter().any(|b| b.len() as u64 > limit) {
        return Err(Error::TooLarge { limit });
    }
    let mut stored = Vec::with_capacity(blobs.len());
    for blob in blobs {
        let (id, size, outcome) = state.store.put_bytes(blob).await?;
        count_put(&state, outcome, size);
        stored.push(BlobRef {
            id,
            size,
            url: blob_url(&state.public_url, &id),
        });
    }
    Ok(Json(BlobBatch { blobs: stored }))
}

/// A blob put, in the metrics: created (its bytes counted) or already there.
fn count_put(state: &AppState, outcome: PutOutcome, size: u64) {
    match outcome {
        PutOutcome::Created => state.metrics.blob("created", Some("put"), size),
        PutOutcome::Existed => state.metrics.blob("existed", None, size),
    }
}

async fn get_blob(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let id: BlobId = id.parse()?;
    let blob = state.store.get(&id).await?;
    let size = blob.size();
    state.metrics.blob("get", Some("get"), size);
    let body = match blob {
        BlobBody::Verified(bytes) => Body::from(bytes),
        BlobBody::Streaming { stream, .. } => Body::from_stream(stream),
    };
    let mut response = Response::new(body);
    blob_headers(response.headers_mut(), &id, size);
    Ok(response)
}

async fn head_blob(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let id: BlobId = id.parse()?;
    let size = state.store.head(&id).await?;
    let mut response = Response::new(Body::empty());
    blob_headers(response.headers_mut(), &id, size);
    Ok(response)
}

fn blob_headers(headers: &mut HeaderMap, id: &BlobId, size: u64) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{id}\"")) {
        headers.insert(header::ETAG, etag);
    }
}
