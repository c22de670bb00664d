//! The chain side out: finalizing replicated tasks once their winners revealed (or reopening
//! them when nobody did), pushing held trust-1 results in batches, and claiming tasks past
//! their final deadline.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::eips::BlockId;
use alloy::primitives::{Address, Bytes, B256};
use alloy::providers::Provider;
use alloy::providers::{PendingTransactionError, WatchTxError};
use dexec_primitives::ResultsLink;
use dexec_sdk::PushedResult;
use serde::Serialize;

use super::{lock, DealCtx, Scheduler};
use crate::db::{ReplicateRow, TaskRow};
use crate::error::Result;
use crate::state::{ReplicateStatus as Rs, TaskStatus as Ts};

/// A held result and its task.
type Item = (TaskRow, ReplicateRow);

/// The hub's code of a task in its revealing phase (`viewTask(...).status`).
const HUB_TASK_REVEALING: u8 = 2;
/// The hub's code of a completed task.
pub(super) const HUB_TASK_COMPLETED: u8 = 3;
/// The hub's code of a task nobody contributed to yet.
const HUB_TASK_UNSET: u8 = 0;
/// Most tasks per `claimBatch`.
const CLAIM_BATCH: usize = 256;
/// A `pushResults` not mined this long after it was sent counts as failed (it is split).
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// First pause before a task whose result failed alone is pushed again; it doubles with
/// each failure up to [`MAX_ALONE_PAUSE`].
const FIRST_ALONE_PAUSE: Duration = Duration::from_secs(2);
/// Longest pause between two pushes of a task that fails alone.
const MAX_ALONE_PAUSE: Duration = Duration::from_secs(300);

/// The batches' record: counters for `GET /health`, and the tasks whose result failed even
/// alone, pushed alone from then on (in memory: after a restart a failing task is found again
/// by splitting).
#[derive(Debug, Default)]
pub(crate) struct Batches {
    sent: AtomicU64,
    failed: AtomicU64,
    splits: AtomicU64,
    /// The most gas a pushed result has cost (a mined batch's gas over its results; 0 until
    /// one was mined): with the block gas limit, how many results fit in one transaction.
    gas_per_result: AtomicU64,
    alone: Mutex<HashMap<B256, Alone>>,
}

#[derive(Debug, Clone, Copy)]
struct Alone {
    failures: u32,
    next_try: Instant,
}

/// A reading of the batches' counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct BatchCounts {
    /// `pushResults` transactions sent.
    pub sent: u64,
    /// Batches refused, reverted or not mined.
    pub failed: u64,
    /// Failed batches split in two.
    pub splits: u64,
    /// Tasks whose result failed even alone, now pushed alone.
    pub alone: u64,
}

impl Batches {
    pub(crate) fn counts(&self) -> BatchCounts {
        BatchCounts {
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            splits: self.splits.load(Ordering::Relaxed),
            alone: lock(&self.alone).len() as u64,
        }
    }

    /// Results per batch: `configured`, or fewer so that a batch takes at most half the
    /// block gas limit `block_gas_limit` (the chain's, read each round: chains differ and
    /// change it) at the gas per result seen so far.
    fn size(&self, configured: usize, block_gas_limit: u64) -> usize {
        let per_result = self.gas_per_result.load(Ordering::Relaxed);
        if per_result == 0 || block_gas_limit == 0 {
            return configured.max(1);
        }
        let fits = usize::try_from(block_gas_limit / 2 / per_result).unwrap_or(usize::MAX);
        configured.min(fits).max(1)
    }

    /// A batch of `results` results cost `gas`.
    fn mined(&self, results: usize, gas: u64) {
        let per_result = gas / u64::try_from(results.max(1)).unwrap_or(1);
        self.gas_per_result.fetch_max(per_result, Ordering::Relaxed);
    }

    fn is_alone(&self, task: &B256) -> bool {
        lock(&self.alone).contains_key(task)
    }

    /// Whether a task pushed alone may be pushed again now.
    fn due(&self, task: &B256) -> bool {
        lock(&self.alone)
            .get(task)
            .is_none_or(|a| Instant::now() >= a.next_try)
    }

