//! One update of a price feed, end to end: the feed presigns a request (the wallet's
//! `requestUpdate` transaction), the order goes to the market, a scheduler fills it, workers
//! run the app, the hub settles the task and calls the feed back; done when the feed's value
//! comes from that task.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use dexec_sdk::market::MarketClient;
use dexec_sdk::oracle::{FeedValue, OracleRequested, OracleSpec};
use dexec_sdk::{Client, DealInfo, TaskStatus};
use serde::Serialize;

use crate::exit::Fail;

/// Gas of every transaction of one update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateGas {
    /// The feed's `requestUpdate` (the request presigned on the hub).
    pub request: u64,
    /// The scheduler's `matchOrders`.
    pub matched: u64,
    /// The execution: contributions, reveals and finalization with the callback.
    pub execution: u64,
    /// All of them.
    pub total: u64,
}

/// One update done.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Updated {
    /// The request.
    pub requested: OracleRequested,
    /// The deal the scheduler made.
    pub deal_id: B256,
    /// The feed's value now (from the task).
    pub value: FeedValue,
    /// Seconds from the request's publication to the deal.
    pub fill_latency_s: f64,
    /// Seconds from sending `requestUpdate` to the value readable on chain.
    pub latency_s: f64,
    /// What the task cost the feed.
    #[serde(rename = "costNrlc")]
    pub cost: dexec_sdk::primitives::Nrlc,
    /// Gas of its transactions.
    pub gas: UpdateGas,
}

/// Ask `feed` for a new value of `id`, publish the request on `market`, and wait (at most
/// `timeout`) until the feed holds the value of that task. `say` hears the steps.
pub async fn update(
    client: &Client,
    market: &MarketClient,
    feed: Address,
    id: B256,
    spec: &OracleSpec,
    timeout: Duration,
    say: &(dyn Fn(&str) + Sync),
) -> eyre::Result<Updated> {
    let filled = request_and_fill(client, market, feed, id, spec, timeout, say).await?;
    await_value(client, feed, id, filled, timeout).await
}

/// A feed's request matched by a scheduler: the feed has paid for it (its price is locked).
pub struct Filled {
    /// The request.
    pub requested: OracleRequested,
    /// Its deal.
    pub deal: DealInfo,
    /// When `requestUpdate` was sent.
    started: Instant,
    /// Seconds from publication to the deal.
    fill_latency_s: f64,
}

impl Filled {
    /// What the feed paid (locked at the match; a claim refunds it).
    pub fn cost(&self) -> dexec_sdk::primitives::Nrlc {
        dexec_sdk::primitives::Nrlc(self.deal.deal.total_price())
    }
}

