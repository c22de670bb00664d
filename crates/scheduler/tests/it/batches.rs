//! Batch mode when one task cannot be settled (the review's M-2, the scheduler's side): a
//! `pushResults` batch that fails is split down to single tasks, so the others settle and the
//! bad task alone is retried until it is claimed.

use std::time::Duration;

use alloy::primitives::{keccak256, Bytes, B256, U256};
use alloy::providers::Provider;
use dexec_primitives::orders::{AppOrder, RequestOrder, WorkerpoolOrder};
use dexec_scheduler::Trust1Mode;
use dexec_sdk::scheduler::{Action, Mode, Report, ReportStatus};
use dexec_sdk::{MatchInput, TaskStatus};
use dexec_test_utils::wait_for;

use crate::fixture::*;

/// Tasks in the deal; the last one's callback data cannot fit in a block.
const TASKS: u64 = 4;
/// Callback data the hub stores (about 22k gas a word): 96 KiB is some 68M gas, over the
/// 30M of a block, so any `pushResults` holding it fails, alone or not.
const HUGE: usize = 96 * 1024;

/// A callback deal of `TASKS` trust-1 tasks on the pool (the callback is an account without
/// code: the hub calls it and goes on).
async fn callback_deal(pool: &Pool) -> dexec_sdk::DealInfo {
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let salt = || B256::from(rand::random::<[u8; 32]>());
    let app_order = pool
        .chain
        .client_for(APP_OWNER)
        .sign_order(AppOrder {
            app,
            appprice: U256::from(APP_PRICE),
            volume: U256::from(TASKS),
            salt: salt(),
            ..Default::default()
        })
        .await
        .expect("app order");
    let pool_order = pool
        .chain
        .client_for(SCHEDULER)
        .sign_order(WorkerpoolOrder {
            workerpool: pool.workerpool,
            workerpoolprice: U256::from(WORKERPOOL_PRICE),
            volume: U256::from(TASKS),
            trust: U256::from(1),
            salt: salt(),
            ..Default::default()
        })
        .await
        .expect("workerpool order");
    let requester = pool.chain.client_for(REQUESTER);
    let request = requester
        .sign_order(RequestOrder {
            app,
            appmaxprice: U256::from(APP_PRICE),
            workerpool: pool.workerpool,
            workerpoolmaxprice: U256::from(WORKERPOOL_PRICE),
            requester: pool.chain.address(REQUESTER),
            volume: U256::from(TASKS),
            trust: U256::from(1),
            beneficiary: pool.chain.address(REQUESTER),
            callback: pool.chain.address(APP_OWNER),
            salt: salt(),
            ..Default::default()
        })
        .await
        .expect("request");
    let matched = requester
        .match_orders(&MatchInput {
            app: app_order,
            dataset: None,
            workerpool: pool_order,
            request,
        })
        .await
        .expect("orders match");
    requester.deal(matched.deal_id).await.expect("deal")
}

