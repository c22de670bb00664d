// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ExecutionFixture} from "./utils/ExecutionFixture.sol";
import {Vm, vm} from "./utils/Vm.sol";
import {Hub} from "../src/Hub.sol";
import {IHubErrors, IHubEvents} from "../src/interfaces/IHubTypes.sol";
import {IPocoEvents} from "../src/interfaces/IPocoTypes.sol";
import {Deals} from "../src/libs/Deals.sol";
import {AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder} from "../src/libs/Orders.sol";
import {DexecOracleConsumer, OracleRequest} from "../src/oracle/DexecOracleConsumer.sol";
import {PriceFeedOracle} from "../src/oracle/PriceFeedOracle.sol";
import {HashCheckConsumer} from "../src/oracle/examples/HashCheckConsumer.sol";

/// @notice The consumer's own digest computation beside the hub's views, measured the same way.
contract DigestProbe is DexecOracleConsumer {
    constructor(address hub_) DexecOracleConsumer(hub_) {}

    /// @dev What `_requestResult` does: the digest from memory and the cached domain.
    function local(RequestOrder memory o) external view returns (bytes32 taskId, uint256 gasUsed) {
        uint256 g = gasleft();
        taskId = Deals.taskId(Deals.id(_hashOrder(o), 0), 0);
        gasUsed = g - gasleft();
    }

    /// @dev The alternative: the hub's views (its account already warm, as after the presign).
    function viaHub(RequestOrder memory o) external view returns (bytes32 taskId, uint256 gasUsed) {
        Hub h = Hub(hub);
        h.domainSeparator();
        uint256 g = gasleft();
        taskId = h.computeTaskId(h.computeDealId(h.hashRequestOrder(o), 0), 0);
        gasUsed = g - gasleft();
    }

    function _onResult(bytes32, bytes32, bytes calldata) internal override {}
}

