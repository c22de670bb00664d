//! Integration tests of `dexec-market`: a real anvil with the hub deployed, the market served
//! in-process on port 0 over a temporary SQLite file, or over a database of its own on
//! PostgreSQL when `DEXEC_TEST_POSTGRES_URL` is set (`make test` runs the suite both ways, and
//! with `DEXEC_TEST_REQUIRE_POSTGRES=1` a missing URL fails instead of falling back),
//! exercised through real HTTP.

#![allow(clippy::unwrap_used, missing_docs)]

mod book;
mod durability;
mod feed;
mod hostile;
mod schema;
mod watcher;

use std::net::SocketAddr;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{Eip712Domain, SolStruct};
use dexec_market::Config;
use dexec_primitives::{domain, AppOrder, DatasetOrder, RequestOrder, Signed, WorkerpoolOrder};
use dexec_sdk::{AppSpec, Client, DatasetSpec, WorkerpoolSpec};
use dexec_service::{DbUrl, ServiceHandle};
use dexec_test_utils::TestChain;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// Dev accounts: 1 owns the app, 2 the dataset, 3 the workerpool, 4 requests, 5 is a stranger.
pub const APP_OWNER: usize = 1;
/// Owns the dataset.
pub const DATASET_OWNER: usize = 2;
/// Owns the workerpool.
pub const POOL_OWNER: usize = 3;
/// The requester.
pub const REQUESTER: usize = 4;
/// Owns nothing.
pub const STRANGER: usize = 5;

/// A chain with one app, dataset and workerpool, and a database for markets.
pub struct World {
    pub chain: TestChain,
    pub app: Address,
    pub dataset: Address,
    pub pool: Address,
    pub dir: TempDir,
    pub db_url: DbUrl,
    /// The PostgreSQL database made for this world: (server URL, name), dropped with it.
    postgres: Option<(String, String)>,
}

impl World {
    pub async fn new() -> Self {
        let chain = TestChain::start().await.expect("chain");
        let app = chain
            .client_for(APP_OWNER)
            .deploy_app(&AppSpec {
                name: "echo".into(),
                app_type: "WASM".into(),
                multiaddr: "https://store.example/echo.wasm".into(),
                checksum: B256::repeat_byte(7),
                mrenclave: Default::default(),
            })
            .await
            .expect("app")
            .address;
        let dataset = chain
            .client_for(DATASET_OWNER)
            .deploy_dataset(&DatasetSpec {
                name: "data".into(),
                multiaddr: "https://store.example/data".into(),
                checksum: B256::repeat_byte(8),
            })
            .await
            .expect("dataset")
            .address;
        let pool = chain
            .client_for(POOL_OWNER)
            .deploy_workerpool(&WorkerpoolSpec {
                description: "pool".into(),
            })
            .await
            .expect("pool")
            .address;
        let dir = tempfile::tempdir().expect("temp dir");
        let (db_url, postgres) = match postgres_server() {
            Some(server) => {
                let (url, name) = fresh_postgres(&server).await;
                (url, Some((server, name)))
            }
            None => (format!("sqlite://{}/market.db", dir.path().display()), None),
        };
        Self {
            chain,
            app,
            dataset,
            pool,
            dir,
            db_url: db_url.parse().expect("a database URL"),
            postgres,
        }
    }

    pub fn domain(&self) -> Eip712Domain {
        domain(self.chain.chain_id, self.chain.deployment.hub)
    }

    pub fn signer(&self, i: usize) -> PrivateKeySigner {
        self.chain.signer(i)
    }

    pub fn client(&self, i: usize) -> Client {
        self.chain.client_for(i)
    }

    pub fn sign<T: SolStruct>(&self, order: T, i: usize) -> Signed<T> {
        Signed::sign(order, &self.domain(), &self.signer(i)).expect("signs")
    }

    pub fn config(&self) -> Config {
        Config::test(self.chain.chain_entry(), self.db_url.clone())
    }

    pub async fn market(&self) -> Market {
        Market::spawn(self.config()).await
    }

    pub fn app_order(&self, price: u64, salt: u8) -> AppOrder {
        AppOrder {
            app: self.app,
            appprice: U256::from(price),
            volume: U256::from(10),
            salt: B256::repeat_byte(salt),
            ..Default::default()
        }
    }

