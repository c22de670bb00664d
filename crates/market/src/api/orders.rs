//! The order routes: publish, get, query and unpublish. Each parses its request, calls the
//! book ([`crate::book::publish`], [`crate::book::filter`]) or the database, and answers.

use alloy::primitives::B256;
use axum::body::Bytes as Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use dexec_primitives::OrderKind;
use dexec_sdk::market::{BookStatus, OrderPage, OrderQuery, OrderView, PublishBody, UnpublishBody};
use dexec_sdk::ErrorBody;

use super::{check_chain, page, query_error, AppState, ChainQuery};
use crate::book::{self, BookOrder};
use crate::db::hex32;
use crate::feed::FeedEvent;
use crate::{Error, Result};

/// `POST /{kind}orders`: publish a signed order (see [`book::publish::publish`]).
pub(crate) async fn publish<T: BookOrder>(
    State(state): State<AppState>,
    query: Result<Query<ChainQuery>, QueryRejection>,
    body: Body,
) -> Result<(StatusCode, Json<OrderView>)> {
    let s = &state.shared;
    check_chain(s, query.map_err(query_error)?.chain_id)?;
    let kind = T::KIND;
    let body: PublishBody<T> = serde_json::from_slice(&body).map_err(|e| {
        Error::BadRequest(format!(
            "the body must be JSON {{\"order\": <signed {kind} order>}}: {e}"
        ))
    })?;
    let view = book::publish::publish(s, body.order).await?;
    if s.feed.receiver_count() > 0 {
        s.broadcast(FeedEvent::published(&view));
    }
    Ok((StatusCode::CREATED, Json(view)))
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
    params(("hash" = String, Path, description = "Order hash")),
    request_body = UnpublishBody,
    responses(
        (status = 200, description = "Unpublished", body = OrderView),
        (status = 400, description = "Malformed request, bad parameter or bad signature", body = ErrorBody),
        (status = 403, description = "The signer is not the order's signer", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not open, or republished since", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
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
    ($kind:expr, $name:literal, $query:ident, $get:ident, $publish_doc:ident,
     $collection:literal, $one:literal) => {
        #[utoipa::path(get, path = $collection, tag = "orders",
            summary = concat!("Query open ", $name, " orders"),
            params(OrderQuery),
            responses(
                (status = 200, description = "Open orders, best first", body = OrderPage),
                (status = 400, description = "Malformed request, bad parameter or bad signature", body = ErrorBody),
                (status = 429, description = "Rate limited", body = ErrorBody),
            ))]
        pub(crate) async fn $query(
            State(state): State<AppState>,
            q: Result<Query<OrderQuery>, QueryRejection>,
        ) -> Result<Json<OrderPage>> {
            query_orders(state, $kind, q.map_err(query_error)?.0).await
        }

        #[utoipa::path(get, path = $one, tag = "orders",
            summary = concat!("Get a ", $name, " order by hash"),
            params(("hash" = String, Path, description = "Order hash")),
            responses(
                (status = 200, description = "The order, any status", body = OrderView),
                (status = 400, description = "Malformed request, bad parameter or bad signature", body = ErrorBody),
                (status = 404, description = "Not found", body = ErrorBody),
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
            params(("chainId" = Option<u64>, Query, description = "Must be this market's chain when given")),
            request_body(content = super::openapi::Publish, description = concat!("The ", $name, " order's fields and `sign` (flat, as iExec)")),
            responses(
                (status = 201, description = "Published", body = OrderView),
                (status = 400, description = "Malformed request, bad parameter or bad signature", body = ErrorBody),
                (status = 403, description = "The signer is not the asset's owner / the requester", body = ErrorBody),
                (status = 409, description = "Already published", body = ErrorBody),
                (status = 413, description = "Body or params too large", body = ErrorBody),
                (status = 422, description = "Refused by the chain or the book: unregistered asset, no volume left, insufficient balance or stake, too many open orders", body = ErrorBody),
                (status = 429, description = "Rate limited", body = ErrorBody),
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
    "/apporders",
    "/apporders/{hash}"
);
kind_routes!(
    OrderKind::Dataset,
    "dataset",
    query_dataset,
    get_dataset,
    publish_dataset,
    "/datasetorders",
    "/datasetorders/{hash}"
);
kind_routes!(
    OrderKind::Workerpool,
    "workerpool",
    query_workerpool,
    get_workerpool,
    publish_workerpool,
    "/workerpoolorders",
    "/workerpoolorders/{hash}"
);
kind_routes!(
    OrderKind::Request,
    "request",
    query_request,
    get_request,
    publish_request,
    "/requestorders",
    "/requestorders/{hash}"
);

/// `GET /orders/{hash}`: an order of any kind.
#[utoipa::path(get, path = "/orders/{hash}", tag = "orders",
    summary = "Get an order of any kind by hash",
    params(("hash" = String, Path, description = "Order hash")),
    responses(
        (status = 200, description = "The order, any status", body = OrderView),
        (status = 400, description = "Malformed request, bad parameter or bad signature", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
    ))]
pub(crate) async fn get_any(
    State(state): State<AppState>,
    Path(hash): Path<String>,
) -> Result<Json<OrderView>> {
    get_order(state, None, hash).await
}
