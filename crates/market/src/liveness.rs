//! Schedulers' heartbeats (see `dexec_sdk::market::liveness`): which workerpools' schedulers
//! are alive, and the sweeper that takes the orders of pools whose heartbeats stopped out of
//! the book (status `offline`) and the heartbeat that brings them back.
//!
//! What the market knows is in memory: after a restart every pool is *unknown* until its next
//! heartbeat (at most a few seconds for a running scheduler), and orders left `offline` in the
//! database come back with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use dexec_primitives::{AssetKind, OrderKind};
use dexec_sdk::market::{heartbeat_digest, BookStatus, HeartbeatBody, Liveness, PoolLiveness};

use crate::feed::FeedEvent;
use crate::state::Shared;
use crate::{Error, Result};

/// What the market last heard from a pool's scheduler.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// The heartbeat's own timestamp, Unix seconds.
    timestamp: u64,
    /// When it arrived.
    at: Instant,
}

/// The pools' heartbeats.
#[derive(Debug)]
pub(crate) struct Heartbeats {
    ttl: Duration,
    pools: Mutex<HashMap<Address, Seen>>,
}

impl Heartbeats {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            pools: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Address, Seen>> {
        self.pools.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record a verified heartbeat of `pool`: whether the pool was live before it (when it was
    /// not, its offline orders come back). Refused unless newer than the last one.
    fn beat(&self, pool: Address, timestamp: u64) -> Result<bool> {
        let mut pools = self.lock();
        let previous = pools.get(&pool).copied();
        if let Some(seen) = previous {
            if timestamp <= seen.timestamp {
                return Err(Error::Conflict(format!(
                    "workerpool {pool} already sent a heartbeat at {} (this one says {timestamp}): \
                     each heartbeat must be newer than the last",
                    seen.timestamp
                )));
            }
        }
        pools.insert(
            pool,
            Seen {
                timestamp,
                at: Instant::now(),
            },
        );
        Ok(previous.is_some_and(|seen| seen.at.elapsed() <= self.ttl))
    }

    /// What the market knows of `pool`.
    pub fn view(&self, pool: Address) -> PoolLiveness {
        let seen = self.lock().get(&pool).copied();
        PoolLiveness {
            workerpool: pool,
            liveness: match seen {
                None => Liveness::Unknown,
                Some(seen) if seen.at.elapsed() <= self.ttl => Liveness::Live,
                Some(_) => Liveness::Offline,
            },
            last_heartbeat: seen.map(|s| s.timestamp),
            seconds_since: seen.map(|s| s.at.elapsed().as_secs()),
            ttl_secs: self.ttl.as_secs(),
        }
    }

    /// The pools whose last heartbeat is older than the time-to-live.
    fn stale(&self) -> Vec<(Address, Duration)> {
        self.lock()
            .iter()
            .filter(|(_, seen)| seen.at.elapsed() > self.ttl)
            .map(|(pool, seen)| (*pool, seen.at.elapsed()))
            .collect()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// `POST /workerpools/{pool}/heartbeat`: check `body` (signed by the pool's owner, timestamp
/// near this clock and newer than the last), record it, and bring the pool's offline orders
/// back when it was not live.
pub(crate) async fn heartbeat(
    s: &Shared,
    pool: Address,
    body: HeartbeatBody,
) -> Result<PoolLiveness> {
    let ttl = s.heartbeats.ttl.as_secs();
    let now = unix_now();
    if body.timestamp.abs_diff(now) > ttl {
        // well-formed, refused by the market's clock: 422 as other refusals of state
        return Err(Error::Unprocessable(format!(
            "the heartbeat's timestamp {} is {} s away from the market's clock ({now}); at most \
             {ttl} s are allowed: check the scheduler's clock",
            body.timestamp,
            body.timestamp.abs_diff(now)
        )));
    }
    let digest = heartbeat_digest(&s.domain, pool, body.timestamp);
    let signer = crate::book::publish::signer_of(&body.sign, digest)?.ok_or_else(|| {
        Error::BadRequest("`sign` must be a 65-byte or 64-byte ECDSA signature".into())
    })?;
    let owner = s
        .chain
        .owner(AssetKind::Workerpool, pool)
        .await?
        .ok_or_else(|| {
            Error::Unprocessable(format!(
                "workerpool {pool} is not registered on this hub: deploy it first"
            ))
        })?;
    if signer != owner {
        return Err(Error::Forbidden(format!(
            "the heartbeat was signed by {signer} but workerpool {pool} belongs to {owner} (or \
             the signature is for another pool, time, chain or hub)"
        )));
    }
    let was_live = s.heartbeats.beat(pool, body.timestamp)?;
    if !was_live {
        let _book = s.book_lock.lock().await;
        let back =
            s.db.set_pool_orders(pool, BookStatus::Offline, BookStatus::Open)
                .await?;
        if !back.is_empty() {
            tracing::info!(target: "market::liveness", %pool, orders = back.len(), "the scheduler beats again: its orders are back in the book");
        }
        for hash in back {
            if let Some(row) = s.db.order(&hash).await? {
                s.broadcast(FeedEvent::published(&crate::book::view(s.chain_id, &row)?));
            }
        }
    }
    Ok(s.heartbeats.view(pool))
}

/// Until the market stops: every few seconds, take the open workerpool orders of pools whose
/// heartbeats stopped out of the book (orders published again meanwhile included).
pub(crate) async fn sweep(shared: Arc<Shared>) {
    let period =
        (shared.heartbeats.ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let mut stop = shared.stop.clone();
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = interval.tick() => {}
        }
        for (pool, silent) in shared.heartbeats.stale() {
            let taken = {
                let _book = shared.book_lock.lock().await;
                shared
                    .db
                    .set_pool_orders(pool, BookStatus::Open, BookStatus::Offline)
                    .await
            };
            match taken {
                Ok(taken) => {
                    if !taken.is_empty() {
                        tracing::info!(target: "market::liveness", %pool, orders = taken.len(), silent_s = silent.as_secs(), "the scheduler's heartbeats stopped: its orders leave the book until they resume");
                    }
                    for hash in taken {
                        shared.broadcast(FeedEvent::closed(
                            OrderKind::Workerpool,
                            &crate::db::hex32(&hash),
                            BookStatus::Offline,
                        ));
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "market::liveness", %pool, error = %e, "cannot take a silent pool's orders out of the book")
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_unknown_then_live_then_offline_and_replays_are_refused() {
        let beats = Heartbeats::new(Duration::from_millis(50));
        let pool = Address::repeat_byte(3);
        assert_eq!(beats.view(pool).liveness, Liveness::Unknown);
        assert!(
            !beats.beat(pool, 10).unwrap(),
            "not live before its first beat"
        );
        assert_eq!(beats.view(pool).liveness, Liveness::Live);
        assert!(beats.beat(pool, 11).unwrap(), "live before its second");
        let replay = beats.beat(pool, 11).unwrap_err().to_string();
        assert!(replay.contains("must be newer"), "{replay}");
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(beats.view(pool).liveness, Liveness::Offline);
        assert_eq!(beats.stale().len(), 1);
        assert!(!beats.beat(pool, 12).unwrap(), "offline before this one");
        assert!(beats.stale().is_empty());
    }
}
