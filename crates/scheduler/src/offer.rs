//! The scheduler's standing offer: it keeps one workerpool order of its policy open on a
//! market, publishing a fresh one whenever none is (the last one filled, cancelled,
//! unpublished or dead), so requesters find the pool with `dexec app run`.
//!
//! The order never promises more than the pool can do: its volume is what the workers can
//! finish before the category's deadline less the tasks already accepted
//! ([`crate::capacity`]), at most the policy's `volume`. An open order offering more than that
//! (workers left, tasks came from elsewhere), or other terms than the policy's (a restart with
//! other flags), is closed on chain (`manageWorkerpoolOrder` CLOSE, which no copy of its
//! signature survives) and replaced; one offering at most half of what the pool could take is
//! replaced by a larger one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use dexec_primitives::{Nrlc, Signed, WorkerpoolOrder};
use dexec_sdk::market::{AddressFilter, ClientError, MarketClient, OrderQuery};
use dexec_sdk::{Client, OrderKind};
use serde::Serialize;
use tokio::sync::watch;

use crate::capacity::{CapacityRule, Load};

/// What the scheduler offers, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferPolicy {
    /// The market's URL.
    pub market_url: String,
    /// Price per task.
    pub price: Nrlc,
    /// The most tasks an order holds (the operator's cap); the volume offered follows the
    /// pool's capacity.
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

/// Who and what the offered order is for: its `requesterrestrict` and `apprestrict` (an
/// account, or an ERC-734 group contract; zero: anyone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Restrictions {
    /// The requester (or group of requesters) allowed.
    pub requester: Address,
    /// The app (or group of apps) allowed.
    pub app: Address,
}

/// What one check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// An order of the pool is open in the category with a fitting volume: nothing to do.
    Open {
        /// The order.
        hash: B256,
        /// Its volume still available on chain.
        remaining: u64,
        /// Orders closed on chain during the check (duplicates, other terms).
        closed: u64,
    },
    /// A new order was published (after closing `closed` others).
    Published {
        /// The order.
        hash: B256,
        /// Its volume.
        volume: u64,
        /// Orders closed on chain first.
        closed: u64,
    },
    /// The pool can take no more tasks now: no order is open (`closed` were closed).
    Full {
        /// Orders closed on chain.
        closed: u64,
    },
}

/// What the offer loop has done so far: counters it advances after each check, shown by the
/// scheduler's `GET /health` (so an observer can tell that a check ran since some moment).
#[derive(Debug, Default)]
pub struct OfferStats {
    checks: AtomicU64,
    published: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    closed: AtomicU64,
    capacity: AtomicU64,
    volume: AtomicU64,
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
    /// Orders closed on chain (more than the pool can do, or other terms).
    pub closed: u64,
    /// Tasks the pool can finish before the deadline, at the last check.
    pub capacity: u64,
    /// Volume the last check offered (capacity less the tasks accepted, at most the cap).
    pub volume: u64,
}

impl OfferStats {
    /// The counters now.
    pub fn counts(&self) -> OfferCounts {
        OfferCounts {
            checks: self.checks.load(Ordering::Acquire),
            published: self.published.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            closed: self.closed.load(Ordering::Relaxed),
            capacity: self.capacity.load(Ordering::Relaxed),
            volume: self.volume.load(Ordering::Relaxed),
        }
    }

    fn record(&self, outcome: &AtomicU64) {
        outcome.fetch_add(1, Ordering::Relaxed);
        self.checks.fetch_add(1, Ordering::Release);
    }
}

