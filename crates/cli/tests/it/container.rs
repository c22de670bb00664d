//! Container apps from the command line: `app init --oci` (the archive checked blob by blob,
//! its manifest digest as checksum) and `app check-determinism` (two runs compared). The probe
//! image (`dexec_runtime::oci::probe_archive`) is the app.

#![allow(clippy::unwrap_used)]

use crate::dexec;
use crate::quickstart::BlockRun;

fn ready(test: &str) -> bool {
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(dexec_test_utils::containers_ready(test))
}

#[test]
fn app_init_oci_writes_the_manifest_digest_and_refuses_an_altered_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dexec_runtime::oci::probe_archive();
    let info = dexec_runtime::oci::archive::verify(&archive[..], None).unwrap();
    std::fs::write(dir.path().join("probe.oci.tar"), &archive).unwrap();
    let out = dexec()
        .current_dir(dir.path())
        .args(["app", "init", "--oci", "probe.oci.tar", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("dexec.json")).unwrap()).unwrap();
    let app = &written["app"];
    assert_eq!(app["type"], "OCI");
    assert_eq!(app["name"], "probe");
    assert_eq!(
        app["checksum"],
        alloy::primitives::B256::from(info.manifest_digest).to_string()
    );

    // one flipped byte in the layer: refused, dexec.json untouched
    let mut altered = archive.clone();
    let at = altered
        .windows(4)
        .position(|w| w == b"\x7fELF")
        .expect("the probe binary");
    altered[at + 100] ^= 1;
    std::fs::write(dir.path().join("altered.oci.tar"), &altered).unwrap();
    let out = dexec()
        .current_dir(dir.path())
        .args(["app", "init", "--oci", "altered.oci.tar"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("altered.oci.tar is not a container app archive dexec can run")
            && said.contains("does not match its content"),
        "{said}"
    );
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("dexec.json")).unwrap()).unwrap();
    assert_eq!(after, written);
}

#[test]
fn check_determinism_tells_a_stable_app_from_one_that_reads_the_clock() {
    if !ready("check_determinism_tells_a_stable_app_from_one_that_reads_the_clock") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("probe.oci.tar"),
        dexec_runtime::oci::probe_archive(),
    )
    .unwrap();
    let stable = dexec()
        .current_dir(dir.path())
        .args([
            "app",
            "check-determinism",
            "--oci",
            "probe.oci.tar",
            "--args",
            "echo same",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        stable.status.success(),
        "{}",
        String::from_utf8_lossy(&stable.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&stable.stdout).unwrap();
    assert_eq!(report["deterministic"], true, "{report}");
    assert_eq!(report["runs"][0]["digest"], report["runs"][1]["digest"]);

    let clock = dexec()
        .current_dir(dir.path())
        .args([
            "app",
            "check-determinism",
            "--oci",
            "probe.oci.tar",
            "--args",
            "clock",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&clock.stderr);
    assert_eq!(clock.status.code(), Some(3), "{said}");
    assert!(
        said.contains("not deterministic: the results differ (files: result.txt)"),
        "{said}"
    );
}

/// Whether the example's base image is in podman's store (`make images`); a visible skip, or
/// a failure where containers are required.
fn base_image(test: &str, image: &str) -> bool {
    let present = std::process::Command::new("podman")
        .args(["image", "exists", image])
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        assert!(
            std::env::var_os(dexec_test_utils::REQUIRE_CONTAINERS_ENV).is_none(),
            "{test}: {image} is missing: `make images` builds it (make test does)"
        );
        eprintln!("SKIPPED {test}: {image} is missing (`make images` builds it)");
    }
    present
}

/// Copy `apps/<name>` of the checkout into `dir/<name>`, as the README tells users to.
fn copy_example(name: &str, dir: &std::path::Path) {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../apps")
        .join(name);
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(&from)
        .arg(dir)
        .status()
        .expect("cp runs");
    assert!(status.success(), "copy {}", from.display());
}

/// `apps/<name>/README.md`'s devnet block, verbatim, in a folder holding a copy of the app (as
/// the README says), once its base image is here; it must succeed. `None`: skipped, visibly.
fn run_example(test: &str, name: &str, base: &str, limit_secs: u64) -> Option<BlockRun> {
    if !ready(test) || !base_image(test, base) {
        return None;
    }
    let run = crate::quickstart::run_doc_block(
        &format!("apps/{name}/README.md"),
        "## Run it on the devnet",
        &|dir| copy_example(name, dir),
        std::time::Duration::from_secs(limit_secs),
    )?;
    run.assert_success(&["devnet.log", "scheduler.log", "worker.log"]);
    Some(run)
}

/// apps/sklearn/README.md's devnet block, verbatim: the app built with podman and sold by its
/// provider, the dataset sold at 2 RLC on the market by its owner, a container pool, and the
/// requester's run of the app on that dataset whose verified result is the model's accuracy.
#[test]
fn the_sklearn_readme_runs_on_a_dataset_bought_on_the_market() {
    let Some(run) = run_example(
        "the_sklearn_readme_runs_on_a_dataset_bought_on_the_market",
        "sklearn",
        "localhost/dexec/python:bookworm",
        420,
    ) else {
        return;
    };
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(run.work.join("result/accuracy.json")).expect("accuracy.json"),
    )
    .expect("JSON");
    assert_eq!(report["correct"], 37, "{report}");
    assert_eq!(report["test_rows"], 38, "{report}");
    let predictions =
        std::fs::read_to_string(run.work.join("result/predictions.csv")).expect("predictions");
    assert_eq!(predictions.lines().count(), 39, "a header and 38 rows");
    let stdout = run.stdout();
    assert!(
        stdout.contains("\"accuracy\": 0.973684"),
        "the result is printed: {stdout}"
    );
    // `dexec devnet` deposits 100 000 RLC for every dev account; the dataset owner's account
    // is the last one shown
    let free = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("free"))
        .map(str::trim)
        .unwrap_or_default();
    assert_eq!(free, "100002 RLC", "{stdout}");
}

/// apps/thumbnail/README.md's devnet block, verbatim: the requester's own picture as a
/// dataset, a 64x64 thumbnail rendered by ImageMagick in a container.
#[test]
fn the_thumbnail_readme_runs_on_the_devnet() {
    let Some(run) = run_example(
        "the_thumbnail_readme_runs_on_the_devnet",
        "thumbnail",
        "localhost/dexec/imagemagick:bookworm",
        300,
    ) else {
        return;
    };
    let png = std::fs::read(run.work.join("result/thumbnail.png")).expect("thumbnail.png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height, big-endian, at bytes 16..24
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (64, 40));
}