/// The callback data the worker reports for task `i`: small, except the last task's.
fn callback_data(i: u64) -> Bytes {
    if i + 1 == TASKS {
        Bytes::from(vec![0xee; HUGE])
    } else {
        Bytes::from(format!("result {i}").into_bytes())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_that_reverts_its_batch_does_not_hold_back_the_others() {
    let mut pool = Pool::start(PoolOptions {
        trust1_mode: Trust1Mode::Batch,
        ..Default::default()
    })
    .await;
    let before = pool.total_on_hub().await;
    // the four results go out in one batch: pushed when the batch is full (the linger is
    // longer than the test)
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.batch_size = TASKS as usize;
    config.batch_linger = Duration::from_secs(600);
    pool.start_scheduler_with(config).await;

    let deal = callback_deal(&pool).await;
    let first = u64::from(deal.deal.bot_first);
    // the worker is this test, over the scheduler's HTTP API: it reports each task's result
    // as an app writing that callback data would
    let worker = test_worker(&pool, FIRST_WORKER, TASKS as u32);
    worker.register().await.expect("registered");
    let mut assignments = Vec::new();
    while assignments.len() < TASKS as usize {
        let next = worker.next(Duration::from_secs(2)).await.expect("next");
        if let Some(a) = next {
            assert_eq!(a.mode, Mode::Push, "batch mode");
            assignments.push(a);
        }
    }
    for a in &assignments {
        let data = callback_data(a.index - first);
        let report = Report {
            digest: Some(keccak256(&data)),
            result_location: Some(format!("{}/blobs/none", pool.store.url)),
            callback_data: Some(data),
            ..Report::status(ReportStatus::Computed)
        };
        let action = worker.report(a.task_id, &report).await.expect("report");
        assert_eq!(action, Action::Done, "held by the scheduler");
    }

    // the good tasks settle; the bad one does not
    let reader = pool.chain.reader();
    let good: Vec<u64> = (0..TASKS - 1).map(|i| first + i).collect();
    let settled = wait_for(Duration::from_secs(60), || async {
        let mut tasks = Vec::new();
        for index in &good {
            let task = reader.task(&deal, *index).await.ok()?;
            if task.status != TaskStatus::Completed {
                return None;
            }
            tasks.push(task);
        }
        Some(tasks)
    })
    .await
    .expect("the tasks beside the bad one settled");
    let bad_index = first + TASKS - 1;
    let bad = deal.tasks[(TASKS - 1) as usize];
    assert_ne!(
        reader.task(&deal, bad_index).await.expect("task").status,
        TaskStatus::Completed
    );
    // the batch of 4 failed, then its half holding the bad task; the other half went in one
    // transaction, the good task of the failed half alone
    let tx = |i: usize| settled[i].result.as_ref().expect("a result").tx_hash;
    assert_eq!(tx(0), tx(1), "the sound half settled in one transaction");
    assert_ne!(tx(2), tx(0), "the bad task's neighbour settled without it");
    let batches = pool.health().await["batches"].clone();
    assert!(batches["failed"].as_u64() >= Some(2), "{batches}");
    assert!(batches["splits"].as_u64() >= Some(2), "{batches}");
    assert_eq!(batches["alone"], 1, "{batches}");
    assert_eq!(pool.task_view(bad).await.status, "pushing");
    for index in &good {
        let id = dexec_primitives::task_id(deal.deal_id, *index);
        pool.wait_view(id, "completed").await;
    }
    // the bad task is retried alone (its pause grows) and fails each time
    let retried = wait_for(Duration::from_secs(30), || async {
        let now = pool.health().await["batches"].clone();
        (now["failed"].as_u64()? > batches["failed"].as_u64()?).then_some(())
    })
    .await;
    assert!(retried.is_some(), "the bad task is pushed again, alone");

    // past the final deadline it is claimed; nothing else was held back
    pool.chain.advance_time(3_001).await.expect("time passes");
    pool.wait_view(bad, "failed").await;
    let forgotten = wait_for(Duration::from_secs(10), || async {
        (pool.health().await["batches"]["alone"] == 0).then_some(())
    })
    .await;
    assert!(forgotten.is_some(), "a claimed task is no longer pushed");
    // the bad task's scheduler stake went to the kitty; nothing else was lost
    let kitty = pool.chain.reader().kitty().await.expect("kitty").to_u256();
    assert_eq!(
        kitty,
        U256::from(WORKERPOOL_PRICE * 30 / 100),
        "one stake seized"
    );
    assert_eq!(
        pool.total_on_hub().await + kitty,
        before,
        "money is conserved"
    );
}

/// Whatever the chain's block gas limit, results settle: a first batch too large for a block
/// is split, and once a batch was mined the scheduler sizes the next ones to half the block
/// gas limit (the next deal's batches are then never split).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn results_settle_within_a_small_block_gas_limit() {
    const BAG: u64 = 40;
    let mut pool = Pool::start(PoolOptions {
        trust1_mode: Trust1Mode::Batch,
        ..Default::default()
    })
    .await;
    let before = pool.total_on_hub().await;
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    // a deal's results go out when all are held: one batch of the whole bag
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.batch_size = BAG as usize;
    config.batch_linger = Duration::from_secs(600);
    pool.start_scheduler_with(config).await;
    let mut worker = pool.worker_config(FIRST_WORKER);
    worker.max_concurrent = 8;
    let _worker = pool.start_worker(worker).await;

    // blocks of 300 000 gas from now on: a pushResults of 40 results needs about 500 000
    let first = pool.request(app, 1, BAG).await;
    let _: serde_json::Value = pool
        .chain
        .provider
        .raw_request("evm_setBlockGasLimit".into(), (U256::from(300_000),))
        .await
        .expect("anvil sets the block gas limit");
    pool.wait_completed(&first, Duration::from_secs(120)).await;
    let after_first = pool.health().await["batches"].clone();
    assert!(
        after_first["splits"].as_u64() >= Some(1),
        "the first batch was too large: {after_first}"
    );

    let second = pool.request(app, 1, BAG).await;
    pool.wait_completed(&second, Duration::from_secs(120)).await;
    let after_second = pool.health().await["batches"].clone();
    assert_eq!(
        after_second["splits"], after_first["splits"],
        "the second deal's batches fit: {after_second}"
    );
    assert!(
        after_second["sent"].as_u64().unwrap_or_default()
            >= after_first["sent"].as_u64().unwrap_or_default() + 3,
        "the second bag went out in several batches: {after_first} then {after_second}"
    );
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}

/// A reorg that drops the scheduler's `pushResults` (its blocks replaced, the transactions
/// not mined again) leaves the tasks unsettled on chain: the scheduler, watching its
/// settlements until they are `--reorg-depth` deep, pushes those results again, and every
/// task completes once, with money conserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn results_a_reorg_dropped_are_pushed_again() {
    let pool = Pool::start(PoolOptions {
        trust1_mode: Trust1Mode::Batch,
        ..Default::default()
    })
    .await;
    let before = pool.total_on_hub().await;
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let mut config = pool.worker_config(FIRST_WORKER);
    config.max_concurrent = 3;
    let _worker = pool.start_worker(config).await;
    let deal = pool.request(app, 1, 4).await;
    let settled = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    for task in &settled {
        pool.wait_view(task.task_id, "completed").await;
    }

    // replace every block from the first settlement on (the match is older: the workers
    // computed after it)
    let provider = pool.chain.reader().provider().clone();
    let pushes: std::collections::BTreeSet<B256> = settled
        .iter()
        .map(|t| t.result.as_ref().expect("a result").tx_hash)
        .collect();
    let mut first_block = u64::MAX;
    for tx in &pushes {
        let receipt = provider
            .get_transaction_receipt(*tx)
            .await
            .expect("receipt")
            .expect("mined");
        first_block = first_block.min(receipt.block_number.expect("in a block"));
    }
    let head = provider.get_block_number().await.expect("head");
    pool.chain
        .reorg(head - first_block + 1)
        .await
        .expect("anvil_reorg");
    for tx in &pushes {
        let receipt = provider.get_transaction_receipt(*tx).await.expect("asked");
        assert!(receipt.is_none(), "the reorg dropped {tx}");
    }
    let reader = pool.chain.reader();
    reader
        .deal(deal.deal_id)
        .await
        .expect("the deal survived the reorg");

    // settled again, by new transactions
    let again = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    for task in &again {
        let tx = task.result.as_ref().expect("a result").tx_hash;
        assert!(!pushes.contains(&tx), "{tx} is a new transaction");
        let view = pool.wait_view(task.task_id, "completed").await;
        assert_eq!(view.replicates.len(), 1, "pushed again, not recomputed");
        assert_eq!(view.replicates[0].status, "done");
    }
    let metrics = reqwest::get(format!("{}/metrics", pool.scheduler_url()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l == format!("dexec_scheduler_reorged_tasks_total {}", deal.tasks.len())),
        "every task counted once: {}",
        metrics
            .lines()
            .filter(|l| l.contains("reorged"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}
