// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {OrderKind} from "./Orders.sol";

// Words: the hub's packed storage words, packed and read by named field. Each library below is
// one word's bit map and the only place its offsets are written. The functions are internal and
// pure, so the compiler inlines them to the same shifts and masks as hand-written code.

/// @notice The hub's mirror of a registered asset (`HubBase._assets`), pushed by its registry:
/// owner (bits 0..159) | kind (160..167, an `OrderKind`) | worker stake ratio (168..175) |
/// scheduler reward ratio (176..183) | pending worker stake ratio (184..191) | pending scheduler
/// reward ratio (192..199) | time the pending ratios take effect (200..239, unix seconds, 0 if
/// none) | ownership period (240..255: bumped each time the asset changes hands, so that a
/// presign dies with the ownership that made it). Ratios in percent, set for workerpools only.
/// An unknown asset's word is zero: its owner reads zero whatever kind is asked for.
library AssetWord {
    uint256 private constant KIND = 160;
    uint256 private constant WORKER_STAKE_RATIO = 168;
    uint256 private constant SCHEDULER_REWARD_RATIO = 176;
    uint256 private constant PENDING_WORKER_STAKE_RATIO = 184;
    uint256 private constant PENDING_SCHEDULER_REWARD_RATIO = 192;
    uint256 private constant EFFECTIVE_AT = 200;
    uint256 private constant PERIOD = 240;
    /// @dev Owner and kind: what a presign is bound to, with the period.
    uint256 private constant OWNER_AND_KIND = (1 << WORKER_STAKE_RATIO) - 1;

    function pack(address owner_, OrderKind kind, uint8 workerStakeRatio_, uint8 schedulerRewardRatio_)
        internal
        pure
        returns (uint256)
    {
        return uint256(uint160(owner_)) | (uint256(kind) << KIND)
            | (uint256(workerStakeRatio_) << WORKER_STAKE_RATIO)
            | (uint256(schedulerRewardRatio_) << SCHEDULER_REWARD_RATIO)
            | (uint256(workerStakeRatio_) << PENDING_WORKER_STAKE_RATIO)
            | (uint256(schedulerRewardRatio_) << PENDING_SCHEDULER_REWARD_RATIO);
    }

    /// @dev The word after the registry reported (`owner_`, ratios) at time `now_` with a policy
    /// delay of `delay` seconds: a change of owner bumps the period; a change of ratios takes
    /// effect `delay` after it was made (the ratios in force until then stay), a change back to
    /// the ratios in force cancels a pending one.
    function update(
        uint256 old,
        address owner_,
        OrderKind kind,
        uint8 workerStakeRatio_,
        uint8 schedulerRewardRatio_,
        uint256 now_,
        uint256 delay
    ) internal pure returns (uint256 word) {
        if (old == 0) return pack(owner_, kind, workerStakeRatio_, schedulerRewardRatio_);
        (uint8 stake, uint8 reward) = ratiosAt(old, now_);
        word = pack(owner_, kind, stake, reward);
        if (stake != workerStakeRatio_ || reward != schedulerRewardRatio_) {
            // the same change reported again (e.g. with a transfer) keeps its date
            (uint8 pStake, uint8 pReward) = pendingRatios(old);
            uint256 at = effectiveAt(old);
            if (pStake != workerStakeRatio_ || pReward != schedulerRewardRatio_ || at <= now_) {
                at = now_ + delay;
            }
            word = (word & ~(uint256(0xffff) << PENDING_WORKER_STAKE_RATIO))
                | (uint256(workerStakeRatio_) << PENDING_WORKER_STAKE_RATIO)
                | (uint256(schedulerRewardRatio_) << PENDING_SCHEDULER_REWARD_RATIO) | (at << EFFECTIVE_AT);
        }
        uint256 period_ = period(old);
        if (owner(old) != owner_) period_ = (period_ + 1) & 0xffff;
        word |= period_ << PERIOD;
    }

    function owner(uint256 word) internal pure returns (address) {
        return address(uint160(word));
    }

    /// @dev The owner if the word is of kind `kind` (an `OrderKind` value), else zero.
    function ownerAs(uint256 word, uint256 kind) internal pure returns (address) {
        if (uint8(word >> KIND) != kind) return address(0);
        return owner(word);
    }

    /// @dev The worker stake and scheduler reward ratios in force at time `now_`.
    function ratiosAt(uint256 word, uint256 now_) internal pure returns (uint8 stake, uint8 reward) {
        uint256 at = effectiveAt(word);
        if (at != 0 && now_ >= at) {
            return (uint8(word >> PENDING_WORKER_STAKE_RATIO), uint8(word >> PENDING_SCHEDULER_REWARD_RATIO));
        }
        return (uint8(word >> WORKER_STAKE_RATIO), uint8(word >> SCHEDULER_REWARD_RATIO));
    }

    /// @dev The announced ratios (equal to the ratios in force when nothing is pending).
    function pendingRatios(uint256 word) internal pure returns (uint8 stake, uint8 reward) {
        return (uint8(word >> PENDING_WORKER_STAKE_RATIO), uint8(word >> PENDING_SCHEDULER_REWARD_RATIO));
    }

    function effectiveAt(uint256 word) internal pure returns (uint256) {
        return uint40(word >> EFFECTIVE_AT);
    }

    /// @dev How many times the asset changed hands (mod 2^16).
    function period(uint256 word) internal pure returns (uint256) {
        return word >> PERIOD;
    }

    /// @dev What a presign of this asset's current owner is stored as: owner | period << 160.
    function presignKey(uint256 word) internal pure returns (uint256) {
        return uint256(uint160(word)) | (period(word) << 160);
    }
}

