// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {HubFixture} from "./utils/HubFixture.sol";
import {vm} from "./utils/Vm.sol";
import {IHubErrors} from "../src/interfaces/IHubTypes.sol";
import {Hub} from "../src/Hub.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {FeeToken, ReentrantToken} from "./mocks/Mocks.sol";

contract EscrowTest is HubFixture {
    function test_deposit_creditsAndPullsTokens() public {
        token.mint(stranger, 500);
        vm.startPrank(stranger);
        token.approve(address(hub), 500);
        hub.deposit(300);
        vm.stopPrank();
        assertEq(hub.balanceOf(stranger), 300, "credited");
        assertEq(token.balanceOf(stranger), 200, "tokens pulled");
        assertEq(hub.totalHeld(), token.balanceOf(address(hub)), "hub owes what it holds");
    }

    function test_depositFor_creditsBeneficiary() public {
        token.mint(stranger, 100);
        vm.startPrank(stranger);
        token.approve(address(hub), 100);
        hub.depositFor(100, requester);
        vm.stopPrank();
        assertEq(hub.balanceOf(requester), FUNDS + 100, "beneficiary credited");
        assertEq(hub.balanceOf(stranger), 0, "payer not credited");
    }

    function test_depositFor_zeroAddressRefused() public {
        vm.expectRevert(IHubErrors.ZeroAddress.selector);
        hub.depositFor(1, address(0));
    }

    function test_deposit_zeroRefused() public {
        vm.expectRevert(IHubErrors.ZeroAmount.selector);
        hub.deposit(0);
    }

    function test_deposit_withoutAllowanceReverts() public {
        token.mint(stranger, 100);
        vm.prank(stranger);
        vm.expectRevert();
        hub.deposit(100);
        assertEq(hub.balanceOf(stranger), 0, "nothing credited");
    }

    function test_withdraw_andWithdrawTo() public {
        uint256 before = token.balanceOf(requester);
        vm.prank(requester);
        hub.withdraw(10);
        assertEq(token.balanceOf(requester), before + 10, "withdrawn");
        vm.prank(requester);
        hub.withdrawTo(5, stranger);
        assertEq(token.balanceOf(stranger), 5, "withdrawn to other");
        assertEq(hub.balanceOf(requester), FUNDS - 15, "debited");
        assertEq(hub.totalHeld(), token.balanceOf(address(hub)), "conserved");
    }

    function test_withdraw_moreThanFreeRefused() public {
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InsufficientBalance.selector, requester, FUNDS + 1, FUNDS)
        );
        hub.withdraw(FUNDS + 1);
    }

    function test_withdraw_lockedFundsUnavailable() public {
        (AppOrderT memory a, DatasetOrderT memory d, WorkerpoolOrderT memory w, RequestOrderT memory r) =
            _orders();
        hub.matchOrders(a, d, w, r);
        uint256 free = hub.balanceOf(requester);
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InsufficientBalance.selector, requester, free + 1, free)
        );
        hub.withdraw(free + 1);
    }

    function test_withdraw_zeroAndZeroAddressRefused() public {
        vm.prank(requester);
        vm.expectRevert(IHubErrors.ZeroAmount.selector);
        hub.withdraw(0);
        vm.prank(requester);
        vm.expectRevert(IHubErrors.ZeroAddress.selector);
        hub.withdrawTo(1, address(0));
    }

    function test_viewAccount() public {
        (uint256 balance, uint256 locked) = hub.viewAccount(requester);
        assertEq(balance, FUNDS, "balance");
        assertEq(locked, 0, "locked");
    }

    function test_feeOnTransferToken_creditsWhatArrived() public {
        FeeToken fee = new FeeToken();
        Hub feeHub = _newHub(IERC20(address(fee)), apps, datasets, workerpools);
        fee.mint(stranger, 1000);
        vm.startPrank(stranger);
        fee.approve(address(feeHub), 1000);
        feeHub.deposit(1000);
        vm.stopPrank();
        assertEq(feeHub.balanceOf(stranger), 990, "credited the 990 received, not 1000");
        assertEq(feeHub.totalHeld(), fee.balanceOf(address(feeHub)), "no phantom balance");
    }

    function test_reentrantToken_cannotReenter() public {
        ReentrantToken bad = new ReentrantToken();
        Hub badHub = _newHub(IERC20(address(bad)), apps, datasets, workerpools);
        bad.mint(stranger, 1000);
        vm.startPrank(stranger);
        bad.approve(address(badHub), 1000);
        badHub.deposit(1000);
        vm.stopPrank();
        bad.arm(address(badHub));
        vm.prank(stranger);
        vm.expectRevert(); // ReentrancyGuardReentrantCall from the nested withdraw
        badHub.withdraw(100);
        assertEq(badHub.balanceOf(stranger), 1000, "nothing moved");
    }

    function test_recover_onlyExcess() public {
        vm.expectRevert(IHubErrors.NothingToRecover.selector);
        hub.recover(address(this));
        token.mint(address(hub), 77); // sent by mistake, not deposited
        uint256 held = hub.totalHeld();
        uint256 amount = hub.recover(stranger);
        assertEq(amount, 77, "only the excess");
        assertEq(token.balanceOf(stranger), 77, "sent");
        assertEq(token.balanceOf(address(hub)), held, "users' funds untouched");
    }

    function test_recover_onlyOwner() public {
        token.mint(address(hub), 77);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        hub.recover(stranger);
    }

    function test_ownership_twoStep() public {
        hub.transferOwnership(stranger);
        assertEq(hub.owner(), address(this), "not yet");
        vm.prank(stranger);
        hub.acceptOwnership();
        assertEq(hub.owner(), stranger, "accepted");
    }

    function testFuzz_depositWithdraw(uint112 dep, uint112 wd) public {
        vm.assume(dep > 0);
        wd = uint112(bound(wd, 1, dep));
        token.mint(stranger, dep);
        vm.startPrank(stranger);
        token.approve(address(hub), dep);
        hub.deposit(dep);
        hub.withdraw(wd);
        vm.stopPrank();
        assertEq(hub.balanceOf(stranger), dep - wd, "balance");
        assertEq(token.balanceOf(stranger), wd, "tokens back");
        assertEq(hub.totalHeld(), token.balanceOf(address(hub)), "conserved");
    }

    function test_deposit_overflowRefused() public {
        uint256 big = type(uint112).max;
        token.mint(stranger, big);
        vm.startPrank(stranger);
        token.approve(address(hub), type(uint256).max);
        hub.deposit(big);
        vm.stopPrank();
        token.mint(stranger, 1);
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.AmountOutOfRange.selector, 1));
        hub.deposit(1);
        vm.stopPrank();
    }
}

import {
    AppOrder as AppOrderT,
    DatasetOrder as DatasetOrderT,
    WorkerpoolOrder as WorkerpoolOrderT,
    RequestOrder as RequestOrderT
} from "../src/libs/Orders.sol";
