// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Vm, vm} from "./Vm.sol";

/// @notice Minimal test base: assertions that revert with a readable message, and `bound`.
abstract contract Test {
    error AssertionFailed(string message);

    function _fail(string memory message) internal pure {
        revert AssertionFailed(message);
    }

    function assertTrue(bool value, string memory message) internal pure {
        if (!value) _fail(message);
    }

    function assertFalse(bool value, string memory message) internal pure {
        if (value) _fail(message);
    }

    function assertEq(uint256 a, uint256 b, string memory message) internal pure {
        if (a != b) _fail(string.concat(message, ": ", _str(a), " != ", _str(b)));
    }

    function assertEq(address a, address b, string memory message) internal pure {
        if (a != b) _fail(string.concat(message, ": addresses differ"));
    }

    function assertEq(bytes32 a, bytes32 b, string memory message) internal pure {
        if (a != b) _fail(string.concat(message, ": bytes32 differ"));
    }

    function assertLe(uint256 a, uint256 b, string memory message) internal pure {
        if (a > b) _fail(string.concat(message, ": ", _str(a), " > ", _str(b)));
    }

    function assertGt(uint256 a, uint256 b, string memory message) internal pure {
        if (a <= b) _fail(string.concat(message, ": ", _str(a), " <= ", _str(b)));
    }

    function assertLt(uint256 a, uint256 b, string memory message) internal pure {
        if (a >= b) _fail(string.concat(message, ": ", _str(a), " >= ", _str(b)));
    }

    function assertGe(uint256 a, uint256 b, string memory message) internal pure {
        if (a < b) _fail(string.concat(message, ": ", _str(a), " < ", _str(b)));
    }

    function assertEq(bytes memory a, bytes memory b, string memory message) internal pure {
        if (keccak256(a) != keccak256(b)) _fail(message);
    }

    /// @notice Map any fuzz input into [min, max] without rejecting runs.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + (x % (size + 1));
    }

    function _str(uint256 value) internal pure returns (string memory) {
        if (value == 0) return "0";
        uint256 digits;
        for (uint256 v = value; v != 0; v /= 10) {
            digits++;
        }
        bytes memory buf = new bytes(digits);
        for (; value != 0; value /= 10) {
            buf[--digits] = bytes1(uint8(48 + value % 10));
        }
        return string(buf);
    }
}

/// @notice What forge reads from an invariant test to pick the contracts to call.
abstract contract InvariantTest is Test {
    address[] private _targets;

    function targetContract(address target) internal {
        _targets.push(target);
    }

    function targetContracts() public view returns (address[] memory) {
        return _targets;
    }
}
