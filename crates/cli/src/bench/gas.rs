//! `dexec bench gas`: receipt `gasUsed` of hub transactions, beside iExec's measured figures.
//!
//! Method (the one `research/iexec-gas-measured.md` used for iExec, so figures compare):
//! a fresh anvil (Prague, automine) with the hub deployed; an app, a dataset and a workerpool
//! registered; the requester and the scheduler hold hub balances. That state is snapshotted
//! and every scenario starts from it. A scenario runs twice with new orders (new salts): the
//! first run is reported as `<name>_first` (accounts cold: e.g. locked balances go from zero
//! to non-zero), the second as `<name>`, the steady state iExec's document calls "repeat".
//! Figures are receipt `gasUsed`: 21,000 + calldata + execution − refunds.
//!
//! To add a scenario: a [`Scenario`] variant, its entry in [`Scenario::spec`] and its arm in
//! [`Scenario::run`]; a scenario may send several transactions and return their sum.

use std::path::PathBuf;

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::Eip712Domain;
use dexec_contracts::tx::{find_event, send};
use dexec_contracts::WorkerpoolRegistry;
use dexec_contracts::{anvil, deploy_hub, AppRegistry, DatasetRegistry, Deployment, Hub};
use dexec_primitives::{
    domain, AppOrder, DatasetOrder, Deal, Nrlc, OrderOperation, RequestOrder, Signed,
    WorkerpoolOrder,
};
use eyre::{ensure, WrapErr};

use super::report::{table, Anchor, Figure, Report, Target};
use crate::local::LocalChain;

/// Long help of `dexec bench gas`.
pub const LONG_ABOUT: &str = "\
Measure the gas of hub transactions and compare it with iExec's.

Spawns a fresh anvil (Prague, a block per transaction), deploys the hub, registers an app, a
dataset and a workerpool, and measures the receipt gasUsed (21,000 + calldata + execution -
refunds) of real transactions with orders signed in EIP-712 (65-byte signatures):
  match_volume1_no_dataset      matchOrders, volume 1, empty dataset order
  match_volume1_with_dataset    matchOrders, volume 1, with a dataset
  match_volume100_with_dataset  matchOrders, every order volume 100, with a dataset
  deposit                       deposit into an account that already has a balance
  withdraw                      partial withdraw (the balance stays non-zero)
  cancel_order                  manageRequestOrder(CLOSE) sent by the requester
Prices: app 1,000 nRLC, dataset 1,000,000 nRLC, workerpool 1,000,000,000 nRLC; category 0,
trust 0; the requester calls matchOrders itself. Each scenario starts from the same snapshot
and runs twice with new orders: `<name>_first` is the cold run, `<name>` the steady state.

Anchors are iExec PoCo v6.2 receipts measured on this machine (research/iexec-gas-measured.md).
Prints a table and writes {\"figures\", \"anchors\", \"targets\", \"alarms\"} as JSON.";

/// Arguments of `dexec bench gas`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the figures as JSON (directories are created).
    #[arg(long, default_value = "target/bench/gas.json", value_name = "FILE")]
    out: PathBuf,
    /// anvil binary to run instead of the pinned npm one.
    #[arg(long, env = "DEXEC_ANVIL", value_name = "PATH")]
    anvil_bin: Option<PathBuf>,
}

/// Dev accounts by role.
const OWNER: usize = 0;
const APP_OWNER: usize = 1;
const DATASET_OWNER: usize = 2;
const SCHEDULER: usize = 3;
const REQUESTER: usize = 4;

const APP_PRICE: u64 = 1_000;
const DATASET_PRICE: u64 = 1_000_000;
const WORKERPOOL_PRICE: u64 = 1_000_000_000;

/// The measured transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    MatchVolume1NoDataset,
    MatchVolume1WithDataset,
    MatchVolume100WithDataset,
    Deposit,
    Withdraw,
    CancelOrder,
}

/// Name, anchor and target of a scenario.
struct Spec {
    name: &'static str,
    /// Steady-state anchor.
    anchor: Option<Anchor>,
    /// Anchor of the first (cold) run, where iExec's document has a comparable one.
    anchor_first: Option<Anchor>,
    target: Option<Target>,
}

impl Scenario {
    const ALL: [Self; 6] = [
        Self::MatchVolume1NoDataset,
        Self::MatchVolume1WithDataset,
        Self::MatchVolume100WithDataset,
        Self::Deposit,
        Self::Withdraw,
        Self::CancelOrder,
    ];

