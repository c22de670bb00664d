// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {HubFixture} from "./utils/HubFixture.sol";
import {AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder} from "../src/libs/Orders.sol";

/// @notice The hub hashes orders straight from calldata; these pin it to the textbook EIP-712
/// encoding (field by field) for arbitrary orders.
contract OrderHashingTest is HubFixture {
    function _digest(bytes32 structHash) internal view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", hub.domainSeparator(), structHash));
    }

    function testFuzz_appOrderHash(AppOrder memory o) public view {
        bytes32 expected = _appStructHash(o);
        assertEq(hub.hashAppOrder(o), _digest(expected), "app order digest");
    }

    function testFuzz_datasetOrderHash(DatasetOrder memory o) public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256(
                    "DatasetOrder(address dataset,uint256 datasetprice,uint256 volume,bytes32 tag,address apprestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
                ),
                o.dataset,
                o.datasetprice,
                o.volume,
                o.tag,
                o.apprestrict,
                o.workerpoolrestrict,
                o.requesterrestrict,
                o.salt
            )
        );
        assertEq(hub.hashDatasetOrder(o), _digest(expected), "dataset order digest");
    }

    function testFuzz_workerpoolOrderHash(WorkerpoolOrder memory o) public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256(
                    "WorkerpoolOrder(address workerpool,uint256 workerpoolprice,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address apprestrict,address datasetrestrict,address requesterrestrict,bytes32 salt)"
                ),
                o.workerpool,
                o.workerpoolprice,
                o.volume,
                o.tag,
                o.category,
                o.trust,
                o.apprestrict,
                o.datasetrestrict,
                o.requesterrestrict,
                o.salt
            )
        );
        assertEq(hub.hashWorkerpoolOrder(o), _digest(expected), "workerpool order digest");
    }

    function testFuzz_requestOrderHash(RequestOrder memory o) public view {
        bytes memory head = abi.encode(
            keccak256(
                "RequestOrder(address app,uint256 appmaxprice,address dataset,uint256 datasetmaxprice,address workerpool,uint256 workerpoolmaxprice,address requester,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address beneficiary,address callback,string params,bytes32 salt)"
            ),
            o.app,
            o.appmaxprice,
            o.dataset,
            o.datasetmaxprice,
            o.workerpool,
            o.workerpoolmaxprice,
            o.requester
        );
        bytes memory tail = abi.encode(
            o.volume,
            o.tag,
            o.category,
            o.trust,
            o.beneficiary,
            o.callback,
            keccak256(bytes(o.params)),
            o.salt
        );
        assertEq(
            hub.hashRequestOrder(o), _digest(keccak256(bytes.concat(head, tail))), "request order digest"
        );
    }
}
