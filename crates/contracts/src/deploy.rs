//! Deploy a complete hub: token, registries, hub and the default categories.

use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::Provider;
use dexec_primitives::DEFAULT_CATEGORIES;
use serde::{Deserialize, Serialize};

use crate::bindings::{AppRegistry, DatasetRegistry, DevToken, Hub, HubPoco, WorkerpoolRegistry};
use crate::error::Result;
use crate::tx::send;

/// Addresses of one deployment of the dexec contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The base token (on a devnet, the mintable [`DevToken`]).
    pub token: Address,
    /// The app registry.
    pub app_registry: Address,
    /// The dataset registry.
    pub dataset_registry: Address,
    /// The workerpool registry.
    pub workerpool_registry: Address,
    /// The hub (escrow, matching, deals); also the EIP-712 verifying contract.
    pub hub: Address,
    /// The hub's execution module (code only; always call it at the hub's address).
    #[serde(default)]
    pub poco_module: Address,
}

impl Deployment {
    /// The hub bound to `provider`.
    pub fn hub<P: Provider>(&self, provider: P) -> Hub::HubInstance<P> {
        Hub::new(self.hub, provider)
    }

    /// The hub's execution functions (`HubPoco` ABI at the hub's address).
    pub fn poco<P: Provider>(&self, provider: P) -> HubPoco::HubPocoInstance<P> {
        HubPoco::new(self.hub, provider)
    }

    /// The dev token bound to `provider`.
    pub fn token<P: Provider>(&self, provider: P) -> DevToken::DevTokenInstance<P> {
        DevToken::new(self.token, provider)
    }

    /// The app registry bound to `provider`.
    pub fn app_registry<P: Provider>(&self, provider: P) -> AppRegistry::AppRegistryInstance<P> {
        AppRegistry::new(self.app_registry, provider)
    }

    /// The dataset registry bound to `provider`.
    pub fn dataset_registry<P: Provider>(
        &self,
        provider: P,
    ) -> DatasetRegistry::DatasetRegistryInstance<P> {
        DatasetRegistry::new(self.dataset_registry, provider)
    }

    /// The workerpool registry bound to `provider`.
    pub fn workerpool_registry<P: Provider>(
        &self,
        provider: P,
    ) -> WorkerpoolRegistry::WorkerpoolRegistryInstance<P> {
        WorkerpoolRegistry::new(self.workerpool_registry, provider)
    }
}

/// Deploy `DevToken(owner)`, the three registries, the execution module `HubPoco` and
/// `Hub(owner, token, registries, module)`, bind
/// each registry to the hub (`bindHub`), then create the default categories (XS … XL, ids 0 … 4).
///
/// Every transaction is sent from `owner`, so `provider` must be able to sign for it (a wallet
/// holding its key, e.g. [`signing_provider`](crate::tx::signing_provider), or an unlocked
/// dev account). `owner` owns the hub and mints the token.
/// Transactions are sent one after the other, each waiting for its receipt: on a chain with
/// a block time that takes thirteen blocks.
pub async fn deploy_hub<P: Provider>(provider: &P, owner: Address) -> Result<Deployment> {
    let token = DevToken::deploy_builder(provider, owner)
        .from(owner)
        .deploy()
        .await?;
    let app_registry = AppRegistry::deploy_builder(provider)
        .from(owner)
        .deploy()
        .await?;
    let dataset_registry = DatasetRegistry::deploy_builder(provider)
        .from(owner)
        .deploy()
        .await?;
    let workerpool_registry = WorkerpoolRegistry::deploy_builder(provider)
        .from(owner)
        .deploy()
        .await?;
    // the execution module carries the same immutables as the hub (it runs on the hub's storage)
    let poco_module = HubPoco::deploy_builder(
        provider,
        owner,
        token,
        app_registry,
        dataset_registry,
        workerpool_registry,
    )
    .from(owner)
    .deploy()
    .await?;
    let hub = Hub::deploy_builder(
        provider,
        owner,
        token,
        app_registry,
        dataset_registry,
        workerpool_registry,
        poco_module,
    )
    .from(owner)
    .deploy()
    .await?;
    let deployment = Deployment {
        token,
        app_registry,
        dataset_registry,
        workerpool_registry,
        hub,
        poco_module,
    };
    // The registries push every owner (and policy) change to the hub; only their deployer
    // may bind them, once, before any asset exists.
    send(
        &AppRegistry::new(app_registry, provider)
            .bindHub(hub)
            .from(owner),
    )
    .await?;
    send(
        &DatasetRegistry::new(dataset_registry, provider)
            .bindHub(hub)
            .from(owner),
    )
    .await?;
    send(
        &WorkerpoolRegistry::new(workerpool_registry, provider)
            .bindHub(hub)
            .from(owner),
    )
    .await?;
    create_default_categories(provider, hub, owner).await?;
    Ok(deployment)
}

/// A fingerprint of the contracts [`deploy_hub`] deploys: keccak256 of the keccak256 of each
/// creation bytecode. It changes whenever the bindings are re-exported from changed contracts,
/// so a saved devnet can tell that its deployment is stale.
pub fn artifacts_fingerprint() -> B256 {
    let hashes: Vec<u8> = [
        &DevToken::BYTECODE,
        &AppRegistry::BYTECODE,
        &DatasetRegistry::BYTECODE,
        &WorkerpoolRegistry::BYTECODE,
        &HubPoco::BYTECODE,
        &Hub::BYTECODE,
    ]
    .iter()
    .flat_map(|code| keccak256(code.as_ref()).0)
    .collect();
    keccak256(hashes)
}

/// Create [`DEFAULT_CATEGORIES`] on `hub` (sent by its owner `owner`).
pub async fn create_default_categories<P: Provider>(
    provider: &P,
    hub: Address,
    owner: Address,
) -> Result<()> {
    let hub = Hub::new(hub, provider);
    for category in DEFAULT_CATEGORIES {
        let call = hub
            .createCategory(
                category.name.to_owned(),
                category.description.to_owned(),
                U256::from(category.timeref),
            )
            .from(owner);
        send(&call).await?;
    }
    Ok(())
}
