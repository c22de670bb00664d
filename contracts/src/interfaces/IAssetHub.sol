// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @notice What a registry tells the hub whenever an asset's owner or policy changes, so the hub
/// can read owner, kind and policy from one of its own storage slots instead of calling out.
interface IAssetHub {
    function onAssetUpdate(address asset, address owner, uint8 workerStakeRatio, uint8 schedulerRewardRatio)
        external;
}
