//! The chain side in: the periodic tick (events, then watchdogs and settlement), what each hub
//! event changes, and a new deal's tasks.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use alloy::primitives::{Address, B256};
use dexec_primitives::deal::Deal;
use dexec_sdk::{AssetDetails, AssetKind, EventFollower, HubEvent};

use super::{lock, DealCtx, Scheduler};
use crate::config::Trust1Mode;
use crate::db::{DealRow, ReplicateUpdate};
use crate::error::Result;
use crate::state::{ReplicateStatus as Rs, TaskStatus as Ts};

/// Most blocks per `eth_getLogs` request.
const MAX_RANGE: u64 = 2_000;

impl Scheduler {
    /// The hub's events from the first unprocessed block, `confirmations` deep.
    pub fn follower(&self) -> EventFollower {
        EventFollower::new(self.client.clone(), self.next_block())
            .confirmations(self.config.confirmations)
            .max_range(MAX_RANGE)
    }

    /// Follow events until caught up, then do the periodic work once.
    pub async fn tick(&self, follower: &mut EventFollower) -> Result<()> {
        loop {
            let logs = follower.poll().await?;
            if let Some(lag) = follower.lag() {
                self.metrics.set_chain_lag(lag);
            }
            let empty = logs.is_empty();
            for log in logs {
                self.on_event(log.block, log.event).await?;
            }
            self.db.set_next_block(follower.next_block()).await?;
            self.next_block
                .store(follower.next_block(), Ordering::Relaxed);
            if empty {
                break;
            }
        }
        let now = self.client.now().await?;
        self.chain_time.store(now, Ordering::Relaxed);
        self.detect_lost_workers().await?;
        self.detect_timeouts().await?;
        self.finalize_ready(now).await?;
        if self.config.trust1_mode == Trust1Mode::Batch {
            self.push_batches(now).await?;
        }
        self.recheck_settlements().await?;
        self.claim_expired(now).await?;
        if self.config.offer.is_some() {
            // after the events: every deal matched before `next_block` is counted
            let load = self.measure_load().await?;
            self.load.send_replace(Some(load));
        }
        Ok(())
    }