/// Keeps the offer open until `stop` turns true, with the volume the latest [`Load`] allows
/// (none is offered before the scheduler published one, i.e. caught up with the chain).
/// Errors (market down, refused for lack of stake) are logged and retried at the next
/// interval; each check is counted in `stats`.
pub async fn run(
    client: Client,
    workerpool: Address,
    offer: Offer,
    stats: std::sync::Arc<OfferStats>,
    mut load: watch::Receiver<Option<Load>>,
    mut stop: watch::Receiver<bool>,
) {
    let policy = &offer.policy;
    let market = match MarketClient::new(&policy.market_url, client.chain_id()) {
        Ok(market) => market,
        Err(e) => {
            tracing::error!(target: "scheduler::offer", error = %e, "no offers will be published");
            return;
        }
    };
    let mut interval = tokio::time::interval(policy.interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rule = None;
    loop {
        let stopping = tokio::select! {
            _ = stop.wait_for(|s| *s) => true,
            _ = interval.tick() => false,
        };
        if stopping {
            withdraw(&client, &market, workerpool).await;
            return;
        }
        let Some(now) = *load.borrow_and_update() else {
            continue; // the scheduler has not caught up with the chain yet
        };
        // the category's time reference, read once
        let rule = match rule {
            Some(rule) => rule,
            None => match client.category(policy.category).await {
                Ok(category) => *rule.insert(offer.rule(category.timeref)),
                Err(e) => {
                    tracing::warn!(target: "scheduler::offer", category = policy.category, error = %e, "cannot read the offered category; retrying");
                    stats.record(&stats.failed);
                    continue;
                }
            },
        };
        let capacity = rule.capacity(now.slots, now.duration);
        let target = rule.volume(&now, policy.volume);
        stats.capacity.store(capacity, Ordering::Relaxed);
        stats.volume.store(target, Ordering::Relaxed);
        match check(&client, &market, workerpool, &offer, target).await {
            Ok(checked) => {
                let closed = match checked {
                    Checked::Open { closed, .. } | Checked::Full { closed } => closed,
                    Checked::Published {
                        hash,
                        volume,
                        closed,
                    } => {
                        tracing::info!(target: "scheduler::offer", order = %hash, price = %policy.price, volume, capacity, unfinished = now.unfinished, slots = now.slots, category = policy.category, trust = policy.trust, "workerpool order published");
                        stats.published.fetch_add(1, Ordering::Relaxed);
                        closed
                    }
                };
                stats.closed.fetch_add(closed, Ordering::Relaxed);
                stats.checks.fetch_add(1, Ordering::Release);
            }
            Err(OfferError::Market(ClientError::Refused { message, .. })) => {
                tracing::warn!(target: "scheduler::offer", "the market refused the workerpool order: {message}");
                stats.record(&stats.refused);
            }
            Err(e) => {
                tracing::warn!(target: "scheduler::offer", error = %e, "cannot keep the offer right; retrying");
                stats.record(&stats.failed);
            }
        }
    }
}

/// The offer: the policy, the restrictions and the capacity settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Price, cap, category, trust, tag.
    pub policy: OfferPolicy,
    /// Requester and app restrictions.
    pub restrict: Restrictions,
    /// Share of the deadline window left unplanned, percent.
    pub margin_percent: u64,
    /// Least on-chain score of the workers the pool admits (their weight decides how many
    /// replicates a replicated task needs).
    pub min_worker_score: u64,
    /// A replicate's duration assumed before any is measured (default: the category's time
    /// reference).
    pub default_duration: Option<Duration>,
}

impl Offer {
    /// The capacity rule for a category of time reference `timeref` seconds.
    pub fn rule(&self, timeref: u64) -> CapacityRule {
        let mut rule = CapacityRule::new(timeref, self.policy.trust, self.min_worker_score);
        rule.margin_percent = self.margin_percent;
        if let Some(d) = self.default_duration {
            rule.default_duration = d;
        }
        rule
    }

    /// The order the policy offers, of `volume` tasks (salt left zero).
    pub fn order(&self, workerpool: Address, volume: u64) -> WorkerpoolOrder {
        WorkerpoolOrder {
            workerpool,
            workerpoolprice: U256::from(self.policy.price.0),
            volume: U256::from(volume),
            tag: self.policy.tag,
            category: U256::from(self.policy.category),
            trust: U256::from(self.policy.trust),
            apprestrict: self.restrict.app,
            datasetrestrict: Address::ZERO,
            requesterrestrict: self.restrict.requester,
            salt: B256::ZERO,
        }
    }

    /// Whether `order` has the terms of the policy (any volume and salt).
    pub fn offers(&self, order: &WorkerpoolOrder) -> bool {
        let mut theirs = order.clone();
        theirs.volume = U256::ZERO;
        theirs.salt = B256::ZERO;
        theirs == self.order(order.workerpool, 0)
    }
}

