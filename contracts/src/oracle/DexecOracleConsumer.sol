// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {RequestOrderOperation} from "../Hub.sol";
import {IOracleConsumer} from "../interfaces/IOracleConsumer.sol";
import {Deals} from "../libs/Deals.sol";
import {OrderOperation, Orders, RequestOrder} from "../libs/Orders.sol";

/// @notice What an oracle consumer chooses of a request order; the consumer fills in the rest
/// (itself as requester, beneficiary and callback, volume 1, a fresh salt). Fields mean what they
/// mean in `RequestOrder`.
struct OracleRequest {
    /// The app to run.
    address app;
    /// Highest app price accepted per task.
    uint256 appmaxprice;
    /// The dataset, or zero for none.
    address dataset;
    /// Highest dataset price accepted per task.
    uint256 datasetmaxprice;
    /// Restriction: one workerpool, an ERC-734 group of them, or zero for any.
    address workerpool;
    /// Highest workerpool price accepted per task.
    uint256 workerpoolmaxprice;
    /// The category (maximum run time) asked for.
    uint256 category;
    /// The trust asked for (0 or 1: one worker; more: replicated execution).
    uint256 trust;
    /// Tag bits asked for (bit 0: TEE).
    bytes32 tag;
    /// The iExec-style JSON params of the task (`iexec_args`, `iexec_input_files`, …).
    string params;
}

/// @notice The hub functions an oracle consumer calls: a subset of `Hub`'s ABI.
interface IOracleHub {
    /// @notice See `Hub.manageRequestOrder`.
    function manageRequestOrder(RequestOrderOperation calldata op) external;
    /// @notice See `HubBase.domainSeparator`.
    function domainSeparator() external view returns (bytes32);
    /// @notice See `Hub.viewDealWord`.
    function viewDealWord(bytes32 dealId) external view returns (uint256);
    /// @notice See `HubBase.withdrawTo`.
    function withdrawTo(uint256 amount, address to) external;
}

