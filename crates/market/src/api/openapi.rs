//! The OpenAPI 3.1 document of the API, made from the handlers' types and their
//! `#[utoipa::path]` attributes, served at `/openapi.json` and committed at
//! `docs/openapi/market.json` (a test fails when they differ; `make openapi` rewrites the file).

use axum::extract::State;
use axum::Json;
use dexec_sdk::market::schema;
use dexec_sdk::ErrorBody;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{Object, Schema, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{OpenApi, ToSchema};

use super::{deals, liveness, orders, AppState};

/// `GET /ws`, for the document (served by [`crate::feed::ws`]).
#[utoipa::path(get, path = "/ws", tag = "feed",
    summary = "Live feed (WebSocket)",
    description = "Upgrade to a WebSocket; `topics=orders,deals` (default both). Text messages: {\"event\": \"<kind>order_published\", \"order\": OrderView}, {\"event\": \"<kind>order_unpublished\", \"orderHash\", \"reason\": unpublished|filled|cancelled|dead|offline}, {\"event\": \"deal_created\", \"deal\": Deal}, {\"event\": \"lagged\", \"missed\": n}.",
    params(("topics" = Option<String>, Query, description = "orders, deals or orders,deals", pattern = "^(orders|deals)(,(orders|deals))*$")),
    responses(
        (status = 101, description = "Switching protocols"),
        (status = 400, description = "An unknown topic, or a request that is no WebSocket handshake", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn ws() {}

/// `GET /openapi.json`, for the document.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1, with `chainId` limited to this market's chain", body = Object)))]
#[allow(dead_code)]
fn openapi_json() {}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dexec market",
        description = "The order book of dexec: signed app, dataset, workerpool and request orders, deals and prices. See docs/market.md.\n\nEvery error is JSON {\"error\": \"<sentence>\"}, those of the routes below and also 404 for a path the market does not serve and 405 (with an `Allow` header) for a method a path does not serve. A 400 means the request is not what this document describes; a request it describes gets 2xx, or 403/404/409/422/429 for what the chain and the book say (who signed, what exists, what is left, how fast)."
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
    components(schemas(
        ErrorBody,
        schema::Address,
        schema::Bytes32,
        schema::Amount,
        schema::Volume,
        schema::OrderSign,
        schema::EcdsaSign,
        schema::Params,
        schema::OrderKind,
        schema::SignedAppOrder,
        schema::SignedDatasetOrder,
        schema::SignedWorkerpoolOrder,
        schema::SignedRequestOrder,
        schema::PublishApp,
        schema::PublishDataset,
        schema::PublishWorkerpool,
        schema::PublishRequest,
    ))
)]
struct ApiDoc;

/// The operations of a path.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// An error response with `description`.
fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        )
        .build()
        .into()
}

/// The OpenAPI document, as committed: the handlers' attributes, plus what every route may
/// answer, added here rather than repeated: 429 (the per-IP limit runs before every route)
/// and 500 (a database failure) on the routes that read the database.
pub(crate) fn spec() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for (path, item) in doc.paths.paths.iter_mut() {
        let reads_db = !matches!(path.as_str(), "/ws" | "/openapi.json");
        for op in operations(item) {
            let responses = &mut op.responses.responses;
            responses.entry("429".into()).or_insert_with(|| {
                error_response("Too many requests from this IP; the sentence says when to retry")
            });
            if reads_db {
                responses.entry("500".into()).or_insert_with(|| {
                    error_response("The market failed (its log says why); retry later")
                });
            }
        }
    }
    doc
}

/// The document this market serves: [`spec`], with `chainId` limited to its chain and a
/// request's `params` to what its `--max-params-size` always admits (4 bytes a character).
pub(crate) fn served(chain_id: u64, max_params_size: usize) -> utoipa::openapi::OpenApi {
    let mut doc = spec();
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            for param in op.parameters.iter_mut().flatten() {
                if param.name == "chainId" {
                    let mut only = Object::with_type(Type::Integer);
                    only.enum_values = Some(vec![chain_id.into()]);
                    param.schema = Some(RefOr::T(Schema::Object(only)));
                }
            }
        }
    }
    if let Some(components) = doc.components.as_mut() {
        if let Some(RefOr::T(Schema::Object(params))) = components
            .schemas
            .get_mut(&schema::Params::name().into_owned())
        {
            params.max_length = Some(max_params_size / 4);
        }
    }
    doc
}

/// `GET /openapi.json`.
pub(crate) async fn serve(State(state): State<AppState>) -> Json<utoipa::openapi::OpenApi> {
    let s = &state.shared;
    Json(served(s.chain_id, s.config.max_params_size))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use dexec_primitives::{AppOrder, DatasetOrder, RequestOrder, Signed, WorkerpoolOrder};
    use dexec_sdk::market::schema;
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    use utoipa::ToSchema;

    /// The schema `S` documents exactly the fields the server parses into a `Signed<T>`, each
    /// required, and no other.
    fn same_fields<S: ToSchema, T: Default + serde::Serialize>() {
        let RefOr::T(Schema::Object(object)) = S::schema() else {
            panic!("{} is an object schema", S::name());
        };
        let mut documented: Vec<String> = object.properties.keys().cloned().collect();
        let mut required = object.required.clone();
        let parsed = serde_json::to_value(Signed::<T>::default()).unwrap();
        let mut parsed: Vec<String> = parsed.as_object().unwrap().keys().cloned().collect();
        documented.sort();
        required.sort();
        parsed.sort();
        assert_eq!(documented, parsed, "{}", S::name());
        assert_eq!(required, parsed, "{}: every field is required", S::name());
    }

    #[test]
    fn order_schemas_name_the_fields_of_the_orders() {
        same_fields::<schema::SignedAppOrder, AppOrder>();
        same_fields::<schema::SignedDatasetOrder, DatasetOrder>();
        same_fields::<schema::SignedWorkerpoolOrder, WorkerpoolOrder>();
        same_fields::<schema::SignedRequestOrder, RequestOrder>();
    }

    #[test]
    fn the_served_document_names_the_chain() {
        let doc = serde_json::to_value(super::served(31337, 4096)).unwrap();
        let param = doc["paths"]["/apporders"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "chainId")
            .cloned()
            .unwrap();
        assert_eq!(param["schema"]["enum"], serde_json::json!([31337]));
        assert_eq!(doc["components"]["schemas"]["Params"]["maxLength"], 1024);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(
                    op["responses"].get("429").is_some(),
                    "{method} {path} documents 429"
                );
            }
        }
    }

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