    /// Record that `task` failed alone; its failures so far and the pause before the next try.
    fn failed_alone(&self, task: B256) -> (u32, Duration) {
        let mut alone = lock(&self.alone);
        let entry = alone.entry(task).or_insert(Alone {
            failures: 0,
            next_try: Instant::now(),
        });
        entry.failures = entry.failures.saturating_add(1);
        let pause = alone_pause(entry.failures);
        entry.next_try = Instant::now() + pause;
        (entry.failures, pause)
    }

    fn forget(&self, tasks: impl IntoIterator<Item = B256>) {
        let mut alone = lock(&self.alone);
        for task in tasks {
            alone.remove(&task);
        }
    }

    /// Forget the tasks no longer held (settled by their events, claimed).
    fn forget_all_but(&self, held: impl IntoIterator<Item = B256>) {
        let held: HashSet<B256> = held.into_iter().collect();
        lock(&self.alone).retain(|task, _| held.contains(task));
    }
}

/// The scheduler's settlement transactions mined less than `--reorg-depth` blocks ago,
/// watched so that what a reorg drops is sent again (in memory: a scheduler restarted right
/// after a reorg does not see it; the tasks' results then stay recorded as settled while
/// the chain says otherwise, and those tasks are claimed at their deadline).
#[derive(Debug, Default)]
pub(crate) struct Settlements(Mutex<Vec<Settlement>>);

/// A mined settlement transaction.
#[derive(Debug, Clone)]
struct Settlement {
    tx: B256,
    block: u64,
    block_hash: B256,
    settled: Settled,
}

#[derive(Debug, Clone)]
enum Settled {
    /// `pushResults`: each task with the worker whose held result it carried.
    Pushed(Vec<(B256, Address)>),
    /// `finalize` of one replicated task.
    Finalized(B256),
}

impl Settlements {
    fn mined(&self, tx: B256, block: u64, block_hash: B256, settled: Settled) {
        lock(&self.0).push(Settlement {
            tx,
            block,
            block_hash,
            settled,
        });
    }

    fn take(&self) -> Vec<Settlement> {
        std::mem::take(&mut *lock(&self.0))
    }

    fn put_back(&self, watched: Vec<Settlement>) {
        lock(&self.0).extend(watched);
    }
}

/// The pause after a task's `failures`-th failure alone: 2 s, doubling, at most 5 min.
fn alone_pause(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_ALONE_PAUSE * 2u32.pow(doublings)).min(MAX_ALONE_PAUSE)
}

/// Whether `e` says nothing of the transaction itself (the node could not be reached): the
/// same batch is sent again next tick. Any other failure (a refusal before sending, a
/// revert, an error answer of the node such as a gas estimate above the block's limit) is the
/// batch's own.
fn unreachable(e: &dexec_sdk::Error) -> bool {
    use dexec_contracts::Error as C;
    match e {
        dexec_sdk::Error::Unreachable { .. } => true,
        dexec_sdk::Error::Contract(C::Transport(t)) => !t.is_error_resp(),
        dexec_sdk::Error::Contract(C::Contract(alloy::contract::Error::TransportError(t))) => {
            !t.is_error_resp()
        }
        _ => false,
    }
}

/// What `pushResults` takes for a held result.
fn pushed_result((t, r): &Item) -> PushedResult {
    PushedResult {
        index: t.index,
        worker: r.worker,
        digest: r.digest.unwrap_or_default(),
        results: Bytes::from(results_link(r.result_location.as_deref()).into_bytes()),
        callback: Bytes::from(r.callback_data.clone().unwrap_or_default()),
        enclave: None,
        authorization: Bytes::new(),
    }
}

/// The on-chain results link of a result zip in a dexec store (empty location: none).
fn results_link(location: Option<&str>) -> String {
    ResultsLink::store(location.unwrap_or_default()).to_json()
}

