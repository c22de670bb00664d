//! The OpenAPI 3.1 document of the API, made from the handlers' types and their
//! `#[utoipa::path]` attributes, served at `/openapi.json` and committed at
//! `docs/openapi/market.json` (a test fails when they differ; `make openapi` rewrites the file).

use axum::Json;
use utoipa::{OpenApi, ToSchema};

use super::{deals, liveness, orders};

/// The body of a publish (`POST /{kind}orders`): `{"order": <signed order>}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Publish {
    /// The order's fields and `sign` (flat, as iExec and `dexec order sign` write them).
    #[schema(value_type = Object)]
    order: (),
}

/// `GET /ws`, for the document (served by [`crate::feed::ws`]).
#[utoipa::path(get, path = "/ws", tag = "feed",
    summary = "Live feed (WebSocket)",
    description = "Upgrade to a WebSocket; `topics=orders,deals` (default both). Text messages: {\"event\": \"<kind>order_published\", \"order\": OrderView}, {\"event\": \"<kind>order_unpublished\", \"orderHash\", \"reason\": unpublished|filled|cancelled|dead|offline}, {\"event\": \"deal_created\", \"deal\": Deal}, {\"event\": \"lagged\", \"missed\": n}.",
    params(("topics" = Option<String>, Query, description = "orders, deals or orders,deals")),
    responses(
        (status = 101, description = "Switching protocols"),
        (status = 400, description = "Malformed request, bad parameter or bad signature", body = dexec_sdk::ErrorBody),
    ))]
#[allow(dead_code)]
fn ws() {}

/// `GET /openapi.json`, for the document.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1")))]
#[allow(dead_code)]
fn openapi_json() {}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dexec market",
        description = "The order book of dexec: signed app, dataset, workerpool and request orders, deals and prices. Every error is JSON {\"error\": \"<sentence>\"}. See docs/market.md."
    ),
    paths(
        super::health,
        openapi_json,
        orders::query_app,
        orders::publish_app,
        orders::query_dataset,
        orders::publish_dataset,
        orders::query_workerpool,
        orders::publish_workerpool,
        orders::query_request,
        orders::publish_request,
        orders::get_app,
        orders::get_dataset,
        orders::get_workerpool,
        orders::get_request,
        orders::get_any,
        orders::unpublish,
        liveness::heartbeat,
        liveness::liveness,
        deals::deals,
        deals::deal,
        deals::ohlc,
        ws,
    ),
    components(schemas(Publish))
)]
struct ApiDoc;

/// The OpenAPI document.
pub(crate) fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /openapi.json`.
pub(crate) async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(spec())
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_spec_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/openapi/market.json"
        );
        let current = format!(
            "{}\n",
            serde_json::to_string_pretty(&super::spec()).expect("serializes")
        );
        if std::env::var_os("DEXEC_BLESS").is_some() {
            std::fs::write(path, &current).expect("write docs/openapi/market.json");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == current,
            "docs/openapi/market.json differs from the document the handlers' types make: \
             regenerate it with `make openapi`"
        );
    }
}
