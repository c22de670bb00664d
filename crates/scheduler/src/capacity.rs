//! How many tasks the pool can promise: the volume of the workerpool order the scheduler keeps
//! open follows what its workers can finish before the category's deadlines, so a requester
//! cannot take more tasks than the pool can settle and then claim the rest (the scheduler's
//! stake on each). Pure rules here; the scheduler measures the [`Load`] and the offer loop
//! (`offer.rs`) applies [`CapacityRule::volume`].
//!
//! ```text
//! window    = deadline ratio (10 for trust 1, 7 = contributions for trust > 1) × T
//!             × (100 − margin %) / 100
//! rounds    = ⌊window / d⌋           d = measured replicate duration (p90 of the recent
//!                                        ones), or the replicate timeout (T) before enough
//!                                        were measured
//! capacity  = slots × rounds / replicates per task (at the offered trust, weakest worker)
//! volume    = min(--offer-volume, capacity − tasks accepted and not settled)
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use alloy::primitives::B256;
use dexec_primitives::category::{CONTRIBUTION_DEADLINE_RATIO, FINAL_DEADLINE_RATIO};
use dexec_primitives::poco::{has_consensus, weight, MAX_CONTRIBUTORS};

/// The highest trust the hub accepts in a match (`dexec_primitives::poco::MAX_TRUST`): what
/// [`MAX_CONTRIBUTORS`] fresh workers (weight 2 each, group weight 2^16) can reach under the
/// consensus rule.
pub const HUB_MAX_TRUST: u64 = dexec_primitives::poco::MAX_TRUST as u64;

/// Share of the deadline window held back by default, percent: settlement, re-assignment after
/// a lost worker and slower tasks than measured take from it.
pub const DEFAULT_MARGIN_PERCENT: u64 = 50;

/// Replicate durations kept for the estimate.
const SAMPLES: usize = 64;
/// Durations needed before the estimate replaces the conservative default.
const MIN_SAMPLES: usize = 5;
/// The shortest duration counted (a task never takes a slot for less: reports, settlement).
const MIN_DURATION: Duration = Duration::from_secs(1);

/// What the scheduler measures, as the offer loop reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    /// Replicates the alive workers that can take the offered tag run at once (the sum of
    /// their `maxConcurrent`).
    pub slots: u64,
    /// Tasks accepted (in deals of this pool) and not settled yet.
    pub unfinished: u64,
    /// The recent replicates' duration (90th percentile), once enough were measured.
    pub duration: Option<Duration>,
    /// First block whose events are not processed yet (deals matched before it are counted
    /// in `unfinished`).
    pub next_block: u64,
}

/// The rule turning a [`Load`] into a capacity, for the offered category and trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityRule {
    /// The category's time reference T, seconds.
    pub timeref: u64,
    /// The offered trust.
    pub trust: u64,
    /// Sarmenta weight of the weakest worker the pool admits (2 for a fresh one).
    pub worker_weight: u64,
    /// Share of the deadline window held back, percent (0..=90).
    pub margin_percent: u64,
    /// A replicate's duration assumed before any is measured (the replicate timeout: T
    /// unless `--replicate-timeout-secs`).
    pub default_duration: Duration,
}

impl CapacityRule {
    /// The rule for category time reference `timeref` seconds at `trust`, for workers admitted
    /// from on-chain score `min_worker_score`, with the default margin.
    pub fn new(timeref: u64, trust: u64, min_worker_score: u64) -> Self {
        Self {
            timeref,
            trust: trust.max(1),
            worker_weight: weight(min_worker_score),
            margin_percent: DEFAULT_MARGIN_PERCENT,
            default_duration: Duration::from_secs(timeref),
        }
    }

    /// Seconds in which a task accepted now must be done with the pool's slots: the final
    /// deadline (trust 1) or the contribution deadline (replicated), less the margin.
    pub fn window(&self) -> u64 {
        let ratio = if self.trust <= 1 {
            FINAL_DEADLINE_RATIO
        } else {
            CONTRIBUTION_DEADLINE_RATIO
        };
        let whole = ratio.saturating_mul(self.timeref);
        whole.saturating_mul(100 - self.margin_percent.min(100)) / 100
    }

