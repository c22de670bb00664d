//! The example apps of `apps/`, run as a worker would.

use dexec_primitives::results::keccak256;
use dexec_runtime::{Outcome, Runtime, RuntimeConfig};
use dexec_sdk::results::{read_computed, result_digest, ResultError};
use sha2::{Digest, Sha256};

use crate::{app, apps_build, run, runtime, TaskDirs};

#[test]
fn hello_greets_its_arguments() {
    let dirs = TaskDirs::new();
    let result = run(dirs.job(app("hello"), r#"dexec "big world""#));
    assert_eq!(result.outcome, Outcome::Ok { exit_code: 0 }, "{result:?}");
    assert_eq!(dirs.read("result.txt"), "Hello, dexec big world!\n");
    assert_eq!(
        String::from_utf8_lossy(&result.stdout),
        "hello: wrote /iexec_out/result.txt\n"
    );
    let computed = read_computed(&dirs.output()).expect("computed.json");
    assert_eq!(
        computed.deterministic_output_path.as_deref(),
        Some("/iexec_out/result.txt")
    );
    let digest = result_digest(&dirs.output()).expect("digest");
    assert_eq!(
        digest,
        <[u8; 32]>::from(Sha256::digest(b"Hello, dexec big world!\n"))
    );
}

#[test]
fn hello_runs_are_identical_and_reuse_the_compiled_module() {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let mut runs = Vec::new();
    for _ in 0..2 {
        let dirs = TaskDirs::new();
        let result = runtime
            .run(dirs.job(app("hello"), "same input"))
            .expect("run");
        assert!(result.outcome.is_success(), "{result:?}");
        let digest = result_digest(&dirs.output()).expect("digest");
        runs.push((result, digest));
    }
    let (first, second) = (&runs[0], &runs[1]);
    assert_eq!(first.1, second.1, "result digests differ");
    assert_eq!(
        first.0.fuel_consumed, second.0.fuel_consumed,
        "fuel differs"
    );
    assert!(first.0.fuel_consumed > 0);
    assert!(!first.0.cache_hit && second.0.cache_hit);
    assert_eq!(runtime.cached_modules(), 1);
}

#[test]
fn pi_matches_the_native_build_and_its_work_grows_with_iterations() {
    let mut fuel = Vec::new();
    for iterations in [1_000_000u64, 10_000_000] {
        let dirs = TaskDirs::new();
        let result = run(dirs.job(app("pi"), &format!("{iterations} 42")));
        assert!(result.outcome.is_success(), "{result:?}");
        fuel.push(result.fuel_consumed);

        let native = TaskDirs::new();
        let status = std::process::Command::new(apps_build().join("native/pi"))
            .args([iterations.to_string(), "42".into()])
            .env("IEXEC_OUT", native.output())
            .status()
            .expect("native pi runs");
        assert!(status.success());
        assert_eq!(dirs.read("result.txt"), native.read("result.txt"));
        assert!(dirs.read("result.txt").starts_with("pi ~= 3.1"));
    }
    // ten times the iterations, about ten times the fuel (start-up, with its host calls at
    // HOST_CALL_FUEL each, is a small constant)
    let ratio = fuel[1] as f64 / fuel[0] as f64;
    assert!((8.0..11.0).contains(&ratio), "fuel {fuel:?}");
}

#[test]
fn wordcount_counts_the_dataset() {
    let dirs = TaskDirs::new();
    std::fs::write(
        dirs.input().join("0xdataset"),
        "the cat and the hat\nThe end\n",
    )
    .expect("dataset");
    let mut job = dirs.job(app("wordcount"), "2");
    job.env.dataset_filename = Some("0xdataset".into());
    job.env.dataset_address = Some("0x00000000000000000000000000000000000000d5".into());
    let result = run(job);
    assert!(result.outcome.is_success(), "{result:?}");
    assert_eq!(
        dirs.read("result.txt"),
        "file: 0xdataset\nbytes: 28\nlines: 2\nwords: 7\ndistinct: 5\ntop:\n3 the\n1 and\n"
    );
    result_digest(&dirs.output()).expect("digest");
}

#[test]
fn wordcount_without_input_is_a_deterministic_app_error() {
    let dirs = TaskDirs::new();
    let result = run(dirs.job(app("wordcount"), ""));
    assert_eq!(result.outcome, Outcome::Ok { exit_code: 1 });
    assert!(result.outcome.is_deterministic());
    assert_eq!(
        String::from_utf8_lossy(&result.stderr),
        "wordcount: no dataset and no input file\n"
    );
    assert!(matches!(
        result_digest(&dirs.output()),
        Err(ResultError::MissingComputedJson)
    ));
}

#[test]
fn callback_returns_the_abi_encoded_square() {
    let dirs = TaskDirs::new();
    let n: u128 = 12_345_678_901;
    let result = run(dirs.job(app("callback"), &n.to_string()));
    assert!(result.outcome.is_success(), "{result:?}");
    let computed = read_computed(&dirs.output()).expect("computed.json");
    let data = computed.callback_data.clone().expect("callback-data");
    let mut expected = [0u8; 32];
    expected[16..].copy_from_slice(&(n * n).to_be_bytes());
    assert_eq!(data, expected, "abi.encode(uint256(n*n))");
    assert_eq!(
        result_digest(&dirs.output()).expect("digest"),
        keccak256(&expected),
        "callback data takes precedence over the output file"
    );
}

#[test]
fn callback_rejects_a_bad_argument() {
    let dirs = TaskDirs::new();
    let result = run(dirs.job(app("callback"), "-3"));
    assert_eq!(result.outcome, Outcome::Ok { exit_code: 1 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_on_the_blocking_pool_agree() {
    let runtime = runtime();
    let wasm = app("pi");
    let dirs: Vec<TaskDirs> = (0..4).map(|_| TaskDirs::new()).collect();
    let handles: Vec<_> = dirs
        .iter()
        .map(|d| {
            tokio::spawn(
                runtime
                    .clone()
                    .run_blocking(d.job(wasm.clone(), "200000 7")),
            )
        })
        .collect();
    let mut fuel = Vec::new();
    for handle in handles {
        let result = handle.await.expect("join").expect("run");
        assert!(result.outcome.is_success(), "{result:?}");
        fuel.push(result.fuel_consumed);
    }
    assert!(fuel.windows(2).all(|w| w[0] == w[1]), "{fuel:?}");
    let digests: Vec<_> = dirs
        .iter()
        .map(|d| result_digest(&d.output()).expect("digest"))
        .collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]));
}

/// `forever` never finishes, whichever way it waits: its sleeps are served by the virtual
/// clock (they return at once, an hour of virtual time passes in a fraction of a second) and
/// its stdin is empty, so every mode ends out of fuel, the same on every run, long before a
/// wall-clock limit.
#[test]
fn forever_ends_out_of_fuel_whichever_way_it_waits() {
    for mode in ["sleep", "stdin", "spin"] {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let dirs = TaskDirs::new();
            let mut job = dirs.job(app("forever"), mode);
            job.fuel = 2_000_000_000;
            job.timeout = std::time::Duration::from_secs(60);
            let started = std::time::Instant::now();
            let result = run(job);
            assert_eq!(result.outcome, Outcome::OutOfFuel, "{mode}: {result:?}");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "{mode}: {:?}: a host call blocked",
                started.elapsed()
            );
            assert_eq!(result.fuel_consumed, 2_000_000_000, "{mode}");
            seen.push(result.stdout.clone());
        }
        assert_eq!(seen[0], seen[1], "{mode}: two runs differ");
        if mode == "sleep" {
            let stdout = String::from_utf8_lossy(&seen[0]);
            assert!(
                stdout.contains("forever: slept 1 h"),
                "an hour of virtual sleep passes: {stdout:?}"
            );
        }
    }
}
