//! `dexec result download`: fetch a task's result from the store and verify it against the
//! digest the chain agreed on before writing it.

use std::io::Read;
use std::path::{Path, PathBuf};

use alloy::primitives::B256;
use dexec_sdk::{Client, TaskInfo, TaskStatus};
use eyre::WrapErr;
use serde_json::json;

use crate::context::Global;
use crate::exit::Fail;
use crate::output::{rows, Output};

/// Largest result archive downloaded (the runtime caps `/iexec_out` far below this).
const MAX_RESULT_BYTES: u64 = 256 << 20;

/// Long help of `dexec result`.
pub const LONG_ABOUT: &str = "\
Download task results.

A completed task's on-chain record holds the agreed result digest and a results link
({\"storage\": \"dexec-store\", \"location\": \"<store>/blobs/<sha256>\"}). `download` fetches the
zipped /iexec_out from the store (the store and the client both check the blob's sha256),
unpacks it in a temporary directory, recomputes the result digest exactly as workers do
(docs/runtime.md: keccak256 of callback-data, else sha256 of the deterministic output, else the
tree digest) and only moves it to the destination when it equals the digest on chain.";

/// Arguments of `dexec result`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Download and verify a completed task's result.
    Download {
        /// The task id.
        task_id: B256,
        /// Its deal (found by scanning deals when omitted).
        #[arg(long, value_name = "DEAL_ID")]
        deal: Option<B256>,
        /// Directory to write the result to [default: ./result-<task id prefix>]; must not
        /// exist yet.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Run `dexec result`.
pub async fn run(args: Args, global: &Global) -> eyre::Result<Output> {
    let Command::Download { task_id, deal, out } = args.command;
    let client = global.reader().await?;
    let task = super::task::find_task(&client, task_id, deal).await?;
    let out =
        out.unwrap_or_else(|| PathBuf::from(format!("result-{}", &task_id.to_string()[2..10])));
    let verified = download(&client, &task, &out).await?;
    if let Some(error) = &verified.app_error {
        let detail = out.join(dexec_primitives::results::ERROR_DETAIL_FILE);
        let detail = if detail.is_file() {
            format!(
                "; what the worker saw (full error, the app's stderr) is in {}",
                detail.display()
            )
        } else {
            String::new()
        };
        return Err(Fail::app_error(format!(
            "task {task_id} completed with an app error: {error} (the app produced no result; \
             the workers' error result, its digest verified against the chain, is in {}{detail})",
            out.display()
        )));
    }
    let text = rows(&[
        ("task", task_id.to_string()),
        (
            "digest",
            format!("{} (verified against the chain)", verified.digest),
        ),
        ("written to", out.display().to_string()),
        ("files", verified.files.join(", ")),
    ]);
    Output::new(
        json!({ "taskId": task_id, "digest": verified.digest, "dir": out, "files": verified.files }),
        text,
    )
}

/// A verified result on disk.
pub struct Verified {
    /// The digest, equal to the chain's.
    pub digest: B256,
    /// Files written, relative to the destination.
    pub files: Vec<String>,
    /// The sentence of an error result (the app produced no result), else `None`.
    pub app_error: Option<String>,
}

/// Whether a completed `task`'s result is an error result, and its sentence: the result is
/// downloaded and verified like `download` does, in a temporary directory removed afterwards.
pub async fn inspect(task: &TaskInfo) -> eyre::Result<Option<String>> {
    let staging = tempfile::tempdir()?;
    let (_files, _digest) = fetch_verified(task, staging.path()).await?;
    Ok(dexec_sdk::results::app_error(staging.path()))
}

/// Download, verify and write the result of a completed `task` into `out` (created; must not
/// exist). Nothing is left at `out` when verification fails.
pub async fn download(_client: &Client, task: &TaskInfo, out: &Path) -> eyre::Result<Verified> {
    if out.exists() {
        return Err(Fail::refused(format!(
            "{} exists already; choose another --out (nothing was overwritten)",
            out.display()
        )));
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let staging = tempfile::tempdir_in(parent)?;
    let (files, digest) = fetch_verified(task, staging.path()).await?;
    let app_error = dexec_sdk::results::app_error(staging.path());
    std::fs::rename(staging.keep(), out)
        .wrap_err_with(|| format!("cannot move the result to {}", out.display()))?;
    Ok(Verified {
        digest,
        files,
        app_error,
    })
}

/// Download the result of a completed `task` into the empty directory `dir` and verify its
/// digest against the chain's; the files unpacked and the digest.
async fn fetch_verified(task: &TaskInfo, dir: &Path) -> eyre::Result<(Vec<String>, B256)> {
    if task.status != TaskStatus::Completed {
        return Err(Fail::refused(format!(
            "task {} is {}, not COMPLETED: there is no result yet",
            task.task_id, task.status
        )));
    }
    let result = task
        .result
        .as_ref()
        .ok_or_else(|| Fail::not_found("no result record"))?;
    let link = result.link().ok_or_else(|| {
        Fail::refused("the task's results link is not JSON; it was not produced by dexec workers")
    })?;
    let location = link["location"].as_str().unwrap_or_default().to_owned();
    let (base, id) = location.rsplit_once("/blobs/").ok_or_else(|| {
        Fail::refused(format!(
            "results location `{location}` is not a dexec store blob URL"
        ))
    })?;
    let store = dexec_sdk::store::StoreClient::new(base)?.with_max_download(MAX_RESULT_BYTES);
    let id: dexec_sdk::store::BlobId = id
        .parse()
        .map_err(|_| Fail::refused(format!("`{id}` is not a blob id")))?;
    let zip = store
        .get(&id)
        .await
        .wrap_err("cannot download the result")?;

    let files = unzip(&zip, dir)?;
    let digest = B256::from(
        dexec_sdk::results::result_digest(dir)
            .map_err(|e| Fail::refused(format!("the downloaded result is not valid: {e}")))?,
    );
    if digest != result.digest {
        return Err(Fail::refused(format!(
            "the downloaded result's digest {digest} differs from the chain's {}: the store \
             served something else; nothing was written",
            result.digest
        )));
    }
    Ok((files, digest))
}

/// Unpack a result archive into `dir`, refusing entries that would land outside it.
fn unzip(bytes: &[u8], dir: &Path) -> eyre::Result<Vec<String>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| Fail::refused(format!("the result is not a zip archive: {e}")))?;
    let mut files = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(Fail::refused(format!(
                "the result archive has an unsafe path `{}`",
                entry.name()
            )));
        };
        let path = dir.join(&relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        std::fs::write(&path, data)?;
        files.push(relative.to_string_lossy().into_owned());
    }
    Ok(files)
}
