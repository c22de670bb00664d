//! What publish checks read from the chain, cached: asset owners (kept current by the
//! watcher's `AssetTransfer` events) and free hub balances (re-read by the watcher for every
//! account in a `Withdraw` or `DealCreated`; otherwise trusted for `balance_ttl` to accept,
//! never used to refuse without a fresh read).
//!
//! The watcher updates both caches before it releases the book lock (balances as it reads
//! them, just before taking the lock; owners under it), and the publish writer re-checks each
//! order against them under the same lock (`http::recheck`): an order checked against a value
//! the watcher is replacing is either refused there or stored before the watcher's
//! transaction, which then marks it dead.

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
    /// Free balance and when the read that found it started.
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
            // a value the watcher set meanwhile wins over this read
            return Ok(Some(
                *self.lock_owners().entry((kind, asset)).or_insert(owner),
            ));
        }
        Ok(owner)
    }

    /// The cached owner of `asset`, if known.
    pub fn cached_owner(&self, kind: AssetKind, asset: Address) -> Option<Address> {
        self.lock_owners().get(&(kind, asset)).copied()
    }

    /// The last free balance read for `who`, however old.
    pub fn cached_free(&self, who: Address) -> Option<i64> {
        self.lock_balances().get(&who).map(|(free, _)| *free)
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

    /// Free hub balance of `who`, read from the chain (and cached unless a read that started
    /// later already was).
    pub async fn free(&self, who: Address) -> Result<i64> {
        let started = Instant::now();
        let account = self
            .client
            .deployment()
            .hub(self.client.provider())
            .viewAccount(who)
            .call()
            .await
            .map_err(rpc)?;
        let free: i64 = account.balance.saturating_to();
        let mut balances = self.lock_balances();
        match balances.get(&who) {
            Some((_, at)) if *at > started => {}
            _ => {
                balances.insert(who, (free, started));
            }
        }
        Ok(free)
    }

    /// Volume of `hash` consumed on chain.
    pub async fn consumed(&self, hash: B256) -> Result<i64> {
        Ok(self.client.consumed(hash).await?.saturating_to())
    }

    /// Who presigned `hash` on chain, if anyone (the hub also keeps the ownership period the
    /// presign belongs to: it dies when the asset changes hands).
    pub async fn presigner(&self, hash: B256) -> Result<Option<Address>> {
        let who = self
            .client
            .deployment()
            .hub(self.client.provider())
            .viewPresigned(hash)
            .call()
            .await
            .map_err(rpc)?
            .owner;
        Ok((who != Address::ZERO).then_some(who))
    }

    fn lock_owners(&self) -> std::sync::MutexGuard<'_, HashMap<(AssetKind, Address), Address>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_balances(&self) -> std::sync::MutexGuard<'_, HashMap<Address, (i64, Instant)>> {
        self.balances.lock().unwrap_or_else(|p| p.into_inner())
    }
}