/// @notice A worker's contribution to a replicated task (`Settlement._contributions`):
/// vote (bits 144..255: the high 112 bits of its resultHash) | seal (32..143: the high 112 bits
/// of its resultSeal) | epoch (24..31, the task's epoch when it was cast) | weight (8..23) |
/// status (0..7: `NONE`, `CONTRIBUTED`, `PROVED`, `REJECTED`). Keeping the vote lets a reopen
/// bar exactly the voters of the rejected value, and a claim tell who voted what; 112 bits keep a
/// forged vote or seal out of reach (a 2^112 preimage search, the reveal checks the full hashes).
library ContributionWord {
    uint256 internal constant NONE = 0;
    uint256 internal constant CONTRIBUTED = 1;
    /// @dev Revealed: the worker showed the digest behind its winning vote.
    uint256 internal constant PROVED = 2;
    /// @dev Its vote was a consensus nobody revealed, rejected by `reopen`: it can never win.
    uint256 internal constant REJECTED = 3;

    uint256 private constant STATUS_MASK = 0xff;
    uint256 private constant WEIGHT = 8;
    uint256 private constant EPOCH = 24;
    uint256 private constant SEAL = 32;
    uint256 private constant VOTE = 144;
    uint256 private constant HIGH_112 = 144;

    /// @dev A fresh contribution (status `CONTRIBUTED`).
    function pack(bytes32 resultHash, bytes32 resultSeal, uint256 epoch_, uint256 weight_)
        internal
        pure
        returns (uint256)
    {
        return ((uint256(resultHash) >> HIGH_112) << VOTE) | ((uint256(resultSeal) >> HIGH_112) << SEAL)
            | (epoch_ << EPOCH) | (weight_ << WEIGHT) | CONTRIBUTED;
    }

    /// @dev True if `word` is a vote for `resultHash`.
    function votes(uint256 word, bytes32 resultHash) internal pure returns (bool) {
        return word >> VOTE == uint256(resultHash) >> HIGH_112;
    }

    /// @dev True if `word` commits to (resultHash, resultSeal).
    function commitsTo(uint256 word, bytes32 resultHash, bytes32 resultSeal) internal pure returns (bool) {
        return votes(word, resultHash) && (word >> SEAL) & ((1 << 112) - 1) == uint256(resultSeal) >> HIGH_112;
    }

    function status(uint256 word) internal pure returns (uint256) {
        return word & STATUS_MASK;
    }

    function weight(uint256 word) internal pure returns (uint256) {
        return (word >> WEIGHT) & 0xffff;
    }

    function epoch(uint256 word) internal pure returns (uint256) {
        return (word >> EPOCH) & 0xff;
    }

    function withStatus(uint256 word, uint256 status_) internal pure returns (uint256) {
        return (word & ~STATUS_MASK) | status_;
    }
}

/// @notice The voters of one result hash in a task's consensus (`Settlement._groups`):
/// weight (bits 0..239, the product of the voters' weights) | count (240..255).
library GroupWord {
    uint256 private constant COUNT = 240;
    uint256 private constant WEIGHT_MASK = (1 << COUNT) - 1;

    function pack(uint256 weight_, uint256 count_) internal pure returns (uint256) {
        return weight_ | (count_ << COUNT);
    }

    function weight(uint256 word) internal pure returns (uint256) {
        return word & WEIGHT_MASK;
    }

    function count(uint256 word) internal pure returns (uint256) {
        return word >> COUNT;
    }
}
