//! The order routes: publish, get, query and unpublish. Each parses its request, calls the
//! book ([`crate::book::publish`], [`crate::book::filter`]) or the database, and answers.

use alloy::primitives::B256;
use axum::body::Bytes as Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use dexec_primitives::{OrderKind, Signed};
use dexec_sdk::market::{
    schema, BookStatus, OrderPage, OrderQuery, OrderView, PublishBody, UnpublishBody,
};
use dexec_sdk::ErrorBody;

use super::{check_chain, page, query_error, AppState, ChainQuery};
use crate::book::{self, BookOrder};
use crate::db::hex32;
use crate::feed::FeedEvent;
use crate::{Error, Result};

/// `POST /{kind}orders`: publish a signed order (see [`book::publish::publish`]).
pub(crate) async fn publish<T: BookOrder + Default + serde::Serialize>(
    State(state): State<AppState>,
    query: Result<Query<ChainQuery>, QueryRejection>,
    body: Body,
) -> Result<(StatusCode, Json<OrderView>)> {
    let s = &state.shared;
    check_chain(s, query.map_err(query_error)?.chain_id)?;
    let body = publish_body::<T>(&body)?;
    let view = book::publish::publish(s, body.order).await?;
    s.metrics.published(T::KIND.name());
    if s.feed.receiver_count() > 0 {
        s.broadcast(FeedEvent::published(&view));
    }
    Ok((StatusCode::CREATED, Json(view)))
}

