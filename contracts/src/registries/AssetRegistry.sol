// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Enumerable} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Enumerable.sol";

/// @title AssetRegistry: an ERC-721 collection of marketplace assets (apps, datasets or workerpools).
/// @notice An asset is identified by an address, as in iExec, but no contract is deployed for it:
/// the address is derived from the registry, the owner and the asset's metadata, and the token id
/// is `uint160(asset)`. The owner of an asset is the holder of its NFT, so selling the NFT sells
/// the asset and its future revenue. Registration is permissionless.
abstract contract AssetRegistry is ERC721Enumerable {
    /// @notice An asset with the same owner and metadata already exists.
    error AlreadyRegistered(address asset);
    /// @notice Only the asset's owner may do this.
    error NotAssetOwner(address asset, address caller);

    constructor(string memory name_, string memory symbol_) ERC721(name_, symbol_) {}

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

    function _register(address owner, bytes memory metadata) internal returns (address asset) {
        asset = _predict(owner, metadata);
        if (_ownerOf(uint256(uint160(asset))) != address(0)) revert AlreadyRegistered(asset);
        _safeMint(owner, uint256(uint160(asset)));
    }

    function _predict(address owner, bytes memory metadata) internal view returns (address) {
        return address(uint160(uint256(keccak256(abi.encode(block.chainid, address(this), owner, metadata)))));
    }

    function _requireOwner(address asset) internal view {
        if (_ownerOf(uint256(uint160(asset))) != msg.sender) revert NotAssetOwner(asset, msg.sender);
    }
}
