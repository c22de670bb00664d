// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {InvariantTest, Test} from "./utils/Test.sol";
import {vm} from "./utils/Vm.sol";
import {Hub, AppOrderOperation, RequestOrderOperation} from "../src/Hub.sol";
import {System, deploySystem} from "./utils/Deploy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DevToken} from "../src/token/DevToken.sol";
import {AppRegistry} from "../src/registries/AppRegistry.sol";
import {DatasetRegistry} from "../src/registries/DatasetRegistry.sol";
import {WorkerpoolRegistry} from "../src/registries/WorkerpoolRegistry.sol";
import {AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder, OrderOperation} from "../src/libs/Orders.sol";

/// @notice Drives the hub with random but well-formed actions from a fixed set of actors.
contract HubHandler is Test {
    Hub public hub;
    DevToken public token;
    AppRegistry public apps;
    DatasetRegistry public datasets;
    WorkerpoolRegistry public workerpools;

    uint256[] public keys;
    address[] public actors;
    mapping(address => uint256) public keyOf;
    address public app;
    address public dataset;
    address public workerpool;

    /// ghost: tokens sent to the hub without a deposit
    uint256 public donated;
    /// ghost: what matches locked, summed (nothing unlocks on the market side)
    uint256 public lockedByMatches;
    uint256 public matches;
    uint256 private _salt;
    AppOrder[] internal _openAppOrders;
    RequestOrder[] internal _openRequests;

    constructor(Hub hub_, DevToken token_, AppRegistry a, DatasetRegistry d, WorkerpoolRegistry w) {
        hub = hub_;
        token = token_;
        apps = a;
        datasets = d;
        workerpools = w;
        for (uint256 i = 1; i <= 5; i++) {
            uint256 key = 0x1000 + i;
            address who = vm.addr(key);
            keys.push(key);
            actors.push(who);
            keyOf[who] = key;
            vm.prank(who);
            token.approve(address(hub), type(uint256).max);
        }
        app = apps.createApp(actors[0], "app", "WASM", "/a", bytes32(0), "");
        dataset = datasets.createDataset(actors[1], "ds", "/d", bytes32(0));
        workerpool = workerpools.createWorkerpool(actors[2], "wp");
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function deposit(uint256 actorSeed, uint256 amount) external {
        address who = _actor(actorSeed);
        amount = bound(amount, 1, 1e15);
        token.mint(who, amount);
        vm.prank(who);
        hub.deposit(amount);
    }

    function depositFor(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        amount = bound(amount, 1, 1e15);
        token.mint(from, amount);
        vm.prank(from);
        hub.depositFor(amount, _actor(toSeed));
    }

    function withdraw(uint256 actorSeed, uint256 amount) external {
        address who = _actor(actorSeed);
        uint256 free = hub.balanceOf(who);
        if (free == 0) return;
        amount = bound(amount, 1, free);
        vm.prank(who);
        hub.withdrawTo(amount, _actor(actorSeed + 1));
    }

    function donate(uint256 amount) external {
        amount = bound(amount, 1, 1e12);
        token.mint(address(hub), amount);
        donated += amount;
    }

    function transferAsset(uint256 kind, uint256 toSeed) external {
        address to = _actor(toSeed);
        if (kind % 3 == 0) {
            address owner = apps.ownerOf(uint256(uint160(app)));
            vm.prank(owner);
            apps.transferFrom(owner, to, uint256(uint160(app)));
        } else if (kind % 3 == 1) {
            address owner = datasets.ownerOf(uint256(uint160(dataset)));
            vm.prank(owner);
            datasets.transferFrom(owner, to, uint256(uint160(dataset)));
        } else {
            address owner = workerpools.ownerOf(uint256(uint160(workerpool)));
            vm.prank(owner);
            workerpools.transferFrom(owner, to, uint256(uint160(workerpool)));
        }
    }

    function matchOrders(uint256 seed, bool withDataset, bool sponsored) external {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _buildOrders(seed, withDataset);
        address payer = sponsored ? _actor(seed >> 64) : r.requester;
        uint256 payerBefore = hub.frozenOf(payer);
        address scheduler = workerpools.ownerOf(uint256(uint160(workerpool)));
        uint256 schedBefore = hub.frozenOf(scheduler);
        try this.callMatchAs(a, d, w, r, payer, sponsored) {
            matches++;
            lockedByMatches += hub.frozenOf(payer) - payerBefore;
            if (scheduler != payer) lockedByMatches += hub.frozenOf(scheduler) - schedBefore;
            if (r.volume > 1) _openRequests.push(r);
        } catch {
            // insufficient funds and the like: fine, the invariant must hold either way
        }
        _openAppOrders.push(a);
    }

    /// @dev External trampolines so `try` can catch reverts with the prank in place.
    function callMatchAs(
        AppOrder memory a,
        DatasetOrder memory d,
        WorkerpoolOrder memory w,
        RequestOrder memory r,
        address caller,
        bool sponsored
    ) external {
        require(msg.sender == address(this), "internal");
        vm.prank(caller);
        if (sponsored) hub.sponsorMatchOrders(a, d, w, r);
        else hub.matchOrders(a, d, w, r);
    }

    function rematchOpenRequest(uint256 seed) external {
        if (_openRequests.length == 0) return;
        RequestOrder memory r = _openRequests[seed % _openRequests.length];
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w,) =
            _buildOrders(seed, r.dataset != address(0));
        address scheduler = workerpools.ownerOf(uint256(uint160(workerpool)));
        uint256 payerBefore = hub.frozenOf(r.requester);
        uint256 schedBefore = hub.frozenOf(scheduler);
        try this.callMatchAs(a, d, w, r, r.requester, false) {
            matches++;
            lockedByMatches += hub.frozenOf(r.requester) - payerBefore;
            if (scheduler != r.requester) lockedByMatches += hub.frozenOf(scheduler) - schedBefore;
        } catch {}
    }

    function cancelAppOrder(uint256 seed) external {
        if (_openAppOrders.length == 0) return;
        AppOrder memory a = _openAppOrders[seed % _openAppOrders.length];
        address owner = apps.ownerOf(uint256(uint160(app)));
        vm.prank(owner);
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.CLOSE, ""));
    }

    function cancelRequest(uint256 seed) external {
        if (_openRequests.length == 0) return;
        RequestOrder memory r = _openRequests[seed % _openRequests.length];
        vm.prank(r.requester);
        hub.manageRequestOrder(RequestOrderOperation(r, OrderOperation.CLOSE, ""));
    }

    function _buildOrders(uint256 seed, bool withDataset)
        internal
        returns (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r)
    {
        uint256 price = bound(seed, 0, 1e12);
        a.app = app;
        a.appprice = price / 7;
        a.volume = bound(seed >> 8, 1, 20);
        a.salt = bytes32(++_salt);
        a.sign = _sig(apps.ownerOf(uint256(uint160(app))), hub.hashAppOrder(a));
        if (withDataset) {
            d.dataset = dataset;
            d.datasetprice = price / 3;
            d.volume = bound(seed >> 16, 1, 20);
            d.salt = bytes32(++_salt);
            d.sign = _sig(datasets.ownerOf(uint256(uint160(dataset))), hub.hashDatasetOrder(d));
        }
        w.workerpool = workerpool;
        w.workerpoolprice = price;
        w.volume = bound(seed >> 24, 1, 20);
        w.trust = 10;
        w.salt = bytes32(++_salt);
        w.sign = _sig(workerpools.ownerOf(uint256(uint160(workerpool))), hub.hashWorkerpoolOrder(w));
        r.app = app;
        r.appmaxprice = a.appprice;
        r.dataset = withDataset ? dataset : address(0);
        r.datasetmaxprice = d.datasetprice;
        r.workerpoolmaxprice = price;
        r.requester = _actor(seed >> 32);
        r.volume = bound(seed >> 40, 1, 20);
        r.salt = bytes32(++_salt);
        r.sign = _sig(r.requester, hub.hashRequestOrder(r));
    }

    function _sig(address signer, bytes32 digest) internal view returns (bytes memory) {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(keyOf[signer], digest);
        return abi.encodePacked(rr, s, v);
    }
}

