// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "./Test.sol";
import {Vm, vm} from "./Vm.sol";
import {Hub} from "../../src/Hub.sol";
import {HubPoco} from "../../src/HubPoco.sol";
import {System, deploySystem, deployHub} from "./Deploy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DevToken} from "../../src/token/DevToken.sol";
import {AppRegistry} from "../../src/registries/AppRegistry.sol";
import {DatasetRegistry} from "../../src/registries/DatasetRegistry.sol";
import {WorkerpoolRegistry} from "../../src/registries/WorkerpoolRegistry.sol";
import {Deal} from "../../src/libs/Deals.sol";
import {AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder} from "../../src/libs/Orders.sol";

/// @notice A deployed hub with default categories, one app, dataset and workerpool, funded
/// actors and helpers that build and sign orders the way off-chain tools do.
abstract contract HubFixture is Test {
    uint256 internal constant APP_KEY = 0xA11CE;
    uint256 internal constant DATASET_KEY = 0xDA7A;
    uint256 internal constant SCHEDULER_KEY = 0x5C4ED;
    uint256 internal constant REQUESTER_KEY = 0xB0B;
    uint256 internal constant SPONSOR_KEY = 0x5905;
    uint256 internal constant STRANGER_KEY = 0xBAD;

    uint256 internal constant APP_PRICE = 1_000;
    uint256 internal constant DATASET_PRICE = 1_000_000;
    uint256 internal constant WP_PRICE = 1_000_000_000;
    uint256 internal constant FUNDS = 1_000_000 * 1e9;

    DevToken internal token;
    AppRegistry internal apps;
    DatasetRegistry internal datasets;
    WorkerpoolRegistry internal workerpools;
    Hub internal hub;

    address internal appOwner;
    address internal datasetOwner;
    address internal scheduler;
    address internal requester;
    address internal sponsor;
    address internal stranger;

    address internal app;
    address internal dataset;
    address internal workerpool;

    uint256 private _salt;
    /// @dev Packed deal of the last DealCreated read by `_lastDeal`.
    bytes internal lastEncodedDeal;

    function setUp() public virtual {
        appOwner = vm.addr(APP_KEY);
        datasetOwner = vm.addr(DATASET_KEY);
        scheduler = vm.addr(SCHEDULER_KEY);
        requester = vm.addr(REQUESTER_KEY);
        sponsor = vm.addr(SPONSOR_KEY);
        stranger = vm.addr(STRANGER_KEY);

        System memory sys = deploySystem(address(this));
        (token, apps, datasets, workerpools, hub) =
        (sys.token, sys.apps, sys.datasets, sys.workerpools, sys.hub);
        hub.createCategory("S", "small", 1200);
        hub.createCategory("M", "medium", 3600);
        hub.createCategory("L", "large", 10800);
        hub.createCategory("XL", "extra large", 36000);

        app = apps.createApp(appOwner, "hello", "WASM", "/store/hello", keccak256("hello.wasm"), "");
        dataset = datasets.createDataset(datasetOwner, "words", "/store/words", keccak256("words"));
        workerpool = workerpools.createWorkerpool(scheduler, "pool");

        _fund(requester, FUNDS);
        _fund(scheduler, FUNDS);
        _fund(sponsor, FUNDS);
    }

    /// @dev A hub with its execution module (deployed the same way as production).
    function _newHub(
        IERC20 token_,
        AppRegistry apps_,
        DatasetRegistry datasets_,
        WorkerpoolRegistry workerpools_
    ) internal returns (Hub) {
        HubPoco module = new HubPoco(address(this), token_, apps_, datasets_, workerpools_);
        return new Hub(address(this), token_, apps_, datasets_, workerpools_, address(module));
    }

    /// @dev The hub's execution functions, called on the hub's address.
    function poco() internal view returns (HubPoco) {
        return HubPoco(address(hub));
    }

    // ------------------------------------------------------------------ money

    function _fund(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.startPrank(who);
        token.approve(address(hub), type(uint256).max);
        hub.deposit(amount);
        vm.stopPrank();
    }

    function _balance(address who) internal view returns (uint256) {
        return hub.balanceOf(who);
    }

    function _locked(address who) internal view returns (uint256) {
        return hub.frozenOf(who);
    }

    // ------------------------------------------------------------------ orders

    function _nextSalt() internal returns (bytes32) {
        return bytes32(++_salt);
    }

    function _appOrder(uint256 volume) internal returns (AppOrder memory o) {
        o.app = app;
        o.appprice = APP_PRICE;
        o.volume = volume;
        o.salt = _nextSalt();
    }

    function _datasetOrder(uint256 volume) internal returns (DatasetOrder memory o) {
        o.dataset = dataset;
        o.datasetprice = DATASET_PRICE;
        o.volume = volume;
        o.salt = _nextSalt();
    }

    function _workerpoolOrder(uint256 volume) internal returns (WorkerpoolOrder memory o) {
        o.workerpool = workerpool;
        o.workerpoolprice = WP_PRICE;
        o.volume = volume;
        o.trust = 5;
        o.salt = _nextSalt();
    }

    function _requestOrder(uint256 volume, bool withDataset) internal returns (RequestOrder memory o) {
        o.app = app;
        o.appmaxprice = APP_PRICE;
        if (withDataset) {
            o.dataset = dataset;
            o.datasetmaxprice = DATASET_PRICE;
        }
        o.workerpool = workerpool;
        o.workerpoolmaxprice = WP_PRICE;
        o.requester = requester;
        o.volume = volume;
        o.beneficiary = requester;
        o.params = '{"iexec_args":"hello world"}';
        o.salt = _nextSalt();
    }

    /// @dev Reference EIP-712 struct hash of an app order, field by field (the hub hashes from
    /// calldata; tests compare against this textbook encoding).
    function _appStructHash(AppOrder memory o) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(
                    "AppOrder(address app,uint256 appprice,uint256 volume,bytes32 tag,address datasetrestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
                ),
                o.app,
                o.appprice,
                o.volume,
                o.tag,
                o.datasetrestrict,
                o.workerpoolrestrict,
                o.requesterrestrict,
                o.salt
            )
        );
    }

    function _sig(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev EIP-2098 compact form: r ‖ (yParity << 255 | s).
    function _compactSig(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        bytes32 vs = bytes32((uint256(v - 27) << 255) | uint256(s));
        return abi.encodePacked(r, vs);
    }

    function _signApp(AppOrder memory o) internal view returns (AppOrder memory) {
        o.sign = _sig(APP_KEY, hub.hashAppOrder(o));
        return o;
    }

    function _signDataset(DatasetOrder memory o) internal view returns (DatasetOrder memory) {
        o.sign = _sig(DATASET_KEY, hub.hashDatasetOrder(o));
        return o;
    }

    function _signWorkerpool(WorkerpoolOrder memory o) internal view returns (WorkerpoolOrder memory) {
        o.sign = _sig(SCHEDULER_KEY, hub.hashWorkerpoolOrder(o));
        return o;
    }

    function _signRequest(RequestOrder memory o) internal view returns (RequestOrder memory) {
        o.sign = _sig(REQUESTER_KEY, hub.hashRequestOrder(o));
        return o;
    }

    /// @dev A full set of signed orders, volume 1, no dataset.
    function _orders()
        internal
        returns (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r)
    {
        a = _signApp(_appOrder(1));
        w = _signWorkerpool(_workerpoolOrder(1));
        r = _signRequest(_requestOrder(1, false));
    }

    /// @dev A full set of signed orders with a dataset and the given volumes.
    function _ordersWithDataset(uint256 va, uint256 vd, uint256 vw, uint256 vr)
        internal
        returns (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r)
    {
        a = _signApp(_appOrder(va));
        d = _signDataset(_datasetOrder(vd));
        w = _signWorkerpool(_workerpoolOrder(vw));
        r = _signRequest(_requestOrder(vr, true));
    }

    /// @dev Match and return the deal id and the Deal decoded from the DealCreated event.
    function _matchAndDecode(
        AppOrder memory a,
        DatasetOrder memory d,
        WorkerpoolOrder memory w,
        RequestOrder memory r
    ) internal returns (bytes32 dealId, Deal memory deal) {
        vm.recordLogs();
        dealId = hub.matchOrders(a, d, w, r);
        deal = _lastDeal();
    }

    function _lastDeal() internal returns (Deal memory deal) {
        bytes32 topic = keccak256(
            "DealCreated(bytes32,address,address,bytes,bytes32,bytes32,bytes32,bytes32,address,string)"
        );
        Vm.Log[] memory logs = _logs();
        for (uint256 i = logs.length; i > 0; i--) {
            if (logs[i - 1].topics.length > 0 && logs[i - 1].topics[0] == topic) {
                (lastEncodedDeal,,,,,,) = abi.decode(
                    logs[i - 1].data, (bytes, bytes32, bytes32, bytes32, bytes32, address, string)
                );
                return hub.decodeDeal(lastEncodedDeal);
            }
        }
        _fail("no DealCreated event");
    }

    function _logs() private returns (Vm.Log[] memory out) {
        return vm.getRecordedLogs();
    }
}

