//! Hub events, decoded, and [`EventFollower`], which follows them block range by block range
//! with a confirmation depth, resumable from the last block it processed.

use alloy::primitives::{Address, Bytes, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEventInterface;
use dexec_contracts::{AppRegistry, Deployment, Hub, HubPoco};
use dexec_primitives::deal::Deal;
use dexec_primitives::Nrlc;
use serde::Serialize;

use crate::assets::AssetKind;
use crate::client::Client;
use crate::error::Result;
use crate::orders::OrderKind;

/// An event of the hub or of a registry, decoded.
// DealCreated carries the whole deal (~400 bytes): events are handled one at a time and
// boxing it would only complicate every consumer's pattern.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum HubEvent {
    /// Orders matched into a deal.
    DealCreated {
        /// The deal id.
        deal_id: B256,
        /// Its terms.
        deal: Deal,
        /// The packed deal (what execution calls pass back to the hub).
        encoded: Bytes,
        /// Hashes of the matched orders (zero dataset hash without dataset).
        order_hashes: [B256; 4],
        /// Who receives the results.
        beneficiary: Address,
        /// The request's params (JSON).
        params: String,
    },
    /// An order was presigned on chain.
    OrderSigned {
        /// Kind of order.
        kind: OrderKind,
        /// Its hash.
        hash: B256,
        /// Its owner.
        owner: Address,
    },
    /// An order was cancelled.
    OrderClosed {
        /// Kind of order.
        kind: OrderKind,
        /// Its hash.
        hash: B256,
        /// Its owner.
        owner: Address,
    },
    /// Tokens entered the hub.
    Deposit {
        /// Who paid.
        from: Address,
        /// Whose account was credited.
        to: Address,
        /// How much.
        amount: Nrlc,
    },
    /// Tokens left the hub.
    Withdraw {
        /// Whose account was debited.
        from: Address,
        /// Who received them.
        to: Address,
        /// How much.
        amount: Nrlc,
    },
    /// A worker committed to a result.
    TaskContribute {
        /// The task.
        task_id: B256,
        /// The worker.
        worker: Address,
        /// Its commitment.
        result_hash: B256,
    },
    /// A task reached consensus; contributors of `consensus` must reveal.
    TaskConsensus {
        /// The task.
        task_id: B256,
        /// The winning result hash.
        consensus: B256,
    },
    /// A worker revealed its digest.
    TaskReveal {
        /// The task.
        task_id: B256,
        /// The worker.
        worker: Address,
        /// The revealed digest.
        digest: B256,
    },
    /// A task went back to contributions (nobody revealed in time).
    TaskReopen {
        /// The task.
        task_id: B256,
    },
    /// A task completed.
    TaskFinalize {
        /// The task.
        task_id: B256,
        /// Its deal.
        deal_id: B256,
        /// Its index in the bag.
        index: u64,
        /// The agreed result digest.
        digest: B256,
        /// The results link (JSON `{"storage", "location"}`).
        results: Bytes,
    },
    /// A task past its final deadline was claimed (payer refunded).
    TaskClaimed {
        /// The task.
        task_id: B256,
        /// Its deal.
        deal_id: B256,
        /// Its index in the bag.
        index: u64,
    },
    /// A contribution was judged at finalization.
    ContributionJudged {
        /// The task.
        task_id: B256,
        /// The worker.
        worker: Address,
        /// True if it agreed with consensus (rewarded), false if slashed.
        accurate: bool,
    },
    /// An asset changed hands (or was created: `from` is zero).
    AssetTransfer {
        /// Kind of asset.
        kind: AssetKind,
        /// The asset.
        asset: Address,
        /// Previous owner.
        from: Address,
        /// New owner.
        to: Address,
    },
}

/// A decoded event and where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubLog {
    /// Block number.
    pub block: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Position of the log in its block.
    pub log_index: u64,
    /// The event.
    #[serde(flatten)]
    pub event: HubEvent,
}

