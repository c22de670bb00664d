//! Proof-of-Contribution rules, as the hub applies them: vote hashes, the scheduler's
//! authorization and the workers' signed contributions (`contributeBatch`), contribution
//! statuses, Sarmenta weights and the consensus rule (with the prediction a scheduler makes from
//! running replicates), deadlines and the reopen window, who may reveal, who wins a finalize,
//! who keeps its stake on a claim and where seized stakes go (the kitty), who gains reputation,
//! stakes and the reward split. Pure functions, unit-tested here and checked against the
//! deployed hub (`crates/contracts/tests/it/parity.rs`).

use std::collections::HashMap;

use alloy::primitives::{keccak256, Address, B256, U256};

use crate::deal::Deal;

/// Most contributors a task accepts (`HubPoco`'s bound on its contributor list).
pub const MAX_CONTRIBUTORS: usize = 16;

/// Highest trust a request may ask for (`Settlement.MAX_TRUST`, 2^16): [`MAX_CONTRIBUTORS`]
/// fresh workers of weight 2 reach consensus for any trust up to it, so every accepted trust is
/// reachable without relying on reputation; the hub refuses a higher one at match
/// (`TrustOutOfRange`), since such a task could only end in a claim.
pub const MAX_TRUST: u32 = 1 << 16;

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
    /// The vote was for a consensus nobody revealed, rejected by the scheduler's `reopen`: it
    /// can never reveal or win, and its stake is lost when the task settles.
    Rejected,
}

impl ContributionStatus {
    /// From the hub's status code (0, 1, 2, 3); `None` for anything else.
    pub const fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(Self::Unset),
            1 => Some(Self::Contributed),
            2 => Some(Self::Proved),
            3 => Some(Self::Rejected),
            _ => None,
        }
    }

    /// The hub's status code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Unset => 0,
            Self::Contributed => 1,
            Self::Proved => 2,
            Self::Rejected => 3,
        }
    }

    /// Whether this contribution may `reveal` a consensus it voted for: any vote not yet
    /// revealed and not rejected by a reopen, whatever the epoch it was cast in.
    pub const fn may_reveal(self) -> bool {
        matches!(self, Self::Contributed)
    }

    /// Whether a `reopen` of a consensus this contribution voted for rejects it: the votes for
    /// the rejected value not revealed (a reopen needs no reveal at all); every other vote
    /// stays and still counts.
    pub const fn rejected_by_reopen(self, voted_the_consensus: bool) -> bool {
        voted_the_consensus && matches!(self, Self::Contributed)
    }

    /// Whether a `claim` gives this contributor its stake back. On a task in consensus
    /// (`REVEALING`), only those who revealed it keep theirs (voters of other values and silent
    /// voters of the consensus lose it); on a task without consensus (`ACTIVE`), everyone but
    /// the voters of a rejected consensus does. A lost stake goes to the kitty, with a third of
    /// the contributor's score.
    pub const fn keeps_stake_on_claim(self, in_consensus: bool) -> bool {
        if in_consensus {
            matches!(self, Self::Proved)
        } else {
            !matches!(self, Self::Rejected)
        }
    }

    /// Whether a `finalize` with the consensus digest pays this contribution: it was not
    /// rejected and its (`resultHash`, `resultSeal`) commit to the digest with the worker's own
    /// seal (`commits_to_digest`). The digest proves every winner: no reveal is needed.
    pub const fn wins_finalize(self, commits_to_digest: bool) -> bool {
        commits_to_digest && matches!(self, Self::Contributed | Self::Proved)
    }
}

/// The money of one claimed task (`HubPoco.claim` and `claimBatch`): the payer gets the task's
/// price back and nothing more; the scheduler's stake and the stakes of the contributors who do
/// not keep theirs ([`ContributionStatus::keeps_stake_on_claim`]) go to the kitty, the account
/// of `address(0)`, from which nobody can withdraw and nothing is paid, so that no party gains
/// from making a task fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimOutcome {
    /// Unlocked and credited back to the payer: app + dataset + workerpool price.
    pub payer_refund: u128,
    /// Credited to the kitty: the scheduler's stake plus every seized worker stake.
    pub to_kitty: u128,
    /// Per contributor, in the order given: whether its stake comes back.
    pub kept: Vec<bool>,
}

