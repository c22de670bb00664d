//! Proof-of-Contribution rules, as the hub applies them: vote hashes, the scheduler's
//! authorization, contribution statuses, Sarmenta weights and the consensus rule (with the
//! prediction a scheduler makes from running replicates), stakes and the reward split. Pure
//! functions, unit-tested here and checked against the deployed hub on random inputs
//! (`crates/contracts/tests/it/parity.rs`).

use std::collections::HashMap;

use alloy::primitives::{keccak256, Address, B256};

use crate::deal::Deal;

/// Most contributors a task accepts (`HubPoco`'s bound on its contributor list).
pub const MAX_CONTRIBUTORS: usize = 16;

/// Scheduler stake per task, in percent of the workerpool price, locked at match.
pub const SCHEDULER_STAKE_RATIO: u128 = 30;

/// The scheduler's stake for one task at `workerpool_price`: `price × 30 / 100`, rounded down
/// as the hub does.
pub const fn scheduler_stake(workerpool_price: u128) -> u128 {
    workerpool_price * SCHEDULER_STAKE_RATIO / 100
}

/// What winners share of a task's `pool` (workerpool price plus losers' stakes): all but the
/// scheduler's `scheduler_reward_ratio` percent, rounded down as the hub does.
pub const fn workers_reward(pool: u128, scheduler_reward_ratio: u8) -> u128 {
    pool * (100 - scheduler_reward_ratio as u128) / 100
}

/// A worker's contribution to a task, as `viewContribution` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContributionStatus {
    /// No contribution.
    Unset,
    /// A vote (`resultHash`, `resultSeal`) is on chain, not yet revealed.
    Contributed,
    /// The vote was revealed.
    Proved,
}

impl ContributionStatus {
    /// From the hub's status code (0, 1, 2); `None` for anything else.
    pub const fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(Self::Unset),
            1 => Some(Self::Contributed),
            2 => Some(Self::Proved),
            _ => None,
        }
    }

    /// The hub's status code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Unset => 0,
            Self::Contributed => 1,
            Self::Proved => 2,
        }
    }
}

/// The digest the scheduler signs to authorize `worker` on `task_id` with `enclave`:
/// `keccak256(worker ‖ taskId ‖ enclave)` (the hub checks its EIP-191 signature).
pub fn authorization_hash(worker: Address, task_id: B256, enclave: Address) -> B256 {
    let mut buf = [0u8; 72];
    buf[..20].copy_from_slice(worker.as_slice());
    buf[20..52].copy_from_slice(task_id.as_slice());
    buf[52..].copy_from_slice(enclave.as_slice());
    keccak256(buf)
}

/// The vote: `resultHash = keccak256(taskId ‖ digest)`.
pub fn result_hash(task_id: B256, digest: B256) -> B256 {
    keccak256([task_id.as_slice(), digest.as_slice()].concat())
}

/// The proof of knowledge: `resultSeal = keccak256(worker ‖ taskId ‖ digest)`; it binds the
/// worker, so nobody can copy another's vote.
pub fn result_seal(worker: Address, task_id: B256, digest: B256) -> B256 {
    keccak256([worker.as_slice(), task_id.as_slice(), digest.as_slice()].concat())
}

impl Deal {
    /// Timestamp by which a task of this deal must have its contributions (start + 7 × timeref).
    pub fn contribution_deadline(&self) -> u64 {
        self.start_time + crate::category::CONTRIBUTION_DEADLINE_RATIO * u64::from(self.timeref)
    }

    /// Timestamp by which contributors must reveal, for a consensus reached at `consensus_time`
    /// (consensus + 2 × timeref).
    pub fn reveal_deadline(&self, consensus_time: u64) -> u64 {
        consensus_time + crate::category::REVEAL_DEADLINE_RATIO * u64::from(self.timeref)
    }

    /// Timestamp after which an unfinished task can be claimed (start + 10 × timeref).
    pub fn final_deadline(&self) -> u64 {
        self.start_time + crate::category::FINAL_DEADLINE_RATIO * u64::from(self.timeref)
    }

    /// The scheduler's stake for one task of this deal.
    pub fn scheduler_stake(&self) -> u128 {
        scheduler_stake(self.workerpool_price)
    }
}

/// Highest Sarmenta weight the hub counts (reached at score 771).
pub const MAX_WEIGHT: u64 = 1 << 8;

/// A worker's Sarmenta weight from its on-chain score: `min(max(⌊score/3⌋, 3) − 1, 256)`
/// (`HubPoco._weight`).
pub fn weight(score: u64) -> u64 {
    ((score / 3).max(3) - 1).min(MAX_WEIGHT)
}