impl Scheduler {
    pub(super) async fn finalize_ready(&self, now: u64) -> Result<()> {
        let poco = self.client.deployment().poco(self.client.provider());
        for task in self.db.tasks_with_status(&[Ts::Revealing], 200).await? {
            let ctx = self.deal_ctx(&task.deal_id).await?;
            let view = poco
                .viewTask(task.task_id)
                .call()
                .await
                .map_err(dexec_contracts::Error::from)?;
            if view.status != HUB_TASK_REVEALING {
                continue; // completed: its TaskFinalize event updates the task
            }
            let reveal_deadline: u64 = view.revealDeadline.saturating_to();
            if view.reveals == 0 {
                if now >= reveal_deadline && now < ctx.deal().contribution_deadline() {
                    tracing::warn!(target: "scheduler::consensus", task = %task.task_id, "no winner revealed: reopening");
                    match self.client.reopen(&ctx.task(task.index)?).await {
                        Ok(outcome) => self.metrics.gas_spent("reopen", outcome.gas_used),
                        Err(e) => {
                            tracing::warn!(target: "scheduler::consensus", task = %task.task_id, error = %e, "reopen failed")
                        }
                    }
                }
                continue;
            }
            if view.reveals < view.winners && now < reveal_deadline {
                continue;
            }
            if now >= ctx.deal().final_deadline() {
                continue;
            }
            let replicates = self.db.replicates(&task.task_id).await?;
            let winners: Vec<_> = replicates
                .iter()
                .filter(|r| r.result_hash == Some(view.consensus))
                .collect();
            let Some(digest) = winners.iter().find_map(|r| r.digest) else {
                continue; // reveals not seen yet
            };
            let location = winners
                .iter()
                .find(|r| r.status == Rs::Revealed && r.result_location.is_some())
                .or_else(|| winners.iter().find(|r| r.result_location.is_some()))
                .and_then(|r| r.result_location.as_deref());
            let callback = winners
                .iter()
                .find_map(|r| r.callback_data.clone())
                .unwrap_or_default();
            let results = results_link(location);
            let finalized = self
                .client
                .finalize(
                    &ctx.task(task.index)?,
                    digest,
                    &Bytes::from(results.clone().into_bytes()),
                    &Bytes::from(callback),
                )
                .await;
            match finalized {
                Ok(outcome) => {
                    self.metrics.gas_spent("finalize", outcome.gas_used);
                    self.metrics.settled("finalize", task.updated_at);
                    self.db
                        .complete_task(&task.task_id, &digest, &results)
                        .await?;
                    self.settlements.mined(
                        outcome.tx_hash,
                        outcome.block,
                        outcome.block_hash,
                        Settled::Finalized(task.task_id),
                    );
                    tracing::info!(target: "scheduler::consensus", task = %task.task_id, %digest, "finalized");
                }
                Err(e) => {
                    tracing::warn!(target: "scheduler::consensus", task = %task.task_id, error = %e, "finalize failed; retrying next tick")
                }
            }
        }
        Ok(())
    }

