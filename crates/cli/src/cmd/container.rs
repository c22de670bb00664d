//! Container apps from the command line: `dexec app build --oci DIR` and
//! `dexec app check-determinism`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::primitives::B256;
use dexec_runtime::oci::{archive, ContainerJob, Engine};
use dexec_runtime::{Outcome, TaskEnv};
use eyre::WrapErr;
use serde_json::json;

use crate::context::Global;
use crate::exit::Fail;
use crate::output::Output;

/// Long help of `dexec app build`.
pub const BUILD_ABOUT: &str = "\
Build a container app from a directory holding a Containerfile (or Dockerfile):

  1. podman build, every timestamp at --timestamp (SOURCE_DATE_EPOCH, default 0) and without
     pulling: base images come from this machine (`make images` builds dexec's from Debian's
     packages; no registry is needed);
  2. podman save --format oci-archive to --output (default ./<name>.oci.tar);
  3. what `dexec app init --oci <archive>` does: checks the archive blob by blob, uploads it to
     the store (--store, else the chain's) and writes the app section of dexec.json with
     type OCI, the archive's blob URL and, as checksum, its image manifest digest.

Then `dexec app deploy` registers it, and `dexec app run` runs it on workers started with
`--containers`. Needs podman with runc (as root: `make images` installs it).";

/// Long help of `dexec app check-determinism`.
pub const CHECK_ABOUT: &str = "\
Run an app twice on this machine, as a worker would (same sandbox, same task environment),
1.5 s apart and in different directories, and compare the two result digests. Replication at
trust > 1 pays only workers that agree: an app whose result depends on the time, on paths, on
thread scheduling or on an unseeded random source will lose its requesters' money. Run it
before you publish.

Workers give container apps fixed TZ, locale, hostname, SOURCE_DATE_EPOCH and a per-task
DEXEC_SEED: aids, not guarantees. WebAssembly apps are deterministic by construction.";

/// Arguments of `dexec app build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The directory with the Containerfile (or Dockerfile) and what it copies.
    #[arg(long, value_name = "DIR")]
    oci: PathBuf,
    /// App name [default: the directory's name].
    #[arg(long)]
    name: Option<String>,
    /// Where to write the OCI archive [default: ./<name>.oci.tar].
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Every timestamp in the image (seconds since 1970), so that two builds of the same
    /// inputs give the same checksum.
    #[arg(long, env = "SOURCE_DATE_EPOCH", default_value_t = 0)]
    timestamp: u64,
    /// Upload to this dexec store [default: the chain's `store` in chain.json].
    #[arg(long, env = "DEXEC_STORE_URL", value_name = "URL")]
    store: Option<String>,
    /// Replace an existing app section of dexec.json.
    #[arg(long)]
    force: bool,
}

/// Arguments of `dexec app check-determinism`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The app as an OCI archive (`dexec app build` writes one).
    #[arg(long, value_name = "ARCHIVE", required_unless_present = "image")]
    oci: Option<PathBuf>,
    /// The app as an image this machine's podman has (`localhost/…`).
    #[arg(long, value_name = "NAME", conflicts_with = "oci")]
    image: Option<String>,
    /// Arguments, as a request's `iexec_args`.
    #[arg(long, allow_hyphen_values = true, default_value = "")]
    args: String,
    /// A dataset file, given to the app as a worker gives a dataset.
    #[arg(long, value_name = "FILE")]
    dataset: Option<PathBuf>,
    /// Input files, given as a request's input files (repeat).
    #[arg(long = "input-file", value_name = "FILE")]
    input_files: Vec<PathBuf>,
    /// Wall-clock limit of each run, seconds.
    #[arg(long, default_value_t = 150)]
    timeout_secs: u64,
}

/// The name of an app file: its file name without `.tar`, `.oci` or `.wasm`.
pub fn stem(path: &Path) -> Option<String> {
    let mut name = path.file_name()?.to_str()?;
    for suffix in [".tar", ".oci", ".wasm"] {
        name = name.strip_suffix(suffix).unwrap_or(name);
    }
    (!name.is_empty()).then(|| name.to_owned())
}

