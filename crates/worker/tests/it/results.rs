//! What a worker produces: a result in the store and on chain, an error result when the app
//! fails, and its pay.

use std::time::Duration;

use alloy::primitives::U256;
use dexec_primitives::poco::workers_reward;
use dexec_test_utils::cluster::*;
use dexec_test_utils::wait_for;

use crate::{file, result_files};

/// A trust-1 task from the worker's side: it computes, uploads the zipped `/iexec_out`,
/// settles with `contributeAndFinalize`, is paid the workers' share, and cleans its work
/// directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trust_one_task_is_computed_uploaded_settled_and_paid() {
    let pool = Pool::start(PoolOptions::default()).await;
    let before = pool.total_on_hub().await;
    let me = pool.chain.address(FIRST_WORKER);
    let (free, locked) = pool.chain.hub_account(me).await.unwrap();
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let worker = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let deal = pool.request(app, 1, 1).await;

    let tasks = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    let result = tasks[0].result.as_ref().expect("completed with a result");
    let files = result_files(result).await;
    assert_eq!(file(&files, "result.txt"), HELLO_OUTPUT);
    assert_eq!(
        result.digest,
        sha256(HELLO_OUTPUT),
        "the digest of the app's output"
    );

    let view = pool.wait_view(deal.tasks[0], "completed").await;
    assert_eq!(view.replicates.len(), 1);
    assert_eq!(view.replicates[0].worker, worker.address());
    assert_eq!(view.replicates[0].status, "done");

    let (free_after, locked_after) = pool.chain.hub_account(me).await.unwrap();
    assert_eq!(locked_after, locked, "the stake is back");
    let reward = workers_reward(deal.deal.workerpool_price, deal.deal.scheduler_reward_ratio);
    assert_eq!(
        free_after,
        free + U256::from(reward),
        "paid the workers' share"
    );
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");

    let task_dir = pool
        .worker_dir(FIRST_WORKER)
        .join("tasks")
        .join(format!("{:#x}", deal.tasks[0]));
    let cleaned = wait_for(Duration::from_secs(10), || async {
        (!task_dir.exists()).then_some(())
    })
    .await;
    assert!(cleaned.is_some(), "{} left behind", task_dir.display());
}

/// An app that fails the same way everywhere gives an error result: the task completes with
/// the digest of `error.txt`, which says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_app_gives_an_error_result() {
    let pool = Pool::start(PoolOptions::default()).await;
    let app = exit_app_saying(3, "no input file given\n");
    let app = pool.deploy_app("exit 3", &app).await;
    let _worker = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let deal = pool.request(app, 1, 1).await;

    let tasks = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    let result = tasks[0].result.as_ref().expect("completed with a result");
    let files = result_files(result).await;
    let error = file(&files, "error.txt");
    let text = String::from_utf8_lossy(error);
    assert!(text.contains("app exited with code 3"), "{text}");
    assert_eq!(result.digest, sha256(error), "the digest of error.txt");
    // beside it, outside the digest: what the worker saw
    let detail = String::from_utf8_lossy(file(&files, "error-detail.txt"));
    assert!(
        detail.starts_with("app exited with code 3\n")
            && detail.contains("fuel used: ")
            && detail.contains("stderr (20 bytes):\nno input file given"),
        "{detail}"
    );
}

/// An app that never finishes still ends its task without a claim against the scheduler: the
/// workers stop it at the wall-clock limit (fuel here is made too plentiful to stop it first),
/// each contributes the same error result naming the limit, consensus is reached and the task
/// completes; the scheduler gets its stake back and is paid, the workers are paid, and no money
/// appears or vanishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_that_never_finishes_ends_its_task_without_a_claim() {
    let pool = Pool::start(PoolOptions::default()).await;
    let before = pool.total_on_hub().await;
    let scheduler = pool.chain.address(SCHEDULER);
    let (scheduler_free, scheduler_locked) = pool.chain.hub_account(scheduler).await.unwrap();
    let app = pool.deploy_app("forever", &forever_app()).await;
    let mut workers = Vec::new();
    for i in 0..2 {
        let mut config = pool.worker_config(FIRST_WORKER + i);
        // every worker of the pool uses the same limit: it is in the error result
        config.fuel = Some(1 << 62);
        config.wall_clock_limit = Some(Duration::from_secs(2));
        workers.push(pool.start_worker(config).await);
    }
    let deal = pool.request(app, 3, 1).await;

    let tasks = pool.wait_completed(&deal, Duration::from_secs(90)).await;
    let result = tasks[0].result.as_ref().expect("completed with a result");
    let files = result_files(result).await;
    let error = file(&files, "error.txt");
    assert_eq!(
        String::from_utf8_lossy(error),
        "dexec error: app ran past its wall-clock limit of 2 s\n"
    );
    assert_eq!(result.digest, sha256(error), "the digest of error.txt");
    assert_eq!(tasks[0].contributors, 2, "both workers agreed");

    let view = pool.wait_view(deal.tasks[0], "completed").await;
    assert_eq!(view.replicates.len(), 2);
    assert!(
        view.replicates
            .iter()
            .all(|r| r.error.is_none() && r.digest == Some(result.digest)),
        "no worker reported a fault, both contributed the error result: {:?}",
        view.replicates
    );
    for w in &workers {
        assert_eq!(pool.chain.score(w.address()).await.unwrap(), 1, "paid work");
    }
    let (free_after, locked_after) = pool.chain.hub_account(scheduler).await.unwrap();
    assert_eq!(
        locked_after, scheduler_locked,
        "the scheduler's stake is back"
    );
    assert!(
        free_after > scheduler_free,
        "and it is paid, not claimed against"
    );
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}
