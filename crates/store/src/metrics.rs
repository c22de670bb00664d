//! The store's Prometheus metrics (`GET /metrics`).

use dexec_service::metrics::{registry, ByOp, Counter, Family, HttpMetrics, Registry};

/// Every metric the store exports.
#[derive(Debug)]
pub(crate) struct StoreMetrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    /// Bytes received in new blobs (`op="put"`) and sent (`op="get"`).
    pub bytes: Family<ByOp, Counter>,
    /// Blobs created, uploaded again (`existed`) and served.
    pub blobs: Family<ByOp, Counter>,
}

impl StoreMetrics {
    pub fn new() -> Self {
        let mut registry = registry();
        let http = HttpMetrics::register(&mut registry);
        let bytes = Family::<ByOp, Counter>::default();
        let blobs = Family::<ByOp, Counter>::default();
        registry.register(
            "store_bytes",
            "Bytes of blobs stored (op=put, new blobs only) and served (op=get)",
            bytes.clone(),
        );
        registry.register(
            "store_blobs",
            "Blob operations: created, existed (uploaded again), get",
            blobs.clone(),
        );
        // every series a dashboard reads exists from the start (at 0), not from its first event
        for op in ["put", "get"] {
            let _ = bytes.get_or_create(&ByOp::new(op));
        }
        for op in ["created", "existed", "get"] {
            let _ = blobs.get_or_create(&ByOp::new(op));
        }
        Self {
            registry,
            http,
            bytes,
            blobs,
        }
    }

    /// One operation on a blob of `size` bytes (`bytes_op`: the byte counter it adds to).
    pub fn blob(&self, op: &str, bytes_op: Option<&str>, size: u64) {
        self.blobs.get_or_create(&ByOp::new(op)).inc();
        if let Some(bytes_op) = bytes_op {
            self.bytes.get_or_create(&ByOp::new(bytes_op)).inc_by(size);
        }
    }
}
