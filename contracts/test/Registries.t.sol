// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {HubFixture} from "./utils/HubFixture.sol";
import {vm} from "./utils/Vm.sol";
import {IHubErrors} from "../src/interfaces/IHubTypes.sol";
import {AssetRegistry} from "../src/registries/AssetRegistry.sol";
import {AppRegistry} from "../src/registries/AppRegistry.sol";
import {DatasetRegistry} from "../src/registries/DatasetRegistry.sol";
import {WorkerpoolRegistry} from "../src/registries/WorkerpoolRegistry.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {OrderKind} from "../src/libs/Orders.sol";

contract RegistriesTest is HubFixture {
    function test_app_metadataAndPrediction() public {
        address predicted =
            apps.predictApp(stranger, "pi", "WASM", "/store/pi", bytes32(uint256(7)), hex"abcd");
        address created = apps.createApp(stranger, "pi", "WASM", "/store/pi", bytes32(uint256(7)), hex"abcd");
        assertEq(created, predicted, "predictable address");
        assertEq(apps.ownerOf(uint256(uint160(created))), stranger, "NFT owner");
        assertTrue(apps.isRegistered(created), "registered");
        AppRegistry.App memory meta = apps.viewApp(created);
        assertEq(keccak256(bytes(meta.name)), keccak256("pi"), "name");
        assertEq(keccak256(bytes(meta.appType)), keccak256("WASM"), "type");
        assertEq(keccak256(meta.multiaddr), keccak256("/store/pi"), "multiaddr");
        assertEq(meta.checksum, bytes32(uint256(7)), "checksum");
        assertEq(keccak256(meta.mrenclave), keccak256(hex"abcd"), "mrenclave");
        assertEq(apps.balanceOf(stranger), 1, "count per owner");
        assertEq(apps.assetOfOwnerByIndex(stranger, 0), created, "enumerable by owner");
        assertEq(apps.assetByIndex(1), created, "enumerable globally");
    }

    function test_app_duplicateRefused() public {
        address created = apps.createApp(stranger, "pi", "WASM", "/x", bytes32(0), "");
        vm.expectRevert(abi.encodeWithSelector(AssetRegistry.AlreadyRegistered.selector, created));
        apps.createApp(stranger, "pi", "WASM", "/x", bytes32(0), "");
        // same metadata, other owner: another asset
        address other = apps.createApp(requester, "pi", "WASM", "/x", bytes32(0), "");
        assertTrue(other != created, "owner is part of the identity");
    }

    function test_unknownAssetViewsRevert() public {
        vm.expectRevert();
        apps.viewApp(address(0x1234));
        vm.expectRevert();
        datasets.viewDataset(address(0x1234));
        vm.expectRevert();
        workerpools.viewWorkerpool(address(0x1234));
        assertEq(apps.ownerOrZero(address(0x1234)), address(0), "zero owner for unknown");
    }

    function test_dataset_metadata() public {
        DatasetRegistry.Dataset memory meta = datasets.viewDataset(dataset);
        assertEq(keccak256(bytes(meta.name)), keccak256("words"), "name");
        assertEq(meta.checksum, keccak256("words"), "checksum");
        assertEq(
            datasets.predictDataset(datasetOwner, "words", "/store/words", keccak256("words")),
            dataset,
            "predicted"
        );
    }

    function test_workerpool_defaultPolicyAndChange() public {
        (address owner, uint8 stake, uint8 reward) = workerpools.ownerAndPolicy(workerpool);
        assertEq(owner, scheduler, "owner");
        assertEq(stake, 30, "default worker stake ratio");
        assertEq(reward, 1, "default scheduler reward ratio");
        vm.prank(scheduler);
        workerpools.changePolicy(workerpool, 40, 10);
        (, stake, reward) = workerpools.ownerAndPolicy(workerpool);
        assertEq(stake, 40, "new stake ratio");
        assertEq(reward, 10, "new reward ratio");
        vm.prank(scheduler);
        workerpools.changeDescription(workerpool, "bigger pool");
        assertEq(
            keccak256(bytes(workerpools.viewWorkerpool(workerpool).description)),
            keccak256("bigger pool"),
            "desc"
        );
    }

    function test_workerpool_policyBoundsAndOwnership() public {
        vm.prank(scheduler);
        vm.expectRevert(abi.encodeWithSelector(WorkerpoolRegistry.RatioOutOfRange.selector, 101));
        workerpools.changePolicy(workerpool, 101, 0);
        vm.prank(scheduler);
        vm.expectRevert(abi.encodeWithSelector(WorkerpoolRegistry.RatioOutOfRange.selector, 101));
        workerpools.changePolicy(workerpool, 0, 101);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AssetRegistry.NotAssetOwner.selector, workerpool, stranger));
        workerpools.changePolicy(workerpool, 1, 1);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AssetRegistry.NotAssetOwner.selector, workerpool, stranger));
        workerpools.changeDescription(workerpool, "mine now");
    }

    function test_policyChange_doesNotTouchRunningDeals() public {
        (AppOrderT memory a, DatasetOrderT memory d, WorkerpoolOrderT memory w, RequestOrderT memory r) =
            _orders();
        (bytes32 dealId, DealT memory deal) = _matchAndDecode(a, d, w, r);
        vm.prank(scheduler);
        workerpools.changePolicy(workerpool, 100, 100);
        assertTrue(hub.checkDeal(dealId, lastEncodedDeal), "deal keeps its frozen policy");
        assertEq(deal.workerStake, WP_PRICE * 30 / 100, "stake frozen at match");
    }

    function test_transfer_movesOwnership() public {
        vm.prank(appOwner);
        apps.safeTransferFrom(appOwner, stranger, uint256(uint160(app)));
        assertEq(apps.ownerOrZero(app), stranger, "new owner");
        assertEq(apps.balanceOf(appOwner), 0, "old owner count");
    }

    function test_bindHub_deployerOnlyOnce() public {
        AppRegistry fresh = new AppRegistry();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(AssetRegistry.NotDeployer.selector, stranger));
        fresh.bindHub(hub);
        vm.expectRevert(AssetRegistry.HubNotBound.selector);
        fresh.createApp(stranger, "x", "WASM", "", bytes32(0), "");
        fresh.bindHub(hub);
        vm.expectRevert(abi.encodeWithSelector(AssetRegistry.HubAlreadyBound.selector, address(hub)));
        fresh.bindHub(hub);
    }

    function test_onAssetUpdate_registriesOnly() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.NotARegistry.selector, stranger));
        hub.onAssetUpdate(app, stranger, 0, 0);
    }

    function test_mirror_followsTransfersAndKinds() public {
        assertEq(hub.viewAssetOwner(app, uint256(OrderKind.APP)), appOwner, "app mirrored");
        assertEq(
            hub.viewAssetOwner(app, uint256(OrderKind.WORKERPOOL)), address(0), "an app is no workerpool"
        );
        assertEq(
            hub.viewAssetOwner(workerpool, uint256(OrderKind.WORKERPOOL)), scheduler, "workerpool mirrored"
        );
        vm.prank(appOwner);
        apps.transferFrom(appOwner, stranger, uint256(uint160(app)));
        assertEq(hub.viewAssetOwner(app, uint256(OrderKind.APP)), stranger, "transfer mirrored");
        vm.prank(scheduler);
        workerpools.approve(requester, uint256(uint160(workerpool)));
        vm.prank(requester);
        workerpools.transferFrom(scheduler, sponsor, uint256(uint160(workerpool)));
        assertEq(
            hub.viewAssetOwner(workerpool, uint256(OrderKind.WORKERPOOL)),
            sponsor,
            "approved transfer mirrored"
        );
    }

    function test_mirror_appUsedAsWorkerpoolRefused() public {
        (AppOrderT memory a, DatasetOrderT memory d, WorkerpoolOrderT memory w, RequestOrderT memory r) =
            _orders();
        w.workerpool = app; // registered, but as an app
        r.workerpool = address(0);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.WorkerpoolNotRegistered.selector, app));
        hub.matchOrders(a, d, w, r);
    }

    // ------------------------------------------------------------------ categories

    function test_categories_defaults() public view {
        assertEq(hub.countCategory(), 5, "five defaults");
        uint256[5] memory refs = [uint256(300), 1200, 3600, 10800, 36000];
        for (uint256 i = 0; i < 5; i++) {
            assertEq(hub.viewCategory(i).timeref, refs[i], "timeref");
        }
        assertEq(keccak256(bytes(hub.viewCategory(4).name)), keccak256("XL"), "XL name");
    }

    function test_categories_ownerOnlyAndBounds() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        hub.createCategory("GPU", "", 60);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidTimeRef.selector, 0));
        hub.createCategory("zero", "", 0);
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.InvalidTimeRef.selector, 7 days + 1));
        hub.createCategory("long", "", 7 days + 1);
        assertEq(hub.createCategory("GPU", "", 60), 5, "new id");
        vm.expectRevert(abi.encodeWithSelector(IHubErrors.UnknownCategory.selector, 6));
        hub.viewCategory(6);
    }
}

import {Deal as DealT} from "../src/libs/Deals.sol";
import {
    AppOrder as AppOrderT,
    DatasetOrder as DatasetOrderT,
    WorkerpoolOrder as WorkerpoolOrderT,
    RequestOrder as RequestOrderT
} from "../src/libs/Orders.sol";
