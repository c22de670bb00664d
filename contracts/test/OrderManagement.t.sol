// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {HubFixture} from "./utils/HubFixture.sol";
import {vm} from "./utils/Vm.sol";
import {IHubErrors} from "../src/interfaces/IHubTypes.sol";
import {
    Hub,
    AppOrderOperation,
    DatasetOrderOperation,
    WorkerpoolOrderOperation,
    RequestOrderOperation
} from "../src/Hub.sol";
import {
    AppOrder,
    DatasetOrder,
    WorkerpoolOrder,
    RequestOrder,
    OrderKind,
    OrderOperation
} from "../src/libs/Orders.sol";

contract OrderManagementTest is HubFixture {
    bytes32 internal constant APP_OP_TYPEHASH = keccak256(
        "AppOrderOperation(AppOrder order,uint256 operation)AppOrder(address app,uint256 appprice,uint256 volume,bytes32 tag,address datasetrestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
    );

    function test_cancel_byOwner_eachKind() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(3, 3, 3, 3);
        vm.prank(appOwner);
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.CLOSE, ""));
        bytes32 ah = hub.hashAppOrder(a);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.AppOrderConsumed.selector, ah));
        hub.matchOrders(a, d, w, r);
        a = _signApp(_appOrder(3));

        vm.prank(datasetOwner);
        hub.manageDatasetOrder(DatasetOrderOperation(d, OrderOperation.CLOSE, ""));
        bytes32 dh = hub.hashDatasetOrder(d);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.DatasetOrderConsumed.selector, dh));
        hub.matchOrders(a, d, w, r);
        d = _signDataset(_datasetOrder(3));

        vm.prank(scheduler);
        hub.manageWorkerpoolOrder(WorkerpoolOrderOperation(w, OrderOperation.CLOSE, ""));
        bytes32 wh = hub.hashWorkerpoolOrder(w);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.WorkerpoolOrderConsumed.selector, wh));
        hub.matchOrders(a, d, w, r);
        w = _signWorkerpool(_workerpoolOrder(3));

        vm.prank(requester);
        hub.manageRequestOrder(RequestOrderOperation(r, OrderOperation.CLOSE, ""));
        bytes32 rh = hub.hashRequestOrder(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.RequestOrderConsumed.selector, rh));
        hub.matchOrders(a, d, w, r);
        assertTrue(hub.viewConsumed(rh) >= r.volume, "closed = fully consumed");
    }

    function test_cancel_afterPartialFill() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(10, 10, 2, 10);
        hub.matchOrders(a, d, w, r); // 2 of 10 tasks
        vm.prank(requester);
        hub.manageRequestOrder(RequestOrderOperation(r, OrderOperation.CLOSE, ""));
        WorkerpoolOrder memory w2 = _signWorkerpool(_workerpoolOrder(10));
        bytes32 rh = hub.hashRequestOrder(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.RequestOrderConsumed.selector, rh));
        hub.matchOrders(a, d, w2, r);
        assertEq(_locked(requester), 2 * (APP_PRICE + DATASET_PRICE + WP_PRICE), "first deal still locked");
    }

    function test_cancel_byNonOwnerRefused() public {
        AppOrder memory a = _signApp(_appOrder(1));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.NotOrderOwner.selector, appOwner, stranger));
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.CLOSE, ""));
        RequestOrder memory r = _signRequest(_requestOrder(1, false));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.NotOrderOwner.selector, requester, stranger));
        hub.manageRequestOrder(RequestOrderOperation(r, OrderOperation.CLOSE, ""));
    }

    function test_cancel_unregisteredAssetRefused() public {
        AppOrder memory a = _appOrder(1);
        a.app = address(0x77);
        vm.prank(appOwner);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.NotOrderOwner.selector, address(0), appOwner));
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.CLOSE, ""));
    }

    function test_cancel_bySignedOperation_relayedByAnyone() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        bytes32 structHash = _appStructHash(a);
        bytes32 opDigest = hub.hashOperation(OrderKind.APP, structHash, OrderOperation.CLOSE);
        // the digest is the standard EIP-712 nested-struct hash
        assertEq(
            opDigest,
            keccak256(
                abi.encodePacked(
                    "\x19\x01",
                    hub.domainSeparator(),
                    keccak256(abi.encode(APP_OP_TYPEHASH, structHash, uint256(OrderOperation.CLOSE)))
                )
            ),
            "operation digest"
        );
        vm.prank(stranger);
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.CLOSE, _sig(APP_KEY, opDigest)));
        bytes32 ah = hub.hashAppOrder(a);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.AppOrderConsumed.selector, ah));
        hub.matchOrders(a, d, w, r);
    }

    function test_signedOperation_wrongSignerOrKindRefused() public {
        AppOrder memory a = _signApp(_appOrder(1));
        bytes32 structHash = _appStructHash(a);
        bytes32 closeDigest = hub.hashOperation(OrderKind.APP, structHash, OrderOperation.CLOSE);
        vm.prank(stranger);
        vm.expectRevert(IHubErrors.InvalidOperationSignature.selector);
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.CLOSE, _sig(STRANGER_KEY, closeDigest)));
        // a CLOSE signature cannot be replayed as a SIGN
        vm.prank(stranger);
        vm.expectRevert(IHubErrors.InvalidOperationSignature.selector);
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.SIGN, _sig(APP_KEY, closeDigest)));
    }

    function test_presign_bySignedOperation() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        a.sign = "";
        bytes32 signDigest = hub.hashOperation(OrderKind.APP, _appStructHash(a), OrderOperation.SIGN);
        vm.prank(stranger);
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.SIGN, _sig(APP_KEY, signDigest)));
        (address presigner,) = hub.viewPresigned(hub.hashAppOrder(a));
        assertEq(presigner, appOwner, "presigned for owner");
        hub.matchOrders(a, d, w, r);
    }

    function test_presign_eachKind() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(1, 1, 1, 1);
        a.sign = "";
        d.sign = "";
        w.sign = "";
        r.sign = "";
        vm.prank(appOwner);
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.SIGN, ""));
        vm.prank(datasetOwner);
        hub.manageDatasetOrder(DatasetOrderOperation(d, OrderOperation.SIGN, ""));
        vm.prank(scheduler);
        hub.manageWorkerpoolOrder(WorkerpoolOrderOperation(w, OrderOperation.SIGN, ""));
        vm.prank(requester);
        hub.manageRequestOrder(RequestOrderOperation(r, OrderOperation.SIGN, ""));
        hub.matchOrders(a, d, w, r);
        assertEq(_locked(requester), APP_PRICE + DATASET_PRICE + WP_PRICE, "matched on presigns alone");
    }

    function test_closeAfterFullMatch_staysConsumed() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        hub.matchOrders(a, d, w, r);
        vm.prank(requester);
        hub.manageRequestOrder(RequestOrderOperation(r, OrderOperation.CLOSE, ""));
        AppOrder memory a2 = _signApp(_appOrder(1));
        WorkerpoolOrder memory w2 = _signWorkerpool(_workerpoolOrder(1));
        bytes32 rh = hub.hashRequestOrder(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.RequestOrderConsumed.selector, rh));
        hub.matchOrders(a2, d, w2, r);
    }
}
