//! The scheduler's standing offer: it keeps one workerpool order of its policy open on a
//! market, publishing a fresh one whenever none is (the last one filled, cancelled,
//! unpublished or dead), so requesters find the pool with `dexec app run`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use dexec_primitives::{Nrlc, WorkerpoolOrder};
use dexec_sdk::market::{AddressFilter, ClientError, MarketClient, OrderQuery};
use dexec_sdk::{Client, OrderKind};
use serde::Serialize;
use tokio::sync::watch;

/// What the scheduler offers, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferPolicy {
    /// The market's URL.
    pub market_url: String,
    /// Price per task.
    pub price: Nrlc,
    /// Volume of each order.
    pub volume: u64,
    /// Category offered.
    pub category: u64,
    /// Trust offered (the most the pool will replicate for).
    pub trust: u64,
    /// Tag bits the pool's workers have.
    pub tag: B256,
    /// How often to check that an order is open.
    pub interval: Duration,
}

/// What one check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// An order of the pool is open in the category: nothing to do.
    Open(B256),
    /// A new order was published.
    Published(B256),
}

/// What the offer loop has done so far: counters it advances after each check, shown by the
/// scheduler's `GET /health` (so an observer can tell that a check ran since some moment).
#[derive(Debug, Default)]
pub struct OfferStats {
    checks: AtomicU64,
    published: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

/// A reading of [`OfferStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OfferCounts {
    /// Checks finished (whatever their outcome).
    pub checks: u64,
    /// Orders published.
    pub published: u64,
    /// Orders the market refused (e.g. more than the owner's stake can back).
    pub refused: u64,
    /// Checks that failed otherwise (market unreachable, signing failed).
    pub failed: u64,
}

impl OfferStats {
    /// The counters now.
    pub fn counts(&self) -> OfferCounts {
        OfferCounts {
            checks: self.checks.load(Ordering::Acquire),
            published: self.published.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    fn record(&self, outcome: &AtomicU64) {
        outcome.fetch_add(1, Ordering::Relaxed);
        self.checks.fetch_add(1, Ordering::Release);
    }
}

/// Keeps the offer open until `stop` turns true. Errors (market down, refused for lack of
/// stake) are logged and retried at the next interval; each check is counted in `stats`.
pub async fn run(
    client: Client,
    workerpool: Address,
    policy: OfferPolicy,
    stats: std::sync::Arc<OfferStats>,
    mut stop: watch::Receiver<bool>,
) {
    let market = match MarketClient::new(&policy.market_url, client.chain_id()) {
        Ok(market) => market,
        Err(e) => {
            tracing::error!(target: "scheduler::offer", error = %e, "no offers will be published");
            return;
        }
    };
    let mut interval = tokio::time::interval(policy.interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = interval.tick() => {}
        }
        match check(&client, &market, workerpool, &policy).await {
            Ok(Checked::Published(hash)) => {
                tracing::info!(target: "scheduler::offer", order = %hash, price = %policy.price, volume = policy.volume, category = policy.category, trust = policy.trust, "workerpool order published");
                stats.record(&stats.published);
            }
            Ok(Checked::Open(_)) => {
                stats.checks.fetch_add(1, Ordering::Release);
            }
            Err(OfferError::Market(ClientError::Refused { message, .. })) => {
                tracing::warn!(target: "scheduler::offer", "the market refused the workerpool order: {message}");
                stats.record(&stats.refused);
            }
            Err(e) => {
                tracing::warn!(target: "scheduler::offer", error = %e, "cannot keep the offer open; retrying");
                stats.record(&stats.failed);
            }
        }
    }
}

/// Why a check failed.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    /// The market failed or refused.
    #[error(transparent)]
    Market(#[from] ClientError),
    /// Signing failed (the owner's key is not the pool's owner, chain error).
    #[error("cannot sign the workerpool order: {0}")]
    Sign(#[from] dexec_sdk::Error),
}

/// One check: publish an order of the policy unless one of the pool's is open in its category.
pub async fn check(
    client: &Client,
    market: &MarketClient,
    workerpool: Address,
    policy: &OfferPolicy,
) -> Result<Checked, OfferError> {
    let any = Some(AddressFilter::Any);
    let open = market
        .orders(
            OrderKind::Workerpool,
            &OrderQuery {
                workerpool: Some(AddressFilter::Only(workerpool)),
                category: Some(policy.category),
                app: any,
                dataset: any,
                requester: any,
                min_volume: Some(1),
                page_size: Some(10),
                ..OrderQuery::default()
            },
        )
        .await?;
    if let Some(order) = open.orders.first() {
        return Ok(Checked::Open(order.order_hash));
    }
    let order = client
        .sign_order(WorkerpoolOrder {
            workerpool,
            workerpoolprice: U256::from(policy.price.0),
            volume: U256::from(policy.volume),
            tag: policy.tag,
            category: U256::from(policy.category),
            trust: U256::from(policy.trust),
            apprestrict: Address::ZERO,
            datasetrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: B256::from(rand::random::<[u8; 32]>()),
        })
        .await?;
    let view = market.publish(&order).await?;
    Ok(Checked::Published(view.order_hash))
}
