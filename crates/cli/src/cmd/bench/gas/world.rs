//! The bench's fixture: a fresh chain with the hub, an app, a dataset and a workerpool, funded
//! accounts by role, and a snapshot every scenario starts from.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256, U64};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::Eip712Domain;
use dexec_contracts::tx::{find_event, send};
use dexec_contracts::{deploy_hub, AppRegistry, DatasetRegistry, Deployment, Hub};
use dexec_contracts::{HubPoco, WorkerpoolRegistry};
use dexec_primitives::{domain, Nrlc};
use eyre::ensure;

use crate::local::LocalChain;

/// Dev accounts by role.
const OWNER: usize = 0;
pub(super) const APP_OWNER: usize = 1;
pub(super) const DATASET_OWNER: usize = 2;
pub(super) const SCHEDULER: usize = 3;
pub(super) const REQUESTER: usize = 4;
/// Workers of replicated tasks: funded at setup, since each contribution locks a stake.
pub(super) const REPLICATED_WORKERS: [usize; 3] = [5, 6, 7];
/// Workers of trust-1 tasks (no stake): no hub account before their first task, so the first
/// run pays for creating it.
pub(super) const FAST_WORKERS: [usize; 2] = [8, 9];
pub(super) const ACCOUNTS: usize = 10;

pub(super) const APP_PRICE: u64 = 1_000;
pub(super) const DATASET_PRICE: u64 = 1_000_000;
pub(super) const WORKERPOOL_PRICE: u64 = 1_000_000_000;
/// How long to wait for anvil's pool to empty (see [`World::wait_for_empty_pool`]).
const POOL_POLLS: u32 = 400;
const POOL_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// The chain, the hub and the registered assets every scenario uses.
pub(super) struct World {
    pub deployment: Deployment,
    pub hub: Hub::HubInstance<DynProvider>,
    /// The execution module's functions, at the hub's address.
    pub poco: HubPoco::HubPocoInstance<DynProvider>,
    pub domain: Eip712Domain,
    pub app: Address,
    pub dataset: Address,
    pub workerpool: Address,
    /// Makes every order new.
    salt: u64,
    /// Snapshot of the state after setup (anvil consumes a snapshot when reverting to it).
    snapshot: Option<U256>,
    /// Last, so it drops (stopping anvil) after every provider clone above.
    pub chain: LocalChain,
}

impl World {
    pub(super) async fn setup(chain: LocalChain) -> eyre::Result<Self> {
        let deployment = deploy_hub(&chain.provider, chain.address(OWNER)).await?;
        let domain = domain(chain.chain_id, deployment.hub);
        let p = &chain.provider;

        let apps = deployment.app_registry(p);
        let call = apps
            .createApp(
                chain.address(APP_OWNER),
                "bench-app".into(),
                "WASM".into(),
                b"/ipfs/bench-app".to_vec().into(),
                B256::repeat_byte(1),
                Default::default(),
            )
            .from(chain.address(APP_OWNER));
        let app =
            find_event::<AppRegistry::AppCreated>(&send(&call).await?, deployment.app_registry)?
                .app;
        let datasets = deployment.dataset_registry(p);
        let call = datasets
            .createDataset(
                chain.address(DATASET_OWNER),
                "bench-dataset".into(),
                b"/ipfs/bench-dataset".to_vec().into(),
                B256::repeat_byte(2),
            )
            .from(chain.address(DATASET_OWNER));
        let dataset = find_event::<DatasetRegistry::DatasetCreated>(
            &send(&call).await?,
            deployment.dataset_registry,
        )?
        .dataset;
        let workerpools = deployment.workerpool_registry(p);
        let call = workerpools
            .createWorkerpool(chain.address(SCHEDULER), "bench-pool".into())
            .from(chain.address(SCHEDULER));
        let workerpool = find_event::<WorkerpoolRegistry::WorkerpoolCreated>(
            &send(&call).await?,
            deployment.workerpool_registry,
        )?
        .workerpool;

        let hub = deployment.hub(chain.provider.clone());
        let poco = deployment.poco(chain.provider.clone());
        let world = Self {
            chain,
            deployment,
            hub,
            poco,
            domain,
            app,
            dataset,
            workerpool,
            salt: 0,
            snapshot: None,
        };
        // Generous balances, so no lock empties an account (which would earn a clearing
        // refund and flatter the figures); the requester keeps tokens in its wallet to deposit.
        world
            .fund(
                REQUESTER,
                Nrlc::from_rlc(2_000_000),
                Nrlc::from_rlc(1_000_000),
            )
            .await?;
        world
            .fund(SCHEDULER, Nrlc::from_rlc(100_000), Nrlc::from_rlc(100_000))
            .await?;
        // replicated workers lock a stake (30% of the workerpool price) per contribution
        for worker in REPLICATED_WORKERS {
            world
                .fund(worker, Nrlc::from_rlc(1_000), Nrlc::from_rlc(1_000))
                .await?;
        }
        Ok(world)
    }

