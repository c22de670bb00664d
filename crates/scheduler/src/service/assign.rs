//! Assignment: a worker's long poll gets a replicate of the oldest task it can take, unless a
//! lighter worker waits for it, with the workerpool owner's authorization.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, B256};
use alloy::signers::SignerSync;
use dexec_primitives::poco::{authorization_hash, needs_more_replicates};
use dexec_primitives::tag;

use super::{lock, DealCtx, Scheduler};
use crate::api::{Assignment, DatasetRef, Mode};
use crate::config::Trust1Mode;
use crate::db::TaskRow;
use crate::error::{Error, Result};
use crate::state::{ReplicateStatus as Rs, TaskStatus as Ts};

/// Candidate tasks are read this many at a time, oldest first.
const PAGE: i64 = 64;
/// The first page of candidates, read on every call: short, since its first task is usually
/// the one assigned.
const FIRST_PAGE: i64 = 8;
/// After leaving this many tasks to lighter workers, stop looking: the rest of the queue is
/// most likely the same, and scanning it all on every call made assignment cost grow with the
/// queue.
const MAX_YIELDED: usize = 8;
/// Candidates looked at per call, at most.
const MAX_SCANNED: i64 = 1_000;

/// How long after its replicate failed a worker may be given the same task again.
const RETRY_FAILED_AFTER_MS: i64 = 10_000;

