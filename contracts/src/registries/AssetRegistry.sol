// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Enumerable} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Enumerable.sol";
import {IAssetHub} from "../interfaces/IAssetHub.sol";

/// @title AssetRegistry: an ERC-721 collection of marketplace assets (apps, datasets or workerpools).
/// @notice An asset is identified by an address, as in iExec, but no contract is deployed for it:
/// the address is derived from the registry, the owner and the asset's metadata, and the token id
/// is `uint160(asset)`. The owner of an asset is the holder of its NFT, so selling the NFT sells
/// the asset and its future revenue. Registration is permissionless.
/// Every ownership change (mint, transfer) is pushed to the hub bound at deployment, which keeps
/// a one-slot mirror of owner and policy for matching; nothing can move an asset without it.
abstract contract AssetRegistry is ERC721Enumerable {
    /// @notice An asset with the same owner and metadata already exists.
    error AlreadyRegistered(address asset);
    /// @notice Only the asset's owner may do this.
    error NotAssetOwner(address asset, address caller);
    /// @notice Only the deployer binds the hub, once.
    error NotDeployer(address caller);
    /// @notice The hub is already bound (to `hub`); it cannot change.
    error HubAlreadyBound(address hub);
    /// @notice Assets cannot exist before the hub that mirrors them is bound.
    error HubNotBound();

    /// @notice The hub told about every ownership and policy change.
    IAssetHub public hub;
    address private immutable _deployer;

    constructor(string memory name_, string memory symbol_) ERC721(name_, symbol_) {
        _deployer = msg.sender;
    }

    /// @notice Deployer only, once, before any asset exists: the hub to keep in sync.
    function bindHub(IAssetHub hub_) external {
        if (msg.sender != _deployer) revert NotDeployer(msg.sender);
        if (address(hub) != address(0)) revert HubAlreadyBound(address(hub));
        hub = hub_;
    }

    /// @notice Owner of `asset`, or zero if it is not registered here. Never reverts, so the hub
    /// gets registration and ownership in one call.
    function ownerOrZero(address asset) public view returns (address) {
        return _ownerOf(uint256(uint160(asset)));
    }

    /// @notice True if `asset` is registered here.
    function isRegistered(address asset) external view returns (bool) {
        return ownerOrZero(asset) != address(0);
    }

    /// @notice The asset address of the `index`-th asset held by `owner` (0-based).
    function assetOfOwnerByIndex(address owner, uint256 index) external view returns (address) {
        return address(uint160(tokenOfOwnerByIndex(owner, index)));
    }

    /// @notice The `index`-th registered asset (0-based).
    function assetByIndex(uint256 index) external view returns (address) {
        return address(uint160(tokenByIndex(index)));
    }

    /// @dev The address for `metadata`, checked to be free. Store metadata, then `_safeMint`.
    function _reserve(address owner, bytes memory metadata) internal view returns (address asset) {
        asset = _predict(owner, metadata);
        if (_ownerOf(uint256(uint160(asset))) != address(0)) revert AlreadyRegistered(asset);
    }

    /// @dev Every mint and transfer passes here: mirror the new owner into the hub.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        _syncHub(address(uint160(tokenId)), to);
    }

    /// @dev Push owner (and, for workerpools, policy) to the hub.
    function _syncHub(address asset, address owner) internal virtual {
        IAssetHub h = hub;
        if (address(h) == address(0)) revert HubNotBound();
        h.onAssetUpdate(asset, owner, 0, 0);
    }

    function _predict(address owner, bytes memory metadata) internal view returns (address) {
        return address(uint160(uint256(keccak256(abi.encode(block.chainid, address(this), owner, metadata)))));
    }

    function _requireOwner(address asset) internal view {
        if (_ownerOf(uint256(uint160(asset))) != msg.sender) revert NotAssetOwner(asset, msg.sender);
    }
}
