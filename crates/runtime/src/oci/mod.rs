//! Container apps (app type `OCI`): OCI images run by a container engine (podman with runc)
//! in a sandbox that mirrors the WASM one, with the same [`Outcome`]s and [`Run`] record.
//!
//! The sandbox (`docs/runtime.md`, "Container apps"): no network, a read-only root
//! filesystem, `/iexec_in` read-only, `/iexec_out` read-write on a tmpfs the size of
//! [`OutputLimits::max_written_bytes`] (so an app cannot fill the worker's disk), a small
//! tmpfs `/tmp`, every capability dropped, no new privileges, memory (no swap), CPU and
//! process-count limits, and the wall-clock limit of the deal's category. Outcomes: exit
//! codes as for WASM, SIGKILL by the kernel = memory limit, the wall-clock stop =
//! [`Outcome::Timeout`], a full `/iexec_out` = [`Limit::WrittenBytes`]; the engine failing is
//! [`Outcome::HostError`], a worker fault.
//!
//! What the app sees: iExec's environment ([`TaskEnv::vars`]), its `iexec_args` as arguments
//! after the image's entrypoint, and determinism aids: `TZ=UTC`, `LANG`/`LC_ALL=C.UTF-8`,
//! hostname `dexec`, `SOURCE_DATE_EPOCH` = the deal's start, `DEXEC_SEED` = a seed derived
//! from the task id, `PYTHONHASHSEED=0`. Aids, not guarantees: replication decides.
//!
//! Images arrive as OCI archives, verified against the app's checksum (the manifest digest,
//! [`archive::verify`]) before the engine loads them; loaded images are tagged
//! `localhost/dexec-app:<manifest hex>` and pruned by size ([`Engine::prune`]).
//!
//! Needs root: the output tmpfs is mounted by the worker, and rootful podman runs the
//! containers. [`Engine::self_check`] proves all of it on a worker before it offers the
//! `container` tag.

pub mod archive;
pub mod bench;
mod selfcheck;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::runtime::check_output;
use crate::{split_args, Limit, Outcome, OutputLimits, Run, TaskEnv};

pub use archive::{ArchiveError, ImageInfo};
pub use selfcheck::{probe_archive, SELF_CHECK_IMAGE_NAME};

/// Tag prefix of the images the worker loaded for apps.
pub const APP_IMAGE_REPO: &str = "localhost/dexec-app";

/// Resource limits of a container run. Part of what a result is (an app that needs more
/// fails), so every worker of a pool must use the same values: the defaults unless the pool
/// says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerLimits {
    /// Memory, bytes (no swap).
    pub memory_bytes: u64,
    /// CPU time, thousandths of a core.
    pub millicpus: u32,
    /// Processes and threads at once.
    pub pids: u32,
    /// Size of the `/tmp` tmpfs, bytes (counts against memory).
    pub tmp_bytes: u64,
}

impl Default for ContainerLimits {
    /// 1 GiB of memory, one core, 256 processes, 64 MiB of `/tmp`.
    fn default() -> Self {
        Self {
            memory_bytes: 1 << 30,
            millicpus: 1000,
            pids: 256,
            tmp_bytes: 64 << 20,
        }
    }
}

/// One run of a container app for a task.
#[derive(Debug, Clone)]
pub struct ContainerJob {
    /// The image to run (its engine id, `sha256:…`, or a name).
    pub image: String,
    /// The request's `iexec_args`, split like a shell does into the arguments after the
    /// image's entrypoint.
    pub args: String,
    /// The task the app runs for.
    pub env: TaskEnv,
    /// Host directory mounted read-only as `/iexec_in` (created if missing).
    pub input_dir: PathBuf,
    /// Host directory that receives `/iexec_out` (created if missing, must be empty).
    pub output_dir: PathBuf,
    /// Wall-clock limit; past it the container is killed ([`Outcome::Timeout`]).
    pub timeout: Duration,
    /// Memory, CPU and process limits.
    pub limits: ContainerLimits,
    /// Limits on `/iexec_out` (its tmpfs is `max_written_bytes` large).
    pub output_limits: OutputLimits,
}

