//! Failures: a worker dies mid-task; the scheduler restarts mid-deal.

use std::time::Duration;

use dexec_test_utils::wait_for;

use crate::fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_worker_task_completes_elsewhere() {
    let pool = Pool::start(PoolOptions::default()).await;
    let before = pool.total_on_hub().await;
    // slow enough to be killed mid-run
    let app = pool.deploy_app("slow", &hello_app(1_500_000_000)).await;
    let doomed = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let deal = pool.request(app, 1, 1).await;
    let task_id = deal.tasks[0];
    let assigned = wait_for(Duration::from_secs(30), || async {
        let view = pool.try_task_view(task_id).await?;
        view.replicates
            .iter()
            .any(|r| r.worker == doomed.address())
            .then_some(())
    })
    .await;
    assert!(assigned.is_some(), "the first worker got the task");
    doomed.kill();
    let rescuer = pool
        .start_worker(pool.worker_config(FIRST_WORKER + 1))
        .await;

    let tasks = pool.wait_completed(&deal, Duration::from_secs(90)).await;
    assert_eq!(
        tasks[0].result.as_ref().map(|r| r.digest),
        Some(sha256(HELLO_OUTPUT))
    );
    // the chain's finalization can reach the scheduler before the rescuer's own report of it
    let view = wait_for(Duration::from_secs(30), || async {
        let view = pool.try_task_view(task_id).await?;
        let done = view
            .replicates
            .iter()
            .any(|r| r.worker == rescuer.address() && r.status == "done");
        (view.status == "completed" && done).then_some(view)
    })
    .await;
    let view = match view {
        Some(view) => view,
        None => panic!(
            "not completed by the rescuer: {:?}",
            pool.task_view(task_id).await
        ),
    };
    let status = |w| {
        view.replicates
            .iter()
            .find(|r| r.worker == w)
            .map(|r| r.status.clone())
    };
    assert_eq!(status(doomed.address()).as_deref(), Some("lost"));
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scheduler_restart_mid_deal() {
    let mut pool = Pool::start(PoolOptions::default()).await;
    let before = pool.total_on_hub().await;
    let app = pool.deploy_app("slow", &hello_app(300_000_000)).await;
    let mut config = pool.worker_config(FIRST_WORKER);
    config.max_concurrent = 1;
    let _worker = pool.start_worker(config).await;
    let deal = pool.request(app, 1, 3).await;
    let reader = pool.chain.reader();
    let first = wait_for(Duration::from_secs(60), || async {
        let task = reader.task(&deal, deal.deal.bot_first.into()).await.ok()?;
        (task.status == dexec_sdk::TaskStatus::Completed).then_some(())
    })
    .await;
    assert!(first.is_some(), "the first task completed");

    // stop the scheduler while the deal is running; a new deal arrives while it is down
    let scheduler = pool.scheduler.take().expect("scheduler");
    let addr = scheduler.addr();
    scheduler.stop().await;
    let second = pool.request(app, 1, 1).await;
    // the worker finds nobody at the scheduler's address: a stand-in there takes its next
    // call and hangs up, so the outage is one the worker went through
    let stand_in = tokio::net::TcpListener::bind(addr)
        .await
        .expect("the scheduler's address is free");
    let knocked = tokio::time::timeout(Duration::from_secs(30), stand_in.accept()).await;
    assert!(
        matches!(knocked, Ok(Ok(_))),
        "the worker called the stopped scheduler"
    );
    drop(knocked);
    drop(stand_in);
    pool.start_scheduler(Some(addr)).await;

    pool.wait_completed(&deal, Duration::from_secs(120)).await;
    pool.wait_completed(&second, Duration::from_secs(60)).await;
    for task in deal.tasks.iter().chain(&second.tasks) {
        pool.wait_view(*task, "completed").await;
    }
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}

/// Nobody runs the tasks: past the final deadline the scheduler claims them in one
/// `claimBatch`; the requester gets its money back, no more (a failure pays nobody), and the
/// scheduler's stakes go to the hub's kitty.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_tasks_are_claimed() {
    let pool = Pool::start(PoolOptions::default()).await;
    let before = pool.total_on_hub().await;
    let requester = pool.chain.address(REQUESTER);
    let (free_before, _) = pool.chain.hub_account(requester).await.expect("requester");
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let deal = pool.request(app, 1, 2).await;
    pool.wait_view(deal.tasks[0], "pending").await;
    // XS: final deadline 10 × 300 s after the match
    pool.chain.advance_time(3_001).await.expect("time passes");
    for task in &deal.tasks {
        pool.wait_view(*task, "failed").await;
    }
    // (the SDK's task status cannot show claims yet: it drops the TaskClaimed event)
    let poco = pool.chain.deployment.poco(&pool.chain.provider);
    for index in deal.deal.task_indices() {
        let settled = poco
            .isTaskSettled(
                deal.deal_id,
                alloy::primitives::U256::from(index),
                alloy::primitives::U256::from(deal.deal.bot_first),
            )
            .call()
            .await
            .expect("isTaskSettled");
        assert!(settled, "task {index} claimed");
    }
    let (free_after, locked) = pool.chain.hub_account(requester).await.expect("requester");
    assert_eq!(locked, alloy::primitives::U256::ZERO);
    assert_eq!(free_after, free_before, "the price back, nothing more");
    let seized = alloy::primitives::U256::from(2 * WORKERPOOL_PRICE * 30 / 100);
    let kitty = pool.chain.reader().kitty().await.expect("kitty").to_u256();
    assert_eq!(kitty, seized, "the scheduler's stakes went to the kitty");
    assert_eq!(
        pool.total_on_hub().await + kitty,
        before,
        "money is conserved"
    );
}