/// Decode a log of the hub or of one of its registries; `None` for events dexec's services
/// do not act on (approvals, categories, admin changes, …).
pub fn decode(deployment: &Deployment, log: &Log) -> Option<HubEvent> {
    let address = log.address();
    let data = &log.inner;
    if address == deployment.hub {
        // the hub's ABI also declares the execution events (shared Settlement base): those
        // decode_hub leaves to the module's decoder below
        if let Some(event) = Hub::HubEvents::decode_log(data)
            .ok()
            .and_then(|e| decode_hub(e.data))
        {
            return Some(event);
        }
        return HubPoco::HubPocoEvents::decode_log(data)
            .ok()
            .and_then(|e| decode_poco(e.data));
    }
    let kind = if address == deployment.app_registry {
        AssetKind::App
    } else if address == deployment.dataset_registry {
        AssetKind::Dataset
    } else if address == deployment.workerpool_registry {
        AssetKind::Workerpool
    } else {
        return None;
    };
    // the three registries share the ERC-721 Transfer event
    let transfer = log.log_decode::<AppRegistry::Transfer>().ok()?.inner.data;
    Some(HubEvent::AssetTransfer {
        kind,
        asset: Address::from_word(transfer.tokenId.into()),
        from: transfer.from,
        to: transfer.to,
    })
}

fn decode_hub(event: Hub::HubEvents) -> Option<HubEvent> {
    use Hub::HubEvents as E;
    let signed = |kind, hash, owner| Some(HubEvent::OrderSigned { kind, hash, owner });
    let closed = |kind, hash, owner| Some(HubEvent::OrderClosed { kind, hash, owner });
    match event {
        E::DealCreated(e) => Some(HubEvent::DealCreated {
            deal_id: e.dealId,
            deal: Deal::decode(&e.deal).ok()?,
            encoded: e.deal,
            order_hashes: [
                e.appOrderHash,
                e.datasetOrderHash,
                e.workerpoolOrderHash,
                e.requestOrderHash,
            ],
            beneficiary: e.beneficiary,
            params: e.params,
        }),
        E::AppOrderSigned(e) => signed(OrderKind::App, e.orderHash, e.owner),
        E::DatasetOrderSigned(e) => signed(OrderKind::Dataset, e.orderHash, e.owner),
        E::WorkerpoolOrderSigned(e) => signed(OrderKind::Workerpool, e.orderHash, e.owner),
        E::RequestOrderSigned(e) => signed(OrderKind::Request, e.orderHash, e.owner),
        E::AppOrderClosed(e) => closed(OrderKind::App, e.orderHash, e.owner),
        E::DatasetOrderClosed(e) => closed(OrderKind::Dataset, e.orderHash, e.owner),
        E::WorkerpoolOrderClosed(e) => closed(OrderKind::Workerpool, e.orderHash, e.owner),
        E::RequestOrderClosed(e) => closed(OrderKind::Request, e.orderHash, e.owner),
        E::Deposit(e) => Some(HubEvent::Deposit {
            from: e.from,
            to: e.to,
            amount: Nrlc::try_from(e.amount).ok()?,
        }),
        E::Withdraw(e) => Some(HubEvent::Withdraw {
            from: e.from,
            to: e.to,
            amount: Nrlc::try_from(e.amount).ok()?,
        }),
        E::TaskFinalize(e) => Some(HubEvent::TaskFinalize {
            task_id: e.taskId,
            deal_id: e.dealId,
            index: e.index.saturating_to(),
            digest: e.resultDigest,
            results: e.results,
        }),
        _ => None,
    }
}

