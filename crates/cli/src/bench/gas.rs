//! `dexec bench gas`: receipt `gasUsed` of hub transactions, beside iExec's measured figures.
//!
//! Method (the one `research/iexec-gas-measured.md` used for iExec, so figures compare):
//! a fresh anvil (Prague, automine) with the hub deployed; an app, a dataset and a workerpool
//! registered; the requester, the scheduler and three replicated workers hold hub balances
//! (the two trust-1 workers start with none). That state is snapshotted and every scenario
//! starts from it. A scenario runs twice with new orders (new salts): the first run is reported
//! as `<name>_first` (accounts cold: e.g. locked balances go from zero to non-zero), the second
//! as `<name>`, the steady state iExec's document calls "repeat".
//! Figures are receipt `gasUsed`: 21,000 + calldata + execution − refunds, summed over a
//! flow's transactions (and divided by its tasks for per-task figures).
//!
//! To add a scenario: a [`Scenario`] variant, its figures in [`Scenario::specs`] and its arm
//! in [`Scenario::run`], which returns one [`Measured`] per spec; a figure may sum several
//! transactions, and one flow may yield several figures (its total and its single calls).

mod execution;

use std::path::PathBuf;
use std::time::Duration;

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::primitives::{Address, Bytes, B256, U256, U64};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::Eip712Domain;
use dexec_contracts::tx::{find_event, send};
use dexec_contracts::{anvil, deploy_hub, AppRegistry, DatasetRegistry, Deployment, Hub};
use dexec_contracts::{HubPoco, WorkerpoolRegistry};
use dexec_primitives::{
    domain, AppOrder, DatasetOrder, Deal, Nrlc, OrderOperation, RequestOrder, Signed,
    WorkerpoolOrder,
};
use eyre::{ensure, WrapErr};

use super::report::{notes, table, Anchor, Figure, Report, Target};
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
  contribute_and_finalize       the trust-1 fast path, sent by the worker
  task_trust1_total             matchOrders + contributeAndFinalize
  task_trust3_two_workers_total trust 3: match + 2 contribute + 2 reveal + finalize
  task_trust3_three_workers_total
                                3 workers, at trust 5 (three fresh workers are only all
                                needed from trust 5): match + 3 contribute + 3 reveal + finalize
  contribute, contribute_consensus, reveal, finalize
                                single calls of that trust-5 run (first contribution, the one
                                reaching consensus, first reveal, finalize with 3 winners)
  bag100_per_task               (matchOrders volume 100 + two pushResults of 50) / 100
  claim                         claim of an unsettled trust-1 task after its final deadline
Prices: app 1,000 nRLC, dataset 1,000,000 nRLC, workerpool 1,000,000,000 nRLC; category 0,
no dataset unless named; the requester calls matchOrders itself. Each scenario starts from
the same snapshot and runs twice with new orders: `<name>_first` is the cold run, `<name>`
the steady state.

Anchors are iExec PoCo v6.2 receipts measured on this machine (research/iexec-gas-measured.md)
or, for single calls marked avg, the averages of iExec's own gas reports
(research/poco-contracts.md section 9).
Prints a table and writes {\"figures\", \"anchors\", \"targets\", \"alarms\", \"intrinsic\",
\"notes\"} as JSON.";

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
/// Workers of replicated tasks: funded at setup, since each contribution locks a stake.
const REPLICATED_WORKERS: [usize; 3] = [5, 6, 7];
/// Workers of trust-1 tasks (no stake): no hub account before their first task, so the first
/// run pays for creating it.
const FAST_WORKERS: [usize; 2] = [8, 9];
const ACCOUNTS: usize = 10;

const APP_PRICE: u64 = 1_000;
const DATASET_PRICE: u64 = 1_000_000;
const WORKERPOOL_PRICE: u64 = 1_000_000_000;
/// How long to wait for anvil's pool to empty (see [`World::wait_for_empty_pool`]).
const POOL_POLLS: u32 = 400;
const POOL_POLL_INTERVAL: Duration = Duration::from_millis(5);
/// A run that takes longer is stuck (a local chain answers in milliseconds): fail, do not hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Off-chain results link every settlement emits (iExec's conventions used a 6-byte string).
const RESULTS: &[u8] = b"ipfs://result";

/// The measured flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    MatchVolume1NoDataset,
    MatchVolume1WithDataset,
    MatchVolume100WithDataset,
    Deposit,
    Withdraw,
    CancelOrder,
    Trust1Task,
    Trust1StandingOrders,
    Trust3TwoWorkers,
    Trust5ThreeWorkers,
    BagOf100,
    Claim,
}

