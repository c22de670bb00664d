//! Execution flows of `dexec bench gas`: what happens to a deal after its match (the trust-1
//! fast path, replicated contributions sent by each worker or signed for the scheduler's
//! `contributeBatch`, scheduler batches of results, claims), with the signatures workers and
//! schedulers make.

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::SignerSync;
use alloy::sol_types::SolEvent;
use dexec_contracts::tx::find_event;
use dexec_contracts::{Hub, HubPoco};
use dexec_primitives::category::FINAL_DEADLINE_RATIO;
use dexec_primitives::poco::{authorization_hash, contribution_hash, result_hash, result_seal};
use dexec_primitives::task_id;
use eyre::ensure;

use super::market::Matched;
use super::measure::{measured, Measured};
use super::world::{World, FAST_WORKERS, REPLICATED_WORKERS, REQUESTER, SCHEDULER};

/// Off-chain results link every settlement emits (iExec's conventions used a 6-byte string).
const RESULTS: &[u8] = b"ipfs://result";

impl World {
    /// A trust-1 task: match (volume 1, no dataset), then the worker's `contributeAndFinalize`.
    /// Returns (match, settlement).
    pub(super) async fn trust1_task(&mut self) -> eyre::Result<(Measured, Measured)> {
        let (deal, matched) = self.match_deal(1, false, 0).await?;
        let settle = self.settle_fast(&deal).await?;
        Ok((matched, settle))
    }

    /// A volume-1 request matched against standing provider orders (volume 1000, matched once
    /// before, not measured), then settled by the fast path.
    pub(super) async fn trust1_task_standing(&mut self) -> eyre::Result<(Measured, Measured)> {
        let provider = (1000, self.next_salt());
        self.match_deal_with(1, false, 0, provider).await?;
        let (deal, matched) = self.match_deal_with(1, false, 0, provider).await?;
        let settle = self.settle_fast(&deal).await?;
        Ok((matched, settle))
    }

    /// The worker settles task `bot_first` of `deal` by the fast path.
    async fn settle_fast(&mut self, deal: &Matched) -> eyre::Result<Measured> {
        let index = u64::from(deal.deal.bot_first);
        let task = task_id(deal.id, index);
        let worker = self.address(FAST_WORKERS[0]);
        let call = self
            .hub
            .contributeAndFinalize(
                deal.encoded.clone(),
                deal.id,
                U256::from(index),
                result_digest(task),
                RESULTS.into(),
                Bytes::new(),
                Address::ZERO,
                Bytes::new(),
                self.authorize(worker, task)?,
            )
            .from(worker);
        let (receipt, settle) = measured(&call).await?;
        let event = find_event::<Hub::TaskFinalize>(&receipt, self.deployment.hub)?;
        ensure!(event.taskId == task, "the fast path finalized another task");
        Ok(settle)
    }

    /// A replicated task at `trust`: match (volume 1, no dataset), `workers` honest workers
    /// contribute the same digest (the last one reaching consensus), each reveals, the
    /// scheduler finalizes.
    pub(super) async fn replicated_task(
        &mut self,
        trust: u64,
        workers: usize,
    ) -> eyre::Result<Replicated> {
        let (deal, matched) = self.match_deal(1, false, trust).await?;
        let index = u64::from(deal.deal.bot_first);
        let task = task_id(deal.id, index);
        let digest = result_digest(task);
        let hub = self.deployment.hub;
        let workers: Vec<Address> = REPLICATED_WORKERS[..workers]
            .iter()
            .map(|&w| self.address(w))
            .collect();

        let mut contributions = Vec::new();
        for (i, &worker) in workers.iter().enumerate() {
            let call = self
                .poco
                .contribute(
                    deal.encoded.clone(),
                    deal.id,
                    U256::from(index),
                    result_hash(task, digest),
                    result_seal(worker, task, digest),
                    Address::ZERO,
                    Bytes::new(),
                    self.authorize(worker, task)?,
                )
                .from(worker);
            let (receipt, gas) = measured(&call).await?;
            find_event::<HubPoco::TaskContribute>(&receipt, hub)?;
            // only the last contribution may reach consensus: a later one would revert
            let consensus = find_event::<HubPoco::TaskConsensus>(&receipt, hub).is_ok();
            ensure!(
                consensus == (i + 1 == workers.len()),
                "trust {trust}: consensus = {consensus} after contribution {} of {}",
                i + 1,
                workers.len()
            );
            contributions.push(gas);
        }

        let mut reveals = Vec::new();
        for &worker in &workers {
            let (receipt, gas) = measured(&self.poco.reveal(task, digest).from(worker)).await?;
            find_event::<HubPoco::TaskReveal>(&receipt, hub)?;
            reveals.push(gas);
        }

        let call = self
            .poco
            .finalize(
                deal.encoded.clone(),
                deal.id,
                U256::from(index),
                digest,
                workers.clone(),
                RESULTS.into(),
                Bytes::new(),
            )
            .from(self.address(SCHEDULER));
        let (receipt, finalize) = measured(&call).await?;
        find_event::<HubPoco::TaskFinalize>(&receipt, hub)?;
        let accurate = count_events::<HubPoco::AccurateContribution>(&receipt, hub);
        ensure!(
            accurate == workers.len(),
            "{accurate} of {} workers rewarded",
            workers.len()
        );
        let run = Replicated {
            matched,
            contributions,
            reveals,
            finalize,
        };
        tracing::debug!(target: "bench", trust, ?run, "replicated task");
        Ok(run)
    }

