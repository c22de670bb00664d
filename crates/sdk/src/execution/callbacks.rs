//! Delivering to a deal's consumer the results `pushResults` recorded (`deliverCallbacks`), and
//! [`PendingResults`], the sent batch whose receipt triggers those deliveries.
//!
//! `pushResults` calls no consumer, so that what a consumer does can never make a settlement
//! cost more or fail: it records each result of a callback deal and marks it pending. A
//! delivery is a transaction of its own, sent with every consumer's full gas cap
//! (`callbackGasLimit()`, plus the 1/64 EIP-150 keeps back and the call's cost) on top of the
//! estimate, since a consumer may burn its whole cap when mined and not when estimated, and the
//! hub reverts the whole delivery rather than give a consumer less than its cap.

use std::collections::HashSet;
use std::time::Duration;

use alloy::network::Ethereum;
use alloy::primitives::{TxHash, B256, U256};
use alloy::providers::{PendingTransactionBuilder, PendingTransactionError};
use alloy::rpc::types::TransactionReceipt;
use dexec_contracts::tx::{submit_with_gas_limit, with_margin};
use dexec_contracts::HubPoco;

use super::{DealRef, Refusal};
use crate::client::{Client, TxOutcome};
use crate::error::{contract, Error, Result};

/// Most gas the callbacks of one delivery transaction may be given together (half of a
/// 30,000,000-gas block, so that a delivery is mined beside other transactions).
pub const MAX_DELIVERY_GAS: u64 = 15_000_000;
/// Gas the hub wants left beyond a consumer's cap when it checks before the call (at most
/// 2,600 for the CALL to a cold account; `Settlement._callback`).
const CALL_COST: u64 = 3_000;

/// What one callback needs the transaction to carry for the consumer to get its whole `cap`:
/// the cap, the 1/64 of it EIP-150 keeps back, and the call's cost.
fn gas_per_callback(cap: u64) -> u64 {
    cap + cap / 63 + CALL_COST
}

/// One consumer call of a delivery (a `CallbackResult` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackCall {
    /// Absolute task index.
    pub index: u64,
    /// The task.
    pub task_id: B256,
    /// Whether the consumer returned without reverting (within its gas cap). Either way the
    /// result was delivered once and is no longer pending; the consumer may also read it with
    /// `resultFor(taskId)`.
    pub succeeded: bool,
}

/// A mined `deliverCallbacks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The transaction.
    pub tx: TxOutcome,
    /// Each consumer call, in the order of the indices.
    pub calls: Vec<CallbackCall>,
}

/// One delivery transaction sent after a batch settled: which tasks, and what became of it.
#[derive(Debug)]
pub struct CallbackDelivery {
    /// The tasks it delivered (or tried to).
    pub indices: Vec<u64>,
    /// The mined delivery, or why it failed: the tasks then stay pending, and anyone may
    /// deliver them later ([`Client::deliver_callbacks`]). The batch's settlement stands.
    pub result: Result<DeliveryReceipt>,
}

/// A mined `pushResults` and the callback deliveries that followed it (none for a deal without
/// callback, or when the batch reverted).
#[derive(Debug)]
pub struct PushedReceipt {
    /// The `pushResults` receipt.
    pub receipt: TransactionReceipt,
    /// The deliveries, in order; a failed one is information, not a failure of the batch.
    pub deliveries: Vec<CallbackDelivery>,
}

impl std::ops::Deref for PushedReceipt {
    type Target = TransactionReceipt;

    fn deref(&self) -> &TransactionReceipt {
        &self.receipt
    }
}

/// What [`Client::push_results`] returns: the batch's transaction and its deliveries.
#[derive(Debug)]
pub struct ResultsPushed {
    /// The `pushResults` transaction.
    pub tx: TxOutcome,
    /// The callback deliveries that followed it (see [`PushedReceipt::deliveries`]).
    pub deliveries: Vec<CallbackDelivery>,
}

/// A `pushResults` sent and not yet mined ([`Client::submit_results`]). Waiting for its
/// receipt ([`PendingResults::get_receipt`]) also delivers the results of a callback deal to
/// its consumer once the batch is mined and succeeded.
#[must_use = "a batch is settled only once mined: wait for its receipt"]
pub struct PendingResults {
    client: Client,
    deal: DealRef,
    /// Indices whose results the consumer awaits (empty for deals without callback).
    callbacks: Vec<u64>,
    timeout: Option<Duration>,
    pending: PendingTransactionBuilder<Ethereum>,
}

