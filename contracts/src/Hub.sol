// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Settlement} from "./hub/Settlement.sol";
import {AppRegistry} from "./registries/AppRegistry.sol";
import {DatasetRegistry} from "./registries/DatasetRegistry.sol";
import {WorkerpoolRegistry} from "./registries/WorkerpoolRegistry.sol";
import {IERC734} from "./interfaces/IERC734.sol";
import {Deal, Deals} from "./libs/Deals.sol";
import {
    AppOrder,
    DatasetOrder,
    WorkerpoolOrder,
    RequestOrder,
    OrderKind,
    OrderOperation,
    Orders
} from "./libs/Orders.sol";
import {AssetWord} from "./libs/Words.sol";

/// @notice An order operation (presign or close), sent by the owner or carrying its signature.
struct AppOrderOperation {
    AppOrder order;
    OrderOperation operation;
    bytes sign;
}

/// @notice See `AppOrderOperation`.
struct DatasetOrderOperation {
    DatasetOrder order;
    OrderOperation operation;
    bytes sign;
}

/// @notice See `AppOrderOperation`.
struct WorkerpoolOrderOperation {
    WorkerpoolOrder order;
    OrderOperation operation;
    bytes sign;
}

/// @notice See `AppOrderOperation`.
struct RequestOrderOperation {
    RequestOrder order;
    OrderOperation operation;
    bytes sign;
}