    /// A replicated task at `trust` on the path a scheduler takes: match (volume 1, no
    /// dataset), then one `contributeBatch` carrying the `workers` honest workers' signed
    /// contributions (the last one reaching consensus), then `finalize` with the digest, which
    /// proves every winner's seal: nobody reveals.
    pub(super) async fn replicated_task_batch(
        &mut self,
        trust: u64,
        workers: usize,
    ) -> eyre::Result<ReplicatedBatch> {
        let (deal, matched) = self.match_deal(1, false, trust).await?;
        let index = u64::from(deal.deal.bot_first);
        let task = task_id(deal.id, index);
        let digest = result_digest(task);
        let hub = self.deployment.hub;
        let mut batch = Vec::new();
        let mut addresses = Vec::new();
        for &w in &REPLICATED_WORKERS[..workers] {
            let worker = self.address(w);
            let hash = result_hash(task, digest);
            let seal = result_seal(worker, task, digest);
            let signed = contribution_hash(task, hash, seal, Address::ZERO);
            let signature = self.signer(w).sign_message_sync(signed.as_slice())?;
            batch.push(HubPoco::SignedContribution {
                index: U256::from(index),
                worker,
                resultHash: hash,
                resultSeal: seal,
                workerSign: Bytes::copy_from_slice(&signature.as_bytes()),
                ..Default::default()
            });
            addresses.push(worker);
        }
        let call = self
            .poco
            .contributeBatch(deal.encoded.clone(), deal.id, batch)
            .from(self.address(SCHEDULER));
        let (receipt, contributed) = measured(&call).await?;
        let votes = count_events::<HubPoco::TaskContribute>(&receipt, hub);
        ensure!(
            votes == workers,
            "{votes} of {workers} contributions counted"
        );
        find_event::<HubPoco::TaskConsensus>(&receipt, hub)?;

        let call = self
            .poco
            .finalize(
                deal.encoded.clone(),
                deal.id,
                U256::from(index),
                digest,
                addresses,
                RESULTS.into(),
                Bytes::new(),
            )
            .from(self.address(SCHEDULER));
        let (receipt, finalize) = measured(&call).await?;
        find_event::<HubPoco::TaskFinalize>(&receipt, hub)?;
        let accurate = count_events::<HubPoco::AccurateContribution>(&receipt, hub);
        ensure!(
            accurate == workers,
            "{accurate} of {workers} workers rewarded without reveals"
        );
        let run = ReplicatedBatch {
            matched,
            contributed,
            finalize,
        };
        tracing::debug!(target: "bench", trust, ?run, "replicated task, scheduler's batch");
        Ok(run)
    }

