//! The scheduler's Prometheus metrics (`GET /metrics`) and what `GET /health` checks.

use dexec_service::metrics::{
    latency_family, latency_histogram, registry, set_counts, ByOp, ByStatus, Counter, Family,
    Freshness, Gauge, Histogram, HttpMetrics, LatencyFamily, Registry,
};

use crate::state::{ReplicateStatus, TaskStatus};

/// Past this long without a successful tick (events read, settlement done), the scheduler
/// is unhealthy: it neither sees new deals nor settles what its workers computed.
pub(crate) const TICK_STALE: std::time::Duration = std::time::Duration::from_secs(60);

/// The scheduler's settling transactions.
const SETTLING: [&str; 2] = ["finalize", "pushResults"];

/// Every metric the scheduler exports.
pub(crate) struct SchedulerMetrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    tasks: Family<ByStatus, Gauge>,
    replicates: Family<ByStatus, Gauge>,
    workers: Family<ByStatus, Gauge>,
    slots: Family<ByStatus, Gauge>,
    chain_lag: Gauge,
    /// Seconds from a task's arrival (its deal seen, or a reopen) to its first replicate
    /// assigned.
    pub assignment_latency: Histogram,
    /// Seconds from a task ready to settle (consensus reached, or a result held) to its
    /// settling transaction mined, by transaction (`finalize`, `pushResults`).
    pub settlement_latency: LatencyFamily<ByOp>,
    /// Gas of the scheduler's own transactions, by transaction.
    pub gas: Family<ByOp, Counter>,
    /// Replicates assigned.
    pub assigned: Counter,
    /// Successful ticks and how long ago the last one was.
    pub ticks: Freshness,
    /// Asks for work refused because the worker already runs as many replicates as its slots.
    pub refused_full: Counter,
    /// Tasks whose settlement a reorg dropped, settled again.
    reorged: Counter,
    /// The offer's capacity and volume (tasks).
    offer: Family<ByStatus, Gauge>,
    /// The offer loop's checks by outcome (published, refused, failed, closed).
    offer_checks: Family<ByStatus, Counter>,
    /// The fill loop's decisions (filled, refused, failed passes).
    fills: Family<ByStatus, Counter>,
}

impl SchedulerMetrics {
    pub fn new() -> Self {
        let mut registry = registry();
        let http = HttpMetrics::register(&mut registry);
        let tasks = Family::<ByStatus, Gauge>::default();
        let replicates = Family::<ByStatus, Gauge>::default();
        let workers = Family::<ByStatus, Gauge>::default();
        let slots = Family::<ByStatus, Gauge>::default();
        let chain_lag = Gauge::default();
        let assignment_latency = latency_histogram();
        let settlement_latency = latency_family::<ByOp>();
        let gas = Family::<ByOp, Counter>::default();
        let assigned = Counter::default();
        let refused_full = Counter::default();
        let reorged = Counter::default();
        registry.register(
            "scheduler_reorged_tasks",
            "Tasks whose settling transaction a reorg dropped (its block replaced, the transaction not mined again), settled again",
            reorged.clone(),
        );
        let offer = Family::<ByStatus, Gauge>::default();
        let offer_checks = Family::<ByStatus, Counter>::default();
        let fills = Family::<ByStatus, Counter>::default();
        registry.register(
            "scheduler_refused_full",
            "Asks for work refused because the worker already runs as many replicates as its slots",
            refused_full.clone(),
        );
        registry.register(
            "scheduler_offer_tasks",
            "The standing workerpool order: capacity (tasks the pool can finish before the deadlines) and volume (offered now: capacity less the tasks accepted, at most --offer-volume)",
            offer.clone(),
        );
        registry.register(
            "scheduler_offer_checks",
            "The offer loop's checks by outcome: published, refused (by the market), failed, closed (on chain: more than the pool can do)",
            offer_checks.clone(),
        );
        registry.register(
            "scheduler_fill_decisions",
            "The fill loop: deals made from requests (filled), requests refused by the policy, passes failed",
            fills.clone(),
        );
        registry.register(
            "scheduler_tasks",
            "Tasks of this workerpool's deals by status",
            tasks.clone(),
        );
        registry.register(
            "scheduler_replicates",
            "Replicates by status",
            replicates.clone(),
        );
        registry.register(
            "scheduler_workers",
            "Workers by state: registered, alive, lost",
            workers.clone(),
        );
        registry.register(
            "scheduler_worker_slots",
            "Slots of the alive workers: total, and busy (a live replicate in each)",
            slots.clone(),
        );
        registry.register(
            "chain_lag_blocks",
            "Blocks up to the chain's head whose events are not processed yet (confirmation depth included)",
            chain_lag.clone(),
        );
        registry.register(
            "scheduler_assignment_latency_seconds",
            "From a task's arrival to its first replicate assigned",
            assignment_latency.clone(),
        );
        registry.register(
            "scheduler_settlement_latency_seconds",
            "From a task ready to settle to its settling transaction mined, by transaction",
            settlement_latency.clone(),
        );
        registry.register(
            "gas_spent",
            "Gas of this service's transactions, by transaction",
            gas.clone(),
        );
        registry.register(
            "scheduler_assigned_replicates",
            "Replicates assigned to workers",
            assigned.clone(),
        );
        // every series a dashboard reads exists from the start (at 0), not from its first event
        for op in SETTLING {
            let _ = settlement_latency.get_or_create(&ByOp::new(op));
        }
        for status in ["capacity", "volume"] {
            let _ = offer.get_or_create(&ByStatus::new(status));
        }
        for status in ["published", "refused", "failed", "closed"] {
            let _ = offer_checks.get_or_create(&ByStatus::new(status));
        }
        for status in ["filled", "refused", "failed"] {
            let _ = fills.get_or_create(&ByStatus::new(status));
        }
        for op in SETTLING.iter().chain(&["reopen", "claim", "claimBatch"]) {
            let _ = gas.get_or_create(&ByOp::new(*op));
        }
        Self {
            registry,
            http,
            tasks,
            replicates,
            workers,
            slots,
            chain_lag,
            assignment_latency,
            settlement_latency,
            gas,
            assigned,
            ticks: Freshness::default(),
            refused_full,
            reorged,
            offer,
            offer_checks,
            fills,
        }
    }

