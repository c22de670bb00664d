//! The worker registry: registration by a signed challenge, the admission policy, sessions
//! and liveness.

use std::time::{Duration, Instant};

use alloy::primitives::{Address, Signature};
use dexec_primitives::poco::weight;
use rand::RngCore;

use super::{lock, Scheduler};
use crate::api::{Capabilities, Challenge, Heartbeat, RegisterRequest, Registered};
use crate::error::{Error, Result};

/// How long a registration challenge stays valid.
const CHALLENGE_TTL: Duration = Duration::from_secs(300);

/// A registered worker.
#[derive(Debug, Clone)]
pub(crate) struct WorkerEntry {
    pub name: String,
    pub session: String,
    pub caps: Capabilities,
    pub last_seen: Instant,
    /// Its Sarmenta weight, from its on-chain score.
    pub weight: u64,
    pub lost: bool,
    /// Long polls in progress.
    pub waiting: u32,
    /// Since when it has been waiting without a break (a long poll in progress all along).
    pub waiting_since: Option<Instant>,
}

impl Scheduler {
    /// Workers alive and registered.
    pub fn worker_count(&self) -> (usize, usize) {
        let workers = lock(&self.workers);
        let alive = workers.values().filter(|w| !w.lost).count();
        (alive, workers.len())
    }

    pub fn challenge(&self, address: Address) -> Challenge {
        let mut nonce = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut nonce);
        let text = format!(
            "dexec scheduler of workerpool {:#x}: register worker {:#x} (nonce {})",
            self.config.workerpool,
            address,
            hex::encode(nonce)
        );
        let mut challenges = lock(&self.challenges);
        challenges.retain(|_, (_, at)| at.elapsed() < CHALLENGE_TTL);
        challenges.insert(address, (text.clone(), Instant::now()));
        Challenge { challenge: text }
    }

    pub async fn register(&self, req: RegisterRequest) -> Result<Registered> {
        let expected = lock(&self.challenges).remove(&req.address);
        match expected {
            Some((text, at)) if text == req.challenge && at.elapsed() < CHALLENGE_TTL => {}
            _ => {
                return Err(Error::Unauthorized(
                    "unknown or expired challenge: get a new one from GET /workers/challenge"
                        .into(),
                ))
            }
        }
        let signature = Signature::from_raw(&req.signature)
            .map_err(|_| Error::Unauthorized("the signature is not 65 bytes".into()))?;
        let signer = signature
            .recover_address_from_msg(req.challenge.as_bytes())
            .map_err(|_| Error::Unauthorized("the signature does not recover".into()))?;
        if signer != req.address {
            return Err(Error::Unauthorized(format!(
                "the challenge was signed by {signer}, not {}",
                req.address
            )));
        }
        if req.capabilities.max_concurrent == 0 {
            return Err(Error::BadRequest("maxConcurrent must be at least 1".into()));
        }
        let score = self.admit(req.address).await?;
        let mut token = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut token);
        let session = hex::encode(token);
        tracing::info!(target: "scheduler::workers", worker = %req.address, name = %req.name, score, caps = ?req.capabilities, "worker registered");
        lock(&self.workers).insert(
            req.address,
            WorkerEntry {
                name: req.name,
                session: session.clone(),
                caps: req.capabilities,
                last_seen: Instant::now(),
                weight: weight(score),
                lost: false,
                waiting: 0,
                waiting_since: None,
            },
        );
        self.work.notify_waiters();
        Ok(Registered {
            session,
            heartbeat_interval_ms: self.config.heartbeat_interval.as_millis() as u64,
            lost_after_ms: self.config.lost_after.as_millis() as u64,
            workerpool: self.config.workerpool,
            scheduler: self.owner(),
            chain_id: self.client.chain_id(),
            hub: self.client.deployment().hub,
            store_url: self.config.store_url.clone(),
        })
    }

    /// The admission policy: the allow list, then the least on-chain score. Returns the
    /// worker's score.
    async fn admit(&self, worker: Address) -> Result<u64> {
        if !self.config.allow_workers.is_empty() && !self.config.allow_workers.contains(&worker) {
            return Err(Error::Forbidden(format!(
                "worker {worker} is not on this workerpool's allow list"
            )));
        }
        let score = self.client.account(worker).await?.score;
        if score < self.config.min_worker_score {
            return Err(Error::Forbidden(format!(
                "worker {worker} has score {score}; this workerpool admits workers from score {}",
                self.config.min_worker_score
            )));
        }
        Ok(score)
    }

    /// Check a worker's session and record that it is alive.
    pub fn authenticate(&self, worker: Address, session: Option<&str>) -> Result<()> {
        let mut workers = lock(&self.workers);
        let entry = workers.get_mut(&worker).ok_or_else(|| {
            Error::Unauthorized(format!(
                "worker {worker} is not registered (register again)"
            ))
        })?;
        if session != Some(entry.session.as_str()) {
            return Err(Error::Unauthorized(
                "missing or stale session token (register again)".into(),
            ));
        }
        entry.last_seen = Instant::now();
        if entry.lost {
            tracing::info!(target: "scheduler::workers", %worker, "lost worker is back");
            entry.lost = false;
        }
        Ok(())
    }

    pub fn heartbeat(&self, worker: Address, _beat: Heartbeat) {
        tracing::trace!(target: "scheduler::workers", %worker, "heartbeat");
    }

    /// Read `worker`'s score on chain and update its cached Sarmenta weight.
    pub(super) async fn refresh_weight(&self, worker: Address) -> Result<u64> {
        let fresh = weight(self.client.account(worker).await?.score);
        if let Some(entry) = lock(&self.workers).get_mut(&worker) {
            entry.weight = fresh;
        }
        Ok(fresh)
    }

    /// Count a long poll of `worker` in (`delta` 1) or out (-1).
    pub(super) fn set_waiting(&self, worker: Address, delta: i32) {
        if let Some(w) = lock(&self.workers).get_mut(&worker) {
            w.waiting = w.waiting.saturating_add_signed(delta);
            if w.waiting == 0 {
                w.waiting_since = None;
            } else if w.waiting_since.is_none() {
                w.waiting_since = Some(Instant::now());
            }
        }
    }
}
