// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @notice EIP-1154 oracle consumer: receives a task's callback data when it completes.
interface IOracleConsumer {
    /// @notice Called by the hub with a gas cap; a revert is recorded, never propagated.
    /// @param data the task's callback data (its keccak256 is the task's result digest).
    function receiveResult(bytes32 taskId, bytes calldata data) external;
}
