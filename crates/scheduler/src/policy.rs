//! Scheduling policy: how many replicates a task needs (Sarmenta's credibility, as the hub
//! computes it) and worker weights. Pure functions, unit-tested.

use std::collections::HashMap;

use alloy::primitives::B256;

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
    use super::*;

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
