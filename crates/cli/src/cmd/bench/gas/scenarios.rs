//! The measured flows of `dexec bench gas` and the figures each yields.

use std::time::Duration;

use super::measure::Measured;
use super::world::World;
use crate::cmd::bench::report::{Anchor, Target};

/// A run that takes longer is stuck (a local chain answers in milliseconds): fail, do not hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The measured flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scenario {
    MatchVolume1NoDataset,
    MatchVolume1WithDataset,
    MatchVolume100WithDataset,
    Deposit,
    Withdraw,
    CancelOrder,
    Trust1Task,
    Trust1StandingOrders,
    Trust3TwoWorkers,
    /// Three workers at trust 5 through the scheduler's `contributeBatch`.
    Trust5ThreeWorkers,
    /// The same task, each worker sending its own contribute and reveal.
    Trust5ThreeWorkersEach,
    BagOf100,
    Claim,
}

/// Scenario, name, anchor, target and note of one figure.
#[derive(Debug)]
pub(super) struct Spec {
    /// The flow that measures it.
    pub scenario: Scenario,
    pub name: &'static str,
    /// Steady-state anchor.
    pub anchor: Option<Anchor>,
    /// Anchor of the first (cold) run, where iExec's document has a comparable one.
    pub anchor_first: Option<Anchor>,
    pub target: Option<Target>,
    /// Printed under the table and kept in the JSON `notes`.
    pub note: Option<&'static str>,
}

impl Spec {
    const fn new(scenario: Scenario, name: &'static str) -> Self {
        Self {
            scenario,
            name,
            anchor: None,
            anchor_first: None,
            target: None,
            note: None,
        }
    }

    const fn anchor(mut self, value: u64, note: &'static str) -> Self {
        self.anchor = Some(Anchor { value, note });
        self
    }

    const fn anchor_first(mut self, value: u64, note: &'static str) -> Self {
        self.anchor_first = Some(Anchor { value, note });
        self
    }

    const fn target(mut self, max: u64, alarm: Option<(u64, &'static str)>) -> Self {
        self.target = Some(Target { max, alarm });
        self
    }

    const fn note(mut self, note: &'static str) -> Self {
        self.note = Some(note);
        self
    }
}

/// Every figure, grouped by scenario in the order of [`Scenario::ALL`], and within a scenario
/// in the order [`Scenario::run`] returns them.
///
/// Anchors are iExec PoCo v6.2 receipts measured on this machine under the same method
/// (`research/iexec-gas-measured.md`, "repeat" and "first" runs) or, for single calls marked
/// avg, the averages of iExec's own gas reports (`research/poco-contracts.md` section 9).
/// Targets: DESIGN section 8 for the per-task figures (trust-1 task, three workers, bag of
/// 100); the matchOrders target and its alarm (past which the design itself, not its tuning,
/// must change) are the hub's own budget, with no DESIGN line.
pub(super) const SPECS: &[Spec] = {
    use Scenario::*;
    &[
        Spec::new(MatchVolume1NoDataset, "match_volume1_no_dataset")
            .anchor(647_316, "matchOrders, repeat")
            .anchor_first(642_528, "matchOrders, first")
            .target(150_000, Some((250_000, "storage design must change"))),
        Spec::new(MatchVolume1WithDataset, "match_volume1_with_dataset")
            .anchor(768_031, "matchOrders, repeat")
            .anchor_first(763_219, "matchOrders, first"),
        Spec::new(MatchVolume100WithDataset, "match_volume100_with_dataset"),
        Spec::new(Deposit, "deposit").anchor(60_367, "deposit, account has a balance"),
        Spec::new(Withdraw, "withdraw").anchor(59_401, "withdraw, stays non-zero"),
        Spec::new(CancelOrder, "cancel_order").anchor(76_853, "manageRequestOrder avg"),
        Spec::new(Trust1Task, "contribute_and_finalize")
            .anchor(642_656, "contributeAndFinalize avg")
            .note(
                "the trust-1 fast path alone, sent by the worker. The anchor is the average \
                 over iExec's tests (poco-contracts.md 9); iExec's receipt in these \
                 conditions: 432,727 repeat, 484,027 first (iexec-gas-measured.md 3.1)",
            ),
        Spec::new(Trust1Task, "task_trust1_total")
            .anchor(
                1_302_380,
                "match + initialize + contributeAndFinalize, repeat",
            )
            .anchor_first(
                1_348_892,
                "match + initialize + contributeAndFinalize, first",
            )
            .target(200_000, None)
            .note("matchOrders (volume 1, no dataset) + contributeAndFinalize, one run"),
        Spec::new(Trust1StandingOrders, "match_volume1_standing_orders").note(
            "a new volume-1 request matched against standing app and workerpool orders \
             (volume 1000, already matched once): the common case in a live market",
        ),
        Spec::new(Trust1StandingOrders, "task_trust1_total_standing_orders")
            .target(200_000, None)
            .note("match_volume1_standing_orders + contributeAndFinalize"),
        Spec::new(Trust3TwoWorkers, "task_trust3_two_workers_total")
            .anchor(1_955_594, "trust 3, 2 workers, repeat")
            .anchor_first(2_043_758, "trust 3, 2 workers, first")
            .note("trust 3: matchOrders + 2 contribute + 2 reveal + finalize"),
        Spec::new(Trust5ThreeWorkers, "task_trust3_three_workers_total")
            .anchor(2_333_065, "trust 8, 3 workers, repeat")
            .anchor_first(2_450_701, "trust 8, 3 workers, first")
            .target(600_000, None)
            .note(
                "measured at TRUST 5, not 3: fresh workers weigh 2, so at trust 3 or 4 the \
                 second agreeing vote reaches consensus and a third contribution is refused; \
                 trust 5 is the lowest needing all three. The path a scheduler takes: \
                 matchOrders + one contributeBatch carrying the three workers' signed \
                 contributions + finalize with the digest (it proves each winner's seal: \
                 nobody reveals)",
            ),
        Spec::new(Trust5ThreeWorkers, "contribute_batch_three_workers").note(
            "the scheduler's contributeBatch of the trust-5 task: three workers' EIP-191-signed \
             contributions in one transaction, the third reaching consensus",
        ),
        Spec::new(Trust5ThreeWorkers, "finalize")
            .anchor(403_856, "finalize avg")
            .note(
                "finalize of the trust-5 task after the batch: 3 winners proved by the digest, \
                 none revealed",
            ),
        Spec::new(Trust5ThreeWorkersEach, "task_trust3_three_workers_each_total").note(
            "the same trust-5 task on the workers' own path: matchOrders + 3 contribute + 3 \
             reveal + finalize",
        ),
        Spec::new(Trust5ThreeWorkersEach, "contribute")
            .anchor(346_973, "contribute avg")
            .note("first contribution of the trust-5 task, sent by its worker"),
        Spec::new(Trust5ThreeWorkersEach, "contribute_consensus")
            .anchor(372_771, "contribute #3 reaching consensus, trust 8, repeat")
            .anchor_first(367_971, "contribute #3 reaching consensus, trust 8, first")
            .note("third contribution of the trust-5 task, the one reaching consensus, sent by its worker"),
        Spec::new(Trust5ThreeWorkersEach, "reveal")
            .anchor(78_544, "reveal avg")
            .note("first reveal of the trust-5 task on the workers' own path"),
        Spec::new(BagOf100, "bag100_per_task")
            .anchor(
                661_537,
                "match/100 + initialize + contributeAndFinalize, repeat",
            )
            .target(25_000, None)
            .note(
                "(matchOrders of volume 100 + 2 pushResults of 50 tasks, one worker each, sent \
                 by the scheduler) / 100, no dataset",
            ),
        Spec::new(Claim, "claim").anchor(181_535, "claim avg").note(
            "a trust-1 task nobody settled, claimed by the requester once past its final \
             deadline (start + 10 x 300 s): the payer gets its price back, the scheduler's stake \
             goes to the kitty",
        ),
    ]
};

impl Scenario {
    pub(super) const ALL: [Self; 13] = [
        Self::MatchVolume1NoDataset,
        Self::MatchVolume1WithDataset,
        Self::MatchVolume100WithDataset,
        Self::Deposit,
        Self::Withdraw,
        Self::CancelOrder,
        Self::Trust1Task,
        Self::Trust1StandingOrders,
        Self::Trust3TwoWorkers,
        Self::Trust5ThreeWorkers,
        Self::Trust5ThreeWorkersEach,
        Self::BagOf100,
        Self::Claim,
    ];