    pub fn dataset_order(&self, price: u64, salt: u8) -> DatasetOrder {
        DatasetOrder {
            dataset: self.dataset,
            datasetprice: U256::from(price),
            volume: U256::from(10),
            salt: B256::repeat_byte(salt),
            ..Default::default()
        }
    }

    pub fn pool_order(&self, price: u64, salt: u8) -> WorkerpoolOrder {
        WorkerpoolOrder {
            workerpool: self.pool,
            workerpoolprice: U256::from(price),
            volume: U256::from(10),
            trust: U256::from(1),
            salt: B256::repeat_byte(salt),
            ..Default::default()
        }
    }

    pub fn request_order(&self, pool_price: u64, salt: u8) -> RequestOrder {
        RequestOrder {
            app: self.app,
            appmaxprice: U256::from(1_000),
            workerpoolmaxprice: U256::from(pool_price),
            requester: self.chain.address(REQUESTER),
            beneficiary: self.chain.address(REQUESTER),
            volume: U256::from(2),
            trust: U256::from(1),
            params: r#"{"iexec_args":"hello"}"#.into(),
            salt: B256::repeat_byte(salt),
            ..Default::default()
        }
    }
}

/// The PostgreSQL server to run on, if any. Without `DEXEC_TEST_POSTGRES_URL` the suite runs
/// on SQLite, unless `DEXEC_TEST_REQUIRE_POSTGRES=1` (`make test`, CI): then it fails, so
/// that the PostgreSQL run never passes without running (`dexec_test_utils::postgres_url`).
fn postgres_server() -> Option<String> {
    static SERVER: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    SERVER
        .get_or_init(|| {
            dexec_test_utils::postgres_url("the market suite on PostgreSQL (it runs on SQLite)")
        })
        .clone()
}

/// A database of its own on the PostgreSQL server at `url`: its URL and name.
async fn fresh_postgres(url: &str) -> (String, String) {
    use sqlx::Connection;
    let name = format!("market_{}", rand::random::<u64>());
    let mut conn = sqlx::PgConnection::connect(url).await.expect("postgres");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let db_url = match url.rfind('/') {
        Some(i) if url[..i].contains("://") && i > url.find("://").unwrap() + 2 => {
            format!("{}/{name}", &url[..i])
        }
        _ => format!("{url}/{name}"),
    };
    (db_url, name)
}

impl Drop for World {
    /// Drop the PostgreSQL database of this world (its markets are stopped, or their
    /// connections are closed by `FORCE`). On a thread of its own: the test's runtime may be
    /// the current thread, busy dropping this.
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            use sqlx::Connection;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&server).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop a test database: {e}");
        }
    }
}

/// A market running in this process.
pub struct Market {
    pub addr: SocketAddr,
    pub base: String,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<ServiceHandle<dexec_market::Error>>,
}

impl Market {
    pub async fn spawn(config: Config) -> Self {
        let (tx, rx) = oneshot::channel::<()>();
        let handle = dexec_market::serve(config, async {
            let _ = rx.await;
        })
        .await
        .expect("market starts");
        Self {
            addr: handle.addr,
            base: handle.url(),
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POST `body` to `path`: (status, JSON body).
    pub async fn post(&self, path: &str, body: &impl serde::Serialize) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// GET `path`: (status, JSON body).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Publish a signed order of kind `kind` (`app`, `dataset`, `workerpool`, `request`).
    pub async fn publish<T: serde::Serialize>(
        &self,
        kind: &str,
        order: &Signed<T>,
    ) -> (u16, Value) {
        self.post(&format!("/{kind}orders"), &json!({ "order": order }))
            .await
    }

    /// Wait until GET `path` satisfies `check`.
    pub async fn wait(&self, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        let found = dexec_test_utils::wait_for(Duration::from_secs(20), || async {
            let (status, body) = self.get(path).await;
            (status == 200 && check(&body)).then_some(body)
        })
        .await;
        match found {
            Some(v) => v,
            None => panic!(
                "timed out waiting on {path}: last {:?}",
                self.get(path).await
            ),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle
            .take()
            .expect("running")
            .join()
            .await
            .expect("serves cleanly");
    }
}

/// The `error` sentence of an error body.
pub fn sentence(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error sentence in {body}"))
}
