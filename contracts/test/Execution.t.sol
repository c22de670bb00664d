// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {ExecutionFixture} from "./utils/ExecutionFixture.sol";
import {vm} from "./utils/Vm.sol";
import {IHubErrors} from "../src/interfaces/IHubTypes.sol";
import {IPocoErrors, IPocoModuleErrors, TaskStatus} from "../src/interfaces/IPocoTypes.sol";
import {HubPoco, BatchResult} from "../src/HubPoco.sol";
import {Deal} from "../src/libs/Deals.sol";
import {GoodConsumer, RevertingConsumer, GasBurner, ReentrantConsumer} from "./mocks/Consumers.sol";

contract ExecutionTest is ExecutionFixture {
    bytes32 internal constant GOOD = keccak256("good result");
    bytes32 internal constant BAD = keccak256("bad result");
    uint256 internal constant STAKE = WP_PRICE * 30 / 100; // scheduler and (default) worker stake

    // ------------------------------------------------------------------ trust 1: fast path

    function test_fast_paysEveryone() public {
        DealRef memory ref = _deal(1, 1, 0, address(0));
        uint256 app0 = _balance(appOwner);
        uint256 sched0 = _balance(scheduler);
        uint256 w0 = _balance(workers[0]);
        uint256 req0 = _balance(requester);
        _fast(ref, 0, 0, GOOD, "");
        uint256 reward = WP_PRICE * 99 / 100; // default scheduler ratio 1%
        assertEq(_balance(appOwner), app0 + APP_PRICE, "app owner paid");
        assertEq(_balance(workers[0]), w0 + reward, "worker paid");
        assertEq(_balance(scheduler), sched0 + STAKE + (WP_PRICE - reward), "scheduler: stake back + share");
        assertEq(_locked(scheduler), 0, "scheduler stake released");
        assertEq(_locked(requester), 0, "payment spent");
        assertEq(_balance(requester), req0, "requester not refunded");
        _assertConserved();
    }

    function test_fast_cannotBePaidTwice() public {
        DealRef memory ref = _deal(1, 2, 0, address(0));
        _fast(ref, 0, 0, GOOD, "");
        bytes32 taskId = _taskId(ref, 0);
        bytes memory auth = _auth(SCHEDULER_KEY, workers[0], taskId, address(0));
        vm.prank(workers[0]);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.TaskAlreadySettled.selector, taskId));
        hub.contributeAndFinalize(ref.encoded, ref.id, 0, GOOD, "", "", address(0), "", auth);
        _fast(ref, 1, 1, GOOD, ""); // the other task of the bag still settles
        _assertConserved();
    }

    function test_fast_authorizationBoundToWorkerTaskEnclave() public {
        DealRef memory ref = _deal(1, 2, 0, address(0));
        bytes32 task0 = _taskId(ref, 0);
        bytes memory auth = _auth(SCHEDULER_KEY, workers[0], task0, address(0));
        // another worker cannot use it
        vm.prank(workers[1]);
        vm.expectRevert(IPocoErrors.InvalidAuthorization.selector);
        hub.contributeAndFinalize(ref.encoded, ref.id, 0, GOOD, "", "", address(0), "", auth);
        // nor for another task
        vm.prank(workers[0]);
        vm.expectRevert(IPocoErrors.InvalidAuthorization.selector);
        hub.contributeAndFinalize(ref.encoded, ref.id, 1, GOOD, "", "", address(0), "", auth);
        // nor with an enclave it was not given for
        vm.prank(workers[0]);
        vm.expectRevert(IPocoErrors.InvalidAuthorization.selector);
        hub.contributeAndFinalize(ref.encoded, ref.id, 0, GOOD, "", "", enclave, "", auth);
        // a stranger's authorization is worthless
        bytes memory forged = _auth(STRANGER_KEY, workers[0], task0, address(0));
        vm.prank(workers[0]);
        vm.expectRevert(IPocoErrors.InvalidAuthorization.selector);
        hub.contributeAndFinalize(ref.encoded, ref.id, 0, GOOD, "", "", address(0), "", forged);
    }

    function test_fast_rejectsTamperedDealWrongIndexDeadlineAndReplication() public {
        DealRef memory ref = _deal(1, 1, 0, address(0));
        bytes32 taskId = _taskId(ref, 0);
        bytes memory auth = _auth(SCHEDULER_KEY, workers[0], taskId, address(0));
        bytes memory tampered = bytes.concat(ref.encoded); // a copy, not an alias
        tampered[191] = bytes1(uint8(tampered[191]) + 1); // app price + 1
        vm.prank(workers[0]);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.UnknownDeal.selector, ref.id));
        hub.contributeAndFinalize(tampered, ref.id, 0, GOOD, "", "", address(0), "", auth);
        vm.prank(workers[0]);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.TaskIndexOutOfRange.selector, 1, 0, 1));
        hub.contributeAndFinalize(ref.encoded, ref.id, 1, GOOD, "", "", address(0), "", auth);
        vm.warp(block.timestamp + 10 * 300);
        vm.prank(workers[0]);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.DeadlinePassed.selector, 1 + 10 * 300));
        hub.contributeAndFinalize(ref.encoded, ref.id, 0, GOOD, "", "", address(0), "", auth);

        DealRef memory replicated = _deal(3, 1, 0, address(0));
        bytes memory auth3 = _auth(SCHEDULER_KEY, workers[0], _taskId(replicated, 0), address(0));
        vm.prank(workers[0]);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.ReplicationRequired.selector, 3));
        hub.contributeAndFinalize(replicated.encoded, replicated.id, 0, GOOD, "", "", address(0), "", auth3);
    }

    // ------------------------------------------------------------------ TEE

    function test_tee_enclaveSignatureChecked() public {
        DealRef memory ref = _deal(1, 1, bytes32(uint256(1)), address(0));
        bytes32 taskId = _taskId(ref, 0);
        address w = workers[0];
        // no enclave: refused
        bytes memory authNoEnclave = _auth(SCHEDULER_KEY, w, taskId, address(0));
        vm.prank(w);
        vm.expectRevert(IPocoErrors.EnclaveRequired.selector);
        hub.contributeAndFinalize(ref.encoded, ref.id, 0, GOOD, "", "", address(0), "", authNoEnclave);
        // enclave signed another result: refused
        bytes memory auth = _auth(SCHEDULER_KEY, w, taskId, enclave);
        bytes memory wrong = _enclaveSign(w, taskId, BAD);
        vm.prank(w);
        vm.expectRevert(IPocoErrors.InvalidEnclaveSignature.selector);
        hub.contributeAndFinalize(ref.encoded, ref.id, 0, GOOD, "", "", enclave, wrong, auth);
        // the right enclave signature: settled in one transaction
        bytes memory good = _enclaveSign(w, taskId, GOOD);
        vm.prank(w);
        hub.contributeAndFinalize(ref.encoded, ref.id, 0, GOOD, "", "", enclave, good, auth);
        _assertConserved();
    }

    function test_tee_brokerAuthorizesEnclaves() public {
        uint256 brokerKey = 0xB40C;
        poco().setTeeBroker(vm.addr(brokerKey));
        DealRef memory ref = _deal(1, 1, bytes32(uint256(1)), address(0));
        bytes32 taskId = _taskId(ref, 0);
        address w = workers[0];
        bytes memory good = _enclaveSign(w, taskId, GOOD);
        bytes memory bySched = _auth(SCHEDULER_KEY, w, taskId, enclave);
        vm.prank(w);
        vm.expectRevert(IPocoErrors.InvalidAuthorization.selector);
        hub.contributeAndFinalize(ref.encoded, ref.id, 0, GOOD, "", "", enclave, good, bySched);
        bytes memory byBroker = _auth(brokerKey, w, taskId, enclave);
        vm.prank(w);
        hub.contributeAndFinalize(ref.encoded, ref.id, 0, GOOD, "", "", enclave, good, byBroker);
    }

    function test_admin_ownerOnly() public {
        vm.prank(stranger);
        vm.expectRevert();
        poco().setTeeBroker(stranger);
        vm.prank(stranger);
        vm.expectRevert();
        poco().setCallbackGas(100_000);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.InvalidCallbackGas.selector, 1));
        poco().setCallbackGas(1);
        poco().setCallbackGas(300_000);
        assertEq(poco().callbackGasLimit(), 300_000, "callback gas");
    }

    function test_module_refusesDirectCalls() public {
        HubPoco module = HubPoco(hub.poco());
        vm.expectRevert(IPocoModuleErrors.NotDelegated.selector);
        module.callbackGasLimit();
    }

    // ------------------------------------------------------------------ replicated: honest

    function test_trust3_twoHonestWorkers() public {
        DealRef memory ref = _deal(3, 1, 0, address(0));
        bytes32 taskId = _taskId(ref, 0);
        _contribute(ref, 0, 0, GOOD);
        assertEq(
            uint8(poco().viewTask(taskId).status),
            uint8(TaskStatus.ACTIVE),
            "active after one (weight 2: 2*3 > 3*2 fails)"
        );
        _contribute(ref, 0, 1, GOOD);
        assertEq(
            uint8(poco().viewTask(taskId).status),
            uint8(TaskStatus.REVEALING),
            "consensus after two (4*3 > 5*2)"
        );
        assertEq(_locked(workers[0]), STAKE, "worker stake locked while pending");
        _reveal(ref, 0, 0, GOOD);
        _reveal(ref, 0, 1, GOOD);
        uint256 w0 = _balance(workers[0]);
        _finalize(ref, 0, GOOD, _list(0, 1));
        uint256 share = (WP_PRICE * 99 / 100) / 2;
        assertEq(_balance(workers[0]), w0 + STAKE + share, "stake back + half the reward");
        assertEq(_locked(workers[0]), 0, "nothing locked");
        assertEq(hub.viewScore(workers[0]), 1, "+1 for replicated good contribution");
        assertEq(hub.viewScore(workers[1]), 1, "+1");
        assertEq(uint8(poco().viewTask(taskId).status), uint8(TaskStatus.COMPLETED), "completed");
        _assertConserved();
    }

    function test_trust5_threeHonestWorkers() public {
        DealRef memory ref = _deal(5, 1, 0, address(0));
        _contribute(ref, 0, 0, GOOD);
        _contribute(ref, 0, 1, GOOD);
        assertEq(uint8(poco().viewTask(_taskId(ref, 0)).status), uint8(TaskStatus.ACTIVE), "4*5 > 5*4 fails");
        _contribute(ref, 0, 2, GOOD);
        assertEq(uint8(poco().viewTask(_taskId(ref, 0)).status), uint8(TaskStatus.REVEALING), "8*5 > 9*4");
        for (uint256 i = 0; i < 3; i++) {
            _reveal(ref, 0, i, GOOD);
        }
        _finalize(ref, 0, GOOD, _list(0, 1, 2));
        for (uint256 i = 0; i < 3; i++) {
            assertEq(hub.viewScore(workers[i]), 1, "score");
        }
        _assertConserved();
    }

    // ------------------------------------------------------------------ replicated: byzantine

    function test_byzantineMinority_outvotedSlashedAndScoreCut() public {
        // the liar first earns a score of 3 in three honest replicated tasks
        for (uint256 t = 0; t < 3; t++) {
            DealRef memory warm = _deal(3, 1, 0, address(0));
            _contribute(warm, 0, 0, GOOD);
            _contribute(warm, 0, 1, GOOD);
            _reveal(warm, 0, 0, GOOD);
            _reveal(warm, 0, 1, GOOD);
            _finalize(warm, 0, GOOD, _list(0, 1));
        }
        assertEq(hub.viewScore(workers[0]), 3, "liar's score before");
        DealRef memory ref = _deal(3, 1, 0, address(0));
        uint256 liar0 = _balance(workers[0]) + _locked(workers[0]);
        _contribute(ref, 0, 0, BAD); // weight 2
        _contribute(ref, 0, 2, GOOD);
        _contribute(ref, 0, 3, GOOD);
        assertEq(uint8(poco().viewTask(_taskId(ref, 0)).status), uint8(TaskStatus.ACTIVE), "4*3 > 7*2 fails");
        _contribute(ref, 0, 4, GOOD);
        assertEq(poco().viewTask(_taskId(ref, 0)).consensus, _resultHash(_taskId(ref, 0), GOOD), "good wins");
        // the liar cannot reveal: its commitment is not the consensus
        vm.prank(workers[0]);
        vm.expectRevert(IPocoErrors.RevealRejected.selector);
        poco().reveal(_taskId(ref, 0), BAD);
        for (uint256 i = 2; i <= 4; i++) {
            _reveal(ref, 0, i, GOOD);
        }
        uint256 honest0 = _balance(workers[2]);
        _finalize(ref, 0, GOOD, _list(0, 2, 3, 4));
        assertEq(_balance(workers[0]) + _locked(workers[0]), liar0 - STAKE, "liar lost its stake");
        assertEq(hub.viewScore(workers[0]), 2, "liar's score cut by a third");
        uint256 pool = WP_PRICE + STAKE;
        assertEq(
            _balance(workers[2]), honest0 + STAKE + (pool * 99 / 100) / 3, "winners share price + liar stake"
        );
        _assertConserved();
    }

    /// @notice Documented behaviour: at trust 3, two colluding fresh workers reach consensus
    /// alone (4*3 > 5*2). Low trust buys little replication; requesters who fear collusion
    /// ask for more trust, which needs more (or more reputed) agreeing workers.
    function test_byzantineMajority_atLowTrust_wins() public {
        DealRef memory ref = _deal(3, 1, 0, address(0));
        _contribute(ref, 0, 0, BAD);
        _contribute(ref, 0, 1, BAD);
        bytes32 taskId = _taskId(ref, 0);
        assertEq(poco().viewTask(taskId).consensus, _resultHash(taskId, BAD), "colluders win at trust 3");
        // an honest latecomer can no longer contribute
        bytes memory auth = _auth(SCHEDULER_KEY, workers[2], taskId, address(0));
        bytes32 rh = _resultHash(taskId, GOOD);
        bytes32 seal = _resultSeal(workers[2], taskId, GOOD);
        vm.prank(workers[2]);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.WrongTaskStatus.selector, taskId, 2));
        poco().contribute(ref.encoded, ref.id, 0, rh, seal, address(0), "", auth);
    }

    function test_copiedVoteCannotBeRevealed() public {
        DealRef memory ref = _deal(5, 1, 0, address(0));
        bytes32 taskId = _taskId(ref, 0);
        _contribute(ref, 0, 0, GOOD);
        // worker 1 copies worker 0's hash and seal from the mempool
        bytes32 rh = _resultHash(taskId, GOOD);
        bytes32 copiedSeal = _resultSeal(workers[0], taskId, GOOD);
        bytes memory auth = _auth(SCHEDULER_KEY, workers[1], taskId, address(0));
        vm.prank(workers[1]);
        poco().contribute(ref.encoded, ref.id, 0, rh, copiedSeal, address(0), "", auth);
        _contribute(ref, 0, 2, GOOD);
        _reveal(ref, 0, 0, GOOD);
        vm.prank(workers[1]);
        vm.expectRevert(IPocoErrors.RevealRejected.selector);
        poco().reveal(taskId, GOOD);
    }

    function test_contribute_guards() public {
        DealRef memory ref = _deal(5, 1, 0, address(0));
        _contribute(ref, 0, 0, GOOD);
        bytes32 taskId = _taskId(ref, 0);
        bytes memory auth = _auth(SCHEDULER_KEY, workers[0], taskId, address(0));
        bytes32 rh = _resultHash(taskId, GOOD);
        bytes32 seal = _resultSeal(workers[0], taskId, GOOD);
        vm.prank(workers[0]);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.AlreadyContributed.selector, workers[0]));
        poco().contribute(ref.encoded, ref.id, 0, rh, seal, address(0), "", auth);
        DealRef memory fast = _deal(1, 1, 0, address(0));
        bytes memory auth1 = _auth(SCHEDULER_KEY, workers[0], _taskId(fast, 0), address(0));
        vm.prank(workers[0]);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.FastPathOnly.selector, 1));
        poco().contribute(fast.encoded, fast.id, 0, rh, seal, address(0), "", auth1);
    }

    function test_stakeCannotBeWithdrawnWhilePending() public {
        DealRef memory ref = _deal(5, 1, 0, address(0));
        _contribute(ref, 0, 0, GOOD);
        uint256 free = _balance(workers[0]);
        vm.prank(workers[0]);
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InsufficientBalance.selector, workers[0], free + STAKE, free)
        );
        hub.withdraw(free + STAKE);
    }

    function test_contributorsBounded() public {
        DealRef memory ref = _deal(1 << 16, 1, 0, address(0));
        bytes32 taskId = _taskId(ref, 0);
        for (uint256 i = 0; i < 16; i++) {
            uint256 key = 0x2000 + i;
            address w = vm.addr(key);
            _fund(w, FUNDS);
            bytes32 digest = bytes32(i); // all different: never a consensus
            bytes memory auth = _auth(SCHEDULER_KEY, w, taskId, address(0));
            vm.prank(w);
            poco()
                .contribute(
                    ref.encoded,
                    ref.id,
                    0,
                    _resultHash(taskId, digest),
                    _resultSeal(w, taskId, digest),
                    address(0),
                    "",
                    auth
                );
        }
        bytes memory auth17 = _auth(SCHEDULER_KEY, workers[0], taskId, address(0));
        bytes32 rh = _resultHash(taskId, GOOD);
        bytes32 seal = _resultSeal(workers[0], taskId, GOOD);
        vm.prank(workers[0]);
        vm.expectRevert(IPocoErrors.TooManyContributors.selector);
        poco().contribute(ref.encoded, ref.id, 0, rh, seal, address(0), "", auth17);
    }

    // ------------------------------------------------------------------ reveal, reopen, deadlines

    function test_finalize_provesEveryWinnerWithTheDigest_noRevealNeeded() public {
        DealRef memory ref = _deal(5, 1, 0, address(0));
        bytes32 taskId = _taskId(ref, 0);
        _contribute(ref, 0, 0, GOOD);
        _contribute(ref, 0, 1, GOOD);
        // worker 2 copies the vote without knowing the digest: its seal is of another digest
        bytes memory auth = _auth(SCHEDULER_KEY, workers[2], taskId, address(0));
        vm.prank(workers[2]);
        poco()
            .contribute(
                ref.encoded,
                ref.id,
                0,
                _resultHash(taskId, GOOD),
                _resultSeal(workers[2], taskId, BAD),
                address(0),
                "",
                auth
            );
        assertEq(uint8(poco().viewTask(taskId).status), uint8(TaskStatus.REVEALING), "consensus (8*5 > 9*4)");
        // one reveal is optional; finalize right away, before the reveal deadline
        _reveal(ref, 0, 0, GOOD);
        uint256 w1 = _balance(workers[1]);
        uint256 copier = _balance(workers[2]) + _locked(workers[2]);
        _finalize(ref, 0, GOOD, _list(0, 1, 2));
        assertGt(_balance(workers[1]), w1 + STAKE, "a winner who did not reveal is paid");
        assertEq(_balance(workers[2]) + _locked(workers[2]), copier - STAKE, "the copied vote lost its stake");
        _assertConserved();
    }

    function test_noWinnerReveals_reopen_thenNewConsensus() public {
        DealRef memory ref = _deal(3, 1, 0, address(0));
        bytes32 taskId = _taskId(ref, 0);
        _contribute(ref, 0, 0, GOOD);
        _contribute(ref, 0, 1, GOOD);
        vm.prank(scheduler);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.DeadlineNotReached.selector, 1 + 2 * 300));
        poco().reopen(ref.encoded, ref.id, 0, _list(0, 1));
        vm.warp(block.timestamp + 2 * 300);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.NotTheScheduler.selector, stranger));
        poco().reopen(ref.encoded, ref.id, 0, _list(0, 1));
        vm.prank(scheduler);
        vm.expectRevert(IPocoErrors.ContributorsMismatch.selector);
        poco().reopen(ref.encoded, ref.id, 0, _list(0));
        _reopen(ref, 0, _list(0, 1));
        assertEq(uint8(poco().viewTask(taskId).status), uint8(TaskStatus.ACTIVE), "active again");
        (uint256 status,,) = poco().viewContribution(taskId, workers[0]);
        assertEq(status, 3, "the silent voters of the rejected value are rejected");
        // the silent winners cannot come back: a new consensus on the same value excludes them
        _contribute(ref, 0, 2, GOOD);
        _contribute(ref, 0, 3, GOOD);
        assertEq(uint8(poco().viewTask(taskId).status), uint8(TaskStatus.REVEALING), "new consensus");
        vm.prank(workers[0]);
        vm.expectRevert(IPocoErrors.NotRevealable.selector);
        poco().reveal(taskId, GOOD);
        uint256 silent0 = _balance(workers[0]) + _locked(workers[0]);
        _finalize(ref, 0, GOOD, _list(0, 1, 2, 3));
        assertEq(_balance(workers[0]) + _locked(workers[0]), silent0 - STAKE, "silent winner slashed");
        _assertConserved();
    }

    function test_finalize_guards() public {
        DealRef memory ref = _deal(3, 1, 0, address(0));
        _contribute(ref, 0, 0, GOOD);
        _contribute(ref, 0, 1, GOOD);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.NotTheScheduler.selector, stranger));
        poco().finalize(ref.encoded, ref.id, 0, GOOD, _list(0, 1), "", "");
        vm.prank(scheduler);
        vm.expectRevert(IPocoErrors.ContributorsMismatch.selector);
        poco().finalize(ref.encoded, ref.id, 0, GOOD, _list(0), "", "");
        vm.prank(scheduler);
        vm.expectRevert(IPocoErrors.ContributorsMismatch.selector);
        poco().finalize(ref.encoded, ref.id, 0, GOOD, _list(1, 0), "", "");
        vm.prank(scheduler);
        vm.expectRevert(IPocoErrors.RevealRejected.selector);
        poco().finalize(ref.encoded, ref.id, 0, BAD, _list(0, 1), "", "");
        vm.prank(scheduler);
        vm.expectRevert(IPocoErrors.CallbackDataMismatch.selector);
        poco().finalize(ref.encoded, ref.id, 0, GOOD, _list(0, 1), "", hex"01");
        vm.warp(block.timestamp + 10 * 300);
        vm.prank(scheduler);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.DeadlinePassed.selector, 1 + 10 * 300));
        poco().finalize(ref.encoded, ref.id, 0, GOOD, _list(0, 1), "", "");
    }

    function test_deadlines_contributionAndReveal() public {
        DealRef memory ref = _deal(3, 2, 0, address(0));
        _contribute(ref, 0, 0, GOOD);
        _contribute(ref, 0, 1, GOOD);
        _reveal(ref, 0, 0, GOOD);
        // reveal window: 2T after consensus
        vm.warp(block.timestamp + 2 * 300);
        bytes32 taskId = _taskId(ref, 0);
        vm.prank(workers[1]);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.DeadlinePassed.selector, 1 + 2 * 300));
        poco().reveal(taskId, GOOD);
        // contribution window: 7T after the match
        vm.warp(1 + 7 * 300);
        bytes32 task1 = _taskId(ref, 1);
        bytes memory auth = _auth(SCHEDULER_KEY, workers[2], task1, address(0));
        bytes32 rh = _resultHash(task1, GOOD);
        bytes32 seal = _resultSeal(workers[2], task1, GOOD);
        vm.prank(workers[2]);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.DeadlinePassed.selector, 1 + 7 * 300));
        poco().contribute(ref.encoded, ref.id, 1, rh, seal, address(0), "", auth);
        // the first task, partially revealed, can still be finalized until 10T
        _finalize(ref, 0, GOOD, _list(0, 1));
        _assertConserved();
    }

    // ------------------------------------------------------------------ claims

    function test_claim_refundsPayerSeizesSchedulerStakeReturnsStakes() public {
        DealRef memory ref = _deal(5, 1, 0, address(0));
        _contribute(ref, 0, 0, GOOD);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.DeadlineNotReached.selector, 1 + 10 * 300));
        poco().claim(ref.encoded, ref.id, 0, _list(0));
        vm.warp(block.timestamp + 10 * 300);
        uint256 req0 = _balance(requester);
        uint256 w0 = _balance(workers[0]);
        vm.expectRevert(IPocoErrors.ContributorsMismatch.selector);
        poco().claim(ref.encoded, ref.id, 0, new address[](0));
        vm.prank(stranger);
        poco().claim(ref.encoded, ref.id, 0, _list(0));
        assertEq(_balance(requester), req0 + APP_PRICE + WP_PRICE, "the price back, nothing more");
        assertEq(_locked(requester), 0, "nothing locked");
        assertEq(_locked(scheduler), 0, "stake seized");
        assertEq(poco().kitty(), STAKE, "the scheduler's stake went to the kitty");
        assertEq(_balance(workers[0]), w0 + STAKE, "no consensus: the worker's stake returned");
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.TaskAlreadySettled.selector, _taskId(ref, 0)));
        poco().claim(ref.encoded, ref.id, 0, _list(0));
        _assertConserved();
    }

    function test_claim_untouchedTaskAndCompletedTask() public {
        DealRef memory ref = _deal(1, 2, 0, address(0));
        _fast(ref, 0, 0, GOOD, "");
        vm.warp(block.timestamp + 10 * 300);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.TaskAlreadySettled.selector, _taskId(ref, 0)));
        poco().claim(ref.encoded, ref.id, 0, new address[](0));
        poco().claim(ref.encoded, ref.id, 1, new address[](0));
        assertTrue(poco().isTaskSettled(ref.id, 1, 0), "claimed task settled");
        _assertConserved();
    }

    function test_claimBatch_expiredBag() public {
        DealRef memory ref = _deal(1, 10, 0, address(0));
        BatchResult[] memory done = new BatchResult[](3);
        for (uint256 i = 0; i < 3; i++) {
            done[i].index = i;
            done[i].worker = workers[0];
            done[i].resultDigest = GOOD;
        }
        vm.prank(scheduler);
        poco().pushResults(ref.encoded, ref.id, done);
        uint256[] memory rest = new uint256[](7);
        for (uint256 i = 0; i < 7; i++) {
            rest[i] = 3 + i;
        }
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.DeadlineNotReached.selector, 1 + 10 * 300));
        poco().claimBatch(ref.encoded, ref.id, rest);
        vm.warp(block.timestamp + 10 * 300);
        uint256 req0 = _balance(requester);
        poco().claimBatch(ref.encoded, ref.id, rest);
        assertEq(_balance(requester), req0 + 7 * (APP_PRICE + WP_PRICE), "7 refunds, nothing more");
        assertEq(poco().kitty(), 7 * STAKE, "7 scheduler stakes in the kitty");
        assertEq(_locked(requester), 0, "nothing left locked");
        assertEq(_locked(scheduler), 0, "stakes seized or returned");
        assertTrue(poco().isTaskSettled(ref.id, 9, 0), "claimed");
        _assertConserved();
        // a settled task cannot be claimed again, in a batch or alone
        uint256[] memory again = new uint256[](1);
        again[0] = 1;
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.TaskAlreadySettled.selector, _taskId(ref, 1)));
        poco().claimBatch(ref.encoded, ref.id, again);
        vm.expectRevert(IPocoErrors.BatchEmpty.selector);
        poco().claimBatch(ref.encoded, ref.id, new uint256[](0));
    }

    function test_claimBatch_refusesTasksWithContributors() public {
        DealRef memory ref = _deal(5, 2, 0, address(0));
        _contribute(ref, 0, 0, GOOD);
        vm.warp(block.timestamp + 10 * 300);
        uint256[] memory both = new uint256[](2);
        both[0] = 1;
        both[1] = 0;
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.TaskHasContributors.selector, _taskId(ref, 0)));
        poco().claimBatch(ref.encoded, ref.id, both);
        // the contributed task goes through claim (its worker gets the stake back)
        poco().claim(ref.encoded, ref.id, 0, _list(0));
        uint256[] memory one = new uint256[](1);
        one[0] = 1;
        poco().claimBatch(ref.encoded, ref.id, one);
        _assertConserved();
    }

    // ------------------------------------------------------------------ callbacks

    function test_callback_deliveredAndPullable() public {
        GoodConsumer consumer = new GoodConsumer();
        DealRef memory ref = _deal(1, 1, 0, address(consumer));
        bytes memory data = abi.encode(uint256(42));
        bytes32 taskId = _taskId(ref, 0);
        vm.expectRevert(abi.encodeWithSelector(IPocoModuleErrors.ResultPending.selector, taskId));
        poco().resultFor(taskId);
        bytes memory auth = _auth(SCHEDULER_KEY, workers[0], taskId, address(0));
        vm.prank(workers[0]);
        vm.expectRevert(IPocoErrors.CallbackDataMismatch.selector);
        hub.contributeAndFinalize(ref.encoded, ref.id, 0, GOOD, "", data, address(0), "", auth);
        _fast(ref, 0, 0, keccak256(data), data);
        assertEq(consumer.lastTask(), taskId, "pushed");
        assertEq(keccak256(consumer.lastData()), keccak256(data), "data");
        assertEq(keccak256(poco().resultFor(taskId)), keccak256(data), "pull");
    }

    function test_callback_revertingOrGasBurningNeverBlocks() public {
        address[2] memory bad = [address(new RevertingConsumer()), address(new GasBurner())];
        for (uint256 i = 0; i < 2; i++) {
            DealRef memory ref = _deal(1, 1, 0, bad[i]);
            bytes memory data = hex"beef";
            _fast(ref, 0, 0, keccak256(data), data);
            assertTrue(poco().isTaskSettled(ref.id, 0, 0), "settled despite the consumer");
        }
        _assertConserved();
    }

    function test_callback_starvedCallerRefused() public {
        GasBurner burner = new GasBurner();
        DealRef memory ref = _deal(1, 1, 0, address(burner));
        bytes memory data = hex"beef";
        bytes32 taskId = _taskId(ref, 0);
        bytes memory auth = _auth(SCHEDULER_KEY, workers[0], taskId, address(0));
        vm.prank(workers[0]);
        vm.expectRevert(IPocoErrors.NotEnoughGasForCallback.selector);
        hub.contributeAndFinalize{gas: 250_000}(
            ref.encoded, ref.id, 0, keccak256(data), "", data, address(0), "", auth
        );
    }

    function test_callback_reentryCannotMoveMoney() public {
        ReentrantConsumer consumer = new ReentrantConsumer(address(hub));
        _fund(address(consumer), 1000);
        DealRef memory ref = _deal(1, 1, 0, address(consumer));
        bytes memory data = hex"01";
        _fast(ref, 0, 0, keccak256(data), data);
        assertFalse(consumer.reentered(), "withdraw refused during settlement");
        assertEq(_balance(address(consumer)), 1000, "consumer funds untouched");
    }

    // ------------------------------------------------------------------ batches

    function test_batch_bagOf100() public {
        DealRef memory ref = _deal(1, 100, 0, address(0));
        BatchResult[] memory batch = new BatchResult[](100);
        for (uint256 i = 0; i < 100; i++) {
            batch[i].index = i;
            batch[i].worker = workers[i < 50 ? 0 : 1];
            batch[i].resultDigest = keccak256(abi.encode(i));
        }
        uint256 w0 = _balance(workers[0]);
        uint256 app0 = _balance(appOwner);
        vm.prank(scheduler);
        poco().pushResults(ref.encoded, ref.id, batch);
        uint256 reward = WP_PRICE * 99 / 100;
        assertEq(_balance(workers[0]), w0 + 50 * reward, "worker 0 paid for 50 tasks");
        assertEq(_balance(appOwner), app0 + 100 * APP_PRICE, "app owner paid for 100");
        assertEq(_locked(requester), 0, "all spent");
        assertEq(_locked(scheduler), 0, "all stakes back");
        assertTrue(poco().isTaskSettled(ref.id, 99, 0), "overflow-word task settled");
        assertTrue(poco().isTaskSettled(ref.id, 0, 0), "inline task settled");
        _assertConserved();
        // replay of one task is refused
        BatchResult[] memory again = new BatchResult[](1);
        again[0] = batch[70];
        vm.prank(scheduler);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.TaskAlreadySettled.selector, _taskId(ref, 70)));
        poco().pushResults(ref.encoded, ref.id, again);
    }

    function test_batch_guards() public {
        DealRef memory ref = _deal(1, 3, 0, address(0));
        BatchResult[] memory batch = new BatchResult[](2);
        batch[0].index = 1;
        batch[0].worker = workers[0];
        batch[1].index = 1; // twice in one batch
        batch[1].worker = workers[0];
        vm.prank(scheduler);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.TaskAlreadySettled.selector, _taskId(ref, 1)));
        poco().pushResults(ref.encoded, ref.id, batch);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.NotTheScheduler.selector, stranger));
        poco().pushResults(ref.encoded, ref.id, batch);
        BatchResult[] memory nobody = new BatchResult[](1);
        nobody[0].index = 2;
        vm.prank(scheduler);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.ZeroWorker.selector, 2));
        poco().pushResults(ref.encoded, ref.id, nobody);
        vm.prank(scheduler);
        vm.expectRevert(IPocoErrors.BatchEmpty.selector);
        poco().pushResults(ref.encoded, ref.id, new BatchResult[](0));
    }

    function test_batch_teeNeedsEnclaveSignatures() public {
        DealRef memory ref = _deal(1, 2, bytes32(uint256(1)), address(0));
        BatchResult[] memory batch = new BatchResult[](2);
        for (uint256 i = 0; i < 2; i++) {
            batch[i].index = i;
            batch[i].worker = workers[0];
            batch[i].resultDigest = GOOD;
            batch[i].enclaveChallenge = enclave;
            batch[i].enclaveSign = _enclaveSign(workers[0], _taskId(ref, i), GOOD);
        }
        batch[1].enclaveSign = _enclaveSign(workers[0], _taskId(ref, 1), BAD);
        vm.prank(scheduler);
        vm.expectRevert(IPocoErrors.InvalidEnclaveSignature.selector);
        poco().pushResults(ref.encoded, ref.id, batch);
        batch[1].enclaveSign = _enclaveSign(workers[0], _taskId(ref, 1), GOOD);
        vm.prank(scheduler);
        poco().pushResults(ref.encoded, ref.id, batch);
        _assertConserved();
    }

    // ------------------------------------------------------------------ fuzz

    /// @notice Any prices and scheduler ratio: one fast-path settlement conserves money exactly.
    function testFuzz_fastPathConserves(uint96 appPrice, uint96 wpPrice, uint8 ratio) public {
        ratio = uint8(bound(ratio, 0, 100));
        vm.prank(scheduler);
        workerpools.changePolicy(workerpool, 30, ratio);
        appPrice = uint96(bound(appPrice, 0, 1e18));
        wpPrice = uint96(bound(wpPrice, 0, 1e18));
        if (uint256(appPrice) + wpPrice != 0) _fund(requester, uint256(appPrice) + wpPrice);
        if (uint256(wpPrice) * 30 / 100 != 0) _fund(scheduler, uint256(wpPrice) * 30 / 100);
        DealRef memory ref = _dealPriced(appPrice, wpPrice);
        _fast(ref, 0, 0, GOOD, "");
        _assertConserved();
        assertEq(_locked(requester), 0, "payer lock spent");
    }

    /// @notice Any mix of honest and lying workers at trust 3..9: whatever the outcome, money
    /// is conserved and every stake is returned or seized exactly once.
    function testFuzz_replicatedConserves(uint256 seed, uint8 trust) public {
        trust = uint8(bound(trust, 3, 9));
        DealRef memory ref = _deal(trust, 1, 0, address(0));
        bytes32 taskId = _taskId(ref, 0);
        address[] memory contributed = new address[](5);
        bytes32[] memory votes = new bytes32[](5);
        uint256 n;
        for (uint256 i = 0; i < 5 && poco().viewTask(taskId).status != TaskStatus.REVEALING; i++) {
            votes[i] = (seed >> i) & 3 == 0 ? BAD : GOOD;
            _contribute(ref, 0, i, votes[i]);
            contributed[n++] = workers[i];
        }
        assembly {
            mstore(contributed, n)
        }
        if (poco().viewTask(taskId).status == TaskStatus.REVEALING) {
            bytes32 winner = poco().viewTask(taskId).consensus == _resultHash(taskId, GOOD) ? GOOD : BAD;
            for (uint256 i = 0; i < n; i++) {
                if (votes[i] == winner) _reveal(ref, 0, i, winner);
            }
            _finalize(ref, 0, winner, contributed);
        } else {
            vm.warp(block.timestamp + 10 * 300);
            poco().claim(ref.encoded, ref.id, 0, contributed);
        }
        for (uint256 i = 0; i < 5; i++) {
            assertEq(_locked(workers[i]), 0, "every worker stake released or seized");
        }
        _assertConserved();
    }

    function _dealPriced(uint96 appPrice, uint96 wpPrice) internal returns (DealRef memory ref) {
        AppOrderT memory a = _appOrder(1);
        a.appprice = appPrice;
        WorkerpoolOrderT memory w = _workerpoolOrder(1);
        w.workerpoolprice = wpPrice;
        RequestOrderT memory r = _requestOrder(1, false);
        r.appmaxprice = appPrice;
        r.workerpoolmaxprice = wpPrice;
        DatasetOrderT memory d;
        (ref.id, ref.deal) = _matchAndDecode(_signApp(a), d, _signWorkerpool(w), _signRequest(r));
        ref.encoded = lastEncodedDeal;
    }
}

import {
    AppOrder as AppOrderT,
    DatasetOrder as DatasetOrderT,
    WorkerpoolOrder as WorkerpoolOrderT,
    RequestOrder as RequestOrderT
} from "../src/libs/Orders.sol";