/// The manifest digest of the OCI archive at `path` (every blob checked) and its absolute
/// path.
pub fn checksum_of_archive(path: &Path) -> eyre::Result<(B256, PathBuf)> {
    let file = std::fs::File::open(path)
        .map_err(|e| Fail::usage(format!("cannot read {}: {e}", path.display())))?;
    let info = archive::verify(std::io::BufReader::new(file), None).map_err(|e| {
        Fail::usage(format!(
            "{} is not a container app archive dexec can run: {e}",
            path.display()
        ))
    })?;
    if !info.architecture.is_empty() && info.architecture != "amd64" {
        return Err(Fail::usage(format!(
            "{} is an image for {}; workers run amd64 images",
            path.display(),
            info.architecture
        )));
    }
    let absolute = std::fs::canonicalize(path)
        .wrap_err_with(|| format!("cannot resolve {}", path.display()))?;
    Ok((B256::from(info.manifest_digest), absolute))
}

/// Run `dexec app build --oci DIR`.
pub async fn build(args: BuildArgs, global: &Global) -> eyre::Result<Output> {
    let dir = &args.oci;
    if !["Containerfile", "Dockerfile"]
        .iter()
        .any(|f| dir.join(f).is_file())
    {
        return Err(Fail::usage(format!(
            "{} has no Containerfile or Dockerfile to build",
            dir.display()
        )));
    }
    let name = match &args.name {
        Some(name) => name.clone(),
        None => std::fs::canonicalize(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "app".into()),
    };
    let tag = format!("localhost/dexec-build/{}:latest", name.to_ascii_lowercase());
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}.oci.tar")));
    let engine = Engine::podman();
    eprintln!(
        "== building {} as {tag} (podman, timestamps at {}) ==",
        dir.display(),
        args.timestamp
    );
    engine.build(dir, &tag, args.timestamp).await.map_err(|e| {
        Fail::refused(format!(
            "{e} (base images come from this machine: `make images` builds dexec's)"
        ))
    })?;
    eprintln!("== saving {} ==", output.display());
    engine
        .save(&tag, &output)
        .await
        .map_err(|e| Fail::refused(e.to_string()))?;
    let spec = super::asset::Spec {
        oci: Some(output.clone()),
        name: Some(name),
        store: args.store,
        force: args.force,
        ..Default::default()
    };
    let mut out = super::asset::init_oci(spec, global).await?;
    out.text = format!(
        "built {} from {}\n{}",
        output.display(),
        dir.display(),
        out.text
    );
    Ok(out)
}

/// One run of `check-determinism`: the result digest, or why there is none.
struct Trial {
    digest: Option<[u8; 32]>,
    outcome: Outcome,
    stderr: String,
    files: Vec<(String, String)>,
    millis: u128,
}

