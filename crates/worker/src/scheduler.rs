//! The scheduler's HTTP client: registration, session renewal, heartbeats, long polls and
//! reports.

use std::time::Duration;

use alloy::primitives::{Address, Bytes, B256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use dexec_scheduler::api::{
    Action, Assignment, Capabilities, Challenge, Heartbeat, NextAction, NextRequest,
    RegisterRequest, Registered, Report,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::RwLock;

use crate::error::{Error, Result};

/// How long a report is retried while the scheduler is unreachable.
pub(crate) const REPORT_PATIENCE: Duration = Duration::from_secs(300);

pub(crate) struct SchedulerClient {
    http: reqwest::Client,
    base: String,
    signer: PrivateKeySigner,
    name: String,
    caps: Capabilities,
    session: RwLock<Option<Registered>>,
}

impl SchedulerClient {
    pub fn new(base: &str, signer: PrivateKeySigner, name: String, caps: Capabilities) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            signer,
            name,
            caps,
            session: RwLock::new(None),
        }
    }

    fn address(&self) -> Address {
        self.signer.address()
    }

    /// Sign a fresh challenge and register; keeps the session.
    pub async fn register(&self) -> Result<Registered> {
        let url = format!(
            "{}/workers/challenge?address={:#x}",
            self.base,
            self.address()
        );
        let challenge: Challenge = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?
            .error_for_status()
            .map_err(|e| Error::Scheduler(e.to_string()))?
            .json()
            .await
            .map_err(|e| Error::Scheduler(e.to_string()))?;
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
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        let registered: Registered = decode(response)
            .await?
            .ok_or_else(|| Error::Scheduler("registration answered without a body".into()))?;
        *self.session.write().await = Some(registered.clone());
        Ok(registered)
    }

    pub async fn heartbeat_interval(&self) -> Duration {
        self.session
            .read()
            .await
            .as_ref()
            .map_or(Duration::from_secs(2), |s| {
                Duration::from_millis(s.heartbeat_interval_ms)
            })
    }

    /// POST `body` to `path` with the session; one re-registration on 401.
    async fn call<T: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
        timeout: Duration,
    ) -> Result<Option<R>> {
        for attempt in 0..2 {
            let token = match self.session.read().await.as_ref() {
                Some(s) => s.session.clone(),
                None => String::new(),
            };
            let response = self
                .http
                .post(format!("{}{path}", self.base))
                .bearer_auth(token)
                .timeout(timeout)
                .json(body)
                .send()
                .await
                .map_err(|e| Error::Unreachable(e.to_string()))?;
            match decode(response).await {
                Err(Error::Unauthorized) if attempt == 0 => {
                    tracing::info!(target: "worker", "session unknown to the scheduler: registering again");
                    self.register().await?;
                }
                other => return other,
            }
        }
        Err(Error::Unauthorized)
    }

    pub async fn heartbeat(&self) -> Result<()> {
        let path = format!("/workers/{:#x}/heartbeat", self.address());
        let _: Option<serde_json::Value> = self
            .call(&path, &Heartbeat::default(), Duration::from_secs(10))
            .await?;
        Ok(())
    }

    pub async fn next(&self, wait: Duration) -> Result<Option<Assignment>> {
        let path = format!("/workers/{:#x}/next", self.address());
        let body = NextRequest {
            wait_ms: wait.as_millis() as u64,
        };
        self.call(&path, &body, wait + Duration::from_secs(10))
            .await
    }

    /// Report on a replicate and learn what to do next. While the scheduler cannot be
    /// reached (restarting), the report is retried for up to [`REPORT_PATIENCE`].
    pub async fn report(&self, task_id: B256, report: &Report) -> Result<Action> {
        let path = format!("/workers/{:#x}/replicates/{task_id:#x}", self.address());
        let started = std::time::Instant::now();
        loop {
            match self
                .call::<_, NextAction>(&path, report, Duration::from_secs(30))
                .await
            {
                Ok(next) => return Ok(next.map_or(Action::Wait, |n| n.action)),
                Err(Error::Unreachable(e)) if started.elapsed() < REPORT_PATIENCE => {
                    tracing::debug!(target: "worker", %task_id, error = %e, "scheduler unreachable; retrying the report");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// 2xx with a JSON body → `Some`, 204 → `None`, 401 → [`Error::Unauthorized`], other → error
/// with the scheduler's sentence.
async fn decode<R: DeserializeOwned>(response: reqwest::Response) -> Result<Option<R>> {
    let status = response.status();
    if status == StatusCode::NO_CONTENT {
        return Ok(None);
    }
    if status == StatusCode::UNAUTHORIZED {
        return Err(Error::Unauthorized);
    }
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(Error::Scheduler(format!("{status}: {text}")));
    }
    response
        .json()
        .await
        .map(Some)
        .map_err(|e| Error::Scheduler(e.to_string()))
}
