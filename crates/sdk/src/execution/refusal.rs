//! [`Refusal`]: why an execution call was not sent.

use alloy::primitives::{Address, B256};
use dexec_primitives::poco::MAX_CONTRIBUTORS;

use crate::deals::TaskStatus;

/// Why an execution call was not sent: the hub would refuse it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The deal has no task at this index.
    #[error("task index {index} is outside deal {deal_id}'s bag [{first}, {end})")]
    IndexOutOfRange {
        /// The deal.
        deal_id: B256,
        /// The index asked for.
        index: u64,
        /// Its first task index.
        first: u64,
        /// One past its last.
        end: u64,
    },
    /// No deal with this id on chain, or its terms are not the ones committed.
    #[error(
        "deal {0} is not on this chain, or these are not its terms (use the `deal` bytes of its \
         DealCreated event)"
    )]
    UnknownDeal(B256),
    /// The task is in a state where this call does nothing.
    #[error("task {task} is {status}: {what}")]
    Status {
        /// The task.
        task: B256,
        /// Its state.
        status: TaskStatus,
        /// What that means for the call.
        what: String,
    },
    /// A deadline of the task passed.
    #[error("the {deadline} deadline of task {task} passed at unix {at}: {what}")]
    DeadlinePassed {
        /// The task.
        task: B256,
        /// Which deadline ("contribution", "reveal", "final").
        deadline: &'static str,
        /// When it passed.
        at: u64,
        /// What that means for the call.
        what: &'static str,
    },
    /// A deadline of the task has not passed yet.
    #[error("the {deadline} deadline of task {task} passes at unix {at}: {what}")]
    DeadlineNotReached {
        /// The task.
        task: B256,
        /// Which deadline.
        deadline: &'static str,
        /// When it passes.
        at: u64,
        /// What that means for the call.
        what: &'static str,
    },
    /// The call is for deals of another trust.
    #[error("deal {deal_id} has trust {trust}: {what}")]
    Trust {
        /// The deal.
        deal_id: B256,
        /// Its trust.
        trust: u32,
        /// Which calls it takes instead.
        what: &'static str,
    },
    /// Only the deal's scheduler may send this.
    #[error(
        "{caller} is not the scheduler of deal {deal_id} (its workerpool owner at match time, \
         {scheduler})"
    )]
    NotTheScheduler {
        /// The deal.
        deal_id: B256,
        /// Who tried.
        caller: Address,
        /// The deal's scheduler.
        scheduler: Address,
    },
    /// The worker already contributed.
    #[error("{worker} already contributed to task {task}")]
    AlreadyContributed {
        /// The task.
        task: B256,
        /// The worker.
        worker: Address,
    },
    /// The task has the most contributions it accepts.
    #[error("task {task} already has the maximum of {MAX_CONTRIBUTORS} contributions")]
    TooManyContributors {
        /// The task.
        task: B256,
    },
    /// The worker's authorization is not signed by whom the hub expects.
    #[error(
        "the authorization of worker {worker} for task {task} is not signed by {expected} \
         ({why}); ask the scheduler for a fresh assignment"
    )]
    BadAuthorization {
        /// The task.
        task: B256,
        /// The worker.
        worker: Address,
        /// Who must sign: the deal's scheduler, or the TEE broker for enclaves.
        expected: Address,
        /// What is wrong with the signature.
        why: String,
    },
    /// A TEE deal's result must come from an enclave.
    #[error("deal {0} is a TEE deal: its results must come from an enclave")]
    EnclaveRequired(B256),
    /// The enclave did not sign this vote.
    #[error("enclave {enclave} did not sign this result of task {task} ({why})")]
    BadEnclaveSignature {
        /// The task.
        task: B256,
        /// The enclave.
        enclave: Address,
        /// What is wrong with the signature.
        why: String,
    },
    /// The callback data does not fit the deal.
    #[error("{0}")]
    CallbackData(String),
    /// The worker has no contribution that may reveal.
    #[error("{worker} cannot reveal for task {task}: {why}")]
    NotRevealable {
        /// The task.
        task: B256,
        /// The worker.
        worker: Address,
        /// Why not.
        why: &'static str,
    },
    /// The digest is not the one the task's consensus is on.
    #[error("digest {digest} is not the consensus of task {task}")]
    NotTheConsensus {
        /// The task.
        task: B256,
        /// The digest given.
        digest: B256,
    },
    /// The contributors found are not the task's.
    #[error(
        "the contributors found for task {task} ({found}) are not its {expected} contributors \
         in order: the node's event logs are incomplete"
    )]
    ContributorsMismatch {
        /// The task.
        task: B256,
        /// How many were found in the logs.
        found: usize,
        /// How many the hub counts.
        expected: u8,
    },
    /// A batch of nothing.
    #[error("the batch is empty: nothing to send")]
    EmptyBatch,
    /// A batch names a task twice.
    #[error("task index {0} appears twice in the batch")]
    DuplicateIndex(u64),
    /// A batch entry names no worker.
    #[error("task index {0} names no worker (its reward would be lost)")]
    ZeroWorker(u64),
    /// A batch of signed contributions holds one worker's contribution to a task twice.
    #[error("worker {worker} contributes to task index {index} twice in the batch")]
    DuplicateContribution {
        /// The task's index.
        index: u64,
        /// The worker.
        worker: Address,
    },
    /// A worker's signature of its contribution is not what the hub checks.
    #[error(
        "the signature of worker {worker}'s contribution to task {task} is not valid ({why}): \
         the worker must sign keccak256(taskId ‖ resultHash ‖ resultSeal ‖ enclave) as an \
         EIP-191 message (Client::sign_contribution); ask it for a fresh one"
    )]
    BadContributionSignature {
        /// The task.
        task: B256,
        /// The worker named in the contribution.
        worker: Address,
        /// What is wrong with the signature.
        why: String,
    },
    /// A contribution of the batch would come after the consensus an earlier one reaches.
    #[error(
        "in this batch, {reached_by}'s contribution to task {task} reaches consensus, so {worker}'s \
         after it would be refused: send the batch without the later contributions of this task"
    )]
    AfterConsensus {
        /// The task.
        task: B256,
        /// The worker whose contribution reaches consensus.
        reached_by: Address,
        /// The first worker whose contribution comes too late.
        worker: Address,
    },
    /// The deal has no callback consumer.
    #[error("deal {0} has no callback: there is no result to deliver")]
    NoCallback(B256),
    /// The task has no result waiting for its consumer.
    #[error(
        "task {task} has no result waiting for its callback: it was not settled by push_results \
         (finalize and contribute_and_finalize deliver at once), or it was delivered already"
    )]
    CallbackNotPending {
        /// The task.
        task: B256,
    },
    /// More callbacks than one transaction can give their full gas cap.
    #[error(
        "{tasks} callbacks of {per_task} gas each (the hub's callback gas cap and overhead) do \
         not fit one transaction of at most {max_gas} gas: deliver at most {fit} per call"
    )]
    TooManyCallbacks {
        /// Callbacks asked for.
        tasks: usize,
        /// Gas each needs.
        per_task: u64,
        /// Most gas a delivery transaction may ask for.
        max_gas: u64,
        /// How many fit.
        fit: usize,
    },
}