/// Run `dexec app check-determinism`.
pub async fn check_determinism(args: CheckArgs, _global: &Global) -> eyre::Result<Output> {
    let engine = Engine::podman();
    engine
        .version()
        .await
        .map_err(|e| Fail::refused(format!("podman is needed to run a container app: {e}")))?;
    let scratch = tempfile::tempdir()?;
    let image = match (&args.oci, &args.image) {
        (Some(path), _) => {
            let (checksum, _) = checksum_of_archive(path)?;
            engine
                .load_app(path, checksum.0)
                .await
                .map_err(|e| Fail::refused(format!("cannot load {}: {e}", path.display())))?
        }
        (None, Some(image)) => image.clone(),
        (None, None) => return Err(Fail::usage("pass --oci ARCHIVE or --image NAME")),
    };
    let mut trials = Vec::new();
    for (n, sub) in ["first/run", "second/elsewhere/run"].iter().enumerate() {
        if n > 0 {
            // another second on the clock
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        let root = scratch.path().join(sub);
        eprintln!("== run {} of 2 ==", n + 1);
        trials.push(trial(&engine, &image, &args, &root).await?);
    }
    let same = trials[0].digest.is_some() && trials[0].digest == trials[1].digest;
    let differing: Vec<String> = trials[0]
        .files
        .iter()
        .filter(|f| !trials[1].files.contains(f))
        .map(|(name, _)| name.clone())
        .chain(
            trials[1]
                .files
                .iter()
                .filter(|(name, _)| !trials[0].files.iter().any(|(n, _)| n == name))
                .map(|(name, _)| name.clone()),
        )
        .collect();
    let runs: Vec<_> = trials
        .iter()
        .map(|t| {
            json!({
                "outcome": t.outcome,
                "digest": t.digest.map(|d| format!("0x{}", alloy::primitives::hex::encode(d))),
                "millis": t.millis as u64,
            })
        })
        .collect();
    let value = json!({
        "image": image,
        "deterministic": same,
        "runs": runs,
        "differingFiles": differing,
    });
    let describe = |t: &Trial| match t.digest {
        Some(d) => format!(
            "0x{} ({:?}, {} ms)",
            alloy::primitives::hex::encode(d),
            t.outcome,
            t.millis
        ),
        None => format!("no result: {:?} {}", t.outcome, t.stderr.trim()),
    };
    let text = format!(
        "run 1: {}\nrun 2: {}",
        describe(&trials[0]),
        describe(&trials[1])
    );
    if same {
        return Output::new(
            value,
            format!("{text}\nthe two runs agree: the result looks deterministic"),
        );
    }
    let why =
        if trials.iter().any(|t| t.digest.is_none()) {
            "a run produced no result".to_owned()
        } else {
            format!(
            "the results differ (files: {}); find what depends on the time, the paths, threads \
             or an unseeded random source",
            if differing.is_empty() { "computed.json".to_owned() } else { differing.join(", ") }
        )
        };
    Err(Fail::refused(format!("{text}\nnot deterministic: {why}")))
}

async fn trial(engine: &Engine, image: &str, args: &CheckArgs, root: &Path) -> eyre::Result<Trial> {
    let in_dir = root.join("iexec_in");
    let out_dir = root.join("iexec_out");
    std::fs::create_dir_all(&in_dir)?;
    let mut env = TaskEnv::new([0x11; 32]);
    if let Some(dataset) = &args.dataset {
        let name = "dataset".to_owned();
        std::fs::copy(dataset, in_dir.join(&name))
            .map_err(|e| Fail::usage(format!("cannot read {}: {e}", dataset.display())))?;
        env.dataset_filename = Some(name);
    }
    for (i, file) in args.input_files.iter().enumerate() {
        let name = format!("input-{}", i + 1);
        std::fs::copy(file, in_dir.join(&name))
            .map_err(|e| Fail::usage(format!("cannot read {}: {e}", file.display())))?;
        env.input_files.push(name);
    }
    let mut job = ContainerJob::new(image, env, &in_dir, &out_dir);
    job.args = args.args.clone();
    job.timeout = Duration::from_secs(args.timeout_secs);
    let run = engine
        .run(&job)
        .await
        .map_err(|e| Fail::refused(format!("cannot run the app: {e}")))?;
    let digest = if run.outcome.is_success() {
        dexec_sdk::results::result_digest(&out_dir).ok()
    } else {
        None
    };
    Ok(Trial {
        digest,
        outcome: run.outcome,
        stderr: String::from_utf8_lossy(&run.stderr).into_owned(),
        files: file_digests(&out_dir),
        millis: run.elapsed.as_millis(),
    })
}

/// (relative path, sha256) of every regular file under `dir`, sorted.
fn file_digests(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => walk(root, &path, out),
                Ok(t) if t.is_file() => {
                    let rel = path
                        .strip_prefix(root)
                        .unwrap_or(&path)
                        .display()
                        .to_string();
                    let digest = dexec_sdk::results::file_sha256(&path)
                        .map(alloy::primitives::hex::encode)
                        .unwrap_or_default();
                    out.push((rel, digest));
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
