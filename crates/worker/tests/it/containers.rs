//! Container apps from the worker's side: the probe image (`dexec_runtime::oci::probe_archive`,
//! a static binary in a one-layer OCI archive) run by real podman with runc, through the real
//! store, scheduler and hub. Skipped with a visible reason on a host whose engine fails the
//! worker's self-check (`containers_ready`); `make test` requires them.

use std::time::Duration;

use alloy::primitives::{Address, B256};
use dexec_runtime::oci::{archive, probe_archive};
use dexec_sdk::AppSpec;
use dexec_test_utils::cluster::*;
use dexec_test_utils::containers_ready;

use crate::{file, result_files};

fn container_worker(pool: &Pool, account: usize) -> dexec_worker::Config {
    let mut config = pool.worker_config(account);
    config.containers = true;
    config
}

/// A container app at trust 3: two workers that run containers reach consensus on the same
/// result (the determinism aids are the same on both), a worker without `--containers` is
/// never given the task, and no money appears or vanishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_container_app_reaches_consensus_on_two_workers() {
    if !containers_ready("a_container_app_reaches_consensus_on_two_workers").await {
        return;
    }
    let pool = Pool::start(PoolOptions::default()).await;
    let before = pool.total_on_hub().await;
    let app = pool.deploy_container_app("probe", &probe_archive()).await;
    let wasm_only = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let mut workers = Vec::new();
    for i in 1..3 {
        workers.push(
            pool.start_worker(container_worker(&pool, FIRST_WORKER + i))
                .await,
        );
    }
    let deal = pool
        .request_with(app, 3, 1, r#"{"iexec_args":"echo hello from a container"}"#)
        .await;

    let tasks = pool.wait_completed(&deal, Duration::from_secs(120)).await;
    let result = tasks[0].result.as_ref().expect("completed with a result");
    let files = result_files(result).await;
    let text = String::from_utf8_lossy(file(&files, "result.txt")).into_owned();
    assert!(
        text.starts_with("hello from a container\nTZ=UTC\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("task={:#x}", deal.tasks[0])),
        "{text}"
    );
    assert!(text.contains("hostname=dexec"), "{text}");
    let seed = text
        .lines()
        .find_map(|l| l.strip_prefix("DEXEC_SEED="))
        .expect("a seed line");
    assert_eq!(seed.len(), 64, "a per-task seed: {text}");
    assert_eq!(tasks[0].contributors, 2, "both container workers agreed");

    let view = pool.wait_view(deal.tasks[0], "completed").await;
    assert!(
        view.replicates
            .iter()
            .all(|r| r.worker != wasm_only.address()),
        "the WASM-only worker was given a container task: {:?}",
        view.replicates
    );
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
}

/// Hostile containers, each contained with a clear outcome in its error result, and the
/// worker still serving after them: a fork bomb (process limit, then the wall clock), a memory
/// bomb (memory limit), a network connection (there is none), a write to the root filesystem
/// (read-only), sleeping forever (wall clock), 1 GiB of output (the output tmpfs), and an
/// image whose checksum is not the app's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_containers_are_contained_and_the_worker_keeps_serving() {
    if !containers_ready("hostile_containers_are_contained_and_the_worker_keeps_serving").await {
        return;
    }
    let pool = Pool::start(PoolOptions::default()).await;
    let before = pool.total_on_hub().await;
    let probe = probe_archive();
    let app = pool.deploy_container_app("probe", &probe).await;
    // the same archive registered with another checksum
    let blob = pool
        .store
        .client()
        .unwrap()
        .put(probe.clone())
        .await
        .unwrap();
    let forged = pool
        .chain
        .client_for(APP_OWNER)
        .deploy_app(&AppSpec {
            name: "forged".into(),
            app_type: "OCI".into(),
            multiaddr: blob.url.to_string(),
            checksum: B256::repeat_byte(0x42),
            mrenclave: Default::default(),
        })
        .await
        .unwrap()
        .address;
    let mut config = container_worker(&pool, FIRST_WORKER);
    config.wall_clock_limit = Some(Duration::from_secs(8));
    config.max_concurrent = 3;
    let _worker = pool.start_worker(config).await;

    let cases: [(Address, &str, &str); 7] = [
        (app, "fork-bomb", "app ran past its wall-clock limit of 8 s"),
        (app, "mem-bomb", "app exceeded its memory limit"),
        (app, "net", "app exited with code 3"),
        (app, "write-root", "app exited with code 4"),
        (app, "sleep", "app ran past its wall-clock limit of 8 s"),
        (app, "big-output", "app exceeded its bytes written limit"),
        (forged, "echo forged", "is not the app's checksum 0x4242"),
    ];
    let mut deals = Vec::new();
    for (app, args, _) in &cases {
        let params = format!(r#"{{"iexec_args":"{args}"}}"#);
        deals.push(pool.request_with(*app, 1, 1, &params).await);
    }
    for ((_, args, expected), deal) in cases.iter().zip(&deals) {
        let tasks = pool.wait_completed(deal, Duration::from_secs(180)).await;
        let result = tasks[0].result.as_ref().expect("completed with a result");
        let files = result_files(result).await;
        let error = String::from_utf8_lossy(file(&files, "error.txt")).into_owned();
        assert!(error.contains(expected), "{args}: {error}");
        assert_eq!(result.digest, sha256(file(&files, "error.txt")), "{args}");
    }

    // still serving
    let deal = pool
        .request_with(app, 1, 1, r#"{"iexec_args":"echo still here"}"#)
        .await;
    let tasks = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    let files = result_files(tasks[0].result.as_ref().expect("a result")).await;
    assert!(file(&files, "result.txt").starts_with(b"still here\n"));
    assert_eq!(pool.total_on_hub().await, before, "money is conserved");
    let info = archive::verify(&probe[..], None).unwrap();
    assert_eq!(info.entrypoint, ["/selfcheck"]);
}

/// `--containers` on a host whose engine cannot run the probe is refused at start with the
/// reason, before the worker registers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_without_an_engine_are_refused_at_start() {
    let pool = Pool::start(PoolOptions::default()).await;
    std::env::set_var("DEXEC_PODMAN", "/nonexistent/podman");
    let refused = match dexec_worker::start(container_worker(&pool, FIRST_WORKER), async {}).await {
        Ok(_) => panic!("a worker started with --containers and no engine"),
        Err(e) => e,
    };
    std::env::remove_var("DEXEC_PODMAN");
    let said = refused.to_string();
    assert!(
        said.starts_with(
            "invalid configuration: --containers: this host cannot run container apps: the \
             container engine does not answer"
        ),
        "{said}"
    );
}

/// App images past the cache's size go oldest first, never the one just loaded: two app
/// archives loaded, a bound smaller than both, and only the newer one stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_images_are_pruned_oldest_first() {
    if !containers_ready("app_images_are_pruned_oldest_first").await {
        return;
    }
    // its own repository: pruning never touches the images of tests running beside it
    let engine = dexec_runtime::oci::Engine::podman().with_app_repo("localhost/dexec-prune-test");
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = Vec::new();
    // two images no other test uses: their files differ from the probe's
    for name in ["prune-a", "prune-b"] {
        let archive =
            archive::write_single_layer(&[(name, 0o644, name.as_bytes())], &["/nothing"], name)
                .unwrap();
        let info = archive::verify(&archive[..], None).unwrap();
        let path = dir.path().join(format!("{name}.tar"));
        std::fs::write(&path, &archive).unwrap();
        let id = engine.load_app(&path, info.manifest_digest).await.unwrap();
        assert_eq!(
            engine.app_image(info.manifest_digest).await.as_deref(),
            Some(id.as_str())
        );
        loaded.push((info.manifest_digest, id));
        // podman's creation times have a one-second grain
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let (older, newer) = (&loaded[0], &loaded[1]);
    let removed = engine.prune(0, &newer.1).await.unwrap();
    assert!(removed >= 1, "removed {removed}");
    assert_eq!(
        engine.app_image(older.0).await,
        None,
        "the older image is gone"
    );
    assert!(
        engine.app_image(newer.0).await.is_some(),
        "the kept one stays"
    );
}
