//! What the handlers, the publish writer and the watcher share: the configuration, the
//! database, the chain caches, the book lock, the live feed and the rate limits.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use alloy::primitives::Address;
use alloy::sol_types::Eip712Domain;
use tokio::sync::{broadcast, watch};

use crate::chain::Chain;
use crate::db::{Db, Writer};
use crate::feed::{FeedEvent, FEED_CAPACITY};
use crate::limits::Limiter;
use crate::Config;

/// Everything the handlers and the watcher share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    pub db: Db,
    pub chain: Arc<Chain>,
    /// Stores publishes, in groups (see [`Writer`]).
    pub writer: Writer,
    /// Held by the publish writer for each group and by the watcher while it applies events
    /// and updates the chain caches: see [`recheck`](crate::book::publish::recheck).
    pub book_lock: Arc<tokio::sync::Mutex<()>>,
    pub chain_id: u64,
    pub domain: Eip712Domain,
    pub feed: broadcast::Sender<FeedEvent>,
    pub per_ip: Limiter<IpAddr>,
    pub per_address: Limiter<Address>,
    /// Schedulers' heartbeats.
    pub heartbeats: crate::liveness::Heartbeats,
    pub stop: watch::Receiver<bool>,
    publication: AtomicI64,
    /// Prometheus metrics (`GET /metrics`).
    pub metrics: crate::metrics::MarketMetrics,
}

impl Shared {
    pub fn new(config: Config, db: Db, chain: Chain, stop: watch::Receiver<bool>) -> Self {
        let chain_id = chain.client.chain_id();
        let domain = chain.client.domain();
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        let chain = Arc::new(chain);
        let book_lock = Arc::new(tokio::sync::Mutex::new(()));
        let writer = Writer::spawn(
            db.clone(),
            config.max_open_orders,
            crate::book::publish::recheck(chain.clone(), domain.clone()),
            book_lock.clone(),
        );
        Self {
            per_ip: Limiter::new(config.per_ip),
            per_address: Limiter::new(config.per_address),
            heartbeats: crate::liveness::Heartbeats::new(config.heartbeat_ttl),
            config,
            db,
            chain,
            writer,
            book_lock,
            chain_id,
            domain,
            feed,
            stop,
            publication: AtomicI64::new(0),
            metrics: crate::metrics::MarketMetrics::new(),
        }
    }

    /// A new publication number: Unix microseconds, strictly increasing.
    pub fn next_publication(&self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or_default();
        let mut last = self.publication.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self.publication.compare_exchange_weak(
                last,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    pub fn broadcast(&self, event: FeedEvent) {
        // no subscriber is not an error
        let _ = self.feed.send(event);
    }
}