    pub(super) fn signer(&self, account: usize) -> &PrivateKeySigner {
        &self.chain.signers[account]
    }

    pub(super) fn address(&self, account: usize) -> Address {
        self.chain.address(account)
    }

    pub(super) fn next_salt(&mut self) -> B256 {
        self.salt += 1;
        B256::from(U256::from(self.salt))
    }

    /// Mint `mint` to `account` and deposit `deposit` of it on the hub.
    async fn fund(&self, account: usize, mint: Nrlc, deposit: Nrlc) -> eyre::Result<()> {
        let token = self.deployment.token(&self.chain.provider);
        let who = self.address(account);
        send(&token.mint(who, mint.to_u256()).from(self.address(OWNER))).await?;
        send(
            &token
                .approve(self.deployment.hub, deposit.to_u256())
                .from(who),
        )
        .await?;
        send(&self.hub.deposit(deposit.to_u256()).from(who)).await?;
        Ok(())
    }

    /// Return to the state right after setup (taking the snapshot the first time).
    pub(super) async fn restore_snapshot(&mut self) -> eyre::Result<()> {
        self.wait_for_empty_pool().await?;
        let p = &self.chain.provider;
        if let Some(id) = self.snapshot.take() {
            let reverted: bool = p.raw_request("evm_revert".into(), (id,)).await?;
            ensure!(reverted, "anvil could not revert to snapshot {id}");
        }
        self.snapshot = Some(p.raw_request("evm_snapshot".into(), ()).await?);
        Ok(())
    }

    /// Wait until anvil's pool holds no transaction. anvil drops a mined transaction from its
    /// pool a moment after its receipt is visible, and answers a "pending" nonce query (how the
    /// provider picks nonces) with the sender's highest pool nonce + 1: reverting, or mining a
    /// block by hand, inside that window leaves the next transaction of that sender with a
    /// nonce gap, queued and never mined.
    pub(super) async fn wait_for_empty_pool(&self) -> eyre::Result<()> {
        #[derive(Debug, serde::Deserialize)]
        struct PoolStatus {
            pending: U64,
            queued: U64,
        }
        for _ in 0..POOL_POLLS {
            let status: PoolStatus = self
                .chain
                .provider
                .raw_request("txpool_status".into(), ())
                .await?;
            if status.pending.is_zero() && status.queued.is_zero() {
                return Ok(());
            }
            tokio::time::sleep(POOL_POLL_INTERVAL).await;
        }
        eyre::bail!("anvil's transaction pool did not empty")
    }

    /// (free, locked) hub balance of `account`.
    pub(super) async fn account(&self, account: usize) -> eyre::Result<(U256, U256)> {
        let acc = self.hub.viewAccount(self.address(account)).call().await?;
        Ok((acc.balance, acc.locked))
    }
}