fn decode_poco(event: HubPoco::HubPocoEvents) -> Option<HubEvent> {
    use HubPoco::HubPocoEvents as E;
    match event {
        E::TaskContribute(e) => Some(HubEvent::TaskContribute {
            task_id: e.taskId,
            worker: e.worker,
            result_hash: e.resultHash,
        }),
        E::TaskConsensus(e) => Some(HubEvent::TaskConsensus {
            task_id: e.taskId,
            consensus: e.consensus,
        }),
        E::TaskReveal(e) => Some(HubEvent::TaskReveal {
            task_id: e.taskId,
            worker: e.worker,
            digest: e.resultDigest,
        }),
        E::TaskReopen(e) => Some(HubEvent::TaskReopen { task_id: e.taskId }),
        E::TaskFinalize(e) => Some(HubEvent::TaskFinalize {
            task_id: e.taskId,
            deal_id: e.dealId,
            index: e.index.saturating_to(),
            digest: e.resultDigest,
            results: e.results,
        }),
        E::TaskClaimed(e) => Some(HubEvent::TaskClaimed {
            task_id: e.taskId,
            deal_id: e.dealId,
            index: e.index.saturating_to(),
        }),
        E::AccurateContribution(e) => Some(HubEvent::ContributionJudged {
            task_id: e.taskId,
            worker: e.worker,
            accurate: true,
        }),
        E::FaultyContribution(e) => Some(HubEvent::ContributionJudged {
            task_id: e.taskId,
            worker: e.worker,
            accurate: false,
        }),
        _ => None,
    }
}

/// Follows hub and registry events in order, `confirmations` blocks behind the head.
///
/// [`EventFollower::next_block`] is the first block not yet returned: persist it after
/// processing a batch and resume from it after a restart, and no event is lost or seen twice
/// (reorgs deeper than the confirmation depth excepted).
#[derive(Debug, Clone)]
pub struct EventFollower {
    client: Client,
    next: u64,
    confirmations: u64,
    max_range: u64,
    head: Option<u64>,
}

impl EventFollower {
    /// Follow from `from_block` (inclusive) with no confirmation depth.
    pub fn new(client: Client, from_block: u64) -> Self {
        Self {
            client,
            next: from_block,
            confirmations: 0,
            max_range: 5_000,
            head: None,
        }
    }

    /// Only return events at least `confirmations` blocks deep (0: up to the head).
    pub fn confirmations(mut self, confirmations: u64) -> Self {
        self.confirmations = confirmations;
        self
    }

    /// At most `blocks` blocks per `eth_getLogs` request (nodes cap ranges).
    pub fn max_range(mut self, blocks: u64) -> Self {
        self.max_range = blocks.max(1);
        self
    }

    /// The first block not yet returned.
    pub fn next_block(&self) -> u64 {
        self.next
    }

    /// The chain's head at the last poll (none before the first).
    pub fn head(&self) -> Option<u64> {
        self.head
    }

    /// Blocks at or below the head not processed yet (the confirmation depth included): 0
    /// when every block up to the head was returned.
    pub fn lag(&self) -> Option<u64> {
        self.head.map(|head| (head + 1).saturating_sub(self.next))
    }

    /// Events of the next confirmed block range (empty when there is no new confirmed block).
    /// On an RPC error nothing is consumed: call again.
    pub async fn poll(&mut self) -> Result<Vec<HubLog>> {
        let head = self.client.block_number().await?;
        self.head = Some(head);
        let Some(safe) = head.checked_sub(self.confirmations) else {
            return Ok(Vec::new());
        };
        if safe < self.next {
            return Ok(Vec::new());
        }
        let to = safe.min(self.next.saturating_add(self.max_range - 1));
        let logs = fetch(&self.client, Filter::new(), self.next, to).await?;
        self.next = to + 1;
        Ok(logs)
    }
}

/// Decoded hub and registry logs matching `filter` in blocks `from..=to`.
pub(crate) async fn fetch(
    client: &Client,
    filter: Filter,
    from: u64,
    to: u64,
) -> Result<Vec<HubLog>> {
    let d = client.deployment();
    let filter = filter
        .address(vec![
            d.hub,
            d.app_registry,
            d.dataset_registry,
            d.workerpool_registry,
        ])
        .from_block(from)
        .to_block(to);
    let logs = client.provider().get_logs(&filter).await?;
    Ok(logs
        .iter()
        .filter_map(|log| {
            Some(HubLog {
                block: log.block_number?,
                tx_hash: log.transaction_hash?,
                log_index: log.log_index?,
                event: decode(d, log)?,
            })
        })
        .collect())
}
