//! What the calls read and check before sending: the task's state on chain, signatures,
//! deadlines, callback data.

use alloy::primitives::{eip191_hash_message, keccak256, Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use dexec_contracts::{Hub, HubPoco};
use dexec_primitives::deal::Deal;
use dexec_primitives::poco::authorization_hash;
use dexec_primitives::{recover_signer, tag, ContributionStatus};

use super::{DealRef, EnclaveProof, Refusal, TaskRef};
use crate::client::Client;
use crate::deals::TaskStatus;
use crate::error::{contract, Error, Result};
use crate::events::fetch;

/// A task's state as the pre-checks read it.
pub(super) struct TaskState {
    pub(super) view: HubPoco::Task,
    pub(super) settled: bool,
    pub(super) now: u64,
}

impl TaskState {
    /// Where the task is, unsettled (the hub's record and the clock).
    pub(super) fn status(&self, deal: &Deal) -> TaskStatus {
        if self.now >= deal.final_deadline() {
            return TaskStatus::Timeout;
        }
        match self.view.status {
            1 => TaskStatus::Active,
            2 => TaskStatus::Revealing,
            _ => TaskStatus::Unset,
        }
    }

    pub(super) fn reveal_deadline(&self) -> u64 {
        self.view.revealDeadline.to::<u64>()
    }
}

impl Client {
    /// The deal's commitment, the task's record, whether it is settled, and the clock.
    pub(super) async fn task_state(&self, task: &TaskRef) -> Result<TaskState> {
        let poco = self.deployment().poco(self.provider());
        let hub = self.deployment().hub(self.provider());
        let deal = &task.deal;
        let (known, view, settled, now) = tokio::try_join!(
            async {
                hub.checkDeal(deal.deal_id, deal.encoded.clone())
                    .call()
                    .await
                    .map_err(contract)
            },
            async { poco.viewTask(task.task_id).call().await.map_err(contract) },
            async {
                poco.isTaskSettled(
                    deal.deal_id,
                    U256::from(task.index),
                    U256::from(deal.deal.bot_first),
                )
                .call()
                .await
                .map_err(contract)
            },
            self.now(),
        )?;
        if !known {
            return Err(Refusal::UnknownDeal(deal.deal_id).into());
        }
        Ok(TaskState { view, settled, now })
    }

    /// Refuse a settled task, saying whether it completed or was claimed.
    pub(super) async fn check_settled(
        &self,
        task: &TaskRef,
        state: &TaskState,
        what: &str,
    ) -> Result<()> {
        if !state.settled {
            return Ok(());
        }
        let status = match state.view.status {
            3 => TaskStatus::Completed,
            4 => TaskStatus::Failed,
            // trust-1 tasks keep no record: their events tell
            _ if self.was_claimed(task).await? => TaskStatus::Failed,
            _ => TaskStatus::Completed,
        };
        Err(Refusal::Status {
            task: task.task_id,
            status,
            what: what.to_owned(),
        }
        .into())
    }

    pub(super) async fn was_claimed(&self, task: &TaskRef) -> Result<bool> {
        let head = self.block_number().await?;
        let filter = Filter::new()
            .event_signature(Hub::TaskClaimed::SIGNATURE_HASH)
            .topic1(task.task_id);
        Ok(!fetch(self, filter, task.deal.block, head).await?.is_empty())
    }

    /// A contribution's status.
    pub(super) async fn contribution_status(
        &self,
        task: B256,
        worker: Address,
    ) -> Result<ContributionStatus> {
        let c = self
            .deployment()
            .poco(self.provider())
            .viewContribution(task, worker)
            .call()
            .await
            .map_err(contract)?;
        ContributionStatus::from_code(c.status.saturating_to())
            .ok_or_else(|| Error::Decode(format!("contribution status {} is unknown", c.status)))
    }

    /// The hub's TEE broker (zero when schedulers authorize enclaves themselves).
    pub(super) async fn tee_broker(&self) -> Result<Address> {
        self.deployment()
            .poco(self.provider())
            .teeBroker()
            .call()
            .await
            .map_err(contract)
    }

    pub(super) fn require_scheduler(&self, deal: &DealRef) -> Result<()> {
        let me = self.address()?;
        if me != deal.deal.workerpool_owner {
            return Err(Refusal::NotTheScheduler {
                deal_id: deal.deal_id,
                caller: me,
                scheduler: deal.deal.workerpool_owner,
            }
            .into());
        }
        Ok(())
    }

    /// The scheduler (or, for an enclave when the hub has one, the TEE broker) signed the
    /// authorization of (worker, task, enclave) as an EIP-191 message.
    pub(super) async fn check_authorization(
        &self,
        task: &TaskRef,
        worker: Address,
        enclave: Option<&EnclaveProof>,
        sign: &Bytes,
    ) -> Result<()> {
        let challenge = enclave.map_or(Address::ZERO, |e| e.challenge);
        let mut expected = task.deal.deal.workerpool_owner;
        if !challenge.is_zero() {
            let broker = self.tee_broker().await?;
            if !broker.is_zero() {
                expected = broker;
            }
        }
        let digest = eip191_hash_message(authorization_hash(worker, task.task_id, challenge));
        if let Some(why) = self.signature_problem(expected, digest, sign).await? {
            return Err(Refusal::BadAuthorization {
                task: task.task_id,
                worker,
                expected,
                why,
            }
            .into());
        }
        Ok(())
    }

    /// A TEE deal's vote comes from an enclave, which signed it.
    pub(super) fn check_enclave(
        &self,
        task: &TaskRef,
        enclave: Option<&EnclaveProof>,
        result_hash: B256,
        result_seal: B256,
    ) -> Result<()> {
        let Some(enclave) = enclave else {
            if tee(task.deal.deal()) {
                return Err(Refusal::EnclaveRequired(task.deal.deal_id).into());
            }
            return Ok(());
        };
        // an enclave is a key, never a contract: its signature must recover
        let digest = eip191_hash_message(keccak256(
            [result_hash.as_slice(), result_seal.as_slice()].concat(),
        ));
        match recover_signer(&enclave.sign, digest) {
            Ok(signer) if signer == enclave.challenge => Ok(()),
            Ok(signer) => Err(Refusal::BadEnclaveSignature {
                task: task.task_id,
                enclave: enclave.challenge,
                why: format!("the signature is {signer}'s"),
            }
            .into()),
            Err(e) => Err(Refusal::BadEnclaveSignature {
                task: task.task_id,
                enclave: enclave.challenge,
                why: e.to_string(),
            }
            .into()),
        }
    }

    /// What is wrong with `sign` as `expected`'s signature of `digest`, as the hub checks it;
    /// `None` when it is right, or when `expected` is a contract (ERC-1271: the hub asks it).
    pub(super) async fn signature_problem(
        &self,
        expected: Address,
        digest: B256,
        sign: &[u8],
    ) -> Result<Option<String>> {
        let problem = match recover_signer(sign, digest) {
            Ok(signer) if signer == expected => return Ok(None),
            Ok(signer) => format!("it is {signer}'s signature"),
            Err(e) => e.to_string(),
        };
        let code = self.provider().get_code_at(expected).await?;
        Ok(code.is_empty().then_some(problem))
    }

    /// The task's contributors from its events, checked against the hub's count and rolling
    /// hash of them.
    pub(super) async fn checked_contributors(
        &self,
        task: &TaskRef,
        view: &HubPoco::Task,
    ) -> Result<Vec<Address>> {
        let found = self.contributors(task.task_id, task.deal.block).await?;
        let hash = found.iter().fold(B256::ZERO, |h, worker| {
            keccak256([h.as_slice(), worker.as_slice()].concat())
        });
        if found.len() != usize::from(view.contributors) || hash != view.contributorsHash {
            return Err(Refusal::ContributorsMismatch {
                task: task.task_id,
                found: found.len(),
                expected: view.contributors,
            }
            .into());
        }
        Ok(found)
    }
}

pub(super) fn trust_refusal(task: &TaskRef) -> Error {
    let trust = task.deal.deal.trust;
    let what = if trust <= 1 {
        "its tasks settle in one transaction (contribute_and_finalize, or push_results by the \
         scheduler), not by contributions"
    } else {
        "its tasks need replicated contributions (contribute, reveal, finalize)"
    };
    Refusal::Trust {
        deal_id: task.deal.deal_id,
        trust,
        what,
    }
    .into()
}

pub(super) fn check_final_deadline(
    task: &TaskRef,
    state: &TaskState,
    what: &'static str,
) -> Result<()> {
    let deadline = task.deal.deal.final_deadline();
    if state.now >= deadline {
        return Err(Refusal::DeadlinePassed {
            task: task.task_id,
            deadline: "final",
            at: deadline,
            what,
        }
        .into());
    }
    Ok(())
}

/// Callback deals bind the callback data to the result: `keccak256(data) == digest`; deals
/// without a callback take none.
pub(super) fn check_callback(task: &TaskRef, digest: B256, data: &Bytes) -> Result<()> {
    let callback = task.deal.deal.callback;
    let why = if callback.is_zero() {
        (!data.is_empty()).then(|| {
            format!(
                "deal {} has no callback: task {} takes no callback data",
                task.deal.deal_id, task.task_id
            )
        })
    } else {
        (keccak256(data) != digest).then(|| {
            format!(
                "the callback data of task {} must hash to its result digest {digest} (deal {} \
                 calls back {callback})",
                task.task_id, task.deal.deal_id
            )
        })
    };
    match why {
        Some(why) => Err(Refusal::CallbackData(why).into()),
        None => Ok(()),
    }
}

pub(super) fn tee(deal: &Deal) -> bool {
    !(deal.tag & tag::TEE).is_zero()
}

pub(super) fn enclave_parts(enclave: Option<&EnclaveProof>) -> (Address, Bytes) {
    enclave.map_or((Address::ZERO, Bytes::new()), |e| {
        (e.challenge, e.sign.clone())
    })
}
