// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Hub} from "../../src/Hub.sol";
import {HubPoco} from "../../src/HubPoco.sol";
import {DevToken} from "../../src/token/DevToken.sol";
import {AppRegistry} from "../../src/registries/AppRegistry.sol";
import {DatasetRegistry} from "../../src/registries/DatasetRegistry.sol";
import {WorkerpoolRegistry} from "../../src/registries/WorkerpoolRegistry.sol";

/// @notice A full deployment, in the order production uses (dexec_contracts::deploy::deploy_hub).
struct System {
    DevToken token;
    AppRegistry apps;
    DatasetRegistry datasets;
    WorkerpoolRegistry workerpools;
    Hub hub;
}

/// @notice A hub and its execution module over the given token and registries, owned by `owner`.
function deployHub(
    address owner,
    IERC20 token,
    AppRegistry apps,
    DatasetRegistry datasets,
    WorkerpoolRegistry workerpools
) returns (Hub) {
    HubPoco module = new HubPoco(owner, token, apps, datasets, workerpools);
    return new Hub(owner, token, apps, datasets, workerpools, address(module));
}

/// @notice Token, registries bound to a new hub, and category XS, owned by `owner`, which must be
/// the calling contract (registries accept `bindHub` from their deployer, the caller).
function deploySystem(address owner) returns (System memory s) {
    s.token = new DevToken(owner);
    s.apps = new AppRegistry();
    s.datasets = new DatasetRegistry();
    s.workerpools = new WorkerpoolRegistry();
    s.hub = deployHub(owner, IERC20(address(s.token)), s.apps, s.datasets, s.workerpools);
    s.apps.bindHub(s.hub);
    s.datasets.bindHub(s.hub);
    s.workerpools.bindHub(s.hub);
    s.hub.createCategory("XS", "extra small", 300);
}
