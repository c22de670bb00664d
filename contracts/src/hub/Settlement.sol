// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {HubBase} from "./HubBase.sol";
import {IOracleConsumer} from "../interfaces/IOracleConsumer.sol";
import {IPocoErrors, IPocoEvents, Task} from "../interfaces/IPocoTypes.sol";
import {Deal, Deals} from "../libs/Deals.sol";
import {AppRegistry} from "../registries/AppRegistry.sol";
import {DatasetRegistry} from "../registries/DatasetRegistry.sol";
import {WorkerpoolRegistry} from "../registries/WorkerpoolRegistry.sol";

/// @title Settlement: execution-side storage and the rules shared by every settlement path.
/// @notice The hub (`Hub`, fast path) and its execution module (`HubPoco`, replicated path,
/// batches, claims) both inherit this contract and declare no state of their own, so their
/// storage layouts are identical and the module runs by DELEGATECALL on the hub's storage.
abstract contract Settlement is HubBase, IPocoErrors, IPocoEvents {
    /// @notice Deadline ratios of iExec: contributions until start + 7 T, reveal 2 T after
    /// consensus, settlement until start + 10 T (T = the deal's category time reference).
    uint256 public constant CONTRIBUTION_DEADLINE_RATIO = 7;
    uint256 public constant REVEAL_DEADLINE_RATIO = 2;
    uint256 public constant FINAL_DEADLINE_RATIO = 10;
    /// @notice The scheduler stakes this percentage of the workerpool price per task (locked at
    /// match, released on success, sent to the kitty on claim): the one place it is defined.
    uint256 public constant WORKERPOOL_STAKE_RATIO = 30;
    /// @notice The kitty: the account that receives every stake seized on a claim (the
    /// scheduler's, and those of workers who voted against a consensus or never revealed it).
    /// Nobody can withdraw from it (no transaction comes from the zero address) and nothing pays
    /// out of it, so no party, whatever roles it plays, gains from making a task fail: a payout
    /// rule (iExec pays its kitty to schedulers of later tasks) can be farmed by a party that is
    /// both requester and scheduler. The tokens stay counted in `totalHeld`.
    address public constant KITTY = address(0);
    /// @notice Highest trust a request may ask for: 16 (`MAX_CONTRIBUTORS`) fresh workers of weight
    /// 2 reach consensus for any trust up to 2^16, so every accepted trust is reachable without
    /// relying on reputation; a higher one could only end in a claim.
    uint256 public constant MAX_TRUST = 1 << 16;
    /// @notice A workerpool's new stake and reward ratios take effect this long after its owner
    /// changes them, so the ratios a requester saw beside an order are the ones a match gives
    /// (`viewWorkerpoolPolicy` shows a pending change and its date).
    uint256 public constant POLICY_DELAY = 7 days;
    /// @notice Gas given to an ERC-1271 wallet or ERC-734 group when the hub asks it something;
    /// only the first 32 bytes of its answer are read.
    uint256 public constant EXTERNAL_CHECK_GAS = 100_000;
    /// @notice Contributions per task are bounded so that every loop is bounded.
    uint256 public constant MAX_CONTRIBUTORS = 16;
    /// @notice Default gas given to a callback (owner-settable, see `setCallbackGas`).
    uint256 public constant DEFAULT_CALLBACK_GAS = 200_000;
    /// @notice Tag bit 0: trusted execution. A deal whose request or dataset asks for TEE needs
    /// a TEE app (the deal tag includes the app's, so a TEE app always makes a TEE deal).
    bytes32 internal constant TAG_TEE = bytes32(uint256(1));
    /// @dev Tasks with a relative index below this keep their "settled" bit in the deal word.
    uint256 internal constant INLINE_TASKS = 31;

    uint256 internal _callbackGasLimit = DEFAULT_CALLBACK_GAS;
    /// @notice Signs contribution authorizations of TEE tasks when set (the SMS / TEE broker).
    address public teeBroker;
    mapping(bytes32 taskId => Task) internal _tasks;
    /// @dev taskId => worker => its `ContributionWord`.
    mapping(bytes32 taskId => mapping(address worker => uint256)) internal _contributions;
    /// @dev taskId => resultHash => its `GroupWord` (the voters' weight and count).
    mapping(bytes32 taskId => mapping(bytes32 resultHash => uint256)) internal _groups;
    /// @dev dealId => word => settled bits for relative indices >= INLINE_TASKS.
    mapping(bytes32 dealId => mapping(uint256 word => uint256)) internal _settledWords;
    /// @dev Callback data of completed callback tasks, for pull consumers (`resultFor`).
    mapping(bytes32 taskId => bytes) internal _callbackData;
    /// @dev dealId => word => bits of batch-settled callback tasks whose consumer is still to be
    /// called (relative index, one bucket per 256 tasks), so `deliverCallbacks` calls it once.
    mapping(bytes32 dealId => mapping(uint256 word => uint256)) internal _pendingCallbacks;

    constructor(
        address owner_,
        IERC20 token_,
        AppRegistry apps,
        DatasetRegistry datasets,
        WorkerpoolRegistry workerpools
    ) HubBase(owner_, token_, apps, datasets, workerpools) {}

    function _policyDelay() internal pure override returns (uint256) {
        return POLICY_DELAY;
    }

    function _externalCheckGas() internal pure override returns (uint256) {
        return EXTERNAL_CHECK_GAS;
    }

    // ------------------------------------------------------------------ deals and tasks

    /// @dev Decode `encoded` and check it is the deal committed under `dealId`.
    function _loadDeal(bytes calldata encoded, bytes32 dealId)
        internal
        view
        returns (Deal memory deal, uint256 word)
    {
        word = _deals[dealId];
        uint256 commitment = word & Deals.COMMITMENT_MASK;
        if (commitment == 0 || commitment != uint256(keccak256(encoded)) & Deals.COMMITMENT_MASK) {
            revert UnknownDeal(dealId);
        }
        deal = Deals.decode(encoded);
    }

    function _checkIndex(Deal memory deal, uint256 index) internal pure returns (uint256 rel) {
        if (index < deal.botFirst || index >= uint256(deal.botFirst) + deal.botSize) {
            revert TaskIndexOutOfRange(index, deal.botFirst, deal.botSize);
        }
        return index - deal.botFirst;
    }

    function _contributionDeadline(Deal memory deal) internal pure returns (uint256) {
        return uint256(deal.startTime) + CONTRIBUTION_DEADLINE_RATIO * deal.timeref;
    }

    function _finalDeadline(Deal memory deal) internal pure returns (uint256) {
        return uint256(deal.startTime) + FINAL_DEADLINE_RATIO * deal.timeref;
    }

    /// @dev Task `rel` (index relative to botFirst) is settled when bit `rel` of the deal word is
    /// set (rel < INLINE_TASKS), else bit `j & 0xff` of `_settledWords[dealId][j >> 8]` for
    /// j = rel - INLINE_TASKS (the layout of OpenZeppelin's `BitMaps`, one bucket per 256 tasks).
    function _isSettled(bytes32 dealId, uint256 word, uint256 rel) internal view returns (bool) {
        if (rel < INLINE_TASKS) return word & (1 << rel) != 0;
        rel -= INLINE_TASKS;
        return _settledWords[dealId][rel >> 8] & (1 << (rel & 0xff)) != 0;
    }

    /// @dev Mark one task settled (paid or refunded) exactly once. `word` is the deal word as
    /// loaded; returns it updated (the caller writes inline bits back once per transaction).
    function _settle(bytes32 dealId, bytes32 taskId, uint256 word, uint256 rel) internal returns (uint256) {
        if (rel < INLINE_TASKS) {
            uint256 bit = 1 << rel;
            if (word & bit != 0) revert TaskAlreadySettled(taskId);
            return word | bit;
        }
        rel -= INLINE_TASKS;
        uint256 bits = _settledWords[dealId][rel >> 8];
        uint256 b = 1 << (rel & 0xff);
        if (bits & b != 0) revert TaskAlreadySettled(taskId);
        _settledWords[dealId][rel >> 8] = bits | b;
        return word;
    }

    // ------------------------------------------------------------------ signatures

    /// @dev The workerpool owner (or the TEE broker, for enclave contributions when one is set)
    /// signed keccak256(worker ‖ taskId ‖ enclave) as an EIP-191 message: valid for exactly one
    /// (worker, task, enclave).
    function _checkAuthorization(
        Deal memory deal,
        address worker,
        bytes32 taskId,
        address enclave,
        bytes calldata sign
    ) internal view {
        address signer = (enclave != address(0) && teeBroker != address(0)) ? teeBroker : deal.workerpoolOwner;
        bytes32 digest =
            MessageHashUtils.toEthSignedMessageHash(keccak256(abi.encodePacked(worker, taskId, enclave)));
        if (!_isValidSignature(signer, digest, sign)) revert InvalidAuthorization();
    }

    /// @dev TEE tasks need an enclave; an enclave must have signed keccak256(resultHash ‖ resultSeal).
    function _checkEnclave(
        Deal memory deal,
        address enclave,
        bytes32 resultHash,
        bytes32 resultSeal,
        bytes calldata sign
    ) internal view {
        if (deal.tag & TAG_TEE != 0 && enclave == address(0)) {
            revert EnclaveRequired();
        }
        if (enclave == address(0)) return;
        bytes32 digest =
            MessageHashUtils.toEthSignedMessageHash(keccak256(abi.encodePacked(resultHash, resultSeal)));
        if (!_isValidSignature(enclave, digest, sign)) revert InvalidEnclaveSignature();
    }

    /// @dev Callback deals bind the callback data to the consensus: keccak256(data) == digest.
    function _checkCallbackData(Deal memory deal, bytes32 digest, bytes calldata data) internal pure {
        if (deal.callback != address(0)) {
            if (keccak256(data) != digest) revert CallbackDataMismatch();
        } else if (data.length != 0) {
            revert CallbackDataMismatch();
        }
    }

    // ------------------------------------------------------------------ money

    /// @dev Credit free balance (checked: an account never passes 2^112 - 1).
    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        Account memory acc = _accounts[account];
        uint256 balance = uint256(acc.balance) + amount;
        if (balance + acc.locked > type(uint112).max) revert AmountOutOfRange(amount);
        acc.balance = uint112(balance);
        _accounts[account] = acc;
    }

    /// @dev Remove `debit` from locked and add `credit` to free balance, one write.
    function _unlockAndCredit(address account, uint256 debit, uint256 credit) internal {
        Account memory acc = _accounts[account];
        acc.locked -= uint112(debit); // checked: underflow means broken accounting, revert
        uint256 balance = uint256(acc.balance) + credit;
        if (balance + acc.locked > type(uint112).max) revert AmountOutOfRange(credit);
        acc.balance = uint112(balance);
        _accounts[account] = acc;
    }

    /// @dev Money of `n` successful tasks except the workers' share: the payer's locked price
    /// is spent, app and dataset owners are paid, the scheduler's stake comes back with its
    /// part of the workerpool price (`schedulerShare`, already summed over the tasks).
    function _paySuccess(Deal memory deal, uint256 n, uint256 schedulerShare) internal {
        uint256 taskPrice = uint256(deal.appPrice) + deal.datasetPrice + deal.workerpoolPrice;
        _unlockAndCredit(deal.payer, taskPrice * n, 0);
        _credit(deal.appOwner, uint256(deal.appPrice) * n);
        if (deal.datasetOwner != address(0)) _credit(deal.datasetOwner, uint256(deal.datasetPrice) * n);
        uint256 stake = _schedulerStake(deal.workerpoolPrice);
        _unlockAndCredit(deal.workerpoolOwner, stake * n, stake * n + schedulerShare);
    }

    /// @dev The scheduler's stake for one task of workerpool price `price`.
    function _schedulerStake(uint256 price) internal pure returns (uint256) {
        return price * WORKERPOOL_STAKE_RATIO / 100;
    }

    /// @dev Fast-path worker reward for one task: the workerpool price minus the scheduler's ratio.
    function _workerReward(Deal memory deal) internal pure returns (uint256) {
        return uint256(deal.workerpoolPrice) * (100 - deal.schedulerRewardRatio) / 100;
    }

    // ------------------------------------------------------------------ callbacks

    /// @dev Deliver the result to the deal's consumer with its gas cap, once the settlement is
    /// written. A reverting or gas-burning consumer never blocks settlement. The call copies no
    /// return data and builds its calldata in scratch memory that every callback reuses, so a
    /// consumer's answer costs the hub nothing and many callbacks cost linearly. The gas is
    /// checked right before the CALL, once the calldata is in memory (so no memory expansion or
    /// copy comes between the check and the call): unless the transaction still carries the cap,
    /// its 1/64 (EIP-150) and the call's own cost, the settlement reverts, so a consumer always
    /// gets its whole cap.
    function _callback(Deal memory deal, bytes32 taskId, bytes memory data) internal {
        if (deal.callback == address(0)) return;
        uint256 gasLimit = _callbackGasLimit;
        address target = deal.callback;
        bytes4 selector = IOracleConsumer.receiveResult.selector;
        bytes4 starved = NotEnoughGasForCallback.selector;
        bool ok;
        assembly ("memory-safe") {
            let len := mload(data)
            let p := mload(0x40)
            mstore(p, selector)
            mstore(add(p, 4), taskId)
            mstore(add(p, 36), 0x40)
            mstore(add(p, 68), len)
            let padded := and(add(len, 31), not(31))
            mstore(add(add(p, 68), padded), 0) // zero padding of the last word
            mcopy(add(p, 100), add(data, 32), len)
            // the cap, what EIP-150 withholds (1/64 of what is left) and the CALL's cost (at
            // most 2 600 for a cold account, no value, memory already expanded)
            if lt(gas(), add(add(gasLimit, div(gasLimit, 63)), 3000)) {
                mstore(0, starved)
                revert(0, 4)
            }
            ok := call(gasLimit, target, 0, p, add(100, padded), 0, 0)
        }
        emit CallbackResult(taskId, target, ok);
    }
}