/// A worker stopped mid-replicate resumes it from its state directory when it restarts
/// (before the scheduler declares it lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_restart_resumes_its_replicate() {
    let pool = Pool::start(PoolOptions::default()).await;
    let app = pool.deploy_app("slow", &hello_app(1_500_000_000)).await;
    let mut config = pool.worker_config(FIRST_WORKER);
    config.max_concurrent = 1;
    let first = pool.start_worker(config.clone()).await;
    let deal = pool.request(app, 1, 1).await;
    let task_id = deal.tasks[0];
    let assigned = wait_for(Duration::from_secs(30), || async {
        let view = pool.try_task_view(task_id).await?;
        (!view.replicates.is_empty()).then_some(())
    })
    .await;
    assert!(assigned.is_some(), "assigned");
    first.kill();
    let state = pool
        .worker_dir(FIRST_WORKER)
        .join("tasks")
        .join(format!("{task_id:#x}"))
        .join("state.json");
    assert!(state.is_file(), "the replicate's state is on disk");
    let _again = pool.start_worker(config).await;
    pool.wait_completed(&deal, Duration::from_secs(60)).await;
    let view = pool.wait_view(task_id, "completed").await;
    assert_eq!(view.replicates.len(), 1, "resumed, not re-assigned");
    assert_eq!(view.replicates[0].status, "done");
}

/// A pool may admit only listed workers, or only workers with some on-chain score; others are
/// refused at registration with a sentence, and the admitted ones still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_outside_the_admission_policy_are_refused() {
    let mut pool = Pool::start(PoolOptions::default()).await;
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.allow_workers = vec![pool.chain.address(FIRST_WORKER)];
    pool.start_scheduler_with(config).await;

    let refused = dexec_worker::start(pool.worker_config(FIRST_WORKER + 1), std::future::pending())
        .await
        .expect_err("not on the allow list");
    assert!(refused.to_string().contains("allow list"), "{refused}");
    let _admitted = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let deal = pool.request(app, 1, 1).await;
    pool.wait_completed(&deal, Duration::from_secs(60)).await;

    // a minimum score: fresh workers (score 0) are refused
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.min_worker_score = 1;
    pool.start_scheduler_with(config).await;
    let refused = dexec_worker::start(pool.worker_config(FIRST_WORKER + 2), std::future::pending())
        .await
        .expect_err("score 0");
    assert!(refused.to_string().contains("score 0"), "{refused}");
}

/// Two schedulers on one SQLite database would assign and settle the same tasks: the second
/// is refused with a sentence naming the first, and starts once the first has stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_scheduler_on_the_same_database_is_refused() {
    let mut pool = Pool::start(PoolOptions::default()).await;
    let Err(refused) =
        dexec_scheduler::serve(pool.scheduler_config(None), std::future::pending()).await
    else {
        panic!("a second scheduler started on a database in use");
    };
    let said = refused.to_string();
    assert!(
        said.contains("scheduler.db is already used by another process")
            && said.contains(&format!("pid {}, scheduler", std::process::id()))
            && said.contains("one scheduler per database"),
        "{said}"
    );
    pool.scheduler.take().expect("running").stop().await;
    pool.start_scheduler(None).await;
}

/// After a scheduler restart (sessions live in its memory) every call a worker has in flight
/// is refused at once: its replicates waiting for consensus, its long poll, its heartbeat.
/// The worker registers again once, and every call goes through; a call that gave up here
/// made an honest worker abandon a replicate it had contributed to, and lose its stake for
/// not revealing (found by `dexec bench chaos`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_survive_a_scheduler_restart() {
    let mut pool = Pool::start(PoolOptions::default()).await;
    let worker = test_worker(&pool, FIRST_WORKER, 4);
    worker.register().await.expect("registered");
    worker
        .heartbeat()
        .await
        .expect("a heartbeat before the restart");
    let scheduler = pool.scheduler.take().expect("scheduler");
    let addr = scheduler.addr();
    scheduler.stop().await;
    pool.start_scheduler(Some(addr)).await;
    let calls = tokio::join!(
        worker.heartbeat(),
        worker.heartbeat(),
        worker.heartbeat(),
        worker.heartbeat(),
        worker.heartbeat(),
        worker.heartbeat(),
    );
    for (n, call) in [calls.0, calls.1, calls.2, calls.3, calls.4, calls.5]
        .into_iter()
        .enumerate()
    {
        call.unwrap_or_else(|e| panic!("call {n} after the restart: {e}"));
    }
}
