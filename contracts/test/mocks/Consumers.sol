// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @notice A well-behaved oracle consumer: stores what it receives.
contract GoodConsumer {
    bytes32 public lastTask;
    bytes public lastData;

    function receiveResult(bytes32 taskId, bytes calldata data) external {
        lastTask = taskId;
        lastData = data;
    }
}

/// @notice A consumer that always reverts.
contract RevertingConsumer {
    function receiveResult(bytes32, bytes calldata) external pure {
        revert("no thanks");
    }
}

/// @notice A consumer that burns all the gas it gets.
contract GasBurner {
    function receiveResult(bytes32, bytes calldata) external pure {
        while (true) {}
    }
}

interface IHubReenter {
    function withdraw(uint256 amount) external;
    function deposit(uint256 amount) external;
}

/// @notice A consumer that tries to re-enter the hub to move money during the callback.
contract ReentrantConsumer {
    address public hub;
    bool public reentered;

    constructor(address hub_) {
        hub = hub_;
    }

    function receiveResult(bytes32, bytes calldata) external {
        // the hub must refuse: the settlement holds the reentrancy lock
        try IHubReenter(hub).withdraw(1) {
            reentered = true;
        } catch {}
    }
}

/// @notice A return-data bomb: answers every callback with `size` bytes (280 KB fits in a
/// 200 000 gas cap), which a hub copying return data would pay for, quadratically in a batch.
contract ReturnBomb {
    uint256 public immutable size;

    constructor(uint256 size_) {
        size = size_;
    }

    function receiveResult(bytes32, bytes calldata) external view {
        uint256 n = size;
        assembly {
            return(0, n)
        }
    }
}

/// @notice Measures the gas it is given, to check the hub's promise of a full cap.
contract GasMeter {
    uint256 public received;

    function receiveResult(bytes32, bytes calldata) external {
        received = gasleft();
    }
}
