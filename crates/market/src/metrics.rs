//! The market's Prometheus metrics (`GET /metrics`) and what `GET /health` checks.

use dexec_service::metrics::{
    registry, set_counts, ByStatus, Counter, Family, Freshness, Gauge, HttpMetrics, Registry,
};

/// Past this long without reading the chain, the market is unhealthy: its book no longer
/// drops filled and cancelled orders, and its deals stop.
pub(crate) const WATCH_STALE: std::time::Duration = std::time::Duration::from_secs(60);

/// The order kinds, as the book and the metrics name them.
pub(crate) const KINDS: [&str; 4] = ["app", "dataset", "workerpool", "request"];

/// Every metric the market exports.
#[derive(Debug)]
pub(crate) struct MarketMetrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    /// Orders published, by kind (`rate()` of it is the publish rate).
    pub published: Family<ByStatus, Counter>,
    book: Family<ByStatus, Gauge>,
    chain_lag: Gauge,
    feed_subscribers: Gauge,
    /// Successful reads of the chain by the watcher.
    pub watched: Freshness,
}

impl MarketMetrics {
    pub fn new() -> Self {
        let mut registry = registry();
        let http = HttpMetrics::register(&mut registry);
        let published = Family::<ByStatus, Counter>::default();
        let book = Family::<ByStatus, Gauge>::default();
        let chain_lag = Gauge::default();
        let feed_subscribers = Gauge::default();
        registry.register(
            "market_published_orders",
            "Orders published, by kind (status label: app, dataset, workerpool, request)",
            published.clone(),
        );
        registry.register(
            "market_book_orders",
            "Open orders in the book, by kind (status label: app, dataset, workerpool, request)",
            book.clone(),
        );
        registry.register(
            "chain_lag_blocks",
            "Blocks up to the chain's head whose events are not processed yet (confirmation depth included)",
            chain_lag.clone(),
        );
        registry.register(
            "market_feed_subscribers",
            "WebSocket feed subscribers now",
            feed_subscribers.clone(),
        );
        // every series a dashboard reads exists from the start (at 0), not from its first event
        for kind in KINDS {
            let _ = published.get_or_create(&ByStatus::new(kind));
            book.get_or_create(&ByStatus::new(kind)).set(0);
        }
        Self {
            registry,
            http,
            published,
            book,
            chain_lag,
            feed_subscribers,
            watched: Freshness::default(),
        }
    }

    /// One order of `kind` published.
    pub fn published(&self, kind: &str) {
        self.published.get_or_create(&ByStatus::new(kind)).inc();
    }

    /// The book's open orders by kind and the feed's subscribers, counted now.
    pub fn set_state(&self, book: Vec<(String, i64)>, subscribers: usize) {
        set_counts(&self.book, book, &KINDS);
        self.feed_subscribers
            .set(i64::try_from(subscribers).unwrap_or(i64::MAX));
    }

    /// Blocks not processed yet, after a poll of the chain.
    pub fn set_chain_lag(&self, lag: u64) {
        self.chain_lag.set(i64::try_from(lag).unwrap_or(i64::MAX));
    }
}
