//! The scheduler fills requesters' limit orders: request orders published on the market
//! (signed by a wallet with `dexec app request-execution`, or presigned on chain by a
//! contract and published by whoever issued them) are matched against the pool's standing
//! offer ([`crate::offer`]) when the pool's policy accepts them.
//!
//! Each pass reads the market's open requests of the offered category that admit this pool,
//! best price for the pool first (the book's order), and for each one not decided yet:
//!
//! 1. the policy: the workerpool price offered is at least the pool's floor (its offer
//!    price), the trust at most the offered trust, the tag bits within the workers' tag, the
//!    requester and app those the offer admits. A request failing these is **refused** for
//!    good, with the reason (it cannot change: an order is immutable);
//! 2. the supply: the pool's standing order has volume left (its capacity is free), an app
//!    order (and a dataset order when the request names a dataset) on the market admits the
//!    request at most at its max prices, and [`Client::plan_match`] passes (the requester's
//!    free balance, volumes, the hub's compatibility rules). A request failing these
//!    **waits** and is looked at again after [`RETRY_AFTER`];
//! 3. the match: `matchOrders` with the best app and dataset orders and the standing order.
//!    One match per pass, and the next pass only once the scheduler has processed the block
//!    of the deal (so its capacity counts the new tasks): a request is never matched twice
//!    for the same volume, and the hub refuses what is consumed anyway.
//!
//! What was decided about each request is kept in memory and served by `GET /requests`
//! (reasons included), most recent first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use dexec_primitives::{AppOrder, DatasetOrder, Nrlc, RequestOrder, Signed, WorkerpoolOrder};
use dexec_sdk::market::{AddressFilter, MarketClient, MarketOrder, OrderQuery};
use dexec_sdk::{Client, MatchInput, OrderKind};
use serde::Serialize;
use tokio::sync::watch;

use crate::capacity::Load;
use crate::offer::Offer;

/// How long a request that waits (no app order, no capacity, no balance) is left alone
/// before it is looked at again.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// Most requests remembered; the oldest decisions are forgotten first.
const REMEMBERED: usize = 1_000;

/// Requests read from the market per pass.
const PAGE: u64 = 50;

/// What the scheduler decided about one request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Decision {
    /// Matched: a deal was made (the request may still have volume for more deals).
    Filled {
        /// The deal.
        deal: B256,
        /// Its tasks.
        volume: u64,
        /// The match transaction.
        tx: B256,
    },
    /// The pool's policy does not accept it, for good.
    Refused {
        /// Why, as a sentence.
        reason: String,
    },
    /// It may match later (no capacity, no app order, not enough balance …).
    Waiting {
        /// Why not now, as a sentence.
        reason: String,
    },
}

/// One request the scheduler looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Considered {
    /// The request order's hash.
    pub hash: B256,
    /// Its requester.
    pub requester: Address,
    /// Its app.
    pub app: Address,
    /// What it offers the workerpool per task.
    pub workerpool_max_price: Nrlc,
    /// The decision.
    #[serde(flatten)]
    pub decision: Decision,
    /// Deals made for it so far.
    pub deals: u64,
    /// When it was last decided, Unix milliseconds.
    pub at: i64,
}

/// What the fill loop has decided, shared with the HTTP API.
#[derive(Debug, Default)]
pub struct FillBook {
    requests: Mutex<HashMap<B256, (Considered, Instant)>>,
    passes: AtomicU64,
    filled: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

/// Counters of [`FillBook`], shown by `GET /health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FillCounts {
    /// Passes over the market's requests finished.
    pub passes: u64,
    /// Deals made from requests.
    pub filled: u64,
    /// Requests refused by the policy.
    pub refused: u64,
    /// Passes that failed (market or chain unreachable).
    pub failed: u64,
}

