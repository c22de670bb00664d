//! [`SchedulerClient`]: the worker's side of the scheduler protocol — registration with a
//! signed challenge, session renewal, heartbeats, long polls for replicates, and reports.

use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, B256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::RwLock;

use super::types::{
    Action, Assignment, Assignments, Capabilities, Challenge, Heartbeat, NextAction, NextRequest,
    RegisterRequest, Registered, Report, ReportAnswers, ReportBatch, TaskReport, TaskView,
};
use crate::ErrorBody;

/// How long [`SchedulerClient::report`] retries while the scheduler cannot be reached.
pub const REPORT_PATIENCE: Duration = Duration::from_secs(300);

/// Heartbeat interval used before registration told the real one.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(2);

/// Why a call to the scheduler failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The scheduler cannot be reached (down or restarting).
    #[error("scheduler unreachable: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// The scheduler no longer knows this worker's session (it registers again once).
    #[error("the scheduler does not know this session")]
    Unauthorized,
    /// The scheduler refused the call; `message` is its sentence.
    #[error("scheduler: {status}: {message}")]
    Refused {
        /// The HTTP status.
        status: StatusCode,
        /// What the scheduler said (its `{"error": …}` sentence, else the body's text).
        message: String,
    },
    /// The scheduler's answer could not be read.
    #[error("scheduler: unreadable answer: {0}")]
    Answer(String),
    /// The challenge could not be signed.
    #[error("signing the challenge failed: {0}")]
    Signer(#[from] alloy::signers::Error),
}

/// A worker's client of its scheduler (`docs/workerpool.md`, "HTTP API").
///
/// [`register`](Self::register) signs a fresh challenge and keeps the session; every later
/// call carries it, and a call the scheduler answers 401 (it restarted and forgot sessions)
/// registers again once and is repeated.
#[derive(Debug)]
pub struct SchedulerClient {
    http: reqwest::Client,
    base: String,
    signer: PrivateKeySigner,
    name: String,
    caps: Capabilities,
    session: RwLock<Option<Registered>>,
    /// Held while a call registers again, so that calls refused together register once.
    reregistering: tokio::sync::Mutex<()>,
}

