// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {InvariantTest, Test} from "./utils/Test.sol";
import {Vm, vm} from "./utils/Vm.sol";
import {Hub} from "../src/Hub.sol";
import {HubPoco, BatchResult} from "../src/HubPoco.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DevToken} from "../src/token/DevToken.sol";
import {AppRegistry} from "../src/registries/AppRegistry.sol";
import {DatasetRegistry} from "../src/registries/DatasetRegistry.sol";
import {WorkerpoolRegistry} from "../src/registries/WorkerpoolRegistry.sol";
import {Deal} from "../src/libs/Deals.sol";
import {System, deploySystem} from "./utils/Deploy.sol";
import {AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder} from "../src/libs/Orders.sol";
import {ReturnBomb, GasBurner} from "./mocks/Consumers.sol";

/// @notice Drives whole task lifecycles: deals at trust 1, 3 and 5, with no consumer or a hostile
/// one (a return-data bomb, a gas burner); fast settlements, batches and their deliveries,
/// honest, lying and silent contributions, reveals, reopens, finalizations, time passing and
/// claims. It keeps a ghost of what must be locked (payer prices, scheduler stakes, worker stakes
/// of open tasks) and counts every claim after which some party holds more than before.
contract LifecycleHandler is Test {
    uint256 internal constant APP_KEY = 0xA11CE;
    uint256 internal constant SCHED_KEY = 0x5C4ED;
    uint256 internal constant REQ_KEY = 0xB0B;
    bytes32 internal constant GOOD = keccak256("good");
    bytes32 internal constant BAD = keccak256("bad");

    Hub public hub;
    DevToken public token;
    address public app;
    address public workerpool;
    address[] public actors; // app owner, scheduler, requester, workers...
    uint256[] internal workerKeys;

    struct D {
        bytes32 id;
        bytes encoded;
        uint256 trust;
        uint256 volume;
        uint256 taskPrice;
        uint256 schedStake;
        uint256 workerStake;
        uint256 start;
        address callback;
    }

    D[] internal _deals;
    mapping(bytes32 taskId => address[]) internal _contributors;
    mapping(bytes32 taskId => mapping(address => bytes32)) internal _votes;
    mapping(bytes32 taskId => uint256) public settledCount;

    /// ghost: funds that must be locked right now
    uint256 public expectedLocked;
    uint256 public settlements;
    uint256 public doubleSettlements;
    /// per path: fast, batch, finalize, claim, claimBatch (to check the run exercises each)
    uint256[5] public byPath;
    /// claims after which a party (requester, scheduler, app owner, any worker) held more
    uint256 public failureProfits;
    uint256 public reopens;
    uint256 private _salt;
    address[3] internal _consumers;

    /// @dev Deploys the whole system so that it owns the token it mints from.
    constructor() {
        System memory sys = deploySystem(address(this));
        (token, hub) = (sys.token, sys.hub);
        AppRegistry apps = sys.apps;
        WorkerpoolRegistry workerpools = sys.workerpools;
        actors.push(vm.addr(APP_KEY));
        actors.push(vm.addr(SCHED_KEY));
        actors.push(vm.addr(REQ_KEY));
        for (uint256 i = 0; i < 4; i++) {
            workerKeys.push(0x7000 + i);
            actors.push(vm.addr(0x7000 + i));
        }
        for (uint256 i = 0; i < actors.length; i++) {
            vm.prank(actors[i]);
            token.approve(address(hub), type(uint256).max);
            _fund(actors[i], 1e15);
        }
        app = apps.createApp(actors[0], "app", "WASM", "/a", bytes32(0), "");
        workerpool = workerpools.createWorkerpool(actors[1], "wp");
        _consumers = [address(0), address(new ReturnBomb(280_000)), address(new GasBurner())];
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function _fund(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.prank(who);
        hub.deposit(amount);
    }

    function _poco() internal view returns (HubPoco) {
        return HubPoco(address(hub));
    }

    function _sig(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _auth(address worker, bytes32 taskId) internal pure returns (bytes memory) {
        bytes32 h = keccak256(abi.encodePacked(worker, taskId, address(0)));
        return _sig(SCHED_KEY, keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", h)));
    }

    // ------------------------------------------------------------------ actions

    function newDeal(uint256 seed) external {
        uint256 trust = [uint256(1), 3, 5][seed % 3];
        uint256 volume = bound(seed >> 8, 1, 4);
        uint256 price = bound(seed >> 16, 0, 1e9);
        AppOrder memory a;
        a.app = app;
        a.appprice = price / 10;
        a.volume = volume;
        a.salt = bytes32(++_salt);
        a.sign = _sig(APP_KEY, hub.hashAppOrder(a));
        WorkerpoolOrder memory w;
        w.workerpool = workerpool;
        w.workerpoolprice = price;
        w.volume = volume;
        w.trust = 100;
        w.salt = bytes32(++_salt);
        w.sign = _sig(SCHED_KEY, hub.hashWorkerpoolOrder(w));
        RequestOrder memory r;
        r.app = app;
        r.appmaxprice = a.appprice;
        r.workerpoolmaxprice = price;
        r.requester = actors[2];
        r.volume = volume;
        r.trust = trust;
        r.callback = _consumers[(seed >> 40) % 3];
        r.salt = bytes32(++_salt);
        r.sign = _sig(REQ_KEY, hub.hashRequestOrder(r));
        DatasetOrder memory d;
        vm.recordLogs();
        bytes32 id = hub.matchOrders(a, d, w, r);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes memory encoded;
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].topics.length == 4 && logs[i].topics[1] == id) {
                (encoded,,,,,,) =
                    abi.decode(logs[i].data, (bytes, bytes32, bytes32, bytes32, bytes32, address, string));
            }
        }
        Deal memory deal = hub.decodeDeal(encoded);
        uint256 taskPrice = uint256(deal.appPrice) + deal.workerpoolPrice;
        uint256 schedStake = uint256(deal.workerpoolPrice) * 30 / 100;
        _deals.push(
            D(
                id,
                encoded,
                deal.trust,
                volume,
                taskPrice,
                schedStake,
                deal.workerStake,
                deal.startTime,
                r.callback
            )
        );
        expectedLocked += (taskPrice + schedStake) * volume;
    }

    /// @dev A deal and one of its tasks from a seed; ok = there is one and it is unsettled.
    function _pick(uint256 seed) internal view returns (bool ok, uint256 di, uint256 index, bytes32 taskId) {
        if (_deals.length == 0) return (false, 0, 0, 0);
        di = seed % _deals.length;
        D storage d = _deals[di];
        index = (seed >> 32) % d.volume;
        taskId = keccak256(abi.encode(d.id, index));
        ok = settledCount[taskId] == 0;
    }

    function _settled(D storage d, bytes32 taskId) internal {
        settlements++;
        if (settledCount[taskId]++ != 0) doubleSettlements++;
        uint256 stakes = _contributors[taskId].length * d.workerStake;
        expectedLocked -= d.taskPrice + d.schedStake + stakes;
    }

    function fast(uint256 seed, uint256 workerSeed) external {
        (bool ok, uint256 di, uint256 index, bytes32 taskId) = _pick(seed);
        if (!ok) return;
        D storage d = _deals[di];
        if (d.trust != 1) return;
        address worker = actors[3 + workerSeed % workerKeys.length];
        bytes memory auth = _auth(worker, taskId);
        vm.prank(worker);
        try hub.contributeAndFinalize(
            d.encoded, d.id, index, GOOD, "", _data(d, GOOD), address(0), "", auth
        ) {
            _settled(d, taskId);
            byPath[0]++;
        } catch {}
    }

    function batch(uint256 seed) external {
        if (_deals.length == 0) return;
        D storage d = _deals[seed % _deals.length];
        if (d.trust != 1) return;
        uint256 n;
        BatchResult[] memory b = new BatchResult[](d.volume);
        for (uint256 i = 0; i < d.volume; i++) {
            if (settledCount[keccak256(abi.encode(d.id, i))] != 0) continue;
            b[n].index = i;
            b[n].worker = actors[3 + i % workerKeys.length];
            b[n].resultDigest = GOOD;
            b[n].resultsCallback = _data(d, GOOD);
            n++;
        }
        if (n == 0) return;
        assembly {
            mstore(b, n)
        }
        vm.prank(actors[1]);
        try _poco().pushResults(d.encoded, d.id, b) {
            for (uint256 i = 0; i < n; i++) {
                _settled(d, keccak256(abi.encode(d.id, b[i].index)));
            }
            byPath[1]++;
        } catch {}
    }

    function contribute(uint256 seed, uint256 workerSeed, bool lie) external {
        (bool ok, uint256 di, uint256 index, bytes32 taskId) = _pick(seed);
        if (!ok) return;
        D storage d = _deals[di];
        if (d.trust == 1) return;
        address worker = actors[3 + workerSeed % workerKeys.length];
        bytes32 digest = lie ? BAD : GOOD;
        bytes memory auth = _auth(worker, taskId);
        vm.prank(worker);
        try _poco()
            .contribute(
                d.encoded,
                d.id,
                index,
                keccak256(abi.encodePacked(taskId, digest)),
                keccak256(abi.encodePacked(worker, taskId, digest)),
                address(0),
                "",
                auth
            ) {
            _contributors[taskId].push(worker);
            _votes[taskId][worker] = digest;
            expectedLocked += d.workerStake;
        } catch {}
    }

    function revealAndFinalize(uint256 seed, bool revealAll) external {
        (bool ok, uint256 di, uint256 index, bytes32 taskId) = _pick(seed);
        if (!ok) return;
        D storage d = _deals[di];
        if (d.trust == 1) return;
        address[] storage cs = _contributors[taskId];
        bytes32 consensus = _poco().viewTask(taskId).consensus;
        if (consensus == bytes32(0)) return;
        bytes32 digest = consensus == keccak256(abi.encodePacked(taskId, GOOD)) ? GOOD : BAD;
        for (uint256 i = 0; i < cs.length; i++) {
            if (_votes[taskId][cs[i]] != digest || (!revealAll && i == 0)) continue;
            vm.prank(cs[i]);
            try _poco().reveal(taskId, digest) {} catch {}
        }
        vm.prank(actors[1]);
        try _poco().finalize(d.encoded, d.id, index, digest, cs, "", _data(d, digest)) {
            _settled(d, taskId);
            byPath[2]++;
        } catch {}
    }

    function reopen(uint256 seed) external {
        (bool ok, uint256 di, uint256 index,) = _pick(seed);
        if (!ok) return;
        D storage d = _deals[di];
        if (d.trust == 1) return;
        vm.prank(actors[1]);
        try _poco().reopen(d.encoded, d.id, index, _contributors[keccak256(abi.encode(d.id, index))]) {
            reopens++;
        } catch {}
    }

    /// @dev Callback data whose hash is the digest (GOOD = keccak256("good")), none without a consumer.
    function _data(D storage d, bytes32 digest) internal view returns (bytes memory) {
        if (d.callback == address(0)) return "";
        return digest == GOOD ? bytes("good") : bytes("bad");
    }

    /// @dev Deliver the pending callbacks of a deal's batch-settled tasks.
    function deliver(uint256 seed) external {
        if (_deals.length == 0) return;
        D storage d = _deals[seed % _deals.length];
        if (d.callback == address(0)) return;
        for (uint256 i = 0; i < d.volume; i++) {
            if (!_poco().isCallbackPending(d.id, i, 0)) continue;
            uint256[] memory one = new uint256[](1);
            one[0] = i;
            _poco().deliverCallbacks{gas: 5_000_000}(d.encoded, d.id, one);
            if (_poco().isCallbackPending(d.id, i, 0)) revert("a delivered callback stayed pending");
        }
    }

    /// @dev Every party's holdings (free + locked), to compare around a claim.
    function _holdings() internal view returns (uint256[] memory h) {
        h = new uint256[](actors.length);
        for (uint256 i = 0; i < actors.length; i++) {
            (uint256 b, uint256 l) = hub.viewAccount(actors[i]);
            h[i] = b + l;
        }
    }

    function _countProfits(uint256[] memory before) internal {
        uint256[] memory afterwards = _holdings();
        for (uint256 i = 0; i < actors.length; i++) {
            if (afterwards[i] > before[i]) failureProfits++;
        }
    }

    function passTime(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 1500));
    }

    function claimBatch(uint256 seed) external {
        if (_deals.length == 0) return;
        D storage d = _deals[seed % _deals.length];
        uint256[] memory idx = new uint256[](d.volume);
        uint256 n;
        for (uint256 i = 0; i < d.volume; i++) {
            bytes32 taskId = keccak256(abi.encode(d.id, i));
            if (settledCount[taskId] == 0 && _contributors[taskId].length == 0) idx[n++] = i;
        }
        if (n == 0) return;
        assembly {
            mstore(idx, n)
        }
        uint256[] memory before = _holdings();
        try _poco().claimBatch(d.encoded, d.id, idx) {
            _countProfits(before);
            for (uint256 i = 0; i < n; i++) {
                _settled(d, keccak256(abi.encode(d.id, idx[i])));
            }
            byPath[4]++;
        } catch {}
    }

    function claim(uint256 seed) external {
        (bool ok, uint256 di, uint256 index, bytes32 taskId) = _pick(seed);
        if (!ok) return;
        D storage d = _deals[di];

        uint256[] memory before = _holdings();
        try _poco().claim(d.encoded, d.id, index, _contributors[taskId]) {
            _countProfits(before);
            _settled(d, taskId);
            byPath[3]++;
        } catch {}
    }
}

