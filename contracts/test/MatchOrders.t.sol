// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {HubFixture} from "./utils/HubFixture.sol";
import {vm} from "./utils/Vm.sol";
import {IHubErrors} from "../src/interfaces/IHubTypes.sol";
import {Deal, Deals} from "../src/libs/Deals.sol";
import {AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder} from "../src/libs/Orders.sol";
import {MockWallet, MockIdentity, RevertingIdentity} from "./mocks/Mocks.sol";

contract MatchOrdersTest is HubFixture {
    // ------------------------------------------------------------------ happy paths

    function test_match_noDataset_locksFundsAndCommitsDeal() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        uint256 reqBefore = _balance(requester);
        uint256 schedBefore = _balance(scheduler);
        (bytes32 dealId, Deal memory deal) = _matchAndDecode(a, d, w, r);

        bytes32 reqHash = hub.hashRequestOrder(r);
        assertEq(dealId, keccak256(abi.encodePacked(reqHash, uint256(0))), "deal id formula");
        assertTrue(hub.checkDeal(dealId, lastEncodedDeal), "event deal matches commitment");
        assertEq(_locked(requester), APP_PRICE + WP_PRICE, "requester locked");
        assertEq(_balance(requester), reqBefore - APP_PRICE - WP_PRICE, "requester balance");
        assertEq(_locked(scheduler), WP_PRICE * 30 / 100, "scheduler stake");
        assertEq(_balance(scheduler), schedBefore - WP_PRICE * 30 / 100, "scheduler balance");
        assertEq(deal.appOwner, appOwner, "app owner");
        assertEq(deal.workerpoolOwner, scheduler, "wp owner");
        assertEq(deal.payer, requester, "payer");
        assertEq(deal.datasetOwner, address(0), "no dataset owner");
        assertEq(deal.botFirst, 0, "botFirst");
        assertEq(deal.botSize, 1, "botSize");
        assertEq(deal.trust, 1, "trust 0 becomes 1");
        assertEq(deal.timeref, 300, "XS timeref");
        assertEq(deal.startTime, block.timestamp, "start time");
        assertEq(deal.workerStake, WP_PRICE * 30 / 100, "worker stake from default policy");
        assertEq(deal.schedulerRewardRatio, 1, "scheduler ratio from default policy");
        assertEq(hub.viewConsumed(hub.hashAppOrder(a)), 1, "app consumed");
        assertEq(hub.viewConsumed(hub.hashWorkerpoolOrder(w)), 1, "wp consumed");
        assertEq(hub.viewConsumed(reqHash), type(uint256).max, "request fully consumed by first deal");
    }

    function test_match_withDataset_paysDatasetAndMasksFrameworkBits() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(10, 10, 10, 1);
        // dataset declares TEE + Scone (0x03); the Scone bit must not reach the deal
        d.tag = bytes32(uint256(0x03));
        a.tag = bytes32(uint256(0x01));
        w.tag = bytes32(uint256(0x01));
        a = _signApp(a);
        d = _signDataset(d);
        w = _signWorkerpool(w);
        (bytes32 dealId, Deal memory deal) = _matchAndDecode(a, d, w, r);
        assertTrue(hub.checkDeal(dealId, lastEncodedDeal), "commitment");
        assertEq(deal.tag, bytes32(uint256(0x01)), "framework bits masked");
        assertEq(deal.datasetOwner, datasetOwner, "dataset owner");
        assertEq(deal.datasetPrice, DATASET_PRICE, "dataset price");
        assertEq(_locked(requester), APP_PRICE + DATASET_PRICE + WP_PRICE, "locked with dataset");
        assertEq(hub.viewConsumed(hub.hashDatasetOrder(d)), 1, "dataset consumed");
    }

    function test_match_volumeIsSmallestRemaining() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(7, 5, 9, 100);
        (, Deal memory deal) = _matchAndDecode(a, d, w, r);
        assertEq(deal.botSize, 5, "dataset volume limits");
        assertEq(_locked(requester), 5 * (APP_PRICE + DATASET_PRICE + WP_PRICE), "price x volume");
        assertEq(_locked(scheduler), 5 * (WP_PRICE * 30 / 100), "stake x volume");
        assertEq(hub.viewConsumed(hub.hashRequestOrder(r)), 5, "partial request consumption written");
    }

    function test_match_partialFills_bagIndicesAndDealIds() public {
        RequestOrder memory r = _signRequest(_requestOrder(10, false));
        bytes32 reqHash = hub.hashRequestOrder(r);
        DatasetOrder memory none;
        // first workerpool order serves 4 tasks, the second the remaining 6
        AppOrder memory a = _signApp(_appOrder(100));
        vm.recordLogs();
        bytes32 deal1 = hub.matchOrders(a, none, _signWorkerpool(_workerpoolOrder(4)), r);
        Deal memory d1 = _lastDeal();
        vm.recordLogs();
        bytes32 deal2 = hub.matchOrders(a, none, _signWorkerpool(_workerpoolOrder(50)), r);
        Deal memory d2 = _lastDeal();
        assertEq(deal1, hub.computeDealId(reqHash, 0), "first deal id");
        assertEq(deal2, hub.computeDealId(reqHash, 4), "second deal id");
        assertEq(d1.botFirst, 0, "bot first 1");
        assertEq(d1.botSize, 4, "bot size 1");
        assertEq(d2.botFirst, 4, "bot first 2");
        assertEq(d2.botSize, 6, "bot size 2");
        assertEq(hub.viewConsumed(reqHash), 10, "request consumed");
        assertEq(hub.viewConsumed(hub.hashAppOrder(a)), 10, "app consumed across deals");
        // exhausted: a third match is refused
        WorkerpoolOrder memory w3 = _signWorkerpool(_workerpoolOrder(50));
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.RequestOrderConsumed.selector, reqHash));
        hub.matchOrders(a, none, w3, r);
    }

    function test_match_replayRefused() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        a.volume = 5;
        w.volume = 5;
        a = _signApp(a);
        w = _signWorkerpool(w);
        hub.matchOrders(a, d, w, r);
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.RequestOrderConsumed.selector, hub.hashRequestOrder(r))
        );
        hub.matchOrders(a, d, w, r);
    }

    function test_match_exhaustedProviderOrders() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        hub.matchOrders(a, d, w, r);
        RequestOrder memory r2 = _signRequest(_requestOrder(1, false));
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.AppOrderConsumed.selector, hub.hashAppOrder(a)));
        hub.matchOrders(a, d, w, r2);
        AppOrder memory a2 = _signApp(_appOrder(1));
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.WorkerpoolOrderConsumed.selector, hub.hashWorkerpoolOrder(w))
        );
        hub.matchOrders(a2, d, w, r2);
        (AppOrder memory a3, DatasetOrder memory d3, WorkerpoolOrder memory w3, RequestOrder memory r3) =
            _ordersWithDataset(5, 1, 5, 1);
        hub.matchOrders(a3, d3, w3, r3);
        RequestOrder memory r4 = _signRequest(_requestOrder(1, true));
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.DatasetOrderConsumed.selector, hub.hashDatasetOrder(d3))
        );
        hub.matchOrders(a3, d3, w3, r4);
    }

    function test_match_zeroVolumeOrderRefused() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.volume = 0;
        r = _signRequest(r);
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.RequestOrderConsumed.selector, hub.hashRequestOrder(r))
        );
        hub.matchOrders(a, d, w, r);
    }

    function test_match_freeOrdersLockNothing() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        a.appprice = 0;
        w.workerpoolprice = 0;
        a = _signApp(a);
        w = _signWorkerpool(w);
        hub.matchOrders(a, d, w, r);
        assertEq(_locked(requester), 0, "nothing locked");
        assertEq(_locked(scheduler), 0, "no stake");
    }

    // ------------------------------------------------------------------ compatibility reverts

    function test_revert_categoryMismatch() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.category = 1;
        r = _signRequest(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.CategoryMismatch.selector, 1, 0));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_unknownCategory() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.category = 5;
        w.category = 5;
        r = _signRequest(r);
        w = _signWorkerpool(w);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.UnknownCategory.selector, 5));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_trustTooHigh() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.trust = 6;
        r = _signRequest(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.TrustTooHigh.selector, 6, 5));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_trustOutOfRange() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.trust = uint256(type(uint32).max) + 1;
        w.trust = type(uint256).max;
        w = _signWorkerpool(w);
        r = _signRequest(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.TrustOutOfRange.selector, r.trust));
        hub.matchOrders(a, d, w, r);
    }

    /// @dev H-1c: 16 fresh workers (weight 2) reach consensus for any trust up to 2^16 and no
    /// higher, so a higher trust could only end in a claim: refused at match, 2^16 accepted.
    function test_revert_unreachableTrust() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.trust = (1 << 16) + 1;
        w.trust = type(uint256).max;
        w = _signWorkerpool(w);
        r = _signRequest(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.TrustOutOfRange.selector, r.trust));
        hub.matchOrders(a, d, w, r);
        r.trust = 1 << 16;
        r = _signRequest(r);
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_appPriceTooHigh() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.appmaxprice = APP_PRICE - 1;
        r = _signRequest(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.AppPriceTooHigh.selector, APP_PRICE, APP_PRICE - 1));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_datasetPriceTooHigh() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(1, 1, 1, 1);
        r.datasetmaxprice = 0;
        r = _signRequest(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.DatasetPriceTooHigh.selector, DATASET_PRICE, 0));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_workerpoolPriceTooHigh() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.workerpoolmaxprice = 7;
        r = _signRequest(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.WorkerpoolPriceTooHigh.selector, WP_PRICE, 7));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_tagNotOffered() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.tag = bytes32(uint256(0x100)); // GPU
        r = _signRequest(r);
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.TagNotOffered.selector, bytes32(uint256(0x100)), bytes32(0))
        );
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_teeDealNeedsTeeApp() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.tag = bytes32(uint256(1));
        w.tag = bytes32(uint256(1));
        w = _signWorkerpool(w);
        r = _signRequest(r);
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.TeeMismatch.selector, bytes32(uint256(1)), bytes32(0))
        );
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_appMismatch() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.app = address(0xdead);
        r = _signRequest(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.AppMismatch.selector, address(0xdead), app));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_datasetMismatch() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(1, 1, 1, 1);
        d.dataset = address(0xd00d);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.DatasetMismatch.selector, dataset, address(0xd00d)));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_datasetOrderWithoutDatasetInRequest() public {
        (AppOrder memory a,, WorkerpoolOrder memory w, RequestOrder memory r) = _orders();
        DatasetOrder memory d = _signDataset(_datasetOrder(1));
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.DatasetMismatch.selector, address(0), dataset));
        hub.matchOrders(a, d, w, r);
    }

    // ------------------------------------------------------------------ restrictions

    function test_revert_workerpoolRestrictedByRequest() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.workerpool = address(0xbeef);
        r = _signRequest(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.WorkerpoolRestrictedByRequest.selector, workerpool));
        hub.matchOrders(a, d, w, r);
    }

    function test_request_anyWorkerpool() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.workerpool = address(0);
        hub.matchOrders(a, d, w, _signRequest(r));
    }

    function test_revert_appRestrictions() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(1, 1, 1, 1);
        a.datasetrestrict = address(0x1);
        a = _signApp(a);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.DatasetRestrictedByApp.selector, dataset));
        hub.matchOrders(a, d, w, r);
        a.datasetrestrict = address(0);
        a.workerpoolrestrict = address(0x1);
        a = _signApp(a);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.WorkerpoolRestrictedByApp.selector, workerpool));
        hub.matchOrders(a, d, w, r);
        a.workerpoolrestrict = address(0);
        a.requesterrestrict = address(0x1);
        a = _signApp(a);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.RequesterRestrictedByApp.selector, requester));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_datasetRestrictions() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(1, 1, 1, 1);
        d.apprestrict = address(0x1);
        d = _signDataset(d);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.AppRestrictedByDataset.selector, app));
        hub.matchOrders(a, d, w, r);
        d.apprestrict = address(0);
        d.workerpoolrestrict = address(0x1);
        d = _signDataset(d);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.WorkerpoolRestrictedByDataset.selector, workerpool));
        hub.matchOrders(a, d, w, r);
        d.workerpoolrestrict = address(0);
        d.requesterrestrict = address(0x1);
        d = _signDataset(d);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.RequesterRestrictedByDataset.selector, requester));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_workerpoolRestrictions() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(1, 1, 1, 1);
        w.apprestrict = address(0x1);
        w = _signWorkerpool(w);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.AppRestrictedByWorkerpool.selector, app));
        hub.matchOrders(a, d, w, r);
        w.apprestrict = address(0);
        w.datasetrestrict = address(0x1);
        w = _signWorkerpool(w);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.DatasetRestrictedByWorkerpool.selector, dataset));
        hub.matchOrders(a, d, w, r);
        w.datasetrestrict = address(0);
        w.requesterrestrict = address(0x1);
        w = _signWorkerpool(w);
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.RequesterRestrictedByWorkerpool.selector, requester)
        );
        hub.matchOrders(a, d, w, r);
    }

    function test_restrictions_exactAddressesAllowed() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(1, 1, 1, 1);
        a.datasetrestrict = dataset;
        a.workerpoolrestrict = workerpool;
        a.requesterrestrict = requester;
        d.apprestrict = app;
        d.workerpoolrestrict = workerpool;
        d.requesterrestrict = requester;
        w.apprestrict = app;
        w.datasetrestrict = dataset;
        w.requesterrestrict = requester;
        hub.matchOrders(_signApp(a), _signDataset(d), _signWorkerpool(w), r);
    }

    function test_restrictions_identityGroup() public {
        MockIdentity group = new MockIdentity();
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        a.requesterrestrict = address(group);
        w.requesterrestrict = address(group);
        a = _signApp(a);
        w = _signWorkerpool(w);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.RequesterRestrictedByApp.selector, requester));
        hub.matchOrders(a, d, w, r);
        group.add(requester);
        hub.matchOrders(a, d, w, r);
    }

    function test_restrictions_revertingGroupAllowsNoOne() public {
        RevertingIdentity group = new RevertingIdentity();
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        w.apprestrict = address(group);
        w = _signWorkerpool(w);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.AppRestrictedByWorkerpool.selector, app));
        hub.matchOrders(a, d, w, r);
    }

    // ------------------------------------------------------------------ registrations & signatures

    function test_revert_unregisteredAssets() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(1, 1, 1, 1);
        a.app = address(0xA);
        r.app = address(0xA);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.AppNotRegistered.selector, address(0xA)));
        hub.matchOrders(a, d, w, r);

        (a, d, w, r) = _ordersWithDataset(1, 1, 1, 1);
        d.dataset = address(0xD);
        r.dataset = address(0xD);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.DatasetNotRegistered.selector, address(0xD)));
        hub.matchOrders(a, d, w, r);

        (a, d, w, r) = _orders();
        w.workerpool = address(0xB);
        r.workerpool = address(0);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.WorkerpoolNotRegistered.selector, address(0xB)));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_badSignatures() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(1, 1, 1, 1);
        AppOrder memory badA = a;
        badA.sign = _sig(STRANGER_KEY, hub.hashAppOrder(a));
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InvalidAppOrderSignature.selector, hub.hashAppOrder(a))
        );
        hub.matchOrders(badA, d, w, r);
        (a, d, w, r) = _ordersWithDataset(1, 1, 1, 1);
        d.sign = _sig(STRANGER_KEY, hub.hashDatasetOrder(d));
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InvalidDatasetOrderSignature.selector, hub.hashDatasetOrder(d))
        );
        hub.matchOrders(a, d, w, r);
        (a, d, w, r) = _ordersWithDataset(1, 1, 1, 1);
        w.sign = _sig(STRANGER_KEY, hub.hashWorkerpoolOrder(w));
        vm.expectRevert(
            abi.encodeWithSelector(
                IHubErrors.InvalidWorkerpoolOrderSignature.selector, hub.hashWorkerpoolOrder(w)
            )
        );
        hub.matchOrders(a, d, w, r);
        (a, d, w, r) = _ordersWithDataset(1, 1, 1, 1);
        r.sign = _sig(STRANGER_KEY, hub.hashRequestOrder(r));
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, hub.hashRequestOrder(r))
        );
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_tamperedOrderAfterSigning() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.params = '{"iexec_args":"rm -rf"}'; // signed with other params
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, hub.hashRequestOrder(r))
        );
        hub.matchOrders(a, d, w, r);
    }

    function test_signature_compact64Bytes() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        a.sign = _compactSig(APP_KEY, hub.hashAppOrder(a));
        w.sign = _compactSig(SCHEDULER_KEY, hub.hashWorkerpoolOrder(w));
        r.sign = _compactSig(REQUESTER_KEY, hub.hashRequestOrder(r));
        hub.matchOrders(a, d, w, r);
    }

    function test_signature_highSRejected() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        bytes32 digest = hub.hashRequestOrder(r);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(REQUESTER_KEY, digest);
        // the malleable twin: s' = n - s, v flipped; ecrecover accepts it, the hub must not
        uint256 n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
        r.sign = abi.encodePacked(rr, bytes32(n - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        assertEq(
            ecrecover(digest, v == 27 ? 28 : 27, rr, bytes32(n - uint256(s))), requester, "twin recovers"
        );
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, digest));
        hub.matchOrders(a, d, w, r);
    }

    function test_signature_badLengthsAndV() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        bytes32 digest = hub.hashRequestOrder(r);
        (, bytes32 rr, bytes32 s) = vm.sign(REQUESTER_KEY, digest);
        r.sign = abi.encodePacked(rr, s, uint8(29));
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, digest));
        hub.matchOrders(a, d, w, r);
        r.sign = abi.encodePacked(rr, s, uint8(27), uint8(0));
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, digest));
        hub.matchOrders(a, d, w, r);
        r.sign = "";
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, digest));
        hub.matchOrders(a, d, w, r);
    }

    function test_signature_wrongChainRefused() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        bytes32 digestHere = hub.hashRequestOrder(r);
        vm.chainId(1234);
        // same order, other chain: another digest, so the signature made here is void there
        bytes32 digestThere = hub.hashRequestOrder(r);
        assertTrue(digestHere != digestThere, "domain binds chain id");
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InvalidAppOrderSignature.selector, hub.hashAppOrder(a))
        );
        hub.matchOrders(a, d, w, r);
    }

    function test_signature_otherHubRefused() public {
        // a second deployment on the same chain where the same providers registered the same assets
        AppRegistry apps2 = new AppRegistry();
        DatasetRegistry datasets2 = new DatasetRegistry();
        WorkerpoolRegistry workerpools2 = new WorkerpoolRegistry();
        Hub other = _newHub(IERC20(address(token)), apps2, datasets2, workerpools2);
        apps2.bindHub(other);
        datasets2.bindHub(other);
        workerpools2.bindHub(other);
        other.createCategory("XS", "", 300);
        AppOrder memory a = _appOrder(1);
        a.app = apps2.createApp(appOwner, "hello", "WASM", "/store/hello", keccak256("hello.wasm"), "");
        assertTrue(other.hashAppOrder(a) != hub.hashAppOrder(a), "domain binds hub address");
        // signed for the first hub's domain: void on the second
        a.sign = _sig(APP_KEY, hub.hashAppOrder(a));
        DatasetOrder memory d;
        WorkerpoolOrder memory w = _workerpoolOrder(1);
        w.workerpool = workerpools2.createWorkerpool(scheduler, "pool");
        w.sign = _sig(SCHEDULER_KEY, other.hashWorkerpoolOrder(w));
        RequestOrder memory r = _requestOrder(1, false);
        r.app = a.app;
        r.workerpool = w.workerpool;
        r.sign = _sig(REQUESTER_KEY, other.hashRequestOrder(r));
        bytes32 otherDigest = other.hashAppOrder(a);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidAppOrderSignature.selector, otherDigest));
        other.matchOrders(a, d, w, r);
    }

    function test_signature_erc1271Wallet() public {
        // the requester is a contract wallet owned by the requester key
        MockWallet wallet = new MockWallet(requester);
        _fund(address(wallet), 10 * WP_PRICE);
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.requester = address(wallet);
        r.sign = hex"";
        bytes32 digest = hub.hashRequestOrder(r);
        r.sign = hex"01"; // wallets accept any format; this one ignores it
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, digest));
        hub.matchOrders(a, d, w, r);
        vm.prank(requester);
        wallet.approve(digest);
        hub.matchOrders(a, d, w, r);
        assertEq(_locked(address(wallet)), APP_PRICE + WP_PRICE, "wallet paid");
    }

    function test_signature_presign() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.sign = "";
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, hub.hashRequestOrder(r))
        );
        hub.matchOrders(a, d, w, r);
        vm.prank(requester);
        hub.manageRequestOrder(RequestOrderOperation(r, OrderOperation.SIGN, ""));
        (address presigner,) = hub.viewPresigned(hub.hashRequestOrder(r));
        assertEq(presigner, requester, "presigned");
        hub.matchOrders(a, d, w, r);
    }

    function test_presign_diesWithOwnershipChange() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        a.sign = "";
        vm.prank(appOwner);
        hub.manageAppOrder(AppOrderOperation(a, OrderOperation.SIGN, ""));
        vm.prank(appOwner);
        apps.transferFrom(appOwner, stranger, uint256(uint160(app)));
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InvalidAppOrderSignature.selector, hub.hashAppOrder(a))
        );
        hub.matchOrders(a, d, w, r);
    }

    function test_assetTransfer_newOwnerSignsAndIsPaid() public {
        vm.prank(scheduler);
        workerpools.transferFrom(scheduler, stranger, uint256(uint160(workerpool)));
        _fund(stranger, FUNDS);
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        vm.expectRevert(
            abi.encodeWithSelector(
                IHubErrors.InvalidWorkerpoolOrderSignature.selector, hub.hashWorkerpoolOrder(w)
            )
        );
        hub.matchOrders(a, d, w, r);
        w.sign = _sig(STRANGER_KEY, hub.hashWorkerpoolOrder(w));
        (, Deal memory deal) = _matchAndDecode(a, d, w, r);
        assertEq(deal.workerpoolOwner, stranger, "new owner in deal");
        assertEq(_locked(stranger), WP_PRICE * 30 / 100, "new owner staked");
        assertEq(_locked(scheduler), 0, "old owner untouched");
    }

    // ------------------------------------------------------------------ money

    function test_revert_insufficientRequesterBalance() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.requester = stranger;
        r.sign = _sig(STRANGER_KEY, hub.hashRequestOrder(r));
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InsufficientBalance.selector, stranger, APP_PRICE + WP_PRICE, 0)
        );
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_insufficientSchedulerStake() public {
        vm.prank(scheduler);
        hub.withdraw(FUNDS);
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        vm.expectRevert(
            abi.encodeWithSelector(IHubErrors.InsufficientBalance.selector, scheduler, WP_PRICE * 30 / 100, 0)
        );
        hub.matchOrders(a, d, w, r);
        // nothing moved: the requester's funds are intact
        assertEq(_balance(requester), FUNDS, "requester untouched");
    }

    function test_revert_priceOutOfRange() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        uint256 huge = uint256(type(uint96).max) + 1;
        a.appprice = huge;
        r.appmaxprice = huge;
        a = _signApp(a);
        r = _signRequest(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.PriceOutOfRange.selector, huge));
        hub.matchOrders(a, d, w, r);
    }

    function test_revert_volumeOutOfRange() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        uint256 big = uint256(type(uint32).max) + 1;
        a.volume = big;
        w.volume = big;
        r.volume = big;
        a.appprice = 0;
        w.workerpoolprice = 0;
        r.appmaxprice = 0;
        r.workerpoolmaxprice = 0;
        a = _signApp(a);
        w = _signWorkerpool(w);
        r = _signRequest(r);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.VolumeOutOfRange.selector, big));
        hub.matchOrders(a, d, w, r);
    }

    // ------------------------------------------------------------------ sponsoring

    function test_sponsor_paysWithPlainRequest() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        vm.recordLogs();
        vm.prank(sponsor);
        bytes32 dealId = hub.sponsorMatchOrders(a, d, w, r);
        Deal memory deal = _lastDeal();
        assertEq(deal.payer, sponsor, "sponsor pays");
        assertEq(deal.requester, requester, "requester unchanged");
        assertTrue(hub.checkDeal(dealId, lastEncodedDeal), "commitment");
        assertEq(_locked(sponsor), APP_PRICE + WP_PRICE, "sponsor locked");
        assertEq(_locked(requester), 0, "requester not charged");
    }

    function test_sponsor_sponsoredRequestCannotBeFrontRun() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.sign = _sig(REQUESTER_KEY, hub.hashSponsoredRequest(r, sponsor));
        bytes32 reqHash = hub.hashRequestOrder(r);
        // a front-runner tries to make the requester pay: refused
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, reqHash));
        hub.matchOrders(a, d, w, r);
        // another would-be sponsor: refused too
        _fund(stranger, FUNDS);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, reqHash));
        hub.sponsorMatchOrders(a, d, w, r);
        // the named sponsor: accepted
        vm.prank(sponsor);
        hub.sponsorMatchOrders(a, d, w, r);
        assertEq(_locked(requester), 0, "requester never charged");
        assertEq(_locked(sponsor), APP_PRICE + WP_PRICE, "sponsor charged");
    }

    function test_sponsor_anySponsor() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.sign = _sig(REQUESTER_KEY, hub.hashSponsoredRequest(r, address(0)));
        bytes32 reqHash = hub.hashRequestOrder(r);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, reqHash));
        hub.matchOrders(a, d, w, r); // a sponsored signature never makes the requester pay
        vm.prank(sponsor);
        hub.sponsorMatchOrders(a, d, w, r);
        assertEq(_locked(sponsor), APP_PRICE + WP_PRICE, "any sponsor accepted");
    }

    /// @dev An owner sending the match itself approves its order by sending it: no signature
    /// (and no ECDSA recovery) needed; anyone else still needs one.
    function test_ownerSendingTheMatchNeedsNoSignature() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.sign = "";
        bytes32 reqHash = hub.hashRequestOrder(r);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidRequestOrderSignature.selector, reqHash));
        hub.matchOrders(a, d, w, r);
        vm.prank(requester);
        hub.matchOrders(a, d, w, r);
        assertEq(_locked(requester), APP_PRICE + WP_PRICE, "the requester's own match");
        (a, d, w, r) = _orders();
        w.sign = "";
        vm.prank(scheduler);
        hub.matchOrders(a, d, w, r);
    }

    function test_depositAndMatch_oneTransaction() public {
        address newcomer = vm.addr(0x1234);
        token.mint(newcomer, APP_PRICE + WP_PRICE);
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.requester = newcomer;
        r.sign = _sig(0x1234, hub.hashRequestOrder(r));
        vm.startPrank(newcomer);
        token.approve(address(hub), APP_PRICE + WP_PRICE);
        hub.depositAndMatchOrders(APP_PRICE + WP_PRICE, a, d, w, r);
        vm.stopPrank();
        assertEq(_locked(newcomer), APP_PRICE + WP_PRICE, "deposited and locked");
        assertEq(_balance(newcomer), 0, "nothing left free");
    }

    function test_depositAndMatch_revertsWhole() public {
        address newcomer = vm.addr(0x1234);
        token.mint(newcomer, APP_PRICE);
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        r.requester = newcomer;
        r.sign = _sig(0x1234, hub.hashRequestOrder(r));
        vm.startPrank(newcomer);
        token.approve(address(hub), APP_PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IHubErrors.InsufficientBalance.selector, newcomer, APP_PRICE + WP_PRICE, APP_PRICE
            )
        );
        hub.depositAndMatchOrders(APP_PRICE, a, d, w, r);
        vm.stopPrank();
        assertEq(token.balanceOf(newcomer), APP_PRICE, "tokens still with the user");
    }

    function test_closeNeverMatchedRequest_thenMatchRefused() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _orders();
        bytes32 rh = hub.hashRequestOrder(r);
        assertEq(hub.viewConsumed(rh), 0, "fresh");
        vm.prank(requester);
        hub.manageRequestOrder(RequestOrderOperation(r, OrderOperation.CLOSE, ""));
        assertEq(hub.viewConsumed(rh), type(uint256).max, "closed");
        assertFalse(hub.checkDeal(hub.computeDealId(rh, 0), new bytes(286)), "marker is no deal");
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.RequestOrderConsumed.selector, rh));
        hub.matchOrders(a, d, w, r);
    }

    function test_dealEncoding_roundTrip() public {
        (AppOrder memory a, DatasetOrder memory d, WorkerpoolOrder memory w, RequestOrder memory r) =
            _ordersWithDataset(3, 3, 3, 3);
        (bytes32 dealId, Deal memory deal) = _matchAndDecode(a, d, w, r);
        assertEq(keccak256(hub.encodeDeal(deal)), keccak256(lastEncodedDeal), "encode(decode(x)) == x");
        assertEq(lastEncodedDeal.length, 286, "packed length");
        assertTrue(hub.checkDeal(dealId, lastEncodedDeal), "commitment");
        bytes memory tampered = lastEncodedDeal;
        tampered[285] = bytes1(uint8(tampered[285]) + 1); // scheduler ratio + 1
        assertFalse(hub.checkDeal(dealId, tampered), "tampered deal refused");
        vm.expectRevert(abi.encodeWithSelector(Deals.MalformedDeal.selector, 285));
        hub.decodeDeal(new bytes(285));
    }

    function testFuzz_dealEncoding(Deal memory deal) public view {
        Deal memory back = hub.decodeDeal(hub.encodeDeal(deal));
        assertEq(keccak256(abi.encode(back)), keccak256(abi.encode(deal)), "round trip");
    }

    // ------------------------------------------------------------------ fuzz

    /// @notice Locked amounts are exactly price x volume for any prices and volumes in range.
    function testFuzz_lockArithmetic(
        uint256 va,
        uint256 vd,
        uint256 vw,
        uint256 vr,
        uint96 pa,
        uint96 pd,
        uint96 pw
    ) public {
        va = bound(va, 1, 1000);
        vd = bound(vd, 1, 1000);
        vw = bound(vw, 1, 1000);
        vr = bound(vr, 1, 1000);
        uint256 volume = _min(_min(va, vd), _min(vw, vr));
        uint256 taskPrice = uint256(pa) + pd + pw;
        uint256 stake = uint256(pw) * 30 / 100;
        // fund exactly what is needed, on fresh accounts
        if (taskPrice != 0) _fund(requester, taskPrice * volume);
        if (stake != 0) _fund(scheduler, stake * volume);
        uint256 reqFree = _balance(requester);
        uint256 schedFree = _balance(scheduler);

        AppOrder memory a = _appOrder(va);
        a.appprice = pa;
        DatasetOrder memory d = _datasetOrder(vd);
        d.datasetprice = pd;
        WorkerpoolOrder memory w = _workerpoolOrder(vw);
        w.workerpoolprice = pw;
        RequestOrder memory r = _requestOrder(vr, true);
        r.appmaxprice = pa;
        r.datasetmaxprice = pd;
        r.workerpoolmaxprice = pw;
        (, Deal memory deal) =
            _matchAndDecode(_signApp(a), _signDataset(d), _signWorkerpool(w), _signRequest(r));
        assertEq(deal.botSize, volume, "volume is the minimum");
        assertEq(_locked(requester), taskPrice * volume, "requester locked");
        assertEq(_balance(requester), reqFree - taskPrice * volume, "requester free");
        assertEq(_locked(scheduler), stake * volume, "scheduler locked");
        assertEq(_balance(scheduler), schedFree - stake * volume, "scheduler free");
        assertEq(hub.totalHeld(), token.balanceOf(address(hub)), "hub holds what it owes");
    }

    /// @notice Repeated partial matches never consume more than any order's volume.
    function testFuzz_partialFillsNeverOverConsume(uint256 vr, uint8 rounds, uint256 seed) public {
        vr = bound(vr, 1, 500);
        rounds = uint8(bound(rounds, 1, 12));
        RequestOrder memory r = _signRequest(_requestOrder(vr, false));
        bytes32 reqHash = hub.hashRequestOrder(r);
        AppOrder memory a = _signApp(_appOrder(10_000));
        DatasetOrder memory none;
        uint256 matched;
        for (uint256 i = 0; i < rounds; i++) {
            uint256 wv = bound(uint256(keccak256(abi.encode(seed, i))), 1, 100);
            WorkerpoolOrder memory w = _signWorkerpool(_workerpoolOrder(wv));
            if (matched == vr) {
                vm.expectRevert(abi.encodeWithSelector(IHubErrors.RequestOrderConsumed.selector, reqHash));
                hub.matchOrders(a, none, w, r);
                continue;
            }
            vm.recordLogs();
            bytes32 dealId = hub.matchOrders(a, none, w, r);
            Deal memory deal = _lastDeal();
            assertEq(deal.botFirst, matched, "bag continues");
            assertEq(dealId, hub.computeDealId(reqHash, matched), "deal id per bag start");
            matched += deal.botSize;
            assertLe(matched, vr, "never over request volume");
        }
        uint256 consumed = hub.viewConsumed(reqHash);
        assertTrue(consumed == matched || (consumed == type(uint256).max && matched == vr), "consumed");
        assertEq(hub.viewConsumed(hub.hashAppOrder(a)), matched, "app consumed");
    }

    function _min(uint256 x, uint256 y) internal pure returns (uint256) {
        return x < y ? x : y;
    }
}

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Hub, AppOrderOperation, RequestOrderOperation} from "../src/Hub.sol";
import {AppRegistry} from "../src/registries/AppRegistry.sol";
import {DatasetRegistry} from "../src/registries/DatasetRegistry.sol";
import {WorkerpoolRegistry} from "../src/registries/WorkerpoolRegistry.sol";
import {OrderOperation} from "../src/libs/Orders.sol";
