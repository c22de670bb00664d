//! The scheduler itself: worker registry, assignment, replicate reports, and the chain side
//! (events in, finalize / reopen / pushResults / claim out).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, Signature, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::signers::SignerSync;
use alloy::sol_types::SolEvent;
use dexec_contracts::tx::send;
use dexec_contracts::HubPoco;
use dexec_primitives::deal::Deal;
use dexec_primitives::tag;
use dexec_sdk::{AssetDetails, AssetKind, Client, HubEvent};

use crate::follow::Follower;
use rand::RngCore;
use tokio::sync::Notify;

use crate::api::{
    authorization_hash, result_hash, results_link, Action, Assignment, Capabilities, Challenge,
    DatasetRef, Heartbeat, Mode, NextAction, RegisterRequest, Registered, Report, ReportStatus,
    TaskView,
};
use crate::config::{Config, Trust1Mode};
use crate::db::{rep_status as rs, task_status as ts, Db, DealRow, ReplicateUpdate, TaskRow};
use crate::error::{Error, Result};
use crate::policy::{needs_more_replicates, weight};

/// How long a registration challenge stays valid.
const CHALLENGE_TTL: Duration = Duration::from_secs(300);

/// A deal with its terms decoded.
#[derive(Debug)]
pub(crate) struct DealCtx {
    pub row: DealRow,
    pub deal: Deal,
}

impl DealCtx {
    fn contribution_deadline(&self) -> u64 {
        self.deal.start_time + 7 * u64::from(self.deal.timeref)
    }

    fn final_deadline(&self) -> u64 {
        self.deal.start_time + 10 * u64::from(self.deal.timeref)
    }
}

/// A registered worker.
#[derive(Debug, Clone)]
struct WorkerEntry {
    name: String,
    session: String,
    caps: Capabilities,
    last_seen: Instant,
    weight: u64,
    lost: bool,
    /// Long polls in progress.
    waiting: u32,
}

/// The scheduler's shared state.
pub(crate) struct Scheduler {
    pub config: Config,
    pub client: Client,
    pub db: Db,
    workers: Mutex<HashMap<Address, WorkerEntry>>,
    challenges: Mutex<HashMap<Address, (String, Instant)>>,
    deals: Mutex<HashMap<B256, Arc<DealCtx>>>,
    assign_lock: tokio::sync::Mutex<()>,
    /// Woken when work may have appeared (new deal, freed replicate).
    work: Notify,
    /// Latest chain timestamp seen.
    chain_time: AtomicU64,
    /// First block whose events are not processed yet.
    next_block: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Scheduler {
    pub async fn new(config: Config) -> Result<Arc<Self>> {
        let client = Client::connect(&config.chain, Some(config.signer.clone())).await?;
        let db = Db::connect(&config.db_url).await?;
        let next = db.next_block().await?.unwrap_or(config.from_block);
        let now = client.now().await?;
        Ok(Arc::new(Self {
            config,
            client,
            db,
            workers: Mutex::default(),
            challenges: Mutex::default(),
            deals: Mutex::default(),
            assign_lock: tokio::sync::Mutex::new(()),
            work: Notify::new(),
            chain_time: AtomicU64::new(now),
            next_block: AtomicU64::new(next),
        }))
    }

    pub fn owner(&self) -> Address {
        self.config.signer.address()
    }

    pub fn next_block(&self) -> u64 {
        self.next_block.load(Ordering::Relaxed)
    }

    pub fn worker_count(&self) -> (usize, usize) {
        let workers = lock(&self.workers);
        let alive = workers.values().filter(|w| !w.lost).count();
        (alive, workers.len())
    }

    async fn deal_ctx(&self, deal_id: &B256) -> Result<Arc<DealCtx>> {
        if let Some(ctx) = lock(&self.deals).get(deal_id) {
            return Ok(ctx.clone());
        }
        let row = self
            .db
            .deal(deal_id)
            .await?
            .ok_or_else(|| Error::Corrupt(format!("task of unknown deal {deal_id}")))?;
        let deal = Deal::decode(&row.encoded).map_err(|e| Error::Corrupt(e.to_string()))?;
        let ctx = Arc::new(DealCtx { row, deal });
        lock(&self.deals).insert(*deal_id, ctx.clone());
        Ok(ctx)
    }

    // ------------------------------------------------------------------ workers

    pub fn challenge(&self, address: Address) -> Challenge {
        let mut nonce = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut nonce);
        let text = format!(
            "dexec scheduler of workerpool {:#x}: register worker {:#x} (nonce {})",
            self.config.workerpool,
            address,
            hex::encode(nonce)
        );
        let mut challenges = lock(&self.challenges);
        challenges.retain(|_, (_, at)| at.elapsed() < CHALLENGE_TTL);
        challenges.insert(address, (text.clone(), Instant::now()));
        Challenge { challenge: text }
    }