    /// The figures one run yields, in the order [`Scenario::run`] returns them.
    pub(super) fn specs(self) -> Vec<&'static Spec> {
        SPECS.iter().filter(|s| s.scenario == self).collect()
    }

    /// [`Scenario::run`], failing instead of hanging if it gets stuck.
    pub(super) async fn run_bounded(self, world: &mut World) -> eyre::Result<Vec<Measured>> {
        tokio::time::timeout(RUN_TIMEOUT, self.run(world))
            .await
            .map_err(|_| eyre::eyre!("no result after {RUN_TIMEOUT:?}"))?
    }

    /// Run the scenario once with new orders; the gas of each of its figures.
    async fn run(self, world: &mut World) -> eyre::Result<Vec<Measured>> {
        Ok(match self {
            Self::MatchVolume1NoDataset => vec![world.match_orders(1, false).await?],
            Self::MatchVolume1WithDataset => vec![world.match_orders(1, true).await?],
            Self::MatchVolume100WithDataset => vec![world.match_orders(100, true).await?],
            Self::Deposit => vec![world.deposit().await?],
            Self::Withdraw => vec![world.withdraw().await?],
            Self::CancelOrder => vec![world.cancel_request().await?],
            Self::Trust1Task => {
                let (matched, settle) = world.trust1_task().await?;
                vec![settle, matched + settle]
            }
            Self::Trust1StandingOrders => {
                let (matched, settle) = world.trust1_task_standing().await?;
                vec![matched, matched + settle]
            }
            Self::Trust3TwoWorkers => vec![world.replicated_task(3, 2).await?.total()],
            Self::Trust5ThreeWorkers => {
                let run = world.replicated_task_batch(5, 3).await?;
                vec![run.total(), run.contributed, run.finalize]
            }
            Self::Trust5ThreeWorkersEach => {
                let run = world.replicated_task(5, 3).await?;
                vec![
                    run.total(),
                    run.contributions[0],
                    run.contributions[2],
                    run.reveals[0],
                ]
            }
            Self::BagOf100 => vec![world.bag_of_100().await?],
            Self::Claim => vec![world.claim().await?],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_follow_the_scenarios_in_order_with_unique_names() {
        let order: Vec<Scenario> = Scenario::ALL
            .iter()
            .flat_map(|&s| std::iter::repeat_n(s, s.specs().len()))
            .collect();
        let table: Vec<Scenario> = SPECS.iter().map(|s| s.scenario).collect();
        assert_eq!(
            order, table,
            "every scenario has figures, grouped in ALL's order"
        );
        let mut names: Vec<&str> = SPECS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SPECS.len(), "figure names are JSON keys");
    }
}
