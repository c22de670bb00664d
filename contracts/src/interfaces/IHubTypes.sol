// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title Errors and events of the hub, one place for contracts, tests and bindings.
interface IHubErrors {
    // ---- escrow ----
    /// @notice The account's free balance does not cover the amount.
    error InsufficientBalance(address account, uint256 needed, uint256 available);
    /// @notice Zero amounts are refused so that a mistake never looks like success.
    error ZeroAmount();
    /// @notice A balance would exceed 2^128 - 1.
    error AmountOutOfRange(uint256 amount);
    /// @notice withdrawTo / depositFor to the zero address.
    error ZeroAddress();
    // ---- categories ----
    error UnknownCategory(uint256 category);
    error InvalidTimeRef(uint256 timeref);
    // ---- matchOrders: compatibility (iExec's check codes in brackets) ----
    /// @notice [0x00] request and workerpool orders name different categories.
    error CategoryMismatch(uint256 requestCategory, uint256 workerpoolCategory);
    /// @notice [0x02] the request asks for more trust than the workerpool offers.
    error TrustTooHigh(uint256 requested, uint256 offered);
    /// @notice [0x03] the app costs more than the request's max.
    error AppPriceTooHigh(uint256 price, uint256 max);
    /// @notice [0x04] the dataset costs more than the request's max.
    error DatasetPriceTooHigh(uint256 price, uint256 max);
    /// @notice [0x05] the workerpool costs more than the request's max.
    error WorkerpoolPriceTooHigh(uint256 price, uint256 max);
    /// @notice [0x06] the deal needs tag bits the workerpool does not offer.
    error TagNotOffered(bytes32 required, bytes32 offered);
    /// @notice [0x07] the request or dataset asks for TEE but the app is not a TEE app.
    error TeeMismatch(bytes32 dealTag, bytes32 appTag);
    /// @notice [0x10] request.app differs from the app order's app.
    error AppMismatch(address requested, address offered);
    /// @notice [0x11] request.dataset differs from the dataset order's dataset.
    error DatasetMismatch(address requested, address offered);
    /// @notice [0x12] the request's workerpool field excludes this workerpool.
    error WorkerpoolRestrictedByRequest(address workerpool);
    /// @notice [0x13..0x15] the app order's restrictions exclude this dataset / workerpool / requester.
    error DatasetRestrictedByApp(address dataset);
    error WorkerpoolRestrictedByApp(address workerpool);
    error RequesterRestrictedByApp(address requester);
    /// @notice [0x16..0x18] the dataset order's restrictions exclude this app / workerpool / requester.
    error AppRestrictedByDataset(address app);
    error WorkerpoolRestrictedByDataset(address workerpool);
    error RequesterRestrictedByDataset(address requester);
    /// @notice [0x19..0x1b] the workerpool order's restrictions exclude this app / dataset / requester.
    error AppRestrictedByWorkerpool(address app);
    error DatasetRestrictedByWorkerpool(address dataset);
    error RequesterRestrictedByWorkerpool(address requester);
    /// @notice [0x20 0x30 0x40] the asset is not in its registry.
    error AppNotRegistered(address app);
    error DatasetNotRegistered(address dataset);
    error WorkerpoolNotRegistered(address workerpool);
    /// @notice [0x21 0x31 0x41 0x50] the order is not signed (or presigned) by its owner.
    error InvalidAppOrderSignature(bytes32 orderHash);
    error InvalidDatasetOrderSignature(bytes32 orderHash);
    error InvalidWorkerpoolOrderSignature(bytes32 orderHash);
    error InvalidRequestOrderSignature(bytes32 orderHash);
    /// @notice [0x60] an order has no volume left (fully matched or cancelled).
    error AppOrderConsumed(bytes32 orderHash);
    error DatasetOrderConsumed(bytes32 orderHash);
    error WorkerpoolOrderConsumed(bytes32 orderHash);
    error RequestOrderConsumed(bytes32 orderHash);
    /// @notice A price does not fit the deal's 96-bit field.
    error PriceOutOfRange(uint256 price);
    /// @notice The request's bag of tasks would pass 2^32 - 1 task indices.
    error VolumeOutOfRange(uint256 volume);
    /// @notice The request's trust does not fit 32 bits.
    error TrustOutOfRange(uint256 trust);
    // ---- order management ----
    /// @notice Only the order's owner (asset owner or requester) or their signature may manage it.
    error NotOrderOwner(address owner, address caller);
    error InvalidOperationSignature();
    // ---- deals ----
    /// @notice No deal with this id, or the deal passed does not match its on-chain commitment.
    error UnknownDeal(bytes32 dealId);
    /// @notice onAssetUpdate is for the hub's registries only.
    error NotARegistry(address caller);
    // ---- admin ----
    /// @notice recover() found no tokens beyond what accounts own.
    error NothingToRecover();
}

interface IHubEvents {
    event Deposit(address indexed from, address indexed to, uint256 amount);
    event Withdraw(address indexed from, address indexed to, uint256 amount);
    event CategoryCreated(uint256 indexed category, string name, string description, uint256 timeref);
    event AppOrderSigned(bytes32 indexed orderHash, address indexed owner);
    event DatasetOrderSigned(bytes32 indexed orderHash, address indexed owner);
    event WorkerpoolOrderSigned(bytes32 indexed orderHash, address indexed owner);
    event RequestOrderSigned(bytes32 indexed orderHash, address indexed owner);
    event AppOrderClosed(bytes32 indexed orderHash, address indexed owner);
    event DatasetOrderClosed(bytes32 indexed orderHash, address indexed owner);
    event WorkerpoolOrderClosed(bytes32 indexed orderHash, address indexed owner);
    event RequestOrderClosed(bytes32 indexed orderHash, address indexed owner);
    /// @notice A deal was made. `deal` is the packed encoding of the `Deal` (see `Deals.encode`),
    /// everything the chain committed to; `params` and `beneficiary` are for off-chain services
    /// only and are not stored.
    event DealCreated(
        bytes32 indexed dealId,
        address indexed workerpool,
        address indexed requester,
        bytes deal,
        bytes32 appOrderHash,
        bytes32 datasetOrderHash,
        bytes32 workerpoolOrderHash,
        bytes32 requestOrderHash,
        address beneficiary,
        string params
    );
    event Recovered(address indexed to, uint256 amount);
}