/// Whether a task of trust `trust` needs one more replicate, given the contributions on chain
/// (`(resultHash, weight)` in any order) and the weights of the replicates still running.
///
/// Trust ≤ 1: one replicate at a time. Otherwise the running replicates are assumed to join
/// the best group (the optimistic prediction iExec's scheduler makes too), and no replicate
/// is added while that prediction reaches the hub's consensus rule
/// `group · trust > total · (trust − 1)` with `total = 1 + Σ groups`.
pub fn needs_more_replicates(trust: u32, contributions: &[(B256, u64)], running: &[u64]) -> bool {
    if trust <= 1 {
        return contributions.is_empty() && running.is_empty();
    }
    let mut groups: HashMap<B256, u128> = HashMap::new();
    for (hash, w) in contributions {
        let group = groups.entry(*hash).or_insert(1);
        *group = group.saturating_mul(u128::from(*w));
    }
    let pending = running
        .iter()
        .fold(1u128, |acc, w| acc.saturating_mul(u128::from(*w)));
    let best = groups.values().copied().max();
    let sum: u128 = groups.values().copied().fold(0u128, u128::saturating_add);
    let (predicted, all) = match best {
        None if running.is_empty() => return true,
        None => (pending, pending),
        Some(best) => {
            let predicted = best.saturating_mul(pending);
            (predicted, sum - best + predicted)
        }
    };
    let trust = u128::from(trust);
    predicted.saturating_mul(trust) <= (1 + all).saturating_mul(trust - 1)
}

/// Whether the hub would have reached consensus on some group: the same rule, no prediction.
pub fn has_consensus(trust: u32, contributions: &[(B256, u64)]) -> bool {
    !contributions.is_empty() && !needs_more_replicates(trust, contributions, &[])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloy::sol_types::SolValue;

    #[test]
    fn hashes_are_packed_encodings() {
        let worker = Address::repeat_byte(1);
        let task = B256::repeat_byte(2);
        let digest = B256::repeat_byte(3);
        let enclave = Address::repeat_byte(4);
        assert_eq!(
            authorization_hash(worker, task, enclave),
            keccak256((worker, task, enclave).abi_encode_packed())
        );
        assert_eq!(
            result_hash(task, digest),
            keccak256((task, digest).abi_encode_packed())
        );
        assert_eq!(
            result_seal(worker, task, digest),
            keccak256((worker, task, digest).abi_encode_packed())
        );
    }

    #[test]
    fn deadlines_stakes_and_rewards() {
        let deal = Deal {
            start_time: 1_000,
            timeref: 300,
            workerpool_price: 1_000_000_001,
            ..Deal::default()
        };
        assert_eq!(deal.contribution_deadline(), 1_000 + 7 * 300);
        assert_eq!(deal.final_deadline(), 1_000 + 10 * 300);
        assert_eq!(deal.reveal_deadline(2_000), 2_000 + 2 * 300);
        assert_eq!(deal.scheduler_stake(), 300_000_000);
        assert_eq!(workers_reward(1_000, 5), 950);
        assert_eq!(workers_reward(999, 0), 999);
        for code in 0..3 {
            assert_eq!(
                u64::from(ContributionStatus::from_code(code).unwrap().code()),
                code
            );
        }
        assert_eq!(ContributionStatus::from_code(3), None);
    }

    const A: B256 = B256::repeat_byte(0xa);
    const B: B256 = B256::repeat_byte(0xb);

    #[test]
    fn weights_follow_the_hub() {
        assert_eq!(weight(0), 2);
        assert_eq!(weight(11), 2);
        assert_eq!(weight(12), 3);
        assert_eq!(weight(30), 9);
        assert_eq!(weight(771), 256);
        assert_eq!(weight(u64::MAX), 256);
    }

    #[test]
    fn trust_one_runs_one_replicate() {
        assert!(needs_more_replicates(1, &[], &[]));
        assert!(!needs_more_replicates(1, &[], &[2]));
        assert!(!needs_more_replicates(0, &[(A, 2)], &[]));
    }

    #[test]
    fn fresh_workers_need_two_agreeing_for_trust_three_and_four() {
        // trust 2: one fresh worker alone reaches consensus (2·2 > 3·1), as on chain
        assert!(needs_more_replicates(2, &[], &[]));
        assert!(!needs_more_replicates(2, &[], &[2]));
        assert!(has_consensus(2, &[(A, 2)]));
        for trust in 3..=4 {
            assert!(needs_more_replicates(trust, &[], &[]), "trust {trust}");
            assert!(needs_more_replicates(trust, &[], &[2]), "trust {trust}");
            assert!(!needs_more_replicates(trust, &[], &[2, 2]), "trust {trust}");
            assert!(
                !needs_more_replicates(trust, &[(A, 2)], &[2]),
                "trust {trust}"
            );
            assert!(has_consensus(trust, &[(A, 2), (A, 2)]), "trust {trust}");
        }
        // trust 5 needs three
        assert!(needs_more_replicates(5, &[], &[2, 2]));
        assert!(!needs_more_replicates(5, &[], &[2, 2, 2]));
        assert!(has_consensus(5, &[(A, 2), (A, 2), (A, 2)]));
        assert!(!has_consensus(5, &[(A, 2), (A, 2)]));
    }

    #[test]
    fn a_disagreement_asks_for_more() {
        // trust 3 with fresh workers: one early liar costs two more honest contributions
        assert!(!has_consensus(3, &[(B, 2), (A, 2), (A, 2)]));
        assert!(needs_more_replicates(3, &[(B, 2), (A, 2), (A, 2)], &[]));
        assert!(has_consensus(3, &[(B, 2), (A, 2), (A, 2), (A, 2)]));
    }
}