    async fn on_event(&self, block: u64, event: HubEvent) -> Result<()> {
        match event {
            HubEvent::DealCreated {
                deal_id,
                deal,
                encoded,
                params,
                ..
            } if deal.workerpool == self.config.workerpool => {
                self.on_deal(block, deal_id, deal, encoded.to_vec(), params)
                    .await?;
            }
            HubEvent::TaskContribute {
                task_id,
                worker,
                result_hash,
            } => {
                if self.db.task(&task_id).await?.is_none() {
                    return Ok(());
                }
                if self.db.replicate(&task_id, &worker).await?.is_none() {
                    // contributed without a replicate row (database restored from a backup)
                    self.db.insert_replicate(&task_id, &worker, 2).await?;
                }
                self.db
                    .update_replicate(
                        &task_id,
                        &worker,
                        &[
                            Rs::Assigned,
                            Rs::Computed,
                            Rs::Lost,
                            Rs::Timeout,
                            Rs::Failed,
                            Rs::Aborted,
                        ],
                        Rs::Contributed,
                        ReplicateUpdate {
                            result_hash: Some(result_hash),
                            ..Default::default()
                        },
                    )
                    .await?;
                self.work.notify_waiters();
            }
            HubEvent::TaskConsensus { task_id, consensus } => {
                if self.db.task(&task_id).await?.is_none() {
                    return Ok(());
                }
                self.db.set_consensus(&task_id, Some(&consensus)).await?;
                self.db
                    .transition_task(&task_id, &Ts::ASSIGNABLE, Ts::Revealing)
                    .await?;
                tracing::info!(target: "scheduler::consensus", task = %task_id, %consensus, "consensus reached");
            }
            HubEvent::TaskReveal {
                task_id,
                worker,
                digest,
            } => {
                if self.db.task(&task_id).await?.is_none() {
                    return Ok(());
                }
                self.db
                    .set_replicate(
                        &task_id,
                        &worker,
                        Rs::Revealed,
                        ReplicateUpdate {
                            digest: Some(digest),
                            ..Default::default()
                        },
                    )
                    .await?;
            }
            HubEvent::TaskReopen { task_id } => {
                let Some(task) = self.db.task(&task_id).await? else {
                    return Ok(());
                };
                for r in self.db.replicates(&task_id).await? {
                    if r.result_hash.is_some() && r.result_hash == task.consensus {
                        self.db
                            .set_replicate(
                                &task_id,
                                &r.worker,
                                Rs::Rejected,
                                ReplicateUpdate::default(),
                            )
                            .await?;
                    }
                }
                self.db.set_consensus(&task_id, None).await?;
                self.db.set_task_status(&task_id, Ts::Running).await?;
                self.work.notify_waiters();
            }
            HubEvent::TaskFinalize {
                task_id,
                digest,
                results,
                ..
            } => {
                let Some(task) = self.db.task(&task_id).await? else {
                    return Ok(());
                };
                if task.status == Ts::Completed && task.result_digest == Some(digest) {
                    return Ok(()); // recorded when its batch was mined
                }
                let results = String::from_utf8_lossy(&results).into_owned();
                self.db.settle_task(&task_id, &digest, &results).await?;
                tracing::info!(target: "scheduler::tasks", task = %task_id, %digest, "task completed");
            }
            HubEvent::TaskClaimed { task_id, .. } => {
                if self.db.task(&task_id).await?.is_none() {
                    return Ok(());
                }
                self.db.set_task_status(&task_id, Ts::Failed).await?;
                for r in self.db.replicates(&task_id).await? {
                    if r.status.is_live() || r.status == Rs::Contributed {
                        self.db
                            .set_replicate(
                                &task_id,
                                &r.worker,
                                Rs::Aborted,
                                ReplicateUpdate::default(),
                            )
                            .await?;
                    }
                }
                tracing::warn!(target: "scheduler::tasks", task = %task_id, "task claimed after its final deadline");
            }
            _ => {}
        }
        Ok(())
    }

    async fn on_deal(
        &self,
        block: u64,
        deal_id: B256,
        deal: Deal,
        encoded: Vec<u8>,
        params: String,
    ) -> Result<()> {
        let (app_type, app_multiaddr, app_checksum) =
            match self.client.asset(AssetKind::App, deal.app).await?.details {
                AssetDetails::App(spec) => (spec.app_type, spec.multiaddr, spec.checksum),
                _ => ("WASM".to_owned(), String::new(), B256::ZERO),
            };
        let (dataset_multiaddr, dataset_checksum) = if deal.dataset == Address::ZERO {
            (String::new(), B256::ZERO)
        } else {
            match self
                .client
                .asset(AssetKind::Dataset, deal.dataset)
                .await?
                .details
            {
                AssetDetails::Dataset(spec) => (spec.multiaddr, spec.checksum),
                _ => (String::new(), B256::ZERO),
            }
        };
        let tasks: Vec<(B256, u64)> = deal
            .task_indices()
            .map(|i| (dexec_primitives::task_id(deal_id, i), i))
            .collect();
        let row = DealRow {
            deal_id,
            encoded,
            params,
            app_type,
            app_multiaddr,
            app_checksum,
            dataset_multiaddr,
            dataset_checksum,
            block,
        };
        if self.db.insert_deal(&row, &tasks).await? {
            tracing::info!(target: "scheduler::deals", deal = %deal_id, tasks = tasks.len(), trust = deal.trust, "new deal");
        }
        lock(&self.deals).insert(deal_id, Arc::new(DealCtx::from_row(row)?));
        self.work.notify_waiters();
        Ok(())
    }
}
