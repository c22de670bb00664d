// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title Errors of the market side (escrow, categories, matching, order management), one place
/// for contracts, tests and bindings. The execution side's are in `IPocoTypes.sol`.
interface IHubErrors {
    // ---- escrow ----
    /// @notice The account's free balance does not cover the amount.
    /// @param needed the amount asked for.
    /// @param available the account's free balance.
    error InsufficientBalance(address account, uint256 needed, uint256 available);
    /// @notice Zero amounts are refused so that a mistake never looks like success.
    error ZeroAmount();
    /// @notice An account's balance plus locked funds would exceed 2^112 - 1.
    /// @param amount the amount being credited.
    error AmountOutOfRange(uint256 amount);
    /// @notice withdrawTo / depositFor / recover to the zero address.
    error ZeroAddress();
    // ---- categories ----
    /// @notice No category with this id (matching, or `viewCategory`).
    error UnknownCategory(uint256 category);
    /// @notice A category time reference must be in 1 ..= `MAX_TIMEREF` seconds.
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
    /// @notice [0x13] the app order's dataset restriction excludes this dataset.
    error DatasetRestrictedByApp(address dataset);
    /// @notice [0x14] the app order's workerpool restriction excludes this workerpool.
    error WorkerpoolRestrictedByApp(address workerpool);
    /// @notice [0x15] the app order's requester restriction excludes this requester.
    error RequesterRestrictedByApp(address requester);
    /// @notice [0x16] the dataset order's app restriction excludes this app.
    error AppRestrictedByDataset(address app);
    /// @notice [0x17] the dataset order's workerpool restriction excludes this workerpool.
    error WorkerpoolRestrictedByDataset(address workerpool);
    /// @notice [0x18] the dataset order's requester restriction excludes this requester.
    error RequesterRestrictedByDataset(address requester);
    /// @notice [0x19] the workerpool order's app restriction excludes this app.
    error AppRestrictedByWorkerpool(address app);
    /// @notice [0x1a] the workerpool order's dataset restriction excludes this dataset.
    error DatasetRestrictedByWorkerpool(address dataset);
    /// @notice [0x1b] the workerpool order's requester restriction excludes this requester.
    error RequesterRestrictedByWorkerpool(address requester);
    /// @notice [0x20] the app is not in the app registry.
    error AppNotRegistered(address app);
    /// @notice [0x30] the dataset is not in the dataset registry.
    error DatasetNotRegistered(address dataset);
    /// @notice [0x40] the workerpool is not in the workerpool registry.
    error WorkerpoolNotRegistered(address workerpool);
    /// @notice [0x21] the app order is not signed (or presigned) by the app's owner.
    /// @param orderHash the order's EIP-712 digest.
    error InvalidAppOrderSignature(bytes32 orderHash);
    /// @notice [0x31] the dataset order is not signed (or presigned) by the dataset's owner.
    error InvalidDatasetOrderSignature(bytes32 orderHash);
    /// @notice [0x41] the workerpool order is not signed (or presigned) by the workerpool's owner.
    error InvalidWorkerpoolOrderSignature(bytes32 orderHash);
    /// @notice [0x50] the request order is not signed (or presigned) by its requester, as a plain
    /// request or as a `SponsoredRequest` this payer may use.
    error InvalidRequestOrderSignature(bytes32 orderHash);
    /// @notice [0x60] the app order has no volume left (fully matched or cancelled).
    error AppOrderConsumed(bytes32 orderHash);
    /// @notice [0x60] the dataset order has no volume left.
    error DatasetOrderConsumed(bytes32 orderHash);
    /// @notice [0x60] the workerpool order has no volume left.
    error WorkerpoolOrderConsumed(bytes32 orderHash);
    /// @notice [0x60] the request order has no volume left.
    error RequestOrderConsumed(bytes32 orderHash);
    /// @notice A price does not fit the deal's 96-bit field.
    error PriceOutOfRange(uint256 price);
    /// @notice The request's bag of tasks would pass 2^32 - 1 task indices.
    /// @param volume the request's consumed volume after this match.
    error VolumeOutOfRange(uint256 volume);
    /// @notice The request's trust is above MAX_TRUST (2^16): no consensus could reach it
    /// within the contributor cap.
    error TrustOutOfRange(uint256 trust);
    // ---- order management ----
    /// @notice Only the order's owner (asset owner or requester) or their signature may manage it.
    /// @param owner the order's owner (zero for an unregistered asset).
    error NotOrderOwner(address owner, address caller);
    /// @notice The signature over the order operation is not the order owner's.
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

/// @title Events of the market side.
interface IHubEvents {
    /// @notice `from` deposited `amount` tokens (what arrived) into `to`'s account.
    event Deposit(address indexed from, address indexed to, uint256 amount);
    /// @notice `from` withdrew `amount` of its free balance, sent to `to`.
    event Withdraw(address indexed from, address indexed to, uint256 amount);
    /// @notice The owner added a category; `timeref` in seconds.
    event CategoryCreated(uint256 indexed category, string name, string description, uint256 timeref);
    /// @notice An app order was presigned on-chain by (or for) its owner.
    event AppOrderSigned(bytes32 indexed orderHash, address indexed owner);
    /// @notice A dataset order was presigned.
    event DatasetOrderSigned(bytes32 indexed orderHash, address indexed owner);
    /// @notice A workerpool order was presigned.
    event WorkerpoolOrderSigned(bytes32 indexed orderHash, address indexed owner);
    /// @notice A request order was presigned.
    event RequestOrderSigned(bytes32 indexed orderHash, address indexed owner);
    /// @notice An app order was closed (cancelled): it has no volume left.
    event AppOrderClosed(bytes32 indexed orderHash, address indexed owner);
    /// @notice A dataset order was closed.
    event DatasetOrderClosed(bytes32 indexed orderHash, address indexed owner);
    /// @notice A workerpool order was closed.
    event WorkerpoolOrderClosed(bytes32 indexed orderHash, address indexed owner);
    /// @notice A request order was closed.
    event RequestOrderClosed(bytes32 indexed orderHash, address indexed owner);
    /// @notice A deal was made. `deal` is the packed encoding of the `Deal` (see `Deals.encode`),
    /// everything the chain committed to; `params` and `beneficiary` are for off-chain services
    /// only and are not stored.
    /// @param appOrderHash the orders' EIP-712 digests (`datasetOrderHash` zero without a dataset).
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
    /// @notice The owner sent `amount` stray tokens (beyond `totalHeld`) to `to`.
    event Recovered(address indexed to, uint256 amount);
}
