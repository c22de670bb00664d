// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {Settlement} from "./hub/Settlement.sol";
import {IPocoModuleErrors, Task, TaskStatus} from "./interfaces/IPocoTypes.sol";
import {Deal, Deals} from "./libs/Deals.sol";
import {AssetWord, ContributionWord, GroupWord} from "./libs/Words.sol";
import {AppRegistry} from "./registries/AppRegistry.sol";
import {DatasetRegistry} from "./registries/DatasetRegistry.sol";
import {WorkerpoolRegistry} from "./registries/WorkerpoolRegistry.sol";

/// @notice One worker's contribution, signed by the worker and sent by the scheduler with others
/// (`contributeBatch`): the worker signed keccak256(taskId ‖ resultHash ‖ resultSeal ‖ enclave)
/// as an EIP-191 message, so the scheduler can neither forge a vote nor lock a stake without it.
struct SignedContribution {
    uint256 index;
    address worker;
    bytes32 resultHash;
    bytes32 resultSeal;
    /// TEE deals only: as for `contribute`.
    address enclaveChallenge;
    bytes enclaveSign;
    /// TEE deals with a broker only: the broker's authorization of (worker, task, enclave).
    bytes authorizationSign;
    bytes workerSign;
}

/// @notice One trust-1 task of a scheduler batch.
struct BatchResult {
    uint256 index;
    address worker;
    bytes32 resultDigest;
    bytes results;
    bytes resultsCallback;
    /// TEE deals only: the enclave, its signature over (resultHash, resultSeal) and, when a TEE
    /// broker is set, the broker's authorization of (worker, task, enclave).
    address enclaveChallenge;
    bytes enclaveSign;
    bytes authorizationSign;
}

