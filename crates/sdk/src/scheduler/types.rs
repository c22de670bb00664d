//! The worker↔scheduler HTTP protocol: what workers send and receive, and what `GET /tasks/{id}`
//! shows (`docs/workerpool.md`, "HTTP API"). The scheduler serves these types; the worker uses
//! them through [`SchedulerClient`](super::SchedulerClient).
//!
//! The hashes the protocol signs and votes with (`authorization_hash`, `result_hash`,
//! `result_seal`) are protocol rules: they live in [`dexec_primitives::poco`].

use alloy::primitives::{Address, Bytes, B256};
use serde::{Deserialize, Serialize};

/// `GET /workers/challenge?address=` answer: the text the worker signs (EIP-191
/// `personal_sign`) to register. Single use, valid for a few minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The text to sign.
    pub challenge: String,
}

/// What a worker can run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// CPU cores it offers.
    pub cores: u32,
    /// Memory it offers, MiB.
    pub memory_mb: u64,
    /// Tag bits it offers (bit 0 TEE, bit 8 GPU): it gets only tasks whose deal tag is a
    /// subset.
    pub tags: B256,
    /// Replicates it runs at once.
    pub max_concurrent: u32,
}

/// `POST /workers/register` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// The worker's wallet (it contributes and is paid with it).
    pub address: Address,
    /// A challenge obtained from `GET /workers/challenge`.
    pub challenge: String,
    /// EIP-191 signature of the challenge text by `address` (65 bytes).
    pub signature: Bytes,
    /// A name for logs and the status API.
    pub name: String,
    /// What it can run.
    pub capabilities: Capabilities,
}

/// `POST /workers/register` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    /// Bearer token for every later call (`Authorization: Bearer <session>`).
    pub session: String,
    /// How often to call `POST /workers/{address}/heartbeat`.
    pub heartbeat_interval_ms: u64,
    /// After this long without a heartbeat the worker is lost and its replicates re-assigned.
    pub lost_after_ms: u64,
    /// The workerpool.
    pub workerpool: Address,
    /// Its owner, who signs authorizations.
    pub scheduler: Address,
    /// Chain id.
    pub chain_id: u64,
    /// The hub.
    pub hub: Address,
    /// Where results go, if the scheduler names a store.
    pub store_url: Option<String>,
}

/// `POST /workers/{address}/heartbeat` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    /// Tasks the worker is working on.
    pub running: Vec<B256>,
}

/// `POST /workers/{address}/next` body (long poll).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextRequest {
    /// How long the scheduler may hold the request before answering 204 (capped).
    pub wait_ms: u64,
    /// `POST /workers/{address}/assignments`: at most this many replicates at once (the
    /// worker's free slots; 1 when absent). Ignored by `next`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

/// `POST /workers/{address}/assignments` answer: the replicates given at once, as many as
/// the scheduler had for the worker up to its `max` (none when the wait ended without any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignments {
    /// The replicates, each as `next` would have given it.
    pub assignments: Vec<Assignment>,
}

/// How a replicate settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Replicated (trust > 1): `contribute`, then `reveal` when told.
    Contribute,
    /// Trust 1: the worker settles with `Hub.contributeAndFinalize`.
    ContributeAndFinalize,
    /// Trust 1: the worker reports its result; the scheduler settles many tasks in one
    /// `pushResults`.
    Push,
}

/// A dataset as a task uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetRef {
    /// Registry address.
    pub address: Address,
    /// Where to fetch it.
    pub multiaddr: String,
    /// sha256 of its bytes (zero: not checked).
    pub checksum: B256,
}

/// A replicate given to a worker (`POST /workers/{address}/next` answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// The task.
    pub task_id: B256,
    /// Its deal.
    pub deal_id: B256,
    /// Its index in the bag (absolute).
    pub index: u64,
    /// The packed deal, passed back to the hub by every execution call.
    pub deal: Bytes,
    /// The app.
    pub app: Address,
    /// The app's registry type: `WASM` (the default, for schedulers that predate container
    /// apps) or `OCI` (a container image; the checksum is its manifest digest).
    #[serde(default = "wasm_app_type")]
    pub app_type: String,
    /// Where to fetch the app module (or image archive).
    pub app_multiaddr: String,
    /// sha256 of the module (of the image manifest for `OCI` apps).
    pub app_checksum: B256,
    /// The dataset, if any.
    pub dataset: Option<DatasetRef>,
    /// The request's params (JSON).
    pub params: String,
    /// How the replicate settles.
    pub mode: Mode,
    /// Enclave challenge (zero: no enclave).
    pub enclave: Address,
    /// The scheduler's EIP-191 signature of `keccak256(worker ‖ taskId ‖ enclave)`.
    pub authorization: Bytes,
}

fn wasm_app_type() -> String {
    "WASM".into()
}

/// What the worker reports about a replicate
/// (`POST /workers/{address}/replicates/{taskId}`). Reports are idempotent: the worker
/// repeats its latest one to learn what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Result computed and uploaded; waiting to be told how to settle.
    Computed,
    /// `contribute` mined.
    Contributed,
    /// `reveal` mined.
    Revealed,
    /// `contributeAndFinalize` mined: the task is complete.
    Finalized,
    /// The worker could not produce a result (its own fault: timeout, host error, no gas…).
    Failed,
}

