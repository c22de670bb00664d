// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @notice ERC-734 identity (key manager): restrictions may name a group instead of an address.
interface IERC734 {
    function keyHasPurpose(bytes32 key, uint256 purpose) external view returns (bool);
}

/// @notice ERC-1271 contract wallets.
interface IERC1271 {
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4);
}
