// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {DexecOracleConsumer, OracleRequest} from "./DexecOracleConsumer.sol";

/// @title PriceFeedOracle: values (prices) computed on dexec, kept per feed id.
/// @notice A feed runner (the owner or an updater) calls `requestUpdate` with the task it wants
/// run (typically the `pricefeed` example app over several sources' answers); when the task
/// completes the hub calls back with `abi.encode(int256 value, uint256 timestamp)` and the feed
/// keeps the value if it is newer than the one it holds. Readers pull with `valueFor` (the shape
/// of EIP-2362) or `latest`, or follow `ValueUpdated`.
///
/// The feed pays for its tasks from its own hub account: fund it with the hub's
/// `depositFor(amount, feed)` (see `DexecOracleConsumer`).
contract PriceFeedOracle is DexecOracleConsumer {
    /// @notice EIP-2362 status: a value is present and fresh.
    uint256 public constant STATUS_OK = 200;
    /// @notice EIP-2362 status: no value yet for this id (value and timestamp are 0).
    uint256 public constant STATUS_NOT_FOUND = 404;
    /// @notice EIP-2362 status: the value is older than the id's max age (still returned).
    uint256 public constant STATUS_STALE = 408;
    /// @notice Length of valid callback data: abi.encode(int256 value, uint256 timestamp).
    uint256 public constant RESULT_LENGTH = 64;

    /// @dev The latest accepted value of a feed.
    struct Feed {
        int256 value;
        uint256 timestamp;
        bytes32 taskId;
    }

    mapping(bytes32 id => Feed) private _feeds;
    /// @notice Age (seconds) past which a feed's value is reported stale (408); 0: never stale.
    mapping(bytes32 id => uint256) public maxAge;
    /// @notice Accounts that may request updates (besides the owner).
    mapping(address account => bool) public isUpdater;

    /// @notice Feed `id` now holds `value` as of `timestamp` (unix seconds), computed by task `taskId`.
    event ValueUpdated(bytes32 indexed id, int256 value, uint256 timestamp, bytes32 taskId);
    /// @notice A result for `id` was not 64 bytes long: ignored.
    event MalformedResult(bytes32 indexed id, bytes32 indexed taskId, uint256 length);
    /// @notice A result for `id` was not newer than the value held (late delivery, or timestamp
    /// 0): ignored.
    event OutOfOrderResult(
        bytes32 indexed id, bytes32 indexed taskId, uint256 timestamp, uint256 latestTimestamp
    );
    /// @notice A result for `id` claimed a time after the block's: ignored (it would otherwise
    /// hold back every honest value until then).
    event FutureResult(bytes32 indexed id, bytes32 indexed taskId, uint256 timestamp);
    /// @notice The owner allowed (or stopped) `account` to request updates.
    event UpdaterSet(address indexed account, bool allowed);
    /// @notice The owner set the max age of feed `id` (seconds; 0: never stale).
    event MaxAgeSet(bytes32 indexed id, uint256 maxAge);

    /// @notice Only the owner or an updater may request updates.
    error NotUpdater(address caller);

    /// @notice A feed on `hub_`, owned by its deployer.
    constructor(address hub_) DexecOracleConsumer(hub_) {}

    /// @notice Owner only: allow or stop `account` requesting updates (and cancelling requests).
    function setUpdater(address account, bool allowed) external onlyOwner {
        isUpdater[account] = allowed;
        emit UpdaterSet(account, allowed);
    }

    /// @notice Owner only: a value of feed `id` older than `seconds_` is reported stale (408); 0: never.
    function setMaxAge(bytes32 id, uint256 seconds_) external onlyOwner {
        maxAge[id] = seconds_;
        emit MaxAgeSet(id, seconds_);
    }

    /// @notice Owner or updater: ask the market for a new value of feed `id`, computed as `r`
    /// says (see `DexecOracleConsumer._requestResult`; the order is in `ResultRequested`).
    /// @param id the feed, e.g. keccak256("ETH/USD-8"); not zero.
    /// @return requestHash the presigned order's digest.
    /// @return taskId the task whose result will update the feed.
    function requestUpdate(bytes32 id, OracleRequest calldata r)
        external
        returns (bytes32 requestHash, bytes32 taskId)
    {
        if (msg.sender != owner() && !isUpdater[msg.sender]) revert NotUpdater(msg.sender);
        return _requestResult(id, r);
    }

    /// @notice The value of feed `id` in the shape of EIP-2362 (a draft EIP: `valueFor(bytes32)`
    /// returning value, timestamp and an HTTP-like status).
    /// @return value the latest value (0 if none).
    /// @return timestamp its time, unix seconds (0 if none).
    /// @return status 200 present and fresh, 404 no value yet, 408 older than `maxAge(id)`.
    function valueFor(bytes32 id) external view returns (int256 value, uint256 timestamp, uint256 status) {
        Feed storage feed = _feeds[id];
        timestamp = feed.timestamp;
        if (timestamp == 0) return (0, 0, STATUS_NOT_FOUND);
        value = feed.value;
        uint256 age = maxAge[id];
        bool stale = age != 0 && block.timestamp > timestamp && block.timestamp - timestamp > age;
        status = stale ? STATUS_STALE : STATUS_OK;
    }

    /// @notice The latest value of feed `id`, its time and the task that computed it (all zero if none).
    function latest(bytes32 id) external view returns (int256 value, uint256 timestamp, bytes32 taskId) {
        Feed storage feed = _feeds[id];
        return (feed.value, feed.timestamp, feed.taskId);
    }

    /// @notice Any owner or updater may cancel a pending request.
    function _authorizeCancel() internal view override {
        if (msg.sender != owner() && !isUpdater[msg.sender]) revert NotUpdater(msg.sender);
    }

    /// @notice Keep `abi.encode(int256 value, uint256 timestamp)` if it is newer than the value
    /// held and not after the current block; ignore anything else with an event. Never reverts.
    function _onResult(bytes32 id, bytes32 taskId, bytes calldata data) internal override {
        if (data.length != RESULT_LENGTH) {
            emit MalformedResult(id, taskId, data.length);
            return;
        }
        (int256 value, uint256 timestamp) = abi.decode(data, (int256, uint256));
        if (timestamp > block.timestamp) {
            emit FutureResult(id, taskId, timestamp);
            return;
        }
        Feed storage feed = _feeds[id];
        uint256 held = feed.timestamp;
        if (timestamp <= held) {
            emit OutOfOrderResult(id, taskId, timestamp, held);
            return;
        }
        feed.value = value;
        feed.timestamp = timestamp;
        feed.taskId = taskId;
        emit ValueUpdated(id, value, timestamp, taskId);
    }
}
