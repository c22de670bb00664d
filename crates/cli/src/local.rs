//! A local anvil chain and a provider that signs for its dev accounts.

use std::path::PathBuf;

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use dexec_contracts::tx::signing_provider;
use eyre::{eyre, WrapErr};

/// A running anvil, stopped (SIGTERM, so it can save its state) when dropped.
///
/// Fields drop in declaration order: the provider (and its background block poller) goes
/// before anvil, so no poll hits a stopped node.
pub struct LocalChain {
    /// JSON-RPC provider signing for every dev account.
    pub provider: DynProvider,
    /// The dev accounts' keys, in anvil's order (account 0 deploys and owns the hub).
    pub signers: Vec<PrivateKeySigner>,
    /// The chain id.
    pub chain_id: u64,
    /// The anvil process.
    pub anvil: AnvilInstance,
}

impl LocalChain {
    /// Spawn `anvil` (blocking until it listens) and connect to it.
    pub async fn spawn(anvil: Anvil, binary: Option<&PathBuf>) -> eyre::Result<Self> {
        let shown = binary
            .cloned()
            .unwrap_or_else(dexec_contracts::anvil::anvil_path);
        let instance = tokio::task::spawn_blocking(move || anvil.try_spawn())
            .await?
            .map_err(|e| eyre!("{e}"))
            .wrap_err_with(|| {
                format!(
                    "could not start anvil ({}); is the port free and the binary installed \
                     (`npm ci`, or set DEXEC_ANVIL / --anvil-bin)?",
                    shown.display()
                )
            })?;
        let signers: Vec<PrivateKeySigner> = instance
            .keys()
            .iter()
            .map(|k| PrivateKeySigner::from(k.clone()))
            .collect();
        if signers.is_empty() {
            return Err(eyre!("anvil reported no dev accounts"));
        }
        let provider = signing_provider(instance.endpoint_url(), &signers);
        let chain_id = provider
            .get_chain_id()
            .await
            .wrap_err("cannot reach anvil")?;
        Ok(Self {
            anvil: instance,
            provider,
            signers,
            chain_id,
        })
    }

    /// Address of dev account `index`.
    pub fn address(&self, index: usize) -> Address {
        self.signers[index].address()
    }

    /// The JSON-RPC URL.
    pub fn rpc_url(&self) -> String {
        self.anvil.endpoint()
    }
}
