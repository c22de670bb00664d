// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @notice ERC-734 identity (key manager): restrictions may name a group instead of an address.
interface IERC734 {
    /// @notice True if `key` holds `purpose` (the hub asks for purpose 4, a group member).
    function keyHasPurpose(bytes32 key, uint256 purpose) external view returns (bool);
}
