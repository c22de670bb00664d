//! `dexec-store`: the content-addressed blob store of dexec.
//!
//! Apps (`.wasm` modules), datasets, input files and results (zips) are kept under their
//! sha256 digest, the same checksum the registries record on chain. The store is an HTTP
//! service over the [`object_store`] crate — a local directory by default, any S3-compatible
//! bucket by configuration. Its client and wire types ([`StoreClient`], [`BlobId`],
//! [`BlobRef`]) are in the SDK (`dexec_sdk::store`).
//!
//! - `PUT /blobs` stores the body and answers `{"id", "size", "url"}` (201, or 200 if the blob
//!   was already there); `PUT /blobs/<id>` also checks that the body hashes to `id`.
//! - `GET /blobs/<id>` returns the bytes after checking they still hash to `id`;
//!   `HEAD /blobs/<id>` gives the size; `GET /health`.
//!
//! Every error is JSON `{"error": "<sentence>"}`. The API, limits and integrity rules are
//! described in `docs/store.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = dexec_store::serve(dexec_store::Config::test("/tmp/blobs"), std::future::pending()).await?;
//! let client = dexec_sdk::store::StoreClient::new(&store.url())?;
//! let blob = client.put(b"hello".to_vec()).await?;
//! assert_eq!(client.get(&blob.id).await?, &b"hello"[..]);
//! # Ok(()) }
//! ```
//!
//! [`StoreClient`]: dexec_sdk::store::StoreClient
//! [`BlobId`]: dexec_sdk::store::BlobId
//! [`BlobRef`]: dexec_sdk::store::BlobRef

mod blobs;
mod config;
mod error;
mod http;
mod metrics;

use std::future::Future;

use dexec_service::ServiceHandle;

pub use blobs::{BlobBody, BlobStore, PutOutcome};
pub use config::{
    parse_size, Args, Backend, Config, S3Config, DEFAULT_DIR, DEFAULT_LISTEN,
    DEFAULT_MAX_BLOB_SIZE, DEFAULT_VERIFY_BUFFER_SIZE,
};
pub use error::{Error, Result};

/// Opens the backend, binds `config.listen` (port 0 allowed) and serves in a spawned task until
/// `shutdown` resolves; in-flight requests then finish (graceful shutdown).
///
/// Returns the bound address and the server task, whose result reports a serving error.
pub async fn serve<F>(config: Config, shutdown: F) -> Result<ServiceHandle<Error>>
where
    F: Future<Output = ()> + Send + 'static,
{
    let store = BlobStore::open(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let public_url = match config.public_url {
        Some(url) => url,
        None => url::Url::parse(&format!("http://{addr}"))
            .map_err(|e| Error::Config(format!("no public URL for {addr}: {e}")))?,
    };
    let state = http::AppState {
        store,
        public_url: dexec_sdk::store::as_base(public_url),
        metrics: std::sync::Arc::new(metrics::StoreMetrics::new()),
    };
    tracing::info!(target: "store::http", %addr, backend = ?config.backend, public_url = %state.public_url, max_blob_size = config.max_blob_size, "store listening");
    let app = http::router(state);
    let task = tokio::spawn(async move {
        dexec_service::http::serve(listener, app, shutdown).await?;
        tracing::info!(target: "store::http", %addr, "store stopped");
        Ok(())
    });
    Ok(ServiceHandle { addr, task })
}

/// Runs `dexec store`: validates `args`, serves, and stops gracefully on Ctrl-C (SIGINT).
pub async fn run(args: Args) -> Result<()> {
    let config = Config::from_args(args)?;
    dexec_service::shutdown::run_until_ctrl_c(|shutdown| serve(config, shutdown)).await
}
