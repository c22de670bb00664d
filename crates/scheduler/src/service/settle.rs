//! The chain side out: finalizing replicated tasks once their winners revealed (or reopening
//! them when nobody did), pushing held trust-1 results in batches, and claiming tasks past
//! their final deadline.

use std::collections::BTreeMap;

use alloy::primitives::{Bytes, B256};
use dexec_primitives::ResultsLink;
use dexec_sdk::PushedResult;

use super::Scheduler;
use crate::db::{ReplicateRow, TaskRow};
use crate::error::Result;
use crate::state::{ReplicateStatus as Rs, TaskStatus as Ts};

/// The hub's code of a task in its revealing phase (`viewTask(...).status`).
const HUB_TASK_REVEALING: u8 = 2;
/// The hub's code of a task nobody contributed to yet.
const HUB_TASK_UNSET: u8 = 0;
/// Most tasks per `claimBatch`.
const CLAIM_BATCH: usize = 256;

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
                    if let Err(e) = self.client.reopen(&ctx.task(task.index)?).await {
                        tracing::warn!(target: "scheduler::consensus", task = %task.task_id, error = %e, "reopen failed");
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
                Ok(_) => {
                    self.db
                        .complete_task(&task.task_id, &digest, &results)
                        .await?;
                    tracing::info!(target: "scheduler::consensus", task = %task.task_id, %digest, "finalized");
                }
                Err(e) => {
                    tracing::warn!(target: "scheduler::consensus", task = %task.task_id, error = %e, "finalize failed; retrying next tick")
                }
            }
        }
        Ok(())
    }

    pub(super) async fn push_batches(&self) -> Result<()> {
        let held = self.db.replicates_with_status(&[Rs::Held], None).await?;
        let mut by_deal: BTreeMap<B256, Vec<(TaskRow, ReplicateRow)>> = BTreeMap::new();
        for r in held {
            let Some(task) = self.db.task(&r.task_id).await? else {
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
        for (deal_id, mut items) in by_deal {
            let ctx = self.deal_ctx(&deal_id).await?;
            items.sort_by_key(|(t, r)| (r.worker, t.index));
            // every batch is sent before any receipt is awaited, so several batches can land
            // in one block (nonces come from the node's pending count)
            let mut sent = Vec::new();
            for chunk in items.chunks(self.config.batch_size) {
                let batch: Vec<PushedResult> = chunk
                    .iter()
                    .map(|(t, r)| PushedResult {
                        index: t.index,
                        worker: r.worker,
                        digest: r.digest.unwrap_or_default(),
                        results: Bytes::from(
                            results_link(r.result_location.as_deref()).into_bytes(),
                        ),
                        callback: Bytes::from(r.callback_data.clone().unwrap_or_default()),
                        enclave: None,
                        authorization: Bytes::new(),
                    })
                    .collect();
                match self.client.submit_results(&ctx.terms, &batch).await {
                    Ok(pending) => sent.push((chunk, pending)),
                    Err(e) => {
                        tracing::warn!(target: "scheduler::batch", deal = %deal_id, error = %e, "pushResults refused; retrying next tick");
                        break;
                    }
                }
            }
            for (chunk, pending) in sent {
                let receipt = match pending.get_receipt().await {
                    Ok(receipt) if receipt.status() => receipt,
                    Ok(receipt) => {
                        tracing::warn!(target: "scheduler::batch", deal = %deal_id, tx = %receipt.transaction_hash, "pushResults reverted; retrying next tick");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(target: "scheduler::batch", deal = %deal_id, error = %e, "pushResults not confirmed; retrying next tick");
                        continue;
                    }
                };
                tracing::info!(target: "scheduler::batch", deal = %deal_id, tasks = chunk.len(), gas = receipt.gas_used, "results pushed");
                let pushed: Vec<_> = chunk
                    .iter()
                    .map(|(t, r)| {
                        let results = results_link(r.result_location.as_deref());
                        (t.task_id, r.worker, r.digest.unwrap_or_default(), results)
                    })
                    .collect();
                self.db.complete_pushed(&pushed).await?;
            }
        }
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
                Ok(_) => {
                    self.db.set_task_status(&task.task_id, Ts::Failed).await?;
                }
                Err(e) => {
                    tracing::warn!(target: "scheduler::claims", task = %task.task_id, error = %e, "claim failed")
                }
            }
        }
        for (deal_id, indices) in untouched {
            let ctx = self.deal_ctx(&deal_id).await?;
            for chunk in indices.chunks(CLAIM_BATCH) {
                match self.client.claim_batch(&ctx.terms, chunk).await {
                    Ok(_) => {
                        for i in chunk {
                            let id = dexec_primitives::task_id(deal_id, *i);
                            self.db.set_task_status(&id, Ts::Failed).await?;
                        }
                        tracing::warn!(target: "scheduler::claims", deal = %deal_id, tasks = chunk.len(), "expired tasks claimed");
                    }
                    Err(e) => {
                        tracing::warn!(target: "scheduler::claims", deal = %deal_id, error = %e, "claimBatch failed")
                    }
                }
            }
        }
        Ok(())
    }
}
