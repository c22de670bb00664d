//! Generated bindings: one module per exported forge artifact (`abi/*.json`).
//!
//! Each module holds the contract's ABI structs (with `sign` fields where Solidity has them),
//! call builders (`Hub::new(address, provider).matchOrders(...)`), events, a `…Errors` enum
//! of its custom errors, and `deploy` / `deploy_builder` from the artifact's bytecode.
#![allow(missing_docs, clippy::too_many_arguments)]

use alloy::sol;

sol!(
    /// The hub: escrow, categories, order matching, deals and the trust-1 fast path.
    #[sol(rpc, all_derives)]
    Hub,
    "abi/Hub.json"
);

/// The execution module's bindings live in their own namespace: its artifact shares struct
/// namespaces (`HubBase`, `Settlement`) with the hub's, which `sol!` would generate twice.
pub mod poco {
    #![allow(missing_docs, clippy::too_many_arguments)]
    use alloy::sol;

    sol!(
        /// The hub's execution module (replicated PoCo, batches, claims, execution views and
        /// admin). It runs by DELEGATECALL from the hub: bind it at the *hub's* address
        /// ([`Deployment::poco`](crate::deploy::Deployment::poco)).
        #[sol(rpc, all_derives)]
        HubPoco,
        "abi/HubPoco.json"
    );
}
pub use poco::HubPoco;

sol!(
    /// Registry of apps (ERC-721; an app's address is its token id).
    #[sol(rpc, all_derives)]
    AppRegistry,
    "abi/AppRegistry.json"
);

sol!(
    /// Registry of datasets (ERC-721).
    #[sol(rpc, all_derives)]
    DatasetRegistry,
    "abi/DatasetRegistry.json"
);

sol!(
    /// Registry of workerpools (ERC-721) and their stake / reward policy.
    #[sol(rpc, all_derives)]
    WorkerpoolRegistry,
    "abi/WorkerpoolRegistry.json"
);

sol!(
    /// The devnet's 9-decimal test token; its owner mints.
    #[sol(rpc, all_derives)]
    DevToken,
    "abi/DevToken.json"
);

sol!(
    /// A price feed kept up to date by dexec tasks (`contracts/src/oracle/PriceFeedOracle.sol`):
    /// `requestUpdate` presigns a volume-1 request order on the hub and emits it whole in
    /// `ResultRequested` (for the market); the task's callback data
    /// `abi.encode(int256 value, uint256 timestamp)` updates the feed; readers pull `valueFor`
    /// (EIP-2362 shape: status 200 fresh, 404 none, 408 stale) or `latest`. Its ABI types
    /// (`RequestOrder`, `OracleRequest`) are file-level, so they live in this module.
    #[sol(rpc, all_derives)]
    PriceFeedOracle,
    "abi/PriceFeedOracle.json"
);

sol!(
    /// The example request/response consumer (`contracts/src/oracle/examples/HashCheckConsumer.sol`):
    /// a wallet's request names it as callback; it keeps the last callback data and decodes
    /// `abi.encode(bool)` answers per task.
    #[sol(rpc, all_derives)]
    HashCheckConsumer,
    "abi/HashCheckConsumer.json"
);