impl FillBook {
    /// The counters now.
    pub fn counts(&self) -> FillCounts {
        FillCounts {
            passes: self.passes.load(Ordering::Acquire),
            filled: self.filled.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// The requests looked at, most recently decided first.
    pub fn considered(&self) -> Vec<Considered> {
        let mut all: Vec<Considered> = self
            .lock()
            .values()
            .map(|(considered, _)| considered.clone())
            .collect();
        all.sort_by(|a, b| b.at.cmp(&a.at).then(a.hash.cmp(&b.hash)));
        all
    }

    /// What was decided about `hash`, if it was looked at.
    pub fn get(&self, hash: B256) -> Option<Considered> {
        self.lock().get(&hash).map(|(c, _)| c.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<B256, (Considered, Instant)>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `hash` is to be looked at now: never seen, or waiting for longer than
    /// [`RETRY_AFTER`], or filled with volume left (the caller checks the chain).
    fn due(&self, hash: B256) -> bool {
        match self.lock().get(&hash) {
            None => true,
            Some((c, at)) => match c.decision {
                Decision::Refused { .. } => false,
                Decision::Waiting { .. } => at.elapsed() >= RETRY_AFTER,
                Decision::Filled { .. } => true,
            },
        }
    }

    fn record(&self, request: &Signed<RequestOrder>, hash: B256, decision: Decision) {
        let mut map = self.lock();
        let deals = map.get(&hash).map_or(0, |(c, _)| c.deals)
            + u64::from(matches!(decision, Decision::Filled { .. }));
        match &decision {
            Decision::Filled { .. } => {
                self.filled.fetch_add(1, Ordering::Relaxed);
            }
            Decision::Refused { reason } => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                tracing::info!(target: "scheduler::fill", request = %hash, "request refused: {reason}");
            }
            Decision::Waiting { reason } => {
                tracing::debug!(target: "scheduler::fill", request = %hash, "request waits: {reason}");
            }
        }
        if map.len() >= REMEMBERED && !map.contains_key(&hash) {
            if let Some(oldest) = map.iter().min_by_key(|(_, (_, at))| *at).map(|(h, _)| *h) {
                map.remove(&oldest);
            }
        }
        let considered = Considered {
            hash,
            requester: request.order.requester,
            app: request.order.app,
            workerpool_max_price: Nrlc(request.order.workerpoolmaxprice.saturating_to()),
            decision,
            deals,
            at: crate::db::now_ms(),
        };
        map.insert(hash, (considered, Instant::now()));
    }
}

/// Fill requests every `interval` until `stop` turns true (nothing is filled before the
/// scheduler has caught up with the chain and measured its load).
pub async fn run(
    client: Client,
    workerpool: Address,
    offer: Offer,
    interval: Duration,
    book: Arc<FillBook>,
    mut load: watch::Receiver<Option<Load>>,
    mut stop: watch::Receiver<bool>,
) {
    let market = match MarketClient::new(&offer.policy.market_url, client.chain_id()) {
        Ok(market) => market,
        Err(e) => {
            tracing::error!(target: "scheduler::fill", error = %e, "no requests will be filled");
            return;
        }
    };
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // the block of the last deal made: nothing more before the scheduler has processed it
    let mut last_match: Option<u64> = None;
    let mut failing = dexec_service::log::Repeated::new(Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = ticks.tick() => {}
        }
        let Some(now) = *load.borrow_and_update() else {
            continue;
        };
        if last_match.is_some_and(|block| now.next_block <= block) {
            continue; // the deal's tasks are not counted in the load yet
        }
        let pass = Pass {
            client: &client,
            market: &market,
            workerpool,
            offer: &offer,
            book: &book,
        };
        match pass.run().await {
            Ok(matched) => {
                if matched.is_some() {
                    last_match = matched;
                }
                book.passes.fetch_add(1, Ordering::Release);
                if let dexec_service::log::Say::Recovered { failures, .. } = failing.success() {
                    tracing::info!(target: "scheduler::fill", failures, "filling requests works again");
                }
            }
            Err(e) => {
                book.failed.fetch_add(1, Ordering::Relaxed);
                book.passes.fetch_add(1, Ordering::Release);
                if let dexec_service::log::Say::Failure { unlogged } = failing.failure() {
                    tracing::warn!(target: "scheduler::fill", error = %e, unlogged, "cannot read the market's requests; retrying (said at most every 30 s)");
                }
            }
        }
    }
}

/// Why a pass failed as a whole.
#[derive(Debug, thiserror::Error)]
enum PassError {
    #[error(transparent)]
    Market(#[from] dexec_sdk::market::ClientError),
    #[error(transparent)]
    Chain(#[from] dexec_sdk::Error),
}

struct Pass<'a> {
    client: &'a Client,
    market: &'a MarketClient,
    workerpool: Address,
    offer: &'a Offer,
    book: &'a FillBook,
}

impl Pass<'_> {
    /// One pass: returns the block of the deal made, if one was.
    async fn run(&self) -> Result<Option<u64>, PassError> {
        let policy = &self.offer.policy;
        let query = OrderQuery {
            category: Some(policy.category),
            workerpool: Some(AddressFilter::Only(self.workerpool)),
            page_size: Some(PAGE),
            ..OrderQuery::default()
        };
        let page = self.market.orders(OrderKind::Request, &query).await?;
        let mut standing: Option<Option<(Signed<WorkerpoolOrder>, u64)>> = None;
        for view in page.orders {
            let hash = view.order_hash;
            if !self.book.due(hash) {
                continue;
            }
            let Some(request) = view.order.into_signed::<RequestOrder>() else {
                continue;
            };
            if let Some(reason) = refusal(self.offer, &request.order) {
                self.book
                    .record(&request, hash, Decision::Refused { reason });
                continue;
            }
            // the chain's word on what is left (the market may lag a block behind)
            let left: u64 = self
                .client
                .order_status(&request)
                .await?
                .remaining
                .saturating_to();
            if left == 0 {
                continue; // filled or cancelled: the market will see it
            }
            // the standing order, read once per pass
            let pool = match &standing {
                Some(pool) => pool.clone(),
                None => standing.insert(self.standing_order().await?).clone(),
            };
            let Some((pool, capacity)) = pool else {
                let reason = "the pool has no free capacity now (no open workerpool order: its \
                              workers are busy or none is registered)"
                    .to_owned();
                self.book
                    .record(&request, hash, Decision::Waiting { reason });
                continue;
            };
            match self.supply(&request.order).await? {
                Err(reason) => {
                    self.book
                        .record(&request, hash, Decision::Waiting { reason });
                }
                Ok((app, dataset)) => {
                    let input = MatchInput {
                        app,
                        dataset,
                        workerpool: pool,
                        request: request.clone(),
                    };
                    if let Err(e) = self.client.plan_match(&input).await {
                        let reason = format!("cannot match now: {e}");
                        self.book
                            .record(&request, hash, Decision::Waiting { reason });
                        continue;
                    }
                    match self.client.match_orders(&input).await {
                        Ok(matched) => {
                            let volume = u64::from(matched.deal.bot_size);
                            tracing::info!(target: "scheduler::fill", request = %hash, deal = %matched.deal_id, volume, capacity, price = %Nrlc(matched.deal.workerpool_price), "request filled");
                            self.book.record(
                                &request,
                                hash,
                                Decision::Filled {
                                    deal: matched.deal_id,
                                    volume,
                                    tx: matched.tx.tx_hash,
                                },
                            );
                            return Ok(Some(matched.tx.block));
                        }
                        Err(e) => {
                            let reason = format!("the match failed: {e}");
                            tracing::warn!(target: "scheduler::fill", request = %hash, "{reason}");
                            self.book
                                .record(&request, hash, Decision::Waiting { reason });
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// The pool's open order in the offered category with volume left on chain, and that
    /// volume.
    async fn standing_order(&self) -> Result<Option<(Signed<WorkerpoolOrder>, u64)>, PassError> {
        let query = crate::offer::pool_orders(self.workerpool, Some(self.offer.policy.category));
        let page = self.market.orders(OrderKind::Workerpool, &query).await?;
        for view in page.orders {
            let Some(order) = view.order.into_signed::<WorkerpoolOrder>() else {
                continue;
            };
            if !self.offer.offers(&order.order) {
                continue; // another policy's order, closed by the offer loop
            }
            let left: u64 = self
                .client
                .order_status(&order)
                .await?
                .remaining
                .saturating_to();
            if left > 0 {
                return Ok(Some((order, left)));
            }
        }
        Ok(None)
    }

    /// The best app order (and dataset order) on the market for `request`, or why there is
    /// none.
    #[allow(clippy::type_complexity)]
    async fn supply(
        &self,
        request: &RequestOrder,
    ) -> Result<Result<(Signed<AppOrder>, Option<Signed<DatasetOrder>>), String>, PassError> {
        let tag = self.offer.policy.tag;
        let dataset = (request.dataset != Address::ZERO).then_some(request.dataset);
        let query = OrderQuery {
            app: Some(AddressFilter::Only(request.app)),
            dataset: dataset.map(AddressFilter::Only),
            workerpool: Some(AddressFilter::Only(self.workerpool)),
            requester: Some(AddressFilter::Only(request.requester)),
            max_tag: Some(tag.to_string()),
            ..OrderQuery::default()
        };
        let app = match self
            .cheapest::<AppOrder>(query, |o| o.appprice, request.appmaxprice)
            .await?
        {
            Ok(app) => app,
            Err(why) => return Ok(Err(format!("app {}: {why}", request.app))),
        };
        let Some(dataset) = dataset else {
            return Ok(Ok((app, None)));
        };
        let query = OrderQuery {
            dataset: Some(AddressFilter::Only(dataset)),
            app: Some(AddressFilter::Only(request.app)),
            workerpool: Some(AddressFilter::Only(self.workerpool)),
            requester: Some(AddressFilter::Only(request.requester)),
            max_tag: Some(tag.to_string()),
            ..OrderQuery::default()
        };
        match self
            .cheapest::<DatasetOrder>(query, |o| o.datasetprice, request.datasetmaxprice)
            .await?
        {
            Ok(order) => Ok(Ok((app, Some(order)))),
            Err(why) => Ok(Err(format!("dataset {dataset}: {why}"))),
        }
    }

    /// The cheapest order of `T` for `query` with volume left on chain, if its price is at
    /// most `max`; otherwise why not.
    async fn cheapest<T: MarketOrder>(
        &self,
        query: OrderQuery,
        price: fn(&T) -> U256,
        max: U256,
    ) -> Result<Result<Signed<T>, String>, PassError> {
        let query = OrderQuery {
            page_size: Some(20),
            ..query
        };
        let page = self.market.orders(T::KIND, &query).await?;
        for view in page.orders {
            let Some(order) = view.order.into_signed::<T>() else {
                continue;
            };
            if self.client.order_status(&order).await?.remaining.is_zero() {
                continue;
            }
            let asked = price(&order.order);
            if asked > max {
                return Ok(Err(format!(
                    "its cheapest order on the market asks {} per task, more than the request's \
                     max price {}",
                    Nrlc(asked.saturating_to()),
                    Nrlc(max.saturating_to())
                )));
            }
            return Ok(Ok(order));
        }
        Ok(Err(format!(
            "no {} order on the market admits this request (its requester, this workerpool and \
             the workers' tag)",
            T::KIND.name()
        )))
    }
}

/// Why the pool's policy refuses `request` for good, if it does.
pub fn refusal(offer: &Offer, request: &RequestOrder) -> Option<String> {
    let policy = &offer.policy;
    let offered: u128 = request.workerpoolmaxprice.saturating_to();
    if offered < policy.price.0 {
        return Some(format!(
            "it offers the workerpool {} per task, below this pool's floor of {}",
            Nrlc(offered),
            policy.price
        ));
    }
    let category: u64 = request.category.saturating_to();
    if category != policy.category {
        return Some(format!(
            "it is for category {category}; this pool serves category {}",
            policy.category
        ));
    }
    let trust: u64 = request.trust.saturating_to();
    if trust > policy.trust {
        return Some(format!(
            "it asks trust {trust}; this pool offers at most {}",
            policy.trust
        ));
    }
    let missing = request.tag & !policy.tag;
    if !missing.is_zero() {
        return Some(format!(
            "it needs tag bits this pool's workers lack: {}",
            dexec_primitives::tag::names(missing).join(", ")
        ));
    }
    let restrict = offer.restrict;
    if restrict.requester != Address::ZERO && restrict.requester != request.requester {
        return Some(format!(
            "this pool serves only requester {}",
            restrict.requester
        ));
    }
    if restrict.app != Address::ZERO && restrict.app != request.app {
        return Some(format!("this pool runs only app {}", restrict.app));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offer::{OfferPolicy, Restrictions};

    fn offer() -> Offer {
        Offer {
            policy: OfferPolicy {
                market_url: "http://127.0.0.1:1".into(),
                price: Nrlc(100),
                volume: 10,
                category: 0,
                trust: 3,
                tag: dexec_primitives::tag::parse("gpu").unwrap_or_default(),
                interval: Duration::from_secs(5),
            },
            restrict: Restrictions::default(),
            margin_percent: 50,
            min_worker_score: 0,
            default_duration: None,
        }
    }

    fn request() -> RequestOrder {
        RequestOrder {
            workerpoolmaxprice: U256::from(100),
            trust: U256::from(1),
            ..RequestOrder::default()
        }
    }

    #[test]
    fn the_policy_refuses_with_a_sentence_what_it_can_never_accept() {
        let offer = offer();
        assert_eq!(refusal(&offer, &request()), None);
        let cheap = RequestOrder {
            workerpoolmaxprice: U256::from(99),
            ..request()
        };
        let why = refusal(&offer, &cheap).unwrap_or_default();
        assert!(why.contains("below this pool's floor"), "{why}");
        let tee = RequestOrder {
            tag: dexec_primitives::tag::parse("tee").unwrap_or_default(),
            ..request()
        };
        let why = refusal(&offer, &tee).unwrap_or_default();
        assert!(why.contains("tag bits") && why.contains("tee"), "{why}");
        let trust = RequestOrder {
            trust: U256::from(5),
            ..request()
        };
        let why = refusal(&offer, &trust).unwrap_or_default();
        assert!(why.contains("trust 5"), "{why}");
        let other = RequestOrder {
            category: U256::from(2),
            ..request()
        };
        assert!(refusal(&offer, &other).is_some());
        let mut only = offer.clone();
        only.restrict.app = Address::repeat_byte(7);
        let why = refusal(&only, &request()).unwrap_or_default();
        assert!(why.contains("only app"), "{why}");
    }
}
