//! `dexec bench byzantine` (what `make bench-byzantine` runs), small: replicated tasks on the
//! real hub with a lone liar and a colluding one among seven workers.

use serde_json::Value;

/// Every figure asserted here is read from the JSON the bench wrote from the chain; the
/// liars register first, so the scheduler hands them replicates from the first bag on.
#[test]
fn liars_are_outvoted_slashed_and_money_is_conserved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("byzantine.json");
    let out = crate::dexec()
        .current_dir(dir.path())
        .args([
            "bench",
            "byzantine",
            "--tasks",
            "14",
            "--bag",
            "7",
            "--workers",
            "7",
            "--liars-alone",
            "1",
            "--liars-colluding",
            "1",
            "--trust",
            "5",
            "--timeout-secs",
            "240",
            "--state-dir",
        ])
        .arg(dir.path().join("state"))
        .arg("--out")
        .arg(&out_file)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(&out_file).expect("the JSON report")).expect("JSON");
    let figure = |name: &str| {
        report["figures"][name]
            .as_f64()
            .unwrap_or_else(|| panic!("no figure {name}: {report}"))
    };
    let tasks = report["config"]["tasks"].as_f64().expect("tasks");
    assert_eq!(figure("tasks_completed"), tasks, "{stdout}");
    assert_eq!(figure("wrong_results_accepted"), 0.0, "{stdout}");
    assert_eq!(figure("tasks_won_by_liars"), 0.0, "{stdout}");
    assert_eq!(report["money"]["conserved"], true, "{}", report["money"]);
    assert_eq!(
        report["money"]["on_hub_before_nrlc"], report["money"]["on_hub_after_nrlc"],
        "{}",
        report["money"]
    );
    assert!(figure("gas_per_task") > 0.0, "{stdout}");

    let stake = report["config"]["worker_stake_nrlc"]
        .as_i64()
        .expect("stake");
    assert!(stake > 0);
    let workers = report["workers"].as_array().expect("workers");
    let field = |w: &Value, name: &str| w[name].as_i64().expect(name);
    let (liars, honest): (Vec<&Value>, Vec<&Value>) =
        workers.iter().partition(|w| w["honesty"] != "honest");
    assert_eq!(liars.len(), 2, "{workers:?}");
    for liar in liars {
        let contributions = field(liar, "contributions");
        assert!(contributions > 0, "the liar was never picked: {liar}");
        assert_eq!(field(liar, "wrong_votes"), contributions, "{liar}");
        assert_eq!(field(liar, "judged_faulty"), contributions, "{liar}");
        assert_eq!(
            field(liar, "balance_change_nrlc"),
            -contributions * stake,
            "each lie cost the liar its stake: {liar}"
        );
    }
    for worker in honest.iter().filter(|w| field(w, "contributions") > 0) {
        assert_eq!(field(worker, "judged_faulty"), 0, "{worker}");
        assert!(field(worker, "balance_change_nrlc") > 0, "paid: {worker}");
    }
    assert!(figure("honest_earnings_rlc") > 0.0, "{}", report["figures"]);
}