    /// The counts a scrape shows, measured now.
    pub fn set_state(&self, state: &StateCounts) {
        let task_names: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
        set_counts(&self.tasks, state.tasks.iter().cloned(), &task_names);
        let replicate_names: Vec<&str> = ReplicateStatus::ALL.iter().map(|s| s.as_str()).collect();
        set_counts(
            &self.replicates,
            state.replicates.iter().cloned(),
            &replicate_names,
        );
        let gauge = |family: &Family<ByStatus, Gauge>, name: &str, n: usize| {
            family
                .get_or_create(&ByStatus::new(name))
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        };
        gauge(&self.workers, "registered", state.registered);
        gauge(&self.workers, "alive", state.alive);
        gauge(&self.workers, "lost", state.registered - state.alive);
        gauge(&self.slots, "total", state.slots);
        gauge(&self.slots, "busy", state.busy);
    }

    /// The offer and fill loops' figures (their own counters, kept for `GET /health`), copied
    /// at a scrape.
    pub fn set_loops(&self, offer: &crate::offer::OfferCounts, fill: &crate::fill::FillCounts) {
        let set = |name: &str, n: u64| {
            self.offer
                .get_or_create(&ByStatus::new(name))
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        };
        set("capacity", offer.capacity);
        set("volume", offer.volume);
        // a counter moves forward by what its source counted since the last scrape
        let follow = |family: &Family<ByStatus, Counter>, name: &str, total: u64| {
            let counter = family.get_or_create(&ByStatus::new(name));
            counter.inc_by(total.saturating_sub(counter.get()));
        };
        follow(&self.offer_checks, "published", offer.published);
        follow(&self.offer_checks, "refused", offer.refused);
        follow(&self.offer_checks, "failed", offer.failed);
        follow(&self.offer_checks, "closed", offer.closed);
        follow(&self.fills, "filled", fill.filled);
        follow(&self.fills, "refused", fill.refused);
        follow(&self.fills, "failed", fill.failed);
    }

    /// Blocks not processed yet, after a poll of the chain.
    pub fn set_chain_lag(&self, lag: u64) {
        self.chain_lag.set(i64::try_from(lag).unwrap_or(i64::MAX));
    }

    /// Gas of one of the scheduler's transactions.
    pub fn gas_spent(&self, op: &str, gas: u64) {
        self.gas.get_or_create(&ByOp::new(op)).inc_by(gas);
    }

    /// `tasks` tasks whose settlement a reorg dropped.
    pub fn reorged(&self, tasks: usize) {
        self.reorged
            .inc_by(u64::try_from(tasks).unwrap_or(u64::MAX));
    }

    /// A task's first replicate assigned, the task pending since `since_ms`.
    pub fn first_assigned(&self, since_ms: i64) {
        let ms = crate::db::now_ms().saturating_sub(since_ms).max(0);
        self.assignment_latency.observe(ms as f64 / 1000.0);
    }

    /// A task settled by `op`, ready since `ready_at_ms` (the database's clock).
    pub fn settled(&self, op: &str, ready_at_ms: i64) {
        let ms = crate::db::now_ms().saturating_sub(ready_at_ms).max(0);
        self.settlement_latency
            .get_or_create(&ByOp::new(op))
            .observe(ms as f64 / 1000.0);
    }
}

/// What a scrape counts, read from the database and the worker registry.
#[derive(Debug, Default)]
pub(crate) struct StateCounts {
    pub tasks: Vec<(String, i64)>,
    pub replicates: Vec<(String, i64)>,
    pub registered: usize,
    pub alive: usize,
    pub slots: usize,
    pub busy: usize,
}