    /// A bag of 100 trust-1 tasks: one match of volume 100 (no dataset), then the scheduler
    /// settles them with `pushResults` in two batches of 50, each batch one worker's tasks.
    /// Returns the gas of the match and both batches, per task.
    pub(super) async fn bag_of_100(&mut self) -> eyre::Result<Measured> {
        const TASKS: u64 = 100;
        const BATCH: u64 = 50;
        let (deal, mut total) = self.match_deal(TASKS, false, 0).await?;
        let first = u64::from(deal.deal.bot_first);
        for (batch, &worker) in (0..TASKS / BATCH).zip(&FAST_WORKERS) {
            let worker = self.address(worker);
            let results: Vec<HubPoco::BatchResult> = (first + batch * BATCH
                ..first + (batch + 1) * BATCH)
                .map(|index| HubPoco::BatchResult {
                    index: U256::from(index),
                    worker,
                    resultDigest: result_digest(task_id(deal.id, index)),
                    results: RESULTS.into(),
                    ..Default::default()
                })
                .collect();
            let call = self
                .poco
                .pushResults(deal.encoded.clone(), deal.id, results)
                .from(self.address(SCHEDULER));
            let (receipt, gas) = measured(&call).await?;
            let settled = count_events::<HubPoco::TaskFinalize>(&receipt, self.deployment.hub);
            ensure!(
                settled as u64 == BATCH,
                "a batch of {BATCH} settled {settled} tasks"
            );
            total = total + gas;
        }
        let last = self
            .poco
            .isTaskSettled(deal.id, U256::from(first + TASKS - 1), U256::from(first))
            .call()
            .await?;
        ensure!(last, "the last task of the bag is not settled");
        Ok(total.per_task(TASKS))
    }

    /// A trust-1 task nobody settles: match, let its final deadline pass, the requester claims.
    pub(super) async fn claim(&mut self) -> eyre::Result<Measured> {
        let (deal, _) = self.match_deal(1, false, 0).await?;
        let index = u64::from(deal.deal.bot_first);
        // the match block is the latest, so its timestamp is the deal's start time
        let window = FINAL_DEADLINE_RATIO * u64::from(deal.deal.timeref);
        self.wait_for_empty_pool().await?;
        let p = &self.chain.provider;
        let _: serde_json::Value = p
            .raw_request("evm_increaseTime".into(), (U256::from(window),))
            .await?;
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await?;
        let call = self
            .poco
            .claim(deal.encoded.clone(), deal.id, U256::from(index), Vec::new())
            .from(self.address(REQUESTER));
        let (receipt, gas) = measured(&call).await?;
        let event = find_event::<HubPoco::TaskClaimed>(&receipt, self.deployment.hub)?;
        ensure!(
            event.taskId == task_id(deal.id, index),
            "another task was claimed"
        );
        Ok(gas)
    }

    /// The scheduler's authorization of `worker` for `task` without enclave: an EIP-191
    /// signature of keccak256(worker ‖ taskId ‖ address(0)).
    fn authorize(&self, worker: Address, task: B256) -> eyre::Result<Bytes> {
        let message = authorization_hash(worker, task, Address::ZERO);
        let signature = self
            .signer(SCHEDULER)
            .sign_message_sync(message.as_slice())?;
        Ok(Bytes::copy_from_slice(&signature.as_bytes()))
    }
}

/// Gas of each transaction of a replicated task.
#[derive(Debug)]
pub(super) struct Replicated {
    /// The match (volume 1, no dataset).
    pub matched: Measured,
    /// In contribution order (the last one reached consensus).
    pub contributions: Vec<Measured>,
    /// In contribution order.
    pub reveals: Vec<Measured>,
    /// The scheduler's finalize.
    pub finalize: Measured,
}

impl Replicated {
    /// The whole flow: match, contributions, reveals and finalize.
    pub fn total(&self) -> Measured {
        self.matched
            + self.contributions.iter().copied().sum()
            + self.reveals.iter().copied().sum()
            + self.finalize
    }
}

/// Gas of each transaction of a replicated task settled by its scheduler's batch.
#[derive(Debug)]
pub(super) struct ReplicatedBatch {
    /// The match (volume 1, no dataset).
    pub matched: Measured,
    /// The `contributeBatch` of every worker's signed contribution.
    pub contributed: Measured,
    /// The scheduler's finalize, with no reveal.
    pub finalize: Measured,
}

impl ReplicatedBatch {
    /// The whole flow: match, the batch and finalize.
    pub fn total(&self) -> Measured {
        self.matched + self.contributed + self.finalize
    }
}

/// The digest a worker reports for `task` (any 32 bytes: the hub only compares them).
fn result_digest(task: B256) -> B256 {
    keccak256([task.as_slice(), b"result"].concat())
}

/// How many `E` events `emitter` emitted in `receipt`.
fn count_events<E: SolEvent>(receipt: &TransactionReceipt, emitter: Address) -> usize {
    receipt
        .logs()
        .iter()
        .filter(|log| log.address() == emitter && log.log_decode::<E>().is_ok())
        .count()
}
