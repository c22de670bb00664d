// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {AssetRegistry} from "./AssetRegistry.sol";

/// @title DatasetRegistry: datasets (usually encrypted; the key lives in the SMS) as NFTs.
/// @notice Metadata follows iExec's dataset: name, multiaddr and checksum; immutable.
contract DatasetRegistry is AssetRegistry {
    struct Dataset {
        string name;
        bytes multiaddr;
        bytes32 checksum;
    }

    mapping(address dataset => Dataset) internal _datasets;

    /// @notice A dataset was registered (its NFT minted to `owner`).
    event DatasetCreated(address indexed dataset, address indexed owner, string name, bytes32 checksum);

    constructor() AssetRegistry("dexec datasets", "DXDATA") {}

    /// @notice Register a dataset owned by `owner`; returns its address (see `predictDataset`).
    function createDataset(address owner, string calldata name, bytes calldata multiaddr, bytes32 checksum)
        external
        returns (address dataset)
    {
        dataset = _reserve(owner, abi.encode(name, multiaddr, checksum));
        _datasets[dataset] = Dataset(name, multiaddr, checksum);
        _safeMint(owner, uint256(uint160(dataset)));
        emit DatasetCreated(dataset, owner, name, checksum);
    }

    /// @notice The address `createDataset` would give these arguments.
    function predictDataset(address owner, string calldata name, bytes calldata multiaddr, bytes32 checksum)
        external
        view
        returns (address)
    {
        return _predict(owner, abi.encode(name, multiaddr, checksum));
    }

    /// @notice Metadata of a registered dataset (reverts for unknown datasets).
    function viewDataset(address dataset) external view returns (Dataset memory) {
        _requireOwned(uint256(uint160(dataset)));
        return _datasets[dataset];
    }
}
