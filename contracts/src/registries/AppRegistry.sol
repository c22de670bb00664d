// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {AssetRegistry} from "./AssetRegistry.sol";

/// @title AppRegistry: apps (WebAssembly modules) as NFTs.
/// @notice Metadata follows iExec's app: name, type (e.g. "WASM"), multiaddr (where to fetch the
/// module), checksum (sha256 of the module) and mrenclave (TEE measurement, empty if none).
/// Metadata is immutable: a new version of an app is a new app.
contract AppRegistry is AssetRegistry {
    struct App {
        string name;
        string appType;
        bytes multiaddr;
        bytes32 checksum;
        bytes mrenclave;
    }

    mapping(address app => App) internal _apps;

    /// @notice An app was registered (its NFT minted to `owner`).
    event AppCreated(
        address indexed app, address indexed owner, string name, string appType, bytes32 checksum
    );

    constructor() AssetRegistry("dexec apps", "DXAPP") {}

    /// @notice Register an app owned by `owner`; returns its address (see `predictApp`).
    function createApp(
        address owner,
        string calldata name,
        string calldata appType,
        bytes calldata multiaddr,
        bytes32 checksum,
        bytes calldata mrenclave
    ) external returns (address app) {
        app = _reserve(owner, abi.encode(name, appType, multiaddr, checksum, mrenclave));
        _apps[app] = App(name, appType, multiaddr, checksum, mrenclave);
        _safeMint(owner, uint256(uint160(app)));
        emit AppCreated(app, owner, name, appType, checksum);
    }

    /// @notice The address `createApp` would give these arguments.
    function predictApp(
        address owner,
        string calldata name,
        string calldata appType,
        bytes calldata multiaddr,
        bytes32 checksum,
        bytes calldata mrenclave
    ) external view returns (address) {
        return _predict(owner, abi.encode(name, appType, multiaddr, checksum, mrenclave));
    }

    /// @notice Metadata of a registered app (reverts for unknown apps).
    function viewApp(address app) external view returns (App memory) {
        _requireOwned(uint256(uint160(app)));
        return _apps[app];
    }
}
