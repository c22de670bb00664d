//! Replicated tasks: consensus with a liar (stake seized, score cut) and a deterministic
//! error result (out of fuel) reaching consensus.

use std::time::Duration;

use alloy::primitives::U256;
use dexec_test_utils::wait_for;

use crate::fixture::*;

/// Trust 3 with fresh workers (weight 2 each): a liar that contributes early forces two more
/// honest contributions (group 2·2·2 = 8 > total 11 · 2/3), so it takes four workers; the
/// liar's stake goes to the winners and its score is cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn liar_is_outvoted_and_slashed() {
    let pool = Pool::start(PoolOptions::default()).await;
    let before = pool.total_on_hub().await;
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let deal = pool.request(app, 3, 1).await;
    let task_id = deal.tasks[0];
    let reader = pool.chain.reader();

    // the liar and one honest worker take the first two replicates and contribute
    let mut liar_config = pool.worker_config(FIRST_WORKER);
    liar_config.honesty = dexec_worker::Honesty::Colludes;
    let liar = pool.start_worker(liar_config).await;
    let honest1 = pool
        .start_worker(pool.worker_config(FIRST_WORKER + 1))
        .await;
    let contributed = wait_for(Duration::from_secs(60), || async {
        let task = reader.task(&deal, deal.deal.bot_first.into()).await.ok()?;
        (task.contributors >= 2).then_some(())
    })
    .await;
    assert!(contributed.is_some(), "two contributions");
    // disagreement: the scheduler needs more replicates
    let honest2 = pool
        .start_worker(pool.worker_config(FIRST_WORKER + 2))
        .await;
    let honest3 = pool
        .start_worker(pool.worker_config(FIRST_WORKER + 3))
        .await;

    let tasks = pool.wait_completed(&deal, Duration::from_secs(90)).await;
    assert_eq!(
        tasks[0].result.as_ref().map(|r| r.digest),
        Some(sha256(HELLO_OUTPUT))
    );
    assert_eq!(tasks[0].contributors, 4);

    let stake = U256::from(WORKERPOOL_PRICE * 30 / 100);
    let deposit = dexec_primitives::Nrlc::from_rlc(100_000).to_u256();
    let (liar_free, liar_locked) = pool.chain.hub_account(liar.address()).await.expect("liar");
    assert_eq!(liar_locked, U256::ZERO);
    assert_eq!(liar_free, deposit - stake, "the liar lost its stake");
    assert_eq!(pool.chain.score(liar.address()).await.expect("score"), 0);
    for honest in [&honest1, &honest2, &honest3] {
        let (free, locked) = pool
            .chain
            .hub_account(honest.address())
            .await
            .expect("honest");
        assert_eq!(locked, U256::ZERO);
        assert!(
            free > deposit,
            "winners are paid (and share the liar's stake)"
        );
        assert_eq!(pool.chain.score(honest.address()).await.expect("score"), 1);
    }
    let view = pool.wait_view(task_id, "completed").await;
    assert_eq!(view.replicates.len(), 4);
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn out_of_fuel_is_a_result_that_reaches_consensus() {
    let pool = Pool::start(PoolOptions::default()).await;
    let before = pool.total_on_hub().await;
    let app = pool.deploy_app("forever", &forever_app()).await;
    let mut workers = Vec::new();
    for i in 0..2 {
        let mut config = pool.worker_config(FIRST_WORKER + i);
        // every worker of the pool uses the same budget, so the outcome is the same
        config.fuel = Some(5_000_000);
        workers.push(pool.start_worker(config).await);
    }
    let deal = pool.request(app, 3, 1).await;
    let tasks = pool.wait_completed(&deal, Duration::from_secs(90)).await;
    let expected = sha256(b"dexec error: app ran out of fuel\n");
    assert_eq!(tasks[0].result.as_ref().map(|r| r.digest), Some(expected));
    assert_eq!(tasks[0].contributors, 2);
    for w in &workers {
        assert_eq!(pool.chain.score(w.address()).await.expect("score"), 1);
    }
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}

/// Scores grow with every task won; the scheduler reads them when it assigns, so once two
/// workers are veterans (score 12, weight 3) one vote reaches trust 3 and no second replicate
/// is sent to contribute in vain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn veterans_reach_consensus_alone() {
    let pool = Pool::start(PoolOptions::default()).await;
    let before = pool.total_on_hub().await;
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let a = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let b = pool
        .start_worker(pool.worker_config(FIRST_WORKER + 1))
        .await;
    // fresh workers (weight 2): every task needs both, and both win it
    let deal = pool.request(app, 3, 12).await;
    let tasks = pool.wait_completed(&deal, Duration::from_secs(120)).await;
    assert!(tasks.iter().all(|t| t.contributors == 2));
    for worker in [&a, &b] {
        let score = pool.chain.score(worker.address()).await.expect("score");
        assert_eq!(score, 12, "one point per task won");
        assert_eq!(dexec_primitives::poco::weight(score), 3);
    }

    let deal = pool.request(app, 3, 1).await;
    let tasks = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    assert_eq!(
        tasks[0].contributors, 1,
        "a veteran's vote reaches trust 3 alone"
    );
    let view = pool.wait_view(deal.tasks[0], "completed").await;
    assert_eq!(view.replicates.len(), 1, "no replicate sent in vain");
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}

/// A reorg that drops the scheduler's `finalize` (its block replaced, the transaction not
/// mined again) puts the task back in its revealing phase on chain: the scheduler, watching
/// its settlements, finalizes it again, and money is conserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finalize_a_reorg_dropped_is_sent_again() {
    use alloy::providers::Provider;
    let pool = Pool::start(PoolOptions::default()).await;
    let before = pool.total_on_hub().await;
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let _a = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let _b = pool
        .start_worker(pool.worker_config(FIRST_WORKER + 1))
        .await;
    let deal = pool.request(app, 3, 1).await;
    let settled = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    let finalize = settled[0].result.as_ref().expect("a result").tx_hash;
    pool.wait_view(settled[0].task_id, "completed").await;

    let provider = pool.chain.reader().provider().clone();
    let block = provider
        .get_transaction_receipt(finalize)
        .await
        .expect("receipt")
        .and_then(|r| r.block_number)
        .expect("mined");
    let head = provider.get_block_number().await.expect("head");
    pool.chain
        .reorg(head - block + 1)
        .await
        .expect("anvil_reorg");
    let dropped = provider
        .get_transaction_receipt(finalize)
        .await
        .expect("asked");
    assert!(dropped.is_none(), "the reorg dropped the finalize");

    let again = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    let result = again[0].result.as_ref().expect("a result");
    assert_ne!(result.tx_hash, finalize, "finalized by a new transaction");
    assert_eq!(result.digest, sha256(HELLO_OUTPUT));
    pool.wait_view(settled[0].task_id, "completed").await;
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}