/// @notice Oracle consumers against the real hub: a feed's request is presigned, matched by the
/// market with its empty signature, settled on the trust-1 fast path, and the hub's callback
/// updates the feed.
contract OracleTest is ExecutionFixture {
    /// @dev forge prints these (ds-test's log event) with -vv: the gas figures of `test_gas_*`.
    event log_named_uint(string key, uint256 val);

    bytes32 internal constant ID = keccak256("ETH/USD-8");
    uint256 internal constant TASK_PRICE = APP_PRICE + WP_PRICE;
    uint256 internal constant FEED_FUNDS = 10 * TASK_PRICE;
    uint256 internal constant NOW = 1_700_000_000;

    PriceFeedOracle internal feed;
    address internal updater;

    struct Requested {
        bytes32 requestHash;
        bytes32 taskId;
        RequestOrder order;
    }

    function setUp() public override {
        super.setUp();
        vm.warp(NOW);
        feed = new PriceFeedOracle(address(hub));
        updater = vm.addr(0xFEED);
        feed.setUpdater(updater, true);
        // anyone funds the feed's hub account
        address funder = vm.addr(0xF00D);
        token.mint(funder, FEED_FUNDS);
        vm.startPrank(funder);
        token.approve(address(hub), FEED_FUNDS);
        hub.depositFor(FEED_FUNDS, address(feed));
        vm.stopPrank();
        extraAccounts.push(address(feed));
    }

    // ------------------------------------------------------------------ helpers

    /// @dev What a feed runner asks for: the pricefeed app over three sources, on our workerpool.
    function _spec() internal view returns (OracleRequest memory r) {
        r.app = app;
        r.appmaxprice = APP_PRICE;
        r.workerpool = workerpool;
        r.workerpoolmaxprice = WP_PRICE;
        r.trust = 1;
        r.params =
        '{"iexec_args":"8 60","iexec_input_files":["https://a.example/eth","https://b.example/eth"]}';
    }

    /// @dev The updater requests an update of `id`; the order is read back from the event, as
    /// the CLI does.
    function _request(bytes32 id) internal returns (Requested memory q) {
        OracleRequest memory spec = _spec();
        vm.recordLogs();
        vm.prank(updater);
        (q.requestHash, q.taskId) = feed.requestUpdate(id, spec);
        Vm.Log memory log =
            _only(vm.getRecordedLogs(), address(feed), DexecOracleConsumer.ResultRequested.selector);
        assertEq(log.topics[1], id, "id indexed");
        assertEq(log.topics[2], q.requestHash, "digest indexed");
        bytes32 emittedTask;
        (emittedTask, q.order) = abi.decode(log.data, (bytes32, RequestOrder));
        assertEq(emittedTask, q.taskId, "task id emitted");
        assertEq(hub.hashRequestOrder(q.order), q.requestHash, "the hub's digest of the emitted order");
        (address owner,) = hub.viewPresigned(q.requestHash);
        assertEq(owner, address(feed), "presigned by the feed");
        assertEq(feed.pendingRequest(q.taskId), id, "pending");
    }

    /// @dev The market fills the request with the empty-signed order from the event.
    function _match(Requested memory q) internal returns (DealRef memory ref) {
        DatasetOrder memory d;
        (ref.id, ref.deal) =
            _matchAndDecode(_signApp(_appOrder(1)), d, _signWorkerpool(_workerpoolOrder(1)), q.order);
        ref.encoded = lastEncodedDeal;
        assertEq(ref.deal.payer, address(feed), "the feed pays");
        assertEq(ref.deal.callback, address(feed), "the feed is called back");
        assertEq(_taskId(ref, 0), q.taskId, "the task the feed predicted");
    }

    /// @dev A worker settles task `index` on the fast path with callback `data`; returns the logs
    /// after checking that the callback ran without reverting.
    function _deliver(DealRef memory ref, uint256 index, bytes memory data)
        internal
        returns (Vm.Log[] memory logs)
    {
        vm.recordLogs();
        _fast(ref, index, 0, keccak256(data), data);
        logs = vm.getRecordedLogs();
        Vm.Log memory cb = _only(logs, address(hub), IPocoEvents.CallbackResult.selector);
        assertTrue(abi.decode(cb.data, (bool)), "the callback did not revert");
        assertTrue(poco().isTaskSettled(ref.id, index, ref.deal.botFirst), "settled");
    }

    function _price(int256 value, uint256 timestamp) internal pure returns (bytes memory) {
        return abi.encode(value, timestamp);
    }

    /// @dev Request, match and deliver `data` for `id`.
    function _roundTrip(bytes32 id, bytes memory data)
        internal
        returns (Requested memory q, Vm.Log[] memory logs)
    {
        q = _request(id);
        logs = _deliver(_match(q), 0, data);
    }

    function _matches(Vm.Log memory log, address emitter, bytes32 topic) internal pure returns (bool) {
        return log.emitter == emitter && log.topics.length > 0 && log.topics[0] == topic;
    }

    function _count(Vm.Log[] memory logs, address emitter, bytes32 topic) internal pure returns (uint256 n) {
        for (uint256 i = 0; i < logs.length; i++) {
            if (_matches(logs[i], emitter, topic)) n++;
        }
    }

    /// @dev The one event `topic` of `emitter` in `logs` (fails unless there is exactly one).
    function _only(Vm.Log[] memory logs, address emitter, bytes32 topic)
        internal
        pure
        returns (Vm.Log memory found)
    {
        uint256 n;
        for (uint256 i = 0; i < logs.length; i++) {
            if (_matches(logs[i], emitter, topic)) {
                found = logs[i];
                n++;
            }
        }
        assertEq(n, 1, "exactly one such event");
    }

    function _assertValue(bytes32 id, int256 value, uint256 timestamp, uint256 status) internal view {
        (int256 v, uint256 t, uint256 s) = feed.valueFor(id);
        assertTrue(v == value, "value");
        assertEq(t, timestamp, "timestamp");
        assertEq(s, status, "status");
    }

    // ------------------------------------------------------------------ the feed

    function test_feed_resultStoredEmittedAndPaidFromItsAccount() public {
        uint256 ts = NOW - 30;
        (Requested memory q, Vm.Log[] memory logs) = _roundTrip(ID, _price(-123_456_789, ts));
        Vm.Log memory updated = _only(logs, address(feed), PriceFeedOracle.ValueUpdated.selector);
        assertEq(updated.topics[1], ID, "feed id indexed");
        (int256 v, uint256 t, bytes32 taskId) = abi.decode(updated.data, (int256, uint256, bytes32));
        assertTrue(v == -123_456_789, "value emitted");
        assertEq(t, ts, "timestamp emitted");
        assertEq(taskId, q.taskId, "task emitted");
        _assertValue(ID, -123_456_789, ts, feed.STATUS_OK());
        (v, t, taskId) = feed.latest(ID);
        assertTrue(v == -123_456_789 && t == ts && taskId == q.taskId, "latest");
        assertEq(feed.pendingRequest(q.taskId), 0, "answered once");
        assertEq(_balance(address(feed)), FEED_FUNDS - TASK_PRICE, "one task paid from the feed's account");
        assertEq(_locked(address(feed)), 0, "nothing left locked");
        _assertConserved();
    }

    function test_feed_unknownIdIs404() public view {
        _assertValue(keccak256("nothing here"), 0, 0, feed.STATUS_NOT_FOUND());
        (int256 v, uint256 t, bytes32 taskId) = feed.latest(keccak256("nothing here"));
        assertTrue(v == 0 && t == 0 && taskId == 0, "latest: zeros");
    }

    function test_feed_olderThanMaxAgeIs408() public {
        feed.setMaxAge(ID, 60);
        _roundTrip(ID, _price(42, NOW));
        _assertValue(ID, 42, NOW, feed.STATUS_OK());
        vm.warp(NOW + 60);
        _assertValue(ID, 42, NOW, feed.STATUS_OK());
        vm.warp(NOW + 61);
        _assertValue(ID, 42, NOW, feed.STATUS_STALE());
        feed.setMaxAge(ID, 0);
        _assertValue(ID, 42, NOW, feed.STATUS_OK());
    }

    function test_feed_malformedResultIgnoredNotReverted() public {
        bytes[3] memory bad = [bytes(hex"beef"), abi.encode(int256(1), uint256(NOW), uint256(0)), bytes("")];
        for (uint256 i = 0; i < bad.length; i++) {
            (Requested memory q, Vm.Log[] memory logs) = _roundTrip(ID, bad[i]);
            Vm.Log memory m = _only(logs, address(feed), PriceFeedOracle.MalformedResult.selector);
            assertEq(m.topics[2], q.taskId, "task indexed");
            assertEq(abi.decode(m.data, (uint256)), bad[i].length, "length");
            assertEq(feed.pendingRequest(q.taskId), 0, "answered");
        }
        _assertValue(ID, 0, 0, feed.STATUS_NOT_FOUND());
        _assertConserved();
    }

    function test_feed_outOfOrderResultIgnored() public {
        Requested memory early = _request(ID);
        Requested memory late = _request(ID);
        Requested memory same = _request(ID);
        DealRef memory earlyDeal = _match(early);
        DealRef memory lateDeal = _match(late);
        DealRef memory sameDeal = _match(same);
        _deliver(lateDeal, 0, _price(2000, NOW - 10));
        Vm.Log[] memory logs = _deliver(earlyDeal, 0, _price(1000, NOW - 20));
        Vm.Log memory ooo = _only(logs, address(feed), PriceFeedOracle.OutOfOrderResult.selector);
        (uint256 t, uint256 held) = abi.decode(ooo.data, (uint256, uint256));
        assertEq(t, NOW - 20, "its timestamp");
        assertEq(held, NOW - 10, "the newer one held");
        logs = _deliver(sameDeal, 0, _price(3000, NOW - 10));
        assertEq(
            _count(logs, address(feed), PriceFeedOracle.OutOfOrderResult.selector), 1, "same time: not newer"
        );
        _assertValue(ID, 2000, NOW - 10, feed.STATUS_OK());
        (,, bytes32 taskId) = feed.latest(ID);
        assertEq(taskId, late.taskId, "the newest result's task");
        _assertConserved();
    }

    function test_feed_newerValueReplacesTheOld() public {
        _roundTrip(ID, _price(100, NOW - 60));
        vm.warp(NOW + 60);
        (Requested memory q,) = _roundTrip(ID, _price(-100, NOW));
        _assertValue(ID, -100, NOW, feed.STATUS_OK());
        (,, bytes32 taskId) = feed.latest(ID);
        assertEq(taskId, q.taskId, "the newer task");
    }

    function test_feed_futureResultIgnored() public {
        (, Vm.Log[] memory logs) = _roundTrip(ID, _price(7, NOW + 1));
        _only(logs, address(feed), PriceFeedOracle.FutureResult.selector);
        _assertValue(ID, 0, 0, feed.STATUS_NOT_FOUND());
        // an honest value still gets in afterwards
        _roundTrip(ID, _price(8, NOW));
        _assertValue(ID, 8, NOW, feed.STATUS_OK());
    }

    function test_feed_feedsAreIndependent() public {
        bytes32 other = keccak256("BTC/USD-8");
        _roundTrip(ID, _price(1, NOW - 5));
        _roundTrip(other, _price(2, NOW - 50));
        _assertValue(ID, 1, NOW - 5, feed.STATUS_OK());
        _assertValue(other, 2, NOW - 50, feed.STATUS_OK());
    }

    // ------------------------------------------------------------------ access

    function test_receiveResult_onlyFromTheHub() public {
        Requested memory q = _request(ID);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(DexecOracleConsumer.NotHub.selector, stranger));
        feed.receiveResult(q.taskId, _price(1, NOW));
        assertEq(feed.pendingRequest(q.taskId), ID, "still pending");
        _assertValue(ID, 0, 0, feed.STATUS_NOT_FOUND());

        HashCheckConsumer hc = new HashCheckConsumer(address(hub));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(HashCheckConsumer.NotHub.selector, stranger));
        hc.receiveResult(q.taskId, abi.encode(true));
    }

    function test_requestUpdate_onlyOwnerOrUpdater() public {
        OracleRequest memory spec = _spec();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(PriceFeedOracle.NotUpdater.selector, stranger));
        feed.requestUpdate(ID, spec);
        feed.requestUpdate(ID, spec); // the owner (this test)
        feed.setUpdater(updater, false);
        vm.prank(updater);
        vm.expectRevert(abi.encodeWithSelector(PriceFeedOracle.NotUpdater.selector, updater));
        feed.requestUpdate(ID, spec);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        feed.setUpdater(stranger, true);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        feed.setMaxAge(ID, 1);
        vm.expectRevert(DexecOracleConsumer.ZeroId.selector);
        feed.requestUpdate(bytes32(0), spec);
    }

    function test_unexpectedTaskIgnored() public {
        // a wallet's own request names the feed as its callback: the feed did not ask for it
        DealRef memory ref = _deal(1, 1, 0, address(feed));
        Vm.Log[] memory logs = _deliver(ref, 0, _price(5, NOW));
        Vm.Log memory u = _only(logs, address(feed), DexecOracleConsumer.UnexpectedResult.selector);
        assertEq(u.topics[1], _taskId(ref, 0), "task indexed");
        _assertValue(ID, 0, 0, feed.STATUS_NOT_FOUND());
        _assertConserved();
    }

    // ------------------------------------------------------------------ cancel, claim, withdraw

    function test_cancel_closesTheOrderOnTheHub() public {
        Requested memory q = _request(ID);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(PriceFeedOracle.NotUpdater.selector, stranger));
        feed.cancelRequest(q.order);

        vm.recordLogs();
        vm.prank(updater);
        feed.cancelRequest(q.order);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        Vm.Log memory c = _only(logs, address(feed), DexecOracleConsumer.RequestCancelled.selector);
        assertEq(c.topics[1], ID, "id");
        assertEq(c.topics[2], q.requestHash, "digest");
        Vm.Log memory closed = _only(logs, address(hub), IHubEvents.RequestOrderClosed.selector);
        assertEq(closed.topics[1], q.requestHash, "closed on the hub");
        assertEq(feed.pendingRequest(q.taskId), 0, "no longer pending");
        assertEq(hub.viewConsumed(q.requestHash), type(uint256).max, "no volume left");

        AppOrder memory a = _signApp(_appOrder(1));
        WorkerpoolOrder memory w = _signWorkerpool(_workerpoolOrder(1));
        DatasetOrder memory d;
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.RequestOrderConsumed.selector, q.requestHash));
        hub.matchOrders(a, d, w, q.order);
        vm.prank(updater);
        vm.expectRevert(abi.encodeWithSelector(DexecOracleConsumer.UnknownRequest.selector, q.taskId));
        feed.cancelRequest(q.order);
        assertEq(_balance(address(feed)), FEED_FUNDS, "nothing was ever locked");
        _assertConserved();
    }

    function test_cancel_refusedOnceMatched() public {
        Requested memory q = _request(ID);
        _match(q);
        vm.expectRevert(abi.encodeWithSelector(DexecOracleConsumer.RequestAlreadyMatched.selector, q.taskId));
        feed.cancelRequest(q.order);
        assertEq(feed.pendingRequest(q.taskId), ID, "still awaited");
    }

    function test_cancel_unknownOrderRefused() public {
        Requested memory q = _request(ID);
        q.order.salt = bytes32(uint256(q.order.salt) + 1);
        bytes32 taskId = Deals.taskId(Deals.id(hub.hashRequestOrder(q.order), 0), 0);
        vm.expectRevert(abi.encodeWithSelector(DexecOracleConsumer.UnknownRequest.selector, taskId));
        feed.cancelRequest(q.order);
    }

    function test_claim_refundsTheFeed() public {
        Requested memory q = _request(ID);
        DealRef memory ref = _match(q);
        assertEq(_locked(address(feed)), TASK_PRICE, "the task's price locked");
        vm.warp(block.timestamp + 10 * ref.deal.timeref);
        poco().claim(ref.encoded, ref.id, 0, new address[](0));
        assertEq(_balance(address(feed)), FEED_FUNDS, "refunded");
        assertEq(_locked(address(feed)), 0, "nothing locked");
        _assertConserved();
    }

    function test_withdraw_ownerOnly() public {
        address to = vm.addr(0xCAFE);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        feed.withdraw(1, to);
        feed.withdraw(TASK_PRICE, to);
        assertEq(token.balanceOf(to), TASK_PRICE, "sent");
        assertEq(_balance(address(feed)), FEED_FUNDS - TASK_PRICE, "from the feed's account");
        _assertConserved();
    }

    function test_request_afterAChainIdChangeStillMatches() public {
        vm.chainId(31_338);
        Requested memory q = _request(ID);
        _deliver(_match(q), 0, _price(9, NOW));
        _assertValue(ID, 9, NOW, feed.STATUS_OK());
    }

    // ------------------------------------------------------------------ generic example

    function test_hashCheck_decodesBooleansAndKeepsAnyData() public {
        HashCheckConsumer hc = new HashCheckConsumer(address(hub));
        DealRef memory ref = _deal(1, 3, 0, address(hc));
        Vm.Log[] memory logs = _deliver(ref, 0, abi.encode(true));
        Vm.Log memory a = _only(logs, address(hc), HashCheckConsumer.Answered.selector);
        assertEq(a.topics[1], _taskId(ref, 0), "task indexed");
        assertTrue(abi.decode(a.data, (bool)), "yes");
        assertTrue(hc.answered(_taskId(ref, 0)) && hc.answers(_taskId(ref, 0)), "stored yes");

        _deliver(ref, 1, abi.encode(false));
        assertTrue(hc.answered(_taskId(ref, 1)) && !hc.answers(_taskId(ref, 1)), "stored no");

        bytes memory other = abi.encode(uint256(2)); // a word, not a boolean
        logs = _deliver(ref, 2, other);
        _only(logs, address(hc), HashCheckConsumer.Received.selector);
        assertFalse(hc.answered(_taskId(ref, 2)), "no answer");
        assertEq(hc.lastTask(), _taskId(ref, 2), "last task");
        assertEq(hc.lastData(), other, "last data, whatever its format");
        _assertConserved();
    }

    // ------------------------------------------------------------------ gas

    /// @dev The figures are measured inside one test transaction, where storage touched earlier
    /// is warm: `forge test --isolate --gas-report` gives per-transaction figures.
    function test_gas_callbackWellUnderTheCap() public {
        OracleRequest memory spec = _spec();
        vm.prank(updater);
        uint256 g = gasleft();
        (, bytes32 taskId) = feed.requestUpdate(ID, spec);
        uint256 request = g - gasleft();
        // the consumer's share of a callback, called as the hub calls it: a first value of an id
        vm.prank(address(hub));
        g = gasleft();
        feed.receiveResult(taskId, _price(1, NOW));
        uint256 callback = g - gasleft();
        _assertValue(ID, 1, NOW, feed.STATUS_OK());
        assertLt(callback * 2, hub.DEFAULT_CALLBACK_GAS(), "under half the hub's callback gas");
        emit log_named_uint("requestUpdate (first of the feed)", request);
        emit log_named_uint("receiveResult (first value of an id)", callback);
    }

    function test_gas_localDigestMatchesTheHubAndCostsLess() public {
        DigestProbe probe = new DigestProbe(address(hub));
        Requested memory q = _request(ID);
        bytes32 expected = Deals.taskId(Deals.id(hub.hashRequestOrder(q.order), 0), 0);
        (bytes32 local, uint256 localGas) = probe.local(q.order);
        (bytes32 viaHub, uint256 hubGas) = probe.viaHub(q.order);
        assertEq(local, expected, "local digest");
        assertEq(viaHub, expected, "hub views");
        assertLt(localGas, hubGas, "computing locally is cheaper");
        emit log_named_uint("task id computed locally", localGas);
        emit log_named_uint("task id from the hub's views", hubGas);
    }
}
