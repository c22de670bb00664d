//! Deals and tasks as the chain knows them.
//!
//! The hub stores one word per deal (a commitment) and emits its terms in `DealCreated`, so a
//! deal is read from that event. A task's state combines the hub's task record (replicated
//! tasks), its `TaskFinalize` / `TaskClaimed` events (every settlement path emits one) and
//! the clock against its deadlines.

use alloy::primitives::{Address, Bytes, B256};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use dexec_contracts::Hub;
use dexec_primitives::deal::Deal;
use dexec_primitives::task_id;
use serde::Serialize;

use crate::client::Client;
use crate::error::{contract, Error, Result};
use crate::events::{fetch, HubEvent, HubLog};

/// A deal and where it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DealInfo {
    /// The deal id.
    pub deal_id: B256,
    /// Its terms.
    pub deal: Deal,
    /// The packed terms, as execution calls pass them back to the hub.
    pub encoded: Bytes,
    /// Hashes of the app, dataset (zero without), workerpool and request orders.
    pub order_hashes: [B256; 4],
    /// Who receives the results.
    pub beneficiary: Address,
    /// The request's params (JSON with `iexec_args`, `iexec_input_files`, …).
    pub params: String,
    /// Block of the match.
    pub block: u64,
    /// Transaction of the match.
    pub tx_hash: B256,
    /// Ids of its tasks, in index order.
    pub tasks: Vec<B256>,
}

impl DealInfo {
    /// Build from a `DealCreated` log (`None` for any other event).
    pub fn from_log(log: &HubLog) -> Option<Self> {
        let HubEvent::DealCreated {
            deal_id,
            deal,
            encoded,
            order_hashes,
            beneficiary,
            params,
        } = &log.event
        else {
            return None;
        };
        Some(Self {
            deal_id: *deal_id,
            tasks: deal.task_indices().map(|i| task_id(*deal_id, i)).collect(),
            deal: deal.clone(),
            encoded: encoded.clone(),
            order_hashes: *order_hashes,
            beneficiary: *beneficiary,
            params: params.clone(),
            block: log.block,
            tx_hash: log.tx_hash,
        })
    }

    /// Unix time after which workers can no longer contribute
    /// ([`Deal::contribution_deadline`]).
    pub fn contribution_deadline(&self) -> u64 {
        self.deal.contribution_deadline()
    }

    /// Unix time after which unfinished tasks can be claimed, the payer refunded
    /// ([`Deal::final_deadline`]).
    pub fn final_deadline(&self) -> u64 {
        self.deal.final_deadline()
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskStatus {
    /// Nobody contributed yet.
    Unset,
    /// Contributions are arriving.
    Active,
    /// Consensus reached; contributors are revealing.
    Revealing,
    /// Finalized: the result is agreed and paid for.
    Completed,
    /// Claimed after its final deadline: the payer was refunded.
    Failed,
    /// Past its final deadline and not settled: anyone can claim it ([`Client::claim`],
    /// `dexec task claim`).
    Timeout,
}

impl TaskStatus {
    /// True once nothing more will happen to the task.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        f.write_str(&name)
    }
}

/// The result of a completed task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    /// The agreed result digest.
    pub digest: B256,
    /// The results link as stored on chain (JSON `{"storage","location"}`).
    pub results: Bytes,
    /// Block of finalization.
    pub block: u64,
    /// Transaction of finalization.
    pub tx_hash: B256,
}

impl TaskResult {
    /// The results link parsed as JSON, if it is JSON.
    pub fn link(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.results).ok()
    }
}