impl SchedulerClient {
    /// A client of the scheduler at `base` (e.g. `http://127.0.0.1:13000`) for the worker whose
    /// key is `signer`, shown as `name`, offering `caps`. Nothing is sent before
    /// [`register`](Self::register).
    pub fn new(base: &str, signer: PrivateKeySigner, name: String, caps: Capabilities) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            signer,
            name,
            caps,
            session: RwLock::new(None),
            reregistering: tokio::sync::Mutex::new(()),
        }
    }

    /// The worker's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Sign a fresh challenge and register; the session is kept for later calls.
    pub async fn register(&self) -> Result<Registered, SchedulerError> {
        let url = format!(
            "{}/workers/challenge?address={:#x}",
            self.base,
            self.address()
        );
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(SchedulerError::Unreachable)?;
        let challenge: Challenge = decode(response)
            .await?
            .ok_or_else(|| SchedulerError::Answer("the challenge has no body".into()))?;
        let signature = self
            .signer
            .sign_message_sync(challenge.challenge.as_bytes())?;
        let request = RegisterRequest {
            address: self.address(),
            challenge: challenge.challenge,
            signature: Bytes::copy_from_slice(&signature.as_bytes()),
            name: self.name.clone(),
            capabilities: self.caps.clone(),
        };
        let response = self
            .http
            .post(format!("{}/workers/register", self.base))
            .json(&request)
            .send()
            .await
            .map_err(SchedulerError::Unreachable)?;
        let registered: Registered = decode(response)
            .await?
            .ok_or_else(|| SchedulerError::Answer("registration answered without a body".into()))?;
        *self.session.write().await = Some(registered.clone());
        Ok(registered)
    }

    /// How often to send heartbeats: what registration said, else 2 s.
    pub async fn heartbeat_interval(&self) -> Duration {
        self.session
            .read()
            .await
            .as_ref()
            .map_or(DEFAULT_HEARTBEAT, |s| {
                Duration::from_millis(s.heartbeat_interval_ms)
            })
    }

    /// `POST /workers/{address}/heartbeat`.
    pub async fn heartbeat(&self) -> Result<(), SchedulerError> {
        let path = format!("/workers/{:#x}/heartbeat", self.address());
        let _: Option<serde_json::Value> = self
            .call(&path, &Heartbeat::default(), Duration::from_secs(10))
            .await?;
        Ok(())
    }

    /// Long-poll for a replicate: `None` when the scheduler had none within `wait` (it may
    /// cap the wait).
    pub async fn next(&self, wait: Duration) -> Result<Option<Assignment>, SchedulerError> {
        let path = format!("/workers/{:#x}/next", self.address());
        let body = NextRequest {
            wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            max: None,
        };
        self.call(&path, &body, wait + Duration::from_secs(10))
            .await
    }

    /// Long-poll for up to `max` replicates at once (a worker's free slots): one request
    /// instead of one per replicate when a bag's tasks wait. Empty when the scheduler had
    /// none within `wait`.
    pub async fn assignments(
        &self,
        wait: Duration,
        max: u32,
    ) -> Result<Vec<Assignment>, SchedulerError> {
        let path = format!("/workers/{:#x}/assignments", self.address());
        let body = NextRequest {
            wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            max: Some(max),
        };
        let answer: Option<Assignments> = self
            .call(&path, &body, wait + Duration::from_secs(10))
            .await?;
        Ok(answer.map(|a| a.assignments).unwrap_or_default())
    }

    /// Report on a replicate and learn what to do next. While the scheduler cannot be
    /// reached (restarting), the report is retried for up to [`REPORT_PATIENCE`]. Reports are
    /// idempotent: repeating the latest one is how a worker asks again.
    pub async fn report(&self, task_id: B256, report: &Report) -> Result<Action, SchedulerError> {
        let path = format!("/workers/{:#x}/replicates/{task_id:#x}", self.address());
        let next: Option<NextAction> = self.call_patiently(&path, report).await?;
        Ok(next.map_or(Action::Wait, |n| n.action))
    }

    /// [`call`](Self::call) a report endpoint, retried for up to [`REPORT_PATIENCE`] while
    /// the scheduler cannot be reached (restarting).
    async fn call_patiently<T: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<Option<R>, SchedulerError> {
        let started = Instant::now();
        loop {
            match self.call(path, body, Duration::from_secs(30)).await {
                Err(SchedulerError::Unreachable(e)) if started.elapsed() < REPORT_PATIENCE => {
                    tracing::debug!(target: "worker::scheduler", %path, error = %e, "scheduler unreachable; retrying the report");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                other => return other,
            }
        }
    }

    /// Report on several replicates in one request (at most [`MAX_REPORTS_PER_REQUEST`](super::types::MAX_REPORTS_PER_REQUEST):
    /// the scheduler refuses more);
    /// one answer per report, in their order: the action, or the scheduler's refusal of that
    /// report alone (as [`report`](Self::report) would have returned it). Retried like
    /// `report` while the scheduler cannot be reached.
    pub async fn reports(
        &self,
        reports: &[TaskReport],
    ) -> Result<Vec<Result<Action, SchedulerError>>, SchedulerError> {
        let path = format!("/workers/{:#x}/reports", self.address());
        let body = ReportBatch {
            reports: reports.to_vec(),
        };
        let answers: Option<ReportAnswers> = self.call_patiently(&path, &body).await?;
        let answers = answers.map(|a| a.answers).unwrap_or_default();
        if answers.len() != reports.len()
            || answers
                .iter()
                .zip(reports)
                .any(|(a, r)| a.task_id != r.task_id)
        {
            return Err(SchedulerError::Answer(format!(
                "{} answers for {} reports, or not in their order",
                answers.len(),
                reports.len()
            )));
        }
        Ok(answers
            .into_iter()
            .map(|a| match (a.action, a.error) {
                (Some(action), None) => Ok(action),
                (_, error) => Err(SchedulerError::Refused {
                    status: a
                        .status
                        .and_then(|s| StatusCode::from_u16(s).ok())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    message: error.unwrap_or_else(|| "no action and no error".into()),
                }),
            })
            .collect())
    }

    /// Register again after the scheduler refused the session `refused`, unless another call
    /// already did: a worker's concurrent calls (its replicates, its long poll, its heartbeat)
    /// are refused together after a scheduler restart, and each registration replaces the
    /// session the others would retry with.
    async fn register_again(&self, refused: &str) -> Result<(), SchedulerError> {
        let _one_at_a_time = self.reregistering.lock().await;
        let current = self
            .session
            .read()
            .await
            .as_ref()
            .map(|s| s.session.clone());
        if current.is_some_and(|s| s != refused) {
            return Ok(());
        }
        tracing::info!(target: "worker::scheduler", "session unknown to the scheduler: registering again");
        self.register().await.map(|_| ())
    }

    /// POST `body` to `path` with the session; on 401 the worker registers again (once for all
    /// the calls refused with the same session) and the call is repeated.
    async fn call<T: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
        timeout: Duration,
    ) -> Result<Option<R>, SchedulerError> {
        for attempt in 0..3 {
            let token = match self.session.read().await.as_ref() {
                Some(s) => s.session.clone(),
                None => String::new(),
            };
            let response = self
                .http
                .post(format!("{}{path}", self.base))
                .bearer_auth(&token)
                .timeout(timeout)
                .json(body)
                .send()
                .await
                .map_err(SchedulerError::Unreachable)?;
            match decode(response).await {
                Err(SchedulerError::Unauthorized) if attempt < 2 => {
                    self.register_again(&token).await?;
                }
                other => return other,
            }
        }
        Err(SchedulerError::Unauthorized)
    }
}

/// `GET /tasks/{task_id}` of the scheduler at `base`: what it knows of a task (its replicates,
/// their workers and errors). Needs no session: requesters and tools may ask. `None` when the
/// scheduler does not know the task (404: not its workerpool's, or not seen yet).
pub async fn task_view(
    base: &str,
    task_id: B256,
    timeout: Duration,
) -> Result<Option<TaskView>, SchedulerError> {
    let response = reqwest::Client::new()
        .get(format!("{}/tasks/{task_id:#x}", base.trim_end_matches('/')))
        .timeout(timeout)
        .send()
        .await
        .map_err(SchedulerError::Unreachable)?;
    if response.status() == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    decode(response).await
}

/// 2xx with a JSON body → `Some`, 204 → `None`, 401 → [`SchedulerError::Unauthorized`], other
/// → [`SchedulerError::Refused`] with the scheduler's sentence.
async fn decode<R: DeserializeOwned>(
    response: reqwest::Response,
) -> Result<Option<R>, SchedulerError> {
    let status = response.status();
    if status == StatusCode::NO_CONTENT {
        return Ok(None);
    }
    if status == StatusCode::UNAUTHORIZED {
        return Err(SchedulerError::Unauthorized);
    }
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let message = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => body.error,
            Err(_) => text,
        };
        return Err(SchedulerError::Refused { status, message });
    }
    response
        .json()
        .await
        .map(Some)
        .map_err(|e| SchedulerError::Answer(e.to_string()))
}
