//! The HTTP API (axum): routes, handlers, and the one mapping from [`Error`] to status codes.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::sol_types::Eip712Domain;
use axum::body::Bytes as Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dexec_primitives::{tag, Signed};
use dexec_sdk::OrderKind;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use crate::book::{asset_kind, status, BookOrder};
use crate::chain::Chain;
use crate::db::{hex32, hex_addr, Bind, Db, NewOrder, OrderRow, Published, Where, Writer};
use crate::feed::FeedEvent;
use crate::limits::Limiter;
use crate::unpublish::{unpublish_digest, unpublish_message};
use crate::{Config, Error, Result};

/// Smallest and largest page size.
const PAGE_SIZES: (u64, u64) = (10, 1000);
/// Page size when none is given.
const DEFAULT_PAGE_SIZE: u64 = 20;

/// Everything the handlers and the watcher share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    pub db: Db,
    pub chain: Arc<Chain>,
    /// Stores publishes, in groups (see [`Writer`]).
    pub writer: Writer,
    /// Held by the publish writer for each group and by the watcher while it applies events
    /// and updates the chain caches: see [`recheck`].
    pub book_lock: Arc<tokio::sync::Mutex<()>>,
    pub chain_id: u64,
    pub domain: Eip712Domain,
    pub feed: broadcast::Sender<FeedEvent>,
    pub per_ip: Limiter<IpAddr>,
    pub per_address: Limiter<Address>,
    pub stop: watch::Receiver<bool>,
    publication: AtomicI64,
}

impl Shared {
    pub fn new(config: Config, db: Db, chain: Chain, stop: watch::Receiver<bool>) -> Self {
        let chain_id = chain.client.chain_id();
        let domain = chain.client.domain();
        let (feed, _) = broadcast::channel(crate::feed::FEED_CAPACITY);
        let chain = Arc::new(chain);
        let book_lock = Arc::new(tokio::sync::Mutex::new(()));
        let writer = Writer::spawn(
            db.clone(),
            config.max_open_orders,
            recheck(chain.clone(), domain.clone()),
            book_lock.clone(),
        );
        Self {
            per_ip: Limiter::new(config.per_ip),
            per_address: Limiter::new(config.per_address),
            config,
            db,
            chain,
            writer,
            book_lock,
            chain_id,
            domain,
            feed,
            stop,
            publication: AtomicI64::new(0),
        }
    }

    /// A new publication number: Unix microseconds, strictly increasing.
    pub fn next_publication(&self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or_default();
        let mut last = self.publication.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self.publication.compare_exchange_weak(
                last,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    pub fn broadcast(&self, event: FeedEvent) {
        // no subscriber is not an error
        let _ = self.feed.send(event);
    }
}

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
        .route("/openapi.json", get(openapi))
        .route(
            "/apporders",
            post(publish::<dexec_primitives::AppOrder>).get(query_app),
        )
        .route(
            "/datasetorders",
            post(publish::<dexec_primitives::DatasetOrder>).get(query_dataset),
        )
        .route(
            "/workerpoolorders",
            post(publish::<dexec_primitives::WorkerpoolOrder>).get(query_workerpool),
        )
        .route(
            "/requestorders",
            post(publish::<dexec_primitives::RequestOrder>).get(query_request),
        )
        .route("/apporders/{hash}", get(get_order))
        .route("/datasetorders/{hash}", get(get_order))
        .route("/workerpoolorders/{hash}", get(get_order))
        .route("/requestorders/{hash}", get(get_order))
        .route("/orders/{hash}", get(get_order))
        .route("/orders/{hash}/unpublish", post(unpublish))
        .route("/deals", get(deals))
        .route("/deals/{id}", get(deal))
        .route("/ohlc", get(ohlc))
        .route("/ws", get(crate::feed::ws))
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit_ip,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// The HTTP status of each error: the one place that decides it.
pub(crate) fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::BadRequest(_) => StatusCode::BAD_REQUEST,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::Chain(_) | Error::Rpc(_) => StatusCode::BAD_GATEWAY,
        Error::Db(_) | Error::Migrate(_) | Error::Corrupt(_) | Error::Config(_) | Error::Io(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        let message = if status.is_server_error() {
            // logged once here with detail; the caller gets a sentence without internals
            tracing::error!(target: "market::http", error = %self, "request failed");
            if status == StatusCode::BAD_GATEWAY {
                "the market could not read the chain; try again shortly".to_owned()
            } else {
                "the market failed to handle the request; the error is in its log".to_owned()
            }
        } else {
            tracing::debug!(target: "market::http", %status, error = %self, "request rejected");
            self.to_string()
        };
        error_response(status, message)
    }
}

fn error_response(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// Per-IP token bucket on every request; oversized bodies get a JSON 413.
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
    let response = next.run(request).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && response.headers().get(axum::http::header::CONTENT_TYPE)
            != Some(&axum::http::HeaderValue::from_static("application/json"))
    {
        return Error::TooLarge(format!(
            "the request body is larger than {} bytes; orders are small, and request params are \
             limited to {} bytes",
            state.shared.config.max_body_size, state.shared.config.max_params_size
        ))
        .into_response();
    }
    response
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::spec())
}