impl std::fmt::Debug for PendingResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingResults")
            .field("tx_hash", self.pending.tx_hash())
            .field("deal", &self.deal.deal_id())
            .field("callbacks", &self.callbacks.len())
            .finish_non_exhaustive()
    }
}

impl PendingResults {
    pub(super) fn new(
        client: Client,
        deal: DealRef,
        callbacks: Vec<u64>,
        pending: PendingTransactionBuilder<Ethereum>,
    ) -> Self {
        Self {
            client,
            deal,
            callbacks,
            timeout: None,
            pending,
        }
    }

    /// The `pushResults` transaction's hash.
    pub fn tx_hash(&self) -> &TxHash {
        self.pending.tx_hash()
    }

    /// Give up waiting for the batch (and for each delivery) after `timeout`.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pending = self.pending.with_timeout(timeout);
        self.timeout = timeout;
        self
    }

    /// Wait for the batch to be mined; if it succeeded and the deal has a callback, deliver
    /// its results in transactions of their own (as many tasks per transaction as
    /// [`MAX_DELIVERY_GAS`] gives full caps). An error is the batch's alone: a failed
    /// delivery is logged and reported in [`PushedReceipt::deliveries`].
    pub async fn get_receipt(self) -> Result<PushedReceipt, PendingTransactionError> {
        let receipt = self.pending.get_receipt().await?;
        let deliveries = if receipt.status() && !self.callbacks.is_empty() {
            self.client
                .deliver_settled(&self.deal, &self.callbacks, self.timeout)
                .await
        } else {
            Vec::new()
        };
        Ok(PushedReceipt {
            receipt,
            deliveries,
        })
    }
}

impl Client {
    /// Gas the hub gives each callback consumer (owner-set, 50,000 ..= 5,000,000).
    pub async fn callback_gas_limit(&self) -> Result<u64> {
        let cap = self
            .deployment()
            .poco(self.provider())
            .callbackGasLimit()
            .call()
            .await
            .map_err(contract)?;
        Ok(cap.saturating_to())
    }

    /// Whether task `index` of `deal` was settled by `pushResults` and its result still waits
    /// for [`Client::deliver_callbacks`].
    pub async fn is_callback_pending(&self, deal: &DealRef, index: u64) -> Result<bool> {
        deal.task(index)?;
        self.deployment()
            .poco(self.provider())
            .isCallbackPending(
                deal.deal_id(),
                U256::from(index),
                U256::from(deal.deal().bot_first),
            )
            .call()
            .await
            .map_err(contract)
    }

    /// Deliver the recorded results of tasks `indices` of `deal` (settled by `pushResults`)
    /// to its consumer in one transaction, each task once, each call with the consumer's full
    /// gas cap. Anyone may send it. Checked first: the deal has a callback, the indices are in
    /// its bag, each once, each pending, and their caps fit [`MAX_DELIVERY_GAS`].
    /// [`Client::submit_results`] calls it by itself after a batch; this is for deliveries that
    /// failed then, or batches sent by other means.
    pub async fn deliver_callbacks(
        &self,
        deal: &DealRef,
        indices: &[u64],
    ) -> Result<DeliveryReceipt> {
        self.address()?;
        if indices.is_empty() {
            return Err(Refusal::EmptyBatch.into());
        }
        if deal.deal().callback.is_zero() {
            return Err(Refusal::NoCallback(deal.deal_id()).into());
        }
        let mut seen = HashSet::new();
        for &index in indices {
            let task = deal.task(index)?;
            if !seen.insert(index) {
                return Err(Refusal::DuplicateIndex(index).into());
            }
            if !self.is_callback_pending(deal, index).await? {
                return Err(Refusal::CallbackNotPending {
                    task: task.task_id(),
                }
                .into());
            }
        }
        let cap = self.callback_gas_limit().await?;
        let per_task = gas_per_callback(cap);
        let fit = (MAX_DELIVERY_GAS / per_task).max(1) as usize;
        if indices.len() > fit {
            return Err(Refusal::TooManyCallbacks {
                tasks: indices.len(),
                per_task,
                max_gas: MAX_DELIVERY_GAS,
                fit,
            }
            .into());
        }
        self.deliver(deal, indices, cap, None).await
    }