/// The first half of [`update`]: the request presigned, published and matched (or closed
/// on chain when no scheduler filled it within `timeout`).
pub async fn request_and_fill(
    client: &Client,
    market: &MarketClient,
    feed: Address,
    id: B256,
    spec: &OracleSpec,
    timeout: Duration,
    say: &(dyn Fn(&str) + Sync),
) -> eyre::Result<Filled> {
    let started = Instant::now();
    let requested = client.request_feed_update(feed, id, spec).await?;
    say(&format!(
        "request {} presigned by the feed (tx {}, gas {}); its task will be {}",
        requested.request_hash, requested.tx.tx_hash, requested.tx.gas_used, requested.task_id
    ));
    let published_at = Instant::now();
    if let Err(e) = market.publish(&requested.request).await {
        let closed = close(client, feed, &requested).await;
        return Err(eyre::eyre!(
            "the market refused the feed's request {}: {e}; {closed}",
            requested.request_hash
        ));
    }
    say("request published on the market; waiting for a scheduler to fill it");
    let deal_id = dexec_sdk::primitives::ids::deal_id(requested.request_hash, 0);
    let deadline = started + timeout;
    let deal = loop {
        match client.deal(deal_id).await {
            Ok(deal) => break deal,
            Err(dexec_sdk::Error::DealNotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        if Instant::now() > deadline {
            let closed = close(client, feed, &requested).await;
            return Err(Fail::aborted(format!(
                "no scheduler filled the feed's request {} within {} s: is a workerpool with a \
                 live scheduler offering category {} at trust ≥ {} for at most {} per task? \
                 (`dexec orderbook workerpool`); {closed}",
                requested.request_hash,
                timeout.as_secs(),
                spec.category,
                spec.trust,
                spec.workerpool_max_price
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let fill_latency_s = published_at.elapsed().as_secs_f64();
    say(&format!(
        "deal {deal_id} made by a scheduler after {fill_latency_s:.2} s (block {}); the task runs",
        deal.block
    ));
    Ok(Filled {
        requested,
        deal,
        started,
        fill_latency_s,
    })
}

/// Close a request the runner gives up on, on chain, so that nobody fills it later (a copy
/// of the order may be anywhere): what happened, as words for the error.
async fn close(client: &Client, feed: Address, requested: &OracleRequested) -> String {
    match client
        .cancel_feed_request(feed, &requested.request.order)
        .await
    {
        Ok(tx) => format!("the feed closed the request (tx {})", tx.tx_hash),
        Err(e) => format!("closing it failed ({e}): it may still be filled"),
    }
}

/// The second half of [`update`]: wait (at most `timeout` from the request) until the feed
/// holds the value of the filled task.
pub async fn await_value(
    client: &Client,
    feed: Address,
    id: B256,
    filled: Filled,
    timeout: Duration,
) -> eyre::Result<Updated> {
    let deadline = filled.started + timeout;
    let requested = &filled.requested;
    let deal = &filled.deal;
    let value = loop {
        let value = client.feed_value(feed, id).await?;
        if value.task_id == requested.task_id {
            break value;
        }
        let task = client.task(deal, 0).await?;
        match task.status {
            TaskStatus::Failed => {
                return Err(Fail::refused(format!(
                    "task {} failed (claimed: the feed's hub account was refunded); the feed keeps \
                     its previous value",
                    requested.task_id
                )))
            }
            TaskStatus::Completed => {
                // the value was read before the task's status: the finalizing transaction may
                // have landed between the two reads
                let value = client.feed_value(feed, id).await?;
                if value.task_id == requested.task_id {
                    break value;
                }
                // the callback came in the finalizing transaction: the feed ignored the result
                return Err(Fail::refused(format!(
                    "task {} completed but the feed kept its previous value: the result was \
                     malformed, not newer than the value it holds, or dated in the future (see \
                     the feed's MalformedResult / OutOfOrderResult / FutureResult events)",
                    requested.task_id
                )));
            }
            _ => {}
        }
        if Instant::now() > deadline {
            return Err(Fail::aborted(format!(
                "task {} is {:?} after {} s; follow it with `dexec task show {}`",
                requested.task_id,
                task.status,
                timeout.as_secs(),
                requested.task_id
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let latency_s = filled.started.elapsed().as_secs_f64();
    // the value is on chain: the update is done whatever its accounting does; a node that
    // fails to answer for the receipts is asked again, then the gas is told as unknown (0)
    let mut gas = UpdateGas::default();
    for attempt in 1..=3 {
        match gas_of(client, requested, deal).await {
            Ok(measured) => {
                gas = measured;
                break;
            }
            Err(e) if attempt == 3 => eprintln!(
                "the gas of task {} is unknown (the node did not give its receipts: {e})",
                requested.task_id
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    Ok(Updated {
        cost: filled.cost(),
        deal_id: deal.deal_id,
        value,
        fill_latency_s: filled.fill_latency_s,
        latency_s,
        gas,
        requested: filled.requested,
    })
}

/// Gas of the update's transactions: the request, the match, and every transaction with an
/// event of the task.
async fn gas_of(
    client: &Client,
    requested: &OracleRequested,
    deal: &DealInfo,
) -> eyre::Result<UpdateGas> {
    let receipt_gas = |tx: B256| async move {
        let receipt = client.provider().get_transaction_receipt(tx).await?;
        Ok::<u64, eyre::Report>(receipt.map_or(0, |r| r.gas_used))
    };
    let matched = receipt_gas(deal.tx_hash).await?;
    let txs: BTreeSet<B256> = client
        .task_events(deal, requested.task_id)
        .await?
        .into_iter()
        .map(|log| log.tx_hash)
        .filter(|tx| *tx != deal.tx_hash)
        .collect();
    let mut execution = 0;
    for tx in txs {
        execution += receipt_gas(tx).await?;
    }
    let request = requested.tx.gas_used;
    Ok(UpdateGas {
        request,
        matched,
        execution,
        total: request + matched + execution,
    })
}
