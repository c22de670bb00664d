// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IOracleConsumer} from "../../interfaces/IOracleConsumer.sol";

/// @title HashCheckConsumer: the smallest request/response oracle consumer, an example.
/// @notice Requests come from a wallet, not from this contract: a requester names it as the
/// callback of a request order (`dexec oracle request <app> --callback <this>`), and when the
/// task completes the hub calls `receiveResult`. Any app's callback data is kept as `lastTask` /
/// `lastData` (the hub also keeps every task's callback data: `resultFor(taskId)`). An app that
/// answers a yes/no question, such as "does the file at this URL have sha256 X", writes
/// `abi.encode(bool)`: that answer is decoded into `answers[taskId]`.
///
/// Anyone may name this contract as a callback, so an answer says what some task computed, not
/// who asked: a real consumer checks the task's deal (its app, requester, trust) before trusting
/// it, or makes its own requests as `DexecOracleConsumer` does.
contract HashCheckConsumer is IOracleConsumer {
    /// @notice The hub whose callbacks are accepted.
    address public immutable hub;
    /// @notice The task of the last callback received.
    bytes32 public lastTask;
    /// @notice The callback data of the last callback received, whatever its format.
    bytes public lastData;
    /// @notice The decoded answer of each task whose callback data was `abi.encode(bool)`.
    mapping(bytes32 taskId => bool) public answers;
    /// @notice Whether `answers[taskId]` holds an answer (false: no boolean received).
    mapping(bytes32 taskId => bool) public answered;

    /// @notice Task `taskId` answered `answer` (its callback data was `abi.encode(answer)`).
    event Answered(bytes32 indexed taskId, bool answer);
    /// @notice Task `taskId` delivered `length` bytes of callback data that are not `abi.encode(bool)`.
    event Received(bytes32 indexed taskId, uint256 length);

    /// @notice `receiveResult` is for the hub only.
    error NotHub(address caller);
    /// @notice The hub address is zero.
    error ZeroHub();

    /// @notice A consumer of `hub_`'s callbacks.
    constructor(address hub_) {
        if (hub_ == address(0)) revert ZeroHub();
        hub = hub_;
    }

    /// @notice The hub's callback: keep the data; decode a boolean answer when it is one.
    /// Never reverts for the hub, whatever the data.
    function receiveResult(bytes32 taskId, bytes calldata data) external {
        if (msg.sender != hub) revert NotHub(msg.sender);
        lastTask = taskId;
        lastData = data;
        // abi.encode(bool): one word, 0 or 1 (anything else is not a boolean)
        if (data.length == 32) {
            uint256 word = uint256(bytes32(data));
            if (word <= 1) {
                bool answer = word == 1;
                answers[taskId] = answer;
                answered[taskId] = true;
                emit Answered(taskId, answer);
                return;
            }
        }
        emit Received(taskId, data.length);
    }
}