/// `POST /workers/{address}/replicates/{taskId}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Where the replicate is.
    pub status: ReportStatus,
    /// The result digest (from `Computed` on).
    pub digest: Option<B256>,
    /// The result zip's URL (from `Computed` on).
    pub result_location: Option<String>,
    /// Callback data of callback deals.
    pub callback_data: Option<Bytes>,
    /// Why it failed (`Failed`).
    pub error: Option<String>,
}

impl Report {
    /// A report of `status` with nothing else.
    pub fn status(status: ReportStatus) -> Self {
        Self {
            status,
            digest: None,
            result_location: None,
            callback_data: None,
            error: None,
        }
    }
}

/// Most reports in one `POST /workers/{address}/reports`.
pub const MAX_REPORTS_PER_REQUEST: usize = 256;

/// One replicate's report in a batch (`POST /workers/{address}/reports`): the task and the
/// report its own endpoint takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskReport {
    /// The replicate's task.
    pub task_id: B256,
    /// The report.
    #[serde(flatten)]
    pub report: Report,
}

/// `POST /workers/{address}/reports` body: reports on several replicates at once (at most
/// [`MAX_REPORTS_PER_REQUEST`]), each handled as its own `POST …/replicates/{taskId}` would be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportBatch {
    /// The reports, one per task at most.
    pub reports: Vec<TaskReport>,
}

/// The answer to one report of a batch: the action, or why the report was refused (the
/// status and sentence its own endpoint would have answered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportAnswer {
    /// The report's task.
    pub task_id: B256,
    /// What to do next, when the report was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The HTTP status the report alone would have had, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /workers/{address}/reports` answer, in the order of the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportAnswers {
    /// One per report.
    pub answers: Vec<ReportAnswer>,
}

/// What the worker must do next with a replicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send `contribute`.
    Contribute,
    /// Send `Hub.contributeAndFinalize`.
    ContributeAndFinalize,
    /// Nothing yet: report again later.
    Wait,
    /// Consensus is on this worker's result: send `reveal`.
    Reveal,
    /// Stop: the replicate is not needed (consensus without it, task settled or failed,
    /// replicate re-assigned). Clean up.
    Abort,
    /// Finished (task settled with this replicate's part done). Clean up.
    Done,
}

/// Answer to a [`Report`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextAction {
    /// What to do.
    pub action: Action,
}

/// A replicate as `GET /tasks/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicateView {
    /// The worker.
    pub worker: Address,
    /// Its state: `assigned`, `computed`, `held` (trust 1 in batch mode: the scheduler pushes
    /// its result), `contributed`, `revealed`, `done`, `failed`, `lost`, `timeout`, `aborted` or
    /// `rejected`.
    pub status: String,
    /// Its result digest, once reported.
    pub digest: Option<B256>,
    /// Its result hash on chain, once contributed.
    pub result_hash: Option<B256>,
    /// Its result zip.
    pub result_location: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Unix milliseconds of assignment.
    pub assigned_at: i64,
    /// Unix milliseconds of the last change.
    pub updated_at: i64,
}

/// `GET /tasks/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    /// The task.
    pub task_id: B256,
    /// Its deal.
    pub deal_id: B256,
    /// Its index.
    pub index: u64,
    /// Trust level of the deal.
    pub trust: u32,
    /// Its state: `pending` (nobody assigned yet), `running` (replicates assigned or
    /// contributed, no consensus yet), `revealing` (consensus reached; winners reveal, then the
    /// scheduler finalizes), `pushing` (trust 1 in batch mode: a result is held for the next
    /// `pushResults`), `completed` (settled with a result) or `failed` (claimed after its final
    /// deadline).
    pub status: String,
    /// The winning result hash, once consensus is reached.
    pub consensus: Option<B256>,
    /// The final digest, once completed.
    pub result_digest: Option<B256>,
    /// The results link, once completed.
    pub results: Option<String>,
    /// Its replicates, in assignment order.
    pub replicates: Vec<ReplicateView>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The JSON on the wire: camelCase fields, snake_case enums (what the scheduler and
    /// `docs/workerpool.md` show).
    #[test]
    fn wire_names_are_camel_case_and_enums_snake_case() {
        let mut report = Report::status(ReportStatus::Computed);
        report.result_location = Some("http://s/blobs/ab".into());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["status"], "computed");
        assert_eq!(json["resultLocation"], "http://s/blobs/ab");
        let next: NextAction =
            serde_json::from_str(r#"{"action":"contribute_and_finalize"}"#).unwrap();
        assert_eq!(next.action, Action::ContributeAndFinalize);
        let mode: Mode = serde_json::from_str(r#""push""#).unwrap();
        assert_eq!(mode, Mode::Push);
        let json = serde_json::to_value(NextRequest {
            wait_ms: 5,
            max: None,
        })
        .unwrap();
        assert_eq!(json, serde_json::json!({ "waitMs": 5 }));
        let asked: NextRequest = serde_json::from_str(r#"{"waitMs":5,"max":3}"#).unwrap();
        assert_eq!(asked.max, Some(3));
    }
}
