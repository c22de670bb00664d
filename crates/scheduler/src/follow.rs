//! Following the hub's events from a persisted block, with a confirmation depth.
//!
//! Like [`dexec_sdk::EventFollower`], but decoding the execution events itself:
//! `dexec_sdk::events::decode` tries the `Hub` ABI first, which also declares the execution
//! events (`TaskContribute`, `TaskConsensus`, `TaskReveal`, `TaskReopen`, `TaskClaimed`),
//! and then drops them, so the SDK's follower never yields them. Until that is fixed there,
//! the scheduler decodes them with the `HubPoco` ABI.

use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEventInterface;
use dexec_contracts::HubPoco;
use dexec_sdk::{Client, HubEvent};

use crate::error::Result;

/// A decoded event and its block.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub block: u64,
    pub event: HubEvent,
}

/// Follows the hub's events `confirmations` blocks behind the head.
#[derive(Debug)]
pub(crate) struct Follower {
    client: Client,
    next: u64,
    confirmations: u64,
    max_range: u64,
}

impl Follower {
    pub fn new(client: Client, from_block: u64, confirmations: u64) -> Self {
        Self {
            client,
            next: from_block,
            confirmations,
            max_range: 2_000,
        }
    }

    /// The first block not yet returned (persist it after processing a batch).
    pub fn next_block(&self) -> u64 {
        self.next
    }

    /// Events of the next confirmed block range; empty when there is none. On an RPC error
    /// nothing is consumed.
    pub async fn poll(&mut self) -> Result<Vec<Event>> {
        let head = self.client.block_number().await?;
        let Some(safe) = head.checked_sub(self.confirmations) else {
            return Ok(Vec::new());
        };
        if safe < self.next {
            return Ok(Vec::new());
        }
        let to = safe.min(self.next.saturating_add(self.max_range - 1));
        let filter = Filter::new()
            .address(self.client.deployment().hub)
            .from_block(self.next)
            .to_block(to);
        let logs = self
            .client
            .provider()
            .get_logs(&filter)
            .await
            .map_err(dexec_sdk::Error::from)?;
        self.next = to + 1;
        let deployment = *self.client.deployment();
        Ok(logs
            .iter()
            .filter_map(|log| {
                let event = decode_execution(log)
                    .or_else(|| dexec_sdk::events::decode(&deployment, log))?;
                Some(Event {
                    block: log.block_number?,
                    event,
                })
            })
            .collect())
    }
}

/// The execution events the scheduler acts on, by the `HubPoco` ABI.
fn decode_execution(log: &Log) -> Option<HubEvent> {
    use HubPoco::HubPocoEvents as E;
    Some(
        match HubPoco::HubPocoEvents::decode_log(&log.inner).ok()?.data {
            E::TaskContribute(e) => HubEvent::TaskContribute {
                task_id: e.taskId,
                worker: e.worker,
                result_hash: e.resultHash,
            },
            E::TaskConsensus(e) => HubEvent::TaskConsensus {
                task_id: e.taskId,
                consensus: e.consensus,
            },
            E::TaskReveal(e) => HubEvent::TaskReveal {
                task_id: e.taskId,
                worker: e.worker,
                digest: e.resultDigest,
            },
            E::TaskReopen(e) => HubEvent::TaskReopen { task_id: e.taskId },
            E::TaskClaimed(e) => HubEvent::TaskClaimed {
                task_id: e.taskId,
                deal_id: e.dealId,
                index: e.index.saturating_to(),
            },
            _ => return None,
        },
    )
}
