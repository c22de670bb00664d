// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC734} from "../../src/interfaces/IERC734.sol";

/// @notice An ERC-1271 wallet that accepts exactly the digests its owner approved.
contract MockWallet is IERC1271 {
    address public immutable owner;
    mapping(bytes32 => bool) public approved;

    constructor(address owner_) {
        owner = owner_;
    }

    function approve(bytes32 digest) external {
        require(msg.sender == owner, "not owner");
        approved[digest] = true;
    }

    function isValidSignature(bytes32 digest, bytes calldata) external view returns (bytes4) {
        return approved[digest] ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }
}

/// @notice An ERC-734 identity whose group members are set by hand.
contract MockIdentity is IERC734 {
    mapping(bytes32 => bool) public members;

    function add(address member) external {
        members[bytes32(uint256(uint160(member)))] = true;
    }

    function keyHasPurpose(bytes32 key, uint256 purpose) external view returns (bool) {
        return purpose == 4 && members[key];
    }
}

/// @notice A contract whose keyHasPurpose reverts: as a restriction it must allow no one.
contract RevertingIdentity {
    function keyHasPurpose(bytes32, uint256) external pure returns (bool) {
        revert("nope");
    }
}

/// @notice A token that burns 1% of every transfer (the hub must credit what it receives).
contract FeeToken is ERC20 {
    constructor() ERC20("fee", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 fee = value / 100;
            super._update(from, address(0), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}

interface IHubEscrow {
    function withdraw(uint256 amount) external;
    function deposit(uint256 amount) external;
}

/// @notice A token that calls back into the hub during transfers (a hostile base token):
/// re-entry must be refused.
contract ReentrantToken is ERC20 {
    address public hub;
    bool public armed;

    constructor() ERC20("re", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address hub_) external {
        hub = hub_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed && from == hub) {
            armed = false;
            IHubEscrow(hub).withdraw(value);
        }
    }
}

/// @notice A group that answers `keyHasPurpose` with nothing at all (no return data).
contract SilentIdentity {
    fallback() external {}
}

/// @notice A group that answers every question with the word 2 (not an ABI bool).
contract NonBoolIdentity {
    fallback() external {
        assembly {
            mstore(0, 2)
            return(0, 32)
        }
    }
}

/// @notice A group or wallet that burns every unit of gas it is given.
contract GasBurningIdentity {
    fallback() external {
        while (true) {}
    }
}

/// @notice An ERC-1271 wallet answering the magic value with dirty low bytes: malformed.
contract DirtyWallet {
    fallback() external {
        assembly {
            mstore(0, or(shl(224, 0x1626ba7e), 1))
            return(0, 32)
        }
    }
}