impl ContainerJob {
    /// A job with default limits and the XS category's wall-clock limit.
    pub fn new(
        image: impl Into<String>,
        env: TaskEnv,
        input_dir: impl Into<PathBuf>,
        output_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            image: image.into(),
            args: String::new(),
            env,
            input_dir: input_dir.into(),
            output_dir: output_dir.into(),
            timeout: crate::wall_clock_limit_for_category(300),
            limits: ContainerLimits::default(),
            output_limits: OutputLimits::default(),
        }
    }

    /// The environment of the container: the task's iExec variables, then the aids.
    pub fn vars(&self) -> Vec<(String, String)> {
        let mut vars = self.env.vars();
        let seed = Sha256::new()
            .chain_update(b"dexec.container.seed")
            .chain_update(self.env.task_id)
            .finalize();
        for (k, v) in [
            ("TZ", "UTC".to_owned()),
            ("LANG", "C.UTF-8".to_owned()),
            ("LC_ALL", "C.UTF-8".to_owned()),
            ("HOME", "/tmp".to_owned()),
            (
                "SOURCE_DATE_EPOCH",
                self.env.clock_start_unix_secs.to_string(),
            ),
            ("DEXEC_SEED", hex::encode(seed)),
            ("PYTHONHASHSEED", "0".to_owned()),
        ] {
            vars.push((k.to_owned(), v));
        }
        vars
    }
}