/// @title DexecOracleConsumer: a contract that asks the dexec market for results and receives them.
/// @notice `_requestResult` presigns a request order on the hub (the contract is its requester,
/// beneficiary and callback) and emits the whole order in `ResultRequested`; off-chain code
/// (`dexec` CLI, a feed runner) reads it from the event and publishes it to the market so that a
/// scheduler fills it with `matchOrders` (the empty `sign` tells the hub to use the presign). The
/// request is volume 1, so its only task is task 0 of deal (requestHash, 0): its id is known when
/// the request is made, and the hub's callback (`receiveResult`) with that task id is routed to
/// `_onResult` with the caller's request id.
///
/// Money: the contract is the requester, so matching its request locks the task's price in the
/// contract's own hub account. Fund it with the hub's `depositFor(amount, consumer)`; the owner
/// takes back what is left with `withdraw`. A request that is never matched locks nothing and can
/// be cancelled (`cancelRequest`); a matched task that fails is refunded by the hub's claim.
abstract contract DexecOracleConsumer is IOracleConsumer, Ownable2Step {
    /// @notice The hub this consumer requests on and accepts callbacks from.
    address public immutable hub;
    /// @dev The hub's EIP-712 domain separator and the chain it was read on (recomputed by the
    /// hub, and so read again, when the chain id changes).
    bytes32 private immutable _cachedDomain;
    uint256 private immutable _cachedChainId;

    /// @notice Requests made so far: the next request's salt is keccak256(abi.encode(id, requestNonce)).
    uint256 public requestNonce;
    /// @notice Request id of each task whose result is awaited (zero: none).
    mapping(bytes32 taskId => bytes32 id) public pendingRequest;

    /// @notice The request order `order` (digest `requestHash`) is presigned on the hub; its only
    /// task will be `taskId`. Publish `order` to the market (its `sign` is empty: presigned).
    event ResultRequested(
        bytes32 indexed id, bytes32 indexed requestHash, bytes32 taskId, RequestOrder order
    );
    /// @notice The hub delivered a result for a task this contract is not waiting for (a request
    /// by someone else naming it as callback, or one it cancelled): ignored.
    event UnexpectedResult(bytes32 indexed taskId);
    /// @notice The pending request was closed on the hub before any match: it can no longer be filled.
    event RequestCancelled(bytes32 indexed id, bytes32 indexed requestHash, bytes32 taskId);

    /// @notice `receiveResult` is for the hub only.
    error NotHub(address caller);
    /// @notice Zero is not a request id (it marks "no pending request").
    error ZeroId();
    /// @notice The hub address is zero.
    error ZeroHub();
    /// @notice No pending request of this contract has this order (or it was already answered or cancelled).
    error UnknownRequest(bytes32 taskId);
    /// @notice The request was already matched: its task runs and will be answered (or refunded
    /// on a claim), so it cannot be cancelled.
    error RequestAlreadyMatched(bytes32 taskId);

    /// @notice A consumer of `hub_`, owned by its deployer.
    constructor(address hub_) Ownable(msg.sender) {
        if (hub_ == address(0)) revert ZeroHub();
        hub = hub_;
        _cachedDomain = IOracleHub(hub_).domainSeparator();
        _cachedChainId = block.chainid;
    }

    /// @notice The hub's callback: routes the result of an awaited task to `_onResult` (once);
    /// a result for any other task is ignored with `UnexpectedResult`, never reverted.
    /// @param data the task's callback data, as the app wrote it (`callback-data` of computed.json).
    function receiveResult(bytes32 taskId, bytes calldata data) external {
        if (msg.sender != hub) revert NotHub(msg.sender);
        bytes32 id = pendingRequest[taskId];
        if (id == 0) {
            emit UnexpectedResult(taskId);
            return;
        }
        delete pendingRequest[taskId];
        _onResult(id, taskId, data);
    }

    /// @notice Close a pending request on the hub before it is matched (see `_authorizeCancel`
    /// for who may). Nothing was locked for it, so nothing is refunded.
    /// @param order the order exactly as emitted in `ResultRequested`.
    function cancelRequest(RequestOrder calldata order) external {
        _authorizeCancel();
        bytes32 requestHash = _hashOrder(order);
        bytes32 dealId = Deals.id(requestHash, 0);
        bytes32 taskId = Deals.taskId(dealId, 0);
        bytes32 id = pendingRequest[taskId];
        if (id == 0) revert UnknownRequest(taskId);
        if (IOracleHub(hub).viewDealWord(dealId) != 0) revert RequestAlreadyMatched(taskId);
        delete pendingRequest[taskId];
        IOracleHub(hub)
            .manageRequestOrder(
                RequestOrderOperation({order: order, operation: OrderOperation.CLOSE, sign: ""})
            );
        emit RequestCancelled(id, requestHash, taskId);
    }

    /// @notice Owner only: send `amount` of this contract's free hub balance to `to`.
    function withdraw(uint256 amount, address to) external onlyOwner {
        IOracleHub(hub).withdrawTo(amount, to);
    }

    /// @notice Presign on the hub a volume-1 request order for `r` paid from this contract's hub
    /// account, and remember that its task answers request `id`. Several requests may await
    /// results for the same id; each gets its own task.
    /// @param id the caller's name for what is asked (non-zero), handed back to `_onResult`.
    /// @return requestHash the order's EIP-712 digest (the hub's key for it).
    /// @return taskId the id the hub will give the order's only task.
    function _requestResult(bytes32 id, OracleRequest memory r)
        internal
        returns (bytes32 requestHash, bytes32 taskId)
    {
        if (id == 0) revert ZeroId();
        RequestOrder memory order = RequestOrder({
            app: r.app,
            appmaxprice: r.appmaxprice,
            dataset: r.dataset,
            datasetmaxprice: r.datasetmaxprice,
            workerpool: r.workerpool,
            workerpoolmaxprice: r.workerpoolmaxprice,
            requester: address(this),
            volume: 1,
            tag: r.tag,
            category: r.category,
            trust: r.trust,
            beneficiary: address(this),
            callback: address(this),
            params: r.params,
            salt: keccak256(abi.encode(id, requestNonce++)),
            sign: ""
        });
        // the contract is the order's owner (its requester): it presigns by sending the operation
        IOracleHub(hub)
            .manageRequestOrder(
                RequestOrderOperation({order: order, operation: OrderOperation.SIGN, sign: ""})
            );
        requestHash = _hashOrder(order);
        taskId = Deals.taskId(Deals.id(requestHash, 0), 0);
        pendingRequest[taskId] = id;
        emit ResultRequested(id, requestHash, taskId, order);
    }

    /// @notice Handle the result of request `id` (called once per awaited task, by the hub, inside
    /// its callback gas cap: 200 000 by default). A revert here is recorded by the hub and lost:
    /// validate `data` and ignore what is wrong rather than revert.
    function _onResult(bytes32 id, bytes32 taskId, bytes calldata data) internal virtual;

    /// @notice Who may cancel pending requests: the owner, unless overridden.
    function _authorizeCancel() internal view virtual {
        _checkOwner();
    }

    /// @notice The order's EIP-712 digest as the hub computes it (`Hub.hashRequestOrder`), here
    /// from memory and the cached domain: cheaper than asking the hub.
    function _hashOrder(RequestOrder memory o) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                Orders.REQUEST_ORDER_TYPEHASH,
                o.app,
                o.appmaxprice,
                o.dataset,
                o.datasetmaxprice,
                o.workerpool,
                o.workerpoolmaxprice,
                o.requester,
                o.volume,
                o.tag,
                o.category,
                o.trust,
                o.beneficiary,
                o.callback,
                keccak256(bytes(o.params)),
                o.salt
            )
        );
        bytes32 domain = block.chainid == _cachedChainId ? _cachedDomain : IOracleHub(hub).domainSeparator();
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }
}