    /// Push the held trust-1 results, a batch of at most `--batch-size` per deal and
    /// transaction. A batch that fails (refused at gas estimation, reverted, or not mined) is
    /// split in halves and the halves sent at once, down to single tasks: a task whose result
    /// cannot be pushed even alone (a hostile callback consumer, callback data too large for a
    /// block) is then pushed alone, with a growing pause, and never again holds back the
    /// others. Only a failure to reach the node leaves a batch as it is for the next tick.
    pub(super) async fn push_batches(&self, now: u64) -> Result<()> {
        let held = self.db.replicates_with_status(&[Rs::Held], None).await?;
        // one query for their tasks, not one per result (this runs at every tick)
        let ids: Vec<B256> = held.iter().map(|r| r.task_id).collect();
        let mut tasks = self.db.tasks_by_id(&ids).await?;
        let mut by_deal: BTreeMap<B256, Vec<Item>> = BTreeMap::new();
        for r in held {
            let Some(task) = tasks.remove(&r.task_id) else {
                continue;
            };
            if task.status != Ts::Pushing {
                continue;
            }
            // one result per task in a batch (a duplicate index would revert the whole batch)
            if by_deal
                .get(&task.deal_id)
                .is_some_and(|items| items.iter().any(|(t, _)| t.task_id == task.task_id))
            {
                continue;
            }
            let ctx = self.deal_ctx(&task.deal_id).await?;
            if ctx.deal().trust > 1 {
                continue;
            }
            by_deal.entry(task.deal_id).or_default().push((task, r));
        }
        self.batches
            .forget_all_but(by_deal.values().flatten().map(|(t, _)| t.task_id));
        if by_deal.is_empty() {
            return Ok(());
        }
        let block_gas_limit = match self.client.provider().get_block(BlockId::latest()).await {
            Ok(Some(block)) => block.header.gas_limit,
            _ => 0, // unknown: the configured size, split on failure
        };
        let batch_size = self.batches.size(self.config.batch_size, block_gas_limit);
        let now_ms = crate::db::now_ms();
        for (deal_id, mut items) in by_deal {
            let ctx = self.deal_ctx(&deal_id).await?;
            let deal = ctx.deal();
            if now >= deal.final_deadline() {
                continue; // too late: claimed instead (claim_expired)
            }
            items.sort_by_key(|(t, r)| (r.worker, t.index));
            let (alone, together): (Vec<Item>, Vec<Item>) = items
                .into_iter()
                .partition(|(t, _)| self.batches.is_alone(&t.task_id));
            let mut queue: Vec<Vec<Item>> = Vec::new();
            // a batch is due when full, when its oldest result waited --batch-linger-ms, or
            // when the final deadline is less than a time reference away
            let oldest = together.iter().map(|(_, r)| r.updated_at).min();
            let linger = i64::try_from(self.config.batch_linger.as_millis()).unwrap_or(i64::MAX);
            let due = together.len() >= batch_size
                || oldest.is_some_and(|at| now_ms.saturating_sub(at) >= linger)
                || now.saturating_add(u64::from(deal.timeref)) >= deal.final_deadline();
            if due {
                queue.extend(together.chunks(batch_size).map(<[Item]>::to_vec));
            }
            queue.extend(
                alone
                    .into_iter()
                    .filter(|(t, _)| self.batches.due(&t.task_id))
                    .map(|item| vec![item]),
            );
            self.push_rounds(&ctx, queue).await?;
        }
        Ok(())
    }

    /// Send `queue`'s batches, every one before any receipt is awaited (so several land in
    /// one block; nonces come from the node's pending count), then the halves of those that
    /// failed, until none is left.
    async fn push_rounds(&self, ctx: &DealCtx, mut queue: Vec<Vec<Item>>) -> Result<()> {
        let deal_id = ctx.terms.deal_id();
        while !queue.is_empty() {
            let mut next = Vec::new();
            let mut sent = Vec::new();
            for batch in queue {
                let pushed: Vec<PushedResult> = batch.iter().map(pushed_result).collect();
                match self.client.submit_results(&ctx.terms, &pushed).await {
                    Ok(pending) => {
                        self.batches.sent.fetch_add(1, Ordering::Relaxed);
                        sent.push((batch, pending.with_timeout(Some(RECEIPT_TIMEOUT))));
                    }
                    Err(e) if unreachable(&e) => {
                        tracing::warn!(target: "scheduler::batch", deal = %deal_id, tasks = batch.len(), error = %e, "cannot reach the node to push results; retrying next tick");
                    }
                    Err(e) => {
                        self.batch_failed(deal_id, batch, &format!("refused: {e}"), &mut next)
                    }
                }
            }
            for (batch, pending) in sent {
                match pending.get_receipt().await {
                    Ok(receipt) if receipt.status() => {
                        tracing::info!(target: "scheduler::batch", deal = %deal_id, tasks = batch.len(), gas = receipt.gas_used, "results pushed");
                        self.metrics.gas_spent("pushResults", receipt.gas_used);
                        self.batches.mined(batch.len(), receipt.gas_used);
                        for (_, held) in &batch {
                            // held since the worker's report
                            self.metrics.settled("pushResults", held.updated_at);
                        }
                        let pushed: Vec<_> = batch
                            .iter()
                            .map(|(t, r)| {
                                let results = results_link(r.result_location.as_deref());
                                (t.task_id, r.worker, r.digest.unwrap_or_default(), results)
                            })
                            .collect();
                        self.db.complete_pushed(&pushed).await?;
                        self.batches.forget(batch.iter().map(|(t, _)| t.task_id));
                        self.settlements.mined(
                            receipt.transaction_hash,
                            receipt.block_number.unwrap_or_default(),
                            receipt.block_hash.unwrap_or_default(),
                            Settled::Pushed(
                                batch.iter().map(|(t, r)| (t.task_id, r.worker)).collect(),
                            ),
                        );
                    }
                    Ok(receipt) => {
                        let why = format!("transaction {} reverted", receipt.transaction_hash);
                        self.batch_failed(deal_id, batch, &why, &mut next);
                    }
                    Err(PendingTransactionError::TxWatcher(WatchTxError::Timeout)) => {
                        let why = format!("not mined within {RECEIPT_TIMEOUT:?}");
                        self.batch_failed(deal_id, batch, &why, &mut next);
                    }
                    Err(e) => {
                        // it may still be mined: its TaskFinalize events will settle it
                        tracing::warn!(target: "scheduler::batch", deal = %deal_id, tasks = batch.len(), error = %e, "pushResults not confirmed; looking again next tick");
                    }
                }
            }
            queue = next;
        }
        Ok(())
    }

