//! `dexec-market`: the order book service of dexec.
//!
//! App, dataset and workerpool providers and requesters publish their signed orders here, and
//! anyone queries them to build a match (`matchOrders` happens on chain). The market checks
//! every order before listing it — EIP-712 signature under the hub's domain, signer = the
//! asset's on-chain owner or the requester, asset registered, volume left on chain, balance or
//! stake — and a chain watcher keeps the book true to the chain (filled, cancelled, dead
//! orders), records deals and serves prices. State is in SQLite (default) or PostgreSQL.
//!
//! - `POST /{app,dataset,workerpool,request}orders` publishes `{"order": <signed order>}`;
//!   `GET` on the same path queries with iExec's filters; `GET /<kind>orders/{hash}`.
//! - `POST /orders/{hash}/unpublish` with a signature of the order's signer.
//! - `POST /workerpools/{address}/heartbeat` (a scheduler's signed heartbeat; the orders of a
//!   pool whose heartbeats stop leave the book), `GET /workerpools/{address}/liveness`.
//! - `GET /deals`, `GET /deals/{id}`, `GET /ohlc`, `GET /ws` (live feed), `GET /health` (with
//!   the watcher's cursor), `GET /openapi.json`.
//!
//! The wire types and the client (`MarketClient`) are in `dexec_sdk::market`. Every error is
//! JSON `{"error": "<sentence>"}`. The API, limits and the watcher's semantics are described
//! in `docs/market.md`.
//!
//! Layout: `api` (routes and handlers), `book` (the publish rules and query filters),
//! `db` (queries and the publish writer), `watcher`, `chain` (cached chain reads), `feed`.

mod api;
pub mod bench;
mod book;
mod chain;
mod config;
mod db;
mod error;
mod feed;
mod limits;
mod liveness;
mod metrics;
mod state;
mod watcher;

use std::future::Future;
use std::sync::Arc;

use dexec_sdk::Client;
use dexec_service::shutdown::{run_until_ctrl_c, stop_signal, stopped};
use dexec_service::ServiceHandle;

pub use config::{Args, Config, Rate, DEFAULT_DB, DEFAULT_HEARTBEAT_TTL_SECS, DEFAULT_LISTEN};
pub use error::{Error, Result};

/// Connects to the chain and the database (migrating it), starts the watcher, binds
/// `config.listen` (port 0 allowed) and serves in a spawned task until `shutdown` resolves;
/// the watcher and WebSocket feeds then stop and in-flight requests finish.
pub async fn serve<F>(config: Config, shutdown: F) -> Result<ServiceHandle<Error>>
where
    F: Future<Output = ()> + Send + 'static,
{
    let client = Client::connect_patiently(
        &config.chain,
        None,
        config.rpc_timeout,
        dexec_service::START_PATIENCE,
    )
    .await?;
    let db = db::Db::connect(&config.db_url).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let stop = stop_signal(shutdown);
    let chain = chain::Chain::new(client, config.balance_ttl);
    let shared = Arc::new(state::Shared::new(config, db, chain, stop.clone()));
    tracing::info!(target: "market::http", %addr, chain = shared.chain_id, hub = %shared.config.chain.deployment.hub, "market listening");
    let watcher = tokio::spawn(watcher::run(shared.clone()));
    let sweeper = tokio::spawn(liveness::sweep(shared.clone()));
    let app = api::router(api::AppState { shared });
    let task = tokio::spawn(async move {
        let served = dexec_service::http::serve(listener, app, stopped(stop)).await;
        let _ = watcher.await;
        let _ = sweeper.await;
        served?;
        tracing::info!(target: "market::http", %addr, "market stopped");
        Ok(())
    });
    Ok(ServiceHandle { addr, task })
}

/// Runs `dexec market`: validates `args`, serves, and stops gracefully on Ctrl-C (SIGINT).
pub async fn run(args: Args) -> Result<()> {
    let config = Config::from_args(args)?;
    run_until_ctrl_c(|shutdown| serve(config, shutdown)).await
}