/// A task's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInfo {
    /// The task id.
    pub task_id: B256,
    /// Its deal.
    pub deal_id: B256,
    /// Its index in the request's bag of tasks.
    pub index: u64,
    /// Where it is.
    pub status: TaskStatus,
    /// Workers who contributed (replicated tasks).
    pub contributors: u8,
    /// Workers who revealed.
    pub reveals: u8,
    /// The winning result hash, once consensus is reached.
    pub consensus: Option<B256>,
    /// Unix time by which contributions must arrive.
    pub contribution_deadline: u64,
    /// Unix time by which winners must reveal (once consensus is reached).
    pub reveal_deadline: Option<u64>,
    /// Unix time after which the task can be claimed.
    pub final_deadline: u64,
    /// The result, once completed.
    pub result: Option<TaskResult>,
}

impl Client {
    /// The deal `deal_id`, from its `DealCreated` event.
    pub async fn deal(&self, deal_id: B256) -> Result<DealInfo> {
        let head = self.block_number().await?;
        let filter = Filter::new()
            .event_signature(Hub::DealCreated::SIGNATURE_HASH)
            .topic1(deal_id);
        fetch(self, filter, 0, head)
            .await?
            .iter()
            .find_map(DealInfo::from_log)
            .ok_or(Error::DealNotFound(deal_id))
    }

    /// The deal containing task `task_id`, searched among deals made since `from_block`.
    ///
    /// The hub does not map tasks to deals (ids are derived), so this scans `DealCreated`
    /// events; give the deal id when you have it.
    pub async fn deal_of_task(&self, task: B256, from_block: u64) -> Result<Option<DealInfo>> {
        let head = self.block_number().await?;
        let filter = Filter::new().event_signature(Hub::DealCreated::SIGNATURE_HASH);
        Ok(fetch(self, filter, from_block, head)
            .await?
            .iter()
            .filter_map(DealInfo::from_log)
            .find(|deal| deal.tasks.contains(&task)))
    }

    /// Every hub event about task `task_id` of `deal` (contributions, consensus, reveals,
    /// reopens, judgements, finalization or claim), oldest first.
    pub async fn task_events(&self, deal: &DealInfo, task_id: B256) -> Result<Vec<HubLog>> {
        let head = self.block_number().await?;
        fetch(self, Filter::new().topic1(task_id), deal.block, head).await
    }

    /// Task `index` (absolute in the bag) of `deal`.
    pub async fn task(&self, deal: &DealInfo, index: u64) -> Result<TaskInfo> {
        let id = task_id(deal.deal_id, index);
        let view = self
            .deployment()
            .poco(self.provider())
            .viewTask(id)
            .call()
            .await
            .map_err(contract)?;
        let head = self.block_number().await?;
        let filter = Filter::new().topic1(id);
        let logs = fetch(self, filter, deal.block, head).await?;
        let mut result = None;
        let mut claimed = false;
        for log in &logs {
            match &log.event {
                HubEvent::TaskFinalize {
                    task_id,
                    digest,
                    results,
                    ..
                } if *task_id == id => {
                    result = Some(TaskResult {
                        digest: *digest,
                        results: results.clone(),
                        block: log.block,
                        tx_hash: log.tx_hash,
                    });
                }
                HubEvent::TaskClaimed { task_id, .. } if *task_id == id => claimed = true,
                _ => {}
            }
        }
        let final_deadline = deal.final_deadline();
        let status = if result.is_some() {
            TaskStatus::Completed
        } else if claimed {
            TaskStatus::Failed
        } else if self.now().await? >= final_deadline {
            TaskStatus::Timeout
        } else {
            match view.status {
                1 => TaskStatus::Active,
                2 => TaskStatus::Revealing,
                _ => TaskStatus::Unset,
            }
        };
        Ok(TaskInfo {
            task_id: id,
            deal_id: deal.deal_id,
            index,
            status,
            contributors: view.contributors,
            reveals: view.reveals,
            consensus: (view.consensus != B256::ZERO).then_some(view.consensus),
            contribution_deadline: deal.contribution_deadline(),
            reveal_deadline: (view.revealDeadline.to::<u64>() != 0)
                .then(|| view.revealDeadline.to::<u64>()),
            final_deadline,
            result,
        })
    }
}