/// Name, anchor, target and note of one figure.
struct Spec {
    name: &'static str,
    /// Steady-state anchor.
    anchor: Option<Anchor>,
    /// Anchor of the first (cold) run, where iExec's document has a comparable one.
    anchor_first: Option<Anchor>,
    target: Option<Target>,
    /// Printed under the table and kept in the JSON `notes`.
    note: Option<&'static str>,
}

impl Spec {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            anchor: None,
            anchor_first: None,
            target: None,
            note: None,
        }
    }

    fn anchor(mut self, value: u64, note: &'static str) -> Self {
        self.anchor = Some(Anchor { value, note });
        self
    }

    fn anchor_first(mut self, value: u64, note: &'static str) -> Self {
        self.anchor_first = Some(Anchor { value, note });
        self
    }

    fn target(mut self, max: u64, alarm: Option<(u64, &'static str)>) -> Self {
        self.target = Some(Target { max, alarm });
        self
    }

    fn note(mut self, note: &'static str) -> Self {
        self.note = Some(note);
        self
    }
}

impl Scenario {
    const ALL: [Self; 12] = [
        Self::MatchVolume1NoDataset,
        Self::MatchVolume1WithDataset,
        Self::MatchVolume100WithDataset,
        Self::Deposit,
        Self::Withdraw,
        Self::CancelOrder,
        Self::Trust1Task,
        Self::Trust1StandingOrders,
        Self::Trust3TwoWorkers,
        Self::Trust5ThreeWorkers,
        Self::BagOf100,
        Self::Claim,
    ];

    /// The figures one run yields, in the order [`Scenario::run`] returns them.
    fn specs(self) -> Vec<Spec> {
        match self {
            Self::MatchVolume1NoDataset => vec![Spec::new("match_volume1_no_dataset")
                .anchor(647_316, "matchOrders, repeat")
                .anchor_first(642_528, "matchOrders, first")
                .target(150_000, Some((250_000, "storage design must change")))],
            Self::MatchVolume1WithDataset => vec![Spec::new("match_volume1_with_dataset")
                .anchor(768_031, "matchOrders, repeat")
                .anchor_first(763_219, "matchOrders, first")],
            Self::MatchVolume100WithDataset => vec![Spec::new("match_volume100_with_dataset")],
            Self::Deposit => {
                vec![Spec::new("deposit").anchor(60_367, "deposit, account has a balance")]
            }
            Self::Withdraw => {
                vec![Spec::new("withdraw").anchor(59_401, "withdraw, stays non-zero")]
            }
            Self::CancelOrder => {
                vec![Spec::new("cancel_order").anchor(76_853, "manageRequestOrder avg")]
            }
            Self::Trust1Task => vec![
                Spec::new("contribute_and_finalize")
                    .anchor(642_656, "contributeAndFinalize avg")
                    .note(
                        "the trust-1 fast path alone, sent by the worker. The anchor is the \
                         average over iExec's tests (poco-contracts.md 9); iExec's receipt in \
                         these conditions: 432,727 repeat, 484,027 first (iexec-gas-measured.md \
                         3.1)",
                    ),
                Spec::new("task_trust1_total")
                    .anchor(
                        1_302_380,
                        "match + initialize + contributeAndFinalize, repeat",
                    )
                    .anchor_first(
                        1_348_892,
                        "match + initialize + contributeAndFinalize, first",
                    )
                    .target(200_000, None)
                    .note("matchOrders (volume 1, no dataset) + contributeAndFinalize, one run"),
            ],
            Self::Trust1StandingOrders => vec![
                Spec::new("match_volume1_standing_orders").note(
                    "a new volume-1 request matched against standing app and workerpool orders \
                     (volume 1000, already matched once): the common case in a live market",
                ),
                Spec::new("task_trust1_total_standing_orders")
                    .target(200_000, None)
                    .note("match_volume1_standing_orders + contributeAndFinalize"),
            ],
            Self::Trust3TwoWorkers => vec![Spec::new("task_trust3_two_workers_total")
                .anchor(1_955_594, "trust 3, 2 workers, repeat")
                .anchor_first(2_043_758, "trust 3, 2 workers, first")
                .note("trust 3: matchOrders + 2 contribute + 2 reveal + finalize")],
            Self::Trust5ThreeWorkers => vec![
                Spec::new("task_trust3_three_workers_total")
                    .anchor(2_333_065, "trust 8, 3 workers, repeat")
                    .anchor_first(2_450_701, "trust 8, 3 workers, first")
                    .target(600_000, None)
                    .note(
                        "measured at TRUST 5, not 3: fresh workers weigh 2, so at trust 3 or 4 \
                         the second agreeing vote reaches consensus and a third contribute \
                         reverts; trust 5 is the lowest needing all three. matchOrders + \
                         3 contribute + 3 reveal + finalize",
                    ),
                Spec::new("contribute")
                    .anchor(346_973, "contribute avg")
                    .note("first contribution of the trust-5, three-worker task"),
                Spec::new("contribute_consensus")
                    .anchor(372_771, "contribute #3 reaching consensus, trust 8, repeat")
                    .anchor_first(367_971, "contribute #3 reaching consensus, trust 8, first")
                    .note("third contribution of the trust-5 task, the one reaching consensus"),
                Spec::new("reveal")
                    .anchor(78_544, "reveal avg")
                    .note("first reveal of the trust-5, three-worker task"),
                Spec::new("finalize")
                    .anchor(403_856, "finalize avg")
                    .note("finalize of the trust-5 task, 3 winning contributors"),
            ],
            Self::BagOf100 => vec![Spec::new("bag100_per_task")
                .anchor(
                    661_537,
                    "match/100 + initialize + contributeAndFinalize, repeat",
                )
                .target(25_000, None)
                .note(
                    "(matchOrders of volume 100 + 2 pushResults of 50 tasks, one worker each, \
                     sent by the scheduler) / 100, no dataset",
                )],
            Self::Claim => vec![Spec::new("claim").anchor(181_535, "claim avg").note(
                "a trust-1 task nobody settled, claimed by the requester once past its final \
                 deadline (start + 10 x 300 s)",
            )],
        }
    }