async fn no_route(uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        format!(
            "there is nothing at {}; see /openapi.json for the market's routes",
            uri.path()
        ),
    )
}

/// An order as the market returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    /// The order's EIP-712 hash under the hub's domain.
    pub order_hash: B256,
    /// Its kind.
    pub kind: OrderKind,
    /// The chain.
    pub chain_id: u64,
    /// The signed order, as published.
    pub order: serde_json::Value,
    /// Who signed it.
    pub signer: Address,
    /// Volume still available on chain (as last seen).
    pub remaining: i64,
    /// `open`, `filled`, `cancelled`, `dead` or `unpublished`.
    pub status: String,
    /// Publication number: what an unpublish signature names.
    pub publication: i64,
    /// When it was published, Unix milliseconds.
    pub publication_timestamp: i64,
}

fn view(chain_id: u64, row: &OrderRow) -> Result<OrderView> {
    let order: serde_json::Value = serde_json::from_str(&row.body)
        .map_err(|e| Error::Corrupt(format!("stored order {}: {e}", row.hash)))?;
    Ok(OrderView {
        order_hash: row
            .hash
            .parse()
            .map_err(|_| Error::Corrupt(format!("stored hash {}", row.hash)))?,
        kind: row.kind,
        chain_id,
        order,
        signer: row
            .signer
            .parse()
            .map_err(|_| Error::Corrupt(format!("stored signer {}", row.signer)))?,
        remaining: row.remaining,
        status: row.status.clone(),
        publication: row.publication,
        publication_timestamp: row.published_at,
    })
}

/// `?chainId=` accepted by every route, checked when given.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChainQuery {
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

/// Body of a publish: `{"order": {...signed order...}}`.
#[derive(Debug, Deserialize)]
struct PublishBody<T> {
    order: Signed<T>,
}

/// Half the secp256k1 group order: signatures with a larger `s` are malleable copies.
const HALF_N: U256 = U256::from_be_bytes([
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
]);

/// Recover the ECDSA signer of `digest` from a 65-byte (r, s, v) or 64-byte compact (ERC-2098)
/// signature; `None` when it is neither or recovers nothing. High-`s` signatures are refused.
///
/// libsecp256k1 does the recovery (about 40 µs, a fifth of the pure-Rust k256 path), on the
/// request's own task: short enough not to need a blocking thread.
pub(crate) fn recover(sign: &[u8], digest: B256) -> Result<Option<Address>> {
    let signature = match sign.len() {
        65 => alloy::primitives::Signature::from_raw(sign).ok(),
        64 => Some(alloy::primitives::Signature::from_erc2098(sign)),
        _ => None,
    };
    let Some(signature) = signature else {
        return Ok(None);
    };
    if signature.s() > HALF_N {
        return Err(Error::BadRequest(
            "the signature has a high `s` value (a malleable copy of another signature); sign \
             again with a standard signer"
                .into(),
        ));
    }
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&signature.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&signature.s().to_be_bytes::<32>());
    let id = if signature.v() {
        secp256k1::ecdsa::RecoveryId::One
    } else {
        secp256k1::ecdsa::RecoveryId::Zero
    };
    let Ok(recoverable) = secp256k1::ecdsa::RecoverableSignature::from_compact(&compact, id) else {
        return Ok(None);
    };
    let message = secp256k1::Message::from_digest(digest.0);
    Ok(recoverable
        .recover(message)
        .ok()
        .map(|key| Address::from_raw_public_key(&key.serialize_uncompressed()[1..])))
}