/// Errors of the engine itself (it cannot load or list images). What an app does is an
/// [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine program could not be started or failed.
    #[error("{0}")]
    Engine(String),
    /// The archive is not the app's image (a deterministic refusal: the app's error result).
    #[error("{0}")]
    Archive(#[from] ArchiveError),
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A container engine: the podman command and the flags it needs on this host.
#[derive(Debug, Clone)]
pub struct Engine {
    program: PathBuf,
    global: Vec<String>,
    /// Where loaded app images are tagged ([`APP_IMAGE_REPO`] by default).
    app_repo: String,
    /// How much of stdout and of stderr to keep per run.
    pub stdio_capture_bytes: usize,
}

impl Default for Engine {
    fn default() -> Self {
        Self::podman()
    }
}

impl Engine {
    /// `podman --runtime runc --cgroup-manager=cgroupfs` (crun fails on hybrid cgroup
    /// layouts; cgroupfs needs no systemd), or the program named by `DEXEC_PODMAN`.
    pub fn podman() -> Self {
        Self {
            program: std::env::var_os("DEXEC_PODMAN")
                .map(PathBuf::from)
                .unwrap_or_else(|| "podman".into()),
            global: ["--runtime", "runc", "--cgroup-manager=cgroupfs"]
                .map(str::to_owned)
                .to_vec(),
            app_repo: APP_IMAGE_REPO.to_owned(),
            stdio_capture_bytes: 64 << 10,
        }
    }

    /// This engine with app images tagged under `repo` (and pruned only there): for hosts
    /// where several workers (or tests) must not prune each other's images.
    pub fn with_app_repo(mut self, repo: impl Into<String>) -> Self {
        self.app_repo = repo.into();
        self
    }

    fn app_tag(&self, manifest: [u8; 32]) -> String {
        format!("{}:{}", self.app_repo, hex::encode(manifest))
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.global)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Run the engine with `args` and return its stdout; `Err` carries its stderr.
    async fn call(&self, args: &[&str]) -> Result<String, EngineError> {
        let out = self.command().args(args).output().await.map_err(|e| {
            EngineError::Engine(format!("cannot start {}: {e}", self.program.display()))
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(EngineError::Engine(format!(
                "{} {}: {}",
                self.program.display(),
                args.first().copied().unwrap_or_default(),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// The engine's version line, or why it cannot run.
    pub async fn version(&self) -> Result<String, EngineError> {
        Ok(self.call(&["--version"]).await?.trim().to_owned())
    }

    /// `podman build` the Containerfile (or Dockerfile) in `dir` as `tag`, every timestamp at
    /// `timestamp` (Unix seconds) so that the same inputs give the same image, without pulling
    /// (base images are local: `make images`). The engine's progress goes to this process's
    /// stderr.
    pub async fn build(&self, dir: &Path, tag: &str, timestamp: u64) -> Result<(), EngineError> {
        let status = self
            .command()
            .args(["build", "--pull=never", "--network=none"])
            // no builder version label, no intermediate images: the same inputs, the same id
            .args(["--identity-label=false", "--layers=false", "--force-rm"])
            .args(["--ulimit=nofile=1024:1024", "--ulimit=nproc=4096:4096"])
            .arg(format!("--timestamp={timestamp}"))
            .args(["--tag", tag])
            .arg(dir)
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .status()
            .await
            .map_err(|e| {
                EngineError::Engine(format!("cannot start {}: {e}", self.program.display()))
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(EngineError::Engine(format!(
                "podman build of {} failed ({status}): see its output above",
                dir.display()
            )))
        }
    }

    /// Save `image` as an OCI archive at `path` (replaced if it exists).
    pub async fn save(&self, image: &str, path: &Path) -> Result<(), EngineError> {
        let _ = tokio::fs::remove_file(path).await;
        let out = path.display().to_string();
        self.call(&[
            "save",
            "--quiet",
            "--format",
            "oci-archive",
            "--output",
            &out,
            image,
        ])
        .await
        .map(drop)
    }

    /// The image loaded for the app whose checksum is `manifest`, if this host has it.
    pub async fn app_image(&self, manifest: [u8; 32]) -> Option<String> {
        let tag = self.app_tag(manifest);
        self.call(&["image", "inspect", "--format", "{{.Id}}", &tag])
            .await
            .ok()
            .map(|id| format!("sha256:{}", id.trim().trim_start_matches("sha256:")))
    }

    /// Verify the OCI archive at `path` against the app's checksum `manifest`, load it and
    /// tag it as the app's image; returns the image id. An archive that is not the app's is
    /// [`EngineError::Archive`], nothing loaded.
    pub async fn load_app(&self, path: &Path, manifest: [u8; 32]) -> Result<String, EngineError> {
        let file = path.to_owned();
        let info = tokio::task::spawn_blocking(move || -> Result<ImageInfo, EngineError> {
            let reader = std::fs::File::open(&file).map_err(|source| EngineError::Io {
                what: "cannot open image archive",
                path: file.clone(),
                source,
            })?;
            Ok(archive::verify(
                std::io::BufReader::new(reader),
                Some(manifest),
            )?)
        })
        .await
        .map_err(|e| EngineError::Engine(format!("archive check failed: {e}")))??;
        let archive = path.display().to_string();
        self.call(&["load", "--quiet", "--input", &archive]).await?;
        let id = info.image_id();
        self.call(&["tag", &id, &self.app_tag(manifest)]).await?;
        Ok(id)
    }

    /// Remove app images (oldest first) until those kept take at most `max_bytes`, never the
    /// image `keep` nor one a container uses. Returns how many it removed.
    pub async fn prune(&self, max_bytes: u64, keep: &str) -> Result<usize, EngineError> {
        #[derive(serde::Deserialize)]
        struct Listed {
            #[serde(rename = "Id")]
            id: String,
            #[serde(rename = "Size", default)]
            size: u64,
            #[serde(rename = "Created", default)]
            created: i64,
            #[serde(rename = "Names", default)]
            names: Option<Vec<String>>,
        }
        let filter = format!("reference={}", self.app_repo);
        let listed = self
            .call(&["images", "--format", "json", "--filter", &filter])
            .await?;
        let mut images: Vec<Listed> = serde_json::from_str(listed.trim())
            .map_err(|e| EngineError::Engine(format!("podman images: {e}")))?;
        images.sort_by_key(|i| i.created);
        let mut total: u64 = images.iter().map(|i| i.size).sum();
        let keep = keep.trim_start_matches("sha256:");
        let mut removed = 0;
        for image in images {
            if total <= max_bytes {
                break;
            }
            if image.id.trim_start_matches("sha256:") == keep {
                continue;
            }
            // every app tag of it (one image can be several apps' manifests); refused while
            // a container uses it, so it is kept for now
            let prefix = format!("{}:", self.app_repo);
            let mut untagged = true;
            for name in image.names.iter().flatten() {
                if name.starts_with(&prefix) {
                    untagged &= self.call(&["rmi", name]).await.is_ok();
                }
            }
            if untagged {
                removed += 1;
                total = total.saturating_sub(image.size);
            }
        }
        Ok(removed)
    }

    /// Run `job` to the end. `Err` means the run could not be set up (task directories, the
    /// output tmpfs); everything the app and the engine do is in [`Run::outcome`].
    pub async fn run(&self, job: &ContainerJob) -> Result<Run, EngineError> {
        let started = Instant::now();
        let io = |what: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| EngineError::Io { what, path, source }
        };
        for dir in [&job.input_dir, &job.output_dir] {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(io("cannot create task directory", dir))?;
        }
        let image_digest = digest_of(&job.image);
        let finish = |outcome: Outcome, detail: Option<String>, out: Captured| Run {
            outcome,
            detail,
            fuel_consumed: 0,
            stdout: out.stdout,
            stdout_truncated: out.stdout_truncated,
            stderr: out.stderr,
            stderr_truncated: out.stderr_truncated,
            module_digest: image_digest,
            cache_hit: false,
            elapsed: started.elapsed(),
        };
        let staging =
            OutputMount::mount(&job.output_dir, job.output_limits.max_written_bytes).await;
        let staging = match staging {
            Ok(m) => m,
            Err(e) => {
                return Ok(finish(
                    Outcome::HostError(format!("cannot mount the output tmpfs: {e}")),
                    None,
                    Captured::default(),
                ))
            }
        };
        let name = container_name(&job.env.task_id);
        let (outcome, detail, captured) = self.execute(job, &name).await;
        // the container is gone (or never was): collect /iexec_out from its tmpfs
        let used = staging.used_bytes();
        if let Err(e) = staging.unmount_into(&job.output_dir).await {
            return Ok(finish(
                Outcome::HostError(format!("cannot collect /iexec_out: {e}")),
                detail,
                captured,
            ));
        }
        let outcome = match outcome {
            // a full tmpfs is the written-bytes limit, however the app took its ENOSPC
            Outcome::Ok { .. } if used + FULL_MARGIN >= job.output_limits.max_written_bytes => {
                Outcome::LimitExceeded(Limit::WrittenBytes)
            }
            Outcome::Ok { exit_code: 0 } => {
                match check_output(&job.output_dir, &job.output_limits) {
                    Ok(Some(limit)) => Outcome::LimitExceeded(limit),
                    Ok(None) => Outcome::Ok { exit_code: 0 },
                    Err(e) => Outcome::HostError(e.to_string()),
                }
            }
            other => other,
        };
        tracing::debug!(
            target: "runtime::oci",
            task = %hex::encode(job.env.task_id),
            image = %job.image,
            ?outcome,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "container finished"
        );
        Ok(finish(outcome, detail, captured))
    }

    /// `podman run` the job as `name`, wait (bounded by the job's timeout), classify, remove.
    async fn execute(&self, job: &ContainerJob, name: &str) -> (Outcome, Option<String>, Captured) {
        let limits = &job.limits;
        let mut cmd = self.command();
        cmd.args(["run", "--name", name, "--pull=never", "--network=none"])
            .args(["--read-only", "--read-only-tmpfs=false"])
            .arg(format!(
                "--tmpfs=/tmp:rw,nosuid,nodev,size={},mode=1777",
                limits.tmp_bytes
            ))
            .arg(format!("--volume={}:/iexec_in:ro", job.input_dir.display()))
            .arg(format!(
                "--volume={}:/iexec_out:rw",
                job.output_dir.display()
            ))
            .args(["--cap-drop=all", "--security-opt=no-new-privileges"])
            .args(["--hostname=dexec", "--log-driver=none"])
            .arg(format!("--memory={}", limits.memory_bytes))
            .arg(format!("--memory-swap={}", limits.memory_bytes))
            .arg(format!(
                "--cpus={}.{:03}",
                limits.millicpus / 1000,
                limits.millicpus % 1000
            ))
            .arg(format!("--pids-limit={}", limits.pids))
            // runc cannot keep the engine's defaults on every host: say them
            .args(["--ulimit=nofile=1024:1024", "--ulimit=nproc=4096:4096"]);
        for (k, v) in job.vars() {
            cmd.arg(format!("--env={k}={v}"));
        }
        cmd.arg(&job.image)
            .args(split_args(&job.args))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                return (
                    Outcome::HostError(format!("cannot start {}: {e}", self.program.display())),
                    None,
                    Captured::default(),
                )
            }
        };
        let cap = self.stdio_capture_bytes;
        let stdout = tokio::spawn(capture(child.stdout.take(), cap));
        let stderr = tokio::spawn(capture(child.stderr.take(), cap));
        let waited = tokio::time::timeout(job.timeout, child.wait()).await;
        let timed_out = waited.is_err();
        if timed_out {
            // kill it where it runs, then reap podman's client
            let _ = self.call(&["rm", "--force", "--time=0", name]).await;
            let _ = child.kill().await;
        }
        let (stdout, stdout_truncated) = stdout.await.unwrap_or_default();
        let (stderr, stderr_truncated) = stderr.await.unwrap_or_default();
        let captured = Captured {
            stdout,
            stdout_truncated,
            stderr,
            stderr_truncated,
        };
        if timed_out {
            return (Outcome::Timeout, None, captured);
        }
        let state = self
            .call(&[
                "inspect",
                "--type=container",
                "--format",
                "{{.State.ExitCode}} {{.State.OOMKilled}} {{.State.Status}}",
                name,
            ])
            .await;
        let _ = self.call(&["rm", "--force", "--time=0", name]).await;
        let state = match state {
            Ok(state) => state,
            Err(e) => {
                let said = String::from_utf8_lossy(&captured.stderr).trim().to_owned();
                return (
                    Outcome::HostError(format!("the engine did not run the container: {said}")),
                    Some(e.to_string()),
                    captured,
                );
            }
        };
        let mut words = state.split_whitespace();
        let exit_code: i32 = words.next().and_then(|c| c.parse().ok()).unwrap_or(-1);
        let oom = words.next() == Some("true");
        let status = words.next().unwrap_or_default().to_owned();
        let outcome = if status != "exited" && status != "stopped" {
            // never started: the engine's failure (runc, mounts), or an entrypoint that does
            // not exist in the image (the app's)
            let said = String::from_utf8_lossy(&captured.stderr).trim().to_owned();
            if said.contains("executable file not found")
                || said.contains("no such file or directory")
            {
                Outcome::InvalidApp(format!(
                    "the image's entrypoint cannot run: {}",
                    last_line(&said)
                ))
            } else {
                Outcome::HostError(format!("the container did not start ({status}): {said}"))
            }
        } else if oom || exit_code == 137 {
            // cgroup v1 does not always say OOM; nobody else sends SIGKILL
            Outcome::LimitExceeded(Limit::Memory)
        } else {
            Outcome::Ok { exit_code }
        };
        let detail = (!outcome.is_success()).then(|| format!("container state: {}", state.trim()));
        (outcome, detail, captured)
    }

    /// Prove this host runs container apps: the engine answers, an archive loads, and the
    /// probe app finds the sandbox it expects (no network, read-only root and inputs,
    /// writable outputs and `/tmp`). `Err` is why not, in a sentence.
    pub async fn self_check(&self, scratch: &Path) -> Result<String, String> {
        selfcheck::run(self, scratch).await
    }
}

/// Bytes below the tmpfs size still counted as full (tmpfs rounds to pages).
const FULL_MARGIN: u64 = 1 << 20;

fn digest_of(image: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    if hex::decode_to_slice(image.trim_start_matches("sha256:"), &mut out).is_err() {
        out = Sha256::digest(image.as_bytes()).into();
    }
    out
}

/// A name no other run on this host has: task, process, run counter.
fn container_name(task_id: &[u8; 32]) -> String {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "dexec-{}-{}-{run}",
        hex::encode(&task_id[..6]),
        std::process::id()
    )
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
}

/// What a run printed.
#[derive(Debug, Default)]
struct Captured {
    stdout: Vec<u8>,
    stdout_truncated: bool,
    stderr: Vec<u8>,
    stderr_truncated: bool,
}

/// Keep the first `cap` bytes of a pipe and drain the rest.
async fn capture<R: AsyncRead + Unpin>(pipe: Option<R>, cap: usize) -> (Vec<u8>, bool) {
    let Some(mut pipe) = pipe else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
    (kept, truncated)
}

/// `/iexec_out` during a run: a tmpfs of the output budget's size mounted on the task's
/// output directory, copied out to a plain directory once the container is gone.
struct OutputMount {
    dir: PathBuf,
    mounted: bool,
}

impl OutputMount {
    async fn mount(dir: &Path, bytes: u64) -> Result<Self, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes},mode=0777,nosuid,nodev"))
            .args(["dexec-out"])
            .arg(dir)
            .output()
            .await
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount: {} (container apps need a worker running as root)",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self {
            dir: dir.to_owned(),
            mounted: true,
        })
    }

    /// Bytes of the regular files in the tmpfs.
    fn used_bytes(&self) -> u64 {
        fn walk(dir: &Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .flatten()
                .map(|e| match std::fs::symlink_metadata(e.path()) {
                    Ok(m) if m.is_dir() => walk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        }
        walk(&self.dir)
    }

    /// Copy the tmpfs to a sibling directory, unmount it and put the copy in its place.
    async fn unmount_into(mut self, dir: &Path) -> Result<(), String> {
        let copy = dir.with_extension("collect");
        let from = self.dir.clone();
        let to = copy.clone();
        tokio::task::spawn_blocking(move || {
            let _ = std::fs::remove_dir_all(&to);
            copy_tree(&from, &to)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("copy {}: {e}", dir.display()))?;
        self.unmount().await?;
        tokio::fs::remove_dir(dir)
            .await
            .map_err(|e| format!("remove {}: {e}", dir.display()))?;
        tokio::fs::rename(&copy, dir)
            .await
            .map_err(|e| format!("rename {}: {e}", copy.display()))
    }

    async fn unmount(&mut self) -> Result<(), String> {
        let out = Command::new("umount")
            .arg(&self.dir)
            .output()
            .await
            .map_err(|e| format!("cannot run umount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "umount: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        self.mounted = false;
        Ok(())
    }
}

impl Drop for OutputMount {
    fn drop(&mut self) {
        if self.mounted {
            // a run abandoned halfway: lazily detach, never leave a mount behind
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.dir)
                .status();
        }
    }
}

/// Copy `from` to `to`: directories, regular files and symbolic links (as links, never
/// followed).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let meta = std::fs::symlink_metadata(entry.path())?;
        let target = to.join(entry.file_name());
        if meta.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else if meta.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