    /// [`Scenario::run`], failing instead of hanging if it gets stuck.
    async fn run_bounded(self, world: &mut World) -> eyre::Result<Vec<Measured>> {
        tokio::time::timeout(RUN_TIMEOUT, self.run(world))
            .await
            .map_err(|_| eyre::eyre!("no result after {RUN_TIMEOUT:?}"))?
    }

    /// Run the scenario once with new orders; the gas of each of its figures.
    async fn run(self, world: &mut World) -> eyre::Result<Vec<Measured>> {
        Ok(match self {
            Self::MatchVolume1NoDataset => vec![world.match_orders(1, false).await?],
            Self::MatchVolume1WithDataset => vec![world.match_orders(1, true).await?],
            Self::MatchVolume100WithDataset => vec![world.match_orders(100, true).await?],
            Self::Deposit => vec![world.deposit().await?],
            Self::Withdraw => vec![world.withdraw().await?],
            Self::CancelOrder => vec![world.cancel_request().await?],
            Self::Trust1Task => {
                let (matched, settle) = world.trust1_task().await?;
                vec![settle, matched + settle]
            }
            Self::Trust1StandingOrders => {
                let (matched, settle) = world.trust1_task_standing().await?;
                vec![matched, matched + settle]
            }
            Self::Trust3TwoWorkers => vec![world.replicated_task(3, 2).await?.total()],
            Self::Trust5ThreeWorkers => {
                let run = world.replicated_task(5, 3).await?;
                vec![
                    run.total(),
                    run.contributions[0],
                    run.contributions[2],
                    run.reveals[0],
                    run.finalize,
                ]
            }
            Self::BagOf100 => vec![world.bag_of_100().await?],
            Self::Claim => vec![world.claim().await?],
        })
    }
}

