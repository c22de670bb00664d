//! The chain watcher: follows hub and registry events behind a confirmation depth and keeps
//! the book true to the chain. Its cursor is saved in the same transaction as the changes it
//! makes, so a restart resumes exactly where it stopped, and replaying a block is harmless
//! (every change is computed from the chain's current state or keyed by id).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use dexec_primitives::{AssetKind, OrderKind};
use dexec_sdk::market::{BookStatus, DealView};
use dexec_sdk::{EventFollower, HubEvent, HubLog};

use crate::book::asset_kind;
use crate::db::{hex32, Db};
use crate::feed::FeedEvent;
use crate::state::Shared;
use crate::Result;

/// Longest pause after repeated RPC errors.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Run until the stop signal.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut stop = shared.stop.clone();
    let mut backoff = shared.config.poll_interval;
    'outer: loop {
        let start = match shared.db.next_block().await {
            Ok(block) => block.unwrap_or(shared.config.from_block),
            Err(e) => {
                tracing::error!(target: "market::watcher", error = %e, "cannot read the cursor");
                if pause(&mut stop, MAX_BACKOFF).await {
                    break;
                }
                continue;
            }
        };
        tracing::info!(target: "market::watcher", from = start, "watching the hub");
        let mut follower = EventFollower::new(shared.chain.client.clone(), start)
            .confirmations(shared.config.confirmations)
            .max_range(2_000);
        loop {
            if *stop.borrow() {
                break 'outer;
            }
            let before = follower.next_block();
            let logs = match follower.poll().await {
                Ok(logs) => {
                    shared.metrics.watched.ok();
                    if let Some(lag) = follower.lag() {
                        shared.metrics.set_chain_lag(lag);
                    }
                    logs
                }
                Err(e) => {
                    tracing::warn!(target: "market::watcher", error = %e, retry_in = ?backoff, "cannot read events");
                    if pause(&mut stop, backoff).await {
                        break 'outer;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            let next = follower.next_block();
            if next == before {
                backoff = shared.config.poll_interval;
                if pause(&mut stop, shared.config.poll_interval).await {
                    break 'outer;
                }
                continue;
            }
            match apply(&shared, &logs, next).await {
                Ok(()) => backoff = shared.config.poll_interval,
                Err(e) => {
                    // nothing was committed: start again from the saved cursor
                    tracing::warn!(target: "market::watcher", error = %e, retry_in = ?backoff, "cannot apply events");
                    if pause(&mut stop, backoff).await {
                        break 'outer;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue 'outer;
                }
            }
        }
    }
    tracing::info!(target: "market::watcher", "watcher stopped");
}

/// Sleep `d`; true if the stop signal came first.
async fn pause(stop: &mut tokio::sync::watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = stop.changed() => true,
        _ = tokio::time::sleep(d) => *stop.borrow(),
    }
}

/// A price as the book stores it (BIGINT): larger ones saturate.
fn saturating(v: u128) -> u64 {
    i64::try_from(v).unwrap_or(i64::MAX) as u64
}

/// Apply a batch of events and move the cursor to `next`, in one transaction.
async fn apply(shared: &Shared, logs: &[HubLog], next: u64) -> Result<()> {
    // chain reads first, outside the transaction
    let mut consumed: Vec<(B256, i64)> = Vec::new();
    let mut accounts: BTreeSet<Address> = BTreeSet::new();
    for log in logs {
        match &log.event {
            HubEvent::DealCreated {
                deal, order_hashes, ..
            } => {
                for hash in order_hashes.iter().filter(|h| !h.is_zero()) {
                    consumed.push((*hash, shared.chain.consumed(*hash).await?));
                }
                accounts.insert(deal.payer);
                accounts.insert(deal.requester);
                accounts.insert(deal.workerpool_owner);
            }
            HubEvent::Withdraw { from, .. } => {
                accounts.insert(*from);
            }
            _ => {}
        }
    }
    let mut balances = Vec::with_capacity(accounts.len());
    for who in accounts {
        balances.push((who, shared.chain.free(who).await?));
    }

    // the book lock: the publish writer re-checks owners and balances under it, so no order
    // checked against a cache this batch changes is stored after this transaction
    let book = shared.book_lock.lock().await;
    let mut tx = shared.db.begin().await?;
    let mut events = Vec::new();
    let mut owners = Vec::new();
    let mut consumed = consumed.into_iter();
    for log in logs {
        match &log.event {
            HubEvent::DealCreated {
                deal_id,
                deal,
                order_hashes,
                beneficiary,
                ..
            } => {
                let record = DealView {
                    deal_id: *deal_id,
                    block: log.block,
                    log_index: log.log_index,
                    tx_hash: log.tx_hash,
                    category: u64::from(deal.category),
                    app: deal.app,
                    dataset: deal.dataset,
                    workerpool: deal.workerpool,
                    app_owner: deal.app_owner,
                    dataset_owner: deal.dataset_owner,
                    workerpool_owner: deal.workerpool_owner,
                    requester: deal.requester,
                    beneficiary: *beneficiary,
                    app_price: saturating(deal.app_price),
                    dataset_price: saturating(deal.dataset_price),
                    workerpool_price: saturating(deal.workerpool_price),
                    volume: u64::from(deal.bot_size),
                    trust: u64::from(deal.trust),
                    tag: deal.tag,
                    start_time: deal.start_time,
                    apporder_hash: order_hashes[0],
                    datasetorder_hash: order_hashes[1],
                    workerpoolorder_hash: order_hashes[2],
                    requestorder_hash: order_hashes[3],
                };
                if Db::insert_deal(&mut tx, &record).await? {
                    events.push(FeedEvent::deal(&record));
                }
                for _ in order_hashes.iter().filter(|h| !h.is_zero()) {
                    if let Some((hash, used)) = consumed.next() {
                        if let Some((kind, st)) =
                            Db::set_consumed(&mut tx, &hash, used, false).await?
                        {
                            events.push(FeedEvent::closed(kind, &hex32(&hash), st));
                        }
                    }
                }
            }
            HubEvent::OrderClosed { hash, .. } => {
                if let Some((kind, st)) = Db::set_consumed(&mut tx, hash, 0, true).await? {
                    events.push(FeedEvent::closed(kind, &hex32(hash), st));
                }
            }
            HubEvent::AssetTransfer {
                kind, asset, to, ..
            } => {
                let order_kind = match kind {
                    AssetKind::App => OrderKind::App,
                    AssetKind::Dataset => OrderKind::Dataset,
                    AssetKind::Workerpool => OrderKind::Workerpool,
                };
                debug_assert_eq!(asset_kind(order_kind), Some(*kind));
                for (k, h) in Db::kill_asset_orders(&mut tx, order_kind, asset, to).await? {
                    events.push(FeedEvent::closed(k, &h, BookStatus::Dead));
                }
                owners.push((*kind, *asset, *to));
            }
            _ => {}
        }
    }
    for (who, free) in &balances {
        for kind in [OrderKind::Request, OrderKind::Workerpool] {
            for (k, h) in Db::kill_unfunded(&mut tx, kind, who, *free).await? {
                events.push(FeedEvent::closed(k, &h, BookStatus::Dead));
            }
        }
    }
    Db::set_next_block(&mut tx, next).await?;
    tx.commit().await?;
    for (kind, asset, owner) in owners {
        shared.chain.set_owner(kind, asset, owner);
    }
    drop(book);
    if !logs.is_empty() {
        tracing::debug!(target: "market::watcher", events = logs.len(), next, "applied");
    }
    for event in events {
        shared.broadcast(event);
    }
    Ok(())
}
