//! The container self-check: a static probe (`selfcheck.c`, committed as `selfcheck.x86_64`)
//! packed into a one-layer OCI archive, loaded and run in the app sandbox.

use std::path::Path;

use super::{archive, ContainerJob, Engine};
use crate::{Outcome, TaskEnv};

/// The probe, built by `make -C crates/runtime/src/oci` (gcc -static).
const PROBE: &[u8] = include_bytes!("selfcheck.x86_64");

/// Name annotated in the probe's archive.
pub const SELF_CHECK_IMAGE_NAME: &str = "dexec-selfcheck";

/// The probe as an OCI archive: entrypoint `/selfcheck`, the same bytes on every host (its
/// manifest digest is a fixed checksum). Without arguments it checks the sandbox; with
/// `echo WORDS`, `exit N`, `fork-bomb`, `mem-bomb`, `net`, `write-root`, `sleep` or
/// `big-output` it is the app the tests need.
pub fn probe_archive() -> Vec<u8> {
    archive::write_single_layer(
        &[("selfcheck", 0o755, PROBE)],
        &["/selfcheck"],
        SELF_CHECK_IMAGE_NAME,
    )
    .unwrap_or_else(|e| unreachable!("an in-memory tar cannot fail: {e}"))
}

pub(super) async fn run(engine: &Engine, scratch: &Path) -> Result<String, String> {
    let version = engine
        .version()
        .await
        .map_err(|e| format!("the container engine does not answer: {e}"))?;
    let dir = tempfile::Builder::new()
        .prefix("selfcheck-")
        .tempdir_in(scratch)
        .map_err(|e| {
            format!(
                "cannot make a scratch directory in {}: {e}",
                scratch.display()
            )
        })?;
    let archive = probe_archive();
    let info = archive::verify(&archive[..], None).map_err(|e| e.to_string())?;
    let path = dir.path().join("probe.tar");
    std::fs::write(&path, &archive).map_err(|e| format!("cannot write the probe: {e}"))?;
    let image = engine
        .load_app(&path, info.manifest_digest)
        .await
        .map_err(|e| format!("the engine cannot load an image: {e}"))?;
    let mut job = ContainerJob::new(
        image,
        TaskEnv::new([0; 32]),
        dir.path().join("in"),
        dir.path().join("out"),
    );
    job.timeout = std::time::Duration::from_secs(60);
    let run = engine
        .run(&job)
        .await
        .map_err(|e| format!("cannot set up a container run: {e}"))?;
    let said = String::from_utf8_lossy(&run.stderr).trim().to_owned();
    match run.outcome {
        Outcome::Ok { exit_code: 0 } => {}
        Outcome::Ok { exit_code } => {
            return Err(format!(
                "the sandbox is not what apps expect (probe exited {exit_code}): {said}"
            ))
        }
        other => return Err(format!("the probe did not run: {other:?} {said}")),
    }
    let result = std::fs::read_to_string(job.output_dir.join("result.txt")).unwrap_or_default();
    if result != "selfcheck ok\n" {
        return Err(format!(
            "the probe left no result in /iexec_out (`{}`)",
            result.trim()
        ));
    }
    Ok(format!(
        "{version}, runc, cgroupfs: probe ran in {} ms",
        run.elapsed.as_millis()
    ))
}