/// @notice Money conservation on the market side: whatever the sequence of deposits,
/// withdrawals, asset transfers, matches (plain, sponsored, partial) and cancels,
/// the hub's token balance equals what it owes every account plus stray donations,
/// and locked funds equal exactly what matches locked.
contract HubInvariantTest is InvariantTest {
    HubHandler internal handler;
    Hub internal hub;
    DevToken internal token;

    function setUp() public {
        System memory sys = deploySystem(address(this));
        (hub, token) = (sys.hub, sys.token);
        AppRegistry apps = sys.apps;
        DatasetRegistry datasets = sys.datasets;
        WorkerpoolRegistry workerpools = sys.workerpools;
        handler = new HubHandler(hub, token, apps, datasets, workerpools);
        token.transferOwnership(address(handler));
        targetContract(address(handler));
    }

    function _sums() internal view returns (uint256 balances, uint256 locked) {
        uint256 n = handler.actorCount();
        for (uint256 i = 0; i < n; i++) {
            (uint256 b, uint256 l) = hub.viewAccount(handler.actors(i));
            balances += b;
            locked += l;
        }
    }

    function invariant_tokenBalanceCoversEveryAccount() public view {
        (uint256 balances, uint256 locked) = _sums();
        assertEq(hub.totalHeld(), balances + locked, "totalHeld = sum of accounts");
        assertEq(
            token.balanceOf(address(hub)), hub.totalHeld() + handler.donated(), "tokens = owed + donations"
        );
    }

    function invariant_lockedEqualsWhatMatchesLocked() public view {
        (, uint256 locked) = _sums();
        assertEq(locked, handler.lockedByMatches(), "locked funds");
    }
}
