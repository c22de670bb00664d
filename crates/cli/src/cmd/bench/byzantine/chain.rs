//! What `dexec bench byzantine` reads from the chain: the hub's events of the run, the hub
//! accounts and the hub's holdings at one moment, and the gas of the hub's transactions.

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy::consensus::Transaction as _;
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use dexec_contracts::{Hub, HubPoco};
use dexec_sdk::{Client, HubEvent};
use eyre::eyre;
use serde::Serialize;

/// Everything the hub's events said during the run.
#[derive(Default)]
pub(super) struct Ledger {
    /// task → its bag.
    pub(super) bag_of: HashMap<B256, usize>,
    /// task → (worker, result hash), in contribution order.
    pub(super) contributions: HashMap<B256, Vec<(Address, B256)>>,
    /// (task, worker) → judged accurate.
    pub(super) judged: HashMap<(B256, Address), bool>,
    /// task → finalized digest.
    pub(super) finalized: HashMap<B256, B256>,
    /// Tasks claimed past their final deadline.
    pub(super) claimed: HashSet<B256>,
    /// `TaskReopen` events (consensus that nobody revealed).
    pub(super) reopened: u64,
}

impl Ledger {
    /// Take one event of the run into account.
    pub(super) fn record(&mut self, event: HubEvent) {
        match event {
            HubEvent::TaskContribute {
                task_id,
                worker,
                result_hash,
            } => self
                .contributions
                .entry(task_id)
                .or_default()
                .push((worker, result_hash)),
            HubEvent::ContributionJudged {
                task_id,
                worker,
                accurate,
            } => {
                self.judged.insert((task_id, worker), accurate);
            }
            HubEvent::TaskFinalize {
                task_id, digest, ..
            } => {
                self.finalized.insert(task_id, digest);
            }
            HubEvent::TaskClaimed { task_id, .. } => {
                self.claimed.insert(task_id);
            }
            HubEvent::TaskReopen { .. } => self.reopened += 1,
            _ => {}
        }
    }

    /// Whether `task` was finalized or claimed.
    pub(super) fn is_final(&self, task: &B256) -> bool {
        self.finalized.contains_key(task) || self.claimed.contains(task)
    }
}

/// What each dev account and the hub hold at one moment.
pub(super) struct Snapshot {
    /// account → (free, locked, score).
    pub(super) accounts: BTreeMap<Address, (u128, u128, u64)>,
    /// Stakes seized on claims (held by the hub, nobody's).
    pub(super) kitty: u128,
    /// The hub's own count of what it holds (`totalHeld`).
    pub(super) total_held: u128,
    /// The hub's balance of the token.
    pub(super) hub_tokens: u128,
}

impl Snapshot {
    /// Read every account of `accounts` and the hub's holdings.
    pub(super) async fn take(client: &Client, accounts: &[Address]) -> eyre::Result<Self> {
        let mut held = BTreeMap::new();
        for who in accounts {
            let a = client.account(*who).await?;
            held.insert(*who, (a.hub_balance.0, a.hub_locked.0, a.score));
        }
        let d = client.deployment();
        let total_held = d.hub(client.provider()).totalHeld().call().await?;
        let hub_tokens = d.token(client.provider()).balanceOf(d.hub).call().await?;
        Ok(Self {
            accounts: held,
            kitty: client.kitty().await?.0,
            total_held: total_held.try_into()?,
            hub_tokens: hub_tokens.try_into()?,
        })
    }

    /// The dev accounts' free and locked balances, and the kitty.
    pub(super) fn on_hub(&self) -> u128 {
        self.kitty
            + self
                .accounts
                .values()
                .map(|(free, locked, _)| free + locked)
                .sum::<u128>()
    }

    /// Free plus locked balance of `who` (signed, for differences).
    pub(super) fn holding(&self, who: &Address) -> i128 {
        self.accounts
            .get(who)
            .map_or(0, |(free, locked, _)| (free + locked) as i128)
    }

    /// Reputation score of `who`.
    pub(super) fn score(&self, who: &Address) -> u64 {
        self.accounts.get(who).map_or(0, |(_, _, score)| *score)
    }
}

/// Gas of the hub's transactions over a block range.
#[derive(Default, Serialize)]
pub(super) struct Gas {
    /// Gas of every transaction sent to the hub.
    pub(super) total: u64,
    /// Those transactions.
    pub(super) transactions: u64,
    /// Those of them that reverted.
    pub(super) reverted: u64,
    /// By function called.
    pub(super) by_function: BTreeMap<&'static str, FunctionGas>,
    /// Transactions of the range sent elsewhere (none expected).
    pub(super) other_transactions: u64,
}

/// The hub's transactions calling one function.
#[derive(Default, Serialize)]
pub(super) struct FunctionGas {
    pub(super) transactions: u64,
    pub(super) gas: u64,
    pub(super) reverted: u64,
    /// Most of these transactions in one block (a sender that waits for each receipt
    /// before the next sends at most one per block).
    pub(super) max_per_block: u64,
}

/// Sum the receipts of the hub's transactions in blocks `from..=to`.
pub(super) async fn gas_between(client: &Client, from: u64, to: u64) -> eyre::Result<Gas> {
    let names: HashMap<[u8; 4], &'static str> = [
        (Hub::matchOrdersCall::SELECTOR, "matchOrders"),
        (
            Hub::contributeAndFinalizeCall::SELECTOR,
            "contributeAndFinalize",
        ),
        (HubPoco::contributeCall::SELECTOR, "contribute"),
        (HubPoco::contributeBatchCall::SELECTOR, "contributeBatch"),
        (HubPoco::revealCall::SELECTOR, "reveal"),
        (HubPoco::finalizeCall::SELECTOR, "finalize"),
        (HubPoco::reopenCall::SELECTOR, "reopen"),
        (HubPoco::pushResultsCall::SELECTOR, "pushResults"),
        (HubPoco::claimCall::SELECTOR, "claim"),
        (HubPoco::claimBatchCall::SELECTOR, "claimBatch"),
    ]
    .into();
    let hub = client.deployment().hub;
    let provider = client.provider();
    let mut gas = Gas::default();
    for number in from..=to {
        let block = provider
            .get_block_by_number(number.into())
            .full()
            .await?
            .ok_or_else(|| eyre!("block {number} is missing"))?;
        let receipts = provider
            .get_block_receipts(number.into())
            .await?
            .unwrap_or_default();
        let receipts: HashMap<B256, (u64, bool)> = receipts
            .iter()
            .map(|r| (r.transaction_hash, (r.gas_used, r.status())))
            .collect();
        let mut in_block: HashMap<&'static str, u64> = HashMap::new();
        for tx in block.transactions.txns() {
            if tx.to() != Some(hub) {
                gas.other_transactions += 1;
                continue;
            }
            let hash = *tx.inner.tx_hash();
            let (used, ok) = receipts
                .get(&hash)
                .copied()
                .ok_or_else(|| eyre!("no receipt for {hash}"))?;
            let name = tx
                .input()
                .get(..4)
                .and_then(|s| names.get(s).copied())
                .unwrap_or("other");
            let entry = gas.by_function.entry(name).or_default();
            entry.transactions += 1;
            entry.gas += used;
            entry.reverted += u64::from(!ok);
            let here = in_block.entry(name).or_default();
            *here += 1;
            entry.max_per_block = entry.max_per_block.max(*here);
            gas.total += used;
            gas.transactions += 1;
            gas.reverted += u64::from(!ok);
        }
    }
    Ok(gas)
}