fn not_owner(
    signer: Address,
    kind: dexec_sdk::AssetKind,
    asset: Address,
    owner: Address,
    domain: &Eip712Domain,
) -> Error {
    Error::Forbidden(format!(
        "the order was signed by {signer} but {kind} {asset} belongs to {owner} (or the \
         signature is for another chain or hub): its owner must sign it under the domain of hub \
         {} on chain {}",
        domain.verifying_contract.unwrap_or_default(),
        domain.chain_id.unwrap_or_default()
    ))
}

fn unregistered(kind: dexec_sdk::AssetKind, asset: Address) -> Error {
    Error::Unprocessable(format!(
        "{kind} {asset} is not registered on this hub: deploy it first"
    ))
}

fn unfunded(signer: Address, free: i64, kind: OrderKind, needs: i64) -> Error {
    let what = if kind == OrderKind::Request {
        "the sum of the request's max prices (what one task may cost)"
    } else {
        "30% of the workerpool price (the scheduler's stake per task)"
    };
    Error::Unprocessable(format!(
        "{signer} has {free} nRLC free on the hub but needs {needs} nRLC, {what}: deposit more \
         with `dexec account deposit`"
    ))
}

/// What the publish writer checks again for each order while it holds the book lock: the
/// asset's owner and the signer's free balance as the chain caches hold them now (the watcher
/// changes them under the same lock). No I/O: a balance never read is not re-checked.
pub(crate) fn recheck(chain: Arc<Chain>, domain: Eip712Domain) -> crate::db::Recheck {
    Arc::new(move |o: &NewOrder| {
        let c = &o.columns;
        if let Some(kind) = asset_kind(c.kind) {
            match chain.cached_owner(kind, c.asset) {
                None => return Err(unregistered(kind, c.asset)),
                Some(owner) if owner != o.signer => {
                    return Err(not_owner(o.signer, kind, c.asset, owner, &domain))
                }
                Some(_) => {}
            }
        }
        if c.needs > 0 {
            if let Some(free) = chain.cached_free(o.signer).filter(|free| *free < c.needs) {
                return Err(unfunded(o.signer, free, c.kind, c.needs));
            }
        }
        Ok(())
    })
}

/// `POST /{kind}orders`: every check of `docs/market.md`, in its order. The checks that need
/// no database (shape, signature, owner, rate, balance, volume read from the chain) run here;
/// the writer decides the rest (open orders per signer, volume from the watcher's record, not
/// already open) and stores the order in one transaction with the publishes around it.
async fn publish<T: BookOrder>(
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
    let signed = body.order;
    let columns = signed.order.columns()?;
    if columns.params_len > s.config.max_params_size {
        return Err(Error::TooLarge(format!(
            "the request's params are {} bytes; the market accepts at most {}: put large inputs \
             in iexec_input_files",
            columns.params_len, s.config.max_params_size
        )));
    }
    if columns.volume <= 0 {
        return Err(Error::BadRequest(
            "the order's volume must be at least 1".into(),
        ));
    }
    let hash = signed.digest(&s.domain);
    let signer = match recover(&signed.sign, hash)? {
        Some(signer) => signer,
        None if signed.sign.is_empty() => s.chain.presigner(hash).await?.ok_or_else(|| {
            Error::BadRequest(format!(
                "the order has no signature and is not presigned on chain: sign its EIP-712 hash \
                 {hash} (domain dexec/1, chain {}, hub {})",
                s.chain_id, s.config.chain.deployment.hub
            ))
        })?,
        None => {
            return Err(Error::BadRequest(format!(
                "`sign` must be a 65-byte (r, s, v) or 64-byte compact ECDSA signature of the \
                 order's EIP-712 hash {hash}, got {} bytes",
                signed.sign.len()
            )))
        }
    };
    // who may sign
    if let Some(requester) = columns.required_signer {
        if signer != requester {
            return Err(Error::Forbidden(format!(
                "the request order names requester {requester} but was signed by {signer} (or \
                 signed for another chain or hub): a request must be signed by its requester \
                 under the domain of hub {} on chain {}",
                s.config.chain.deployment.hub, s.chain_id
            )));
        }
    }
    if let Some(asset_kind) = asset_kind(kind) {
        let owner = s
            .chain
            .owner(asset_kind, columns.asset)
            .await?
            .ok_or_else(|| unregistered(asset_kind, columns.asset))?;
        if owner != signer {
            return Err(not_owner(
                signer,
                asset_kind,
                columns.asset,
                owner,
                &s.domain,
            ));
        }
    }
    if let Err(wait) = s.per_address.take(signer) {
        return Err(Error::RateLimited(format!(
            "too many publishes and unpublishes by {signer}: retry in {:.1} s",
            wait.max(0.1)
        )));
    }
    // what the signer must hold
    if columns.needs > 0 {
        let (enough, free) = s.chain.has_free(signer, columns.needs).await?;
        if !enough {
            return Err(unfunded(signer, free, kind, columns.needs));
        }
    }
    // volume used: the watcher's record (read by the writer), or the chain when the watcher
    // did not start at the hub's deployment
    let consumed = if s.config.from_block == 0 {
        None
    } else {
        Some((s.chain.consumed(hash).await?, false))
    };
    let order = serde_json::to_value(&signed)
        .map_err(|e| Error::Corrupt(format!("cannot serialize the order: {e}")))?;
    let publication = s.next_publication();
    let published_at = crate::db::now_ms();
    let decided = s
        .writer
        .publish(NewOrder {
            hash,
            columns,
            signer,
            publication,
            published_at,
            body: order.to_string(),
            consumed,
        })
        .await?;
    let remaining = match decided {
        Published::Stored { remaining } => remaining,
        Published::TooManyOpen(open) => {
            return Err(Error::Unprocessable(format!(
                "{signer} already has {open} open {kind} orders, the most this market accepts: \
                 unpublish or cancel some first"
            )))
        }
        Published::NoVolume { closed } => {
            return Err(Error::Unprocessable(format!(
                "order {hash} has no volume left on chain ({}): sign a new order with another salt",
                if closed {
                    "it was cancelled"
                } else {
                    "deals used all of it"
                }
            )))
        }
        Published::AlreadyOpen => {
            return Err(Error::Conflict(format!(
                "order {hash} is already published; change its salt to publish a new order"
            )))
        }
        Published::Final => {
            return Err(Error::Unprocessable(format!(
                "order {hash} was filled or cancelled on chain: sign a new order with another salt"
            )))
        }
    };
    let view = OrderView {
        order_hash: hash,
        kind,
        chain_id: s.chain_id,
        order,
        signer,
        remaining,
        status: status::OPEN.to_owned(),
        publication,
        publication_timestamp: published_at,
    };
    tracing::debug!(target: "market::book", order = %hash, %kind, %signer, "published");
    if s.feed.receiver_count() > 0 {
        s.broadcast(FeedEvent::published(&view));
    }
    Ok((StatusCode::CREATED, Json(view)))
}

