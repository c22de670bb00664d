//! The scheduler's side (finalize, reopen, push results) and anyone's (claim).

use alloy::network::Ethereum;
use alloy::primitives::{Bytes, B256, U256};
use alloy::providers::PendingTransactionBuilder;
use dexec_contracts::tx::{send, submit};
use dexec_contracts::HubPoco;
use dexec_primitives::poco::result_hash;

use super::checks::{check_callback, check_final_deadline, enclave_parts, tee};
use super::{DealRef, PushedResult, Refusal, TaskRef};
use crate::client::{Client, TxOutcome};
use crate::deals::TaskStatus;
use crate::error::{contract, Result};

impl Client {
    /// Close a replicated task whose winners revealed `digest` (all of them, or some once the
    /// reveal deadline passed): winners are paid, losers lose their stake. The contributors
    /// are read from the task's events (the hub checks them against its record).
    pub async fn finalize(
        &self,
        task: &TaskRef,
        digest: B256,
        results: &Bytes,
        callback: &Bytes,
    ) -> Result<TxOutcome> {
        self.require_scheduler(&task.deal)?;
        let id = task.task_id;
        let state = self.task_state(task).await?;
        self.check_settled(task, &state, "nothing to finalize")
            .await?;
        check_final_deadline(task, &state, "the task can only be claimed now")?;
        let view = &state.view;
        if view.status != 2 {
            return Err(Refusal::Status {
                task: id,
                status: state.status(task.deal.deal()),
                what: "no consensus yet: nothing to finalize".into(),
            }
            .into());
        }
        if view.reveals == 0 {
            let why = if state.now >= state.reveal_deadline() {
                "no winner revealed before the reveal deadline: reopen it".to_owned()
            } else {
                format!(
                    "no winner revealed yet (they may until unix {})",
                    state.reveal_deadline()
                )
            };
            return Err(Refusal::NotFinalizable { task: id, why }.into());
        }
        if view.reveals < view.winners && state.now < state.reveal_deadline() {
            return Err(Refusal::NotFinalizable {
                task: id,
                why: format!(
                    "{} of {} winners revealed; the others may until unix {}",
                    view.reveals,
                    view.winners,
                    state.reveal_deadline()
                ),
            }
            .into());
        }
        if result_hash(id, digest) != view.consensus {
            return Err(Refusal::NotTheConsensus { task: id, digest }.into());
        }
        check_callback(task, digest, callback)?;
        let contributors = self.checked_contributors(task, view).await?;
        let poco = self.deployment().poco(self.provider());
        let call = poco.finalize(
            task.deal.encoded.clone(),
            task.deal.deal_id,
            U256::from(task.index),
            digest,
            contributors,
            results.clone(),
            callback.clone(),
        );
        let receipt = send(&call).await?;
        tracing::debug!(target: "sdk::execution", task = %id, %digest, "finalized");
        Ok(TxOutcome::from(&receipt))
    }

    /// Reject a consensus no winner revealed before the reveal deadline and reopen the task
    /// to contributions (while its contribution deadline lasts).
    pub async fn reopen(&self, task: &TaskRef) -> Result<TxOutcome> {
        self.require_scheduler(&task.deal)?;
        let id = task.task_id;
        let deal = task.deal.deal();
        let state = self.task_state(task).await?;
        self.check_settled(task, &state, "nothing to reopen")
            .await?;
        let view = &state.view;
        if view.status != 2 {
            return Err(Refusal::Status {
                task: id,
                status: state.status(deal),
                what: "no consensus to reject".into(),
            }
            .into());
        }
        if view.reveals != 0 {
            return Err(Refusal::Status {
                task: id,
                status: TaskStatus::Revealing,
                what: "a winner revealed: finalize it instead".into(),
            }
            .into());
        }
        if state.now < state.reveal_deadline() {
            return Err(Refusal::DeadlineNotReached {
                task: id,
                deadline: "reveal",
                at: state.reveal_deadline(),
                what: "winners may still reveal until then",
            }
            .into());
        }
        if state.now >= deal.contribution_deadline() {
            return Err(Refusal::DeadlinePassed {
                task: id,
                deadline: "contribution",
                at: deal.contribution_deadline(),
                what: "it can take no more contributions; claim it after its final deadline",
            }
            .into());
        }
        let poco = self.deployment().poco(self.provider());
        let call = poco.reopen(
            task.deal.encoded.clone(),
            task.deal.deal_id,
            U256::from(task.index),
        );
        let receipt = send(&call).await?;
        tracing::debug!(target: "sdk::execution", task = %id, "reopened");
        Ok(TxOutcome::from(&receipt))
    }

    /// Settle many trust-1 tasks of `deal` in one transaction and wait for it to be mined.
    /// See [`Client::submit_results`].
    pub async fn push_results(&self, deal: &DealRef, batch: &[PushedResult]) -> Result<TxOutcome> {
        let receipt = self.submit_results(deal, batch).await?.get_receipt().await;
        let receipt = receipt.map_err(contract)?;
        if !receipt.status() {
            return Err(contract(dexec_contracts::Error::Failed(
                receipt.transaction_hash,
            )));
        }
        Ok(TxOutcome::from(&receipt))
    }