/// @notice Money conservation over full lifecycles: every token the hub holds is owed to an
/// account, locked funds are exactly the open tasks' prices and stakes (so each stake is
/// returned or seized exactly once), and no task is ever settled twice.
contract LifecycleInvariantTest is InvariantTest {
    LifecycleHandler internal handler;

    function setUp() public {
        handler = new LifecycleHandler();
        targetContract(address(handler));
    }

    function _sums() internal view returns (uint256 total, uint256 locked) {
        Hub hub = handler.hub();
        total = hub.balanceOf(address(0)); // the kitty
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            (uint256 b, uint256 l) = hub.viewAccount(handler.actors(i));
            total += b + l;
            locked += l;
        }
    }

    function invariant_tokensBackEveryAccount() public view {
        Hub hub = handler.hub();
        (uint256 total,) = _sums();
        assertEq(total, hub.totalHeld(), "accounts sum to totalHeld");
        assertEq(handler.token().balanceOf(address(hub)), hub.totalHeld(), "tokens = totalHeld");
    }

    function invariant_lockedIsExactlyOpenObligations() public view {
        (, uint256 locked) = _sums();
        assertEq(locked, handler.expectedLocked(), "locked = open prices + stakes");
    }

    /// @dev Nobody profits from a failed task: a claim never leaves the requester, the
    /// scheduler, the app owner or any worker with more than before (the payer gets its price
    /// back and nothing more; seized stakes go to the kitty).
    function invariant_nobodyProfitsFromAFailedTask() public view {
        assertEq(handler.failureProfits(), 0, "a party gained from a claim");
    }

    function invariant_noTaskSettledTwice() public view {
        assertEq(handler.doubleSettlements(), 0, "double settlement");
    }
}