async fn get_order(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    uri: Uri,
) -> Result<Json<OrderView>> {
    let s = &state.shared;
    let hash: B256 = hash.parse().map_err(|_| {
        Error::BadRequest(format!(
            "`{hash}` is not an order hash (0x and 64 hex digits)"
        ))
    })?;
    let row =
        s.db.order(&hash)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no order {hash} was ever published here")))?;
    let prefix = uri.path().trim_start_matches('/');
    if !prefix.starts_with("orders/") && !prefix.starts_with(row.kind.file_key()) {
        return Err(Error::NotFound(format!(
            "order {hash} is a {} order; find it at /{}s/{hash}",
            row.kind,
            row.kind.file_key()
        )));
    }
    Ok(Json(view(s.chain_id, &row)?))
}

/// Body of `POST /orders/{hash}/unpublish`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnpublishBody {
    /// The publication number the signature names (from the order's `publication`).
    publication: i64,
    /// The signer's signature.
    sign: Bytes,
    /// `eip712` (default) or `personal` (EIP-191 personal_sign of the text message).
    #[serde(default)]
    scheme: Option<String>,
}

async fn unpublish(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    body: Body,
) -> Result<Json<OrderView>> {
    let s = &state.shared;
    let hash: B256 = hash.parse().map_err(|_| {
        Error::BadRequest(format!(
            "`{hash}` is not an order hash (0x and 64 hex digits)"
        ))
    })?;
    let body: UnpublishBody = serde_json::from_slice(&body).map_err(|e| {
        Error::BadRequest(format!(
            "the body must be JSON {{\"publication\": <number>, \"sign\": \"0x…\", \"scheme\": \
             \"eip712\" | \"personal\"}}: {e}"
        ))
    })?;
    let digest = match body.scheme.as_deref().unwrap_or("eip712") {
        "eip712" => unpublish_digest(&s.domain, hash, body.publication),
        "personal" => {
            alloy::primitives::eip191_hash_message(unpublish_message(hash, body.publication))
        }
        other => {
            return Err(Error::BadRequest(format!(
                "unknown scheme `{other}`: use `eip712` or `personal`"
            )))
        }
    };
    let signer = recover(&body.sign, digest)?.ok_or_else(|| {
        Error::BadRequest("`sign` must be a 65-byte or 64-byte ECDSA signature".into())
    })?;
    let row =
        s.db.order(&hash)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no order {hash} was ever published here")))?;
    if row.signer != hex_addr(&signer) {
        return Err(Error::Forbidden(format!(
            "the unpublish was signed by {signer}, not by the order's signer {}, or for another \
             order, publication, chain or hub",
            row.signer
        )));
    }
    if let Err(wait) = s.per_address.take(signer) {
        return Err(Error::RateLimited(format!(
            "too many publishes and unpublishes by {signer}: retry in {:.1} s",
            wait.max(0.1)
        )));
    }
    if row.status != status::OPEN {
        return Err(Error::Conflict(format!(
            "order {hash} is not open (it is {}): nothing to unpublish",
            row.status
        )));
    }
    if row.publication != body.publication {
        return Err(Error::Conflict(format!(
            "the signature names publication {} but order {hash} is now publication {} (it was \
             republished): sign the current publication",
            body.publication, row.publication
        )));
    }
    if !s.db.unpublish(&hash, body.publication).await? {
        return Err(Error::Conflict(format!(
            "order {hash} changed while unpublishing it; read it again"
        )));
    }
    s.broadcast(FeedEvent::closed(row.kind, &row.hash, status::UNPUBLISHED));
    let row =
        s.db.order(&hash)
            .await?
            .ok_or_else(|| Error::Corrupt(format!("order {hash} vanished")))?;
    Ok(Json(view(s.chain_id, &row)?))
}