    /// Deliver the callbacks of tasks a batch just settled, in as many transactions as their
    /// caps need; never fails: each delivery's outcome is logged and returned.
    async fn deliver_settled(
        &self,
        deal: &DealRef,
        indices: &[u64],
        timeout: Option<Duration>,
    ) -> Vec<CallbackDelivery> {
        let deal_id = deal.deal_id();
        let cap = match self.callback_gas_limit().await {
            Ok(cap) => cap,
            Err(e) => {
                tracing::warn!(target: "sdk::execution", deal = %deal_id, tasks = indices.len(), error = %e, "cannot read the callback gas cap: the results stay pending (deliver_callbacks can send them)");
                return vec![CallbackDelivery {
                    indices: indices.to_vec(),
                    result: Err(e),
                }];
            }
        };
        let fit = (MAX_DELIVERY_GAS / gas_per_callback(cap)).max(1) as usize;
        let mut deliveries = Vec::new();
        for chunk in indices.chunks(fit) {
            let result = self.deliver(deal, chunk, cap, timeout).await;
            match &result {
                Ok(delivered) => {
                    let refused = delivered.calls.iter().filter(|c| !c.succeeded).count();
                    tracing::debug!(target: "sdk::execution", deal = %deal_id, tasks = chunk.len(), refused, gas = delivered.tx.gas_used, "callbacks delivered");
                }
                Err(e) => {
                    tracing::warn!(target: "sdk::execution", deal = %deal_id, tasks = chunk.len(), error = %e, "callback delivery failed: the results stay pending (deliver_callbacks can send them again); the batch's settlement stands");
                }
            }
            deliveries.push(CallbackDelivery {
                indices: chunk.to_vec(),
                result,
            });
        }
        deliveries
    }

    /// One `deliverCallbacks` of `indices`: estimated (a refusal is decoded), then sent with
    /// the estimate's margin plus every consumer's full cap (`cap` each).
    async fn deliver(
        &self,
        deal: &DealRef,
        indices: &[u64],
        cap: u64,
        timeout: Option<Duration>,
    ) -> Result<DeliveryReceipt> {
        let hub = self.deployment().hub;
        let poco = self.deployment().poco(self.provider());
        let call = poco.deliverCallbacks(
            deal.encoded().clone(),
            deal.deal_id(),
            indices.iter().map(|i| U256::from(*i)).collect(),
        );
        let estimate = call.estimate_gas().await.map_err(contract)?;
        let gas = with_margin(estimate) + indices.len() as u64 * gas_per_callback(cap);
        let pending = submit_with_gas_limit(&call, gas).await?;
        let receipt = pending
            .with_timeout(timeout)
            .get_receipt()
            .await
            .map_err(contract)?;
        if !receipt.status() {
            return Err(Error::Contract(dexec_contracts::Error::Failed(
                receipt.transaction_hash,
            )));
        }
        let tasks: Vec<(u64, B256)> = indices
            .iter()
            .map(|&i| (i, dexec_primitives::task_id(deal.deal_id(), i)))
            .collect();
        let calls = receipt
            .logs()
            .iter()
            .filter(|log| log.address() == hub)
            .filter_map(|log| log.log_decode::<HubPoco::CallbackResult>().ok())
            .filter_map(|log| {
                let event = log.inner.data;
                let (index, task_id) = *tasks.iter().find(|(_, id)| *id == event.taskId)?;
                Some(CallbackCall {
                    index,
                    task_id,
                    succeeded: event.success,
                })
            })
            .collect();
        tracing::debug!(target: "sdk::execution", deal = %deal.deal_id(), tasks = indices.len(), gas_limit = gas, gas = receipt.gas_used, "deliverCallbacks mined");
        Ok(DeliveryReceipt {
            tx: TxOutcome::from(&receipt),
            calls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_carries_each_cap_and_its_sixty_fourth() {
        // the default cap: 200,000 + 3,174 + 3,000
        assert_eq!(gas_per_callback(200_000), 206_174);
        // the hub's bounds: 72 default callbacks per delivery, 2 at the largest cap
        assert_eq!(MAX_DELIVERY_GAS / gas_per_callback(200_000), 72);
        assert_eq!(MAX_DELIVERY_GAS / gas_per_callback(5_000_000), 2);
    }
}
