//! The execution side of the hub: what workers and schedulers send once a deal exists
//! (contribute, or sign a contribution for the scheduler's batch, reveal,
//! contribute-and-finalize, contribute batch, finalize, reopen, push results and deliver their
//! callbacks, claim).
//!
//! Every call first reads the task's state on chain (its deal's commitment, the task record,
//! the contribution, the clock against the deadlines) and refuses with a sentence
//! ([`Refusal`]) instead of sending a transaction the hub would revert; a refusal found only
//! at gas estimation is decoded from the hub's custom error. The vote hashes, the
//! authorization and contribution digests, the deadlines and who may reveal, win or keep a
//! stake are the rules of [`dexec_primitives::poco`].
//!
//! - [`DealRef`], [`TaskRef`]: a deal and a task as the calls name them.
//! - `work`: the workers' calls and views ([`Client::sign_contribution`] included);
//!   `settle`: the scheduler's and anyone's; `batch`: the scheduler's batch of signed
//!   contributions; `callbacks`: delivering the results a batch settled to the deal's consumer;
//!   `checks`: the reads and checks before sending; [`Refusal`]: what they say.

mod batch;
mod callbacks;
mod checks;
mod refusal;
mod settle;
mod work;

pub use callbacks::{
    CallbackCall, CallbackDelivery, DeliveryReceipt, PendingResults, PushedReceipt, ResultsPushed,
};

use alloy::primitives::{Address, Bytes, B256};
use dexec_primitives::deal::Deal;
use dexec_primitives::task_id;

use crate::deals::DealInfo;
use crate::error::{Error, Result};

pub use refusal::Refusal;

/// A deal as execution calls name it: its id and its packed terms, exactly as the hub
/// committed to them (the hub stores only a commitment; every call passes the terms back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealRef {
    deal_id: B256,
    encoded: Bytes,
    deal: Deal,
    block: u64,
}

impl DealRef {
    /// From the deal's id and packed terms (the `deal` bytes of `DealCreated`), and the block
    /// of the match (where event scans start; 0 when unknown).
    pub fn new(deal_id: B256, encoded: Bytes, block: u64) -> Result<Self> {
        let deal = Deal::decode(&encoded).map_err(|e| Error::Decode(e.to_string()))?;
        Ok(Self {
            deal_id,
            encoded,
            deal,
            block,
        })
    }

    /// The deal's id.
    pub fn deal_id(&self) -> B256 {
        self.deal_id
    }

    /// Its terms.
    pub fn deal(&self) -> &Deal {
        &self.deal
    }

    /// Its packed terms.
    pub fn encoded(&self) -> &Bytes {
        &self.encoded
    }

    /// Block of the match (0 when unknown).
    pub fn block(&self) -> u64 {
        self.block
    }

    /// Task `index` (absolute in the request's bag) of this deal, or a refusal when the deal
    /// has no such task.
    pub fn task(&self, index: u64) -> Result<TaskRef> {
        if !self.deal.task_indices().contains(&index) {
            return Err(Refusal::IndexOutOfRange {
                deal_id: self.deal_id,
                index,
                first: u64::from(self.deal.bot_first),
                end: self.deal.task_indices().end,
            }
            .into());
        }
        Ok(TaskRef {
            task_id: task_id(self.deal_id, index),
            deal: self.clone(),
            index,
        })
    }
}

impl From<&DealInfo> for DealRef {
    fn from(info: &DealInfo) -> Self {
        Self {
            deal_id: info.deal_id,
            encoded: info.encoded.clone(),
            deal: info.deal.clone(),
            block: info.block,
        }
    }
}

/// A task as execution calls name it: its deal and its index in the request's bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRef {
    deal: DealRef,
    index: u64,
    task_id: B256,
}

impl TaskRef {
    /// Task `index` of the deal `deal_id` whose packed terms are `encoded` (a worker's
    /// assignment carries these three).
    pub fn new(deal_id: B256, encoded: Bytes, index: u64) -> Result<Self> {
        DealRef::new(deal_id, encoded, 0)?.task(index)
    }

    /// Its deal.
    pub fn deal(&self) -> &DealRef {
        &self.deal
    }

    /// Its absolute index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Its id, `keccak256(dealId ‖ index)`.
    pub fn task_id(&self) -> B256 {
        self.task_id
    }
}

/// An enclave's part of a TEE result: its address (the enclave challenge the authorization
/// names) and its EIP-191 signature of `keccak256(resultHash ‖ resultSeal)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnclaveProof {
    /// The enclave's address.
    pub challenge: Address,
    /// Its signature.
    pub sign: Bytes,
}

/// One worker's contribution to a replicated task, signed by the worker so that its scheduler
/// may send it with others in one transaction ([`Client::contribute_batch`]). The worker makes
/// it with [`Client::sign_contribution`]; it is checked and counted as if the worker had sent
/// [`Client::contribute`] (its stake is locked from its own balance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedContribution {
    /// Absolute task index.
    pub index: u64,
    /// The worker who votes (and stakes).
    pub worker: Address,
    /// Its vote, [`dexec_primitives::poco::result_hash`].
    pub result_hash: B256,
    /// Its seal, [`dexec_primitives::poco::result_seal`] with its own address.
    pub result_seal: B256,
    /// TEE deals: the enclave's proof.
    pub enclave: Option<EnclaveProof>,
    /// TEE deals when the hub has a TEE broker: the broker's authorization of (worker, task,
    /// enclave); empty otherwise (the scheduler sending the batch is the authorization).
    pub authorization: Bytes,
    /// The worker's EIP-191 signature of
    /// [`contribution_hash`](dexec_primitives::poco::contribution_hash).
    pub sign: Bytes,
}

/// One trust-1 task of a [`Client::push_results`] batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedResult {
    /// Absolute task index.
    pub index: u64,
    /// The worker who computed it (paid its reward).
    pub worker: Address,
    /// The result digest.
    pub digest: B256,
    /// The results link (emitted in `TaskFinalize`).
    pub results: Bytes,
    /// Callback data (its keccak256 is the digest for deals with a callback; empty otherwise).
    pub callback: Bytes,
    /// TEE deals: the enclave's proof.
    pub enclave: Option<EnclaveProof>,
    /// TEE deals with a TEE broker: the broker's authorization of (worker, task, enclave).
    pub authorization: Bytes,
}