/// Query string of the order book routes: every filter of every kind (each kind reads its
/// own), shared by the server and [`crate::client::MarketClient`].
///
/// Restriction filters follow iExec: given an address X, orders restricted to X or not
/// restricted (only X with the `is_*_strict` flag); omitted, only unrestricted orders; `any`,
/// no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderQuery {
    /// The chain (checked against the market's when given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// App (app orders: the asset; others: restriction; requests: exact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Dataset (same rules as `app`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Workerpool (same rules as `app`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workerpool: Option<String>,
    /// Requester (restriction; requests: exact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
    /// Beneficiary of request orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beneficiary: Option<String>,
    /// Signer of app orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_owner: Option<String>,
    /// Signer of dataset orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_owner: Option<String>,
    /// Signer of workerpool orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workerpool_owner: Option<String>,
    /// Only orders restricted to `app`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_app_strict: bool,
    /// Only orders restricted to `dataset`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_dataset_strict: bool,
    /// Only orders restricted to `workerpool`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_workerpool_strict: bool,
    /// Only orders restricted to `requester`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_requester_strict: bool,
    /// Category (workerpool and request orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<u64>,
    /// Tag bits the order must have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_tag: Option<String>,
    /// Tag bits the order may have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tag: Option<String>,
    /// Least trust (workerpool orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_trust: Option<u64>,
    /// Most trust (request orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_trust: Option<u64>,
    /// Least remaining volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_volume: Option<u64>,
    /// Page size, 10 to 1000 (default 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    /// Page index, from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_index: Option<u64>,
}

/// A filter address: `Some(None)` for `any`.
fn address_param(name: &str, value: &Option<String>) -> Result<Option<Option<Address>>> {
    match value.as_deref() {
        None => Ok(None),
        Some("any") => Ok(Some(None)),
        Some(v) => v.parse().map(|a| Some(Some(a))).map_err(|_| {
            Error::BadRequest(format!(
                "`{name}` must be an address (0x and 40 hex digits) or `any`"
            ))
        }),
    }
}

/// `column = value` when the parameter names an address.
fn equal(w: &mut Where, column: &str, name: &str, value: &Option<String>) -> Result<()> {
    if let Some(Some(a)) = address_param(name, value)? {
        w.push(Bind::Text(hex_addr(&a)), |p| format!("{column} = {p}"));
    }
    Ok(())
}

/// iExec's restriction semantics: given X, orders restricted to X or not restricted (only X
/// when strict); omitted, only unrestricted orders; `any`, no filter.
fn restrict(
    w: &mut Where,
    column: &str,
    name: &str,
    value: &Option<String>,
    strict: bool,
) -> Result<()> {
    let zero = hex_addr(&Address::ZERO);
    match address_param(name, value)? {
        Some(None) => {}
        None => w.push(Bind::Text(zero), |p| format!("{column} = {p}")),
        Some(Some(a)) if strict => w.push(Bind::Text(hex_addr(&a)), |p| format!("{column} = {p}")),
        Some(Some(a)) => {
            let x = w.bind(Bind::Text(hex_addr(&a)));
            let z = w.bind(Bind::Text(zero));
            w.clauses.push(format!("{column} IN ({x}, {z})"));
        }
    }
    Ok(())
}

