// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {OrderKind} from "./Orders.sol";
import {Deals} from "./Deals.sol";

// Words: the hub's packed storage words, packed and read by named field. Each library below is
// one word's bit map and the only place its offsets are written. The functions are internal and
// pure, so the compiler inlines them to the same shifts and masks as hand-written code.

/// @notice The hub's mirror of a registered asset (`HubBase._assets`), pushed by its registry:
/// owner (bits 0..159) | kind (160..167, an `OrderKind`) | worker stake ratio (168..175) |
/// scheduler reward ratio (176..183); ratios in percent, set for workerpools only. An unknown
/// asset's word is zero: its owner reads zero whatever kind is asked for.
library AssetWord {
    uint256 private constant KIND = 160;
    uint256 private constant WORKER_STAKE_RATIO = 168;
    uint256 private constant SCHEDULER_REWARD_RATIO = 176;

    function pack(address owner_, OrderKind kind, uint8 workerStakeRatio_, uint8 schedulerRewardRatio_)
        internal
        pure
        returns (uint256)
    {
        return uint256(uint160(owner_)) | (uint256(kind) << KIND)
            | (uint256(workerStakeRatio_) << WORKER_STAKE_RATIO)
            | (uint256(schedulerRewardRatio_) << SCHEDULER_REWARD_RATIO);
    }

    function owner(uint256 word) internal pure returns (address) {
        return address(uint160(word));
    }

    /// @dev The owner if the word is of kind `kind` (an `OrderKind` value), else zero.
    function ownerAs(uint256 word, uint256 kind) internal pure returns (address) {
        if (uint8(word >> KIND) != kind) return address(0);
        return owner(word);
    }

    function workerStakeRatio(uint256 word) internal pure returns (uint8) {
        return uint8(word >> WORKER_STAKE_RATIO);
    }

    function schedulerRewardRatio(uint256 word) internal pure returns (uint8) {
        return uint8(word >> SCHEDULER_REWARD_RATIO);
    }
}

/// @notice A worker's contribution to a replicated task (`Settlement._contributions`):
/// commitment (bits 64..255: the high 192 bits of keccak256(resultHash ‖ resultSeal)) |
/// epoch (24..31) | weight (8..23) | status (0..7: `NONE`, `CONTRIBUTED`, `PROVED`).
library ContributionWord {
    uint256 internal constant NONE = 0;
    uint256 internal constant CONTRIBUTED = 1;
    /// @dev Revealed: the worker showed the digest behind its winning vote.
    uint256 internal constant PROVED = 2;

    uint256 private constant STATUS_MASK = 0xff;
    uint256 private constant WEIGHT = 8;
    uint256 private constant EPOCH = 24;

    /// @dev A fresh contribution (status `CONTRIBUTED`).
    function pack(bytes32 resultHash, bytes32 resultSeal, uint256 epoch_, uint256 weight_)
        internal
        pure
        returns (uint256)
    {
        return commitment(resultHash, resultSeal) | (epoch_ << EPOCH) | (weight_ << WEIGHT) | CONTRIBUTED;
    }

    /// @dev The commitment bits of a contribution to (resultHash, resultSeal).
    function commitment(bytes32 resultHash, bytes32 resultSeal) internal pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(resultHash, resultSeal))) & Deals.COMMITMENT_MASK;
    }

    /// @dev True if `word` commits to (resultHash, resultSeal).
    function commitsTo(uint256 word, bytes32 resultHash, bytes32 resultSeal) internal pure returns (bool) {
        return word & Deals.COMMITMENT_MASK == commitment(resultHash, resultSeal);
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