    /// Replicates a task needs at the offered trust when every one comes from the weakest
    /// admitted worker (the hub's consensus rule, unanimous votes); `None` if even
    /// [`MAX_CONTRIBUTORS`] of them cannot reach it.
    pub fn replicates_per_task(&self) -> Option<u64> {
        replicates_needed(self.trust, self.worker_weight)
    }

    /// Tasks the pool can finish within [`window`](Self::window), in all, with `slots` slots
    /// and replicates lasting `measured` (or the default before anything was measured).
    pub fn capacity(&self, slots: u64, measured: Option<Duration>) -> u64 {
        let Some(per_task) = self.replicates_per_task() else {
            return 0;
        };
        let duration = measured
            .unwrap_or(self.default_duration)
            .max(MIN_DURATION)
            .as_secs();
        let rounds = self.window() / duration.max(1);
        slots.saturating_mul(rounds) / per_task
    }

    /// The volume to offer: what the capacity leaves after the tasks accepted already, at
    /// most `cap` (the operator's `--offer-volume`).
    pub fn volume(&self, load: &Load, cap: u64) -> u64 {
        self.capacity(load.slots, load.duration)
            .saturating_sub(load.unfinished)
            .min(cap)
    }
}

/// The fewest unanimous replicates of weight `weight` that reach consensus at `trust`, within
/// the hub's contributor cap.
pub fn replicates_needed(trust: u64, weight: u64) -> Option<u64> {
    if trust <= 1 {
        return Some(1);
    }
    let trust = u32::try_from(trust).ok()?;
    let vote = B256::repeat_byte(1);
    (1..=MAX_CONTRIBUTORS)
        .find_map(|n| has_consensus(trust, &vec![(vote, weight); n]).then_some(n as u64))
}

/// The highest trust a pool whose workers all have at least `weight` can reach with
/// [`MAX_CONTRIBUTORS`] unanimous votes, at most [`HUB_MAX_TRUST`] (what the hub accepts).
pub fn max_reachable_trust(weight: u64) -> u64 {
    // the group weight is the product of the votes' weights; consensus holds while
    // group · trust > (1 + group) · (trust − 1), i.e. trust ≤ group
    let group = (0..MAX_CONTRIBUTORS).fold(1u64, |g, _| g.saturating_mul(weight.max(1)));
    group.min(HUB_MAX_TRUST)
}

/// Recent replicate durations (assignment to result, or to failure or timeout).
#[derive(Debug, Default)]
pub struct Durations {
    samples: VecDeque<Duration>,
}

impl Durations {
    /// Count one replicate's duration in.
    pub fn record(&mut self, duration: Duration) {
        if self.samples.len() == SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(duration);
    }