    fn spec(self) -> Spec {
        const fn anchor(value: u64, note: &'static str) -> Option<Anchor> {
            Some(Anchor { value, note })
        }
        match self {
            Self::MatchVolume1NoDataset => Spec {
                name: "match_volume1_no_dataset",
                anchor: anchor(647_316, "matchOrders, repeat"),
                anchor_first: anchor(642_528, "matchOrders, first"),
                target: Some(Target {
                    max: 150_000,
                    alarm: Some((250_000, "storage design must change")),
                }),
            },
            Self::MatchVolume1WithDataset => Spec {
                name: "match_volume1_with_dataset",
                anchor: anchor(768_031, "matchOrders, repeat"),
                anchor_first: anchor(763_219, "matchOrders, first"),
                target: None,
            },
            Self::MatchVolume100WithDataset => Spec {
                name: "match_volume100_with_dataset",
                anchor: None,
                anchor_first: None,
                target: None,
            },
            Self::Deposit => Spec {
                name: "deposit",
                anchor: anchor(60_367, "deposit, account has a balance"),
                anchor_first: None,
                target: None,
            },
            Self::Withdraw => Spec {
                name: "withdraw",
                anchor: anchor(59_401, "withdraw, stays non-zero"),
                anchor_first: None,
                target: None,
            },
            Self::CancelOrder => Spec {
                name: "cancel_order",
                anchor: anchor(76_853, "manageRequestOrder avg"),
                anchor_first: None,
                target: None,
            },
        }
    }

    /// Run the scenario once with new orders; the gas of its measured transactions.
    async fn run(self, world: &mut World) -> eyre::Result<Measured> {
        match self {
            Self::MatchVolume1NoDataset => world.match_orders(1, false).await,
            Self::MatchVolume1WithDataset => world.match_orders(1, true).await,
            Self::MatchVolume100WithDataset => world.match_orders(100, true).await,
            Self::Deposit => world.deposit().await,
            Self::Withdraw => world.withdraw().await,
            Self::CancelOrder => world.cancel_request().await,
        }
    }
}

/// Run `dexec bench gas`.
pub async fn run(args: Args) -> eyre::Result<()> {
    let builder = anvil::anvil(args.anvil_bin.as_deref()).args(["--accounts", "10"]);
    let chain = LocalChain::spawn(builder, args.anvil_bin.as_ref()).await?;
    let mut world = World::setup(chain).await.wrap_err("bench setup failed")?;

    let mut figures = Vec::new();
    let mut first_runs = Vec::new();
    for scenario in Scenario::ALL {
        let spec = scenario.spec();
        world.restore_snapshot().await?;
        let first = scenario.run(&mut world).await.wrap_err_with(|| spec.name)?;
        let steady = scenario.run(&mut world).await.wrap_err_with(|| spec.name)?;
        tracing::debug!(target: "bench", scenario = spec.name, ?first, ?steady, "measured");
        figures.push(Figure {
            name: spec.name.to_owned(),
            value: steady.gas,
            intrinsic: Some(steady.intrinsic),
            anchor: spec.anchor,
            target: spec.target,
        });
        first_runs.push(Figure {
            name: format!("{}_first", spec.name),
            value: first.gas,
            intrinsic: Some(first.intrinsic),
            anchor: spec.anchor_first,
            target: None,
        });
    }
    figures.extend(first_runs);

    println!("gas per transaction (receipt gasUsed; anvil, Prague)\n");
    print!("{}", table(&figures, "iExec anchor"));
    Report::new(&figures).write(&args.out)?;
    println!("\nwritten to {}", args.out.display());
    Ok(())
}

/// The chain, the hub and the registered assets every scenario uses.
struct World {
    deployment: Deployment,
    hub: Hub::HubInstance<DynProvider>,
    domain: Eip712Domain,
    app: Address,
    dataset: Address,
    workerpool: Address,
    /// Makes every order new.
    salt: u64,
    /// Snapshot of the state after setup (anvil consumes a snapshot when reverting to it).
    snapshot: Option<U256>,
    /// Last, so it drops (stopping anvil) after every provider clone above.
    chain: LocalChain,
}

