//! A fresh chain with the hub deployed, and the dev accounts' keys.

use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::Eip712Domain;
use dexec_contracts::tx::{find_event, send, signing_provider};
use dexec_contracts::{
    anvil, deploy_hub, AppRegistry, DatasetRegistry, Deployment, WorkerpoolRegistry,
};
use dexec_primitives::domain;

/// Accounts by role: 0 deploys and owns the hub.
pub const APP_OWNER: usize = 1;
pub const WORKERPOOL_OWNER: usize = 2;
pub const REQUESTER: usize = 3;
pub const STRANGER: usize = 4;

pub struct Chain {
    /// Kept alive for the test's duration: dropping it stops anvil.
    _anvil: AnvilInstance,
    pub provider: DynProvider,
    pub signers: Vec<PrivateKeySigner>,
    pub deployment: Deployment,
    pub domain: Eip712Domain,
}

impl Chain {
    pub async fn start() -> Chain {
        let anvil = anvil::anvil(None)
            .try_spawn()
            .expect("anvil starts (set DEXEC_ANVIL?)");
        let signers: Vec<PrivateKeySigner> = anvil
            .keys()
            .iter()
            .map(|k| PrivateKeySigner::from(k.clone()))
            .collect();
        let provider = signing_provider(anvil.endpoint_url(), &signers);
        let owner = signers[0].address();
        let deployment = deploy_hub(&provider, owner).await.expect("hub deploys");
        let chain_id = provider.get_chain_id().await.expect("chain id");
        let domain = domain(chain_id, deployment.hub);
        Chain {
            _anvil: anvil,
            provider,
            signers,
            deployment,
            domain,
        }
    }

    pub fn addr(&self, account: usize) -> Address {
        self.signers[account].address()
    }

    /// Register an app owned by `APP_OWNER`.
    pub async fn create_app(&self) -> Address {
        let registry = self.deployment.app_registry(&self.provider);
        let call = registry
            .createApp(
                self.addr(APP_OWNER),
                "echo".into(),
                "WASM".into(),
                b"/ipfs/QmEcho".to_vec().into(),
                [7u8; 32].into(),
                Default::default(),
            )
            .from(self.addr(APP_OWNER));
        let receipt = send(&call).await.expect("createApp");
        find_event::<AppRegistry::AppCreated>(&receipt, self.deployment.app_registry)
            .expect("AppCreated")
            .app
    }

    /// Register a dataset owned by `APP_OWNER`.
    pub async fn create_dataset(&self) -> Address {
        let registry = self.deployment.dataset_registry(&self.provider);
        let call = registry
            .createDataset(
                self.addr(APP_OWNER),
                "data".into(),
                b"/ipfs/QmData".to_vec().into(),
                [8u8; 32].into(),
            )
            .from(self.addr(APP_OWNER));
        let receipt = send(&call).await.expect("createDataset");
        find_event::<DatasetRegistry::DatasetCreated>(&receipt, self.deployment.dataset_registry)
            .expect("DatasetCreated")
            .dataset
    }

    /// Register a workerpool owned by `WORKERPOOL_OWNER`.
    pub async fn create_workerpool(&self) -> Address {
        let registry = self.deployment.workerpool_registry(&self.provider);
        let call = registry
            .createWorkerpool(self.addr(WORKERPOOL_OWNER), "pool".into())
            .from(self.addr(WORKERPOOL_OWNER));
        let receipt = send(&call).await.expect("createWorkerpool");
        find_event::<WorkerpoolRegistry::WorkerpoolCreated>(
            &receipt,
            self.deployment.workerpool_registry,
        )
        .expect("WorkerpoolCreated")
        .workerpool
    }

    /// Mint `amount` to `account`, approve the hub and deposit it all.
    pub async fn fund(&self, account: usize, amount: U256) {
        let token = self.deployment.token(&self.provider);
        let hub = self.deployment.hub(&self.provider);
        let who = self.addr(account);
        send(&token.mint(who, amount).from(self.addr(0)))
            .await
            .expect("mint");
        send(&token.approve(self.deployment.hub, amount).from(who))
            .await
            .expect("approve");
        send(&hub.deposit(amount).from(who)).await.expect("deposit");
    }

    /// (free, locked) hub balance of `account`.
    pub async fn account(&self, account: usize) -> (U256, U256) {
        let hub = self.deployment.hub(&self.provider);
        let acc = hub
            .viewAccount(self.addr(account))
            .call()
            .await
            .expect("viewAccount");
        (acc.balance, acc.locked)
    }
}

/// A small seeded generator (SplitMix64) for tests on random inputs: the seed is printed so
/// that a failure can be replayed with `DEXEC_TEST_SEED=<seed>`.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `DEXEC_TEST_SEED`, or from the clock; prints the seed with `test`'s name.
    pub fn seeded(test: &str) -> Rng {
        let seed = std::env::var("DEXEC_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("after 1970")
                    .as_nanos() as u64
            });
        eprintln!("{test}: seed {seed} (replay with DEXEC_TEST_SEED={seed})");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// One of `items`.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }

    pub fn b256(&mut self) -> alloy::primitives::B256 {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_be_bytes());
        }
        bytes.into()
    }

    pub fn address(&mut self) -> Address {
        Address::from_slice(&self.b256()[12..])
    }
}
