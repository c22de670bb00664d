//! The heartbeat routes: a scheduler says it is alive; anyone asks whether a pool's is (see
//! [`crate::liveness`]).

use alloy::primitives::Address;
use axum::body::Bytes as Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use dexec_sdk::market::{HeartbeatBody, PoolLiveness};
use dexec_sdk::ErrorBody;

use super::{check_chain, query_error, AppState, ChainQuery};
use crate::{Error, Result};

fn parse_pool(address: &str) -> Result<Address> {
    address.parse().map_err(|_| {
        Error::BadRequest(format!(
            "`{address}` is not a workerpool address (0x and 40 hex digits)"
        ))
    })
}

/// `POST /workerpools/{address}/heartbeat`.
#[utoipa::path(post, path = "/workerpools/{address}/heartbeat", tag = "workerpools",
    summary = "A scheduler's heartbeat (signed by the workerpool's owner)",
    description = "Sign the EIP-712 typed data SchedulerHeartbeat(address workerpool,uint256 timestamp) under the hub's domain with the workerpool owner's key; `timestamp` is Unix seconds, near the market's clock and newer than the pool's last heartbeat. The workerpool orders of a pool whose heartbeats stop for longer than the market's time-to-live leave the book (status `offline`) until the next one.",
    params(("address" = String, Path, description = "Workerpool address", pattern = "^0x[0-9a-fA-F]{40}$")),
    request_body = HeartbeatBody,
    responses(
        (status = 200, description = "Recorded: the pool is live", body = PoolLiveness),
        (status = 400, description = "Malformed request: the body, the address or the signature's shape", body = ErrorBody),
        (status = 403, description = "Not signed by the workerpool's owner (or a signature that verifies for nobody)", body = ErrorBody),
        (status = 409, description = "Not newer than the pool's last heartbeat", body = ErrorBody),
        (status = 422, description = "The workerpool is not registered on the hub, or the timestamp is far from the market's clock", body = ErrorBody),
    ))]
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    Path(address): Path<String>,
    query: Result<Query<ChainQuery>, QueryRejection>,
    body: Body,
) -> Result<Json<PoolLiveness>> {
    let s = &state.shared;
    check_chain(s, query.map_err(query_error)?.chain_id)?;
    let pool = parse_pool(&address)?;
    let body: HeartbeatBody = serde_json::from_slice(&body).map_err(|e| {
        Error::BadRequest(format!(
            "the body must be JSON {{\"timestamp\": <Unix seconds>, \"sign\": \"0x…\"}}: {e}"
        ))
    })?;
    Ok(Json(crate::liveness::heartbeat(s, pool, body).await?))
}

/// `GET /workerpools/{address}/liveness`.
#[utoipa::path(get, path = "/workerpools/{address}/liveness", tag = "workerpools",
    summary = "Whether a workerpool's scheduler is alive",
    description = "`live`: a heartbeat within the time-to-live; `offline`: heartbeats stopped (its workerpool orders are out of the book); `unknown`: none since the market started (its orders stay listed).",
    params(("address" = String, Path, description = "Workerpool address", pattern = "^0x[0-9a-fA-F]{40}$")),
    responses(
        (status = 200, description = "What the market knows", body = PoolLiveness),
        (status = 400, description = "Malformed address", body = ErrorBody),
    ))]
pub(crate) async fn liveness(
    State(state): State<AppState>,
    Path(address): Path<String>,
    query: Result<Query<ChainQuery>, QueryRejection>,
) -> Result<Json<PoolLiveness>> {
    let s = &state.shared;
    check_chain(s, query.map_err(query_error)?.chain_id)?;
    Ok(Json(s.heartbeats.view(parse_pool(&address)?)))
}
