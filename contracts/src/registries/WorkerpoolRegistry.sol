// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {AssetRegistry} from "./AssetRegistry.sol";

/// @title WorkerpoolRegistry: workerpools (a scheduler and its workers) as NFTs.
/// @notice The NFT holder is the scheduler: it signs workerpool orders and contribution
/// authorizations, stakes for its deals and is paid. Its policy sets the worker stake
/// (percent of the workerpool price each contributing worker stakes) and the scheduler's
/// share of the workerpool price; both are bounded to [0, 100] (iExec leaves the stake ratio
/// unbounded) and are frozen into each deal at match time, so a change never touches running deals.
contract WorkerpoolRegistry is AssetRegistry {
    /// @notice Policy defaults, as iExec's.
    uint8 public constant DEFAULT_WORKER_STAKE_RATIO = 30;
    uint8 public constant DEFAULT_SCHEDULER_REWARD_RATIO = 1;

    struct Workerpool {
        string description;
        uint8 workerStakeRatio;
        uint8 schedulerRewardRatio;
    }

    mapping(address workerpool => Workerpool) internal _workerpools;

    /// @notice A policy ratio above 100 percent.
    error RatioOutOfRange(uint256 ratio);

    /// @notice A workerpool was registered (its NFT minted to `owner`) with the default policy.
    event WorkerpoolCreated(address indexed workerpool, address indexed owner, string description);
    /// @notice The owner changed the workerpool's policy (ratios in percent); running deals keep
    /// the policy they were matched with.
    event PolicyUpdated(
        address indexed workerpool,
        uint8 oldWorkerStakeRatio,
        uint8 newWorkerStakeRatio,
        uint8 oldSchedulerRewardRatio,
        uint8 newSchedulerRewardRatio
    );
    /// @notice The owner changed the workerpool's description.
    event DescriptionUpdated(address indexed workerpool, string description);

    constructor() AssetRegistry("dexec workerpools", "DXPOOL") {}

    /// @notice Register a workerpool owned by `owner` with the default policy.
    function createWorkerpool(address owner, string calldata description)
        external
        returns (address workerpool)
    {
        workerpool = _reserve(owner, abi.encode(description));
        _workerpools[workerpool] =
            Workerpool(description, DEFAULT_WORKER_STAKE_RATIO, DEFAULT_SCHEDULER_REWARD_RATIO);
        _safeMint(owner, uint256(uint160(workerpool)));
        emit WorkerpoolCreated(workerpool, owner, description);
    }

    /// @notice The address `createWorkerpool` would give these arguments.
    function predictWorkerpool(address owner, string calldata description) external view returns (address) {
        return _predict(owner, abi.encode(description));
    }

    /// @notice Owner only: change the worker stake and scheduler reward ratios (percent, 0..100).
    function changePolicy(address workerpool, uint8 workerStakeRatio, uint8 schedulerRewardRatio) external {
        _requireOwner(workerpool);
        if (workerStakeRatio > 100) revert RatioOutOfRange(workerStakeRatio);
        if (schedulerRewardRatio > 100) revert RatioOutOfRange(schedulerRewardRatio);
        Workerpool storage wp = _workerpools[workerpool];
        emit PolicyUpdated(
            workerpool, wp.workerStakeRatio, workerStakeRatio, wp.schedulerRewardRatio, schedulerRewardRatio
        );
        wp.workerStakeRatio = workerStakeRatio;
        wp.schedulerRewardRatio = schedulerRewardRatio;
        _syncHub(workerpool, _ownerOf(uint256(uint160(workerpool))));
    }

    /// @dev Workerpools also mirror their policy into the hub.
    function _syncHub(address workerpool, address owner) internal override {
        if (address(hub) == address(0)) revert HubNotBound();
        Workerpool storage wp = _workerpools[workerpool];
        hub.onAssetUpdate(workerpool, owner, wp.workerStakeRatio, wp.schedulerRewardRatio);
    }

    /// @notice Owner only: change the description.
    function changeDescription(address workerpool, string calldata description) external {
        _requireOwner(workerpool);
        _workerpools[workerpool].description = description;
        emit DescriptionUpdated(workerpool, description);
    }

    /// @notice Owner (zero if unregistered) and policy.
    function ownerAndPolicy(address workerpool)
        external
        view
        returns (address owner, uint8 workerStakeRatio, uint8 schedulerRewardRatio)
    {
        owner = _ownerOf(uint256(uint160(workerpool)));
        Workerpool storage wp = _workerpools[workerpool];
        return (owner, wp.workerStakeRatio, wp.schedulerRewardRatio);
    }

    /// @notice Metadata and policy of a registered workerpool (reverts for unknown ones).
    function viewWorkerpool(address workerpool) external view returns (Workerpool memory) {
        _requireOwned(uint256(uint160(workerpool)));
        return _workerpools[workerpool];
    }
}
