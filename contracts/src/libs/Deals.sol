// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title Deals: what a match agrees on, and how the hub remembers it in one storage slot.
/// @notice A deal is immutable once matched. The hub does not store its fields: it stores one
/// 256-bit word per deal whose high 224 bits are a commitment (keccak256 of the deal's packed
/// encoding, see `encode`) and whose low 32 bits hold mutable execution state. Forging a deal
/// means finding two encodings with the same 224 bits: a 2^112 birthday search (docs/protocol.md
/// gives the figures). The packed
/// encoding is emitted in `DealCreated`, and any call that needs the deal passes it back as
/// calldata, checked against the commitment. This is the main gas lever of the design: iExec
/// stores about 22 slots per deal (see docs/protocol.md).
struct Deal {
    address app;
    address dataset;
    address workerpool;
    /// Owners at match time: they are paid (and the scheduler's stake returned) even if the
    /// asset NFT changes hands while the deal runs.
    address appOwner;
    address datasetOwner;
    address workerpoolOwner;
    address requester;
    /// Who paid: the requester, or the sponsor of a sponsored match.
    address payer;
    address callback;
    /// Ask prices per task, in base-token units (nRLC on RLC-like tokens).
    uint96 appPrice;
    uint96 datasetPrice;
    uint96 workerpoolPrice;
    /// Worker stake per contribution (workerpool price x worker stake ratio / 100), frozen at match.
    uint96 workerStake;
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
    /// @dev Low 32 bits of a deal word: execution state. Bit 31 marks existence so that a
    /// deal word is never zero; bits 0..30 are reserved for the execution side.
    uint256 internal constant EXISTS = 1 << 31;
    uint256 internal constant STATE_MASK = (1 << 32) - 1;
    uint256 internal constant COMMITMENT_MASK = ~STATE_MASK;
    /// @dev Length of the packed encoding: 9 addresses, 4 uint96, bytes32, 5 uint32, uint40, uint8.
    uint256 internal constant ENCODED_LENGTH = 286;

    /// @notice The packed encoding is not 286 bytes long.
    error MalformedDeal(uint256 length);

    /// @notice Deal id as iExec: keccak256(requestOrderDigest ‖ consumed volume before the match).
    function id(bytes32 requestHash, uint256 botFirst) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(requestHash, botFirst));
    }

    /// @notice Task id: keccak256(abi.encode(dealId, index)), index absolute in the bag.
    function taskId(bytes32 dealId, uint256 index) internal pure returns (bytes32) {
        return keccak256(abi.encode(dealId, index));
    }

    /// @notice Packed encoding, fields in declaration order at their natural widths
    /// (offsets in docs/protocol.md). 9 words instead of 21 as ABI encoding.
    function encode(Deal memory d) internal pure returns (bytes memory) {
        return bytes.concat(
            abi.encodePacked(
                d.app,
                d.dataset,
                d.workerpool,
                d.appOwner,
                d.datasetOwner,
                d.workerpoolOwner,
                d.requester,
                d.payer
            ),
            abi.encodePacked(d.callback, d.appPrice, d.datasetPrice, d.workerpoolPrice, d.workerStake, d.tag),
            abi.encodePacked(
                d.trust, d.category, d.timeref, d.startTime, d.botFirst, d.botSize, d.schedulerRewardRatio
            )
        );
    }

    /// @notice Inverse of `encode`; reverts on a wrong length.
    function decode(bytes calldata b) internal pure returns (Deal memory d) {
        if (b.length != ENCODED_LENGTH) revert MalformedDeal(b.length);
        d.app = address(bytes20(b[0:20]));
        d.dataset = address(bytes20(b[20:40]));
        d.workerpool = address(bytes20(b[40:60]));
        d.appOwner = address(bytes20(b[60:80]));
        d.datasetOwner = address(bytes20(b[80:100]));
        d.workerpoolOwner = address(bytes20(b[100:120]));
        d.requester = address(bytes20(b[120:140]));
        d.payer = address(bytes20(b[140:160]));
        d.callback = address(bytes20(b[160:180]));
        d.appPrice = uint96(bytes12(b[180:192]));
        d.datasetPrice = uint96(bytes12(b[192:204]));
        d.workerpoolPrice = uint96(bytes12(b[204:216]));
        d.workerStake = uint96(bytes12(b[216:228]));
        d.tag = bytes32(b[228:260]);
        d.trust = uint32(bytes4(b[260:264]));
        d.category = uint32(bytes4(b[264:268]));
        d.timeref = uint32(bytes4(b[268:272]));
        d.startTime = uint40(bytes5(b[272:277]));
        d.botFirst = uint32(bytes4(b[277:281]));
        d.botSize = uint32(bytes4(b[281:285]));
        d.schedulerRewardRatio = uint8(b[285]);
    }

    /// @notice Commitment of a packed encoding (high 224 bits of its keccak256).
    function commitment(bytes memory encoded) internal pure returns (uint256) {
        return uint256(keccak256(encoded)) & COMMITMENT_MASK;
    }
}
