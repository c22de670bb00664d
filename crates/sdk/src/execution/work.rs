//! The workers' side: contribute (or sign a contribution for the scheduler's batch), reveal,
//! contribute-and-finalize, and the views they need.

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::rpc::types::Filter;
use alloy::signers::SignerSync;
use alloy::sol_types::SolEvent;
use dexec_contracts::tx::send;
use dexec_contracts::HubPoco;
use dexec_primitives::poco::{contribution_hash, result_hash, MAX_CONTRIBUTORS};
use dexec_primitives::ContributionStatus;

use super::checks::{check_callback, check_final_deadline, enclave_parts, tee, trust_refusal};
use super::{EnclaveProof, Refusal, SignedContribution, TaskRef};
use crate::client::{nrlc, Client, TxOutcome};
use crate::deals::TaskStatus;
use crate::error::{contract, Error, Result};
use crate::events::{fetch, HubEvent};

impl Client {
    /// `worker`'s contribution to `task` (none, contributed, revealed, or rejected by a reopen).
    pub async fn contribution(&self, task: B256, worker: Address) -> Result<ContributionStatus> {
        self.contribution_status(task, worker).await
    }

    /// The contributors of `task` in contribution order, from its `TaskContribute` events
    /// since `from_block` (the block of its deal's match).
    pub async fn contributors(&self, task: B256, from_block: u64) -> Result<Vec<Address>> {
        let head = self.block_number().await?;
        let filter = Filter::new()
            .event_signature(HubPoco::TaskContribute::SIGNATURE_HASH)
            .topic1(task);
        Ok(fetch(self, filter, from_block, head)
            .await?
            .into_iter()
            .filter_map(|log| match log.event {
                HubEvent::TaskContribute { worker, .. } => Some(worker),
                _ => None,
            })
            .collect())
    }

    // ---- workers ----

    /// Commit a vote for a replicated task (trust > 1): `result_hash` and `result_seal` as
    /// [`dexec_primitives::poco::result_hash`] / [`result_seal`](dexec_primitives::poco::result_seal)
    /// give them, with the scheduler's `authorization` of (wallet, task, enclave). Locks the
    /// deal's worker stake.
    pub async fn contribute(
        &self,
        task: &TaskRef,
        result_hash: B256,
        result_seal: B256,
        enclave: Option<&EnclaveProof>,
        authorization: &Bytes,
    ) -> Result<TxOutcome> {
        let me = self.address()?;
        let deal = task.deal.deal();
        if deal.trust <= 1 {
            return Err(trust_refusal(task));
        }
        let (state, status, account) = tokio::try_join!(
            self.task_state(task),
            self.contribution_status(task.task_id, me),
            self.account_free(me),
        )?;
        let id = task.task_id;
        self.check_settled(task, &state, "nothing to contribute to")
            .await?;
        check_contribution_open(task, &state)?;
        if status != ContributionStatus::Unset {
            return Err(Refusal::AlreadyContributed {
                task: id,
                worker: me,
            }
            .into());
        }
        if usize::from(state.view.contributors) >= MAX_CONTRIBUTORS {
            return Err(Refusal::TooManyContributors { task: id }.into());
        }
        self.check_authorization(task, me, enclave, authorization)
            .await?;
        self.check_enclave(task, enclave, result_hash, result_seal)?;
        let stake = nrlc(U256::from(deal.worker_stake))?;
        if account < stake {
            return Err(Error::Insufficient {
                what: "free hub balance",
                account: me,
                needed: stake,
                available: account,
                hint: "; a contribution locks the deal's worker stake until the task settles",
            });
        }
        let poco = self.deployment().poco(self.provider());
        let (challenge, sign) = enclave_parts(enclave);
        let call = poco.contribute(
            task.deal.encoded.clone(),
            task.deal.deal_id,
            U256::from(task.index),
            result_hash,
            result_seal,
            challenge,
            sign,
            authorization.clone(),
        );
        let receipt = send(&call).await?;
        tracing::debug!(target: "sdk::execution", task = %id, "contributed");
        Ok(TxOutcome::from(&receipt))
    }

    /// Sign the wallet's contribution to `task` for its scheduler, who sends it with others in
    /// one transaction ([`Client::contribute_batch`]) instead of the worker sending
    /// [`Client::contribute`]: `result_hash` and `result_seal` as for `contribute`, the enclave's
    /// proof on TEE deals, and on TEE deals when the hub has a TEE broker, the broker's
    /// `authorization` of (wallet, task, enclave) (empty otherwise). Nothing is sent: the
    /// signature binds the vote, the seal and the enclave to the task, so the scheduler can
    /// neither change the vote nor lock the worker's stake for another one. The worker's free
    /// balance must hold the deal's worker stake when the batch is mined.
    pub fn sign_contribution(
        &self,
        task: &TaskRef,
        result_hash: B256,
        result_seal: B256,
        enclave: Option<&EnclaveProof>,
        authorization: &Bytes,
    ) -> Result<SignedContribution> {
        let wallet = self.wallet()?;
        if task.deal.deal.trust <= 1 {
            return Err(trust_refusal(task));
        }
        self.check_enclave(task, enclave, result_hash, result_seal)?;
        let challenge = enclave.map_or(Address::ZERO, |e| e.challenge);
        let digest = contribution_hash(task.task_id, result_hash, result_seal, challenge);
        let signature = wallet.sign_message_sync(digest.as_slice())?;
        Ok(SignedContribution {
            index: task.index,
            worker: wallet.address(),
            result_hash,
            result_seal,
            enclave: enclave.cloned(),
            authorization: authorization.clone(),
            sign: Bytes::copy_from_slice(&signature.as_bytes()),
        })
    }

