//! [`Client`]: one chain, one hub, optionally one wallet.

use alloy::primitives::{Address, TxHash, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::Eip712Domain;
use alloy::transports::http::reqwest::Url;
use dexec_contracts::tx::{rpc_client, send, signing_provider_with_timeout, DEFAULT_RPC_TIMEOUT};
use dexec_contracts::{ChainEntry, Deployment};
use dexec_primitives::{domain, Nrlc};
use serde::Serialize;

use crate::error::{contract, Error, Result};

/// A connection to the dexec hub of one chain, signing with an optional wallet.
///
/// Read-only methods work without a wallet; methods that sign or send return
/// [`Error::NoWallet`] without one. Every sending method checks what it can before
/// sending (balances, ownership) and fails with a sentence instead of a reverted transaction;
/// a refusal found during gas estimation is decoded from the hub's custom error.
#[derive(Clone)]
pub struct Client {
    provider: DynProvider,
    deployment: Deployment,
    chain_id: u64,
    rpc_url: String,
    signer: Option<PrivateKeySigner>,
    rpc_timeout: std::time::Duration,
}

impl std::fmt::Debug for Client {
    // The signer holds a private key: show its address only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("chain_id", &self.chain_id)
            .field("rpc_url", &self.rpc_url)
            .field("hub", &self.deployment.hub)
            .field("wallet", &self.signer.as_ref().map(|s| s.address()))
            .finish()
    }
}

/// A mined transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TxOutcome {
    /// Transaction hash.
    pub tx_hash: TxHash,
    /// Block it was mined in.
    pub block: u64,
    /// That block's hash (a reorg that replaces the block changes the hash at its number).
    pub block_hash: B256,
    /// Gas it used.
    pub gas_used: u64,
}

impl From<&TransactionReceipt> for TxOutcome {
    fn from(receipt: &TransactionReceipt) -> Self {
        Self {
            tx_hash: receipt.transaction_hash,
            block: receipt.block_number.unwrap_or_default(),
            block_hash: receipt.block_hash.unwrap_or_default(),
            gas_used: receipt.gas_used,
        }
    }
}

/// Balances of an account: on the hub (escrow) and in its wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    /// The account.
    pub address: Address,
    /// Free balance on the hub, usable for deals and stakes.
    pub hub_balance: Nrlc,
    /// Balance locked on the hub by running deals and contributions.
    pub hub_locked: Nrlc,
    /// Base tokens held by the wallet, outside the hub.
    pub token_balance: Nrlc,
    /// Native currency (gas money), in wei.
    pub native_wei: U256,
    /// Worker reputation score.
    pub score: u64,
}

/// A work category of the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryInfo {
    /// Its id (index in the hub's list).
    pub id: u64,
    /// Short name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Time reference, seconds.
    pub timeref: u64,
}

impl Client {
    /// Connect to the chain `entry` describes, checking that the node is that chain and that
    /// the hub is deployed there; every JSON-RPC request fails after [`DEFAULT_RPC_TIMEOUT`].
    pub async fn connect(entry: &ChainEntry, signer: Option<PrivateKeySigner>) -> Result<Self> {
        Self::connect_with_timeout(entry, signer, DEFAULT_RPC_TIMEOUT).await
    }

    /// [`connect_with_timeout`](Self::connect_with_timeout) for a service starting: a node
    /// that cannot be reached ([`Error::Unreachable`]: down, restarting, or the network
    /// between them cut) is tried again every 2 s for up to `patience`, each failure logged,
    /// instead of the service exiting at once. Any other error (wrong chain, no hub) is
    /// returned at once.
    pub async fn connect_patiently(
        entry: &ChainEntry,
        signer: Option<PrivateKeySigner>,
        timeout: std::time::Duration,
        patience: std::time::Duration,
    ) -> Result<Self> {
        let started = std::time::Instant::now();
        loop {
            match Self::connect_with_timeout(entry, signer.clone(), timeout).await {
                Err(e @ Error::Unreachable { .. }) if started.elapsed() < patience => {
                    tracing::warn!(target: "sdk", error = %e, "retrying in 2 s");
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                }
                other => return other,
            }
        }
    }