/// @title Hub: the dexec marketplace contract.
/// @notice Holds the escrow, matches signed orders into deals and settles trust-1 tasks in one
/// worker transaction (`contributeAndFinalize`). Every other execution function (replicated
/// PoCo, batches, claims, views, execution admin) lives in the `HubPoco` module, reached through
/// this contract's fallback by DELEGATECALL on this contract's storage: call them on the hub's
/// address with the `HubPoco` ABI. See docs/protocol.md and docs/admin.md.
contract Hub is Settlement {
    /// @dev What the checks of one match establish, from which `_buildDeal` builds the deal.
    struct Match {
        // the orders' EIP-712 digests: keys of their consumed volume, emitted in `DealCreated`
        bytes32 appHash;
        bytes32 datasetHash;
        bytes32 workerpoolHash;
        bytes32 requestHash;
        // the owners the deal pays, from the hub's asset mirror
        address appOwner;
        address datasetOwner;
        uint256 workerpoolWord; // the workerpool's `AssetWord`: its owner and policy
        bytes32 tag; // the deal tag (`_checkCompatibility`)
        uint256 timeref; // the category's time reference (`_checkRanges`)
    }

    /// @notice ERC-734 purpose of a group member key.
    uint256 internal constant GROUP_MEMBER_PURPOSE = 4;
    /// @notice Tag bits 1..3: TEE framework (Scone, Gramine, TDX). A dataset's are ignored so
    /// that one encrypted dataset serves apps of any framework (iExec v6.2 behaviour).
    bytes32 internal constant TAG_TEE_FRAMEWORKS = bytes32(uint256(0x0e));
    /// @notice The execution module (fixed at deployment; no one can change it).
    address public immutable poco;

    constructor(
        address owner_,
        IERC20 token_,
        AppRegistry apps,
        DatasetRegistry datasets,
        WorkerpoolRegistry workerpools,
        address poco_
    ) Settlement(owner_, token_, apps, datasets, workerpools) {
        poco = poco_;
    }

    /// @dev Everything not defined here runs in the execution module on this storage.
    fallback() external {
        address module = poco;
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // ------------------------------------------------------------------ fast path

    /// @notice Trust-1 (and TEE) tasks in one worker transaction: the worker, authorized by the
    /// scheduler (or the TEE broker for enclaves), submits its result digest; the hub pays the
    /// app and dataset owners, the worker (workerpool price minus the scheduler's ratio) and the
    /// scheduler (its stake back and the rest), and delivers the callback.
    /// @param encodedDeal the packed deal from `DealCreated`.
    /// @param index absolute task index in the bag.
    /// @param results off-chain link to the results (emitted, not stored).
    /// @param resultsCallback callback data; keccak256 must equal `resultDigest` for callback deals.
    function contributeAndFinalize(
        bytes calldata encodedDeal,
        bytes32 dealId,
        uint256 index,
        bytes32 resultDigest,
        bytes calldata results,
        bytes calldata resultsCallback,
        address enclaveChallenge,
        bytes calldata enclaveSign,
        bytes calldata authorizationSign
    ) external nonReentrant {
        (Deal memory deal, uint256 word) = _loadDeal(encodedDeal, dealId);
        uint256 rel = _checkIndex(deal, index);
        if (deal.trust > 1) revert ReplicationRequired(deal.trust);
        uint256 deadline = _finalDeadline(deal);
        if (block.timestamp >= deadline) revert DeadlinePassed(deadline);
        bytes32 taskId = Deals.taskId(dealId, index);
        _checkAuthorization(deal, msg.sender, taskId, enclaveChallenge, authorizationSign);
        if (enclaveChallenge != address(0) || deal.tag & TAG_TEE != 0) {
            _checkEnclave(
                deal,
                enclaveChallenge,
                keccak256(abi.encodePacked(taskId, resultDigest)),
                keccak256(abi.encodePacked(msg.sender, taskId, resultDigest)),
                enclaveSign
            );
        }
        _checkCallbackData(deal, resultDigest, resultsCallback);
        _deals[dealId] = _settle(dealId, taskId, word, rel);

        uint256 reward = _workerReward(deal);
        _paySuccess(deal, 1, uint256(deal.workerpoolPrice) - reward);
        _credit(msg.sender, reward);
        emit TaskFinalize(taskId, dealId, index, resultDigest, results);
        if (deal.callback != address(0)) {
            _callbackData[taskId] = resultsCallback;
            _callback(deal, taskId, resultsCallback);
        }
    }

    // ------------------------------------------------------------------ matching

    /// @notice Match four compatible orders into a deal; the requester pays. Anyone may call.
    /// @param datasetOrder ignored (may be empty) when `requestOrder.dataset` is zero.
    /// @dev No reentrancy guard needed: the only external calls are `staticcall`s (ERC-1271
    /// wallets, ERC-734 groups), which cannot change state.
    function matchOrders(
        AppOrder calldata appOrder,
        DatasetOrder calldata datasetOrder,
        WorkerpoolOrder calldata workerpoolOrder,
        RequestOrder calldata requestOrder
    ) external returns (bytes32 dealId) {
        return _match(appOrder, datasetOrder, workerpoolOrder, requestOrder, requestOrder.requester);
    }

    /// @notice Match orders with the caller paying for the requester. The request may be signed
    /// as a plain `RequestOrder` (anyone may pay for it) or as a `SponsoredRequest` naming the
    /// caller (or zero), which plain `matchOrders` cannot use: a sponsor's request can never be
    /// turned against the requester's own balance. Static calls only, like `matchOrders`.
    function sponsorMatchOrders(
        AppOrder calldata appOrder,
        DatasetOrder calldata datasetOrder,
        WorkerpoolOrder calldata workerpoolOrder,
        RequestOrder calldata requestOrder
    ) external returns (bytes32 dealId) {
        return _match(appOrder, datasetOrder, workerpoolOrder, requestOrder, msg.sender);
    }

    /// @notice Deposit `amount` (after `approve`) and match in one transaction. The caller pays:
    /// as the requester, or as a sponsor when it is someone else.
    function depositAndMatchOrders(
        uint256 amount,
        AppOrder calldata appOrder,
        DatasetOrder calldata datasetOrder,
        WorkerpoolOrder calldata workerpoolOrder,
        RequestOrder calldata requestOrder
    ) external nonReentrant returns (bytes32 dealId) {
        _deposit(msg.sender, amount);
        return _match(appOrder, datasetOrder, workerpoolOrder, requestOrder, msg.sender);
    }

    function _match(
        AppOrder calldata a,
        DatasetOrder calldata d,
        WorkerpoolOrder calldata w,
        RequestOrder calldata r,
        address payer
    ) internal returns (bytes32 dealId) {
        bool hasDataset = r.dataset != address(0);
        Match memory m;
        m.tag = _checkCompatibility(a, d, w, r, hasDataset);
        _checkRestrictions(a, d, w, r, hasDataset);
        m.timeref = _checkRanges(a, d, w, r, hasDataset);
        _checkOwnersAndSignatures(m, a, d, w, r, payer, hasDataset);
        (uint256 botFirst, uint256 volume) = _consume(m, a.volume, d.volume, w.volume, r.volume, hasDataset);
        Deal memory deal = _buildDeal(m, a, d, w, r, payer, hasDataset, botFirst, volume);
        dealId = Deals.id(m.requestHash, botFirst);

        // escrow: task prices from the payer, the scheduler's stake from the workerpool owner
        _lock(payer, (uint256(deal.appPrice) + deal.datasetPrice + deal.workerpoolPrice) * volume);
        uint256 stake = _schedulerStake(deal.workerpoolPrice) * volume;
        if (stake != 0) _lock(deal.workerpoolOwner, stake);

        bytes memory encoded = Deals.encode(deal);
        _deals[dealId] = Deals.commitment(encoded) | Deals.EXISTS;
        emit DealCreated(
            dealId,
            deal.workerpool,
            deal.requester,
            encoded,
            m.appHash,
            m.datasetHash,
            m.workerpoolHash,
            m.requestHash,
            r.beneficiary,
            r.params
        );
    }

    /// @dev iExec's checks 0x00..0x11; returns the deal tag.
    function _checkCompatibility(
        AppOrder calldata a,
        DatasetOrder calldata d,
        WorkerpoolOrder calldata w,
        RequestOrder calldata r,
        bool hasDataset
    ) internal pure returns (bytes32 tag) {
        // [0x00 0x01] category
        if (r.category != w.category) revert CategoryMismatch(r.category, w.category);
        // [0x02] trust
        if (r.trust > w.trust) revert TrustTooHigh(r.trust, w.trust);
        if (r.trust > MAX_TRUST) revert TrustOutOfRange(r.trust);
        // [0x03..0x05] prices: the deal uses the ask prices
        if (r.appmaxprice < a.appprice) revert AppPriceTooHigh(a.appprice, r.appmaxprice);
        if (hasDataset && r.datasetmaxprice < d.datasetprice) {
            revert DatasetPriceTooHigh(d.datasetprice, r.datasetmaxprice);
        }
        if (r.workerpoolmaxprice < w.workerpoolprice) {
            revert WorkerpoolPriceTooHigh(w.workerpoolprice, r.workerpoolmaxprice);
        }
        // [0x06 0x07] tags
        tag = a.tag | r.tag;
        if (hasDataset) tag |= d.tag & ~TAG_TEE_FRAMEWORKS;
        if (tag & ~w.tag != 0) revert TagNotOffered(tag, w.tag);
        if ((tag ^ a.tag) & TAG_TEE != 0) revert TeeMismatch(tag, a.tag); // TEE asked, app not TEE
        // [0x10 0x11] the request names the app and dataset exactly
        if (r.app != a.app) revert AppMismatch(r.app, a.app);
        if (r.dataset != d.dataset) revert DatasetMismatch(r.dataset, d.dataset);
    }

    /// @dev What the deal packs fits its fields (prices 96 bits), and the category exists;
    /// returns the category's time reference.
    function _checkRanges(
        AppOrder calldata a,
        DatasetOrder calldata d,
        WorkerpoolOrder calldata w,
        RequestOrder calldata r,
        bool hasDataset
    ) internal view returns (uint256 timeref) {
        _checkPrice(a.appprice);
        if (hasDataset) _checkPrice(d.datasetprice);
        _checkPrice(w.workerpoolprice);
        timeref = _categories[r.category].timeref;
        if (timeref == 0) revert UnknownCategory(r.category);
    }

    /// @dev iExec's checks 0x20..0x50: registered assets, orders signed by their owners.
    /// Records in `m` each order's digest, the app and dataset owners and the workerpool's word.
    function _checkOwnersAndSignatures(
        Match memory m,
        AppOrder calldata a,
        DatasetOrder calldata d,
        WorkerpoolOrder calldata w,
        RequestOrder calldata r,
        address payer,
        bool hasDataset
    ) internal view {
        uint256 word;
        (m.appOwner, word) = _ownerOf(a.app, OrderKind.APP);
        if (m.appOwner == address(0)) revert AppNotRegistered(a.app);
        m.appHash = _hashTypedDataV4(Orders.hash(a));
        if (!_isValidOrderSignature(AssetWord.presignKey(word), m.appHash, a.sign)) {
            revert InvalidAppOrderSignature(m.appHash);
        }

        if (hasDataset) {
            (m.datasetOwner, word) = _ownerOf(d.dataset, OrderKind.DATASET);
            if (m.datasetOwner == address(0)) revert DatasetNotRegistered(d.dataset);
            m.datasetHash = _hashTypedDataV4(Orders.hash(d));
            if (!_isValidOrderSignature(AssetWord.presignKey(word), m.datasetHash, d.sign)) {
                revert InvalidDatasetOrderSignature(m.datasetHash);
            }
        }

        address workerpoolOwner;
        (workerpoolOwner, m.workerpoolWord) = _ownerOf(w.workerpool, OrderKind.WORKERPOOL);
        if (workerpoolOwner == address(0)) revert WorkerpoolNotRegistered(w.workerpool);
        m.workerpoolHash = _hashTypedDataV4(Orders.hash(w));
        if (!_isValidOrderSignature(AssetWord.presignKey(m.workerpoolWord), m.workerpoolHash, w.sign)) {
            revert InvalidWorkerpoolOrderSignature(m.workerpoolHash);
        }

        m.requestHash = _checkRequestSignature(r, payer);
    }

    /// @dev [0x60] deal volume = smallest remaining volume; records consumption. Returns the
    /// request's consumed volume before this match (the deal's first task index) and the volume.
    function _consume(
        Match memory m,
        uint256 appVolume,
        uint256 datasetVolume,
        uint256 workerpoolVolume,
        uint256 requestVolume,
        bool hasDataset
    ) internal returns (uint256 reqConsumed, uint256 volume) {
        volume = _remaining(m.appHash, appVolume);
        if (volume == 0) revert AppOrderConsumed(m.appHash);
        if (hasDataset) {
            uint256 dsRemaining = _remaining(m.datasetHash, datasetVolume);
            if (dsRemaining == 0) revert DatasetOrderConsumed(m.datasetHash);
            if (dsRemaining < volume) volume = dsRemaining;
        }
        uint256 wpRemaining = _remaining(m.workerpoolHash, workerpoolVolume);
        if (wpRemaining == 0) revert WorkerpoolOrderConsumed(m.workerpoolHash);
        if (wpRemaining < volume) volume = wpRemaining;
        reqConsumed = _requestConsumed(m.requestHash, requestVolume);
        if (reqConsumed >= requestVolume) revert RequestOrderConsumed(m.requestHash);
        if (requestVolume - reqConsumed < volume) volume = requestVolume - reqConsumed;
        if (reqConsumed + volume > type(uint32).max) revert VolumeOutOfRange(reqConsumed + volume);

        // consumed <= volume always holds, so these cannot overflow
        unchecked {
            _consumed[m.appHash] += volume;
            if (hasDataset) _consumed[m.datasetHash] += volume;
            _consumed[m.workerpoolHash] += volume;
            // the first deal of a request taking its whole volume writes nothing for the request:
            // its deal word records it (see `_requestConsumed`)
            if (reqConsumed != 0 || volume != requestVolume) _consumed[m.requestHash] = reqConsumed + volume;
        }
    }

    /// @dev The deal, every field in one place, from checked orders (casts are range-checked by
    /// `_checkCompatibility` and `_checkRanges`) and the bag [botFirst, botFirst + volume).
    function _buildDeal(
        Match memory m,
        AppOrder calldata a,
        DatasetOrder calldata d,
        WorkerpoolOrder calldata w,
        RequestOrder calldata r,
        address payer,
        bool hasDataset,
        uint256 botFirst,
        uint256 volume
    ) internal view returns (Deal memory deal) {
        deal.app = a.app;
        deal.appOwner = m.appOwner;
        deal.appPrice = uint96(a.appprice);
        if (hasDataset) {
            deal.dataset = d.dataset;
            deal.datasetOwner = m.datasetOwner;
            deal.datasetPrice = uint96(d.datasetprice);
        }
        deal.workerpool = w.workerpool;
        deal.workerpoolOwner = AssetWord.owner(m.workerpoolWord);
        deal.workerpoolPrice = uint96(w.workerpoolprice);
        // the ratios in force now (a change takes effect POLICY_DELAY after it is made); stake
        // ratio <= 100 (registry bound), so the stake fits 96 bits like the price
        (uint8 stakeRatio, uint8 rewardRatio) = AssetWord.ratiosAt(m.workerpoolWord, block.timestamp);
        deal.workerStake = uint96(w.workerpoolprice * stakeRatio / 100);
        deal.schedulerRewardRatio = rewardRatio;
        deal.requester = r.requester;
        deal.payer = payer;
        deal.callback = r.callback;
        deal.tag = m.tag;
        deal.trust = r.trust == 0 ? 1 : uint32(r.trust);
        deal.category = uint32(r.category);
        deal.timeref = uint32(m.timeref);
        deal.startTime = uint40(block.timestamp);
        deal.botFirst = uint32(botFirst);
        deal.botSize = uint32(volume);
    }

    function _checkRequestSignature(RequestOrder calldata r, address payer)
        internal
        view
        returns (bytes32 reqHash)
    {
        bytes32 structHash = Orders.hash(r);
        reqHash = _hashTypedDataV4(structHash);
        if (_isValidOrderSignature(uint160(r.requester), reqHash, r.sign)) return reqHash;
        // a sponsored request: valid only when someone other than the requester pays, and
        // only for the named sponsor (or any sponsor if it names none)
        if (payer != r.requester) {
            if (_isValidSignature(
                    r.requester, _hashTypedDataV4(Orders.hashSponsored(structHash, payer)), r.sign
                )) {
                return reqHash;
            }
            if (_isValidSignature(
                    r.requester, _hashTypedDataV4(Orders.hashSponsored(structHash, address(0))), r.sign
                )) return reqHash;
        }
        revert InvalidRequestOrderSignature(reqHash);
    }

    function _checkRestrictions(
        AppOrder calldata a,
        DatasetOrder calldata d,
        WorkerpoolOrder calldata w,
        RequestOrder calldata r,
        bool hasDataset
    ) internal view {
        if (!_allowed(r.workerpool, w.workerpool)) {
            revert WorkerpoolRestrictedByRequest(w.workerpool);
        }
        if (!_allowed(a.datasetrestrict, r.dataset)) revert DatasetRestrictedByApp(r.dataset);
        if (!_allowed(a.workerpoolrestrict, w.workerpool)) revert WorkerpoolRestrictedByApp(w.workerpool);
        if (!_allowed(a.requesterrestrict, r.requester)) revert RequesterRestrictedByApp(r.requester);
        if (hasDataset) {
            if (!_allowed(d.apprestrict, a.app)) revert AppRestrictedByDataset(a.app);
            if (!_allowed(d.workerpoolrestrict, w.workerpool)) {
                revert WorkerpoolRestrictedByDataset(w.workerpool);
            }
            if (!_allowed(d.requesterrestrict, r.requester)) {
                revert RequesterRestrictedByDataset(r.requester);
            }
        }
        if (!_allowed(w.apprestrict, a.app)) revert AppRestrictedByWorkerpool(a.app);
        if (!_allowed(w.datasetrestrict, r.dataset)) revert DatasetRestrictedByWorkerpool(r.dataset);
        if (!_allowed(w.requesterrestrict, r.requester)) revert RequesterRestrictedByWorkerpool(r.requester);
    }

    /// @dev A restriction allows anyone (zero), one address, or the members of an ERC-734
    /// identity group (a key with purpose 4), asked with a gas cap. A group that reverts, is not a
    /// contract or answers anything but `true` (ABI-encoded) allows no one.
    function _allowed(address restriction, address account) internal view returns (bool) {
        if (restriction == address(0) || restriction == account) return true;
        if (restriction.code.length == 0) return false;
        bytes memory call_ =
            abi.encodeCall(IERC734.keyHasPurpose, (bytes32(uint256(uint160(account))), GROUP_MEMBER_PURPOSE));
        return _staticWord(restriction, call_) == bytes32(uint256(1));
    }

    function _remaining(bytes32 orderHash, uint256 volume) internal view returns (uint256) {
        uint256 consumed = _consumed[orderHash];
        return consumed >= volume ? 0 : volume - consumed;
    }

    /// @dev Consumed volume of a request order. Most requests are matched whole by their first
    /// deal; for those the hub writes no consumption slot (saving a fresh 22 k gas store): a word
    /// at deal (request, 0) with no count means "all consumed". Partial fills write the count;
    /// closing a never-matched request writes a bare EXISTS marker at deal (request, 0). So a
    /// fresh request costs one storage read.
    function _requestConsumed(bytes32 reqHash, uint256 volume) internal view returns (uint256 consumed) {
        if (_deals[Deals.id(reqHash, 0)] == 0) return 0;
        consumed = _consumed[reqHash];
        if (consumed == 0) consumed = volume;
    }

    function _checkPrice(uint256 price) internal pure {
        if (price > type(uint96).max) revert PriceOutOfRange(price);
    }

    // ------------------------------------------------------------------ order management

    /// @notice Presign (SIGN) or cancel (CLOSE) an app order: by its owner, or by anyone carrying
    /// the owner's EIP-712 signature of the operation.
    function manageAppOrder(AppOrderOperation calldata op) external {
        AppOrder calldata o = op.order;
        _manageOrder(
            OrderKind.APP, _presignKey(o.app, OrderKind.APP), Orders.hash(o), o.volume, op.operation, op.sign
        );
    }

    /// @notice Presign or cancel a dataset order (see `manageAppOrder`).
    function manageDatasetOrder(DatasetOrderOperation calldata op) external {
        DatasetOrder calldata o = op.order;
        _manageOrder(
            OrderKind.DATASET,
            _presignKey(o.dataset, OrderKind.DATASET),
            Orders.hash(o),
            o.volume,
            op.operation,
            op.sign
        );
    }

    /// @notice Presign or cancel a workerpool order (see `manageAppOrder`).
    function manageWorkerpoolOrder(WorkerpoolOrderOperation calldata op) external {
        WorkerpoolOrder calldata o = op.order;
        _manageOrder(
            OrderKind.WORKERPOOL,
            _presignKey(o.workerpool, OrderKind.WORKERPOOL),
            Orders.hash(o),
            o.volume,
            op.operation,
            op.sign
        );
    }

    /// @notice Presign or cancel a request order; its owner is `requester`.
    function manageRequestOrder(RequestOrderOperation calldata op) external {
        RequestOrder calldata o = op.order;
        _manageOrder(OrderKind.REQUEST, uint160(o.requester), Orders.hash(o), o.volume, op.operation, op.sign);
    }

    /// @dev Who may presign or close orders of `asset` now, and the ownership period a presign is
    /// bound to (`AssetWord.presignKey`); zero if `asset` is not registered as `kind`.
    function _presignKey(address asset, OrderKind kind) internal view returns (uint256) {
        (address owner, uint256 word) = _ownerOf(asset, kind);
        return owner == address(0) ? 0 : AssetWord.presignKey(word);
    }

    /// @dev One order operation, authorized by the owner: a presign is tied to the owner and its
    /// ownership period (`presignKey`); a close
    /// consumes the whole `volume` (a never-matched request instead gets a bare marker at its
    /// first deal id, see `_requestConsumed`).
    function _manageOrder(
        OrderKind kind,
        uint256 presignKey,
        bytes32 structHash,
        uint256 volume,
        OrderOperation operation,
        bytes calldata sign
    ) internal {
        address owner = address(uint160(presignKey));
        bytes32 orderHash = _hashTypedDataV4(structHash);
        _authorizeOperation(owner, kind, structHash, operation, sign);
        if (operation == OrderOperation.SIGN) {
            _presigned[orderHash] = presignKey;
            if (kind == OrderKind.APP) emit AppOrderSigned(orderHash, owner);
            else if (kind == OrderKind.DATASET) emit DatasetOrderSigned(orderHash, owner);
            else if (kind == OrderKind.WORKERPOOL) emit WorkerpoolOrderSigned(orderHash, owner);
            else emit RequestOrderSigned(orderHash, owner);
            return;
        }
        if (kind != OrderKind.REQUEST) {
            _consumed[orderHash] = volume;
            if (kind == OrderKind.APP) emit AppOrderClosed(orderHash, owner);
            else if (kind == OrderKind.DATASET) emit DatasetOrderClosed(orderHash, owner);
            else emit WorkerpoolOrderClosed(orderHash, owner);
            return;
        }
        bytes32 firstDeal = Deals.id(orderHash, 0);
        if (_deals[firstDeal] == 0) _deals[firstDeal] = Deals.EXISTS; // never matched: marker
        else _consumed[orderHash] = volume;
        emit RequestOrderClosed(orderHash, owner);
    }

    /// @dev The owner itself, or anyone with the owner's signature over the operation.
    function _authorizeOperation(
        address owner,
        OrderKind kind,
        bytes32 orderStructHash,
        OrderOperation operation,
        bytes calldata sign
    ) internal view {
        if (owner == address(0)) revert NotOrderOwner(address(0), msg.sender);
        if (msg.sender == owner) return;
        bytes32 opHash = _hashTypedDataV4(Orders.hashOperation(kind, orderStructHash, operation));
        if (sign.length == 0) revert NotOrderOwner(owner, msg.sender);
        if (!_isValidSignature(owner, opHash, sign)) revert InvalidOperationSignature();
    }

    // ------------------------------------------------------------------ accessors

    /// @notice Volume consumed (matched or cancelled) of an order digest. A value at or above
    /// the order's volume means nothing is left: for a request whose first deal took it all the
    /// hub stores no count and this returns 2^256 - 1.
    function viewConsumed(bytes32 orderHash) external view returns (uint256) {
        uint256 consumed = _consumed[orderHash];
        if (consumed == 0 && _deals[Deals.id(orderHash, 0)] != 0) return type(uint256).max;
        return consumed;
    }

    /// @notice Owner of a registered asset as the hub sees it (zero if unknown).
    /// @param kind an `OrderKind`: 0 app, 1 dataset, 2 workerpool.
    function viewAssetOwner(address asset, uint256 kind) external view returns (address owner) {
        owner = AssetWord.ownerAs(_assets[asset], kind);
    }

    /// @notice Owner who presigned an order digest (zero if none) and the period of its ownership
    /// then: the presign holds only while that owner owns the asset without interruption.
    function viewPresigned(bytes32 orderHash) external view returns (address owner, uint256 period) {
        uint256 key = _presigned[orderHash];
        return (address(uint160(key)), key >> 160);
    }

    /// @notice The deal word: 224-bit commitment and 32 bits of execution state; zero if unknown
    /// (a word with a zero commitment marks a request closed before any match).
    function viewDealWord(bytes32 dealId) external view returns (uint256) {
        return _deals[dealId];
    }

    /// @notice True if `encodedDeal` (packed, as in `DealCreated`) is exactly what the hub
    /// committed to under `dealId`.
    function checkDeal(bytes32 dealId, bytes calldata encodedDeal) external view returns (bool) {
        uint256 commitment = _deals[dealId] & Deals.COMMITMENT_MASK;
        return commitment != 0 && commitment == Deals.commitment(encodedDeal);
    }

    /// @notice Decode a packed deal (from `DealCreated`) into its fields.
    function decodeDeal(bytes calldata encodedDeal) external pure returns (Deal memory) {
        return Deals.decode(encodedDeal);
    }

    /// @notice Packed encoding of a deal (inverse of `decodeDeal`).
    function encodeDeal(Deal calldata deal) external pure returns (bytes memory) {
        return Deals.encode(deal);
    }

    /// @notice Deal id of the deal that starts at `botFirst` of request order `requestHash`.
    function computeDealId(bytes32 requestHash, uint256 botFirst) external pure returns (bytes32) {
        return Deals.id(requestHash, botFirst);
    }

    /// @notice Task id of task `index` (absolute in the bag) of `dealId`.
    function computeTaskId(bytes32 dealId, uint256 index) external pure returns (bytes32) {
        return Deals.taskId(dealId, index);
    }

    /// @notice EIP-712 digest of an app order (what its owner signs; key of consumed volume).
    function hashAppOrder(AppOrder calldata order) external view returns (bytes32) {
        return _hashTypedDataV4(Orders.hash(order));
    }

    /// @notice EIP-712 digest of a dataset order.
    function hashDatasetOrder(DatasetOrder calldata order) external view returns (bytes32) {
        return _hashTypedDataV4(Orders.hash(order));
    }

    /// @notice EIP-712 digest of a workerpool order.
    function hashWorkerpoolOrder(WorkerpoolOrder calldata order) external view returns (bytes32) {
        return _hashTypedDataV4(Orders.hash(order));
    }

    /// @notice EIP-712 digest of a request order.
    function hashRequestOrder(RequestOrder calldata order) external view returns (bytes32) {
        return _hashTypedDataV4(Orders.hash(order));
    }

    /// @notice EIP-712 digest a requester signs to let only `sponsor` (or anyone, if zero) pay.
    function hashSponsoredRequest(RequestOrder calldata order, address sponsor)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(Orders.hashSponsored(Orders.hash(order), sponsor));
    }

    /// @notice EIP-712 digest of an order operation (what the owner signs to let someone else
    /// presign or close the order).
    /// @param kind the order's `OrderKind`: 0 app, 1 dataset, 2 workerpool, 3 request.
    /// @param orderStructHash the order's EIP-712 struct hash (not its digest).
    function hashOperation(OrderKind kind, bytes32 orderStructHash, OrderOperation operation)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(Orders.hashOperation(kind, orderStructHash, operation));
    }
}