    /// Reveal the digest behind the wallet's winning contribution to `task`.
    pub async fn reveal(&self, task: B256, digest: B256) -> Result<TxOutcome> {
        let me = self.address()?;
        let poco = self.deployment().poco(self.provider());
        let (view, status, now) = tokio::try_join!(
            async { poco.viewTask(task).call().await.map_err(contract) },
            self.contribution_status(task, me),
            self.now(),
        )?;
        if view.status != 2 {
            let (status, what) = match view.status {
                0 => (TaskStatus::Unset, "nobody contributed yet".to_owned()),
                1 => (
                    TaskStatus::Active,
                    "no consensus yet: reveal once it is reached".to_owned(),
                ),
                3 => (TaskStatus::Completed, "nothing to reveal".to_owned()),
                _ => (TaskStatus::Failed, "nothing to reveal".to_owned()),
            };
            return Err(Refusal::Status { task, status, what }.into());
        }
        let deadline = view.revealDeadline.to::<u64>();
        if now >= deadline {
            return Err(Refusal::DeadlinePassed {
                task,
                deadline: "reveal",
                at: deadline,
                what: "the scheduler may finalize it with the digest, or reopen it",
            }
            .into());
        }
        // any vote not revealed and not rejected may reveal, whatever its epoch
        let why = match status {
            ContributionStatus::Unset => Some("it did not contribute"),
            ContributionStatus::Proved => Some("it already revealed"),
            ContributionStatus::Rejected => {
                Some("its vote was for a consensus nobody revealed, which a reopen rejected")
            }
            ContributionStatus::Contributed => None,
        };
        if let Some(why) = why {
            return Err(Refusal::NotRevealable {
                task,
                worker: me,
                why,
            }
            .into());
        }
        if result_hash(task, digest) != view.consensus {
            return Err(Refusal::NotTheConsensus { task, digest }.into());
        }
        let receipt = send(&poco.reveal(task, digest)).await?;
        tracing::debug!(target: "sdk::execution", %task, "revealed");
        Ok(TxOutcome::from(&receipt))
    }

    /// Settle a trust-1 task in one transaction: the wallet (the worker the scheduler's
    /// `authorization` names) submits the result `digest`, the results link and the callback
    /// data, and is paid at once.
    pub async fn contribute_and_finalize(
        &self,
        task: &TaskRef,
        digest: B256,
        results: &Bytes,
        callback: &Bytes,
        enclave: Option<&EnclaveProof>,
        authorization: &Bytes,
    ) -> Result<TxOutcome> {
        let me = self.address()?;
        let deal = task.deal.deal();
        if deal.trust > 1 {
            return Err(trust_refusal(task));
        }
        let state = self.task_state(task).await?;
        self.check_settled(task, &state, "nothing to contribute to")
            .await?;
        check_final_deadline(task, &state, "the task can only be claimed now")?;
        self.check_authorization(task, me, enclave, authorization)
            .await?;
        if enclave.is_some() || tee(deal) {
            let seal = dexec_primitives::poco::result_seal(me, task.task_id, digest);
            self.check_enclave(task, enclave, result_hash(task.task_id, digest), seal)?;
        }
        check_callback(task, digest, callback)?;
        let hub = self.deployment().hub(self.provider());
        let (challenge, sign) = enclave_parts(enclave);
        let call = hub.contributeAndFinalize(
            task.deal.encoded.clone(),
            task.deal.deal_id,
            U256::from(task.index),
            digest,
            results.clone(),
            callback.clone(),
            challenge,
            sign,
            authorization.clone(),
        );
        let receipt = send(&call).await?;
        tracing::debug!(target: "sdk::execution", task = %task.task_id, "contributed and finalized");
        Ok(TxOutcome::from(&receipt))
    }
}

/// The task takes contributions: not in consensus, and before its contribution deadline (start
/// + 7 T, or the final deadline once reopened).
pub(super) fn check_contribution_open(
    task: &TaskRef,
    state: &super::checks::TaskState,
) -> Result<()> {
    let id = task.task_id;
    let deadline = task
        .deal
        .deal
        .contribution_deadline_in_epoch(state.view.epoch);
    if state.now >= deadline {
        return Err(Refusal::DeadlinePassed {
            task: id,
            deadline: "contribution",
            at: deadline,
            what: "contributions are closed",
        }
        .into());
    }
    if state.view.status == 2 {
        return Err(Refusal::Status {
            task: id,
            status: TaskStatus::Revealing,
            what: "consensus is reached; contributions reopen only if nobody reveals it and the \
                   scheduler reopens the task"
                .into(),
        }
        .into());
    }
    Ok(())
}