    /// Send a batch of trust-1 results of `deal` without waiting for it to be mined (several
    /// batches can then land in one block). Checked first: the wallet is the deal's
    /// scheduler, the deal is trust 1 and before its final deadline, the batch names each
    /// task once with a worker and fitting callback data. Tasks settled already are refused
    /// by the hub at gas estimation (decoded), not read one by one beforehand.
    pub async fn submit_results(
        &self,
        deal: &DealRef,
        batch: &[PushedResult],
    ) -> Result<PendingTransactionBuilder<Ethereum>> {
        self.require_scheduler(deal)?;
        if batch.is_empty() {
            return Err(Refusal::EmptyBatch.into());
        }
        if deal.deal.trust > 1 {
            return Err(Refusal::Trust {
                deal_id: deal.deal_id,
                trust: deal.deal.trust,
                what: "its tasks need replicated contributions (contribute, reveal, finalize)",
            }
            .into());
        }
        let now = self.now().await?;
        let mut items = Vec::with_capacity(batch.len());
        let mut seen = std::collections::HashSet::new();
        for r in batch {
            let task = deal.task(r.index)?;
            if !seen.insert(r.index) {
                return Err(Refusal::DuplicateIndex(r.index).into());
            }
            if r.worker.is_zero() {
                return Err(Refusal::ZeroWorker(r.index).into());
            }
            if now >= deal.deal.final_deadline() {
                return Err(Refusal::DeadlinePassed {
                    task: task.task_id,
                    deadline: "final",
                    at: deal.deal.final_deadline(),
                    what: "the task can only be claimed now",
                }
                .into());
            }
            if tee(&deal.deal) && r.enclave.is_none() {
                return Err(Refusal::EnclaveRequired(deal.deal_id).into());
            }
            check_callback(&task, r.digest, &r.callback)?;
            let (challenge, sign) = enclave_parts(r.enclave.as_ref());
            items.push(HubPoco::BatchResult {
                index: U256::from(r.index),
                worker: r.worker,
                resultDigest: r.digest,
                results: r.results.clone(),
                resultsCallback: r.callback.clone(),
                enclaveChallenge: challenge,
                enclaveSign: sign,
                authorizationSign: r.authorization.clone(),
            });
        }
        let poco = self.deployment().poco(self.provider());
        let call = poco.pushResults(deal.encoded.clone(), deal.deal_id, items);
        Ok(submit(&call).await?)
    }

    // ---- anyone ----

    /// Fail a task past its final deadline that was not settled: the payer gets the task's
    /// price back plus the scheduler's stake, contributors get their stakes back (read from
    /// the task's events). Anyone may send it.
    pub async fn claim(&self, task: &TaskRef) -> Result<TxOutcome> {
        self.address()?;
        let id = task.task_id;
        let deal = task.deal.deal();
        let state = self.task_state(task).await?;
        self.check_settled(task, &state, "nothing to claim").await?;
        if state.now < deal.final_deadline() {
            return Err(Refusal::DeadlineNotReached {
                task: id,
                deadline: "final",
                at: deal.final_deadline(),
                what: "it cannot be claimed before",
            }
            .into());
        }
        let contributors = if state.view.status == 0 {
            Vec::new()
        } else {
            self.checked_contributors(task, &state.view).await?
        };
        let poco = self.deployment().poco(self.provider());
        let call = poco.claim(
            task.deal.encoded.clone(),
            task.deal.deal_id,
            U256::from(task.index),
            contributors,
        );
        let receipt = send(&call).await?;
        tracing::debug!(target: "sdk::execution", task = %id, "claimed");
        Ok(TxOutcome::from(&receipt))
    }

    /// Claim many tasks of `deal` that nobody contributed to, in one transaction (a whole
    /// expired bag); tasks with contributors go through [`Client::claim`].
    pub async fn claim_batch(&self, deal: &DealRef, indices: &[u64]) -> Result<TxOutcome> {
        self.address()?;
        if indices.is_empty() {
            return Err(Refusal::EmptyBatch.into());
        }
        let mut seen = std::collections::HashSet::new();
        for index in indices {
            let task = deal.task(*index)?;
            if !seen.insert(*index) {
                return Err(Refusal::DuplicateIndex(*index).into());
            }
            let state = self.task_state(&task).await?;
            self.check_settled(&task, &state, "nothing to claim")
                .await?;
            if state.now < deal.deal.final_deadline() {
                return Err(Refusal::DeadlineNotReached {
                    task: task.task_id,
                    deadline: "final",
                    at: deal.deal.final_deadline(),
                    what: "it cannot be claimed before",
                }
                .into());
            }
            if state.view.status != 0 {
                return Err(Refusal::Status {
                    task: task.task_id,
                    status: state.status(&deal.deal),
                    what: "it has contributors: claim it alone so their stakes come back".into(),
                }
                .into());
            }
        }
        let poco = self.deployment().poco(self.provider());
        let call = poco.claimBatch(
            deal.encoded.clone(),
            deal.deal_id,
            indices.iter().map(|i| U256::from(*i)).collect(),
        );
        let receipt = send(&call).await?;
        tracing::debug!(target: "sdk::execution", deal = %deal.deal_id, tasks = indices.len(), "claimed");
        Ok(TxOutcome::from(&receipt))
    }
}
