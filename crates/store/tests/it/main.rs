//! Integration tests of `dexec-store`: the server spawned in-process on port 0 over a temporary
//! directory, exercised through real HTTP (raw reqwest and `StoreClient`).

#![allow(clippy::unwrap_used)]

mod api;
mod client;
mod integrity;

use std::net::SocketAddr;
use std::path::PathBuf;

use dexec_sdk::store::{BlobId, StoreClient};
use dexec_store::Config;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A store server running in this process.
pub struct TestStore {
    /// The backend directory.
    pub dir: TempDir,
    /// The bound address.
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub base: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<dexec_store::Result<()>>>,
}

impl TestStore {
    /// Spawns a store with the default test configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns a store after `tweak` adjusted its configuration.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::test(dir.path());
        tweak(&mut config);
        let (tx, rx) = oneshot::channel::<()>();
        let handle = dexec_store::serve(config, async {
            let _ = rx.await;
        })
        .await
        .expect("store starts");
        Self {
            dir,
            addr: handle.addr,
            base: handle.url(),
            shutdown: Some(tx),
            task: Some(handle.task),
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A `StoreClient` of this store.
    pub fn client(&self) -> StoreClient {
        StoreClient::new(&self.base).expect("client")
    }

    /// Where the local backend keeps blob `id`.
    pub fn blob_file(&self, id: &BlobId) -> PathBuf {
        let hex = id.to_string();
        self.dir.path().join("blobs").join(&hex[..2]).join(hex)
    }

    /// Files under a backend folder (`blobs`, `tmp`, `quarantine`), recursively.
    pub fn files_under(&self, folder: &str) -> Vec<PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir.path().join(folder), &mut out);
        out
    }

    /// Stops the server gracefully and returns its result.
    pub async fn stop(mut self) -> dexec_store::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task
            .take()
            .expect("running")
            .await
            .expect("server task joins")
    }
}

/// Deterministic test bytes.
pub fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// The `error` sentence of a JSON error body.
pub async fn error_sentence(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.expect("JSON error body");
    body["error"]
        .as_str()
        .expect("an `error` string")
        .to_owned()
}
