// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @notice State of a replicated task (trust > 1). Trust-1 tasks have none: they settle in one
/// transaction and stay UNSET.
enum TaskStatus {
    UNSET,
    ACTIVE, // taking contributions
    REVEALING, // a result reached consensus: its voters reveal
    COMPLETED,
    FAILED // claimed past its final deadline after someone contributed
}

/// @notice A replicated task as stored by the hub (`viewTask`). Slot 0 packs the counters, the
/// reveal deadline and the Sarmenta total; slots 1 and 2 hold the consensus and the contributors'
/// rolling hash.
struct Task {
    TaskStatus status;
    uint8 contributors;
    uint8 reveals;
    uint8 winners;
    uint8 epoch; // bumped by each reopen (recorded in contributions; the rejected value's voters are marked REJECTED)
    uint40 revealDeadline;
    uint136 total; // 1 + sum of group weights (Sarmenta); < 2^133 with the weight cap
    bytes32 consensus; // winning resultHash once REVEALING
    bytes32 contributorsHash; // rolling keccak of contributor addresses, in order
}

/// @title Errors of the execution side (tasks, Proof-of-Contribution, settlement), raised by the
/// hub's fast path and by its execution module.
interface IPocoErrors {
    /// @notice The task index is outside the deal's bag of tasks [botFirst, botFirst + botSize).
    /// @param index the absolute task index passed.
    error TaskIndexOutOfRange(uint256 index, uint256 botFirst, uint256 botSize);
    /// @notice The task was already settled (completed or claimed): nothing is paid twice.
    error TaskAlreadySettled(bytes32 taskId);
    /// @notice The task is not in the state this call needs.
    /// @param status the task's current state.
    error WrongTaskStatus(bytes32 taskId, TaskStatus status);
    /// @notice Too late: the deadline (unix time) of this step has passed.
    error DeadlinePassed(uint256 deadline);
    /// @notice Too early: this step opens at `deadline` (unix time).
    error DeadlineNotReached(uint256 deadline);
    /// @notice `contribute` is for replicated deals (trust > 1); trust-1 tasks settle through
    /// `contributeAndFinalize` or `pushResults`.
    error FastPathOnly(uint256 trust);
    /// @notice A deal with trust > 1 needs replicated PoCo (`contribute`, `reveal`, `finalize`).
    error ReplicationRequired(uint256 trust);
    /// @notice The worker's authorization is not signed by the scheduler (or, for an enclave when
    /// a TEE broker is set, by the broker) for this worker, task and enclave.
    error InvalidAuthorization();
    /// @notice A TEE deal needs a result signed by an enclave.
    error EnclaveRequired();
    /// @notice The enclave did not sign keccak256(resultHash ‖ resultSeal).
    error InvalidEnclaveSignature();
    /// @notice A callback deal's data does not hash to the result digest, or a deal without a
    /// callback got callback data.
    error CallbackDataMismatch();
    /// @notice This worker already contributed to the task.
    error AlreadyContributed(address worker);
    /// @notice The task has `MAX_CONTRIBUTORS` contributions already.
    error TooManyContributors();
    /// @notice Only the deal's scheduler (the workerpool owner at match time) may do this.
    error NotTheScheduler(address caller);
    /// @notice The list passed is not the task's contributors in contribution order.
    error ContributorsMismatch();
    /// @notice The revealed digest does not give the consensus, or not the worker's commitment.
    error RevealRejected();
    /// @notice The caller has no contribution waiting to be revealed (none, already proved, or
    /// rejected by a reopen).
    error NotRevealable();
    /// @notice The transaction does not carry enough gas to give the callback its full cap.
    error NotEnoughGasForCallback();
    /// @notice Callback gas must be within 50 000 ..= 5 000 000.
    error InvalidCallbackGas(uint256 gasLimit);
    /// @notice A batch call with no task in it.
    error BatchEmpty();
    /// @notice `claimBatch` is for tasks nobody contributed to; use `claim` with the contributors.
    error TaskHasContributors(bytes32 taskId);
    /// @notice A batch names no worker for a task (its reward would be lost).
    error ZeroWorker(uint256 index);
    /// @notice The worker did not sign this contribution (keccak256(taskId ‖ resultHash ‖
    /// resultSeal ‖ enclave) as an EIP-191 message).
    error InvalidContributionSignature(address worker);
    /// @notice No recorded result of this task waits for delivery to the consumer (not settled
    /// by `pushResults`, no callback, or already delivered).
    error CallbackNotPending(bytes32 taskId);
}

/// @title Errors only the execution module raises (declared apart so that the hub's ABI lists
/// exactly the errors the hub's address can return from its own code).
interface IPocoModuleErrors {
    /// @notice The execution module was called directly: call the hub's address instead.
    error NotDelegated();
    /// @notice No callback result recorded for this task (yet).
    error ResultPending(bytes32 taskId);
}

/// @title Events of the execution side.
interface IPocoEvents {
    /// @notice A worker committed a result of a replicated task.
    /// @param resultHash keccak256(taskId ‖ digest): the worker's vote.
    event TaskContribute(bytes32 indexed taskId, address indexed worker, bytes32 resultHash);
    /// @notice A result reached consensus; its voters may reveal until the reveal deadline.
    /// @param consensus the winning resultHash.
    event TaskConsensus(bytes32 indexed taskId, bytes32 consensus);
    /// @notice A winner revealed the digest behind its contribution.
    event TaskReveal(bytes32 indexed taskId, address indexed worker, bytes32 resultDigest);
    /// @notice No winner revealed in time: the consensus was dropped and contributions reopened.
    event TaskReopen(bytes32 indexed taskId);
    /// @notice A task completed with `resultDigest`; `results` is the off-chain results link.
    /// @param index the task's absolute index in the deal's bag.
    event TaskFinalize(
        bytes32 indexed taskId, bytes32 indexed dealId, uint256 index, bytes32 resultDigest, bytes results
    );
    /// @notice A task failed past its final deadline: its payer was refunded, the scheduler's
    /// stake went to the kitty.
    event TaskClaimed(bytes32 indexed taskId, bytes32 indexed dealId, uint256 index);
    /// @notice The worker's contribution won: it was paid, got its stake back and +1 score.
    event AccurateContribution(address indexed worker, bytes32 indexed taskId);
    /// @notice The worker's contribution lost (voted another value, was rejected by a reopen, or
    /// was never revealed on a claimed task): stake seized, score cut by a third.
    event FaultyContribution(address indexed worker, bytes32 indexed taskId);
    /// @notice The task's callback was called; `success` false if it reverted or ran out of gas.
    event CallbackResult(bytes32 indexed taskId, address indexed callback, bool success);
    /// @notice The owner set the gas forwarded to callbacks.
    event CallbackGasUpdated(uint256 gasLimit);
    /// @notice The owner set (or, with zero, removed) the TEE broker.
    event TeeBrokerUpdated(address teeBroker);
}
