// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {HubFixture} from "./HubFixture.sol";
import {vm} from "./Vm.sol";
import {Deal} from "../../src/libs/Deals.sol";
import {AppOrder, DatasetOrder, WorkerpoolOrder, RequestOrder} from "../../src/libs/Orders.sol";
import {SignedContribution} from "../../src/HubPoco.sol";

/// @notice Deals at a chosen trust, funded workers and the signatures workers and schedulers make.
abstract contract ExecutionFixture is HubFixture {
    uint256 internal constant ENCLAVE_KEY = 0xE4C1;
    uint256[] internal workerKeys;
    address[] internal workers;
    address internal enclave;
    /// @dev Accounts a test adds (contracts that hold hub funds): `_assertConserved` counts them.
    address[] internal extraAccounts;

    function setUp() public virtual override {
        super.setUp();
        for (uint256 i = 1; i <= 5; i++) {
            uint256 key = 0x1000 + i;
            workerKeys.push(key);
            workers.push(vm.addr(key));
            _fund(vm.addr(key), FUNDS);
        }
        enclave = vm.addr(ENCLAVE_KEY);
    }

    struct DealRef {
        bytes32 id;
        bytes encoded;
        Deal deal;
    }

    /// @dev Match a deal of `volume` tasks at `trust` with `tag` (0x1 = TEE) and `callback`.
    function _deal(uint256 trust, uint256 volume, bytes32 tag, address callback)
        internal
        returns (DealRef memory ref)
    {
        AppOrder memory a = _appOrder(volume);
        a.tag = tag & bytes32(uint256(1)); // the app is a TEE app iff the deal is TEE
        WorkerpoolOrder memory w = _workerpoolOrder(volume);
        w.trust = 1_000_000;
        w.tag = tag;
        RequestOrder memory r = _requestOrder(volume, false);
        r.trust = trust;
        r.tag = tag;
        r.callback = callback;
        DatasetOrder memory d;
        (ref.id, ref.deal) = _matchAndDecode(_signApp(a), d, _signWorkerpool(w), _signRequest(r));
        ref.encoded = lastEncodedDeal;
    }

    function _taskId(DealRef memory ref, uint256 index) internal pure returns (bytes32) {
        return keccak256(abi.encode(ref.id, index));
    }

    function _ethSigned(bytes32 h) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", h));
    }

    /// @dev The scheduler's authorization of (worker, task, enclave).
    function _auth(uint256 signerKey, address worker, bytes32 taskId, address enclave_)
        internal
        pure
        returns (bytes memory)
    {
        return _sig(signerKey, _ethSigned(keccak256(abi.encodePacked(worker, taskId, enclave_))));
    }

    function _resultHash(bytes32 taskId, bytes32 digest) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(taskId, digest));
    }

    function _resultSeal(address worker, bytes32 taskId, bytes32 digest) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(worker, taskId, digest));
    }

    function _enclaveSign(address worker, bytes32 taskId, bytes32 digest)
        internal
        pure
        returns (bytes memory)
    {
        return _sig(
            ENCLAVE_KEY,
            _ethSigned(
                keccak256(abi.encodePacked(_resultHash(taskId, digest), _resultSeal(worker, taskId, digest)))
            )
        );
    }

    /// @dev Worker `i` contributes `digest` to task `index`.
    function _contribute(DealRef memory ref, uint256 index, uint256 i, bytes32 digest) internal {
        bytes32 taskId = _taskId(ref, index);
        address worker = workers[i];
        bytes memory auth = _auth(SCHEDULER_KEY, worker, taskId, address(0));
        vm.prank(worker);
        poco()
            .contribute(
                ref.encoded,
                ref.id,
                index,
                _resultHash(taskId, digest),
                _resultSeal(worker, taskId, digest),
                address(0),
                "",
                auth
            );
    }

    /// @dev Worker `i`'s signed contribution of `digest` to task `index`, for `contributeBatch`.
    function _signedContribution(DealRef memory ref, uint256 index, uint256 i, bytes32 digest)
        internal
        view
        returns (SignedContribution memory c)
    {
        bytes32 taskId = _taskId(ref, index);
        c.index = index;
        c.worker = workers[i];
        c.resultHash = _resultHash(taskId, digest);
        c.resultSeal = _resultSeal(workers[i], taskId, digest);
        c.workerSign = _sig(
            workerKeys[i],
            _ethSigned(keccak256(abi.encodePacked(taskId, c.resultHash, c.resultSeal, address(0))))
        );
    }

    /// @dev The scheduler reopens task `index` whose contributors are `contributors`.
    function _reopen(DealRef memory ref, uint256 index, address[] memory contributors) internal {
        vm.prank(scheduler);
        poco().reopen(ref.encoded, ref.id, index, contributors);
    }

    function _reveal(DealRef memory ref, uint256 index, uint256 i, bytes32 digest) internal {
        vm.prank(workers[i]);
        poco().reveal(_taskId(ref, index), digest);
    }

    function _finalize(DealRef memory ref, uint256 index, bytes32 digest, address[] memory contributors)
        internal
    {
        vm.prank(scheduler);
        poco().finalize(ref.encoded, ref.id, index, digest, contributors, "ipfs://result", "");
    }

    /// @dev Fast path by worker `i`.
    function _fast(DealRef memory ref, uint256 index, uint256 i, bytes32 digest, bytes memory cb) internal {
        bytes32 taskId = _taskId(ref, index);
        bytes memory auth = _auth(SCHEDULER_KEY, workers[i], taskId, address(0));
        vm.prank(workers[i]);
        hub.contributeAndFinalize(
            ref.encoded, ref.id, index, digest, "ipfs://result", cb, address(0), "", auth
        );
    }

    function _list(uint256 a) internal view returns (address[] memory l) {
        l = new address[](1);
        l[0] = workers[a];
    }

    function _list(uint256 a, uint256 b) internal view returns (address[] memory l) {
        l = new address[](2);
        l[0] = workers[a];
        l[1] = workers[b];
    }

    function _list(uint256 a, uint256 b, uint256 c) internal view returns (address[] memory l) {
        l = new address[](3);
        l[0] = workers[a];
        l[1] = workers[b];
        l[2] = workers[c];
    }

    function _list(uint256 a, uint256 b, uint256 c, uint256 d) internal view returns (address[] memory l) {
        l = new address[](4);
        l[0] = workers[a];
        l[1] = workers[b];
        l[2] = workers[c];
        l[3] = workers[d];
    }

    function _list(uint256 a, uint256 b, uint256 c, uint256 d, uint256 e)
        internal
        view
        returns (address[] memory l)
    {
        l = new address[](5);
        (l[0], l[1], l[2], l[3], l[4]) = (workers[a], workers[b], workers[c], workers[d], workers[e]);
    }

    /// @dev Free + locked funds of `who`.
    function _holdings(address who) internal view returns (uint256) {
        return _balance(who) + _locked(who);
    }

    /// @dev Sum of every known account: must always equal the hub's token balance.
    function _assertConserved() internal view {
        uint256 sum;
        // address(0) is the kitty: seized stakes stay counted there
        address[7] memory fixed_ =
            [appOwner, datasetOwner, scheduler, requester, sponsor, stranger, address(0)];
        for (uint256 i = 0; i < fixed_.length; i++) {
            (uint256 b, uint256 l) = hub.viewAccount(fixed_[i]);
            sum += b + l;
        }
        for (uint256 i = 0; i < workers.length; i++) {
            (uint256 b, uint256 l) = hub.viewAccount(workers[i]);
            sum += b + l;
        }
        for (uint256 i = 0; i < extraAccounts.length; i++) {
            (uint256 b, uint256 l) = hub.viewAccount(extraAccounts[i]);
            sum += b + l;
        }
        assertEq(sum, hub.totalHeld(), "accounts sum to totalHeld");
        assertEq(token.balanceOf(address(hub)), hub.totalHeld(), "tokens back every account");
    }
}
