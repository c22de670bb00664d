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
//! resumes from the database and the chain. Protocol and state machines: `docs/workerpool.md`.
//!
//! With an [`offer::OfferPolicy`] it keeps a workerpool order open on a market.
//!
//! [`api`] is the HTTP protocol's types; with `default-features = false` the crate is only
//! that module (what the worker depends on).

pub mod api;
#[cfg(feature = "server")]
mod config;
#[cfg(feature = "server")]
mod db;
#[cfg(feature = "server")]
mod error;
#[cfg(feature = "server")]
mod follow;
#[cfg(feature = "server")]
mod http;
#[cfg(feature = "server")]
pub mod offer;
pub mod policy;
#[cfg(feature = "server")]
mod service;

#[cfg(feature = "server")]
pub use server::*;

#[cfg(feature = "server")]
mod server {
    use std::future::Future;
    use std::net::SocketAddr;

    use tokio::task::JoinHandle;

    pub use crate::config::{Args, Config, Trust1Mode};
    pub use crate::error::{Error, Result};
    use crate::service::Scheduler;

    /// A scheduler serving in the background.
    #[derive(Debug)]
    pub struct Running {
        /// The bound HTTP address.
        pub addr: SocketAddr,
        /// Ends when the scheduler stops (after `shutdown` resolved, or on a fatal error).
        pub task: JoinHandle<Result<()>>,
    }

    impl Running {
        /// Its base URL.
        pub fn url(&self) -> String {
            format!("http://{}", self.addr)
        }
    }

    /// Connect to the chain and the database, bind `config.listen` and serve until
    /// `shutdown` resolves. Chain errors in the background loop are logged and retried.
    pub async fn serve<F>(config: Config, shutdown: F) -> Result<Running>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let scheduler = Scheduler::new(config).await?;
        let listener = tokio::net::TcpListener::bind(scheduler.config.listen).await?;
        let addr = listener.local_addr()?;
        tracing::info!(target: "scheduler", %addr, workerpool = %scheduler.config.workerpool, owner = %scheduler.owner(), "scheduler listening");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        if let Some(policy) = scheduler.config.offer.clone() {
            tokio::spawn(crate::offer::run(
                scheduler.client.clone(),
                scheduler.config.workerpool,
                policy,
                stop_rx.clone(),
            ));
        }
        let app = crate::http::router(scheduler.clone());
        let mut http_stop = stop_rx.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = http_stop.changed().await;
                })
                .await
        });
        let mut loop_stop = stop_rx;
        let task = tokio::spawn(async move {
            let mut follower = crate::follow::Follower::new(
                scheduler.client.clone(),
                scheduler.next_block(),
                scheduler.config.confirmations,
            );
            let mut interval = tokio::time::interval(scheduler.config.poll_interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = loop_stop.changed() => break,
                    _ = interval.tick() => {
                        if let Err(e) = scheduler.tick(&mut follower).await {
                            tracing::warn!(target: "scheduler", error = %e, "tick failed; retrying");
                        }
                    }
                }
            }
            server
                .await
                .map_err(|e| Error::Io(std::io::Error::other(e)))??;
            tracing::info!(target: "scheduler", "scheduler stopped");
            Ok(())
        });
        Ok(Running { addr, task })
    }

    /// Run `dexec scheduler`: validate `args`, serve, stop on Ctrl-C.
    pub async fn run(args: Args) -> Result<()> {
        let config = Config::from_args(args)?;
        let running = serve(config, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        running
            .task
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))?
    }
}