    /// The 90th percentile of the recent durations, once enough were measured.
    pub fn estimate(&self) -> Option<Duration> {
        if self.samples.len() < MIN_SAMPLES {
            return None;
        }
        let mut sorted: Vec<Duration> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        let rank = (sorted.len() * 9).div_ceil(10);
        sorted.get(rank.saturating_sub(1)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xs(trust: u64) -> CapacityRule {
        CapacityRule::new(300, trust, 0)
    }

    #[test]
    fn before_anything_is_measured_each_slot_counts_a_full_time_reference_per_task() {
        let rule = xs(1);
        // 10 T = 3000 s, half held back: 1500 s, one task per 300 s per slot
        assert_eq!(rule.window(), 1_500);
        assert_eq!(rule.capacity(1, None), 5);
        assert_eq!(rule.capacity(4, None), 20);
        assert_eq!(rule.capacity(0, None), 0, "no worker, no task");
    }

    #[test]
    fn measured_durations_raise_or_lower_the_capacity() {
        let rule = xs(1);
        assert_eq!(rule.capacity(2, Some(Duration::from_secs(30))), 100);
        // slower than T (a pool with --replicate-timeout-secs above T): fewer than the default
        assert_eq!(rule.capacity(2, Some(Duration::from_secs(600))), 4);
        // a duration under a second counts as one second
        assert_eq!(rule.capacity(1, Some(Duration::from_millis(20))), 1_500);
        // a task longer than the whole window: none
        assert_eq!(rule.capacity(8, Some(Duration::from_secs(2_000))), 0);
    }

    #[test]
    fn the_review_scenario_offers_what_the_pool_finishes_not_a_thousand() {
        // the pool of the review finished 20 tasks in 10 T (2 slots, 300 s a task): it offers
        // half of that, whatever the operator's cap
        let rule = xs(1);
        let load = Load {
            slots: 2,
            unfinished: 0,
            duration: Some(Duration::from_secs(300)),
            next_block: 0,
        };
        assert_eq!(rule.volume(&load, 1_000), 10);
        assert!(rule.volume(&load, 1_000) <= 20);
    }

    #[test]
    fn tasks_already_accepted_come_off_the_volume_and_the_cap_bounds_it() {
        let rule = xs(1);
        let mut load = Load {
            slots: 4,
            unfinished: 0,
            duration: None,
            next_block: 0,
        };
        assert_eq!(rule.volume(&load, 1_000), 20);
        assert_eq!(rule.volume(&load, 7), 7, "--offer-volume is a cap");
        load.unfinished = 15;
        assert_eq!(rule.volume(&load, 1_000), 5);
        load.unfinished = 25;
        assert_eq!(
            rule.volume(&load, 1_000),
            0,
            "over capacity: nothing offered"
        );
    }

    #[test]
    fn the_margin_holds_back_its_share_of_the_window() {
        let mut rule = xs(1);
        rule.margin_percent = 0;
        assert_eq!(rule.capacity(1, None), 10);
        rule.margin_percent = 90;
        assert_eq!(rule.capacity(1, None), 1);
        rule.margin_percent = 80;
        rule.default_duration = Duration::from_secs(100);
        assert_eq!(rule.capacity(1, None), 6);
    }

    #[test]
    fn replicated_tasks_use_the_contribution_window_and_several_replicates() {
        // trust 2: one fresh vote (weight 2) is a consensus; trust 3 needs two
        assert_eq!(replicates_needed(2, 2), Some(1));
        assert_eq!(replicates_needed(3, 2), Some(2));
        assert_eq!(replicates_needed(4, 2), Some(2));
        assert_eq!(replicates_needed(5, 2), Some(3));
        assert_eq!(replicates_needed(1 << 16, 2), Some(16));
        assert_eq!(
            replicates_needed((1 << 16) + 1, 2),
            None,
            "beyond 16 fresh workers"
        );
        // veterans (score 30: weight 9) need fewer
        assert_eq!(replicates_needed(5, weight(30)), Some(1));
        let rule = xs(3);
        // 7 T = 2100 s, half: 1050 s, 3 rounds of 300 s per slot, 2 replicates a task
        assert_eq!(rule.window(), 1_050);
        assert_eq!(rule.capacity(4, None), 6);
        assert_eq!(
            xs(70_000).capacity(100, None),
            0,
            "an unreachable trust: nothing"
        );
    }

    #[test]
    fn the_reachable_trust_is_what_sixteen_votes_reach_and_the_hub_accepts() {
        assert_eq!(max_reachable_trust(2), 65_536);
        assert_eq!(max_reachable_trust(weight(0)), HUB_MAX_TRUST);
        // veterans could reach more, the hub accepts no more
        assert_eq!(max_reachable_trust(9), HUB_MAX_TRUST);
        // the same figure as the consensus rule itself: 16 fresh votes reach 2^16, not one more
        let votes = vec![(B256::repeat_byte(7), 2); MAX_CONTRIBUTORS];
        assert!(has_consensus(65_536, &votes));
        assert!(!has_consensus(65_537, &votes));
    }

    #[test]
    fn the_duration_estimate_is_the_ninetieth_percentile_once_enough_are_measured() {
        let mut durations = Durations::default();
        for s in 1..=4 {
            durations.record(Duration::from_secs(s));
        }
        assert_eq!(durations.estimate(), None, "4 samples are not enough");
        for s in 5..=10 {
            durations.record(Duration::from_secs(s));
        }
        assert_eq!(durations.estimate(), Some(Duration::from_secs(9)));
        // only the recent ones count: 64 fast replicates push the slow ones out
        for _ in 0..SAMPLES {
            durations.record(Duration::from_secs(2));
        }
        assert_eq!(durations.estimate(), Some(Duration::from_secs(2)));
        // one slow replicate in ten moves the estimate
        for _ in 0..7 {
            durations.record(Duration::from_secs(100));
        }
        assert_eq!(durations.estimate(), Some(Duration::from_secs(100)));
    }
}