impl Scheduler {
    /// Long poll: an assignment for `worker`, or `None` after `wait`.
    pub async fn next(&self, worker: Address, wait: Duration) -> Result<Option<Assignment>> {
        let deadline = Instant::now() + wait.min(self.config.max_wait);
        self.set_waiting(worker, 1);
        let result = async {
            loop {
                if let Some(assignment) = self.try_assign(worker).await? {
                    return Ok(Some(assignment));
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                let nap = left.min(self.config.poll_interval.max(Duration::from_millis(50)) * 4);
                let _ = tokio::time::timeout(nap, self.work.notified()).await;
            }
        }
        .await;
        self.set_waiting(worker, -1);
        result
    }

    /// Up to `max` replicates for `worker`: the first waited for as [`Self::next`] does,
    /// then as many more as are assignable now.
    pub async fn assignments(
        &self,
        worker: Address,
        wait: Duration,
        max: u32,
    ) -> Result<Vec<Assignment>> {
        let Some(first) = self.next(worker, wait).await? else {
            return Ok(Vec::new());
        };
        let mut given = vec![first];
        while given.len() < max as usize {
            match self.try_assign(worker).await? {
                Some(more) => given.push(more),
                None => break,
            }
        }
        Ok(given)
    }

    async fn try_assign(&self, worker: Address) -> Result<Option<Assignment>> {
        let _guard = self.assign_lock.lock().await;
        let Some(me) = lock(&self.workers).get(&worker).cloned() else {
            return Err(Error::Unauthorized(format!(
                "worker {worker} is not registered"
            )));
        };
        let load: HashMap<Address, usize> = self.db.live_load().await?;
        let my_load = load.get(&worker).copied().unwrap_or(0);
        if my_load >= me.caps.max_concurrent as usize {
            self.metrics.refused_full.inc();
            return Ok(None);
        }
        // least loaded first: other workers waiting right now with fewer replicates; for a
        // replicated task, then the one waiting longest among the equally loaded (the
        // replicates of a task, and their rewards, go round the idle workers in the order
        // they became idle, not to whichever request the scheduler happens to serve first)
        let mine_since = me.waiting_since.unwrap_or_else(Instant::now);
        // (worker, its tags)
        let mut lighter: Vec<(Address, B256)> = Vec::new();
        let mut waited_longer: Vec<(Address, B256)> = Vec::new();
        for (a, w) in lock(&self.workers).iter() {
            let their_load = load.get(a).copied().unwrap_or(0);
            if *a == worker
                || w.lost
                || w.waiting == 0
                || their_load >= w.caps.max_concurrent as usize
            {
                continue;
            }
            if their_load < my_load {
                lighter.push((*a, w.caps.tags));
            } else if their_load == my_load && w.waiting_since.is_some_and(|t| t < mine_since) {
                waited_longer.push((*a, w.caps.tags));
            }
        }
        let now = self.chain_time.load(Ordering::Relaxed);
        // candidates a page at a time, oldest first: the first assignable one usually comes
        // early (pending tasks follow the few running ones)
        let mut yielded = 0;
        let mut offset = 0;
        let mut tasks = Vec::new().into_iter();
        loop {
            let Some(task) = tasks.next() else {
                if offset >= MAX_SCANNED {
                    break;
                }
                // a short first page: the first candidate is usually the one taken
                let size = if offset == 0 { FIRST_PAGE } else { PAGE };
                let page = self.db.tasks_page(&Ts::ASSIGNABLE, size, offset).await?;
                if page.is_empty() {
                    break;
                }
                offset += size;
                tasks = page.into_iter();
                continue;
            };
            let ctx = self.deal_ctx(&task.deal_id).await?;
            let deal = ctx.deal();
            if !tag::is_subset(ctx.required_tags(), me.caps.tags) {
                continue;
            }
            // TEE tasks need an enclave, which this scheduler does not provide yet
            if deal.tag.bit_and(tag::TEE) != B256::ZERO {
                continue;
            }
            let deadline = if deal.trust <= 1 {
                deal.final_deadline()
            } else {
                deal.contribution_deadline()
            };
            if now >= deadline {
                continue;
            }
            let replicates = self.db.replicates(&task.task_id).await?;
            // never two replicates of a task to one worker, except again after one failed
            // (and a pause): a store down for seconds fails every worker's upload, and a
            // task every worker failed once would otherwise wait for its deadline
            let now_ms = crate::db::now_ms();
            if replicates.iter().any(|r| {
                r.worker == worker
                    && !(r.status == Rs::Failed && now_ms - r.updated_at >= RETRY_FAILED_AFTER_MS)
            }) {
                continue;
            }
            let contributions: Vec<(B256, u64)> = replicates
                .iter()
                .filter(|r| Rs::CONTRIBUTED.contains(&r.status))
                .filter_map(|r| r.result_hash.map(|h| (h, r.weight)))
                .collect();
            // a held result (batch mode) or a trust-1 replicate finalized on chain (its
            // TaskFinalize event may not be processed yet) settles the task: it needs no other
            // replicate
            let running: Vec<u64> = replicates
                .iter()
                .filter(|r| {
                    r.status.is_live()
                        || r.status == Rs::Held
                        || (deal.trust <= 1 && r.status == Rs::Done)
                })
                .map(|r| r.weight)
                .collect();
            if !needs_more_replicates(deal.trust, &contributions, &running) {
                continue;
            }
            let fair = if deal.trust > 1 {
                &waited_longer[..]
            } else {
                &[]
            };
            let someone_lighter = lighter.iter().chain(fair).any(|(other, tags)| {
                tag::is_subset(ctx.required_tags(), *tags)
                    && !replicates.iter().any(|r| r.worker == *other)
            });
            if someone_lighter {
                // leave it to the lighter worker; after a few such tasks stop looking
                self.work.notify_waiters();
                yielded += 1;
                if yielded >= MAX_YIELDED {
                    break;
                }
                continue;
            }
            // the weight the hub will give this contribution: from the score now (scores
            // grow with every finalized task, so the one read at registration goes stale and
            // the scheduler would over-replicate for veterans)
            let weight = if deal.trust > 1 {
                self.refresh_weight(worker).await?
            } else {
                me.weight
            };
            self.db
                .insert_replicate(&task.task_id, &worker, weight)
                .await?;
            self.db
                .transition_task(&task.task_id, &[Ts::Pending], Ts::Running)
                .await?;
            self.metrics.assigned.inc();
            if task.status == Ts::Pending {
                self.metrics.first_assigned(task.updated_at);
            }
            let assignment = self.assignment(&ctx, &task, worker)?;
            tracing::info!(target: "scheduler::assign", task = %task.task_id, %worker, name = %me.name, mode = ?assignment.mode, "replicate assigned");
            return Ok(Some(assignment));
        }
        Ok(None)
    }

    fn assignment(&self, ctx: &DealCtx, task: &TaskRow, worker: Address) -> Result<Assignment> {
        let enclave = Address::ZERO;
        let hash = authorization_hash(worker, task.task_id, enclave);
        let signature = self.config.signer.sign_message_sync(hash.as_slice())?;
        let mode = match (ctx.deal().trust <= 1, self.config.trust1_mode) {
            (false, _) => Mode::Contribute,
            (true, Trust1Mode::Fast) => Mode::ContributeAndFinalize,
            (true, Trust1Mode::Batch) => Mode::Push,
        };
        let dataset = (ctx.deal().dataset != Address::ZERO).then(|| DatasetRef {
            address: ctx.deal().dataset,
            multiaddr: ctx.row.dataset_multiaddr.clone(),
            checksum: ctx.row.dataset_checksum,
        });
        Ok(Assignment {
            task_id: task.task_id,
            deal_id: task.deal_id,
            index: task.index,
            deal: Bytes::from(ctx.row.encoded.clone()),
            app: ctx.deal().app,
            app_type: ctx.row.app_type.clone(),
            app_multiaddr: ctx.row.app_multiaddr.clone(),
            app_checksum: ctx.row.app_checksum,
            dataset,
            params: ctx.row.params.clone(),
            mode,
            enclave,
            authorization: Bytes::copy_from_slice(&signature.as_bytes()),
        })
    }
}