/// @title HubPoco: the hub's execution module (Proof-of-Contribution).
/// @notice Runs only by DELEGATECALL from `Hub` (call these functions on the hub's address).
/// Replicated tasks (trust > 1): workers `contribute` a commitment (or their scheduler sends
/// several workers' signed commitments at once, `contributeBatch`), consensus is Sarmenta's
/// credibility with reputation weights, and the scheduler `finalize`s with the digest, which
/// proves every winning commitment at once (workers may also `reveal` themselves); stakes and
/// scores move accordingly. Trust-1 tasks can also be settled many at a time by the scheduler
/// (`pushResults`). Any task past its final deadline can be `claim`ed: the payer is refunded,
/// the scheduler's stake and the stakes of workers who voted against a consensus or never
/// revealed it go to the kitty, where nobody can take them.
contract HubPoco is Settlement, IPocoModuleErrors {
    /// @dev Sarmenta weights are capped at 2^8 (reached at score 771) so that a group's product
    /// over MAX_CONTRIBUTORS fits 128 bits and the task total packs with the task's counters.
    uint256 internal constant MAX_WEIGHT = 1 << 8;
    /// @dev This module's own address: its functions refuse to run outside the hub.
    address private immutable _self;

    constructor(
        address owner_,
        IERC20 token_,
        AppRegistry apps,
        DatasetRegistry datasets,
        WorkerpoolRegistry workerpools
    ) Settlement(owner_, token_, apps, datasets, workerpools) {
        _self = address(this);
    }

    modifier delegated() {
        if (address(this) == _self) revert NotDelegated();
        _;
    }

    // ------------------------------------------------------------------ replicated path

    /// @notice Commit a result for task `index` of a replicated deal. `resultHash` =
    /// keccak256(taskId ‖ digest) is the vote; `resultSeal` = keccak256(worker ‖ taskId ‖ digest)
    /// proves the worker knows the digest (a copied vote cannot be revealed). Locks the deal's
    /// worker stake from the worker's free balance. Open until start + 7 T, or until the final
    /// deadline once the task was reopened.
    function contribute(
        bytes calldata encodedDeal,
        bytes32 dealId,
        uint256 index,
        bytes32 resultHash,
        bytes32 resultSeal,
        address enclaveChallenge,
        bytes calldata enclaveSign,
        bytes calldata authorizationSign
    ) external delegated nonReentrant {
        (Deal memory deal, uint256 word) = _loadDeal(encodedDeal, dealId);
        bytes32 taskId = Deals.taskId(dealId, index);
        _checkAuthorization(deal, msg.sender, taskId, enclaveChallenge, authorizationSign);
        _checkEnclave(deal, enclaveChallenge, resultHash, resultSeal, enclaveSign);
        _contribute(deal, word, dealId, index, msg.sender, resultHash, resultSeal);
    }

    /// @notice Scheduler only: record several workers' signed contributions (to one task or to
    /// several tasks of the deal) in one transaction. Each is checked and counted exactly as if
    /// its worker had sent `contribute`; the scheduler sending it is the authorization (a TEE
    /// broker, when set, still authorizes enclaves).
    function contributeBatch(bytes calldata encodedDeal, bytes32 dealId, SignedContribution[] calldata batch)
        external
        delegated
        nonReentrant
    {
        (Deal memory deal, uint256 word) = _loadSchedulerBatch(encodedDeal, dealId, batch.length);
        for (uint256 i = 0; i < batch.length; i++) {
            SignedContribution calldata c = batch[i];
            bytes32 taskId = Deals.taskId(dealId, c.index);
            bytes32 signed = MessageHashUtils.toEthSignedMessageHash(
                keccak256(abi.encodePacked(taskId, c.resultHash, c.resultSeal, c.enclaveChallenge))
            );
            if (!_isValidSignature(c.worker, signed, c.workerSign)) {
                revert InvalidContributionSignature(c.worker);
            }
            if (c.enclaveChallenge != address(0) && teeBroker != address(0)) {
                _checkAuthorization(deal, c.worker, taskId, c.enclaveChallenge, c.authorizationSign);
            }
            _checkEnclave(deal, c.enclaveChallenge, c.resultHash, c.resultSeal, c.enclaveSign);
            _contribute(deal, word, dealId, c.index, c.worker, c.resultHash, c.resultSeal);
        }
    }

    /// @dev The deal of a non-empty batch sent by its scheduler.
    function _loadSchedulerBatch(bytes calldata encodedDeal, bytes32 dealId, uint256 length)
        internal
        view
        returns (Deal memory deal, uint256 word)
    {
        if (length == 0) revert BatchEmpty();
        (deal, word) = _loadDeal(encodedDeal, dealId);
        if (msg.sender != deal.workerpoolOwner) revert NotTheScheduler(msg.sender);
    }

    /// @dev Count `worker`'s vote for task `index` (its authorization already checked).
    function _contribute(
        Deal memory deal,
        uint256 word,
        bytes32 dealId,
        uint256 index,
        address worker,
        bytes32 resultHash,
        bytes32 resultSeal
    ) internal {
        uint256 rel = _checkIndex(deal, index);
        if (deal.trust <= 1) revert FastPathOnly(deal.trust);
        bytes32 taskId = Deals.taskId(dealId, index);
        if (_isSettled(dealId, word, rel)) revert TaskAlreadySettled(taskId);

        Task storage task = _tasks[taskId];
        if (task.status == TaskStatus.UNSET) {
            task.status = TaskStatus.ACTIVE;
            task.total = 1;
        } else if (task.status != TaskStatus.ACTIVE) {
            revert WrongTaskStatus(taskId, task.status);
        }
        // a reopened task takes contributions until its final deadline, so that a consensus
        // whose voters stay silent late cannot leave it without a way to complete
        uint256 deadline = task.epoch == 0 ? _contributionDeadline(deal) : _finalDeadline(deal);
        if (block.timestamp >= deadline) revert DeadlinePassed(deadline);
        if (_contributions[taskId][worker] != 0) revert AlreadyContributed(worker);
        if (task.contributors >= MAX_CONTRIBUTORS) revert TooManyContributors();

        _lock(worker, deal.workerStake);
        uint256 weight = _weight(_accounts[worker].score);
        _contributions[taskId][worker] = ContributionWord.pack(resultHash, resultSeal, task.epoch, weight);
        task.contributors += 1;
        task.contributorsHash = keccak256(abi.encodePacked(task.contributorsHash, worker));
        emit TaskContribute(taskId, worker, resultHash);

        // Sarmenta: group weight is the product of its voters' weights; total = 1 + sum of groups
        uint256 group = _groups[taskId][resultHash];
        uint256 oldWeight = GroupWord.weight(group);
        uint256 newWeight = (oldWeight == 0 ? 1 : oldWeight) * weight;
        uint256 count = GroupWord.count(group) + 1;
        _groups[taskId][resultHash] = GroupWord.pack(newWeight, count);
        uint256 total = task.total + newWeight - oldWeight;
        task.total = uint136(total); // <= 1 + 16 * 2^128
        if (newWeight * deal.trust > total * (deal.trust - 1)) {
            task.status = TaskStatus.REVEALING;
            task.consensus = resultHash;
            task.winners = uint8(count);
            uint256 revealDeadline = block.timestamp + REVEAL_DEADLINE_RATIO * deal.timeref;
            uint256 finalDeadline = _finalDeadline(deal);
            task.revealDeadline = uint40(revealDeadline < finalDeadline ? revealDeadline : finalDeadline);
            emit TaskConsensus(taskId, resultHash);
        }
    }

    /// @notice Reveal the digest behind a contribution to the consensus (of any epoch, unless
    /// its vote was rejected by a reopen). A revealed worker keeps its stake if the task is
    /// claimed; the scheduler's `finalize` proves every winner anyway.
    function reveal(bytes32 taskId, bytes32 resultDigest) external delegated nonReentrant {
        Task storage task = _tasks[taskId];
        if (task.status != TaskStatus.REVEALING) revert WrongTaskStatus(taskId, task.status);
        if (block.timestamp >= task.revealDeadline) revert DeadlinePassed(task.revealDeadline);
        uint256 c = _contributions[taskId][msg.sender];
        if (ContributionWord.status(c) != ContributionWord.CONTRIBUTED) revert NotRevealable();
        bytes32 resultHash = keccak256(abi.encodePacked(taskId, resultDigest));
        bytes32 resultSeal = keccak256(abi.encodePacked(msg.sender, taskId, resultDigest));
        if (resultHash != task.consensus) revert RevealRejected();
        if (!ContributionWord.commitsTo(c, resultHash, resultSeal)) revert RevealRejected();
        _contributions[taskId][msg.sender] = ContributionWord.withStatus(c, ContributionWord.PROVED);
        task.reveals += 1;
        emit TaskReveal(taskId, msg.sender, resultDigest);
    }

    /// @notice Scheduler only: when nobody revealed a consensus by its reveal deadline, reject
    /// it and reopen contributions (until the final deadline). Exactly the voters of the rejected
    /// value are barred: they can never win and lose their stake when the task settles; every
    /// other vote stays, counts and may still win.
    /// @param contributors every contributor of the task, in contribution order.
    function reopen(
        bytes calldata encodedDeal,
        bytes32 dealId,
        uint256 index,
        address[] calldata contributors
    ) external delegated nonReentrant {
        (Deal memory deal,) = _loadDeal(encodedDeal, dealId);
        _checkIndex(deal, index);
        if (msg.sender != deal.workerpoolOwner) revert NotTheScheduler(msg.sender);
        bytes32 taskId = Deals.taskId(dealId, index);
        Task storage task = _tasks[taskId];
        if (task.status != TaskStatus.REVEALING) revert WrongTaskStatus(taskId, task.status);
        if (block.timestamp < task.revealDeadline) revert DeadlineNotReached(task.revealDeadline);
        if (task.reveals != 0) revert WrongTaskStatus(taskId, task.status);
        uint256 deadline = _finalDeadline(deal);
        if (block.timestamp >= deadline) revert DeadlinePassed(deadline);
        _checkContributors(task, contributors);
        bytes32 rejected = task.consensus;
        for (uint256 i = 0; i < contributors.length; i++) {
            uint256 c = _contributions[taskId][contributors[i]];
            if (
                ContributionWord.status(c) == ContributionWord.CONTRIBUTED
                    && ContributionWord.votes(c, rejected)
            ) {
                _contributions[taskId][contributors[i]] =
                    ContributionWord.withStatus(c, ContributionWord.REJECTED);
            }
        }
        task.total -= uint136(GroupWord.weight(_groups[taskId][rejected]));
        delete _groups[taskId][rejected];
        task.status = TaskStatus.ACTIVE;
        task.consensus = bytes32(0);
        task.winners = 0;
        task.revealDeadline = 0;
        task.epoch += 1;
        emit TaskReopen(taskId);
    }

    /// @notice Scheduler only: close a task that reached consensus, with the consensus digest.
    /// The digest proves every winning commitment at once (a winner need not have revealed; a
    /// vote for the value whose seal does not match, i.e. a copied vote, loses). Winners share
    /// the workerpool price (minus the scheduler's ratio) and the losers' stakes by weight, get
    /// their stake back and, when someone else paid, +1 score; losers lose their stake and a
    /// third of their score.
    /// @param contributors every contributor of the task, in contribution order.
    function finalize(
        bytes calldata encodedDeal,
        bytes32 dealId,
        uint256 index,
        bytes32 resultDigest,
        address[] calldata contributors,
        bytes calldata results,
        bytes calldata resultsCallback
    ) external delegated nonReentrant {
        (Deal memory deal, uint256 word) = _loadDeal(encodedDeal, dealId);
        uint256 rel = _checkIndex(deal, index);
        if (msg.sender != deal.workerpoolOwner) revert NotTheScheduler(msg.sender);
        bytes32 taskId = Deals.taskId(dealId, index);
        Task storage task = _tasks[taskId];
        if (task.status != TaskStatus.REVEALING) revert WrongTaskStatus(taskId, task.status);
        uint256 deadline = _finalDeadline(deal);
        if (block.timestamp >= deadline) revert DeadlinePassed(deadline);
        if (keccak256(abi.encodePacked(taskId, resultDigest)) != task.consensus) revert RevealRejected();
        _checkCallbackData(deal, resultDigest, resultsCallback);
        _checkContributors(task, contributors);
        _deals[dealId] = _settle(dealId, taskId, word, rel);
        task.status = TaskStatus.COMPLETED;

        (uint256 pool, uint256 workersPaid) = _distribute(deal, taskId, resultDigest, contributors);
        _paySuccess(deal, 1, pool - workersPaid);
        emit TaskFinalize(taskId, dealId, index, resultDigest, results);
        if (deal.callback != address(0)) {
            _callbackData[taskId] = resultsCallback;
            _callback(deal, taskId, resultsCallback);
        }
    }

    /// @dev A winner voted the consensus with its own seal of `digest`, and was not rejected.
    function _isWinner(uint256 c, bytes32 consensus, address worker, bytes32 taskId, bytes32 digest)
        internal
        pure
        returns (bool)
    {
        return ContributionWord.status(c) != ContributionWord.REJECTED
            && ContributionWord.commitsTo(c, consensus, keccak256(abi.encodePacked(worker, taskId, digest)));
    }

    /// @dev Pay winners, seize losers, update scores; returns the reward pool and what of it
    /// went to workers (the scheduler gets the rest). Reputation grows only from work someone
    /// else paid for: no score is gained when the payer or requester is the worker itself or the
    /// workerpool's owner (a self-dealing loop farms nothing).
    function _distribute(Deal memory deal, bytes32 taskId, bytes32 digest, address[] calldata contributors)
        internal
        returns (uint256 pool, uint256 paid)
    {
        bytes32 consensus = keccak256(abi.encodePacked(taskId, digest));
        // one pass for the pool (workerpool price + every losing stake) and the winners' weight
        bool[] memory won = new bool[](contributors.length);
        pool = deal.workerpoolPrice;
        uint256 totalWeight;
        for (uint256 i = 0; i < contributors.length; i++) {
            uint256 c = _contributions[taskId][contributors[i]];
            won[i] = _isWinner(c, consensus, contributors[i], taskId, digest);
            if (won[i]) totalWeight += _log2(ContributionWord.weight(c));
            else pool += deal.workerStake;
        }
        uint256 workersReward = pool * (100 - deal.schedulerRewardRatio) / 100;
        bool scored = contributors.length > 1 && deal.payer != deal.workerpoolOwner
            && deal.requester != deal.workerpoolOwner;
        for (uint256 i = 0; i < contributors.length; i++) {
            address worker = contributors[i];
            uint256 c = _contributions[taskId][worker];
            Account memory acc = _accounts[worker];
            acc.locked -= deal.workerStake;
            if (won[i]) {
                uint256 share = workersReward * _log2(ContributionWord.weight(c)) / totalWeight;
                paid += share;
                uint256 balance = uint256(acc.balance) + deal.workerStake + share;
                if (balance + acc.locked > type(uint112).max) revert AmountOutOfRange(share);
                acc.balance = uint112(balance);
                if (
                    scored && worker != deal.payer && worker != deal.requester && acc.score < type(uint32).max
                ) {
                    acc.score += 1;
                }
                emit AccurateContribution(worker, taskId);
            } else {
                acc.score = uint32(uint256(acc.score) * 2 / 3);
                emit FaultyContribution(worker, taskId);
            }
            _accounts[worker] = acc;
        }
    }

    function _checkContributors(Task storage task, address[] calldata contributors) internal view {
        if (contributors.length != task.contributors) revert ContributorsMismatch();
        bytes32 h;
        for (uint256 i = 0; i < contributors.length; i++) {
            h = keccak256(abi.encodePacked(h, contributors[i]));
        }
        if (h != task.contributorsHash) revert ContributorsMismatch();
    }

    /// @dev Sarmenta weight: max(score / 3, 3) - 1, capped.
    function _weight(uint256 score) internal pure returns (uint256 w) {
        w = score / 3;
        if (w < 3) w = 3;
        w -= 1;
        if (w > MAX_WEIGHT) w = MAX_WEIGHT;
    }

    /// @dev Reward weight as iExec: floor(log2(weight)), at least 1 since weight >= 2.
    function _log2(uint256 x) internal pure returns (uint256 r) {
        while (x > 1) {
            x >>= 1;
            r++;
        }
    }

    // ------------------------------------------------------------------ trust-1 batches

    /// @notice Scheduler only: settle many trust-1 tasks of one deal in one transaction. For
    /// trust 1 the scheduler's signature is what authorizes a worker, so the scheduler sending
    /// the results is the authorization; TEE deals still need each enclave's signature (and the
    /// TEE broker's authorization when set). Payments are aggregated: one credit per party
    /// (workers: one per run of consecutive tasks with the same worker). Each task's result is
    /// still emitted in its own `TaskFinalize`. Consumers are not called here: a callback deal's
    /// results are recorded (`resultFor`) and delivered by `deliverCallbacks`, so what a
    /// consumer does can never make a settlement cost more or fail.
    function pushResults(bytes calldata encodedDeal, bytes32 dealId, BatchResult[] calldata batch)
        external
        delegated
        nonReentrant
    {
        (Deal memory deal, uint256 word) = _loadSchedulerBatch(encodedDeal, dealId, batch.length);
        if (deal.trust > 1) revert ReplicationRequired(deal.trust);
        uint256 deadline = _finalDeadline(deal);
        if (block.timestamp >= deadline) revert DeadlinePassed(deadline);
        bool tee = deal.tag & TAG_TEE != 0;
        uint256 reward = _workerReward(deal);
        address runWorker;
        uint256 runAmount;
        for (uint256 i = 0; i < batch.length; i++) {
            BatchResult calldata r = batch[i];
            uint256 rel = _checkIndex(deal, r.index);
            if (r.worker == address(0)) revert ZeroWorker(r.index);
            bytes32 taskId = Deals.taskId(dealId, r.index);
            if (tee || r.enclaveChallenge != address(0)) {
                if (teeBroker != address(0)) {
                    _checkAuthorization(deal, r.worker, taskId, r.enclaveChallenge, r.authorizationSign);
                }
                _checkEnclave(
                    deal,
                    r.enclaveChallenge,
                    keccak256(abi.encodePacked(taskId, r.resultDigest)),
                    keccak256(abi.encodePacked(r.worker, taskId, r.resultDigest)),
                    r.enclaveSign
                );
            }
            _checkCallbackData(deal, r.resultDigest, r.resultsCallback);
            word = _settle(dealId, taskId, word, rel);
            if (deal.callback != address(0)) {
                _callbackData[taskId] = r.resultsCallback;
                _markPending(dealId, rel);
            }
            if (r.worker != runWorker) {
                if (runAmount != 0) _credit(runWorker, runAmount);
                runWorker = r.worker;
                runAmount = 0;
            }
            runAmount += reward;
            emit TaskFinalize(taskId, dealId, r.index, r.resultDigest, r.results);
        }
        _credit(runWorker, runAmount);
        _deals[dealId] = word;
        _paySuccess(deal, batch.length, (uint256(deal.workerpoolPrice) - reward) * batch.length);
    }

    /// @notice Anyone: deliver the recorded results of tasks settled by `pushResults` to the
    /// deal's consumer, each task exactly once, each call with the consumer's full gas cap (a
    /// consumer that reverts or burns its gas only costs its own cap).
    function deliverCallbacks(bytes calldata encodedDeal, bytes32 dealId, uint256[] calldata indices)
        external
        delegated
        nonReentrant
    {
        if (indices.length == 0) revert BatchEmpty();
        (Deal memory deal,) = _loadDeal(encodedDeal, dealId);
        for (uint256 i = 0; i < indices.length; i++) {
            uint256 rel = _checkIndex(deal, indices[i]);
            bytes32 taskId = Deals.taskId(dealId, indices[i]);
            uint256 bits = _pendingCallbacks[dealId][rel >> 8];
            uint256 bit = 1 << (rel & 0xff);
            if (bits & bit == 0) revert CallbackNotPending(taskId);
            _pendingCallbacks[dealId][rel >> 8] = bits & ~bit;
            _callback(deal, taskId, _callbackData[taskId]);
        }
    }

    /// @notice True while the result of task `index` (settled by `pushResults`) waits for
    /// `deliverCallbacks`.
    function isCallbackPending(bytes32 dealId, uint256 index, uint256 botFirst)
        external
        view
        delegated
        returns (bool)
    {
        uint256 rel = index - botFirst;
        return _pendingCallbacks[dealId][rel >> 8] & (1 << (rel & 0xff)) != 0;
    }

    function _markPending(bytes32 dealId, uint256 rel) internal {
        _pendingCallbacks[dealId][rel >> 8] |= 1 << (rel & 0xff);
    }

    // ------------------------------------------------------------------ claims

    /// @notice Anyone, once the final deadline passed: fail an unsettled task. The payer gets the
    /// task price back (and nothing more); the scheduler's stake goes to the kitty. Contributors
    /// get their stake back unless they were wrong or silent: on a task in consensus, everyone
    /// who did not reveal it (voters of other values, and its own voters who stayed silent)
    /// loses the stake to the kitty and a third of the score; on a task without consensus only
    /// the voters of a rejected consensus do.
    /// @param contributors the task's contributors in order (empty if nobody contributed).
    function claim(bytes calldata encodedDeal, bytes32 dealId, uint256 index, address[] calldata contributors)
        external
        delegated
        nonReentrant
    {
        (Deal memory deal, uint256 word) = _loadDeal(encodedDeal, dealId);
        uint256 rel = _checkIndex(deal, index);
        uint256 deadline = _finalDeadline(deal);
        if (block.timestamp < deadline) revert DeadlineNotReached(deadline);
        bytes32 taskId = Deals.taskId(dealId, index);
        _deals[dealId] = _settle(dealId, taskId, word, rel);
        Task storage task = _tasks[taskId];
        uint256 seized;
        if (task.status != TaskStatus.UNSET) {
            _checkContributors(task, contributors);
            bool consensus = task.status == TaskStatus.REVEALING;
            task.status = TaskStatus.FAILED;
            for (uint256 i = 0; i < contributors.length; i++) {
                uint256 status = ContributionWord.status(_contributions[taskId][contributors[i]]);
                bool kept =
                    consensus ? status == ContributionWord.PROVED : status != ContributionWord.REJECTED;
                if (kept) {
                    _unlockAndCredit(contributors[i], deal.workerStake, deal.workerStake);
                } else {
                    Account memory acc = _accounts[contributors[i]];
                    acc.locked -= deal.workerStake;
                    acc.score = uint32(uint256(acc.score) * 2 / 3);
                    _accounts[contributors[i]] = acc;
                    seized += deal.workerStake;
                    emit FaultyContribution(contributors[i], taskId);
                }
            }
        } else if (contributors.length != 0) {
            revert ContributorsMismatch();
        }
        _payFailure(deal, 1, seized);
        emit TaskClaimed(taskId, dealId, index);
    }

    /// @notice Anyone, once the final deadline passed: claim many tasks of one deal that nobody
    /// contributed to (a whole expired bag in one transaction; tasks with contributors go through
    /// `claim`, which settles their stakes). Same money as `claim`, aggregated: one refund for
    /// the payer, one stake seizure for the scheduler.
    function claimBatch(bytes calldata encodedDeal, bytes32 dealId, uint256[] calldata indices)
        external
        delegated
        nonReentrant
    {
        if (indices.length == 0) revert BatchEmpty();
        (Deal memory deal, uint256 word) = _loadDeal(encodedDeal, dealId);
        uint256 deadline = _finalDeadline(deal);
        if (block.timestamp < deadline) revert DeadlineNotReached(deadline);
        for (uint256 i = 0; i < indices.length; i++) {
            uint256 rel = _checkIndex(deal, indices[i]);
            bytes32 taskId = Deals.taskId(dealId, indices[i]);
            if (_tasks[taskId].status != TaskStatus.UNSET) revert TaskHasContributors(taskId);
            word = _settle(dealId, taskId, word, rel);
            emit TaskClaimed(taskId, dealId, indices[i]);
        }
        _deals[dealId] = word;
        _payFailure(deal, indices.length, 0);
    }

    /// @dev Money of `n` failed tasks: the payer's locked price comes back, no more; the
    /// scheduler's stakes and the workers' `seized` stakes (already unlocked) go to the kitty.
    function _payFailure(Deal memory deal, uint256 n, uint256 seized) internal {
        uint256 taskPrice = uint256(deal.appPrice) + deal.datasetPrice + deal.workerpoolPrice;
        uint256 stake = _schedulerStake(deal.workerpoolPrice) * n;
        _unlockAndCredit(deal.workerpoolOwner, stake, 0);
        _unlockAndCredit(deal.payer, taskPrice * n, taskPrice * n);
        _credit(KITTY, stake + seized);
    }

    // ------------------------------------------------------------------ views

    /// @notice State of a replicated task (all zero for trust-1 tasks, which have none).
    function viewTask(bytes32 taskId) external view delegated returns (Task memory) {
        return _tasks[taskId];
    }

    /// @notice A worker's contribution: status (0 none, 1 contributed, 2 proved, 3 rejected by a
    /// reopen), weight, the task's epoch when it was cast.
    function viewContribution(bytes32 taskId, address worker)
        external
        view
        delegated
        returns (uint256 status, uint256 weight, uint256 epoch)
    {
        uint256 c = _contributions[taskId][worker];
        return (ContributionWord.status(c), ContributionWord.weight(c), ContributionWord.epoch(c));
    }

    /// @notice Weight and number of voters of a result hash in a task's consensus.
    function viewGroup(bytes32 taskId, bytes32 resultHash)
        external
        view
        delegated
        returns (uint256 weight, uint256 count)
    {
        uint256 g = _groups[taskId][resultHash];
        return (GroupWord.weight(g), GroupWord.count(g));
    }

    /// @notice True once task `index` of `dealId` is settled (completed or claimed).
    function isTaskSettled(bytes32 dealId, uint256 index, uint256 botFirst)
        external
        view
        delegated
        returns (bool)
    {
        return _isSettled(dealId, _deals[dealId], index - botFirst);
    }

    /// @notice EIP-1154 pull interface: the callback data of a completed callback task.
    /// Reverts with `ResultPending` until the task completed with callback data.
    function resultFor(bytes32 taskId) external view delegated returns (bytes memory data) {
        data = _callbackData[taskId];
        if (data.length == 0) revert ResultPending(taskId);
    }

    /// @notice A workerpool's stake and reward ratios in force now, and the ones its owner
    /// announced with the time they take effect (equal to the ratios in force and 0 when
    /// nothing is pending). Deals matched before `effectiveAt` get the ratios in force.
    function viewWorkerpoolPolicy(address workerpool)
        external
        view
        delegated
        returns (
            uint256 workerStakeRatio,
            uint256 schedulerRewardRatio,
            uint256 pendingWorkerStakeRatio,
            uint256 pendingSchedulerRewardRatio,
            uint256 effectiveAt
        )
    {
        uint256 word = _assets[workerpool];
        (workerStakeRatio, schedulerRewardRatio) = AssetWord.ratiosAt(word, block.timestamp);
        (pendingWorkerStakeRatio, pendingSchedulerRewardRatio) = AssetWord.pendingRatios(word);
        effectiveAt = AssetWord.effectiveAt(word);
        if (effectiveAt <= block.timestamp) effectiveAt = 0;
    }

    /// @notice Stakes seized on claims so far (held by the hub, paid to nobody; see `KITTY`).
    function kitty() external view delegated returns (uint256) {
        return _accounts[KITTY].balance;
    }

    /// @notice Gas forwarded to callbacks.
    function callbackGasLimit() external view delegated returns (uint256) {
        return _callbackGasLimit;
    }

    // ------------------------------------------------------------------ execution admin

    /// @notice Owner only: gas forwarded to callbacks (50 000 .. 5 000 000).
    function setCallbackGas(uint256 gasLimit) external delegated onlyOwner {
        if (gasLimit < 50_000 || gasLimit > 5_000_000) revert InvalidCallbackGas(gasLimit);
        _callbackGasLimit = gasLimit;
        emit CallbackGasUpdated(gasLimit);
    }

    /// @notice Owner only: the TEE broker (SMS) that authorizes enclave contributions; zero
    /// lets schedulers authorize enclaves themselves.
    function setTeeBroker(address broker) external delegated onlyOwner {
        teeBroker = broker;
        emit TeeBrokerUpdated(broker);
    }
}
