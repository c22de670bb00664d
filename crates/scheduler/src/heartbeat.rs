//! The scheduler's heartbeat to the market: every few seconds a heartbeat signed by the
//! workerpool's owner (`dexec_sdk::market::liveness`), so the market keeps the pool's
//! workerpool orders in the book only while the scheduler runs. A scheduler killed without a
//! chance to withdraw its offer stops beating, and `dexec app run` stops finding its pool.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use dexec_sdk::market::MarketClient;
use dexec_sdk::Client;
use dexec_service::log::{Repeated, Say};
use tokio::sync::watch;

/// Beat every `interval` until `stop`.
pub async fn run(
    client: Client,
    workerpool: Address,
    market_url: String,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let market = match MarketClient::new(&market_url, client.chain_id()) {
        Ok(market) => market,
        Err(e) => {
            tracing::error!(target: "scheduler::heartbeat", market = %market_url, error = %e, "no heartbeats: the market's URL is unusable");
            return;
        }
    };
    let Some(signer) = client.signer().cloned() else {
        tracing::error!(target: "scheduler::heartbeat", "no heartbeats: the scheduler has no signer");
        return;
    };
    let domain = client.domain();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = Repeated::new(Duration::from_secs(60));
    let mut said = false;
    // each heartbeat must be newer than the last: two within one second wait for the next
    let mut last = 0;
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = ticks.tick() => {}
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        if now <= last {
            continue;
        }
        match market.heartbeat(workerpool, now, &signer, &domain).await {
            Ok(_) => {
                last = now;
                if !said {
                    tracing::info!(target: "scheduler::heartbeat", market = %market_url, every_s = interval.as_secs_f64(), "telling the market the pool is alive");
                    said = true;
                }
                if let Say::Recovered { failures, lasted } = failing.success() {
                    tracing::info!(target: "scheduler::heartbeat", failures, lasted_s = lasted.as_secs(), "the market hears the heartbeats again");
                }
            }
            Err(e) => {
                if let Say::Failure { unlogged } = failing.failure() {
                    tracing::warn!(target: "scheduler::heartbeat", market = %market_url, error = %e, unlogged, "heartbeat not delivered (the market takes the pool's orders out of its book after its time-to-live); retrying");
                }
            }
        }
    }
}
