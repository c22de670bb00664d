//! What publish checks read from the chain, cached: asset owners (kept current by the
//! watcher's `AssetTransfer` events) and free hub balances (trusted for a short while, never
//! used to refuse without a fresh read).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use dexec_sdk::{AssetKind, Client};

use crate::{Error, Result};

/// Cached chain reads.
#[derive(Debug)]
pub(crate) struct Chain {
    pub client: Client,
    owners: Mutex<HashMap<(AssetKind, Address), Address>>,
    balances: Mutex<HashMap<Address, (i64, Instant)>>,
    ttl: Duration,
}

fn rpc(e: impl std::fmt::Display) -> Error {
    Error::Rpc(e.to_string())
}

impl Chain {
    pub fn new(client: Client, ttl: Duration) -> Self {
        Self {
            client,
            owners: Mutex::new(HashMap::new()),
            balances: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// The owner of `asset`, `None` if it is not registered.
    pub async fn owner(&self, kind: AssetKind, asset: Address) -> Result<Option<Address>> {
        if let Some(owner) = self.lock_owners().get(&(kind, asset)) {
            return Ok(Some(*owner));
        }
        let owner = self.client.asset_owner(kind, asset).await?;
        if let Some(owner) = owner {
            self.lock_owners().insert((kind, asset), owner);
        }
        Ok(owner)
    }

    /// Record an ownership change seen by the watcher.
    pub fn set_owner(&self, kind: AssetKind, asset: Address, owner: Address) {
        let mut owners = self.lock_owners();
        if owner == Address::ZERO {
            owners.remove(&(kind, asset));
        } else {
            owners.insert((kind, asset), owner);
        }
    }

    /// True if `who` has at least `needed` free on the hub. A cached balance is only used to
    /// accept; a refusal always follows a fresh read.
    pub async fn has_free(&self, who: Address, needed: i64) -> Result<(bool, i64)> {
        if let Some((free, at)) = self.lock_balances().get(&who) {
            if at.elapsed() < self.ttl && *free >= needed {
                return Ok((true, *free));
            }
        }
        let free = self.free(who).await?;
        Ok((free >= needed, free))
    }

    /// Free hub balance of `who`, read from the chain (and cached).
    pub async fn free(&self, who: Address) -> Result<i64> {
        let account = self
            .client
            .deployment()
            .hub(self.client.provider())
            .viewAccount(who)
            .call()
            .await
            .map_err(rpc)?;
        let free: i64 = account.balance.saturating_to();
        self.lock_balances().insert(who, (free, Instant::now()));
        Ok(free)
    }

    /// Volume of `hash` consumed on chain.
    pub async fn consumed(&self, hash: B256) -> Result<i64> {
        Ok(self.client.consumed(hash).await?.saturating_to())
    }

    /// Who presigned `hash` on chain, if anyone.
    pub async fn presigner(&self, hash: B256) -> Result<Option<Address>> {
        let who = self
            .client
            .deployment()
            .hub(self.client.provider())
            .viewPresigned(hash)
            .call()
            .await
            .map_err(rpc)?;
        Ok((who != Address::ZERO).then_some(who))
    }

    fn lock_owners(&self) -> std::sync::MutexGuard<'_, HashMap<(AssetKind, Address), Address>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_balances(&self) -> std::sync::MutexGuard<'_, HashMap<Address, (i64, Instant)>> {
        self.balances.lock().unwrap_or_else(|p| p.into_inner())
    }
}