fn int_param(name: &str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::BadRequest(format!("`{name}` is too large")))
}

/// The WHERE clause and sort order of a book query.
pub(crate) fn book_filter(kind: OrderKind, q: &OrderQuery) -> Result<(Where, &'static str)> {
    let mut w = Where::default();
    // kind and status as literals (constants of ours, never input): the planners of SQLite
    // and PostgreSQL then use the kind's partial book indexes (migrations/0002)
    w.clauses.push(format!("kind = '{}'", kind.name()));
    w.clauses.push(format!("status = '{}'", status::OPEN));
    // the restriction columns of orders, each with the parameter that filters it
    let restrictions = [
        ("app_r", "app", &q.app, q.is_app_strict),
        ("dataset_r", "dataset", &q.dataset, q.is_dataset_strict),
        (
            "workerpool_r",
            "workerpool",
            &q.workerpool,
            q.is_workerpool_strict,
        ),
        (
            "requester_r",
            "requester",
            &q.requester,
            q.is_requester_strict,
        ),
    ];
    let asset = match kind {
        OrderKind::App => Some(("app", &q.app, "appOwner", &q.app_owner)),
        OrderKind::Dataset => Some(("dataset", &q.dataset, "datasetOwner", &q.dataset_owner)),
        OrderKind::Workerpool => Some((
            "workerpool",
            &q.workerpool,
            "workerpoolOwner",
            &q.workerpool_owner,
        )),
        OrderKind::Request => None,
    };
    match asset {
        // an asset order: its asset and signer, and its restrictions on the other parties
        Some((name, value, owner, owner_value)) => {
            equal(&mut w, "asset", name, value)?;
            equal(&mut w, "signer", owner, owner_value)?;
            for (column, param, value, strict) in restrictions {
                if param != name {
                    restrict(&mut w, column, param, value, strict)?;
                }
            }
            if let Some(t) = q
                .min_trust
                .filter(|t| *t > 1 && kind == OrderKind::Workerpool)
            {
                w.push(Bind::Int(int_param("minTrust", t)?), |p| {
                    format!("trust >= {p}")
                });
            }
        }
        None => {
            equal(&mut w, "app_r", "app", &q.app)?;
            equal(&mut w, "dataset_r", "dataset", &q.dataset)?;
            equal(&mut w, "requester_r", "requester", &q.requester)?;
            // a request's signer is its requester: the same filter, served by the signer index
            equal(&mut w, "signer", "requester", &q.requester)?;
            equal(&mut w, "beneficiary", "beneficiary", &q.beneficiary)?;
            let (column, param, value, strict) = restrictions[2];
            restrict(&mut w, column, param, value, strict)?;
            if let Some(t) = q.max_trust {
                w.push(Bind::Int(int_param("maxTrust", t)?), |p| {
                    format!("trust <= {p}")
                });
            }
        }
    }
    if matches!(kind, OrderKind::Workerpool | OrderKind::Request) {
        if let Some(c) = q.category {
            w.push(Bind::Int(int_param("category", c)?), |p| {
                format!("category = {p}")
            });
        }
    }
    if let Some(min) = &q.min_tag {
        let min = tag::parse(min).map_err(|e| Error::BadRequest(format!("`minTag`: {e}")))?;
        let (low, high) = crate::book::split_tag(min);
        if !high.is_empty() {
            return Err(Error::BadRequest(
                "`minTag` may only use tag bits 0 to 62 (tee, frameworks, gpu…)".into(),
            ));
        }
        if low != 0 {
            // `>=` is `=` here (tag_low & low <= low), but planners estimate an inequality
            // at a third of the rows instead of a few: PostgreSQL then keeps the book's
            // sorted index scan rather than sorting every order of the category
            w.push(Bind::Int(low), |p| format!("(tag_low & {p}) >= {p}"));
        }
    }
    if let Some(max) = &q.max_tag {
        let max = tag::parse(max).map_err(|e| Error::BadRequest(format!("`maxTag`: {e}")))?;
        let (low, high) = crate::book::split_tag(max);
        let outside = !low & i64::MAX;
        if outside != 0 {
            // `<= 0` is `= 0` (both are non-negative), estimated as above
            w.push(Bind::Int(outside), |p| format!("(tag_low & {p}) <= 0"));
        }
        if high.is_empty() {
            w.push(Bind::Text(String::new()), |p| format!("tag_high = {p}"));
        }
    }
    if let Some(v) = q.min_volume {
        w.push(Bind::Int(int_param("minVolume", v)?), |p| {
            format!("remaining >= {p}")
        });
    }
    let order_by = if kind == OrderKind::Request {
        "price DESC, publication ASC, hash ASC"
    } else {
        "price ASC, publication ASC, hash ASC"
    };
    Ok((w, order_by))
}

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

