//! Assets: apps, datasets and workerpools, each an ERC-721 token of its registry whose
//! address is the token id.

use alloy::primitives::{Address, Bytes, B256, U256};
use dexec_contracts::tx::{find_event, send};
use dexec_contracts::{AppRegistry, DatasetRegistry, WorkerpoolRegistry};
use serde::{Deserialize, Serialize};

pub use dexec_primitives::kinds::AssetKind;

use crate::client::{Client, TxOutcome};
use crate::error::{contract, Error, Result};

/// What registers an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSpec {
    /// Name.
    pub name: String,
    /// Type of app, "WASM" for dexec's runtime.
    #[serde(rename = "type", default = "wasm")]
    pub app_type: String,
    /// Where the module can be fetched (a store URL, a path or any URI).
    pub multiaddr: String,
    /// sha256 of the module.
    pub checksum: B256,
    /// TEE measurement, empty if the app does not run in an enclave.
    #[serde(default)]
    pub mrenclave: Bytes,
}

fn wasm() -> String {
    "WASM".into()
}

/// What registers a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// Name.
    pub name: String,
    /// Where the (usually encrypted) data can be fetched.
    pub multiaddr: String,
    /// sha256 of the data as fetched.
    pub checksum: B256,
}

/// What registers a workerpool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerpoolSpec {
    /// Description.
    pub description: String,
}

/// Result of a deploy: the asset's address, and whether this call created it (deploying the
/// same asset twice is harmless: the address is deterministic and the second call sends
/// nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployed {
    /// Kind of asset.
    pub kind: AssetKind,
    /// Its address.
    pub address: Address,
    /// The transaction that created it, `None` if it existed already.
    pub tx: Option<TxOutcome>,
}

/// A registered asset and its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetInfo {
    /// Kind of asset.
    pub kind: AssetKind,
    /// Address (= token id).
    pub address: Address,
    /// Current owner.
    pub owner: Address,
    /// Kind-specific metadata.
    #[serde(flatten)]
    pub details: AssetDetails,
}

/// Metadata of each kind of asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AssetDetails {
    /// An app.
    App(AppSpec),
    /// A dataset.
    Dataset(DatasetSpec),
    /// A workerpool and its policy.
    #[serde(rename_all = "camelCase")]
    Workerpool {
        /// Description.
        description: String,
        /// Percent of the workerpool price each contributing worker stakes.
        worker_stake_ratio: u8,
        /// Percent of the workerpool price the scheduler keeps.
        scheduler_reward_ratio: u8,
    },
}

impl Client {
    /// Register an app owned by the wallet (or report the existing identical one).
    pub async fn deploy_app(&self, spec: &AppSpec) -> Result<Deployed> {
        let me = self.address()?;
        let registry = self.deployment().app_registry(self.provider());
        let multiaddr = Bytes::from(spec.multiaddr.clone().into_bytes());
        let predicted = registry
            .predictApp(
                me,
                spec.name.clone(),
                spec.app_type.clone(),
                multiaddr.clone(),
                spec.checksum,
                spec.mrenclave.clone(),
            )
            .call()
            .await
            .map_err(contract)?;
        if self.asset_owner(AssetKind::App, predicted).await?.is_some() {
            return Ok(Deployed {
                kind: AssetKind::App,
                address: predicted,
                tx: None,
            });
        }
        let call = registry.createApp(
            me,
            spec.name.clone(),
            spec.app_type.clone(),
            multiaddr,
            spec.checksum,
            spec.mrenclave.clone(),
        );
        let receipt = send(&call).await?;
        let event = find_event::<AppRegistry::AppCreated>(&receipt, *registry.address())?;
        Ok(Deployed {
            kind: AssetKind::App,
            address: event.app,
            tx: Some(TxOutcome::from(&receipt)),
        })
    }

