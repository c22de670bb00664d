//! `dexec devnet` and `dexec bench gas`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{devnet_once, dexec, Devnet};

/// One devnet per folder; a devnet killed with SIGKILL takes its anvil along (anvil saves its
/// state on the SIGTERM the kernel sends it), so the next devnet on the folder starts on the
/// same port and resumes the chain (issue 18, findings 6 and 7).
#[test]
fn a_killed_devnet_takes_its_anvil_along_and_one_devnet_runs_per_folder() {
    let mut first = Devnet::start();
    let chain: Value = serde_json::from_str(
        &std::fs::read_to_string(first.path().join(".dexec/chain.json")).expect("chain.json"),
    )
    .expect("JSON");
    let rpc = chain["chains"][chain["default"].as_str().expect("default")]["host"]
        .as_str()
        .expect("host")
        .to_owned();
    let port = rpc.rsplit(':').next().expect("a port").to_owned();

    // a second devnet on the same folder is refused, naming the first
    let out = dexec()
        .current_dir(first.path())
        .args(["devnet", "--once", "--json", "--block-time", "0", "--port"])
        .arg(crate::free_port().to_string())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let refused: Value = serde_json::from_slice(&out.stdout).expect("a JSON error");
    let error = refused["error"].as_str().expect("a sentence");
    assert!(
        error.contains("one devnet per folder") && error.contains(", devnet"),
        "{error}"
    );

    // SIGKILL: the devnet cannot stop anvil itself, the kernel's parent-death signal does
    first.kill_hard();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok() {
        assert!(
            Instant::now() < deadline,
            "anvil still listens on {port} after its devnet was killed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // the folder and the port are free again, and the chain is resumed from anvil's state
    let again = crate::run_json(
        dexec()
            .current_dir(first.path())
            .args(["devnet", "--once", "--json", "--block-time", "0"])
            .args(["--accounts", "6", "--port", &port]),
    );
    assert_eq!(again["restored"], true, "{again}");
    assert_eq!(again["rpcUrl"], rpc);
}

#[test]
fn devnet_deploys_funds_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_dir = dir.path().join("state");

    let first = devnet_once(&state_dir, &[]);
    assert_eq!(first["restored"], false);
    assert_eq!(first["chainId"], 31337);
    let accounts = first["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 3);
    for account in accounts {
        assert_eq!(
            account["hubBalanceNrlc"], "100000000000000",
            "100,000 RLC deposited"
        );
        assert_eq!(
            account["tokenBalanceNrlc"], "900000000000000",
            "1,000,000 RLC minted"
        );
    }

    // chain.json names the same contracts, in iExec's layout
    let chain_file: Value = serde_json::from_str(
        &std::fs::read_to_string(state_dir.join("chain.json")).expect("chain.json"),
    )
    .expect("chain.json is JSON");
    let entry = &chain_file["chains"][chain_file["default"].as_str().expect("default")];
    assert_eq!(entry["id"], "31337");
    assert_eq!(entry["hub"], first["deployment"]["hub"]);
    assert_eq!(entry["host"], first["rpcUrl"]);

    // the saved chain is resumed, not redeployed
    let second = devnet_once(&state_dir, &[]);
    assert_eq!(second["restored"], true);
    assert_eq!(second["deployment"], first["deployment"]);

    // --reset deploys again
    let third = devnet_once(&state_dir, &["--reset"]);
    assert_eq!(third["restored"], false);
}

#[test]
fn bench_gas_writes_every_figure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("nested/gas.json");
    let out = dexec()
        .args(["bench", "gas", "--out"])
        .arg(&out_file)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("iExec anchor"), "{table}");

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).expect("written")).expect("JSON");
    // every figure and its cold-run variant: present, above its intrinsic part, in the table;
    // per-transaction figures carry at least one 21,000 base, per-task averages (bags) less
    let check = |name: &str, min_intrinsic: u64| {
        for key in [name.to_owned(), format!("{name}_first")] {
            let gas = report["figures"][&key].as_u64().expect("figure present");
            let intrinsic = report["intrinsic"][&key]
                .as_u64()
                .expect("intrinsic present");
            assert!(
                gas > intrinsic && intrinsic >= min_intrinsic,
                "{key}: {gas} vs {intrinsic}"
            );
            assert!(table.contains(&key), "{key} missing from the table");
        }
    };
    for name in [
        "match_volume1_no_dataset",
        "match_volume1_with_dataset",
        "match_volume100_with_dataset",
        "match_volume1_standing_orders",
        "task_trust1_total_standing_orders",
        "contribute_batch_three_workers",
        "task_trust3_three_workers_each_total",
        "deposit",
        "withdraw",
        "cancel_order",
    ] {
        check(name, 21_000);
    }
    assert_eq!(report["anchors"]["match_volume1_no_dataset"], 647_316);
    assert_eq!(report["targets"]["match_volume1_no_dataset"], 150_000);
    // a dataset order costs something to check and record
    let fig = |k: &str| report["figures"][k].as_u64().expect("figure");
    assert!(fig("match_volume1_with_dataset") > fig("match_volume1_no_dataset"));

    // execution flows: totals, their single calls, batches and claims
    for name in [
        "contribute_and_finalize",
        "task_trust1_total",
        "task_trust3_two_workers_total",
        "task_trust3_three_workers_total",
        "contribute",
        "contribute_consensus",
        "reveal",
        "finalize",
        "bag100_per_task",
        "claim",
    ] {
        check(name, if name == "bag100_per_task" { 1 } else { 21_000 });
        assert!(
            report["anchors"][name].as_u64().is_some_and(|a| a > 0),
            "{name}: no iExec anchor"
        );
    }
    for name in [
        "task_trust1_total",
        "task_trust1_total_standing_orders",
        "task_trust3_three_workers_total",
        "bag100_per_task",
    ] {
        assert!(
            report["targets"][name].as_u64().is_some(),
            "{name}: no target"
        );
    }
    // a flow costs at least its parts: the fast path plus a match, the trust-5 runs their calls
    assert!(fig("task_trust1_total") > fig("contribute_and_finalize") + 21_000);
    assert!(
        fig("task_trust3_three_workers_total")
            > fig("contribute_batch_three_workers") + fig("finalize") + 21_000
    );
    assert!(
        fig("task_trust3_three_workers_each_total")
            > fig("contribute") + fig("contribute_consensus") + fig("reveal")
    );
    assert!(fig("task_trust3_three_workers_each_total") > fig("task_trust3_two_workers_total"));
    // one contributeBatch and no reveal cost less than three contributes and three reveals,
    // and the batch less than the three contributions it carries
    assert!(fig("task_trust3_three_workers_total") < fig("task_trust3_three_workers_each_total"));
    assert!(
        fig("contribute_batch_three_workers") < 2 * fig("contribute") + fig("contribute_consensus")
    );
    // standing provider orders update consumption words instead of creating them
    assert!(fig("match_volume1_standing_orders") < fig("match_volume1_no_dataset"));
    // and the task total adds a whole settlement transaction to its match
    assert!(
        fig("task_trust1_total_standing_orders") > fig("match_volume1_standing_orders") + 21_000
    );
    // a task of a bag of 100 shares its match and batch: less than a single fast-path task
    assert!(fig("bag100_per_task") < fig("contribute_and_finalize"));
    // the three-worker figure is measured at trust 5, and says so
    let note = report["notes"]["task_trust3_three_workers_total"]
        .as_str()
        .expect("note");
    assert!(note.contains("TRUST 5"), "{note}");
    assert!(note.contains("contributeBatch"), "{note}");
    assert!(table.contains("measured at TRUST 5"), "{table}");
}
