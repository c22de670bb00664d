//! dexec-test-utils: fixtures for the services' integration tests (dev-dependency only).
//!
//! - [`TestChain`]: a fresh anvil (the pinned npm binary, or `$DEXEC_ANVIL`) with the hub
//!   deployed by dev account 0 and dev accounts funded like `dexec devnet` does (mint, then
//!   deposit on the hub), and [`dexec_sdk::Client`]s for any dev account.
//! - [`TestStore`]: the blob store served in-process on port 0 over a temporary directory.
//! - [`cluster`] (feature `cluster`): a whole workerpool in-process — chain, store, scheduler,
//!   workers — with test apps and deals.
//!
//! Tests never snapshot/revert the chain: alloy providers would keep nonces and receipts of
//! transactions the revert erased. Each test spawns its own chain instead (about a second).

#[cfg(feature = "cluster")]
pub mod cluster;

use std::net::SocketAddr;
use std::time::Duration;

use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use dexec_contracts::tx::{send, signing_provider};
use dexec_contracts::{anvil, deploy_hub, ChainEntry, Deployment};
use dexec_primitives::Nrlc;
use dexec_sdk::Client;
use tokio::sync::oneshot;

/// Why a fixture could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// anvil did not start (is it installed? `make bootstrap`, or set `DEXEC_ANVIL`).
    #[error("anvil did not start: {0} (run `make bootstrap` or set DEXEC_ANVIL)")]
    Anvil(String),
    /// A contract call failed.
    #[error(transparent)]
    Contracts(#[from] dexec_contracts::Error),
    /// An SDK call failed.
    #[error(transparent)]
    Sdk(#[from] dexec_sdk::Error),
    /// The store failed to start.
    #[error(transparent)]
    Store(#[from] dexec_store::Error),
    /// A store client could not be made.
    #[error(transparent)]
    StoreClient(#[from] dexec_sdk::store::StoreError),
    /// A node request failed.
    #[error("node request failed: {0}")]
    Rpc(String),
    /// Local I/O failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to start a [`TestChain`].
#[derive(Debug, Clone)]
pub struct ChainOptions {
    /// Seconds between blocks; 0 mines each transaction at once (anvil's automine).
    pub block_time: u64,
    /// Number of dev accounts anvil creates.
    pub accounts: usize,
    /// Of which the first `funded` get tokens minted and deposited on the hub.
    pub funded: usize,
    /// Tokens minted to each funded account.
    pub mint: Nrlc,
    /// Of which deposited on the hub.
    pub deposit: Nrlc,
}

impl Default for ChainOptions {
    /// Automine, 10 accounts all funded with 1,000,000 RLC of which 100,000 on the hub (as
    /// `dexec devnet`).
    fn default() -> Self {
        Self {
            block_time: 0,
            accounts: 10,
            funded: 10,
            mint: Nrlc::from_rlc(1_000_000),
            deposit: Nrlc::from_rlc(100_000),
        }
    }
}

/// A fresh chain with the dexec hub deployed. Dropping it stops anvil.
pub struct TestChain {
    /// The anvil process.
    pub anvil: AnvilInstance,
    /// Addresses of the deployed contracts.
    pub deployment: Deployment,
    /// The chain id.
    pub chain_id: u64,
    /// Dev accounts' keys, by index (0 owns the hub and mints the token).
    pub signers: Vec<PrivateKeySigner>,
    /// A provider signing for every dev account (choose with `.from(address)`).
    pub provider: DynProvider,
}

impl std::fmt::Debug for TestChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestChain")
            .field("rpc_url", &self.rpc_url())
            .field("chain_id", &self.chain_id)
            .field("hub", &self.deployment.hub)
            .finish_non_exhaustive()
    }
}

impl TestChain {
    /// Start a chain with [`ChainOptions::default`].
    pub async fn start() -> Result<Self> {
        Self::start_with(ChainOptions::default()).await
    }

    /// Start anvil, deploy the hub from account 0 and fund the first `funded` accounts.
    pub async fn start_with(options: ChainOptions) -> Result<Self> {
        let builder = anvil::anvil(None).args(["--accounts", &options.accounts.to_string()]);
        let anvil = builder
            .try_spawn()
            .map_err(|e| Error::Anvil(e.to_string()))?;
        let signers: Vec<PrivateKeySigner> = anvil
            .keys()
            .iter()
            .map(|k| PrivateKeySigner::from(k.clone()))
            .collect();
        let provider = signing_provider(anvil.endpoint_url(), &signers);
        let owner = signers
            .first()
            .ok_or_else(|| Error::Anvil("anvil created no account".into()))?
            .address();
        let deployment = deploy_hub(&provider, owner).await?;
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| Error::Rpc(e.to_string()))?;
        let chain = Self {
            anvil,
            deployment,
            chain_id,
            signers,
            provider,
        };
        for i in 0..options.funded.min(chain.signers.len()) {
            chain.fund(i, options.mint, options.deposit).await?;
        }
        if options.block_time > 0 {
            let _: serde_json::Value = chain
                .provider
                .raw_request("evm_setIntervalMining".into(), (options.block_time,))
                .await
                .map_err(|e| Error::Rpc(e.to_string()))?;
        }
        Ok(chain)
    }

    /// Mint `mint` tokens to account `i` and deposit `deposit` of them on the hub.
    pub async fn fund(&self, i: usize, mint: Nrlc, deposit: Nrlc) -> Result<()> {
        let owner = self.address(0);
        let who = self.address(i);
        let token = self.deployment.token(&self.provider);
        let hub = self.deployment.hub(&self.provider);
        send(&token.mint(who, mint.to_u256()).from(owner)).await?;
        if deposit.0 > 0 {
            send(
                &token
                    .approve(self.deployment.hub, deposit.to_u256())
                    .from(who),
            )
            .await?;
            send(&hub.deposit(deposit.to_u256()).from(who)).await?;
        }
        Ok(())
    }

    /// JSON-RPC URL.
    pub fn rpc_url(&self) -> String {
        self.anvil.endpoint()
    }

    /// The chain as a `chain.json` entry (what services are configured with).
    pub fn chain_entry(&self) -> ChainEntry {
        ChainEntry::new(self.chain_id, self.rpc_url(), self.deployment)
    }

    /// Key of dev account `i`.
    pub fn signer(&self, i: usize) -> PrivateKeySigner {
        self.signers[i].clone()
    }

    /// Address of dev account `i`.
    pub fn address(&self, i: usize) -> Address {
        self.signers[i].address()
    }

    /// An SDK client signing as dev account `i`.
    pub fn client_for(&self, i: usize) -> Client {
        Client::from_provider(
            signing_provider(
                self.anvil.endpoint_url(),
                std::slice::from_ref(&self.signers[i]),
            ),
            self.deployment,
            self.chain_id,
            self.rpc_url(),
            Some(self.signer(i)),
        )
    }

    /// A read-only SDK client.
    pub fn reader(&self) -> Client {
        Client::from_provider(
            self.provider.clone(),
            self.deployment,
            self.chain_id,
            self.rpc_url(),
            None,
        )
    }

    /// (free, locked) hub balance of `who`.
    pub async fn hub_account(&self, who: Address) -> Result<(U256, U256)> {
        let account = self
            .deployment
            .hub(&self.provider)
            .viewAccount(who)
            .call()
            .await
            .map_err(dexec_contracts::Error::from)?;
        Ok((account.balance, account.locked))
    }

    /// Sum of free and locked hub balances of `accounts` (money conservation checks).
    pub async fn total_on_hub(&self, accounts: &[Address]) -> Result<U256> {
        let mut total = U256::ZERO;
        for who in accounts {
            let (free, locked) = self.hub_account(*who).await?;
            total += free + locked;
        }
        Ok(total)
    }

    /// Worker reputation score of `who`.
    pub async fn score(&self, who: Address) -> Result<u64> {
        let score = self
            .deployment
            .hub(&self.provider)
            .viewScore(who)
            .call()
            .await
            .map_err(dexec_contracts::Error::from)?;
        Ok(score.saturating_to())
    }

    /// Put the runtime bytecode `code` at `address` (`anvil_setCode`): a contract of a few
    /// opcodes (a callback consumer that counts calls, reverts or burns its gas) without a
    /// compiler.
    pub async fn set_code(&self, address: Address, code: &[u8]) -> Result<()> {
        let _: serde_json::Value = self
            .provider
            .raw_request(
                "anvil_setCode".into(),
                (address, alloy::primitives::Bytes::copy_from_slice(code)),
            )
            .await
            .map_err(|e| Error::Rpc(e.to_string()))?;
        Ok(())
    }

    /// Replace the chain's last `depth` blocks with as many empty ones (`anvil_reorg`): the
    /// transactions they held are gone, as when a node follows another branch and nobody
    /// sends them again.
    pub async fn reorg(&self, depth: u64) -> Result<()> {
        let _: serde_json::Value = self
            .provider
            .raw_request(
                "anvil_reorg".into(),
                serde_json::json!({ "depth": depth, "tx_block_pairs": [] }),
            )
            .await
            .map_err(|e| Error::Rpc(e.to_string()))?;
        Ok(())
    }

    /// Move the chain's clock forward by `seconds` and mine a block (deadline tests).
    pub async fn advance_time(&self, seconds: u64) -> Result<()> {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .map_err(|e| Error::Rpc(e.to_string()))?;
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .map_err(|e| Error::Rpc(e.to_string()))?;
        Ok(())
    }
}

/// The blob store served in-process on 127.0.0.1:0 over a temporary directory. Dropping it
/// stops the server and deletes the directory.
#[derive(Debug)]
pub struct TestStore {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its base URL (`http://127.0.0.1:<port>`).
    pub url: String,
    dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl TestStore {
    /// Serve a fresh store.
    pub async fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = dexec_store::serve(
            dexec_store::Config::test(dir.path().join("blobs")),
            async move {
                let _ = stopped.await;
            },
        )
        .await?;
        let addr = handle.addr;
        Ok(Self {
            addr,
            url: format!("http://{addr}"),
            dir,
            stop: Some(stop),
        })
    }

    /// A client of this store.
    pub fn client(&self) -> Result<dexec_sdk::store::StoreClient> {
        Ok(dexec_sdk::store::StoreClient::new(&self.url)?)
    }

    /// The directory holding the blobs.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Poll `check` every 100 ms until it returns `Some`, for at most `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Environment variable naming an empty PostgreSQL database for tests (`make test` starts a
/// throwaway loopback cluster and sets it).
pub const POSTGRES_URL_ENV: &str = "DEXEC_TEST_POSTGRES_URL";
/// When set to `1` (`make test` and CI set it), a PostgreSQL test without
/// [`POSTGRES_URL_ENV`] fails instead of being skipped.
pub const REQUIRE_POSTGRES_ENV: &str = "DEXEC_TEST_REQUIRE_POSTGRES";

/// The PostgreSQL URL for `test`, or `None` when none is configured and none is required: the
/// test then prints a visible `SKIPPED` line and returns. Under `make test` / CI
/// ([`REQUIRE_POSTGRES_ENV`]=1) a missing URL panics, so a PostgreSQL test never passes
/// without running there.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var(POSTGRES_URL_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var(REQUIRE_POSTGRES_ENV).is_ok_and(|v| v == "1") => panic!(
            "{test}: {REQUIRE_POSTGRES_ENV}=1 but {POSTGRES_URL_ENV} is not set: start \
             PostgreSQL with scripts/postgres.sh (make test does)"
        ),
        _ => {
            eprintln!(
                "SKIPPED {test}: {POSTGRES_URL_ENV} is not set (make test starts PostgreSQL and \
                 sets it)"
            );
            None
        }
    }
}

