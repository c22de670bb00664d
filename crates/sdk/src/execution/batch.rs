//! The scheduler's batch of workers' signed contributions (`contributeBatch`).

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy::primitives::{eip191_hash_message, Address, B256, U256};
use dexec_contracts::tx::send;
use dexec_contracts::HubPoco;
use dexec_primitives::poco::{contribution_hash, count_vote, weight, MAX_CONTRIBUTORS};
use dexec_primitives::ContributionStatus;

use super::checks::{enclave_parts, TaskState};
use super::work::check_contribution_open;
use super::{DealRef, Refusal, SignedContribution, TaskRef};
use crate::client::{nrlc, Client, TxOutcome};
use crate::error::{contract, Error, Result};

/// One task of the batch as the pre-check follows it through the batch's votes.
struct Tally {
    task: TaskRef,
    state: TaskState,
    /// Contributions of the batch to this task so far.
    added: usize,
    /// The task's Sarmenta total, updated vote by vote.
    total: U256,
    /// Group weights read or updated, by result hash.
    groups: HashMap<B256, U256>,
    /// The worker whose vote of the batch reaches consensus, if one does.
    reached_by: Option<Address>,
}

impl Client {
    /// Scheduler only: send several workers' signed contributions ([`Client::sign_contribution`])
    /// to tasks of `deal` in one transaction. Each is counted as if its worker had sent
    /// [`Client::contribute`]: its stake is locked from the worker's free balance, its weight
    /// comes from the worker's score, and a vote reaching consensus closes its task to the
    /// contributions after it.
    ///
    /// Checked first, as the hub checks them: the wallet is the deal's scheduler, the deal is
    /// replicated (trust > 1), each contribution names a task of the deal and a worker once,
    /// carries the worker's signature of
    /// [`contribution_hash`](dexec_primitives::poco::contribution_hash) (a contract worker's
    /// ERC-1271 answer is left to the hub), the enclave's on TEE deals (and the TEE broker's
    /// authorization when the hub has one); each task is unsettled, open to contributions and
    /// has room for them; no worker contributed to it before; no vote of the batch follows the
    /// one that reaches its task's consensus (counted with the hub's rule); each worker's free
    /// balance covers its stakes.
    pub async fn contribute_batch(
        &self,
        deal: &DealRef,
        batch: &[SignedContribution],
    ) -> Result<TxOutcome> {
        self.require_scheduler(deal)?;
        if batch.is_empty() {
            return Err(Refusal::EmptyBatch.into());
        }
        let terms = deal.deal();
        if terms.trust <= 1 {
            return Err(Refusal::Trust {
                deal_id: deal.deal_id(),
                trust: terms.trust,
                what: "its tasks settle in one transaction (contribute_and_finalize, or \
                       push_results by the scheduler), not by contributions",
            }
            .into());
        }
        let poco = self.deployment().poco(self.provider());
        let mut broker = None;
        let mut tallies: BTreeMap<u64, Tally> = BTreeMap::new();
        let mut seen = HashSet::new();
        let mut stakes: BTreeMap<Address, u128> = BTreeMap::new();
        for c in batch {
            let task = deal.task(c.index)?;
            let id = task.task_id();
            if c.worker.is_zero() {
                return Err(Refusal::ZeroWorker(c.index).into());
            }
            if !seen.insert((c.index, c.worker)) {
                return Err(Refusal::DuplicateContribution {
                    index: c.index,
                    worker: c.worker,
                }
                .into());
            }
            // the worker's signature, then the enclave's (and the broker's authorization)
            let (challenge, _) = enclave_parts(c.enclave.as_ref());
            let signed = eip191_hash_message(contribution_hash(
                id,
                c.result_hash,
                c.result_seal,
                challenge,
            ));
            if let Some(why) = self.signature_problem(c.worker, signed, &c.sign).await? {
                return Err(Refusal::BadContributionSignature {
                    task: id,
                    worker: c.worker,
                    why,
                }
                .into());
            }
            self.check_enclave(&task, c.enclave.as_ref(), c.result_hash, c.result_seal)?;
            if c.enclave.is_some() {
                let broker = match broker {
                    Some(broker) => broker,
                    None => *broker.insert(self.tee_broker().await?),
                };
                if !broker.is_zero() {
                    self.check_authorization(&task, c.worker, c.enclave.as_ref(), &c.authorization)
                        .await?;
                }
            }

            // the task: read once, then followed through the batch's votes
            let tally = match tallies.entry(c.index) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    let state = self.task_state(&task).await?;
                    self.check_settled(&task, &state, "nothing to contribute to")
                        .await?;
                    check_contribution_open(&task, &state)?;
                    // a task nobody contributed to yet starts with total 1
                    let total = if state.view.status == 0 {
                        U256::from(1u8)
                    } else {
                        U256::from(state.view.total)
                    };
                    e.insert(Tally {
                        task: task.clone(),
                        state,
                        added: 0,
                        total,
                        groups: HashMap::new(),
                        reached_by: None,
                    })
                }
            };
            if let Some(reached_by) = tally.reached_by {
                return Err(Refusal::AfterConsensus {
                    task: id,
                    reached_by,
                    worker: c.worker,
                }
                .into());
            }
            if self.contribution_status(id, c.worker).await? != ContributionStatus::Unset {
                return Err(Refusal::AlreadyContributed {
                    task: id,
                    worker: c.worker,
                }
                .into());
            }
            tally.added += 1;
            if usize::from(tally.state.view.contributors) + tally.added > MAX_CONTRIBUTORS {
                return Err(Refusal::TooManyContributors { task: id }.into());
            }
            let group = match tally.groups.get(&c.result_hash) {
                Some(group) => *group,
                None => {
                    poco.viewGroup(id, c.result_hash)
                        .call()
                        .await
                        .map_err(contract)?
                        .weight
                }
            };
            let score = self
                .deployment()
                .hub(self.provider())
                .viewScore(c.worker)
                .call()
                .await
                .map_err(contract)?;
            let (group, total, reached) = count_vote(
                terms.trust,
                group,
                tally.total,
                weight(score.saturating_to()),
            );
            tally.groups.insert(c.result_hash, group);
            tally.total = total;
            if reached {
                tally.reached_by = Some(c.worker);
            }
            *stakes.entry(c.worker).or_default() += terms.worker_stake;
        }
        for (worker, needed) in stakes {
            let needed = nrlc(U256::from(needed))?;
            let free = self.account_free(worker).await?;
            if free < needed {
                return Err(Error::Insufficient {
                    what: "free hub balance",
                    account: worker,
                    needed,
                    available: free,
                    hint:
                        "; each contribution locks the deal's worker stake from the worker's own \
                           balance until the task settles",
                });
            }
        }
        let items: Vec<HubPoco::SignedContribution> = batch
            .iter()
            .map(|c| {
                let (challenge, sign) = enclave_parts(c.enclave.as_ref());
                HubPoco::SignedContribution {
                    index: U256::from(c.index),
                    worker: c.worker,
                    resultHash: c.result_hash,
                    resultSeal: c.result_seal,
                    enclaveChallenge: challenge,
                    enclaveSign: sign,
                    authorizationSign: c.authorization.clone(),
                    workerSign: c.sign.clone(),
                }
            })
            .collect();
        let call = poco.contributeBatch(deal.encoded().clone(), deal.deal_id(), items);
        let receipt = send(&call).await?;
        let tasks: Vec<String> = tallies
            .values()
            .map(|t| t.task.task_id().to_string())
            .collect();
        tracing::debug!(target: "sdk::execution", deal = %deal.deal_id(), contributions = batch.len(), tasks = ?tasks, "contributions sent in a batch");
        Ok(TxOutcome::from(&receipt))
    }
}
