// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title DevToken: the devnet's RLC-like test token (9 decimals, amounts in nRLC).
/// @notice Only for development chains: its owner (the devnet deployer) mints freely.
/// Production deployments pass a real ERC-20 to the hub instead.
contract DevToken is ERC20, Ownable {
    constructor(address owner_) ERC20("dexec dev RLC", "dRLC") Ownable(owner_) {}

    function decimals() public pure override returns (uint8) {
        return 9;
    }

    /// @notice Owner only: create `amount` tokens for `to`.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
