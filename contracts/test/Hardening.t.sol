// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {ExecutionFixture} from "./utils/ExecutionFixture.sol";
import {vm} from "./utils/Vm.sol";
import {IHubErrors} from "../src/interfaces/IHubTypes.sol";
import {IPocoErrors, TaskStatus} from "../src/interfaces/IPocoTypes.sol";
import {BatchResult, SignedContribution} from "../src/HubPoco.sol";
import {AppOrderOperation} from "../src/Hub.sol";
import {Deal} from "../src/libs/Deals.sol";
import {AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder, OrderOperation} from "../src/libs/Orders.sol";
import {GoodConsumer, ReturnBomb, GasMeter} from "./mocks/Consumers.sol";
import {SilentIdentity, NonBoolIdentity, GasBurningIdentity, DirtyWallet} from "./mocks/Mocks.sol";

/// @notice One test per finding of the hub's security review (research/hub-security-review-2026-12.md),
/// each written as the attack: it failed on the hub the review read and passes on this one.
contract HardeningTest is ExecutionFixture {
    bytes32 internal constant GOOD = keccak256("good result");
    bytes32 internal constant BAD = keccak256("bad result");
    uint256 internal constant STAKE = WP_PRICE * 30 / 100; // scheduler and (default) worker stake
    uint256 internal constant T = 300; // category XS

    /// @dev What `probe` reports: whether the settlement went through and the gas the consumer got.
    error Probe(bool ok, uint256 received);

    // ------------------------------------------------------------------ H-1: failure economics

    /// @dev H-1 (overload): a requester matches more tasks than the pool can run and claims what
    /// it did not finish. It gets its price back and nothing more: it paid exactly for the work
    /// done, the scheduler's stakes on the rest go to the kitty, where nobody can take them.
    function test_H1_overloadDrainsNothing() public {
        uint256 n = 40;
        uint256 done = 5;
        DealRef memory ref = _deal(1, n, 0, address(0));
        uint256 attacker0 = _holdings(requester) + _holdings(appOwner); // its own app, in the review
        uint256 scheduler0 = _holdings(scheduler);
        BatchResult[] memory batch = new BatchResult[](done);
        for (uint256 i = 0; i < done; i++) {
            (batch[i].index, batch[i].worker, batch[i].resultDigest) = (i, workers[0], GOOD);
        }
        vm.prank(scheduler);
        poco().pushResults(ref.encoded, ref.id, batch);
        vm.warp(1 + 10 * T);
        uint256[] memory rest = new uint256[](n - done);
        for (uint256 i = 0; i < rest.length; i++) {
            rest[i] = done + i;
        }
        vm.prank(requester);
        poco().claimBatch(ref.encoded, ref.id, rest);
        uint256 attacker1 = _holdings(requester) + _holdings(appOwner);
        assertEq(
            attacker1,
            attacker0 - done * WP_PRICE,
            "the attacker paid the pool for the work done, gained nothing"
        );
        assertEq(_locked(requester), 0, "nothing left locked");
        assertEq(poco().kitty(), (n - done) * STAKE, "the unfinished tasks' stakes are in the kitty");
        assertLt(_holdings(scheduler), scheduler0 + done * WP_PRICE, "the scheduler lost its stakes");
        _assertConserved();
    }

    /// @dev H-1b: a worker under the requester's control casts the one vote that reaches
    /// consensus (trust 2) late, at 6 T, and never reveals. The scheduler can reopen once the
    /// reveal window closed (capped at the final deadline), a reopened task takes contributions
    /// until the final deadline, an honest worker completes it and the silent voter loses its stake.
    function test_H1b_lateSilentVote_reopenedAndCompleted() public {
        DealRef memory ref = _deal(2, 1, 0, address(0));
        bytes32 taskId = _taskId(ref, 0);
        vm.warp(1 + 6 * T);
        _contribute(ref, 0, 4, BAD);
        assertEq(
            uint8(poco().viewTask(taskId).status),
            uint8(TaskStatus.REVEALING),
            "one fresh vote is a consensus at trust 2"
        );
        assertEq(poco().viewTask(taskId).revealDeadline, 1 + 8 * T, "reveal window 2 T");
        uint256 silent0 = _holdings(workers[4]);
        uint256 requester0 = _holdings(requester);
        vm.warp(1 + 8 * T); // past the contribution deadline of 7 T
        _reopen(ref, 0, _list(4));
        _contribute(ref, 0, 0, GOOD);
        assertEq(
            uint8(poco().viewTask(taskId).status),
            uint8(TaskStatus.REVEALING),
            "an honest consensus after 7 T"
        );
        _finalize(ref, 0, GOOD, _list(4, 0));
        assertEq(uint8(poco().viewTask(taskId).status), uint8(TaskStatus.COMPLETED), "completed, not claimed");
        assertEq(_holdings(workers[4]), silent0 - STAKE, "the silent voter lost its stake");
        assertEq(_holdings(requester), requester0 - APP_PRICE - WP_PRICE, "the requester paid for its task");
        assertEq(_locked(scheduler), 0, "the scheduler's stake came back");
        _assertConserved();
    }

    /// @dev L-3: a task in consensus that nobody finalized is claimed. The worker who revealed
    /// keeps its stake; the consensus voters who stayed silent and the voter of another value
    /// lose theirs (and a third of their score) to the kitty; the payer gets its price back only.
    function test_L3_claimSeizesSilentAndWrongVoters() public {
        DealRef memory ref = _deal(3, 1, 0, address(0));
        _contribute(ref, 0, 3, BAD);
        _contribute(ref, 0, 0, GOOD);
        _contribute(ref, 0, 1, GOOD);
        _contribute(ref, 0, 2, GOOD); // 8 * 3 > 11 * 2: consensus
        _reveal(ref, 0, 0, GOOD);
        uint256[4] memory before;
        for (uint256 i = 0; i < 4; i++) {
            before[i] = _holdings(workers[i]);
        }
        uint256 requester0 = _holdings(requester);
        vm.warp(1 + 10 * T);
        poco().claim(ref.encoded, ref.id, 0, _list(3, 0, 1, 2));
        assertEq(_holdings(workers[0]), before[0], "the revealer keeps its stake");
        for (uint256 i = 1; i < 4; i++) {
            assertEq(_holdings(workers[i]), before[i] - STAKE, "silent or wrong: stake seized");
        }
        assertEq(_holdings(requester), requester0, "the payer's price back, nothing more");
        assertEq(poco().kitty(), STAKE + 3 * STAKE, "scheduler's and three workers' stakes");
        _assertConserved();
    }

    // ------------------------------------------------------------------ M-1: reopen

    /// @dev M-1: an honest worker votes GOOD, three sybils reach consensus on BAD and stay
    /// silent; after the reopen one more GOOD vote completes GOOD with the honest worker's
    /// weight. The honest worker can reveal and is paid; only the BAD voters are slashed.
    function test_M1_reopenKeepsTheHonestVoteForTheWinningValue() public {
        DealRef memory ref = _deal(3, 1, 0, address(0));
        bytes32 taskId = _taskId(ref, 0);
        _contribute(ref, 0, 0, GOOD);
        _contribute(ref, 0, 1, BAD);
        _contribute(ref, 0, 2, BAD);
        _contribute(ref, 0, 3, BAD); // 8 * 3 > 11 * 2: consensus BAD
        assertEq(poco().viewTask(taskId).consensus, _resultHash(taskId, BAD), "consensus on BAD");
        vm.warp(block.timestamp + 2 * T);
        _reopen(ref, 0, _list(0, 1, 2, 3));
        (uint256 honestStatus,,) = poco().viewContribution(taskId, workers[0]);
        assertEq(honestStatus, 1, "the honest vote is still a live contribution");
        _contribute(ref, 0, 4, GOOD); // GOOD: 4 * 3 > 5 * 2
        assertEq(poco().viewTask(taskId).winners, 2, "the honest vote counts among the winners");
        _reveal(ref, 0, 0, GOOD);
        uint256 honest0 = _holdings(workers[0]);
        uint256 sybil0 = _holdings(workers[1]);
        _finalize(ref, 0, GOOD, _list(0, 1, 2, 3, 4));
        uint256 pool = WP_PRICE + 3 * STAKE;
        uint256 share = (pool * 99 / 100) / 2;
        assertEq(_holdings(workers[0]), honest0 + share, "the honest worker is paid, its stake back");
        assertEq(hub.viewScore(workers[0]), 1, "and gains score");
        assertEq(_holdings(workers[1]), sybil0 - STAKE, "a BAD voter is slashed");
        _assertConserved();
    }

    // ------------------------------------------------------------------ M-2, L-1: callbacks

    function _callbackBatch(DealRef memory ref, uint256 n, bytes memory data)
        internal
        view
        returns (BatchResult[] memory batch)
    {
        batch = new BatchResult[](n);
        for (uint256 i = 0; i < n; i++) {
            batch[i].index = i;
            batch[i].worker = workers[i % 2];
            batch[i].resultDigest = keccak256(data);
            batch[i].resultsCallback = data;
        }
    }

    /// @dev M-2: a consumer that answers with 280 KB (inside its 200 000 gas cap) cost the batch
    /// settlement 65 M gas for 20 tasks. Settlement no longer calls consumers: a batch of 20 costs
    /// the same whatever the consumer; each delivery costs the consumer's own cap at most, and
    /// deliveries grow linearly.
    function test_M2_returnDataBomb_batchOf20() public {
        bytes memory data = "42";
        GoodConsumer good = new GoodConsumer();
        ReturnBomb bomb = new ReturnBomb(280_000);
        DealRef memory normal = _deal(1, 20, 0, address(good));
        DealRef memory bombed = _deal(1, 20, 0, address(bomb));
        BatchResult[] memory b1 = _callbackBatch(normal, 20, data);
        BatchResult[] memory b2 = _callbackBatch(bombed, 20, data);
        vm.prank(scheduler);
        uint256 g = gasleft();
        poco().pushResults(normal.encoded, normal.id, b1);
        uint256 gasNormal = g - gasleft();
        vm.prank(scheduler);
        g = gasleft();
        poco().pushResults(bombed.encoded, bombed.id, b2);
        uint256 gasBomb = g - gasleft();
        assertLe(gasBomb, 2 * gasNormal, "a bomb consumer's batch within 2x of a normal one's");

        uint256[] memory one = new uint256[](1);
        uint256[] memory nineteen = new uint256[](19);
        for (uint256 i = 0; i < 19; i++) {
            nineteen[i] = i + 1;
        }
        g = gasleft();
        poco().deliverCallbacks(bombed.encoded, bombed.id, one);
        uint256 gasOne = g - gasleft();
        g = gasleft();
        poco().deliverCallbacks(bombed.encoded, bombed.id, nineteen);
        uint256 gasNineteen = g - gasleft();
        assertLe(gasNineteen, 19 * gasOne * 11 / 10, "deliveries grow linearly");
        assertLe(gasOne, 200_000 + 60_000, "one delivery: the consumer's cap and little else");
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.CallbackNotPending.selector, _taskId(bombed, 0)));
        poco().deliverCallbacks(bombed.encoded, bombed.id, one);

        poco().deliverCallbacks(normal.encoded, normal.id, nineteen);
        assertEq(good.lastData(), data, "the good consumer received the result");
        assertEq(good.lastTask(), _taskId(normal, 19), "of the task delivered last");
        assertTrue(poco().isCallbackPending(normal.id, 0, 0), "task 0 still waits for its delivery");
        assertEq(poco().resultFor(_taskId(normal, 0)), data, "pullable before delivery");
        _assertConserved();
    }

    /// @dev Settle `ref`'s task 0 by the fast path with `gas`, then undo everything: reports
    /// whether it went through and the gas the consumer measured.
    function probe(DealRef memory ref, bytes memory data, GasMeter meter, uint256 gas) external {
        bytes memory auth = _auth(SCHEDULER_KEY, workers[0], _taskId(ref, 0), address(0));
        vm.prank(workers[0]);
        try hub.contributeAndFinalize{gas: gas}(
            ref.encoded, ref.id, 0, keccak256(data), "", data, address(0), "", auth
        ) {
            revert Probe(true, meter.received());
        } catch {
            revert Probe(false, 0);
        }
    }

    function _probe(DealRef memory ref, bytes memory data, GasMeter meter, uint256 gas)
        internal
        returns (bool ok, uint256 received)
    {
        try this.probe(ref, data, meter, gas) {}
        catch (bytes memory err) {
            (ok, received) = abi.decode(_tail(err), (bool, uint256));
        }
    }

    function _tail(bytes memory err) internal pure returns (bytes memory out) {
        out = new bytes(err.length - 4);
        for (uint256 i = 0; i < out.length; i++) {
            out[i] = err[i + 4];
        }
    }

    /// @dev L-1: with large callback data the gas check ran before the calldata was built and
    /// let a settler pick a gas amount that gave the consumer 192 178 of its 200 000. Now, at the
    /// least gas with which the settlement succeeds, the consumer gets its whole cap (less its own
    /// few hundred gas of dispatch before it measures).
    function test_L1_consumerGetsItsWholeCapAtTheLeastGasThatSettles() public {
        GasMeter meter = new GasMeter();
        DealRef memory ref = _deal(1, 1, 0, address(meter));
        bytes memory data = new bytes(8_192);
        for (uint256 i = 0; i < data.length; i++) {
            data[i] = 0xab;
        }
        uint256 lo = 200_000; // fails: not even the cap
        uint256 hi = 20_000_000; // succeeds
        (bool okHi,) = _probe(ref, data, meter, hi);
        assertTrue(okHi, "settles with plenty of gas");
        while (hi - lo > 1) {
            uint256 mid = (lo + hi) / 2;
            (bool ok,) = _probe(ref, data, meter, mid);
            if (ok) hi = mid;
            else lo = mid;
        }
        (, uint256 received) = _probe(ref, data, meter, hi);
        assertGe(received, 200_000 - 1_000, "the consumer got its whole cap");
    }

    // ------------------------------------------------------------------ L-5: wallets and groups

    /// @dev L-5: a group answering nothing, or a word that is not an ABI bool, or burning its gas,
    /// allows no one (a clear refusal, not an empty revert of the whole match).
    function test_L5_malformedGroupsAllowNoOne() public {
        address[3] memory groups = [
            address(new SilentIdentity()), address(new NonBoolIdentity()), address(new GasBurningIdentity())
        ];
        for (uint256 i = 0; i < groups.length; i++) {
            (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
                _orders();
            r.workerpool = groups[i];
            r = _signRequest(r);
            vm.expectRevert(
                abi.encodeWithSelector(IHubErrors.WorkerpoolRestrictedByRequest.selector, workerpool)
            );
            hub.matchOrders{gas: 2_000_000}(a, d, w, r);
        }
    }

    /// @dev L-5: an ERC-1271 wallet answering the magic value with dirty low bytes is a refusal;
    /// a wallet burning its gas only gets `EXTERNAL_CHECK_GAS` of it.
    function test_L5_malformedOrGreedyWalletIsARefusal() public {
        address[2] memory wallets = [address(new DirtyWallet()), address(new GasBurningIdentity())];
        for (uint256 i = 0; i < wallets.length; i++) {
            (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
                _orders();
            r.requester = wallets[i];
            r.sign = hex"00";
            vm.prank(sponsor);
            vm.expectRevert(
                abi.encodeWithSelector(
                    IHubErrors.InvalidRequestOrderSignature.selector, hub.hashRequestOrder(r)
                )
            );
            uint256 g = gasleft();
            hub.sponsorMatchOrders{gas: 2_000_000}(a, d, w, r);
            assertLe(g - gasleft(), 600_000, "bounded: three capped wallet calls at most");
        }
    }

    // ------------------------------------------------------------------ I-2, I-4: what was seen

    /// @dev I-2: a workerpool owner raises the stake and its own share just before a match: the
    /// deal keeps the ratios in force; the new ones apply 7 days later, announced meanwhile.
    function test_I2_policyChangeTakesEffectAfterTheDelay() public {
        vm.prank(scheduler);
        workerpools.changePolicy(workerpool, 90, 50);
        (uint256 s, uint256 r, uint256 ps, uint256 pr, uint256 at) = poco().viewWorkerpoolPolicy(workerpool);
        assertEq(s, 30, "stake ratio in force");
        assertEq(r, 1, "reward ratio in force");
        assertEq(ps, 90, "announced stake ratio");
        assertEq(pr, 50, "announced reward ratio");
        assertEq(at, block.timestamp + 7 days, "effective in 7 days");
        DealRef memory before = _deal(1, 1, 0, address(0));
        assertEq(before.deal.workerStake, WP_PRICE * 30 / 100, "the ratios the requester saw");
        assertEq(before.deal.schedulerRewardRatio, 1, "the ratios the requester saw");
        vm.warp(block.timestamp + 7 days);
        DealRef memory later = _deal(1, 1, 0, address(0));
        assertEq(later.deal.workerStake, WP_PRICE * 90 / 100, "the announced ratios, once due");
        assertEq(later.deal.schedulerRewardRatio, 50, "the announced ratios, once due");
        (,,,, at) = poco().viewWorkerpoolPolicy(workerpool);
        assertEq(at, 0, "nothing pending any more");
    }

    /// @dev I-4: a presign made by an owner dies when the app changes hands and stays dead when
    /// it comes back to that owner.
    function test_I4_presignDoesNotReviveWhenTheAssetComesBack() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        a.sign = "";
        vm.prank(appOwner);
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.SIGN, ""));
        uint256 id = uint256(uint160(app));
        vm.prank(appOwner);
        apps.transferFrom(appOwner, stranger, id);
        vm.prank(stranger);
        apps.transferFrom(stranger, appOwner, id);
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InvalidAppOrderSignature.selector, hub.hashAppOrder(a))
        );
        hub.matchOrders(a, d, w, r);
        (address presigner, uint256 period) = hub.viewPresigned(hub.hashAppOrder(a));
        assertEq(presigner, appOwner, "made by the owner");
        assertEq(period, 0, "in its first ownership period");
        vm.prank(appOwner);
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.SIGN, ""));
        hub.matchOrders(a, d, w, r); // presigned again in this period: valid
    }

    // ------------------------------------------------------------------ L-4: reputation

    /// @dev A replicated deal at `trust` requested (and paid) by the holder of `key`.
    function _dealRequestedBy(uint256 key, uint256 trust) internal returns (DealRef memory ref) {
        _fund(vm.addr(key), FUNDS);
        AppOrder memory a = _signApp(_appOrder(1));
        WorkerpoolOrder memory w = _workerpoolOrder(1);
        w.trust = 100;
        w = _signWorkerpool(w);
        RequestOrder memory r = _requestOrder(1, false);
        r.requester = vm.addr(key);
        r.trust = trust;
        r.sign = _sig(key, hub.hashRequestOrder(r));
        DatasetOrder memory d;
        (ref.id, ref.deal) = _matchAndDecode(a, d, w, r);
        ref.encoded = lastEncodedDeal;
    }

    /// @dev L-4: a party playing requester and scheduler (or a worker paying for its own votes)
    /// earns no score however many replicated tasks it completes.
    function test_L4_selfDealingLoopFarmsNoScore() public {
        for (uint256 round = 0; round < 3; round++) {
            DealRef memory ref = _dealRequestedBy(SCHEDULER_KEY, 3);
            _contribute(ref, 0, 0, GOOD);
            _contribute(ref, 0, 1, GOOD);
            _finalize(ref, 0, GOOD, _list(0, 1));
        }
        assertEq(hub.viewScore(workers[0]), 0, "the scheduler paying its own pool farms nothing");
        DealRef memory own = _dealRequestedBy(workerKeys[2], 3);
        _contribute(own, 0, 2, GOOD);
        _contribute(own, 0, 3, GOOD);
        _finalize(own, 0, GOOD, _list(2, 3));
        assertEq(hub.viewScore(workers[2]), 0, "a worker paying for its own task gains nothing");
        assertEq(hub.viewScore(workers[3]), 1, "a worker paid by someone else gains");
        _assertConserved();
    }

    // ------------------------------------------------------------------ gas: signed contributions

    /// @dev The scheduler sends three workers' signed votes in one transaction, then finalizes
    /// with the digest (no reveal transaction): each worker stakes, is counted and paid as if it
    /// had sent `contribute` itself. A vote without its worker's signature is refused.
    function test_contributeBatch_signedVotesThenFinalize() public {
        DealRef memory ref = _deal(5, 1, 0, address(0));
        SignedContribution[] memory batch = new SignedContribution[](3);
        for (uint256 i = 0; i < 3; i++) {
            batch[i] = _signedContribution(ref, 0, i, GOOD);
        }
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.NotTheScheduler.selector, stranger));
        poco().contributeBatch(ref.encoded, ref.id, batch);
        bytes memory signature = batch[2].workerSign;
        batch[2].workerSign = _sig(SCHEDULER_KEY, keccak256("anything"));
        vm.prank(scheduler);
        vm.expectRevert(abi.encodeWithSelector(IPocoErrors.InvalidContributionSignature.selector, workers[2]));
        poco().contributeBatch(ref.encoded, ref.id, batch);
        batch[2].workerSign = signature;
        vm.prank(scheduler);
        poco().contributeBatch(ref.encoded, ref.id, batch);
        bytes32 taskId = _taskId(ref, 0);
        assertEq(uint8(poco().viewTask(taskId).status), uint8(TaskStatus.REVEALING), "8 * 5 > 9 * 4");
        assertEq(_locked(workers[1]), STAKE, "each worker staked");
        uint256 w2 = _balance(workers[2]);
        _finalize(ref, 0, GOOD, _list(0, 1, 2));
        assertEq(_balance(workers[2]), w2 + STAKE + (WP_PRICE * 99 / 100) / 3, "paid as a contributor");
        _assertConserved();
    }
}
