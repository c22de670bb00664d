//! Trust 1: the fast path (`contributeAndFinalize` by the worker) and batches (`pushResults`).

use std::time::Duration;

use dexec_scheduler::Trust1Mode;

use crate::fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trust_one_end_to_end() {
    trust_one(PoolOptions::default()).await;
}

/// The same on PostgreSQL, in a database of its own on the server `DEXEC_TEST_POSTGRES_URL`
/// names (e.g. `postgres://postgres@127.0.0.1:5432/postgres`); without it the test says
/// SKIPPED, and fails under `make test` and CI.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trust_one_on_postgres() {
    let Some(server) = dexec_test_utils::postgres_url("trust_one_on_postgres") else {
        return;
    };
    // a fresh database: the scheduler resumes from the block cursor a database holds, which
    // a previous run on another chain would have left far ahead
    let name = format!("scheduler_{}", rand::random::<u64>());
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
        .await
        .expect("PostgreSQL answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let (base, _) = server
        .rsplit_once('/')
        .filter(|(base, _)| base.contains("://") && !base.ends_with('/'))
        .expect("a database URL ends with /<database>");
    trust_one(PoolOptions {
        db_url: Some(format!("{base}/{name}")),
        ..Default::default()
    })
    .await;
    // the pool and its scheduler are gone: their connections are closed or forced closed
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("drop database");
}

async fn trust_one(options: PoolOptions) {
    let pool = Pool::start(options).await;
    let before = pool.total_on_hub().await;
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let _worker = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let deal = pool.request(app, 1, 2).await;

    let tasks = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    let expected = sha256(HELLO_OUTPUT);
    for task in &tasks {
        let result = task.result.as_ref().expect("completed with a result");
        assert_eq!(result.digest, expected, "digest of the hello app's output");
        let link = result.link().expect("results link is JSON");
        assert_eq!(link["storage"], "dexec-store");
        // the link serves the zipped /iexec_out, which holds the result file
        let location = link["location"].as_str().expect("location");
        let zip = reqwest::get(location)
            .await
            .expect("GET result")
            .error_for_status()
            .expect("result stored")
            .bytes()
            .await
            .expect("zip bytes");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).expect("a zip");
        let mut file = archive
            .by_name("result.txt")
            .expect("result.txt in the zip");
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut content).expect("read");
        assert_eq!(content, HELLO_OUTPUT);

        let view = pool.wait_view(task.task_id, "completed").await;
        assert_eq!(view.result_digest, Some(expected));
        assert_eq!(view.replicates.len(), 1);
    }
    // the worker was paid: workerpool price minus the scheduler's 1 %
    let (free, locked) = pool
        .chain
        .hub_account(pool.chain.address(FIRST_WORKER))
        .await
        .expect("worker account");
    assert!(locked.is_zero());
    assert_eq!(
        free,
        dexec_primitives::Nrlc::from_rlc(100_000).to_u256()
            + alloy::primitives::U256::from(2 * WORKERPOOL_PRICE * 99 / 100)
    );
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trust_one_bag_settles_in_batches() {
    let pool = Pool::start(PoolOptions {
        trust1_mode: Trust1Mode::Batch,
        ..Default::default()
    })
    .await;
    let before = pool.total_on_hub().await;
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let mut a = pool.worker_config(FIRST_WORKER);
    a.max_concurrent = 3;
    let mut b = pool.worker_config(FIRST_WORKER + 1);
    b.max_concurrent = 3;
    let _a = pool.start_worker(a).await;
    let _b = pool.start_worker(b).await;
    let deal = pool.request(app, 1, 6).await;

    let tasks = pool.wait_completed(&deal, Duration::from_secs(90)).await;
    let expected = sha256(HELLO_OUTPUT);
    let mut workers = std::collections::HashSet::new();
    for task in &tasks {
        assert_eq!(task.result.as_ref().map(|r| r.digest), Some(expected));
        let view = pool.wait_view(task.task_id, "completed").await;
        workers.extend(view.replicates.iter().map(|r| r.worker));
    }
    assert_eq!(workers.len(), 2, "both workers got tasks");
    // settled by the scheduler: fewer transactions than tasks
    let settlements: std::collections::HashSet<_> = tasks
        .iter()
        .filter_map(|t| t.result.as_ref().map(|r| r.tx_hash))
        .collect();
    assert!(
        settlements.len() < tasks.len(),
        "{} transactions for {} tasks",
        settlements.len(),
        tasks.len()
    );
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}

