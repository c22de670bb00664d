//! The README's quickstart, run verbatim as a user would after `make install`: the `sh` block
//! of "Quickstart with the CLI", in a fresh folder outside the repository, with the built
//! `dexec` first on PATH (issue 18, finding 8).
//!
//! The block uses the default ports (8545, 8547, 8548, 13000), so it runs in network, pid and
//! mount namespaces of its own (`unshare`): its loopback is its own, and whatever it leaves
//! running dies with the namespace's first process.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The fenced `sh` block that follows `heading` in `markdown`.
fn block_after(markdown: &str, heading: &str) -> String {
    let section = markdown
        .split_once(heading)
        .map(|(_, rest)| rest)
        .expect("the README has the quickstart heading");
    let (_, from_fence) = section.split_once("```sh\n").expect("a sh block");
    let (block, _) = from_fence.split_once("```").expect("a closed block");
    block.to_owned()
}

/// Whether this machine lets the test make namespaces (root, or unprivileged user namespaces).
fn namespaces_work() -> Result<(), String> {
    let out = Command::new("unshare")
        .args([
            "--net",
            "--pid",
            "--fork",
            "--mount",
            "--mount-proc",
            "true",
        ])
        .output()
        .map_err(|e| format!("unshare cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// What a documented block did: its output, and the folder it ran in (kept until dropped).
pub(crate) struct BlockRun {
    pub out: std::process::Output,
    pub secs: f64,
    pub work: std::path::PathBuf,
    _folder: tempfile::TempDir,
}

impl BlockRun {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    /// The ends of the logs the block wrote in its folder, for a failure's message.
    pub fn logs(&self, names: &[&str]) -> String {
        names
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(self.work.join(f)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!(
                    "--- {f} (end)\n{}\n",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect()
    }

    /// Panic with the output and `logs` unless the block succeeded.
    pub fn assert_success(&self, logs: &[&str]) {
        assert!(
            self.out.status.success(),
            "the block failed after {:.0} s ({}):\n{}\n{}\n{}",
            self.secs,
            self.out.status,
            self.stdout(),
            String::from_utf8_lossy(&self.out.stderr),
            self.logs(logs)
        );
    }
}

/// Run the `sh` block after `heading` in the markdown file `doc` (relative to the repository)
/// as a user would: verbatim, `set -euo pipefail`, in a fresh folder outside the repository
/// with `setup` run there first, the built `dexec` first on PATH, in network, pid and mount
/// namespaces of its own, killed after `limit`. `None` (with a visible skip) when namespaces
/// are unavailable and not required.
pub(crate) fn run_doc_block(
    doc: &str,
    heading: &str,
    setup: &dyn Fn(&Path),
    limit: Duration,
) -> Option<BlockRun> {
    if let Err(why) = namespaces_work() {
        assert!(
            std::env::var_os("DEXEC_TEST_REQUIRE_NAMESPACES").is_none(),
            "namespaces are required here but unavailable: {why}"
        );
        eprintln!("SKIPPED: {doc} needs network namespaces (unshare): {why}");
        return None;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let markdown = std::fs::read_to_string(repo.join(doc)).expect("the document");
    let block = block_after(&markdown, heading);
    let folder = tempfile::tempdir().expect("a fresh folder");
    let script = folder.path().join("block.sh");
    std::fs::write(&script, format!("set -euo pipefail\nset -x\n{block}")).expect("script");
    let work = folder.path().join("my-project");
    std::fs::create_dir(&work).expect("project folder");
    setup(&work);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_dexec"))
        .parent()
        .expect("the binary's folder")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--net",
        "--pid",
        "--fork",
        "--mount",
        "--mount-proc",
        "bash",
        "-c",
    ])
    .arg(format!(
        "ip link set lo up && exec bash {}",
        script.display()
    ))
    .current_dir(&work)
    .env("PATH", path)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("DEXEC_") && key != "DEXEC_ANVIL" {
            cmd.env_remove(key);
        }
    }
    let started = Instant::now();
    let child = cmd.spawn().expect("unshare starts");
    let pid = child.id();
    // a hung block is killed (its namespace with it) rather than hanging the suite
    let watchdog = std::thread::spawn(move || {
        while started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(500));
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
    let out = child.wait_with_output().expect("the block ends");
    let _ = watchdog.join();
    Some(BlockRun {
        out,
        secs: started.elapsed().as_secs_f64(),
        work,
        _folder: folder,
    })
}

#[test]
fn the_readme_quickstart_runs_verbatim_in_a_fresh_folder() {
    let Some(run) = run_doc_block(
        "README.md",
        "## Quickstart with the CLI",
        &|_| {},
        Duration::from_secs(300),
    ) else {
        return;
    };
    run.assert_success(&["devnet.log", "scheduler.log", "worker.log"]);
    let stdout = run.stdout();
    assert!(
        stdout.contains("Hello, quickstart!"),
        "the result is printed: {stdout}"
    );
    let result = std::fs::read_to_string(run.work.join("result/result.txt")).expect("result.txt");
    assert_eq!(result.trim(), "Hello, quickstart!");
    assert!(stdout.contains("devnet stopped"), "{stdout}");
}