/// A page of orders.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPage {
    /// Always true (iExec compatibility).
    pub ok: bool,
    /// The orders, best first.
    pub orders: Vec<OrderView>,
    /// How many orders match in all, exact up to 1000 (beyond, at least 1000).
    pub count: i64,
    /// This page's index.
    pub page_index: u64,
    /// The next page's index, if there is one.
    pub next_page: Option<u64>,
}

async fn query_orders(state: AppState, kind: OrderKind, q: OrderQuery) -> Result<Json<OrderPage>> {
    let s = &state.shared;
    check_chain(s, q.chain_id)?;
    let (filter, order_by) = book_filter(kind, &q)?;
    let (limit, offset, index) = page(q.page_size, q.page_index)?;
    let (rows, more, count) = s.db.query(&filter, order_by, limit, offset).await?;
    let orders = rows
        .iter()
        .map(|r| view(s.chain_id, r))
        .collect::<Result<Vec<_>>>()?;
    let next_page = more.then_some(index + 1);
    Ok(Json(OrderPage {
        ok: true,
        orders,
        count,
        page_index: index,
        next_page,
    }))
}

macro_rules! query_route {
    ($name:ident, $kind:expr) => {
        async fn $name(
            State(state): State<AppState>,
            q: Result<Query<OrderQuery>, QueryRejection>,
        ) -> Result<Json<OrderPage>> {
            query_orders(state, $kind, q.map_err(query_error)?.0).await
        }
    };
}
query_route!(query_app, OrderKind::App);
query_route!(query_dataset, OrderKind::Dataset);
query_route!(query_workerpool, OrderKind::Workerpool);
query_route!(query_request, OrderKind::Request);

/// Query string of `GET /deals`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DealQuery {
    chain_id: Option<u64>,
    category: Option<u64>,
    requester: Option<String>,
    beneficiary: Option<String>,
    app: Option<String>,
    dataset: Option<String>,
    workerpool: Option<String>,
    app_owner: Option<String>,
    dataset_owner: Option<String>,
    workerpool_owner: Option<String>,
    order_hash: Option<B256>,
    page_size: Option<u64>,
    page_index: Option<u64>,
}

/// A page of deals.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DealPage {
    /// Always true.
    pub ok: bool,
    /// The deals, newest first.
    pub deals: Vec<crate::DealRecord>,
    /// How many deals match in all.
    pub count: i64,
    /// This page's index.
    pub page_index: u64,
    /// The next page's index, if there is one.
    pub next_page: Option<u64>,
}

async fn deals(
    State(state): State<AppState>,
    q: Result<Query<DealQuery>, QueryRejection>,
) -> Result<Json<DealPage>> {
    let s = &state.shared;
    let q = q.map_err(query_error)?.0;
    check_chain(s, q.chain_id)?;
    let mut w = Where::default();
    if let Some(c) = q.category {
        w.push(Bind::Int(int_param("category", c)?), |p| {
            format!("category = {p}")
        });
    }
    for (column, value) in [
        ("requester", &q.requester),
        ("beneficiary", &q.beneficiary),
        ("app", &q.app),
        ("dataset", &q.dataset),
        ("workerpool", &q.workerpool),
        ("app_owner", &q.app_owner),
        ("dataset_owner", &q.dataset_owner),
        ("workerpool_owner", &q.workerpool_owner),
    ] {
        equal(&mut w, column, column, value)?;
    }
    if let Some(h) = q.order_hash {
        let p = w.bind(Bind::Text(hex32(&h)));
        w.clauses.push(format!(
            "(apporder_hash = {p} OR datasetorder_hash = {p} OR workerpoolorder_hash = {p} OR requestorder_hash = {p})"
        ));
    }
    let (limit, offset, index) = page(q.page_size, q.page_index)?;
    let (deals, count) = s.db.deals(&w, limit, offset).await?;
    let next_page = (offset + (deals.len() as i64) < count).then_some(index + 1);
    Ok(Json(DealPage {
        ok: true,
        deals,
        count,
        page_index: index,
        next_page,
    }))
}