impl World {
    async fn setup(chain: LocalChain) -> eyre::Result<Self> {
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
        let world = Self {
            chain,
            deployment,
            hub,
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
        Ok(world)
    }

    fn signer(&self, account: usize) -> &PrivateKeySigner {
        &self.chain.signers[account]
    }

    fn address(&self, account: usize) -> Address {
        self.chain.address(account)
    }

    fn next_salt(&mut self) -> B256 {
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
    async fn restore_snapshot(&mut self) -> eyre::Result<()> {
        let p = &self.chain.provider;
        if let Some(id) = self.snapshot.take() {
            let reverted: bool = p.raw_request("evm_revert".into(), (id,)).await?;
            ensure!(reverted, "anvil could not revert to snapshot {id}");
        }
        self.snapshot = Some(p.raw_request("evm_snapshot".into(), ()).await?);
        Ok(())
    }

    /// Sign new orders of `volume` tasks and have the requester match them.
    async fn match_orders(&mut self, volume: u64, with_dataset: bool) -> eyre::Result<Measured> {
        let salt = self.next_salt();
        let volume = U256::from(volume);
        let app_order = AppOrder {
            app: self.app,
            appprice: U256::from(APP_PRICE),
            volume,
            salt,
            ..Default::default()
        };
        let workerpool_order = WorkerpoolOrder {
            workerpool: self.workerpool,
            workerpoolprice: U256::from(WORKERPOOL_PRICE),
            volume,
            salt,
            ..Default::default()
        };
        let dataset_order = DatasetOrder {
            dataset: self.dataset,
            datasetprice: U256::from(DATASET_PRICE),
            volume,
            salt,
            ..Default::default()
        };
        let request_order = RequestOrder {
            app: self.app,
            appmaxprice: U256::from(APP_PRICE),
            dataset: if with_dataset {
                self.dataset
            } else {
                Address::ZERO
            },
            datasetmaxprice: U256::from(if with_dataset { DATASET_PRICE } else { 0 }),
            workerpool: self.workerpool,
            workerpoolmaxprice: U256::from(WORKERPOOL_PRICE),
            requester: self.address(REQUESTER),
            volume,
            salt,
            ..Default::default()
        };
        let d = &self.domain;
        let app = Signed::sign(app_order, d, self.signer(APP_OWNER))?;
        let workerpool = Signed::sign(workerpool_order, d, self.signer(SCHEDULER))?;
        let request = Signed::sign(request_order, d, self.signer(REQUESTER))?;
        let dataset = if with_dataset {
            Signed::sign(dataset_order, d, self.signer(DATASET_OWNER))?.into()
        } else {
            Hub::DatasetOrder::none()
        };
        let call = self
            .hub
            .matchOrders(app.into(), dataset, workerpool.into(), request.into())
            .from(self.address(REQUESTER));
        let (receipt, gas) = measured(&call).await?;
        let event = find_event::<Hub::DealCreated>(&receipt, self.deployment.hub)?;
        let deal = Deal::decode(&event.deal)?;
        ensure!(
            U256::from(deal.bot_size) == volume,
            "the deal is not for the whole volume"
        );
        Ok(gas)
    }

    /// Deposit into an account that already has a balance; the approve is not measured.
    async fn deposit(&mut self) -> eyre::Result<Measured> {
        let amount = Nrlc::from_rlc(1_000).to_u256();
        let requester = self.address(REQUESTER);
        let token = self.deployment.token(&self.chain.provider);
        send(&token.approve(self.deployment.hub, amount).from(requester)).await?;
        let (_, gas) = measured(&self.hub.deposit(amount).from(requester)).await?;
        Ok(gas)
    }

    /// Withdraw part of a balance.
    async fn withdraw(&mut self) -> eyre::Result<Measured> {
        let amount = Nrlc::from_rlc(1_000).to_u256();
        let (_, gas) = measured(&self.hub.withdraw(amount).from(self.address(REQUESTER))).await?;
        let (balance, _) = self.account(REQUESTER).await?;
        ensure!(balance > U256::ZERO, "the withdraw emptied the account");
        Ok(gas)
    }

    /// The requester closes a new request order itself.
    async fn cancel_request(&mut self) -> eyre::Result<Measured> {
        let order = RequestOrder {
            app: self.app,
            appmaxprice: U256::from(APP_PRICE),
            workerpool: self.workerpool,
            workerpoolmaxprice: U256::from(WORKERPOOL_PRICE),
            requester: self.address(REQUESTER),
            volume: U256::from(1),
            salt: self.next_salt(),
            ..Default::default()
        };
        let operation = Hub::RequestOrderOperation::by_owner(order, OrderOperation::Close);
        let call = self
            .hub
            .manageRequestOrder(operation)
            .from(self.address(REQUESTER));
        let (receipt, gas) = measured(&call).await?;
        find_event::<Hub::RequestOrderClosed>(&receipt, self.deployment.hub)?;
        Ok(gas)
    }

    /// (free, locked) hub balance of `account`.
    async fn account(&self, account: usize) -> eyre::Result<(U256, U256)> {
        let acc = self.hub.viewAccount(self.address(account)).call().await?;
        Ok((acc.balance, acc.locked))
    }
}

/// Gas of one or more transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Measured {
    /// Receipt gasUsed.
    gas: u64,
    /// Of which the intrinsic part: 21,000 + calldata (4 per zero byte, 16 per other byte).
    intrinsic: u64,
}

impl std::ops::Add for Measured {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            gas: self.gas + other.gas,
            intrinsic: self.intrinsic + other.intrinsic,
        }
    }
}

/// Send `call` and measure it.
async fn measured<P: Provider, D: CallDecoder>(
    call: &CallBuilder<P, D>,
) -> eyre::Result<(TransactionReceipt, Measured)> {
    let receipt = send(call).await?;
    let input = call.calldata();
    let zeros = input.iter().filter(|&&b| b == 0).count() as u64;
    let intrinsic = 21_000 + 4 * zeros + 16 * (input.len() as u64 - zeros);
    let gas = Measured {
        gas: receipt.gas_used,
        intrinsic,
    };
    Ok((receipt, gas))
}