impl ClaimOutcome {
    /// Worker stakes seized (part of [`ClaimOutcome::to_kitty`]).
    pub fn seized(&self, worker_stake: u128) -> u128 {
        worker_stake * self.kept.iter().filter(|k| !**k).count() as u128
    }
}

/// The kitty's address: seized stakes are credited to this account (`Settlement.KITTY`).
pub const KITTY: Address = Address::ZERO;

/// The digest the scheduler signs to authorize `worker` on `task_id` with `enclave`:
/// `keccak256(worker ‖ taskId ‖ enclave)` (the hub checks its EIP-191 signature).
pub fn authorization_hash(worker: Address, task_id: B256, enclave: Address) -> B256 {
    let mut buf = [0u8; 72];
    buf[..20].copy_from_slice(worker.as_slice());
    buf[20..52].copy_from_slice(task_id.as_slice());
    buf[52..].copy_from_slice(enclave.as_slice());
    keccak256(buf)
}

/// What a worker signs so that its scheduler may send its contribution in a `contributeBatch`:
/// `keccak256(taskId ‖ resultHash ‖ resultSeal ‖ enclaveChallenge)` (packed), signed as an
/// EIP-191 message (the hub checks it with the worker's key or, for a contract, ERC-1271). It
/// binds the vote, the seal and the enclave to the task, so the scheduler can neither forge a
/// vote nor lock a stake the worker did not offer.
pub fn contribution_hash(
    task_id: B256,
    result_hash: B256,
    result_seal: B256,
    enclave: Address,
) -> B256 {
    let mut buf = [0u8; 116];
    buf[..32].copy_from_slice(task_id.as_slice());
    buf[32..64].copy_from_slice(result_hash.as_slice());
    buf[64..96].copy_from_slice(result_seal.as_slice());
    buf[96..].copy_from_slice(enclave.as_slice());
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
    /// Timestamp by which a task of this deal that was never reopened takes contributions
    /// (start + 7 × timeref); a reopened one takes them until [`Deal::final_deadline`] (see
    /// [`Deal::contribution_deadline_in_epoch`]).
    pub fn contribution_deadline(&self) -> u64 {
        self.start_time + crate::category::CONTRIBUTION_DEADLINE_RATIO * u64::from(self.timeref)
    }

    /// Timestamp by which a task in epoch `epoch` (the number of reopens so far, `viewTask`)
    /// takes contributions: [`Deal::contribution_deadline`] in epoch 0, the final deadline once
    /// reopened, so that a consensus whose voters stay silent late cannot leave the task without
    /// a way to complete.
    pub fn contribution_deadline_in_epoch(&self, epoch: u8) -> u64 {
        if epoch == 0 {
            self.contribution_deadline()
        } else {
            self.final_deadline()
        }
    }

    /// Timestamp by which contributors may reveal, for a consensus reached at `consensus_time`:
    /// consensus + 2 × timeref, but never past the final deadline.
    pub fn reveal_deadline(&self, consensus_time: u64) -> u64 {
        let deadline =
            consensus_time + crate::category::REVEAL_DEADLINE_RATIO * u64::from(self.timeref);
        deadline.min(self.final_deadline())
    }

    /// When the scheduler may `reopen` a consensus nobody revealed, given its reveal deadline
    /// (`viewTask`): from the reveal deadline until the final deadline (excluded).
    pub fn reopen_window(&self, reveal_deadline: u64) -> std::ops::Range<u64> {
        reveal_deadline..self.final_deadline()
    }

    /// Timestamp after which an unfinished task can be claimed (start + 10 × timeref); the
    /// scheduler may `finalize` a task in consensus until then, with or without reveals.
    pub fn final_deadline(&self) -> u64 {
        self.start_time + crate::category::FINAL_DEADLINE_RATIO * u64::from(self.timeref)
    }

    /// The scheduler's stake for one task of this deal.
    pub fn scheduler_stake(&self) -> u128 {
        scheduler_stake(self.workerpool_price)
    }

    /// The money of claiming one task of this deal whose contributors have `statuses` (in
    /// contribution order; empty if nobody contributed), `in_consensus` if the task was
    /// `REVEALING` when claimed.
    pub fn claim_outcome(
        &self,
        in_consensus: bool,
        statuses: &[ContributionStatus],
    ) -> ClaimOutcome {
        let kept: Vec<bool> = statuses
            .iter()
            .map(|s| s.keeps_stake_on_claim(in_consensus))
            .collect();
        let seized = self.worker_stake * kept.iter().filter(|k| !**k).count() as u128;
        ClaimOutcome {
            payer_refund: self.app_price + self.dataset_price + self.workerpool_price,
            to_kitty: self.scheduler_stake() + seized,
            kept,
        }
    }

    /// Whether a winning `worker` of a finalized task of this deal gains a point of reputation:
    /// only from work someone else paid for. A task with a single contributor gains none, nor
    /// does one whose payer or requester is the workerpool's owner or the worker itself (a
    /// self-dealing loop farms nothing).
    pub fn scores(&self, worker: Address, contributors: usize) -> bool {
        contributors > 1
            && self.payer != self.workerpool_owner
            && self.requester != self.workerpool_owner
            && worker != self.payer
            && worker != self.requester
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
/// that still count (`(resultHash, weight)` in any order; leave out those a reopen rejected:
/// the hub drops their group) and the weights of the replicates still running.
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

/// One vote counted as the hub counts it (`HubPoco._contribute`), for a task of trust `trust`
/// (> 1): the voters' `group` of its result hash (its product of weights; zero for a new group,
/// `viewGroup`) and the task's Sarmenta `total` (1 + Σ groups; 1 for a fresh task, `viewTask`)
/// with a voter of weight `weight` ([`weight`]). Returns the group and total after the vote and
/// whether the group then reaches consensus: `group · trust > total · (trust − 1)`, after which
/// the task takes no more contributions.
pub fn count_vote(trust: u32, group: U256, total: U256, weight: u64) -> (U256, U256, bool) {
    let grown = group.max(U256::from(1u8)) * U256::from(weight);
    let total = total + grown - group;
    let trust = U256::from(trust);
    let reached = grown * trust > total * (trust - U256::from(1u8));
    (grown, total, reached)
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
        let (hash, seal) = (B256::repeat_byte(5), B256::repeat_byte(6));
        assert_eq!(
            contribution_hash(task, hash, seal, enclave),
            keccak256((task, hash, seal, enclave).abi_encode_packed())
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
        assert_eq!(deal.contribution_deadline_in_epoch(0), 1_000 + 7 * 300);
        assert_eq!(deal.contribution_deadline_in_epoch(1), 1_000 + 10 * 300);
        assert_eq!(deal.final_deadline(), 1_000 + 10 * 300);
        assert_eq!(deal.reveal_deadline(2_000), 2_000 + 2 * 300);
        // a consensus reached late reveals until the final deadline, no later
        assert_eq!(deal.reveal_deadline(3_700), 1_000 + 10 * 300);
        assert_eq!(deal.reopen_window(2_600), 2_600..4_000);
        assert_eq!(deal.scheduler_stake(), 300_000_000);
        assert_eq!(workers_reward(1_000, 5), 950);
        assert_eq!(workers_reward(999, 0), 999);
        for code in 0..4 {
            assert_eq!(
                u64::from(ContributionStatus::from_code(code).unwrap().code()),
                code
            );
        }
        assert_eq!(ContributionStatus::from_code(4), None);
    }

    #[test]
    fn reveal_reopen_finalize_and_claim_by_status() {
        use ContributionStatus::*;
        // reveal: any vote not revealed and not rejected
        assert!(Contributed.may_reveal());
        assert!(!Unset.may_reveal() && !Proved.may_reveal() && !Rejected.may_reveal());
        // reopen: exactly the voters of the rejected value
        assert!(Contributed.rejected_by_reopen(true));
        assert!(!Contributed.rejected_by_reopen(false));
        assert!(!Rejected.rejected_by_reopen(true));
        // finalize: the digest proves a winner, revealed or not; a rejected vote never wins
        assert!(Contributed.wins_finalize(true) && Proved.wins_finalize(true));
        assert!(!Contributed.wins_finalize(false) && !Rejected.wins_finalize(true));
        // claim in consensus: only those who revealed keep their stake
        assert!(Proved.keeps_stake_on_claim(true));
        assert!(!Contributed.keeps_stake_on_claim(true) && !Rejected.keeps_stake_on_claim(true));
        // claim without consensus: all but the rejected voters
        assert!(Contributed.keeps_stake_on_claim(false));
        assert!(!Rejected.keeps_stake_on_claim(false));
    }

    #[test]
    fn a_claim_refunds_the_price_and_feeds_the_kitty() {
        let deal = Deal {
            app_price: 10,
            dataset_price: 20,
            workerpool_price: 1_000,
            worker_stake: 300,
            ..Deal::default()
        };
        let nobody = deal.claim_outcome(false, &[]);
        assert_eq!(nobody.payer_refund, 1_030);
        assert_eq!(nobody.to_kitty, 300, "the scheduler's stake");
        use ContributionStatus::*;
        let statuses = [Proved, Contributed, Rejected];
        let consensus = deal.claim_outcome(true, &statuses);
        assert_eq!(consensus.kept, [true, false, false]);
        assert_eq!(consensus.seized(300), 600);
        assert_eq!(consensus.to_kitty, 300 + 600);
        assert_eq!(consensus.payer_refund, 1_030, "never more than the price");
        let open = deal.claim_outcome(false, &[Contributed, Rejected]);
        assert_eq!(open.kept, [true, false]);
        assert_eq!(open.to_kitty, 300 + 300);
    }

    #[test]
    fn reputation_only_from_work_someone_else_paid_for() {
        let (payer, pool, worker) = (
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            Address::repeat_byte(3),
        );
        let deal = Deal {
            payer,
            requester: payer,
            workerpool_owner: pool,
            ..Deal::default()
        };
        assert!(deal.scores(worker, 2));
        assert!(!deal.scores(worker, 1), "a lone contributor");
        assert!(!deal.scores(payer, 2), "the payer working for itself");
        let own_pool = Deal {
            payer: pool,
            ..deal.clone()
        };
        assert!(
            !own_pool.scores(worker, 2),
            "the scheduler paying its own workers"
        );
        let own_request = Deal {
            requester: pool,
            ..deal
        };
        assert!(!own_request.scores(worker, 2));
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
    fn votes_counted_one_by_one_follow_the_list_rule() {
        // trust 3, fresh workers: the second agreeing vote reaches consensus
        let fresh = weight(0);
        let (g, t, reached) = count_vote(3, U256::ZERO, U256::from(1u8), fresh);
        assert_eq!((g, t, reached), (U256::from(2u8), U256::from(3u8), false));
        let (g, t, reached) = count_vote(3, g, t, fresh);
        assert_eq!((g, t, reached), (U256::from(4u8), U256::from(5u8), true));
        assert!(has_consensus(3, &[(A, fresh), (A, fresh)]));
        // a liar first: its group counts in the total
        let (_, t, _) = count_vote(3, U256::ZERO, U256::from(1u8), fresh);
        let (g, t, reached) = count_vote(3, U256::ZERO, t, fresh);
        assert!(!reached);
        let (_, _, reached) = count_vote(3, g, t, fresh);
        assert!(!reached, "4 · 3 > 7 · 2 fails");
        assert!(!has_consensus(3, &[(B, fresh), (A, fresh), (A, fresh)]));
    }

    #[test]
    fn a_disagreement_asks_for_more() {
        // trust 3 with fresh workers: one early liar costs two more honest contributions
        assert!(!has_consensus(3, &[(B, 2), (A, 2), (A, 2)]));
        assert!(needs_more_replicates(3, &[(B, 2), (A, 2), (A, 2)], &[]));
        assert!(has_consensus(3, &[(B, 2), (A, 2), (A, 2), (A, 2)]));
    }
}