/// Why a check failed.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    /// The market failed or refused.
    #[error(transparent)]
    Market(#[from] ClientError),
    /// Signing, reading an order's state or closing it failed (the owner's key is not the
    /// pool's owner, no gas, chain error).
    #[error("cannot sign, read or close the workerpool order: {0}")]
    Sign(#[from] dexec_sdk::Error),
}

/// Whether an open order with `remaining` tasks should give way to one of `target` tasks: it
/// offers more than the pool can do, or at most half of it (closing costs a transaction, so a
/// small shortfall is left until the order fills).
pub fn replace(remaining: u64, target: u64) -> bool {
    remaining > target || remaining.saturating_mul(2) <= target
}

/// One check: keep at most one order of the offer open in its category, of at most `target`
/// tasks; close (on chain) what offers more or other terms, publish one of `target` when none
/// fits.
pub async fn check(
    client: &Client,
    market: &MarketClient,
    workerpool: Address,
    offer: &Offer,
    target: u64,
) -> Result<Checked, OfferError> {
    let open = market
        .orders(
            OrderKind::Workerpool,
            &pool_orders(workerpool, Some(offer.policy.category)),
        )
        .await?;
    let mut kept = None;
    let mut closed = 0;
    for view in open.orders {
        let Some(signed) = view.order.into_signed::<WorkerpoolOrder>() else {
            continue;
        };
        // the chain's word, not the market's last sight of it
        let remaining: u64 = client
            .order_status(&signed)
            .await?
            .remaining
            .saturating_to();
        if remaining == 0 {
            continue; // filled or closed; the market will see it
        }
        let fits = kept.is_none() && offer.offers(&signed.order) && !replace(remaining, target);
        if fits {
            kept = Some((view.order_hash, remaining));
        } else {
            close(client, &signed).await?;
            tracing::info!(target: "scheduler::offer", order = %view.order_hash, remaining, volume = target, "workerpool order closed");
            closed += 1;
        }
    }
    if let Some((hash, remaining)) = kept {
        return Ok(Checked::Open {
            hash,
            remaining,
            closed,
        });
    }
    if target == 0 {
        return Ok(Checked::Full { closed });
    }
    let mut order = offer.order(workerpool, target);
    order.salt = B256::from(rand::random::<[u8; 32]>());
    let order = client.sign_order(order).await?;
    let view = market.publish(&order).await?;
    Ok(Checked::Published {
        hash: view.order_hash,
        volume: target,
        closed,
    })
}

/// The market query for `workerpool`'s orders with volume left, whatever they restrict (in
/// `category`, or all).
pub(crate) fn pool_orders(workerpool: Address, category: Option<u64>) -> OrderQuery {
    let any = Some(AddressFilter::Any);
    OrderQuery {
        workerpool: Some(AddressFilter::Only(workerpool)),
        category,
        app: any,
        dataset: any,
        requester: any,
        min_volume: Some(1),
        page_size: Some(50),
        ..OrderQuery::default()
    }
}

/// How long a stopping scheduler spends withdrawing its offer.
pub const WITHDRAW_TIMEOUT: Duration = Duration::from_secs(15);

/// A stopping scheduler's last act: close on chain every order of its pool still open on the
/// market, so that no requester buys tasks from a pool nobody runs (the market then lists
/// them as cancelled; a copy of the signature elsewhere cannot be matched either). A restart
/// publishes a fresh one. Failures are logged: the claim path still refunds requesters.
pub async fn withdraw(client: &Client, market: &MarketClient, workerpool: Address) {
    let query = pool_orders(workerpool, None);
    let work = async {
        let open = market.orders(OrderKind::Workerpool, &query).await?;
        let mut closed = 0;
        for view in open.orders {
            let Some(signed) = view.order.into_signed::<WorkerpoolOrder>() else {
                continue;
            };
            if client.order_status(&signed).await?.remaining.is_zero() {
                continue;
            }
            close(client, &signed).await?;
            tracing::info!(target: "scheduler::offer", order = %view.order_hash, "workerpool order closed: the scheduler stops");
            closed += 1;
        }
        Ok::<_, OfferError>(closed)
    };
    match tokio::time::timeout(WITHDRAW_TIMEOUT, work).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(target: "scheduler::offer", error = %e, "could not withdraw the offer at stop: its orders stay open until they expire or are matched")
        }
        Err(_) => {
            tracing::warn!(target: "scheduler::offer", "withdrawing the offer at stop took too long; its orders may stay open")
        }
    }
}

async fn close(client: &Client, order: &Signed<WorkerpoolOrder>) -> Result<(), OfferError> {
    client.cancel_order(&order.order).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_replaced_when_it_offers_too_much_or_at_most_half() {
        assert!(replace(10, 9), "more than the pool can do");
        assert!(replace(1, 0), "the pool is full");
        assert!(!replace(10, 10));
        assert!(!replace(6, 10), "a small shortfall waits");
        assert!(replace(5, 10), "half: a larger one is published");
        assert!(!replace(1, 1));
    }

    #[test]
    fn the_offered_order_carries_the_restrictions_and_is_recognised_by_its_terms() {
        let offer = Offer {
            policy: OfferPolicy {
                market_url: "http://127.0.0.1:1".into(),
                price: Nrlc(100),
                volume: 1_000,
                category: 2,
                trust: 3,
                tag: B256::with_last_byte(1),
                interval: Duration::from_secs(5),
            },
            restrict: Restrictions {
                requester: Address::repeat_byte(0xaa),
                app: Address::repeat_byte(0xbb),
            },
            margin_percent: 50,
            min_worker_score: 0,
            default_duration: None,
        };
        let pool = Address::repeat_byte(1);
        let order = offer.order(pool, 7);
        assert_eq!(order.requesterrestrict, Address::repeat_byte(0xaa));
        assert_eq!(order.apprestrict, Address::repeat_byte(0xbb));
        assert_eq!(order.volume, U256::from(7));
        assert!(offer.offers(&order));
        let mut other = order.clone();
        other.salt = B256::repeat_byte(9);
        other.volume = U256::from(1_000);
        assert!(offer.offers(&other), "volume and salt do not matter");
        other.requesterrestrict = Address::ZERO;
        assert!(
            !offer.offers(&other),
            "an unrestricted order is not this offer"
        );
        let mut other = order;
        other.workerpoolprice = U256::from(99);
        assert!(!offer.offers(&other));
    }
}
