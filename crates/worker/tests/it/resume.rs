//! A restarted worker resumes the replicates it left in its work directory.

use std::time::Duration;

use alloy::primitives::B256;
use dexec_primitives::ResultsLink;
use dexec_sdk::scheduler::{Capabilities, SchedulerClient};
use dexec_test_utils::cluster::*;
use dexec_test_utils::wait_for;

/// A worker stopped after computing (its state file says `computed`, with the digest and
/// the uploaded result) settles that result when it starts again: it does not compute again
/// (the app would now run out of fuel and give another digest) and is not given the task
/// anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_computed_replicate_is_settled_after_a_restart() {
    let mut pool = Pool::start(PoolOptions::default()).await;
    // the crashed worker sends no heartbeats until it restarts: not lost meanwhile
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.lost_after = Duration::from_secs(120);
    pool.start_scheduler_with(config).await;

    let app = pool.deploy_app("forever", &forever_app()).await;
    let deal = pool.request(app, 1, 1).await;
    let task_id = deal.tasks[0];

    // the worker's first life: it registered and received the task ...
    let first_life = SchedulerClient::new(
        &pool.scheduler_url(),
        pool.chain.signer(FIRST_WORKER),
        "worker before the crash".into(),
        Capabilities {
            cores: 1,
            memory_mb: 1024,
            tags: B256::ZERO,
            max_concurrent: 1,
        },
    );
    first_life.register().await.expect("registered");
    let assignment = wait_for(Duration::from_secs(30), || async {
        first_life
            .next(Duration::from_millis(500))
            .await
            .ok()
            .flatten()
    })
    .await
    .expect("the task is assigned");
    assert_eq!(assignment.task_id, task_id);
    // ... computed and uploaded a result, saved its state, and stopped
    let blob = pool
        .store
        .client()
        .unwrap()
        .put(b"result zip of the first life".to_vec())
        .await
        .unwrap();
    let digest = sha256(b"digest of the first life");
    let task_dir = pool
        .worker_dir(FIRST_WORKER)
        .join("tasks")
        .join(format!("{task_id:#x}"));
    std::fs::create_dir_all(&task_dir).unwrap();
    let state = serde_json::json!({
        "assignment": assignment,
        "phase": {
            "phase": "computed",
            "digest": digest,
            "resultLocation": blob.url,
            "callbackData": null,
        },
    });
    std::fs::write(task_dir.join("state.json"), state.to_string()).unwrap();

    let worker = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let tasks = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    let result = tasks[0].result.as_ref().expect("completed with a result");
    assert_eq!(
        result.digest, digest,
        "the saved digest, not a new computation"
    );
    let link = ResultsLink::parse(&result.results).unwrap();
    assert_eq!(link.location, blob.url.to_string());
    let view = pool.wait_view(task_id, "completed").await;
    assert_eq!(view.replicates.len(), 1, "resumed, not re-assigned");
    assert_eq!(view.replicates[0].worker, worker.address());
    assert_eq!(view.replicates[0].status, "done");
    let cleaned = wait_for(Duration::from_secs(10), || async {
        (!task_dir.exists()).then_some(())
    })
    .await;
    assert!(cleaned.is_some(), "the task directory is removed once done");
}

/// A worker stopped after its contribution was mined but before it saved that (its state file
/// still says `computed`) reveals when it starts again. It used to report `computed` forever:
/// the scheduler, which had seen the contribution on chain, told it to wait, the task
/// completed only at its reveal deadline, and the honest worker lost its stake for not
/// revealing (found by `dexec bench chaos`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replicate_contributed_before_a_restart_is_revealed() {
    let mut pool = Pool::start(PoolOptions::default()).await;
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.lost_after = Duration::from_secs(120);
    pool.start_scheduler_with(config).await;

    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let deal = pool.request(app, 3, 1).await;
    let task_id = deal.tasks[0];
    let first_life = SchedulerClient::new(
        &pool.scheduler_url(),
        pool.chain.signer(FIRST_WORKER),
        "worker before the crash".into(),
        Capabilities {
            cores: 1,
            memory_mb: 1024,
            tags: B256::ZERO,
            max_concurrent: 1,
        },
    );
    first_life.register().await.expect("registered");
    let assignment = wait_for(Duration::from_secs(30), || async {
        first_life
            .next(Duration::from_millis(500))
            .await
            .ok()
            .flatten()
    })
    .await
    .expect("the task is assigned");
    // its first life computed the hello app's output, uploaded it, saved `computed`, and its
    // contribution was mined; then it stopped
    let digest = sha256(HELLO_OUTPUT);
    let blob = pool
        .store
        .client()
        .unwrap()
        .put(b"result zip of the first life".to_vec())
        .await
        .unwrap();
    let me = pool.chain.address(FIRST_WORKER);
    let task = dexec_sdk::DealRef::from(&deal)
        .task(deal.deal.bot_first.into())
        .unwrap();
    pool.chain
        .client_for(FIRST_WORKER)
        .contribute(
            &task,
            dexec_primitives::poco::result_hash(task_id, digest),
            dexec_primitives::poco::result_seal(me, task_id, digest),
            None,
            &assignment.authorization,
        )
        .await
        .expect("the first life's contribution");
    let task_dir = pool
        .worker_dir(FIRST_WORKER)
        .join("tasks")
        .join(format!("{task_id:#x}"));
    std::fs::create_dir_all(&task_dir).unwrap();
    let state = serde_json::json!({
        "assignment": assignment,
        "phase": {
            "phase": "computed",
            "digest": digest,
            "resultLocation": blob.url,
            "callbackData": null,
        },
    });
    std::fs::write(task_dir.join("state.json"), state.to_string()).unwrap();

    // it starts again; a second worker brings the task to consensus
    let _resumed = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let _second = pool
        .start_worker(pool.worker_config(FIRST_WORKER + 1))
        .await;
    // the reveal deadline is 600 s away: a completion now means both revealed
    let tasks = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    assert_eq!(tasks[0].result.as_ref().map(|r| r.digest), Some(digest));
    let revealed = pool
        .chain
        .reader()
        .contribution(task_id, me)
        .await
        .expect("contribution");
    assert_eq!(
        revealed,
        dexec_primitives::ContributionStatus::Proved,
        "the resumed worker revealed"
    );
}

/// Two workers on one work directory would share their replicates' state (one resuming the
/// other's running task and deleting its live files): the second is refused, naming the
/// first, and the folder is free again once the first stops (issue 18, finding 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_worker_on_the_same_folder_is_refused() {
    let pool = Pool::start(PoolOptions::default()).await;
    let first = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let mut second = pool.worker_config(FIRST_WORKER + 1);
    second.work_dir = pool.worker_dir(FIRST_WORKER);
    let Err(refused) = dexec_worker::start(second.clone(), std::future::pending()).await else {
        panic!("a second worker on the folder is refused");
    };
    let refused = refused.to_string();
    assert!(
        refused.contains("one worker per folder")
            && refused.contains(&format!("pid {}, worker", std::process::id())),
        "{refused}"
    );

    first.kill();
    let started = wait_for(Duration::from_secs(10), || {
        let config = second.clone();
        async move {
            dexec_worker::start(config, std::future::pending())
                .await
                .ok()
        }
    })
    .await;
    assert!(
        started.is_some(),
        "the folder is free once the first worker is gone"
    );
}