    /// A batch failed: its halves go to the next round; a single task is pushed alone from
    /// now on, after a pause that doubles with each failure.
    fn batch_failed(&self, deal: B256, batch: Vec<Item>, why: &str, next: &mut Vec<Vec<Item>>) {
        self.batches.failed.fetch_add(1, Ordering::Relaxed);
        if batch.len() > 1 {
            self.batches.splits.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "scheduler::batch", %deal, tasks = batch.len(), "pushResults failed ({why}): splitting the batch in two");
            let (first, second) = batch.split_at(batch.len() / 2);
            next.push(first.to_vec());
            next.push(second.to_vec());
        } else if let Some((task, _)) = batch.first() {
            let (failures, pause) = self.batches.failed_alone(task.task_id);
            tracing::warn!(target: "scheduler::batch", %deal, task = %task.task_id, failures, retry_in = ?pause, "the result of this task cannot be pushed even alone ({why}); it is pushed alone from now on and the other tasks settle without it");
        }
    }

    /// Look again at the settlement transactions mined less than `--reorg-depth` blocks
    /// ago. Two queries per tick when nothing changed, the head and the newest watched
    /// block: if that block is still the chain's at its number, so are all older ones (each
    /// block names its parent).
    /// Otherwise each settlement whose block was replaced is looked up by its transaction: mined
    /// again elsewhere, it is watched there; gone, the tasks it settled and the chain no longer
    /// shows completed go back to be settled again. A node that cannot be reached leaves
    /// everything for the next tick.
    pub(super) async fn recheck_settlements(&self) -> Result<()> {
        let mut watched = self.settlements.take();
        if watched.is_empty() {
            return Ok(());
        }
        let rechecked = self.recheck(&mut watched).await;
        self.settlements.put_back(watched);
        if let Err(e) = rechecked {
            // the other settlement work of the tick goes on; this is tried again next tick
            tracing::warn!(target: "scheduler::reorg", error = %e, "cannot recheck the settlement transactions now; next tick");
        }
        Ok(())
    }

    async fn recheck(&self, watched: &mut Vec<Settlement>) -> Result<()> {
        let provider = self.client.provider();
        let head = provider
            .get_block_number()
            .await
            .map_err(dexec_contracts::Error::from)?;
        watched.retain(|s| head < s.block.saturating_add(self.config.reorg_depth));
        let Some(newest) = watched.iter().max_by_key(|s| s.block).cloned() else {
            return Ok(());
        };
        let mut canonical: HashMap<u64, Option<B256>> = HashMap::new();
        if self.canonical_hash(&mut canonical, newest.block).await? == Some(newest.block_hash) {
            return Ok(());
        }
        let mut kept = Vec::with_capacity(watched.len());
        let mut rest = std::mem::take(watched).into_iter();
        let mut outcome = Ok(());
        while let Some(mut s) = rest.next() {
            match self.still_settled(&mut canonical, &mut s).await {
                Ok(true) => kept.push(s),
                Ok(false) => {}
                Err(e) => {
                    // kept as they were, looked at again next tick
                    kept.push(s);
                    kept.extend(rest);
                    outcome = Err(e);
                    break;
                }
            }
        }
        *watched = kept;
        outcome
    }

    /// Whether settlement `s` is still on the chain (moved to its new block if a reorg
    /// mined it again); when it is not, its tasks are settled again.
    async fn still_settled(
        &self,
        canonical: &mut HashMap<u64, Option<B256>>,
        s: &mut Settlement,
    ) -> Result<bool> {
        if self.canonical_hash(canonical, s.block).await? == Some(s.block_hash) {
            return Ok(true);
        }
        let receipt = self
            .client
            .provider()
            .get_transaction_receipt(s.tx)
            .await
            .map_err(dexec_contracts::Error::from)?;
        match receipt {
            Some(r) if r.status() && r.block_hash.is_some() => {
                tracing::info!(target: "scheduler::reorg", tx = %s.tx, from_block = s.block, to_block = ?r.block_number, "a reorg moved a settlement transaction to another block");
                s.block = r.block_number.unwrap_or(s.block);
                s.block_hash = r.block_hash.unwrap_or_default();
                Ok(true)
            }
            _ => {
                self.settlement_lost(s).await?;
                Ok(false)
            }
        }
    }

    /// The hash of the chain's block `number` now (`None`: no such block, the chain is
    /// shorter than it was).
    async fn canonical_hash(
        &self,
        known: &mut HashMap<u64, Option<B256>>,
        number: u64,
    ) -> Result<Option<B256>> {
        if let Some(hash) = known.get(&number) {
            return Ok(*hash);
        }
        let block = self
            .client
            .provider()
            .get_block_by_number(number.into())
            .await
            .map_err(dexec_contracts::Error::from)?;
        let hash = block.map(|b| b.header.hash);
        known.insert(number, hash);
        Ok(hash)
    }

    /// A settlement a reorg dropped: its tasks that the chain no longer shows completed are
    /// settled again (held results pushed again, replicated tasks finalized again).
    async fn settlement_lost(&self, s: &Settlement) -> Result<()> {
        let poco = self.client.deployment().poco(self.client.provider());
        let (tasks, to): (Vec<(B256, Option<Address>)>, Ts) = match &s.settled {
            Settled::Pushed(tasks) => (
                tasks.iter().map(|(t, w)| (*t, Some(*w))).collect(),
                Ts::Pushing,
            ),
            Settled::Finalized(task) => (vec![(*task, None)], Ts::Revealing),
        };
        let mut undone = Vec::new();
        for (task, worker) in tasks {
            let view = poco
                .viewTask(task)
                .call()
                .await
                .map_err(dexec_contracts::Error::from)?;
            match (view.status, to) {
                (HUB_TASK_COMPLETED, _) => {} // settled again meanwhile (another transaction)
                (HUB_TASK_REVEALING, Ts::Revealing) | (_, Ts::Pushing) => {
                    undone.push((task, worker))
                }
                (status, _) => {
                    tracing::error!(target: "scheduler::reorg", %task, hub_status = status, "a reorg dropped this task's finalize and took its reveals with it; the scheduler cannot finalize it again (the workers must reveal again)")
                }
            }
        }
        tracing::warn!(target: "scheduler::reorg", tx = %s.tx, block = s.block, tasks = undone.len(), "a reorg dropped a settlement transaction: its tasks are settled again");
        self.metrics.reorged(undone.len());
        self.db.undo_settlement(&undone, to).await?;
        self.work.notify_waiters();
        Ok(())
    }

    pub(super) async fn claim_expired(&self, now: u64) -> Result<()> {
        let poco = self.client.deployment().poco(self.client.provider());
        let open = self.db.tasks_with_status(&Ts::OPEN, 5000).await?;
        let mut untouched: BTreeMap<B256, Vec<u64>> = BTreeMap::new();
        for task in open {
            let ctx = self.deal_ctx(&task.deal_id).await?;
            if now < ctx.deal().final_deadline() {
                continue;
            }
            let view = poco
                .viewTask(task.task_id)
                .call()
                .await
                .map_err(dexec_contracts::Error::from)?;
            if view.status == HUB_TASK_UNSET {
                untouched.entry(task.deal_id).or_default().push(task.index);
                continue;
            }
            match self.client.claim(&ctx.task(task.index)?).await {
                Ok(outcome) => {
                    self.metrics.gas_spent("claim", outcome.gas_used);
                    self.db.set_task_status(&task.task_id, Ts::Failed).await?;
                }
                Err(e) => {
                    tracing::warn!(target: "scheduler::claims", task = %task.task_id, error = %e, "claim failed")
                }
            }
        }
        for (deal_id, indices) in untouched {
            let ctx = self.deal_ctx(&deal_id).await?;
            let mut queue: Vec<Vec<u64>> =
                indices.chunks(CLAIM_BATCH).map(<[u64]>::to_vec).collect();
            // a claimBatch that fails is split in halves down to single tasks, so one task
            // (settled meanwhile, or a contributor arrived) does not hold back the others
            while let Some(chunk) = queue.pop() {
                match self.client.claim_batch(&ctx.terms, &chunk).await {
                    Ok(outcome) => {
                        self.metrics.gas_spent("claimBatch", outcome.gas_used);
                        for i in &chunk {
                            let id = dexec_primitives::task_id(deal_id, *i);
                            self.db.set_task_status(&id, Ts::Failed).await?;
                        }
                        tracing::warn!(target: "scheduler::claims", deal = %deal_id, tasks = chunk.len(), "expired tasks claimed");
                    }
                    Err(e) if unreachable(&e) => {
                        tracing::warn!(target: "scheduler::claims", deal = %deal_id, error = %e, "cannot reach the node to claim; retrying next tick");
                        break;
                    }
                    Err(e) if chunk.len() > 1 => {
                        tracing::warn!(target: "scheduler::claims", deal = %deal_id, tasks = chunk.len(), error = %e, "claimBatch failed: splitting it in two");
                        let (first, second) = chunk.split_at(chunk.len() / 2);
                        queue.push(second.to_vec());
                        queue.push(first.to_vec());
                    }
                    Err(e) => {
                        tracing::warn!(target: "scheduler::claims", deal = %deal_id, index = chunk.first().copied().unwrap_or_default(), error = %e, "claim failed; retrying next tick")
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_fit_in_half_the_block_gas_limit() {
        let batches = Batches::default();
        // nothing mined yet: the configured size (a batch too large is split on failure)
        assert_eq!(batches.size(256, 1_000_000), 256);
        batches.mined(100, 1_100_000);
        // 11 000 gas per result: 45 fit in half of 1 000 000
        assert_eq!(batches.size(256, 1_000_000), 45);
        assert_eq!(batches.size(20, 1_000_000), 20);
        assert_eq!(batches.size(256, 30_000_000), 256);
        assert_eq!(batches.size(256, 10_000), 1, "at least one");
        // the dearest result seen counts
        batches.mined(10, 50_000);
        assert_eq!(batches.size(256, 1_000_000), 45);
    }

    #[test]
    fn a_task_failing_alone_waits_longer_each_time() {
        assert_eq!(alone_pause(1), Duration::from_secs(2));
        assert_eq!(alone_pause(2), Duration::from_secs(4));
        assert_eq!(alone_pause(5), Duration::from_secs(32));
        assert_eq!(alone_pause(9), MAX_ALONE_PAUSE);
        assert_eq!(alone_pause(u32::MAX), MAX_ALONE_PAUSE);
    }

    #[test]
    fn tasks_pushed_alone_are_forgotten_once_no_longer_held() {
        let batches = Batches::default();
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        assert_eq!(batches.failed_alone(a).0, 1);
        assert_eq!(batches.failed_alone(a).0, 2);
        batches.failed_alone(b);
        assert!(
            batches.is_alone(&a) && !batches.due(&a),
            "paused after a failure"
        );
        assert!(
            batches.due(&B256::repeat_byte(3)),
            "a task never failed is due"
        );
        assert_eq!(batches.counts().alone, 2);
        batches.forget_all_but([b]);
        assert!(!batches.is_alone(&a));
        assert!(batches.is_alone(&b));
        batches.forget([b]);
        assert_eq!(batches.counts().alone, 0);
    }
}