/// When set to `1` (`make test` and CI set it), a test that drives a service with schemathesis
/// fails when the tool is not installed instead of being skipped.
pub const REQUIRE_SCHEMATHESIS_ENV: &str = "DEXEC_TEST_REQUIRE_SCHEMATHESIS";

/// The schemathesis executable of the repository's Python tools (`.tools/venv`, installed by
/// `scripts/bootstrap-python.sh`; `make test` runs it), or `None` when it is missing and not
/// required: the test then prints a visible `SKIPPED` line and returns. Under `make test` / CI
/// ([`REQUIRE_SCHEMATHESIS_ENV`]=1) a missing tool panics, as [`postgres_url`] does.
pub fn schemathesis(test: &str) -> Option<std::path::PathBuf> {
    let bin =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/schemathesis");
    if bin.is_file() {
        return Some(bin);
    }
    if std::env::var(REQUIRE_SCHEMATHESIS_ENV).is_ok_and(|v| v == "1") {
        panic!(
            "{test}: {REQUIRE_SCHEMATHESIS_ENV}=1 but {} is missing: install it with \
             scripts/bootstrap-python.sh (make test does)",
            bin.display()
        );
    }
    eprintln!(
        "SKIPPED {test}: schemathesis is not installed in .tools/venv (scripts/bootstrap-python.sh \
         installs it; make test runs it)"
    );
    None
}

/// When set to `1` (`make test` and CI set it), a container test on a host whose engine fails
/// its self-check fails instead of being skipped.
pub const REQUIRE_CONTAINERS_ENV: &str = "DEXEC_TEST_REQUIRE_CONTAINERS";

/// Whether this host runs container apps (podman with runc, as root: the worker's own
/// self-check). When it does not, the test prints a visible `SKIPPED` line with the reason and
/// should return; under [`REQUIRE_CONTAINERS_ENV`]=1 it panics instead, so a container test
/// never passes without running there.
pub async fn containers_ready(test: &str) -> bool {
    let scratch = tempfile::tempdir().expect("tempdir");
    match dexec_runtime::oci::Engine::podman()
        .self_check(scratch.path())
        .await
    {
        Ok(_) => true,
        Err(why) if std::env::var(REQUIRE_CONTAINERS_ENV).is_ok_and(|v| v == "1") => {
            panic!("{test}: {REQUIRE_CONTAINERS_ENV}=1 but this host cannot run containers: {why}")
        }
        Err(why) => {
            eprintln!(
                "SKIPPED {test}: this host cannot run container apps ({why}); `make images` \
                 installs podman and runc, and the tests need root"
            );
            false
        }
    }
}
