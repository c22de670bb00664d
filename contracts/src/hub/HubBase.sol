// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IHubErrors, IHubEvents} from "../interfaces/IHubTypes.sol";
import {IAssetHub} from "../interfaces/IAssetHub.sol";
import {OrderKind} from "../libs/Orders.sol";
import {AssetWord} from "../libs/Words.sol";
import {AppRegistry} from "../registries/AppRegistry.sol";
import {DatasetRegistry} from "../registries/DatasetRegistry.sol";
import {WorkerpoolRegistry} from "../registries/WorkerpoolRegistry.sol";

/// @title HubBase: storage, escrow, categories and signature checking shared by the hub.
/// @dev Not upgradeable on purpose: the code that holds users' money cannot be changed by anyone.
abstract contract HubBase is
    IHubErrors,
    IHubEvents,
    IAssetHub,
    Ownable2Step,
    EIP712,
    ReentrancyGuardTransient
{
    using SafeERC20 for IERC20;

    /// @notice An escrow account in one slot: free balance, funds locked in running deals
    /// (payments, scheduler and worker stakes) and the worker's reputation score.
    struct Account {
        uint112 balance;
        uint112 locked;
        uint32 score;
    }

    /// @notice A category of work: its name and the time reference every deadline derives from.
    struct Category {
        string name;
        string description;
        uint256 timeref;
    }

    /// @notice Upper bound on a category time reference (one week), so deadlines stay far from overflow.
    uint256 public constant MAX_TIMEREF = 7 days;

    /// @notice The ERC-20 every price, deposit and stake is denominated in; fixed at deployment.
    IERC20 public immutable token;
    AppRegistry public immutable appRegistry;
    DatasetRegistry public immutable datasetRegistry;
    WorkerpoolRegistry public immutable workerpoolRegistry;

    mapping(address account => Account) internal _accounts;
    /// @notice Sum of every account's balance and locked funds: what the hub owes its users.
    uint256 public totalHeld;
    /// @dev Category id => category; ids are dense from 0 and every timeref is non-zero, so a
    /// zero timeref means "no such category" and matching needs a single storage read.
    mapping(uint256 id => Category) internal _categories;
    uint256 internal _categoryCount;
    /// @dev Asset => its `AssetWord` (owner, kind, workerpool policy), pushed by the registries.
    mapping(address asset => uint256) internal _assets;
    /// @dev Order digest => volume consumed (matched or cancelled). For request orders, a zero
    /// here with an existing first deal means the first deal consumed the whole order (see
    /// `_requestConsumed`).
    mapping(bytes32 orderHash => uint256) internal _consumed;
    /// @dev Order digest => the owner who presigned it and the period of its ownership
    /// (`AssetWord.presignKey`: owner | period << 160; period 0 for requests). A presign dies
    /// when the asset changes hands and stays dead if it comes back.
    mapping(bytes32 orderHash => uint256) internal _presigned;
    /// @dev Deal id => 224-bit commitment | 32 bits of execution state (see `Deals`). A deal
    /// word is never zeroed once written: request-order consumption relies on it.
    mapping(bytes32 dealId => uint256) internal _deals;

    constructor(
        address owner_,
        IERC20 token_,
        AppRegistry apps,
        DatasetRegistry datasets,
        WorkerpoolRegistry workerpools
    ) Ownable(owner_) EIP712("dexec", "1") {
        token = token_;
        appRegistry = apps;
        datasetRegistry = datasets;
        workerpoolRegistry = workerpools;
    }

    // ------------------------------------------------------------------ asset mirror

    /// @notice Registries only: record an asset's new owner (and workerpool policy). A new
    /// policy takes effect `POLICY_DELAY` after this call; a new owner starts a new ownership
    /// period (presigns of the previous ones die).
    function onAssetUpdate(address asset, address owner, uint8 workerStakeRatio, uint8 schedulerRewardRatio)
        external
    {
        OrderKind kind;
        if (msg.sender == address(appRegistry)) kind = OrderKind.APP;
        else if (msg.sender == address(datasetRegistry)) kind = OrderKind.DATASET;
        else if (msg.sender == address(workerpoolRegistry)) kind = OrderKind.WORKERPOOL;
        else revert NotARegistry(msg.sender);
        _assets[asset] = AssetWord.update(
            _assets[asset],
            owner,
            kind,
            workerStakeRatio,
            schedulerRewardRatio,
            block.timestamp,
            _policyDelay()
        );
    }

    /// @dev `Settlement.POLICY_DELAY` (declared there with the other protocol constants).
    function _policyDelay() internal pure virtual returns (uint256);

    /// @dev `Settlement.EXTERNAL_CHECK_GAS`.
    function _externalCheckGas() internal pure virtual returns (uint256);

    /// @dev Owner of `asset` if it is registered as `kind`, else zero, and its `AssetWord`; one
    /// storage read.
    function _ownerOf(address asset, OrderKind kind) internal view returns (address owner, uint256 word) {
        word = _assets[asset];
        owner = AssetWord.ownerAs(word, uint256(kind));
    }

    // ------------------------------------------------------------------ escrow

    /// @notice Deposit `amount` tokens (after `approve`) into the caller's account.
    function deposit(uint256 amount) external nonReentrant {
        _deposit(msg.sender, amount);
    }

    /// @notice Deposit `amount` tokens from the caller into `to`'s account.
    function depositFor(uint256 amount, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        _deposit(to, amount);
    }

    /// @notice Withdraw `amount` of the caller's free balance to the caller.
    function withdraw(uint256 amount) external nonReentrant {
        _withdraw(msg.sender, amount);
    }

    /// @notice Withdraw `amount` of the caller's free balance to `to`.
    function withdrawTo(uint256 amount, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        _withdraw(to, amount);
    }

    /// @notice Free balance of `account`.
    function balanceOf(address account) external view returns (uint256) {
        return _accounts[account].balance;
    }

    /// @notice Funds of `account` locked in running deals (iExec's "frozen").
    function frozenOf(address account) external view returns (uint256) {
        return _accounts[account].locked;
    }

    /// @notice Reputation score of a worker (+1 per replicated good contribution, -1/3 per bad one).
    function viewScore(address worker) external view returns (uint256) {
        return _accounts[worker].score;
    }

    /// @notice Free and locked funds of `account`.
    function viewAccount(address account) external view returns (uint256 balance, uint256 locked) {
        Account storage acc = _accounts[account];
        return (acc.balance, acc.locked);
    }

    /// @notice Owner only: send tokens that reached the hub without a deposit (plain transfers)
    /// to `to`. Only the excess over `totalHeld` can move, so users' funds are out of reach.
    function recover(address to) external onlyOwner nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert ZeroAddress();
        uint256 held = token.balanceOf(address(this));
        if (held <= totalHeld) revert NothingToRecover();
        amount = held - totalHeld;
        token.safeTransfer(to, amount);
        emit Recovered(to, amount);
    }

    /// @dev Credit what actually arrived, so fee-on-transfer tokens cannot inflate balances.
    function _deposit(address to, uint256 amount) internal {
        if (amount == 0) revert ZeroAmount();
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        Account storage acc = _accounts[to];
        uint256 total = uint256(acc.balance) + acc.locked + received;
        if (total > type(uint112).max) revert AmountOutOfRange(received);
        acc.balance += uint112(received);
        totalHeld += received;
        emit Deposit(msg.sender, to, received);
    }

    function _withdraw(address to, uint256 amount) internal {
        if (amount == 0) revert ZeroAmount();
        Account storage acc = _accounts[msg.sender];
        if (amount > acc.balance) revert InsufficientBalance(msg.sender, amount, acc.balance);
        unchecked {
            acc.balance -= uint112(amount);
            totalHeld -= amount;
        }
        emit Withdraw(msg.sender, to, amount);
        token.safeTransfer(to, amount);
    }

    /// @dev Move `amount` from free balance to locked. No overflow: balance + locked < 2^112
    /// holds for every account (deposits check it; settlement only moves funds between accounts
    /// whose sum is bounded by `totalHeld`, itself backed by tokens).
    function _lock(address account, uint256 amount) internal {
        Account memory acc = _accounts[account];
        if (amount > acc.balance) revert InsufficientBalance(account, amount, acc.balance);
        unchecked {
            // one SSTORE for the packed slot
            acc.balance -= uint112(amount);
            acc.locked += uint112(amount);
        }
        _accounts[account] = acc;
    }

    // ------------------------------------------------------------------ categories

    /// @notice Owner only: add a category; its id is its index. `timeref` in seconds.
    function createCategory(string calldata name, string calldata description, uint256 timeref)
        external
        onlyOwner
        returns (uint256 id)
    {
        if (timeref == 0 || timeref > MAX_TIMEREF) revert InvalidTimeRef(timeref);
        id = _categoryCount++;
        _categories[id] = Category(name, description, timeref);
        emit CategoryCreated(id, name, description, timeref);
    }

    /// @notice Number of categories.
    function countCategory() external view returns (uint256) {
        return _categoryCount;
    }

    /// @notice A category by id.
    function viewCategory(uint256 id) external view returns (Category memory) {
        if (id >= _categoryCount) revert UnknownCategory(id);
        return _categories[id];
    }

    // ------------------------------------------------------------------ signatures

    /// @notice The EIP-712 domain separator (name "dexec", version "1", chain id, this hub).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev True if the owner approved order `digest`: the owner sends the transaction itself,
    /// or presigned it on-chain in this ownership period (`presignKey`, empty signature), or
    /// signed it (`_isValidSignature`).
    function _isValidOrderSignature(uint256 presignKey, bytes32 digest, bytes calldata sig)
        internal
        view
        returns (bool)
    {
        address signer = address(uint160(presignKey));
        if (signer == msg.sender && signer != address(0)) return true;
        if (sig.length == 0 && signer != address(0) && _presigned[digest] == presignKey) return true;
        return _isValidSignature(signer, digest, sig);
    }

    /// @dev True if `signer` approved `digest`: a 65-byte or EIP-2098 64-byte ECDSA signature
    /// with low s, or ERC-1271 when `signer` is a contract. ECDSA is tried first so EOAs never
    /// pay for a code-size lookup. The wallet gets `EXTERNAL_CHECK_GAS` and only the first 32
    /// bytes of its answer are read; anything but the exact magic value means "not approved".
    function _isValidSignature(address signer, bytes32 digest, bytes calldata sig)
        internal
        view
        returns (bool ok)
    {
        if (signer == address(0)) return false;
        if (sig.length == 65 || sig.length == 64) {
            if (_recover(digest, sig) == signer) return true;
        }
        if (signer.code.length == 0) return false;
        bytes memory call_ = abi.encodeCall(IERC1271.isValidSignature, (digest, sig));
        bytes32 magic = bytes32(IERC1271.isValidSignature.selector);
        ok = _staticWord(signer, call_) == magic;
    }

    /// @dev The first 32 bytes `target` answers to `call_` (a gas-capped static call), or zero if
    /// it reverts or answers less: the answer is never copied whole.
    function _staticWord(address target, bytes memory call_) internal view returns (bytes32 word) {
        uint256 gasCap = _externalCheckGas();
        assembly ("memory-safe") {
            let success := staticcall(gasCap, target, add(call_, 32), mload(call_), 0, 0)
            if and(success, gt(returndatasize(), 31)) {
                returndatacopy(0, 0, 32)
                word := mload(0)
            }
        }
    }

    /// @dev OpenZeppelin's `ECDSA.tryRecover` (low s only; zero for a malformed signature) on a
    /// 65-byte (r, s, v) or EIP-2098 64-byte (r, vs) signature read in place from calldata: OZ's
    /// `bytes` overload would copy it to memory and takes 65 bytes only.
    function _recover(bytes32 digest, bytes calldata sig) internal pure returns (address signer) {
        bytes32 r = bytes32(sig[0:32]);
        if (sig.length == 65) (signer,,) = ECDSA.tryRecover(digest, uint8(sig[64]), r, bytes32(sig[32:64]));
        else (signer,,) = ECDSA.tryRecover(digest, r, bytes32(sig[32:64]));
    }
}