/// The body of a publish of `T`, refusing fields the order does not have (as the OpenAPI
/// document says: a misspelt field is not silently dropped from what was signed).
fn publish_body<T: BookOrder + Default + serde::Serialize>(body: &[u8]) -> Result<PublishBody<T>> {
    let kind = T::KIND;
    let shape = |e: &dyn std::fmt::Display| {
        Error::BadRequest(format!(
            "the body must be JSON {{\"order\": <signed {kind} order>}}: {e}"
        ))
    };
    let mut value: serde_json::Value = serde_json::from_slice(body).map_err(|e| shape(&e))?;
    if let Some(top) = value.as_object() {
        if let Some(field) = top.keys().find(|k| *k != "order") {
            return Err(shape(&format!("unknown field `{field}`")));
        }
    }
    if let Some(order) = value
        .get_mut("order")
        .and_then(serde_json::Value::as_object_mut)
    {
        let known = serde_json::to_value(Signed::<T>::default()).map_err(|e| shape(&e))?;
        let known = known.as_object().map(|o| o.keys().collect::<Vec<_>>());
        let known = known.unwrap_or_default();
        if let Some(field) = order.keys().find(|k| !known.contains(k)) {
            return Err(Error::BadRequest(format!(
                "the {kind} order has no field `{field}`; its fields are {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        // `5.0` is an integer to JSON (Schema): the order's numbers read it as 5
        for field in order.values_mut() {
            if let Some(n) = integral_float(field) {
                *field = n.into();
            }
        }
    }
    serde_json::from_value(value).map_err(|e| shape(&e))
}

/// `value` as an integer, if it is a float with no fraction, from 0 to 2^53 (beyond, a float
/// is not exact).
fn integral_float(value: &serde_json::Value) -> Option<u64> {
    let n = value.as_number()?;
    if n.is_u64() || n.is_i64() {
        return None;
    }
    n.as_f64()
        .filter(|f| f.fract() == 0.0 && (0.0..=(1u64 << 53) as f64).contains(f))
        .map(|f| f as u64)
}

/// The order `hash`, if it is of `kind` (any kind when `None`).
async fn get_order(
    state: AppState,
    kind: Option<OrderKind>,
    hash: String,
) -> Result<Json<OrderView>> {
    let s = &state.shared;
    let hash = parse_hash(&hash)?;
    let row =
        s.db.order(&hash)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no order {hash} was ever published here")))?;
    if kind.is_some_and(|kind| kind != row.kind) {
        return Err(Error::NotFound(format!(
            "order {hash} is a {} order; find it at /{}s/{hash}",
            row.kind,
            row.kind.file_key()
        )));
    }
    Ok(Json(book::view(s.chain_id, &row)?))
}

fn parse_hash(hash: &str) -> Result<B256> {
    hash.parse().map_err(|_| {
        Error::BadRequest(format!(
            "`{hash}` is not an order hash (0x and 64 hex digits)"
        ))
    })
}

/// `POST /orders/{hash}/unpublish` (see [`book::publish::unpublish`]).
#[utoipa::path(post, path = "/orders/{hash}/unpublish", tag = "orders",
    summary = "Unpublish an order (signed by its signer)",
    description = "Sign the EIP-712 typed data UnpublishOrder(bytes32 orderHash,uint256 publication) under the hub's domain, or personal_sign the text `dexec market: unpublish order <hash> publication <n>` with scheme `personal`.",
    params(("hash" = String, Path, description = "The order's EIP-712 hash: 0x and 64 hex digits", pattern = "^0x[0-9a-fA-F]{64}$")),
    request_body = UnpublishBody,
    responses(
        (status = 200, description = "Unpublished", body = OrderView),
        (status = 400, description = "Malformed: the hash, or a body that is not the JSON the schema describes", body = ErrorBody),
        (status = 403, description = "The signature recovers no one, or not the order's signer (or names another order, publication, chain or hub)", body = ErrorBody),
        (status = 404, description = "No order with this hash was ever published here", body = ErrorBody),
        (status = 409, description = "Not open, or republished since the signed publication", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Too many requests from this IP, or publishes and unpublishes by this signer", body = ErrorBody),
    ))]
pub(crate) async fn unpublish(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    body: Body,
) -> Result<Json<OrderView>> {
    let s = &state.shared;
    let hash = parse_hash(&hash)?;
    let body: UnpublishBody = serde_json::from_slice(&body).map_err(|e| {
        Error::BadRequest(format!(
            "the body must be JSON {{\"publication\": <number>, \"sign\": \"0x…\", \"scheme\": \
             \"eip712\" | \"personal\"}}: {e}"
        ))
    })?;
    let view = book::publish::unpublish(s, hash, body).await?;
    s.broadcast(FeedEvent::closed(
        view.kind,
        &hex32(&view.order_hash),
        BookStatus::Unpublished,
    ));
    Ok(Json(view))
}

/// A page of the open orders of `kind` matching `q`, best first.
async fn query_orders(state: AppState, kind: OrderKind, q: OrderQuery) -> Result<Json<OrderPage>> {
    let s = &state.shared;
    check_chain(s, q.chain_id)?;
    let (filter, order_by) = book::filter::book_filter(kind, &q)?;
    let (limit, offset, index) = page(q.page_size, q.page_index)?;
    let (rows, more, count) = s.db.query(&filter, order_by, limit, offset).await?;
    let orders = rows
        .iter()
        .map(|r| book::view(s.chain_id, r))
        .collect::<Result<Vec<_>>>()?;
    Ok(Json(OrderPage {
        ok: true,
        orders,
        count,
        page_index: index,
        next_page: more.then_some(index + 1),
    }))
}

/// The routes of one order kind: `GET`/`POST /{kind}orders` and `GET /{kind}orders/{hash}`,
/// each documented for the OpenAPI document.
macro_rules! kind_routes {
    ($kind:expr, $name:literal, $query:ident, $get:ident, $publish_doc:ident, $body:ty,
     $collection:literal, $one:literal) => {
        #[utoipa::path(get, path = $collection, tag = "orders",
            summary = concat!("Query open ", $name, " orders"),
            params(OrderQuery),
            responses(
                (status = 200, description = "Open orders, best first", body = OrderPage),
                (status = 400, description = "A parameter the schema refuses, an unknown parameter, or chainId of another chain", body = ErrorBody),
            ))]
        pub(crate) async fn $query(
            State(state): State<AppState>,
            q: Result<Query<OrderQuery>, QueryRejection>,
        ) -> Result<Json<OrderPage>> {
            query_orders(state, $kind, q.map_err(query_error)?.0).await
        }

        #[utoipa::path(get, path = $one, tag = "orders",
            summary = concat!("Get a ", $name, " order by hash"),
            params(("hash" = String, Path, description = "The order's EIP-712 hash: 0x and 64 hex digits", pattern = "^0x[0-9a-fA-F]{64}$")),
            responses(
                (status = 200, description = "The order, any status", body = OrderView),
                (status = 400, description = "Not an order hash", body = ErrorBody),
                (status = 404, description = "No such order here, or an order of another kind", body = ErrorBody),
            ))]
        pub(crate) async fn $get(
            State(state): State<AppState>,
            Path(hash): Path<String>,
        ) -> Result<Json<OrderView>> {
            get_order(state, Some($kind), hash).await
        }

        /// The publish route of this kind, for the OpenAPI document (served by
        /// [`publish`]).
        #[utoipa::path(post, path = $collection, tag = "orders",
            summary = concat!("Publish a signed ", $name, " order"),
            params(ChainQuery),
            request_body(content = $body, description = concat!("The signed ", $name, " order: its fields and `sign`, flat (iExec's format)")),
            responses(
                (status = 201, description = "Published", body = OrderView),
                (status = 400, description = "A body that is not the JSON the schema describes (unknown or missing field, a number over 2^63 - 1, volume 0, a malformed signature), or chainId of another chain", body = ErrorBody),
                (status = 403, description = "The signature recovers no one, or not the asset's owner / the requester (a signature for another chain or hub recovers someone else); an empty sign on an order not presigned on chain", body = ErrorBody),
                (status = 409, description = "Already open in the book", body = ErrorBody),
                (status = 413, description = "Body or request params too large", body = ErrorBody),
                (status = 422, description = "Refused by the chain or the book: unregistered asset, no volume left on chain, cancelled, insufficient balance or stake, max prices adding up past 2^63 - 1, too many open orders", body = ErrorBody),
                (status = 429, description = "Too many requests from this IP, or publishes and unpublishes by this signer", body = ErrorBody),
                (status = 502, description = "The chain could not be read; retry shortly", body = ErrorBody),
            ))]
        #[allow(dead_code)]
        pub(crate) fn $publish_doc() {}
    };
}
kind_routes!(
    OrderKind::App,
    "app",
    query_app,
    get_app,
    publish_app,
    schema::PublishApp,
    "/apporders",
    "/apporders/{hash}"
);
kind_routes!(
    OrderKind::Dataset,
    "dataset",
    query_dataset,
    get_dataset,
    publish_dataset,
    schema::PublishDataset,
    "/datasetorders",
    "/datasetorders/{hash}"
);
kind_routes!(
    OrderKind::Workerpool,
    "workerpool",
    query_workerpool,
    get_workerpool,
    publish_workerpool,
    schema::PublishWorkerpool,
    "/workerpoolorders",
    "/workerpoolorders/{hash}"
);
kind_routes!(
    OrderKind::Request,
    "request",
    query_request,
    get_request,
    publish_request,
    schema::PublishRequest,
    "/requestorders",
    "/requestorders/{hash}"
);

/// `GET /orders/{hash}`: an order of any kind.
#[utoipa::path(get, path = "/orders/{hash}", tag = "orders",
    summary = "Get an order of any kind by hash",
    params(("hash" = String, Path, description = "The order's EIP-712 hash: 0x and 64 hex digits", pattern = "^0x[0-9a-fA-F]{64}$")),
    responses(
        (status = 200, description = "The order, any status", body = OrderView),
        (status = 400, description = "Not an order hash", body = ErrorBody),
        (status = 404, description = "No order with this hash was ever published here", body = ErrorBody),
    ))]
pub(crate) async fn get_any(
    State(state): State<AppState>,
    Path(hash): Path<String>,
) -> Result<Json<OrderView>> {
    get_order(state, None, hash).await
}
