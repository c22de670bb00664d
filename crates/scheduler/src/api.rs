//! The scheduler's HTTP API types: what workers send and receive (`docs/workerpool.md`).
//!
//! This module has no server dependencies (build the crate with `default-features = false`
//! to get only it): the worker uses these types as the client side of the protocol.

use alloy::primitives::{keccak256, Address, Bytes, B256};
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
    /// Where to fetch the app module.
    pub app_multiaddr: String,
    /// sha256 of the module.
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
    /// Its state (`assigned`, `computed`, `contributed`, `revealed`, `done`, `failed`,
    /// `lost`, `timeout`, `aborted`, `rejected`).
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
    /// Its state (`pending`, `running`, `revealing`, `completed`, `failed`).
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

/// The digest the scheduler signs to authorize `worker` on `task_id` with `enclave`:
/// `keccak256(worker ‖ taskId ‖ enclave)` (the hub checks its EIP-191 signature).
pub fn authorization_hash(worker: Address, task_id: B256, enclave: Address) -> B256 {
    let mut buf = [0u8; 72];
    buf[..20].copy_from_slice(worker.as_slice());
    buf[20..52].copy_from_slice(task_id.as_slice());
    buf[52..].copy_from_slice(enclave.as_slice());
    keccak256(buf)
}

/// The vote: `resultHash = keccak256(taskId ‖ digest)`.
pub fn result_hash(task_id: B256, digest: B256) -> B256 {
    keccak256([task_id.as_slice(), digest.as_slice()].concat())
}

/// The proof of knowledge: `resultSeal = keccak256(worker ‖ taskId ‖ digest)`.
pub fn result_seal(worker: Address, task_id: B256, digest: B256) -> B256 {
    keccak256([worker.as_slice(), task_id.as_slice(), digest.as_slice()].concat())
}

/// The on-chain results link of a blob in a dexec store:
/// `{"storage":"dexec-store","location":"<url>"}`.
pub fn results_link(location: &str) -> String {
    serde_json::json!({ "storage": "dexec-store", "location": location }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolValue;

    #[test]
    fn hashes_are_packed_encodings() {
        let worker = Address::repeat_byte(1);
        let task = B256::repeat_byte(2);
        let enclave = Address::ZERO;
        assert_eq!(
            authorization_hash(worker, task, enclave),
            keccak256((worker, task, enclave).abi_encode_packed())
        );
        let digest = B256::repeat_byte(3);
        assert_eq!(
            result_seal(worker, task, digest),
            keccak256((worker, task, digest).abi_encode_packed())
        );
        assert_eq!(
            result_hash(task, digest),
            keccak256((task, digest).abi_encode_packed())
        );
    }

    #[test]
    fn link_is_json() {
        let link: serde_json::Value =
            serde_json::from_str(&results_link("http://s/blobs/ab")).expect("json");
        assert_eq!(link["storage"], "dexec-store");
        assert_eq!(link["location"], "http://s/blobs/ab");
    }
}
