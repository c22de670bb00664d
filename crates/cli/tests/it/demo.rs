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

/// `dexec demo --oracle` (issue 15): a feed update at trust 3 with a lying source and a lying
/// worker puts the honest median on chain; the liar is slashed.
#[test]
fn the_oracle_demo_puts_the_median_on_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = crate::dexec()
        .current_dir(dir.path())
        .args(["demo", "--oracle", "--block-time", "1"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("lying source C (+20%): 2400.15"),
        "{stdout}"
    );
    assert!(
        stdout.contains("made by a scheduler"),
        "the scheduler filled the feed's request: {stdout}"
    );
    // 2000.12 and 2000.14 at one decimal: 2000.1, whatever the lying source says
    assert!(
        stdout.contains("valueFor(ETH/USD) on chain: 2000.1 (status 200)"),
        "{stdout}"
    );
    // the liar registered first and took a replicate: it lost its stake and its score
    let liar = stdout
        .lines()
        .find(|l| l.contains("(the liar"))
        .unwrap_or_else(|| panic!("the lying worker contributed: {stdout}"));
    assert!(liar.contains("score 0"), "{liar}");
    assert!(
        liar.contains("99999.4 RLC"),
        "stake of 0.6 RLC lost: {liar}"
    );
    let honest: Vec<&str> = stdout.lines().filter(|l| l.contains("(honest")).collect();
    assert!(honest.len() >= 2, "{stdout}");
    assert!(honest.iter().all(|l| l.contains("score 1")), "{honest:?}");
}
