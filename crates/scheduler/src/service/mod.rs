//! The scheduler itself: its shared state ([`Scheduler`]) and the deal cache here; by
//! concern: [`workers`] (registry, sessions, admission), [`assign`] (long poll, assignment),
//! [`reports`] (what a worker's report moves and what it must do next), [`events`] (the
//! chain's events in), [`settle`] (finalize / reopen / pushResults / claim out) and
//! [`watchdog`] (lost workers, timed-out replicates).

mod assign;
mod events;
mod reports;
mod settle;
mod watchdog;
mod workers;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use alloy::primitives::{Address, Bytes, B256};
use dexec_primitives::deal::Deal;
use dexec_sdk::{Client, DealRef, TaskRef};
use tokio::sync::Notify;

use crate::capacity::{Durations, Load};
use crate::config::Config;
use crate::db::{Db, DealRow};
use crate::error::{Error, Result};
use crate::offer::OfferStats;
use crate::state::{ReplicateStatus as Rs, TaskStatus};

pub(crate) use settle::BatchCounts;

pub(crate) use workers::WorkerEntry;

/// Most deals whose decoded terms are kept in memory. A deal out of the cache is read back
/// from the database (one query) when one of its tasks is touched again; finished deals are
/// never touched again and leave it.
const DEAL_CACHE_CAPACITY: usize = 1_024;

/// A deal as stored, with its terms decoded (the SDK's [`DealRef`], which the execution
/// calls take).
#[derive(Debug)]
pub(crate) struct DealCtx {
    pub row: DealRow,
    pub terms: DealRef,
}

impl DealCtx {
    /// A stored deal, decoded (by `Deal::decode`, through [`DealRef::new`]). The deal decoded
    /// when its `DealCreated` event arrived; bytes that no longer decode are a corrupted
    /// database.
    fn from_row(row: DealRow) -> Result<Self> {
        let terms = DealRef::new(row.deal_id, Bytes::from(row.encoded.clone()), row.block)
            .map_err(|e| Error::Corrupt(format!("deal {}: {e}", row.deal_id)))?;
        Ok(Self { row, terms })
    }

    /// The deal's terms.
    pub fn deal(&self) -> &Deal {
        self.terms.deal()
    }

    /// The tag bits a worker must offer to run this deal's tasks: the deal's own, and
    /// `container` for a container app (whatever the orders said).
    pub fn required_tags(&self) -> B256 {
        self.deal().tag | dexec_primitives::tag::required_by_app_type(&self.row.app_type)
    }

    /// Task `index` of this deal, as the execution calls name it.
    pub fn task(&self, index: u64) -> Result<TaskRef> {
        Ok(self.terms.task(index)?)
    }
}

/// The deals in use, least recently used out first once [`DEAL_CACHE_CAPACITY`] is reached.
#[derive(Debug)]
struct DealCache {
    capacity: usize,
    entries: HashMap<B256, (Arc<DealCtx>, u64)>,
    clock: u64,
}

