//! The scheduler's side (finalize, reopen, push results) and anyone's (claim).

use alloy::primitives::{Bytes, B256, U256};
use dexec_contracts::tx::{send, submit};
use dexec_contracts::HubPoco;
use dexec_primitives::poco::result_hash;

use super::checks::{check_callback, check_final_deadline, enclave_parts, tee};
use super::{DealRef, PendingResults, PushedResult, Refusal, ResultsPushed, TaskRef};
use crate::client::{Client, TxOutcome};
use crate::deals::TaskStatus;
use crate::error::{contract, Result};

impl Client {
    /// Close a replicated task in consensus with its consensus `digest`: the digest proves every
    /// winning commitment at once (a vote for the consensus sealed with the worker's own
    /// `resultSeal` of `digest`, not rejected by a reopen), so no reveal is needed. Winners are
    /// paid and get their stake back, losers lose theirs. Allowed until the final deadline. The
    /// contributors are read from the task's events (the hub checks them against its record).
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

    /// Reject a consensus nobody revealed by its reveal deadline and reopen the task to
    /// contributions until its final deadline (allowed from the reveal deadline until the final
    /// one). Exactly the voters of the rejected value are barred (they can never win and lose
    /// their stake when the task settles); every other vote stays and still counts. The
    /// contributors are read from the task's events (the hub checks them against its record).
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
                what: "a winner revealed the consensus: finalize it instead".into(),
            }
            .into());
        }
        let window = deal.reopen_window(state.reveal_deadline());
        if state.now < window.start {
            return Err(Refusal::DeadlineNotReached {
                task: id,
                deadline: "reveal",
                at: window.start,
                what: "its voters may still reveal until then (or finalize it now with the digest)",
            }
            .into());
        }
        if state.now >= window.end {
            return Err(Refusal::DeadlinePassed {
                task: id,
                deadline: "final",
                at: window.end,
                what: "it can no longer be reopened; claim it instead",
            }
            .into());
        }
        let contributors = self.checked_contributors(task, view).await?;
        let poco = self.deployment().poco(self.provider());
        let call = poco.reopen(
            task.deal.encoded.clone(),
            task.deal.deal_id,
            U256::from(task.index),
            contributors,
        );
        let receipt = send(&call).await?;
        tracing::debug!(target: "sdk::execution", task = %id, "reopened");
        Ok(TxOutcome::from(&receipt))
    }

    /// Settle many trust-1 tasks of `deal` in one transaction and wait for it to be mined, then,
    /// for a callback deal, deliver the results to its consumer. See [`Client::submit_results`].
    pub async fn push_results(
        &self,
        deal: &DealRef,
        batch: &[PushedResult],
    ) -> Result<ResultsPushed> {
        let pushed = self.submit_results(deal, batch).await?.get_receipt().await;
        let pushed = pushed.map_err(contract)?;
        if !pushed.status() {
            return Err(contract(dexec_contracts::Error::Failed(
                pushed.transaction_hash,
            )));
        }
        Ok(ResultsPushed {
            tx: TxOutcome::from(&pushed.receipt),
            deliveries: pushed.deliveries,
        })
    }

    /// Send a batch of trust-1 results of `deal` without waiting for it to be mined (several
    /// batches can then land in one block). Checked first: the wallet is the deal's
    /// scheduler, the deal is trust 1 and before its final deadline, the batch names each
    /// task once with a worker and fitting callback data. Tasks settled already are refused
    /// by the hub at gas estimation (decoded), not read one by one beforehand.
    ///
    /// `pushResults` calls no consumer: for a callback deal the hub records each result and
    /// marks it pending. Once the batch is mined, [`PendingResults::get_receipt`] delivers
    /// them in transactions of their own ([`Client::deliver_callbacks`], with every
    /// consumer's full gas cap); a failed delivery is logged and reported in
    /// [`PushedReceipt::deliveries`](super::PushedReceipt::deliveries), never as a failure of
    /// the settlement (the results stay pending, and anyone may deliver them later).
    pub async fn submit_results(
        &self,
        deal: &DealRef,
        batch: &[PushedResult],
    ) -> Result<PendingResults> {
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
        let pending = submit(&call).await?;
        let callbacks = if deal.deal.callback.is_zero() {
            Vec::new()
        } else {
            batch.iter().map(|r| r.index).collect()
        };
        Ok(PendingResults::new(
            self.clone(),
            deal.clone(),
            callbacks,
            pending,
        ))
    }

    // ---- anyone ----

    /// The kitty: every stake seized on claims so far (the schedulers' of failed tasks, and
    /// those of workers who voted wrong or stayed silent), held by the hub and paid to nobody.
    pub async fn kitty(&self) -> Result<dexec_primitives::Nrlc> {
        let kitty = self
            .deployment()
            .poco(self.provider())
            .kitty()
            .call()
            .await
            .map_err(contract)?;
        crate::client::nrlc(kitty)
    }

    /// Fail a task past its final deadline that was not settled: the payer gets the task's
    /// price back and nothing more, the scheduler's stake goes to the kitty (nobody's), and the
    /// contributors (read from the task's events) get their stakes back unless they were wrong
    /// or silent: on a task in consensus only those who revealed it keep theirs, on a task
    /// without consensus all but the voters of a rejected one do; the others lose it to the
    /// kitty with a third of their score ([`dexec_primitives::Deal::claim_outcome`]). Anyone
    /// may send it.
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
                    what: "it has contributors: claim it alone so their stakes are settled".into(),
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
