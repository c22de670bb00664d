//! `dexec task claim` on a running devnet: a task past its final deadline is claimed, its payer
//! gets its price back and nothing more (the scheduler's stake goes to the kitty); a completed
//! task is refused before anything is
//! sent. The deal and the completed task are made through the SDK (the CLI has no worker).

use alloy::primitives::{Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::signers::SignerSync;
use dexec_sdk::primitives::poco::authorization_hash;
use dexec_sdk::primitives::{AppOrder, RequestOrder, WorkerpoolOrder};
use dexec_sdk::{AppSpec, ChainFile, Client, DealInfo, DealRef, MatchInput, WorkerpoolSpec};
use serde_json::Value;

use crate::Devnet;

const APP_OWNER: u32 = 1;
const POOL_OWNER: u32 = 2;
const REQUESTER: u32 = 3;
const WORKER: u32 = 4;
const CLAIMER: u32 = 5;
const PRICE: u64 = 1_000_000_000;

fn nrlc(v: &Value) -> u128 {
    v.as_str().expect("amount string").parse().expect("amount")
}

pub(crate) async fn client(net: &Devnet, account: u32) -> Client {
    let chains = ChainFile::load(&net.path().join(".dexec/chain.json")).expect("chain.json");
    let entry = chains.default_chain().expect("a chain").clone();
    let signer = dexec_sdk::wallet::dev_account(account, entry.chain_id().unwrap_or_default())
        .expect("dev account");
    Client::connect(&entry, Some(signer))
        .await
        .expect("connect")
}

/// Move the devnet's time to `deal`'s final deadline and mine a block there.
async fn pass_final_deadline(net: &Devnet, deal: &DealInfo) {
    let claimer = client(net, CLAIMER).await;
    let now = claimer.now().await.expect("now");
    let provider = claimer.provider().clone();
    let _: Value = provider
        .raw_request("evm_increaseTime".into(), (deal.final_deadline() - now,))
        .await
        .expect("evm_increaseTime");
    let _: Value = provider
        .raw_request("evm_mine".into(), ())
        .await
        .expect("evm_mine");
}

/// A deal of `volume` tasks at `trust` on `net`, made through the SDK: an app of dev account 1
/// (free), a workerpool of dev account 2 at `price` per task, requested by dev account 3.
pub(crate) async fn matched_deal(net: &Devnet, volume: u64, trust: u64, price: u64) -> DealInfo {
    let app_owner = client(net, APP_OWNER).await;
    let scheduler = client(net, POOL_OWNER).await;
    let requester = client(net, REQUESTER).await;
    let app = app_owner
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
    let pool = scheduler
        .deploy_workerpool(&WorkerpoolSpec {
            description: "pool".into(),
        })
        .await
        .expect("pool")
        .address;
    let (volume, trust, price) = (U256::from(volume), U256::from(trust), U256::from(price));
    let input = MatchInput {
        app: app_owner
            .sign_order(AppOrder {
                app,
                volume,
                ..Default::default()
            })
            .await
            .expect("app order"),
        dataset: None,
        workerpool: scheduler
            .sign_order(WorkerpoolOrder {
                workerpool: pool,
                workerpoolprice: price,
                volume,
                trust,
                ..Default::default()
            })
            .await
            .expect("workerpool order"),
        request: requester
            .sign_order(RequestOrder {
                app,
                workerpoolmaxprice: price,
                requester: requester.address().expect("wallet"),
                volume,
                trust,
                ..Default::default()
            })
            .await
            .expect("request order"),
    };
    let matched = requester.match_orders(&input).await.expect("match");
    requester.deal(matched.deal_id).await.expect("deal")
}

/// The workerpool owner's (dev account 2) authorization of `worker` for `task_id`.
pub(crate) fn authorization(worker: &Client, task_id: B256) -> Bytes {
    let me = worker.address().expect("wallet");
    let hash = authorization_hash(me, task_id, Default::default());
    let signature = dexec_sdk::wallet::dev_account(POOL_OWNER, worker.chain_id())
        .expect("key")
        .sign_message_sync(hash.as_slice())
        .expect("sign");
    Bytes::copy_from_slice(&signature.as_bytes())
}

/// A trust-1 deal of two tasks; task 0 completed by the worker.
pub(crate) async fn deal_with_one_completed_task(net: &Devnet) -> DealInfo {
    let deal = matched_deal(net, 2, 1, PRICE).await;
    let worker = client(net, WORKER).await;
    let task = DealRef::from(&deal).task(0).expect("task 0");
    worker
        .contribute_and_finalize(
            &task,
            B256::repeat_byte(0xd0),
            &Bytes::new(),
            &Bytes::new(),
            None,
            &authorization(&worker, task.task_id()),
        )
        .await
        .expect("contributeAndFinalize");
    deal
}

#[test]
fn expired_tasks_are_claimed_and_completed_ones_refused() {
    let net = Devnet::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let deal = runtime.block_on(deal_with_one_completed_task(&net));
    let deal_id = deal.deal_id.to_string();
    let completed = deal.tasks[0].to_string();
    let expired = deal.tasks[1].to_string();

    // a completed task: refused with a sentence, exit code 3, nothing asked or sent
    let refused = net.fails(
        Some(CLAIMER),
        &["task", "claim", &completed, "--deal", &deal_id],
        3,
    );
    assert_eq!(
        refused["error"],
        format!("task {completed} is COMPLETED: nothing to claim").as_str(),
        "{refused}"
    );
    // before the final deadline: refused too, saying when
    let refused = net.fails(Some(CLAIMER), &["task", "claim", &expired, "--force"], 3);
    let message = refused["error"].as_str().expect("message");
    assert!(
        message.contains(&format!("passes at unix {}", deal.final_deadline()))
            && message.contains("it cannot be claimed before"),
        "{refused}"
    );

    // past the final deadline: claimable by anyone, after a confirmation
    runtime.block_on(pass_final_deadline(&net, &deal));
    let shown = net.json(None, &["task", "show", &expired]);
    assert_eq!(shown["status"], "TIMEOUT");
    net.fails(Some(CLAIMER), &["task", "claim", &expired], 5);
    let before = net.json(Some(REQUESTER), &["account", "show"]);
    let kitty =
        || runtime.block_on(async { client(&net, CLAIMER).await.kitty().await.expect("kitty") });
    let kitty_before = kitty();
    let claimed = net.json(
        Some(CLAIMER),
        &["task", "claim", &expired, "--deal", &deal_id, "--force"],
    );
    assert_eq!(claimed["claimed"], expired.as_str());
    assert!(claimed["tx"]["txHash"].is_string(), "{claimed}");
    let refund = u128::from(PRICE);
    let stake = u128::from(PRICE) * 30 / 100;
    assert_eq!(nrlc(&claimed["refundedNrlc"]), refund);
    assert_eq!(nrlc(&claimed["schedulerStakeSeizedNrlc"]), stake);
    let after = net.json(Some(REQUESTER), &["account", "show"]);
    assert_eq!(
        nrlc(&after["hubBalanceNrlc"]) - nrlc(&before["hubBalanceNrlc"]),
        refund,
        "the payer gets the task's price back and nothing more"
    );
    assert_eq!(
        kitty().0 - kitty_before.0,
        stake,
        "the scheduler's stake is seized"
    );
    assert_eq!(
        nrlc(&before["hubLockedNrlc"]) - nrlc(&after["hubLockedNrlc"]),
        refund,
        "the task's price is no longer locked"
    );
    assert_eq!(
        net.json(None, &["task", "show", &expired])["status"],
        "FAILED"
    );
    let refused = net.fails(Some(CLAIMER), &["task", "claim", &expired, "--force"], 3);
    assert_eq!(
        refused["error"],
        format!("task {expired} is FAILED: nothing to claim").as_str()
    );
}

/// `dexec deal claim` claims every expired task of a deal at once (a dead pool's deal): refused
/// with the states and the deadline before it, then the expired task is claimed, its payer
/// refunded, the completed one left alone; a second claim finds nothing (issue 18, finding 1).
#[test]
fn a_deals_expired_tasks_are_claimed_together() {
    let net = Devnet::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let deal = runtime.block_on(deal_with_one_completed_task(&net));
    let deal_id = deal.deal_id.to_string();

    let refused = net.fails(Some(CLAIMER), &["deal", "claim", &deal_id, "--force"], 3);
    let message = refused["error"].as_str().expect("message");
    assert!(
        message.contains("no task of deal")
            && message.contains("1 COMPLETED")
            && message.contains(&format!("final deadline, unix {}", deal.final_deadline())),
        "{refused}"
    );

    runtime.block_on(pass_final_deadline(&net, &deal));
    let before = net.json(Some(REQUESTER), &["account", "show"]);
    let claimed = net.json(Some(CLAIMER), &["deal", "claim", &deal_id, "--force"]);
    assert_eq!(
        claimed["claimed"],
        serde_json::json!([deal.tasks[1].to_string()]),
        "only the expired task: {claimed}"
    );
    assert_eq!(nrlc(&claimed["refundedNrlc"]), u128::from(PRICE));
    let after = net.json(Some(REQUESTER), &["account", "show"]);
    assert_eq!(
        nrlc(&after["hubBalanceNrlc"]) - nrlc(&before["hubBalanceNrlc"]),
        u128::from(PRICE),
        "the payer has the expired task's price back"
    );
    assert_eq!(
        net.json(None, &["task", "show", &deal.tasks[1].to_string()])["status"],
        "FAILED"
    );
    let refused = net.fails(Some(CLAIMER), &["deal", "claim", &deal_id, "--force"], 3);
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|m| m.contains("1 COMPLETED, 1 FAILED")),
        "{refused}"
    );
}