impl DealCache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            clock: 0,
        }
    }

    fn get(&mut self, deal_id: &B256) -> Option<Arc<DealCtx>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(deal_id).map(|(ctx, used)| {
            *used = clock;
            ctx.clone()
        })
    }

    fn insert(&mut self, deal_id: B256, ctx: Arc<DealCtx>) {
        self.clock += 1;
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&deal_id) {
            // a scan on a miss only: misses cost a database query anyway
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| *id)
            {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(deal_id, (ctx, self.clock));
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The scheduler's shared state.
pub(crate) struct Scheduler {
    pub config: Config,
    pub client: Client,
    pub db: Db,
    /// What the offer loop did, shown by `GET /health`.
    pub offer: Arc<OfferStats>,
    /// What the fill loop decided about the market's requests (`GET /requests`).
    pub fills: Arc<crate::fill::FillBook>,
    /// What the scheduler measures for the offer's capacity, published after every tick.
    pub load: tokio::sync::watch::Sender<Option<Load>>,
    /// Recent replicate durations.
    durations: Mutex<Durations>,
    /// Batches that failed and the tasks now settled alone (`settle.rs`).
    batches: settle::Batches,
    /// Settlement transactions watched for reorgs (`settle.rs`).
    settlements: settle::Settlements,
    workers: Mutex<HashMap<Address, WorkerEntry>>,
    challenges: Mutex<HashMap<Address, (String, Instant)>>,
    deals: Mutex<DealCache>,
    assign_lock: tokio::sync::Mutex<()>,
    /// Woken when work may have appeared (new deal, freed replicate).
    work: Notify,
    /// Latest chain timestamp seen.
    chain_time: AtomicU64,
    /// First block whose events are not processed yet.
    next_block: AtomicU64,
    /// Prometheus metrics (`GET /metrics`).
    pub metrics: crate::metrics::SchedulerMetrics,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Scheduler {
    pub async fn new(config: Config) -> Result<Arc<Self>> {
        let client = Client::connect_patiently(
            &config.chain,
            Some(config.signer.clone()),
            config.rpc_timeout,
            dexec_service::START_PATIENCE,
        )
        .await?;
        let db = Db::connect(&config.db_url).await?;
        let next = db.next_block().await?.unwrap_or(config.from_block);
        let now = client.now().await?;
        Ok(Arc::new(Self {
            config,
            client,
            db,
            offer: Arc::default(),
            fills: Arc::default(),
            load: tokio::sync::watch::Sender::new(None),
            durations: Mutex::default(),
            batches: settle::Batches::default(),
            settlements: settle::Settlements::default(),
            workers: Mutex::default(),
            challenges: Mutex::default(),
            deals: Mutex::new(DealCache::new(DEAL_CACHE_CAPACITY)),
            assign_lock: tokio::sync::Mutex::new(()),
            work: Notify::new(),
            chain_time: AtomicU64::new(now),
            next_block: AtomicU64::new(next),
            metrics: crate::metrics::SchedulerMetrics::new(),
        }))
    }

    pub fn owner(&self) -> Address {
        self.config.signer.address()
    }

    pub fn next_block(&self) -> u64 {
        self.next_block.load(Ordering::Relaxed)
    }

    /// Deals whose terms are in memory.
    pub fn cached_deals(&self) -> usize {
        lock(&self.deals).len()
    }

    /// Count a replicate's duration (assignment to result, failure or timeout) in the
    /// capacity estimate.
    pub(crate) fn record_duration(&self, assigned_at_ms: i64) {
        let ms = crate::db::now_ms().saturating_sub(assigned_at_ms).max(0);
        lock(&self.durations).record(std::time::Duration::from_millis(ms as u64));
    }

    /// What the offer's capacity is computed from, now: the alive workers' slots for the
    /// offered tag, the tasks accepted and not settled, the measured durations.
    pub(crate) async fn measure_load(&self) -> Result<Load> {
        let tag = self
            .config
            .offer
            .as_ref()
            .map(|o| o.tag)
            .unwrap_or_default();
        let slots = lock(&self.workers)
            .values()
            .filter(|w| !w.lost && dexec_primitives::tag::is_subset(tag, w.caps.tags))
            .map(|w| u64::from(w.caps.max_concurrent))
            .sum();
        let open = TaskStatus::OPEN.map(TaskStatus::as_str);
        let unfinished = self
            .db
            .task_counts()
            .await?
            .into_iter()
            .filter(|(status, _)| open.contains(&status.as_str()))
            .map(|(_, n)| u64::try_from(n).unwrap_or(0))
            .sum();
        Ok(Load {
            slots,
            unfinished,
            duration: lock(&self.durations).estimate(),
            next_block: self.next_block(),
        })
    }

    /// What a scrape of `GET /metrics` shows, measured now.
    pub(crate) async fn refresh_metrics(&self) -> Result<()> {
        let tasks = self.db.task_counts().await?;
        let replicates = self.db.replicate_counts().await?;
        let busy = replicates
            .iter()
            .filter(|(status, _)| Rs::LIVE.iter().any(|l| l.as_str() == status))
            .map(|(_, n)| usize::try_from(*n).unwrap_or(0))
            .sum();
        let (registered, alive, slots) = {
            let workers = lock(&self.workers);
            let alive: Vec<_> = workers.values().filter(|w| !w.lost).collect();
            let slots = alive.iter().map(|w| w.caps.max_concurrent as usize).sum();
            (workers.len(), alive.len(), slots)
        };
        self.metrics.set_state(&crate::metrics::StateCounts {
            tasks,
            replicates,
            registered,
            alive,
            slots,
            busy,
        });
        self.metrics
            .set_loops(&self.offer.counts(), &self.fills.counts());
        Ok(())
    }

    /// The batch counters, for `GET /health`.
    pub(crate) fn batch_counts(&self) -> BatchCounts {
        self.batches.counts()
    }

    async fn deal_ctx(&self, deal_id: &B256) -> Result<Arc<DealCtx>> {
        if let Some(ctx) = lock(&self.deals).get(deal_id) {
            return Ok(ctx);
        }
        let row = self
            .db
            .deal(deal_id)
            .await?
            .ok_or_else(|| Error::Corrupt(format!("task of unknown deal {deal_id}")))?;
        let ctx = Arc::new(DealCtx::from_row(row)?);
        lock(&self.deals).insert(*deal_id, ctx.clone());
        Ok(ctx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ctx(n: u8) -> (B256, Arc<DealCtx>) {
        let deal = Deal::default();
        let row = DealRow {
            deal_id: B256::repeat_byte(n),
            encoded: deal.encode().unwrap(),
            params: String::new(),
            app_type: "WASM".into(),
            app_multiaddr: String::new(),
            app_checksum: B256::ZERO,
            dataset_multiaddr: String::new(),
            dataset_checksum: B256::ZERO,
            block: u64::from(n),
        };
        (row.deal_id, Arc::new(DealCtx::from_row(row).unwrap()))
    }

    #[test]
    fn the_deal_cache_keeps_the_deals_in_use_and_no_more() {
        let mut cache = DealCache::new(3);
        for n in 1..=3 {
            let (id, c) = ctx(n);
            cache.insert(id, c);
        }
        // deal 1 is in use; 2 is the least recently used when 4 arrives
        assert!(cache.get(&B256::repeat_byte(1)).is_some());
        let (id, c) = ctx(4);
        cache.insert(id, c);
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&B256::repeat_byte(2)).is_none(), "evicted");
        for kept in [1, 3, 4] {
            assert!(cache.get(&B256::repeat_byte(kept)).is_some(), "{kept} kept");
        }
        // a long-running scheduler sees many deals: the cache never grows past its capacity
        for n in 5..=200 {
            let (id, c) = ctx(n);
            cache.insert(id, c);
            assert!(cache.len() <= 3);
        }
        // re-inserting a cached deal does not evict another
        let (id, c) = ctx(200);
        cache.insert(id, c);
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&B256::repeat_byte(199)).is_some());
    }

    #[test]
    fn a_stored_deal_that_does_not_decode_is_a_corrupted_database() {
        let (_, good) = ctx(1);
        let mut row = good.row.clone();
        row.encoded.truncate(10);
        let err = DealCtx::from_row(row).unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)), "{err}");
    }
}
