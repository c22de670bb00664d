// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title Deals: what a match agrees on, and how the hub remembers it in one storage slot.
/// @notice A deal is immutable once matched. The hub does not store its fields: it stores one
/// 256-bit word per deal whose high 192 bits are a commitment (keccak256 of the ABI-encoded
/// `Deal`) and whose low 64 bits hold mutable execution state. Every field is emitted in
/// `DealCreated`, and any call that needs the deal passes it back as calldata, checked against
/// the commitment. This is the main gas lever of the design: iExec stores about 22 slots per
/// deal (see docs/protocol.md).
struct Deal {
    address app;
    address dataset;
    address workerpool;
    /// Owners at match time: they are paid (and the scheduler's stake returned) even if the
    /// asset NFT changes hands while the deal runs.
    address appOwner;
    address datasetOwner;
    address workerpoolOwner;
    /// Ask prices per task, in base-token units (nRLC on RLC-like tokens).
    uint96 appPrice;
    uint96 datasetPrice;
    uint96 workerpoolPrice;
    /// Worker stake per contribution (workerpool price x worker stake ratio / 100), frozen at match.
    uint96 workerStake;
    address requester;
    /// Who paid: the requester, or the sponsor of a sponsored match.
    address payer;
    address callback;
    /// Combined tag: app | dataset (framework bits masked) | request.
    bytes32 tag;
    /// max(request trust, 1).
    uint32 trust;
    uint32 category;
    /// Category time reference (seconds) at match time; every deadline derives from it.
    uint32 timeref;
    uint40 startTime;
    /// Bag of tasks: task indices [botFirst, botFirst + botSize).
    uint32 botFirst;
    uint32 botSize;
    uint8 schedulerRewardRatio;
}

library Deals {
    /// @dev Low 64 bits of a deal word: execution state. Bit 63 marks existence so that a
    /// deal word is never zero; bits 0..62 are reserved for the execution side.
    uint256 internal constant EXISTS = 1 << 63;
    uint256 internal constant STATE_MASK = (1 << 64) - 1;
    uint256 internal constant COMMITMENT_MASK = ~STATE_MASK;

    /// @notice Deal id as iExec: keccak256(requestOrderDigest ‖ consumed volume before the match).
    function id(bytes32 requestHash, uint256 botFirst) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(requestHash, botFirst));
    }

    /// @notice Task id: keccak256(abi.encode(dealId, index)), index absolute in the bag.
    function taskId(bytes32 dealId, uint256 index) internal pure returns (bytes32) {
        return keccak256(abi.encode(dealId, index));
    }

    function commitment(Deal memory deal) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(deal))) & COMMITMENT_MASK;
    }
}
