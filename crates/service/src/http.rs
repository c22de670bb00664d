//! HTTP plumbing shared by the services: the one JSON error body, the one rule that turns an
//! error into a response, the health route, and serving a router until shutdown.

use std::future::Future;
use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
pub use dexec_sdk::ErrorBody;

/// An error a service answers HTTP requests with. Each service implements it once: its
/// [`status`](Self::status) is the one place that decides the status of each error.
pub trait ApiError: std::fmt::Display {
    /// The service's name, in logs and in the sentence a 5xx answers with.
    const SERVICE: &'static str;

    /// The HTTP status of this error.
    fn status(&self) -> StatusCode;

    /// What a server error tells the caller. By default a sentence without internals (they
    /// are in the service's log); a service may tell more when the caller must know (e.g. a
    /// corrupted blob).
    fn server_message(&self) -> String {
        format!(
            "the {} failed to handle the request; the error is in its log",
            Self::SERVICE
        )
    }
}

/// The response for `error`: `{"error": "<sentence>"}` with its status. A 5xx is logged once
/// here, with detail; a 4xx says what the caller did wrong and is logged at debug level.
pub fn error_response<E: ApiError>(error: &E) -> Response {
    let (status, message) = error_parts(error);
    json_error(status, message)
}

/// The status and sentence [`error_response`] answers `error` with (logged the same way): for
/// an answer that carries several outcomes, one per item of a batch.
pub fn error_parts<E: ApiError>(error: &E) -> (StatusCode, String) {
    let status = error.status();
    let message = if status.is_server_error() {
        tracing::error!(target: "service::http", service = E::SERVICE, %status, error = %error, "request failed");
        error.server_message()
    } else {
        tracing::debug!(target: "service::http", service = E::SERVICE, %status, error = %error, "request rejected");
        error.to_string()
    };
    (status, message)
}

/// A JSON error body with `status`.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: message.into(),
        }),
    )
        .into_response()
}

/// `GET /health` of a service with nothing more to report: `{"status": "ok"}`.
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The answer to a path no route knows.
pub fn no_route(service: &str, routes: &str) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        format!("no such endpoint; the {service} serves {routes}"),
    )
}

/// Serve `router` on `listener` until `shutdown` resolves; in-flight requests then finish.
/// Handlers can read the peer's address (`ConnectInfo<SocketAddr>`).
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug)]
    enum E {
        Bad,
        Broken,
    }
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                E::Bad => f.write_str("the id is not hex"),
                E::Broken => f.write_str("disk /srv/x failed"),
            }
        }
    }
    impl ApiError for E {
        const SERVICE: &'static str = "test service";
        fn status(&self) -> StatusCode {
            match self {
                E::Bad => StatusCode::BAD_REQUEST,
                E::Broken => StatusCode::INTERNAL_SERVER_ERROR,
            }
        }
    }

    async fn body(response: Response) -> (StatusCode, ErrorBody) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn client_errors_say_why_and_server_errors_hide_internals() {
        let (status, b) = body(error_response(&E::Bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(b.error, "the id is not hex");
        let (status, b) = body(error_response(&E::Broken)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!b.error.contains("/srv/x"), "{}", b.error);
        assert!(b.error.contains("test service"), "{}", b.error);
    }
}
