//! `dexec demo` (what `make demo` runs): one task from order to verified result, with the
//! real chain, store, scheduler, workers and WASM runtime on loopback.

/// From a fresh folder outside the repository and without --app: the demo runs the example
/// app dexec carries (issue 18, finding 8).
#[test]
fn demo_prints_a_verified_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = crate::dexec()
        .current_dir(dir.path())
        .args(["demo", "--block-time", "1", "--args", "from the test"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the orders went through the market, and `app run` found them there
    assert!(stdout.contains("published by the scheduler"), "{stdout}");
    assert!(stdout.contains("app run chose app order"), "{stdout}");
    assert!(stdout.contains("task COMPLETED on chain"), "{stdout}");
    assert!(stdout.contains("verified against the chain"), "{stdout}");
    assert!(stdout.contains("Hello, from the test!"), "{stdout}");
    assert!(stdout.contains("requester paid 3 RLC"), "{stdout}");
    // the story on stdout, the services' log lines in a file it names (issue 18, finding 8)
    let log = dir.path().join(".dexec/demo.log");
    assert!(
        stdout.contains("the services log to .dexec/demo.log"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains(" INFO "),
        "service logs on stderr: {stderr}"
    );
    let logged = std::fs::read_to_string(&log).expect("the log file");
    assert!(
        logged.contains("INFO") && logged.contains("scheduler"),
        "{logged}"
    );
    // the verified result is on disk, beside the services' state
    let result =
        std::fs::read_to_string(dir.path().join(".dexec/demo/result/result.txt")).expect("result");
    assert_eq!(result.trim(), "Hello, from the test!");
}
