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
//! - `POST /orders/{hash}/unpublish` with a signature of the order's signer
//!   ([`unpublish`]).
//! - `GET /deals`, `GET /deals/{id}`, `GET /ohlc`, `GET /ws` (live feed), `GET /openapi.json`.
//!
//! Every error is JSON `{"error": "<sentence>"}`. The API, limits and the watcher's semantics
//! are described in `docs/market.md`.

pub mod bench;
mod book;
mod chain;
pub mod client;
mod config;
mod db;
mod error;
mod feed;
mod http;
mod limits;
pub mod openapi;
pub mod unpublish;
mod watcher;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use dexec_sdk::Client;
use tokio::task::JoinHandle;

pub use book::status;
pub use client::{ClientError, MarketClient};
pub use config::{Args, Config, Rate, DEFAULT_DB, DEFAULT_LISTEN};
pub use db::{Db, DealRecord};
pub use error::{Error, Result};
pub use http::{Candle, DealPage, Ohlc, OrderPage, OrderQuery, OrderView};

/// Connects to the chain and the database (migrating it), starts the watcher, binds
/// `config.listen` (port 0 allowed) and serves in a spawned task until `shutdown` resolves;
/// the watcher and WebSocket feeds then stop and in-flight requests finish.
///
/// Returns the bound address and the server task, whose result reports a serving error.
pub async fn serve<F>(config: Config, shutdown: F) -> Result<(SocketAddr, JoinHandle<Result<()>>)>
where
    F: Future<Output = ()> + Send + 'static,
{
    let client = Client::connect(&config.chain, None).await?;
    let db = Db::connect(&config.db_url).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let chain = chain::Chain::new(client, config.balance_ttl);
    let shared = Arc::new(http::Shared::new(config, db, chain, stop_rx.clone()));
    tracing::info!(target: "market::http", %addr, chain = shared.chain_id, hub = %shared.config.chain.deployment.hub, "market listening");
    let watcher = tokio::spawn(watcher::run(shared.clone()));
    let app = http::router(http::AppState {
        shared: shared.clone(),
    });
    let task = tokio::spawn(async move {
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let mut stop = stop_rx;
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
        let _ = watcher.await;
        served?;
        tracing::info!(target: "market::http", %addr, "market stopped");
        Ok(())
    });
    Ok((addr, task))
}

/// Runs `dexec market`: validates `args`, serves, and stops gracefully on Ctrl-C (SIGINT).
pub async fn run(args: Args) -> Result<()> {
    let config = Config::from_args(args)?;
    let shutdown = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(target: "market::http", error = %e, "cannot listen for Ctrl-C; stopping");
        }
    };
    let (_addr, task) = serve(config, shutdown).await?;
    task.await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?
}