    /// [`connect`](Self::connect) with every JSON-RPC request failing after `timeout`
    /// (a node that accepts connections and never answers then gives
    /// [`Error::Unreachable`] or [`Error::Rpc`] saying so, instead of a hang).
    pub async fn connect_with_timeout(
        entry: &ChainEntry,
        signer: Option<PrivateKeySigner>,
        timeout: std::time::Duration,
    ) -> Result<Self> {
        let url: Url = entry.host.parse().map_err(|e| Error::Unreachable {
            url: entry.host.clone(),
            reason: format!("not a URL ({e})"),
        })?;
        let provider = match &signer {
            Some(signer) => {
                signing_provider_with_timeout(url, std::slice::from_ref(signer), timeout)
            }
            None => ProviderBuilder::new()
                .connect_client(rpc_client(url, timeout))
                .erased(),
        };
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| Error::Unreachable {
                url: entry.host.clone(),
                reason: crate::error::describe_transport(&e),
            })?;
        if let Some(expected) = entry.chain_id() {
            if expected != chain_id {
                return Err(Error::WrongChain {
                    expected,
                    actual: chain_id,
                    url: entry.host.clone(),
                });
            }
        }
        let client = Self {
            provider,
            deployment: entry.deployment,
            chain_id,
            rpc_url: entry.host.clone(),
            signer,
            rpc_timeout: timeout,
        };
        let code = client.provider.get_code_at(entry.deployment.hub).await?;
        if code.is_empty() {
            return Err(Error::NotAHub {
                hub: entry.deployment.hub,
                chain_id,
                why: "there is no contract there (was the chain reset?)".into(),
            });
        }
        // a contract that is not the hub (the token's address, another deployment's registry)
        // would make every later call "revert without a reason"
        if let Err(e) = client.category_count().await {
            if matches!(e, Error::Unreachable { .. }) {
                return Err(e);
            }
            return Err(Error::NotAHub {
                hub: entry.deployment.hub,
                chain_id,
                why: format!("the contract there does not answer the hub's `countCategory` ({e})"),
            });
        }
        Ok(client)
    }

    /// A client over an existing provider (tests and services that already hold one). The
    /// provider must sign for `signer` when one is given.
    pub fn from_provider(
        provider: DynProvider,
        deployment: Deployment,
        chain_id: u64,
        rpc_url: String,
        signer: Option<PrivateKeySigner>,
    ) -> Self {
        Self {
            provider,
            deployment,
            chain_id,
            rpc_url,
            signer,
            rpc_timeout: DEFAULT_RPC_TIMEOUT,
        }
    }

    /// The same chain with another wallet.
    pub fn with_signer(&self, signer: PrivateKeySigner) -> Result<Self> {
        let url: Url = self.rpc_url.parse().map_err(|e| Error::Unreachable {
            url: self.rpc_url.clone(),
            reason: format!("not a URL ({e})"),
        })?;
        Ok(Self {
            provider: signing_provider_with_timeout(
                url,
                std::slice::from_ref(&signer),
                self.rpc_timeout,
            ),
            signer: Some(signer),
            ..self.clone()
        })
    }

    /// The JSON-RPC provider.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// Contract addresses.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// Chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// JSON-RPC URL.
    pub fn rpc_url(&self) -> &str {
        &self.rpc_url
    }

    /// The hub's EIP-712 domain (what every order signature is bound to).
    pub fn domain(&self) -> Eip712Domain {
        domain(self.chain_id, self.deployment.hub)
    }

    /// The wallet, if any.
    pub fn signer(&self) -> Option<&PrivateKeySigner> {
        self.signer.as_ref()
    }

    /// The wallet's address, or [`Error::NoWallet`].
    pub fn address(&self) -> Result<Address> {
        self.signer
            .as_ref()
            .map(|s| s.address())
            .ok_or(Error::NoWallet)
    }

    pub(crate) fn wallet(&self) -> Result<&PrivateKeySigner> {
        self.signer.as_ref().ok_or(Error::NoWallet)
    }

    /// Current block number.
    pub async fn block_number(&self) -> Result<u64> {
        Ok(self.provider.get_block_number().await?)
    }

    /// Timestamp of the latest block.
    pub async fn now(&self) -> Result<u64> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| Error::Decode("the node has no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    // ---- account (escrow) ----

    /// Balances of `who` on the hub and in its wallet.
    pub async fn account(&self, who: Address) -> Result<AccountInfo> {
        let hub = self.deployment.hub(&self.provider);
        let account = hub.viewAccount(who).call().await.map_err(contract)?;
        let score = hub.viewScore(who).call().await.map_err(contract)?;
        let tokens = self
            .deployment
            .token(&self.provider)
            .balanceOf(who)
            .call()
            .await
            .map_err(contract)?;
        let native_wei = self.provider.get_balance(who).await?;
        Ok(AccountInfo {
            address: who,
            hub_balance: nrlc(account.balance)?,
            hub_locked: nrlc(account.locked)?,
            token_balance: nrlc(tokens)?,
            native_wei,
            score: score.try_into().unwrap_or(u64::MAX),
        })
    }

    /// Move `amount` of the wallet's tokens into its hub account (approving the hub first
    /// when its allowance is short).
    pub async fn deposit(&self, amount: Nrlc) -> Result<TxOutcome> {
        self.approve_hub(amount).await?;
        let hub = self.deployment.hub(&self.provider);
        let receipt = send(&hub.deposit(amount.to_u256())).await?;
        Ok(TxOutcome::from(&receipt))
    }

    /// Check that the wallet holds `amount` tokens and let the hub take them (an approval
    /// is sent only when the allowance is short).
    pub(crate) async fn approve_hub(&self, amount: Nrlc) -> Result<()> {
        let me = self.address()?;
        let token = self.deployment.token(&self.provider);
        let held = nrlc(token.balanceOf(me).call().await.map_err(contract)?)?;
        if held < amount {
            return Err(Error::Insufficient {
                what: "token balance",
                account: me,
                needed: amount,
                available: held,
                hint: "; the wallet must hold the tokens it deposits",
            });
        }
        let allowance = token
            .allowance(me, self.deployment.hub)
            .call()
            .await
            .map_err(contract)?;
        if allowance < amount.to_u256() {
            send(&token.approve(self.deployment.hub, amount.to_u256()))
                .await
                .map_err(contract)?;
        }
        Ok(())
    }

    /// Move `amount` from the wallet's free hub balance back to the wallet.
    pub async fn withdraw(&self, amount: Nrlc) -> Result<TxOutcome> {
        let me = self.address()?;
        let hub = self.deployment.hub(&self.provider);
        let account = hub.viewAccount(me).call().await.map_err(contract)?;
        let free = nrlc(account.balance)?;
        if free < amount {
            return Err(Error::Insufficient {
                what: "free hub balance",
                account: me,
                needed: amount,
                available: free,
                hint: "; locked funds come back as deals settle",
            });
        }
        let receipt = send(&hub.withdraw(amount.to_u256())).await?;
        Ok(TxOutcome::from(&receipt))
    }

    // ---- categories ----

    /// Number of categories.
    pub async fn category_count(&self) -> Result<u64> {
        let count = self
            .deployment
            .hub(&self.provider)
            .countCategory()
            .call()
            .await
            .map_err(contract)?;
        Ok(count.saturating_to())
    }

    /// Category `id`.
    pub async fn category(&self, id: u64) -> Result<CategoryInfo> {
        let count = self.category_count().await?;
        if id >= count {
            return Err(Error::UnknownCategory { id, count });
        }
        let category = self
            .deployment
            .hub(&self.provider)
            .viewCategory(U256::from(id))
            .call()
            .await
            .map_err(contract)?;
        Ok(CategoryInfo {
            id,
            name: category.name,
            description: category.description,
            timeref: category.timeref.saturating_to(),
        })
    }
}

/// An on-chain amount as [`Nrlc`].
pub(crate) fn nrlc(value: U256) -> Result<Nrlc> {
    Nrlc::try_from(value).map_err(|_| Error::Decode(format!("amount {value} exceeds 2^128")))
}
