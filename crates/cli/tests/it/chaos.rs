//! The short, seeded chaos run CI makes (`make chaos` runs the long one): the whole system as
//! processes on simulated hosts (network namespaces: the chain, market and store on one, the
//! scheduler on PostgreSQL on a second, eight workers on four more), a stream of deals, and
//! faults at random moments; nothing may be lost.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The repository's root.
fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn a_short_seeded_chaos_run_loses_nothing() {
    let prefix = format!("dxc{}", std::process::id());
    let script = repo().join("scripts/hosts.sh");
    // the hosts are made by the run itself; this only checks that they can be
    let probe = Command::new(&script)
        .args(["up", &prefix, "1"])
        .output()
        .expect("scripts/hosts.sh runs");
    let _ = Command::new(&script).args(["down", &prefix]).status();
    if !probe.status.success() {
        let why = String::from_utf8_lossy(&probe.stderr);
        assert!(
            std::env::var_os("DEXEC_TEST_REQUIRE_NAMESPACES").is_none(),
            "network namespaces are required here but unavailable: {why}"
        );
        eprintln!("SKIPPED: the chaos run needs network namespaces (root, iproute2): {why}");
        return;
    }
    // the scheduler's PostgreSQL, through its Unix socket (the scheduler is in another
    // network namespace than the server's loopback)
    let Some(_) = dexec_test_utils::postgres_url("a_short_seeded_chaos_run_loses_nothing") else {
        return;
    };
    let socket = Command::new(repo().join("scripts/postgres.sh"))
        .arg("socket-url")
        .output()
        .expect("scripts/postgres.sh runs");
    assert!(
        socket.status.success(),
        "scripts/postgres.sh socket-url: {}",
        String::from_utf8_lossy(&socket.stderr)
    );
    let scheduler_db = String::from_utf8(socket.stdout).expect("a URL");

    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("chaos.json");
    let out = crate::dexec()
        .args(["bench", "chaos", "--seed", "7", "--duration-secs", "60"])
        .args(["--hosts", "4", "--workers-per-host", "2"])
        .args(["--fault-every-secs", "6", "--submit-every-ms", "1500"])
        .args(["--settle-secs", "120", "--netns-prefix", &prefix])
        .arg("--hosts-script")
        .arg(&script)
        .arg("--app")
        .arg(repo().join("apps/build/hello.wasm"))
        .arg("--scheduler-db")
        .arg(scheduler_db.trim())
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--out")
        .arg(&out_file)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logs = || {
        let mut all = String::new();
        for entry in std::fs::read_dir(dir.path().join("state/logs"))
            .into_iter()
            .flatten()
        {
            let path = entry.expect("log").path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            all.push_str(&format!("== {}\n", path.display()));
            for line in tail.into_iter().rev() {
                all.push_str(line);
                all.push('\n');
            }
        }
        all
    };
    assert!(
        out.status.success(),
        "chaos failed:\n{stdout}\n{stderr}\n{}",
        logs()
    );
    assert!(stdout.contains("verdict: nothing lost"), "{stdout}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(&out_file).expect("the report")).expect("JSON");
    for check in report["checks"].as_array().expect("checks") {
        assert_eq!(check["passed"], true, "{check}");
    }
    assert_eq!(report["scheduler_db"], "postgresql");
    assert_eq!(report["workers"], 8);
    // the seed's schedule injected faults of several kinds while deals kept coming
    let faults = report["faults"].as_array().expect("faults");
    assert!(faults.len() >= 5, "{report}");
    assert!(report["kills"].as_u64() >= Some(3), "{report}");
    let tasks = report["tasks"].as_u64().expect("tasks");
    assert!(tasks >= 10, "{report}");
    assert_eq!(
        report["tasks_completed"].as_u64().unwrap_or_default()
            + report["tasks_claimed"].as_u64().unwrap_or_default(),
        tasks,
        "{report}"
    );
    // every service logged JSON lines with the same keys (docs/operations.md, "Logs"): a
    // task is `task` and a deal `deal` in all of them
    let mut lines = 0;
    for entry in std::fs::read_dir(dir.path().join("state/logs")).expect("logs") {
        let path = entry.expect("log").path();
        for line in std::fs::read_to_string(&path).expect("log").lines() {
            if !line.starts_with('{') {
                continue;
            }
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", path.display()));
            for key in ["timestamp", "level", "target"] {
                assert!(
                    event.get(key).is_some(),
                    "{}: no {key}: {line}",
                    path.display()
                );
            }
            let fields = event["fields"].as_object().expect("fields");
            assert!(fields.contains_key("message"), "{line}");
            for other in ["task_id", "deal_id", "gas_used"] {
                assert!(
                    !fields.contains_key(other),
                    "{}: `{other}`: {line}",
                    path.display()
                );
            }
            lines += 1;
        }
    }
    assert!(lines >= 100, "{lines} JSON log lines");
    // the namespaces are gone
    let left = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip runs");
    assert!(
        !String::from_utf8_lossy(&left.stdout).contains(&prefix),
        "namespaces left behind"
    );
}