    pub async fn register(&self, req: RegisterRequest) -> Result<Registered> {
        let expected = lock(&self.challenges).remove(&req.address);
        match expected {
            Some((text, at)) if text == req.challenge && at.elapsed() < CHALLENGE_TTL => {}
            _ => {
                return Err(Error::Unauthorized(
                    "unknown or expired challenge: get a new one from GET /workers/challenge"
                        .into(),
                ))
            }
        }
        let signature = Signature::from_raw(&req.signature)
            .map_err(|_| Error::Unauthorized("the signature is not 65 bytes".into()))?;
        let signer = signature
            .recover_address_from_msg(req.challenge.as_bytes())
            .map_err(|_| Error::Unauthorized("the signature does not recover".into()))?;
        if signer != req.address {
            return Err(Error::Unauthorized(format!(
                "the challenge was signed by {signer}, not {}",
                req.address
            )));
        }
        if req.capabilities.max_concurrent == 0 {
            return Err(Error::BadRequest("maxConcurrent must be at least 1".into()));
        }
        if !self.config.allow_workers.is_empty()
            && !self.config.allow_workers.contains(&req.address)
        {
            return Err(Error::Forbidden(format!(
                "worker {} is not on this workerpool's allow list",
                req.address
            )));
        }
        let score = self.client.account(req.address).await?.score;
        if score < self.config.min_worker_score {
            return Err(Error::Forbidden(format!(
                "worker {} has score {score}; this workerpool admits workers from score {}",
                req.address, self.config.min_worker_score
            )));
        }
        let mut token = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut token);
        let session = hex::encode(token);
        tracing::info!(target: "scheduler::workers", worker = %req.address, name = %req.name, score, caps = ?req.capabilities, "worker registered");
        lock(&self.workers).insert(
            req.address,
            WorkerEntry {
                name: req.name,
                session: session.clone(),
                caps: req.capabilities,
                last_seen: Instant::now(),
                weight: weight(score),
                lost: false,
                waiting: 0,
            },
        );
        self.work.notify_waiters();
        Ok(Registered {
            session,
            heartbeat_interval_ms: self.config.heartbeat_interval.as_millis() as u64,
            lost_after_ms: self.config.lost_after.as_millis() as u64,
            workerpool: self.config.workerpool,
            scheduler: self.owner(),
            chain_id: self.client.chain_id(),
            hub: self.client.deployment().hub,
            store_url: self.config.store_url.clone(),
        })
    }

    /// Check a worker's session and record that it is alive.
    pub fn authenticate(&self, worker: Address, session: Option<&str>) -> Result<()> {
        let mut workers = lock(&self.workers);
        let entry = workers.get_mut(&worker).ok_or_else(|| {
            Error::Unauthorized(format!(
                "worker {worker} is not registered (register again)"
            ))
        })?;
        if session != Some(entry.session.as_str()) {
            return Err(Error::Unauthorized(
                "missing or stale session token (register again)".into(),
            ));
        }
        entry.last_seen = Instant::now();
        if entry.lost {
            tracing::info!(target: "scheduler::workers", %worker, "lost worker is back");
            entry.lost = false;
        }
        Ok(())
    }

    pub fn heartbeat(&self, worker: Address, _beat: Heartbeat) {
        tracing::trace!(target: "scheduler::workers", %worker, "heartbeat");
    }

    /// Long poll: an assignment for `worker`, or `None` after `wait`.
    pub async fn next(&self, worker: Address, wait: Duration) -> Result<Option<Assignment>> {
        let deadline = Instant::now() + wait.min(self.config.max_wait);
        set_waiting(&self.workers, worker, 1);
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
        set_waiting(&self.workers, worker, -1);
        result
    }

    async fn try_assign(&self, worker: Address) -> Result<Option<Assignment>> {
        let _guard = self.assign_lock.lock().await;
        let Some(me) = lock(&self.workers).get(&worker).cloned() else {
            return Err(Error::Unauthorized(format!(
                "worker {worker} is not registered"
            )));
        };
        let live = self.db.replicates_with_status(&rs::LIVE, None).await?;
        let mut load: HashMap<Address, usize> = HashMap::new();
        for r in &live {
            *load.entry(r.worker).or_default() += 1;
        }
        let my_load = load.get(&worker).copied().unwrap_or(0);
        if my_load >= me.caps.max_concurrent as usize {
            return Ok(None);
        }
        // least loaded first: other workers waiting right now with fewer replicates
        let lighter: Vec<(Address, B256)> = lock(&self.workers)
            .iter()
            .filter(|(a, w)| {
                **a != worker
                    && !w.lost
                    && w.waiting > 0
                    && load.get(*a).copied().unwrap_or(0) < my_load
                    && load.get(*a).copied().unwrap_or(0) < w.caps.max_concurrent as usize
            })
            .map(|(a, w)| (*a, w.caps.tags))
            .collect();
        let now = self.chain_time.load(Ordering::Relaxed);
        // candidates a page at a time, oldest first: the first assignable one usually comes
        // early (pending tasks follow the few running ones)
        const PAGE: i64 = 64;
        const MAX_YIELDED: usize = 8;
        let mut yielded = 0;
        let mut offset = 0;
        let mut tasks = Vec::new().into_iter();
        loop {
            let Some(task) = tasks.next() else {
                if offset >= 1000 {
                    break;
                }
                let page = self
                    .db
                    .tasks_page(&[ts::PENDING, ts::RUNNING], PAGE, offset)
                    .await?;
                if page.is_empty() {
                    break;
                }
                offset += PAGE;
                tasks = page.into_iter();
                continue;
            };
            let ctx = self.deal_ctx(&task.deal_id).await?;
            let deal = &ctx.deal;
            if !tag::is_subset(deal.tag, me.caps.tags) {
                continue;
            }
            // TEE tasks need an enclave, which this scheduler does not provide yet
            if deal.tag.bit_and(tag::TEE) != B256::ZERO {
                continue;
            }
            let deadline = if deal.trust <= 1 {
                ctx.final_deadline()
            } else {
                ctx.contribution_deadline()
            };
            if now >= deadline {
                continue;
            }
            let replicates = self.db.replicates(&task.task_id).await?;
            if replicates.iter().any(|r| r.worker == worker) {
                continue;
            }
            let contributions: Vec<(B256, u64)> = replicates
                .iter()
                .filter(|r| matches!(r.status.as_str(), rs::CONTRIBUTED | rs::REVEALED | rs::DONE))
                .filter_map(|r| r.result_hash.map(|h| (h, r.weight)))
                .collect();
            // a held result (batch mode) settles the task: it needs no other replicate
            let running: Vec<u64> = replicates
                .iter()
                .filter(|r| rs::LIVE.contains(&r.status.as_str()) || r.status == rs::HELD)
                .map(|r| r.weight)
                .collect();
            if !needs_more_replicates(deal.trust, &contributions, &running) {
                continue;
            }
            let someone_lighter = lighter.iter().any(|(other, tags)| {
                tag::is_subset(deal.tag, *tags) && !replicates.iter().any(|r| r.worker == *other)
            });
            if someone_lighter {
                // leave it to the lighter worker; after a few such tasks stop looking (the
                // rest of the queue is most likely the same, and scanning it all on every
                // call made assignment cost grow with the queue)
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
                .transition_task(&task.task_id, &[ts::PENDING], ts::RUNNING)
                .await?;
            let assignment = self.assignment(&ctx, &task, worker)?;
            tracing::info!(target: "scheduler::assign", task = %task.task_id, %worker, name = %me.name, mode = ?assignment.mode, "replicate assigned");
            return Ok(Some(assignment));
        }
        Ok(None)
    }

    /// Read `worker`'s score on chain and update its cached Sarmenta weight.
    async fn refresh_weight(&self, worker: Address) -> Result<u64> {
        let fresh = weight(self.client.account(worker).await?.score);
        if let Some(entry) = lock(&self.workers).get_mut(&worker) {
            entry.weight = fresh;
        }
        Ok(fresh)
    }

    fn assignment(&self, ctx: &DealCtx, task: &TaskRow, worker: Address) -> Result<Assignment> {
        let enclave = Address::ZERO;
        let hash = authorization_hash(worker, task.task_id, enclave);
        let signature = self.config.signer.sign_message_sync(hash.as_slice())?;
        let mode = match (ctx.deal.trust <= 1, self.config.trust1_mode) {
            (false, _) => Mode::Contribute,
            (true, Trust1Mode::Fast) => Mode::ContributeAndFinalize,
            (true, Trust1Mode::Batch) => Mode::Push,
        };
        let dataset = (ctx.deal.dataset != Address::ZERO).then(|| DatasetRef {
            address: ctx.deal.dataset,
            multiaddr: ctx.row.dataset_multiaddr.clone(),
            checksum: ctx.row.dataset_checksum,
        });
        Ok(Assignment {
            task_id: task.task_id,
            deal_id: task.deal_id,
            index: task.index,
            deal: Bytes::from(ctx.row.encoded.clone()),
            app: ctx.deal.app,
            app_multiaddr: ctx.row.app_multiaddr.clone(),
            app_checksum: ctx.row.app_checksum,
            dataset,
            params: ctx.row.params.clone(),
            mode,
            enclave,
            authorization: Bytes::copy_from_slice(&signature.as_bytes()),
        })
    }

    // ------------------------------------------------------------------ reports

    pub async fn report(
        &self,
        worker: Address,
        task_id: B256,
        report: Report,
    ) -> Result<NextAction> {
        let rep = self.db.replicate(&task_id, &worker).await?.ok_or_else(|| {
            Error::NotFound(format!(
                "no replicate of task {task_id} for worker {worker}"
            ))
        })?;
        let task = self
            .db
            .task(&task_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no task {task_id}")))?;
        let ctx = self.deal_ctx(&task.deal_id).await?;
        let replicated = ctx.deal.trust > 1;
        let action = match report.status {
            ReportStatus::Failed => {
                self.db
                    .update_replicate(
                        &task_id,
                        &worker,
                        &rs::LIVE,
                        rs::FAILED,
                        ReplicateUpdate {
                            error: report.error.clone(),
                            ..Default::default()
                        },
                    )
                    .await?;
                tracing::warn!(target: "scheduler::replicates", task = %task_id, %worker, error = ?report.error, "replicate failed");
                self.work.notify_waiters();
                Action::Abort
            }
            ReportStatus::Computed => {
                let digest = report.digest.ok_or_else(|| {
                    Error::BadRequest("a computed report carries its digest".into())
                })?;
                if !rs::LIVE.contains(&rep.status.as_str()) {
                    self.settled_action(&task, &rep.status, replicated)
                } else if matches!(task.status.as_str(), ts::COMPLETED | ts::FAILED) {
                    Action::Abort
                } else {
                    // trust 1 in batch mode: the scheduler holds the result and pushes it in
                    // a batch, so the worker is free for its next replicate at once
                    let held = !replicated && self.config.trust1_mode == Trust1Mode::Batch;
                    self.db
                        .update_replicate(
                            &task_id,
                            &worker,
                            &rs::LIVE,
                            if held { rs::HELD } else { rs::COMPUTED },
                            ReplicateUpdate {
                                digest: Some(digest),
                                result_location: report.result_location.clone(),
                                callback_data: report.callback_data.as_ref().map(|d| d.to_vec()),
                                ..Default::default()
                            },
                        )
                        .await?;
                    if held {
                        self.db
                            .transition_task(&task_id, &[ts::PENDING, ts::RUNNING], ts::PUSHING)
                            .await?;
                    }
                    match (replicated, self.config.trust1_mode) {
                        (false, Trust1Mode::Fast) => Action::ContributeAndFinalize,
                        (false, Trust1Mode::Batch) => Action::Done,
                        (true, _) if task.status == ts::REVEALING => Action::Abort,
                        (true, _) => Action::Contribute,
                    }
                }
            }
            ReportStatus::Contributed => {
                let digest = report.digest.or(rep.digest);
                let update = ReplicateUpdate {
                    digest,
                    result_hash: digest.map(|d| result_hash(task_id, d)),
                    ..Default::default()
                };
                self.db
                    .update_replicate(&task_id, &worker, &rs::LIVE, rs::CONTRIBUTED, update)
                    .await?;
                let rep = self.db.replicate(&task_id, &worker).await?;
                let status = rep.as_ref().map_or(rs::CONTRIBUTED, |r| r.status.as_str());
                self.replicated_action(&task, rep.as_ref().and_then(|r| r.result_hash), status)
            }
            ReportStatus::Revealed => {
                self.db
                    .update_replicate(
                        &task_id,
                        &worker,
                        &[rs::CONTRIBUTED],
                        rs::REVEALED,
                        ReplicateUpdate::default(),
                    )
                    .await?;
                if task.status == ts::COMPLETED {
                    Action::Done
                } else {
                    Action::Wait
                }
            }
            ReportStatus::Finalized => {
                self.db
                    .update_replicate(
                        &task_id,
                        &worker,
                        &[],
                        rs::DONE,
                        ReplicateUpdate {
                            digest: report.digest,
                            result_location: report.result_location,
                            ..Default::default()
                        },
                    )
                    .await?;
                Action::Done
            }
        };
        tracing::debug!(target: "scheduler::replicates", task = %task_id, %worker, status = ?report.status, ?action, "report");
        Ok(NextAction { action })
    }

    /// What a replicate that is past computing must do.
    fn settled_action(&self, task: &TaskRow, status: &str, replicated: bool) -> Action {
        match status {
            rs::DONE | rs::HELD => Action::Done,
            rs::CONTRIBUTED | rs::REVEALED if replicated => Action::Wait,
            _ if task.status == ts::COMPLETED && status == rs::DONE => Action::Done,
            _ => Action::Abort,
        }
    }

    fn replicated_action(&self, task: &TaskRow, result_hash: Option<B256>, status: &str) -> Action {
        match task.status.as_str() {
            ts::COMPLETED | ts::FAILED => Action::Done,
            ts::REVEALING => {
                if status == rs::REVEALED {
                    Action::Wait
                } else if result_hash.is_some() && result_hash == task.consensus {
                    Action::Reveal
                } else {
                    Action::Done
                }
            }
            _ if status == rs::REJECTED => Action::Done,
            _ => Action::Wait,
        }
    }

    pub async fn task_view(&self, task_id: B256) -> Result<TaskView> {
        let task = self.db.task(&task_id).await?.ok_or_else(|| {
            Error::NotFound(format!("task {task_id} is not one of this workerpool's"))
        })?;
        let ctx = self.deal_ctx(&task.deal_id).await?;
        let replicates = self.db.replicates(&task_id).await?;
        Ok(TaskView {
            task_id,
            deal_id: task.deal_id,
            index: task.index,
            trust: ctx.deal.trust,
            status: task.status,
            consensus: task.consensus,
            result_digest: task.result_digest,
            results: task.results,
            replicates: replicates.iter().map(|r| r.view()).collect(),
        })
    }

    // ------------------------------------------------------------------ chain side

    /// Follow events until caught up, then do the periodic work once.
    pub async fn tick(&self, follower: &mut Follower) -> Result<()> {
        loop {
            let logs = follower.poll().await?;
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
            self.push_batches().await?;
        }
        self.claim_expired(now).await?;
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
                            rs::ASSIGNED,
                            rs::COMPUTED,
                            rs::LOST,
                            rs::TIMEOUT,
                            rs::FAILED,
                            rs::ABORTED,
                        ],
                        rs::CONTRIBUTED,
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
                    .transition_task(&task_id, &[ts::PENDING, ts::RUNNING], ts::REVEALING)
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
                    .update_replicate(
                        &task_id,
                        &worker,
                        &[],
                        rs::REVEALED,
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
                            .update_replicate(
                                &task_id,
                                &r.worker,
                                &[],
                                rs::REJECTED,
                                ReplicateUpdate::default(),
                            )
                            .await?;
                    }
                }
                self.db.set_consensus(&task_id, None).await?;
                self.db.set_task_status(&task_id, ts::RUNNING).await?;
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
                if task.status == ts::COMPLETED && task.result_digest == Some(digest) {
                    return Ok(()); // recorded when its batch was mined
                }
                let results = String::from_utf8_lossy(&results).into_owned();
                self.db.complete_task(&task_id, &digest, &results).await?;
                for r in self.db.replicates(&task_id).await? {
                    let to = if rs::LIVE.contains(&r.status.as_str()) && r.digest != Some(digest) {
                        rs::ABORTED
                    } else if matches!(
                        r.status.as_str(),
                        rs::ASSIGNED | rs::COMPUTED | rs::HELD | rs::CONTRIBUTED | rs::REVEALED
                    ) {
                        rs::DONE
                    } else {
                        continue;
                    };
                    self.db
                        .update_replicate(&task_id, &r.worker, &[], to, ReplicateUpdate::default())
                        .await?;
                }
                tracing::info!(target: "scheduler::tasks", task = %task_id, %digest, "task completed");
            }
            HubEvent::TaskClaimed { task_id, .. } => {
                if self.db.task(&task_id).await?.is_none() {
                    return Ok(());
                }
                self.db.set_task_status(&task_id, ts::FAILED).await?;
                for r in self.db.replicates(&task_id).await? {
                    if rs::LIVE.contains(&r.status.as_str()) || r.status == rs::CONTRIBUTED {
                        self.db
                            .update_replicate(
                                &task_id,
                                &r.worker,
                                &[],
                                rs::ABORTED,
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
        let (app_multiaddr, app_checksum) =
            match self.client.asset(AssetKind::App, deal.app).await?.details {
                AssetDetails::App(spec) => (spec.multiaddr, spec.checksum),
                _ => (String::new(), B256::ZERO),
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
            app_multiaddr,
            app_checksum,
            dataset_multiaddr,
            dataset_checksum,
            block,
        };
        if self.db.insert_deal(&row, &tasks).await? {
            tracing::info!(target: "scheduler::deals", deal = %deal_id, tasks = tasks.len(), trust = deal.trust, "new deal");
        }
        lock(&self.deals).insert(deal_id, Arc::new(DealCtx { row, deal }));
        self.work.notify_waiters();
        Ok(())
    }

    async fn detect_lost_workers(&self) -> Result<()> {
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
                .replicates_with_status(&rs::LIVE, Some(&worker))
                .await?
            {
                self.db
                    .update_replicate(
                        &r.task_id,
                        &worker,
                        &rs::LIVE,
                        rs::LOST,
                        ReplicateUpdate::default(),
                    )
                    .await?;
            }
            self.work.notify_waiters();
        }
        Ok(())
    }

    async fn detect_timeouts(&self) -> Result<()> {
        let now = crate::db::now_ms();
        for r in self
            .db
            .replicates_with_status(&[rs::ASSIGNED], None)
            .await?
        {
            let task = self.db.task(&r.task_id).await?;
            let Some(task) = task else { continue };
            let ctx = self.deal_ctx(&task.deal_id).await?;
            let timeout = self
                .config
                .replicate_timeout
                .unwrap_or(Duration::from_secs(u64::from(ctx.deal.timeref)));
            if now - r.updated_at > timeout.as_millis() as i64 {
                tracing::warn!(target: "scheduler::replicates", task = %r.task_id, worker = %r.worker, "replicate timed out");
                self.db
                    .update_replicate(
                        &r.task_id,
                        &r.worker,
                        &[rs::ASSIGNED],
                        rs::TIMEOUT,
                        ReplicateUpdate::default(),
                    )
                    .await?;
                self.work.notify_waiters();
            }
        }
        Ok(())
    }

    /// Contributors of a task in contribution order, from its `TaskContribute` events.
    async fn contributors(&self, task_id: B256, from_block: u64) -> Result<Vec<Address>> {
        let filter = Filter::new()
            .address(self.client.deployment().hub)
            .event_signature(HubPoco::TaskContribute::SIGNATURE_HASH)
            .topic1(task_id)
            .from_block(from_block);
        let logs = self
            .client
            .provider()
            .get_logs(&filter)
            .await
            .map_err(dexec_contracts::Error::from)?;
        Ok(logs
            .iter()
            .filter_map(|l| l.log_decode::<HubPoco::TaskContribute>().ok())
            .map(|l| l.inner.data.worker)
            .collect())
    }

    async fn finalize_ready(&self, now: u64) -> Result<()> {
        let poco = self.client.deployment().poco(self.client.provider());
        for task in self.db.tasks_with_status(&[ts::REVEALING], 200).await? {
            let ctx = self.deal_ctx(&task.deal_id).await?;
            let view = poco
                .viewTask(task.task_id)
                .call()
                .await
                .map_err(dexec_contracts::Error::from)?;
            if view.status != 2 {
                continue; // completed: its TaskFinalize event updates the task
            }
            let reveal_deadline: u64 = view.revealDeadline.saturating_to();
            if view.reveals == 0 {
                if now >= reveal_deadline && now < ctx.contribution_deadline() {
                    tracing::warn!(target: "scheduler::consensus", task = %task.task_id, "no winner revealed: reopening");
                    let call = poco.reopen(
                        Bytes::from(ctx.row.encoded.clone()),
                        task.deal_id,
                        U256::from(task.index),
                    );
                    if let Err(e) = send(&call).await {
                        tracing::warn!(target: "scheduler::consensus", task = %task.task_id, error = %e, "reopen failed");
                    }
                }
                continue;
            }
            if view.reveals < view.winners && now < reveal_deadline {
                continue;
            }
            if now >= ctx.final_deadline() {
                continue;
            }
            let replicates = self.db.replicates(&task.task_id).await?;
            let winners: Vec<_> = replicates
                .iter()
                .filter(|r| r.result_hash == Some(view.consensus))
                .collect();
            let Some(digest) = winners.iter().find_map(|r| r.digest) else {
                continue; // reveals not seen yet
            };
            let location = winners
                .iter()
                .find(|r| r.status == rs::REVEALED && r.result_location.is_some())
                .or_else(|| winners.iter().find(|r| r.result_location.is_some()))
                .and_then(|r| r.result_location.clone());
            let callback = winners
                .iter()
                .find_map(|r| r.callback_data.clone())
                .unwrap_or_default();
            let results = match location {
                Some(location) => results_link(&location),
                None => results_link(""),
            };
            let contributors = self.contributors(task.task_id, ctx.row.block).await?;
            let call = poco.finalize(
                Bytes::from(ctx.row.encoded.clone()),
                task.deal_id,
                U256::from(task.index),
                digest,
                contributors,
                Bytes::from(results.clone().into_bytes()),
                Bytes::from(callback),
            );
            match send(&call).await {
                Ok(_) => {
                    self.db
                        .complete_task(&task.task_id, &digest, &results)
                        .await?;
                    tracing::info!(target: "scheduler::consensus", task = %task.task_id, %digest, "finalized");
                }
                Err(e) => {
                    tracing::warn!(target: "scheduler::consensus", task = %task.task_id, error = %e, "finalize failed; retrying next tick")
                }
            }
        }
        Ok(())
    }

    async fn push_batches(&self) -> Result<()> {
        let computed = self.db.replicates_with_status(&[rs::HELD], None).await?;
        let mut by_deal: BTreeMap<B256, Vec<(TaskRow, crate::db::ReplicateRow)>> = BTreeMap::new();
        for r in computed {
            let Some(task) = self.db.task(&r.task_id).await? else {
                continue;
            };
            if task.status != ts::PUSHING {
                continue;
            }
            // one result per task in a batch (a duplicate index would revert the whole batch)
            if by_deal
                .get(&task.deal_id)
                .is_some_and(|items| items.iter().any(|(t, _)| t.task_id == task.task_id))
            {
                continue;
            }
            let ctx = self.deal_ctx(&task.deal_id).await?;
            if ctx.deal.trust > 1 {
                continue;
            }
            by_deal.entry(task.deal_id).or_default().push((task, r));
        }
        let poco = self.client.deployment().poco(self.client.provider());
        for (deal_id, mut items) in by_deal {
            let ctx = self.deal_ctx(&deal_id).await?;
            items.sort_by_key(|(t, r)| (r.worker, t.index));
            // every batch is sent before any receipt is awaited, so several batches can land
            // in one block (nonces come from the node's pending count)
            let mut sent = Vec::new();
            for chunk in items.chunks(self.config.batch_size) {
                let batch: Vec<HubPoco::BatchResult> = chunk
                    .iter()
                    .map(|(t, r)| HubPoco::BatchResult {
                        index: U256::from(t.index),
                        worker: r.worker,
                        resultDigest: r.digest.unwrap_or_default(),
                        results: Bytes::from(
                            results_link(r.result_location.as_deref().unwrap_or("")).into_bytes(),
                        ),
                        resultsCallback: Bytes::from(r.callback_data.clone().unwrap_or_default()),
                        ..Default::default()
                    })
                    .collect();
                let call = poco.pushResults(Bytes::from(ctx.row.encoded.clone()), deal_id, batch);
                match dexec_contracts::tx::submit(&call).await {
                    Ok(pending) => sent.push((chunk, pending)),
                    Err(e) => {
                        tracing::warn!(target: "scheduler::batch", deal = %deal_id, error = %e, "pushResults refused; retrying next tick");
                        break;
                    }
                }
            }
            for (chunk, pending) in sent {
                let receipt = match pending.get_receipt().await {
                    Ok(receipt) if receipt.status() => receipt,
                    Ok(receipt) => {
                        tracing::warn!(target: "scheduler::batch", deal = %deal_id, tx = %receipt.transaction_hash, "pushResults reverted; retrying next tick");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(target: "scheduler::batch", deal = %deal_id, error = %e, "pushResults not confirmed; retrying next tick");
                        continue;
                    }
                };
                tracing::info!(target: "scheduler::batch", deal = %deal_id, tasks = chunk.len(), gas = receipt.gas_used, "results pushed");
                let pushed: Vec<_> = chunk
                    .iter()
                    .map(|(t, r)| {
                        let results = results_link(r.result_location.as_deref().unwrap_or(""));
                        (t.task_id, r.worker, r.digest.unwrap_or_default(), results)
                    })
                    .collect();
                self.db.complete_pushed(&pushed).await?;
            }
        }
        Ok(())
    }

    async fn claim_expired(&self, now: u64) -> Result<()> {
        let poco = self.client.deployment().poco(self.client.provider());
        let open = self
            .db
            .tasks_with_status(
                &[ts::PENDING, ts::RUNNING, ts::PUSHING, ts::REVEALING],
                5000,
            )
            .await?;
        let mut untouched: BTreeMap<B256, Vec<u64>> = BTreeMap::new();
        for task in open {
            let ctx = self.deal_ctx(&task.deal_id).await?;
            if now < ctx.final_deadline() {
                continue;
            }
            let view = poco
                .viewTask(task.task_id)
                .call()
                .await
                .map_err(dexec_contracts::Error::from)?;
            if view.status == 0 {
                untouched.entry(task.deal_id).or_default().push(task.index);
                continue;
            }
            let contributors = self.contributors(task.task_id, ctx.row.block).await?;
            let call = poco.claim(
                Bytes::from(ctx.row.encoded.clone()),
                task.deal_id,
                U256::from(task.index),
                contributors,
            );
            match send(&call).await {
                Ok(_) => self.db.set_task_status(&task.task_id, ts::FAILED).await?,
                Err(e) => {
                    tracing::warn!(target: "scheduler::claims", task = %task.task_id, error = %e, "claim failed")
                }
            }
        }
        for (deal_id, indices) in untouched {
            let ctx = self.deal_ctx(&deal_id).await?;
            for chunk in indices.chunks(256) {
                let call = poco.claimBatch(
                    Bytes::from(ctx.row.encoded.clone()),
                    deal_id,
                    chunk.iter().map(|i| U256::from(*i)).collect(),
                );
                match send(&call).await {
                    Ok(_) => {
                        for i in chunk {
                            let id = dexec_primitives::task_id(deal_id, *i);
                            self.db.set_task_status(&id, ts::FAILED).await?;
                        }
                        tracing::warn!(target: "scheduler::claims", deal = %deal_id, tasks = chunk.len(), "expired tasks claimed");
                    }
                    Err(e) => {
                        tracing::warn!(target: "scheduler::claims", deal = %deal_id, error = %e, "claimBatch failed")
                    }
                }
            }
        }
        Ok(())
    }
}

fn set_waiting(workers: &Mutex<HashMap<Address, WorkerEntry>>, worker: Address, delta: i32) {
    if let Some(w) = lock(workers).get_mut(&worker) {
        w.waiting = w.waiting.saturating_add_signed(delta);
    }
}
