//! Watchdogs: workers that stopped sending heartbeats, and replicates without progress within
//! the replicate timeout; their replicates are given up on so others can take the tasks.

use std::time::Duration;

use alloy::primitives::Address;

use super::{lock, Scheduler};
use crate::db::ReplicateUpdate;
use crate::error::Result;
use crate::state::ReplicateStatus as Rs;

impl Scheduler {
    pub(super) async fn detect_lost_workers(&self) -> Result<()> {
        let lost: Vec<Address> = {
            let mut workers = lock(&self.workers);
            workers
                .iter_mut()
                .filter(|(_, w)| !w.lost && w.last_seen.elapsed() > self.config.lost_after)
                .map(|(a, w)| {
                    w.lost = true;
                    *a
                })
                .collect()
        };
        for worker in lost {
            tracing::warn!(target: "scheduler::workers", %worker, "worker lost (no heartbeat)");
            for r in self
                .db
                .replicates_with_status(&Rs::LIVE, Some(&worker))
                .await?
            {
                self.db
                    .update_replicate(
                        &r.task_id,
                        &worker,
                        &Rs::LIVE,
                        Rs::Lost,
                        ReplicateUpdate::default(),
                    )
                    .await?;
            }
            self.work.notify_waiters();
        }
        Ok(())
    }

    pub(super) async fn detect_timeouts(&self) -> Result<()> {
        let now = crate::db::now_ms();
        for r in self
            .db
            .replicates_with_status(&[Rs::Assigned], None)
            .await?
        {
            let task = self.db.task(&r.task_id).await?;
            let Some(task) = task else { continue };
            let ctx = self.deal_ctx(&task.deal_id).await?;
            let timeout = self
                .config
                .replicate_timeout
                .unwrap_or(Duration::from_secs(u64::from(ctx.deal().timeref)));
            if now - r.updated_at > timeout.as_millis() as i64 {
                tracing::warn!(target: "scheduler::replicates", task = %r.task_id, worker = %r.worker, "replicate timed out");
                self.record_duration(r.assigned_at);
                self.db
                    .update_replicate(
                        &r.task_id,
                        &r.worker,
                        &[Rs::Assigned],
                        Rs::Timeout,
                        ReplicateUpdate::default(),
                    )
                    .await?;
                self.work.notify_waiters();
            }
        }
        Ok(())
    }
}
