//! dexec-scheduler: the scheduler of one workerpool (`dexec scheduler`).
//!
//! It follows the hub's `DealCreated` events for its workerpool and keeps one row per task in
//! its database (SQLite or PostgreSQL); workers register over HTTP with a signed challenge,
//! send heartbeats and long-poll for replicates; each assignment carries the workerpool
//! owner's authorization signature for `(worker, taskId, enclave)`. Trust-1 tasks settle by
//! the worker's `contributeAndFinalize` (fast mode) or in scheduler batches (`pushResults`);
//! replicated tasks get replicates until Sarmenta's consensus is predicted, then winners
//! reveal and the scheduler finalizes. Lost workers' and timed-out replicates are
//! re-assigned; tasks past their final deadline are claimed. After a restart everything
//! resumes from the database and the chain. Protocol and state machines: `docs/workerpool.md`;
//! the states themselves: [`state`].
//!
//! With an [`offer::OfferPolicy`] it keeps a workerpool order open on a market, of the
//! volume its workers can finish before the category's deadline ([`capacity`]), and fills
//! the market's request orders (limit orders) its policy accepts ([`fill`]).
//!
//! The crate is the server; the protocol's types and the worker's client are in the SDK
//! (`dexec_sdk::scheduler`), re-exported as [`api`].

pub mod api;
pub mod capacity;
mod config;
mod db;
mod error;
pub mod fill;
mod heartbeat;
mod http;
mod metrics;
pub mod offer;
mod service;
pub mod state;

use std::future::Future;

use dexec_service::shutdown::{stop_signal, stopped};
use dexec_service::ServiceHandle;

pub use crate::config::{
    Args, Config, Trust1Mode, DEFAULT_DB, DEFAULT_LISTEN, MARKET_HEARTBEAT_INTERVAL,
};
pub use crate::error::{Error, Result};
use crate::service::Scheduler;

/// Connect to the chain and the database, bind `config.listen` and serve until `shutdown`
/// resolves. Chain errors in the background loop are logged and retried.
pub async fn serve<F>(config: Config, shutdown: F) -> Result<ServiceHandle<Error>>
where
    F: Future<Output = ()> + Send + 'static,
{
    config.check_offer()?;
    // one scheduler per database: two would assign and settle the same tasks (a PostgreSQL
    // database is shared on purpose by nobody but its operator, who runs one scheduler on it)
    let db_lock = match config.db_url.sqlite_file() {
        Some(file) => Some(dexec_service::StateLock::acquire_database(
            &file,
            "scheduler",
        )?),
        None => None,
    };
    let scheduler = Scheduler::new(config).await?;
    let listener = tokio::net::TcpListener::bind(scheduler.config.listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(target: "scheduler", %addr, workerpool = %scheduler.config.workerpool, owner = %scheduler.owner(), "scheduler listening");
    let stop = stop_signal(shutdown);
    let mut offer_task = None;
    let mut fill_task = None;
    if let Some(policy) = scheduler.config.offer.clone() {
        let offer = offer::Offer {
            policy,
            restrict: scheduler.config.offer_restrict,
            margin_percent: scheduler.config.offer_margin_percent,
            min_worker_score: scheduler.config.min_worker_score,
            default_duration: scheduler.config.replicate_timeout,
        };
        if let Some(every) = scheduler.config.fill_interval {
            fill_task = Some(tokio::spawn(fill::run(
                scheduler.client.clone(),
                scheduler.config.workerpool,
                offer.clone(),
                every,
                scheduler.fills.clone(),
                scheduler.load.subscribe(),
                stop.clone(),
            )));
        }
        offer_task = Some(tokio::spawn(offer::run(
            scheduler.client.clone(),
            scheduler.config.workerpool,
            offer,
            scheduler.offer.clone(),
            scheduler.load.subscribe(),
            stop.clone(),
        )));
    }
    let heartbeat_task = scheduler
        .config
        .market_heartbeat
        .clone()
        .map(|(url, every)| {
            tokio::spawn(heartbeat::run(
                scheduler.client.clone(),
                scheduler.config.workerpool,
                url,
                every,
                stop.clone(),
            ))
        });
    let server = tokio::spawn(dexec_service::http::serve(
        listener,
        http::router(scheduler.clone()),
        stopped(stop.clone()),
    ));
    let mut loop_stop = stop;
    let task = tokio::spawn(async move {
        let mut follower = scheduler.follower();
        let mut interval = tokio::time::interval(scheduler.config.poll_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // a chain that is down for an hour: a few lines, not four per second
        let mut failing = dexec_service::log::Repeated::new(std::time::Duration::from_secs(30));
        loop {
            tokio::select! {
                _ = loop_stop.changed() => break,
                _ = interval.tick() => {
                    use dexec_service::log::Say;
                    match scheduler.tick(&mut follower).await {
                        Err(e) => {
                            if let Say::Failure { unlogged } = failing.failure() {
                                tracing::warn!(target: "scheduler", error = %e, unlogged, "tick failed; retrying (said at most every 30 s)");
                            }
                        }
                        Ok(_) => {
                            scheduler.metrics.ticks.ok();
                            if let Say::Recovered { failures, lasted } = failing.success() {
                                tracing::info!(target: "scheduler", failures, lasted_s = lasted.as_secs(), "ticks work again");
                            }
                        }
                    }
                }
            }
        }
        server.await.map_err(std::io::Error::other)??;
        // the offer is withdrawn before the process may end (bounded by WITHDRAW_TIMEOUT)
        if let Some(offer_task) = offer_task {
            let _ = offer_task.await;
        }
        if let Some(fill_task) = fill_task {
            let _ = fill_task.await;
        }
        if let Some(heartbeat_task) = heartbeat_task {
            let _ = heartbeat_task.await;
        }
        tracing::info!(target: "scheduler", "scheduler stopped");
        drop(db_lock);
        Ok(())
    });
    Ok(ServiceHandle { addr, task })
}

/// Run `dexec scheduler`: validate `args`, serve, stop on Ctrl-C.
pub async fn run(args: Args) -> Result<()> {
    let config = Config::from_args(args)?;
    dexec_service::shutdown::run_until_ctrl_c(|shutdown| serve(config, shutdown)).await
}