    /// Register a dataset owned by the wallet (or report the existing identical one).
    pub async fn deploy_dataset(&self, spec: &DatasetSpec) -> Result<Deployed> {
        let me = self.address()?;
        let registry = self.deployment().dataset_registry(self.provider());
        let multiaddr = Bytes::from(spec.multiaddr.clone().into_bytes());
        let predicted = registry
            .predictDataset(me, spec.name.clone(), multiaddr.clone(), spec.checksum)
            .call()
            .await
            .map_err(contract)?;
        if self
            .asset_owner(AssetKind::Dataset, predicted)
            .await?
            .is_some()
        {
            return Ok(Deployed {
                kind: AssetKind::Dataset,
                address: predicted,
                tx: None,
            });
        }
        let call = registry.createDataset(me, spec.name.clone(), multiaddr, spec.checksum);
        let receipt = send(&call).await?;
        let event = find_event::<DatasetRegistry::DatasetCreated>(&receipt, *registry.address())?;
        Ok(Deployed {
            kind: AssetKind::Dataset,
            address: event.dataset,
            tx: Some(TxOutcome::from(&receipt)),
        })
    }

    /// Register a workerpool owned by the wallet (or report the existing identical one).
    pub async fn deploy_workerpool(&self, spec: &WorkerpoolSpec) -> Result<Deployed> {
        let me = self.address()?;
        let registry = self.deployment().workerpool_registry(self.provider());
        let predicted = registry
            .predictWorkerpool(me, spec.description.clone())
            .call()
            .await
            .map_err(contract)?;
        if self
            .asset_owner(AssetKind::Workerpool, predicted)
            .await?
            .is_some()
        {
            return Ok(Deployed {
                kind: AssetKind::Workerpool,
                address: predicted,
                tx: None,
            });
        }
        let receipt = send(&registry.createWorkerpool(me, spec.description.clone())).await?;
        let event =
            find_event::<WorkerpoolRegistry::WorkerpoolCreated>(&receipt, *registry.address())?;
        Ok(Deployed {
            kind: AssetKind::Workerpool,
            address: event.workerpool,
            tx: Some(TxOutcome::from(&receipt)),
        })
    }

    /// The owner of `asset`, `None` if no such asset is registered.
    pub async fn asset_owner(&self, kind: AssetKind, asset: Address) -> Result<Option<Address>> {
        let d = self.deployment();
        let p = self.provider();
        let owner = match kind {
            AssetKind::App => d.app_registry(p).ownerOrZero(asset).call().await,
            AssetKind::Dataset => d.dataset_registry(p).ownerOrZero(asset).call().await,
            AssetKind::Workerpool => d.workerpool_registry(p).ownerOrZero(asset).call().await,
        }
        .map_err(contract)?;
        Ok((owner != Address::ZERO).then_some(owner))
    }

    /// A registered asset and its metadata, or [`Error::UnknownAsset`].
    pub async fn asset(&self, kind: AssetKind, address: Address) -> Result<AssetInfo> {
        let owner = self
            .asset_owner(kind, address)
            .await?
            .ok_or(Error::UnknownAsset { kind, address })?;
        let d = self.deployment();
        let p = self.provider();
        let details = match kind {
            AssetKind::App => {
                let app = d
                    .app_registry(p)
                    .viewApp(address)
                    .call()
                    .await
                    .map_err(contract)?;
                AssetDetails::App(AppSpec {
                    name: app.name,
                    app_type: app.appType,
                    multiaddr: String::from_utf8_lossy(&app.multiaddr).into_owned(),
                    checksum: app.checksum,
                    mrenclave: app.mrenclave,
                })
            }
            AssetKind::Dataset => {
                let dataset = d
                    .dataset_registry(p)
                    .viewDataset(address)
                    .call()
                    .await
                    .map_err(contract)?;
                AssetDetails::Dataset(DatasetSpec {
                    name: dataset.name,
                    multiaddr: String::from_utf8_lossy(&dataset.multiaddr).into_owned(),
                    checksum: dataset.checksum,
                })
            }
            AssetKind::Workerpool => {
                let pool = d
                    .workerpool_registry(p)
                    .viewWorkerpool(address)
                    .call()
                    .await
                    .map_err(contract)?;
                AssetDetails::Workerpool {
                    description: pool.description,
                    worker_stake_ratio: pool.workerStakeRatio,
                    scheduler_reward_ratio: pool.schedulerRewardRatio,
                }
            }
        };
        Ok(AssetInfo {
            kind,
            address,
            owner,
            details,
        })
    }