async fn deal(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<crate::DealRecord>> {
    let id: B256 = id.parse().map_err(|_| {
        Error::BadRequest(format!("`{id}` is not a deal id (0x and 64 hex digits)"))
    })?;
    state
        .shared
        .db
        .deal(&id)
        .await?
        .map(Json)
        .ok_or_else(|| Error::NotFound(format!("no deal {id} is known to this market")))
}

/// Query string of `GET /ohlc`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OhlcQuery {
    chain_id: Option<u64>,
    category: u64,
    /// Candle width in seconds (default 3600).
    interval: Option<u64>,
    /// First second covered (default: all history).
    since: Option<u64>,
}

/// One candle of workerpool prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candle {
    /// Start of the interval, Unix seconds.
    pub time: i64,
    /// First price.
    pub open: i64,
    /// Highest price.
    pub high: i64,
    /// Lowest price.
    pub low: i64,
    /// Last price.
    pub close: i64,
    /// Tasks traded.
    pub volume: i64,
}

/// `GET /ohlc` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ohlc {
    /// The category.
    pub category: u64,
    /// Candle width, seconds.
    pub interval: u64,
    /// Price of the last deal of the category, if any.
    pub last_price: Option<i64>,
    /// Candles, oldest first.
    pub candles: Vec<Candle>,
}

/// Group `(time, price, volume)` trades (sorted by time) into candles.
pub(crate) fn candles(trades: &[(i64, i64, i64)], interval: i64) -> Vec<Candle> {
    let mut out: Vec<Candle> = Vec::new();
    for &(time, price, volume) in trades {
        let start = time - time.rem_euclid(interval);
        match out.last_mut() {
            Some(c) if c.time == start => {
                c.high = c.high.max(price);
                c.low = c.low.min(price);
                c.close = price;
                c.volume += volume;
            }
            _ => out.push(Candle {
                time: start,
                open: price,
                high: price,
                low: price,
                close: price,
                volume,
            }),
        }
    }
    out
}

async fn ohlc(
    State(state): State<AppState>,
    q: Result<Query<OhlcQuery>, QueryRejection>,
) -> Result<Json<Ohlc>> {
    let s = &state.shared;
    let q = q.map_err(query_error)?.0;
    check_chain(s, q.chain_id)?;
    let interval = q.interval.unwrap_or(3600);
    if interval == 0 || interval > 365 * 86_400 {
        return Err(Error::BadRequest(
            "`interval` must be between 1 second and a year".into(),
        ));
    }
    let trades =
        s.db.trades(
            int_param("category", q.category)?,
            int_param("since", q.since.unwrap_or(0))?,
        )
        .await?;
    Ok(Json(Ohlc {
        category: q.category,
        interval,
        last_price: trades.last().map(|t| t.1),
        candles: candles(&trades, interval as i64),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candles_group_by_interval() {
        let c = candles(&[(0, 5, 1), (10, 7, 2), (59, 3, 1), (60, 4, 1)], 60);
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].open, c[0].high, c[0].low, c[0].close, c[0].volume),
            (5, 7, 3, 3, 4)
        );
        assert_eq!((c[1].time, c[1].open), (60, 4));
    }

    #[test]
    fn restrictions_follow_iexec() {
        let q = OrderQuery {
            dataset: Some("any".into()),
            requester: Some(format!("{:#x}", Address::repeat_byte(1))),
            is_requester_strict: true,
            ..Default::default()
        };
        let (w, order) = book_filter(OrderKind::App, &q).expect("valid");
        // kind, status, workerpool_r = 0 (omitted), requester_r = X (strict); dataset any
        assert_eq!(w.clauses.len(), 4, "{:?}", w.clauses);
        assert!(w.clauses.iter().any(|c| c.starts_with("workerpool_r =")));
        assert!(!w.clauses.iter().any(|c| c.starts_with("dataset_r")));
        assert!(order.starts_with("price ASC"));
        let (_, order) = book_filter(OrderKind::Request, &OrderQuery::default()).expect("valid");
        assert!(order.starts_with("price DESC"));
        let bad = OrderQuery {
            app: Some("nope".into()),
            ..Default::default()
        };
        assert!(book_filter(OrderKind::App, &bad).is_err());
    }
}
