//! Container apps from the command line: `app init --oci` (the archive checked blob by blob,
//! its manifest digest as checksum) and `app check-determinism` (two runs compared). The probe
//! image (`dexec_runtime::oci::probe_archive`) is the app.

use crate::dexec;

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