    /// Number of assets of `kind`, of `owner` if given, else in the whole registry.
    pub async fn asset_count(&self, kind: AssetKind, owner: Option<Address>) -> Result<u64> {
        let d = self.deployment();
        let p = self.provider();
        let count = match (kind, owner) {
            (AssetKind::App, Some(o)) => d.app_registry(p).balanceOf(o).call().await,
            (AssetKind::App, None) => d.app_registry(p).totalSupply().call().await,
            (AssetKind::Dataset, Some(o)) => d.dataset_registry(p).balanceOf(o).call().await,
            (AssetKind::Dataset, None) => d.dataset_registry(p).totalSupply().call().await,
            (AssetKind::Workerpool, Some(o)) => d.workerpool_registry(p).balanceOf(o).call().await,
            (AssetKind::Workerpool, None) => d.workerpool_registry(p).totalSupply().call().await,
        }
        .map_err(contract)?;
        Ok(count.saturating_to())
    }

    /// The `index`-th asset of `kind` (of `owner` if given), in registration order.
    pub async fn asset_by_index(
        &self,
        kind: AssetKind,
        owner: Option<Address>,
        index: u64,
    ) -> Result<Address> {
        let count = self.asset_count(kind, owner).await?;
        if index >= count {
            return Err(Error::NoSuchIndex {
                kind,
                index,
                owner: owner.map(|o| format!(" of {o}")).unwrap_or_default(),
                count,
            });
        }
        let i = U256::from(index);
        let d = self.deployment();
        let p = self.provider();
        let address = match (kind, owner) {
            (AssetKind::App, Some(o)) => d.app_registry(p).assetOfOwnerByIndex(o, i).call().await,
            (AssetKind::App, None) => d.app_registry(p).assetByIndex(i).call().await,
            (AssetKind::Dataset, Some(o)) => {
                d.dataset_registry(p).assetOfOwnerByIndex(o, i).call().await
            }
            (AssetKind::Dataset, None) => d.dataset_registry(p).assetByIndex(i).call().await,
            (AssetKind::Workerpool, Some(o)) => {
                d.workerpool_registry(p)
                    .assetOfOwnerByIndex(o, i)
                    .call()
                    .await
            }
            (AssetKind::Workerpool, None) => d.workerpool_registry(p).assetByIndex(i).call().await,
        }
        .map_err(contract)?;
        Ok(address)
    }

    /// Give `asset` to `to`. Open orders of the old owner stop matching at once (the hub
    /// checks the signer against the current owner).
    pub async fn transfer_asset(
        &self,
        kind: AssetKind,
        asset: Address,
        to: Address,
    ) -> Result<TxOutcome> {
        let me = self.address()?;
        self.require_owner(kind, asset, me).await?;
        let id = U256::from_be_slice(asset.as_slice());
        let d = self.deployment();
        let p = self.provider();
        let receipt = match kind {
            AssetKind::App => send(&d.app_registry(p).transferFrom(me, to, id)).await,
            AssetKind::Dataset => send(&d.dataset_registry(p).transferFrom(me, to, id)).await,
            AssetKind::Workerpool => send(&d.workerpool_registry(p).transferFrom(me, to, id)).await,
        }?;
        Ok(TxOutcome::from(&receipt))
    }

    /// [`Error::UnknownAsset`] or [`Error::NotOwner`] unless `account` owns `asset`.
    pub async fn require_owner(
        &self,
        kind: AssetKind,
        asset: Address,
        account: Address,
    ) -> Result<()> {
        let owner = self
            .asset_owner(kind, asset)
            .await?
            .ok_or(Error::UnknownAsset {
                kind,
                address: asset,
            })?;
        if owner != account {
            return Err(Error::NotOwner {
                kind,
                asset,
                account,
                owner,
            });
        }
        Ok(())
    }
}