/// Run `dexec bench gas`.
pub async fn run(args: Args) -> eyre::Result<()> {
    let builder =
        anvil::anvil(args.anvil_bin.as_deref()).args(["--accounts", &ACCOUNTS.to_string()]);
    let chain = LocalChain::spawn(builder, args.anvil_bin.as_ref()).await?;
    ensure!(
        chain.signers.len() >= ACCOUNTS,
        "anvil gave {} dev accounts, the bench needs {ACCOUNTS}",
        chain.signers.len()
    );
    let mut world = World::setup(chain).await.wrap_err("bench setup failed")?;

    let mut figures = Vec::new();
    let mut first_runs = Vec::new();
    for scenario in Scenario::ALL {
        let specs = scenario.specs();
        let name = specs.first().map_or("?", |s| s.name);
        world.restore_snapshot().await?;
        let first = scenario.run_bounded(&mut world).await.wrap_err(name)?;
        let steady = scenario.run_bounded(&mut world).await.wrap_err(name)?;
        tracing::debug!(target: "bench", scenario = name, ?first, ?steady, "measured");
        ensure!(
            first.len() == specs.len() && steady.len() == specs.len(),
            "{name}: {} specs but {} figures measured",
            specs.len(),
            steady.len()
        );
        for ((spec, first), steady) in specs.into_iter().zip(first).zip(steady) {
            figures.push(Figure {
                name: spec.name.to_owned(),
                value: steady.gas,
                intrinsic: Some(steady.intrinsic),
                anchor: spec.anchor,
                target: spec.target,
                note: spec.note,
            });
            first_runs.push(Figure {
                name: format!("{}_first", spec.name),
                value: first.gas,
                intrinsic: Some(first.intrinsic),
                anchor: spec.anchor_first,
                target: None,
                note: None,
            });
        }
    }
    figures.extend(first_runs);

    println!("gas (receipt gasUsed, summed over a flow's transactions; anvil, Prague)\n");
    print!("{}", table(&figures, "iExec anchor"));
    let notes = notes(&figures);
    if !notes.is_empty() {
        print!("\n{notes}");
    }
    Report::new(&figures).write(&args.out)?;
    println!("\nwritten to {}", args.out.display());
    Ok(())
}

/// The chain, the hub and the registered assets every scenario uses.
struct World {
    deployment: Deployment,
    hub: Hub::HubInstance<DynProvider>,
    /// The execution module's functions, at the hub's address.
    poco: HubPoco::HubPocoInstance<DynProvider>,
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
    async fn wait_for_empty_pool(&self) -> eyre::Result<()> {
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

    /// Sign new orders of `volume` tasks (trust 0) and have the requester match them.
    async fn match_orders(&mut self, volume: u64, with_dataset: bool) -> eyre::Result<Measured> {
        let (_, gas) = self.match_deal(volume, with_dataset, 0).await?;
        Ok(gas)
    }

    /// Sign new orders of `volume` tasks at `trust` and have the requester match them.
    async fn match_deal(
        &mut self,
        volume: u64,
        with_dataset: bool,
        trust: u64,
    ) -> eyre::Result<(Matched, Measured)> {
        let salt = self.next_salt();
        self.match_deal_with(volume, with_dataset, trust, (volume, salt))
            .await
    }

    /// Like [`World::match_deal`], with the app and workerpool orders given as
    /// `(volume, salt)`: the same pair names the same (standing) provider orders.
    async fn match_deal_with(
        &mut self,
        volume: u64,
        with_dataset: bool,
        trust: u64,
        provider: (u64, B256),
    ) -> eyre::Result<(Matched, Measured)> {
        let salt = self.next_salt();
        let volume = U256::from(volume);
        let (provider_volume, provider_salt) = (U256::from(provider.0), provider.1);
        let app_order = AppOrder {
            app: self.app,
            appprice: U256::from(APP_PRICE),
            volume: provider_volume,
            salt: provider_salt,
            ..Default::default()
        };
        let workerpool_order = WorkerpoolOrder {
            workerpool: self.workerpool,
            workerpoolprice: U256::from(WORKERPOOL_PRICE),
            volume: provider_volume,
            trust: U256::from(trust),
            salt: provider_salt,
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
            trust: U256::from(trust),
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
        let matched = Matched {
            id: event.dealId,
            encoded: event.deal,
            deal,
        };
        Ok((matched, gas))
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

/// A matched deal, as every execution call passes it back.
struct Matched {
    id: B256,
    /// The packed encoding from `DealCreated`.
    encoded: Bytes,
    deal: Deal,
}

/// Gas of one or more transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Measured {
    /// Receipt gasUsed.
    gas: u64,
    /// Of which the intrinsic part: 21,000 + calldata (4 per zero byte, 16 per other byte).
    intrinsic: u64,
}

impl Measured {
    /// Per task of a flow that settled `tasks` tasks (rounded to the nearest unit).
    fn per_task(self, tasks: u64) -> Self {
        Self {
            gas: (self.gas + tasks / 2) / tasks,
            intrinsic: (self.intrinsic + tasks / 2) / tasks,
        }
    }
}

impl std::iter::Sum for Measured {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| a + b)
    }
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