/// A worker with free slots takes a bag's tasks in one request: as many as it asks for and
/// no more than its slots, the first waited for as `next` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_takes_several_tasks_in_one_request() {
    let pool = Pool::start(PoolOptions::default()).await;
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let worker = test_worker(&pool, FIRST_WORKER, 3);
    worker.register().await.expect("registered");
    // nothing to do: an empty answer once the wait is over
    let none = worker
        .assignments(Duration::from_millis(300), 3)
        .await
        .expect("assignments");
    assert!(none.is_empty());

    let deal = pool.request(app, 1, 5).await;
    let first = worker
        .assignments(Duration::from_secs(20), 2)
        .await
        .expect("assignments");
    assert_eq!(first.len(), 2, "as many as asked for");
    let second = worker
        .assignments(Duration::from_secs(20), 5)
        .await
        .expect("assignments");
    assert_eq!(second.len(), 1, "no more than the worker's slots (3)");
    let mut given: Vec<_> = first.iter().chain(&second).map(|a| a.task_id).collect();
    given.sort();
    given.dedup();
    assert_eq!(given.len(), 3, "three different tasks");
    assert!(given.iter().all(|t| deal.tasks.contains(t)));
}

/// A worker reports on several replicates in one request: each report counts as its own
/// would (batch mode: held, the worker told `done`), one the scheduler refuses (a task that
/// is not this worker's) gets its refusal in its answer without failing the others, and the
/// held results settle.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_reports_several_results_in_one_request() {
    use dexec_sdk::scheduler::{Action, Report, ReportStatus, TaskReport};
    let pool = Pool::start(PoolOptions {
        trust1_mode: Trust1Mode::Batch,
        ..Default::default()
    })
    .await;
    let before = pool.total_on_hub().await;
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let worker = test_worker(&pool, FIRST_WORKER, 3);
    worker.register().await.expect("registered");
    let deal = pool.request(app, 1, 3).await;
    let mut assigned = Vec::new();
    while assigned.len() < 3 {
        assigned.extend(
            worker
                .assignments(Duration::from_secs(20), 3)
                .await
                .expect("assignments"),
        );
    }
    let digest = sha256(HELLO_OUTPUT);
    let computed = |task_id| TaskReport {
        task_id,
        report: Report {
            digest: Some(digest),
            result_location: Some(format!("{}/blobs/none", pool.store.url)),
            ..Report::status(ReportStatus::Computed)
        },
    };
    let stranger = alloy::primitives::B256::repeat_byte(0x5a);
    let mut reports: Vec<TaskReport> = assigned.iter().map(|a| computed(a.task_id)).collect();
    reports.insert(1, computed(stranger));
    let answers = worker
        .reports(&reports)
        .await
        .expect("one answer per report");
    assert_eq!(answers.len(), 4);
    for (i, answer) in answers.iter().enumerate() {
        if i == 1 {
            let refused = answer.as_ref().expect_err("not this worker's task");
            assert!(
                matches!(refused, dexec_sdk::scheduler::SchedulerError::Refused { status, .. } if status.as_u16() == 404),
                "{refused}"
            );
            assert!(refused.to_string().contains("no replicate"), "{refused}");
        } else {
            assert_eq!(
                answer.as_ref().ok(),
                Some(&Action::Done),
                "held: {answer:?}"
            );
        }
    }
    // the same reports again (a worker asking what to do): the same answers, nothing twice
    let again = worker.reports(&reports).await.expect("answers");
    assert_eq!(again.iter().filter(|a| a.is_ok()).count(), 3);

    let tasks = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    for task in &tasks {
        assert_eq!(task.result.as_ref().map(|r| r.digest), Some(digest));
    }
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");

    // more than a request may carry is refused as a whole, with a sentence
    let too_many: Vec<TaskReport> = (0..=dexec_sdk::scheduler::MAX_REPORTS_PER_REQUEST)
        .map(|_| computed(stranger))
        .collect();
    let error = worker.reports(&too_many).await.expect_err("too many");
    assert!(
        matches!(&error, dexec_sdk::scheduler::SchedulerError::Refused { status, .. } if status.as_u16() == 400),
        "{error}"
    );
    assert!(error.to_string().contains("at most 256"), "{error}");
}
