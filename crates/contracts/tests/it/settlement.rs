//! The hardened settlement rules of `dexec_primitives::poco` against the deployed hub: the
//! scheduler's batch of signed contributions (`contribution_hash`, votes counted one by one with
//! `count_vote`), what a claim does with each stake (`Deal::claim_outcome`: the payer gets its
//! price back, seized stakes go to the kitty), and a reopen that bars exactly the voters of the
//! rejected value (`rejected_by_reopen`, `may_reveal`), its window and the deadlines of a
//! reopened task (`reopen_window`, `contribution_deadline_in_epoch`, `reveal_deadline`), then a
//! finalize that needs no reveal (`wins_finalize`).

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::SignerSync;
use alloy::sol_types::SolEvent;
use dexec_contracts::tx::{find_event, send};
use dexec_contracts::{Hub, HubPoco};
use dexec_primitives::poco::{
    contribution_hash, count_vote, has_consensus, result_hash, result_seal, weight,
};
use dexec_primitives::{task_id, ContributionStatus, Deal};

use crate::fixture::{Rng, REQUESTER, WORKERPOOL_OWNER};
use crate::parity::{accounts_slot, refused, set_score, Market, PRICE, WORKERS};

const X: B256 = B256::repeat_byte(0x58);
const Y: B256 = B256::repeat_byte(0x59);

type Call<C> = alloy::contract::SolCallBuilder<DynProvider, C>;

impl Market {
    /// `worker`'s contribution voting `digest` on task `index`, signed by the worker for its
    /// scheduler's batch (EIP-191 over the Rust digest).
    fn signed_contribution(
        &self,
        deal: B256,
        index: u64,
        worker: usize,
        digest: B256,
    ) -> HubPoco::SignedContribution {
        let who = self.chain.addr(worker);
        let task = task_id(deal, index);
        let (hash, seal) = (result_hash(task, digest), result_seal(who, task, digest));
        let sign = self.chain.signers[worker]
            .sign_message_sync(contribution_hash(task, hash, seal, Address::ZERO).as_slice())
            .expect("sign");
        HubPoco::SignedContribution {
            index: U256::from(index),
            worker: who,
            resultHash: hash,
            resultSeal: seal,
            workerSign: Bytes::copy_from_slice(&sign.as_bytes()),
            ..Default::default()
        }
    }

    fn contribute_batch(
        &self,
        deal: (B256, &Bytes),
        batch: Vec<HubPoco::SignedContribution>,
        sender: usize,
    ) -> Call<HubPoco::contributeBatchCall> {
        self.chain
            .deployment
            .poco(self.chain.provider.clone())
            .contributeBatch(deal.1.clone(), deal.0, batch)
            .from(self.chain.addr(sender))
            .with_cloned_provider()
    }

    fn poco(&self) -> HubPoco::HubPocoInstance<DynProvider> {
        self.chain.deployment.poco(self.chain.provider.clone())
    }

    async fn status(&self, task: B256, worker: usize) -> ContributionStatus {
        let c = self
            .poco()
            .viewContribution(task, self.chain.addr(worker))
            .call()
            .await
            .expect("viewContribution");
        ContributionStatus::from_code(c.status.saturating_to()).expect("a known status")
    }

    async fn view(&self, task: B256) -> HubPoco::Task {
        self.poco().viewTask(task).call().await.expect("viewTask")
    }

    async fn kitty(&self) -> U256 {
        self.poco().kitty().call().await.expect("kitty")
    }

    async fn score(&self, worker: usize) -> u64 {
        let hub = self.chain.deployment.hub(&self.chain.provider);
        hub.viewScore(self.chain.addr(worker))
            .call()
            .await
            .expect("viewScore")
            .saturating_to()
    }

    async fn block_time(&self, receipt: &TransactionReceipt) -> u64 {
        self.chain
            .provider
            .get_block_by_number(receipt.block_number.expect("mined").into())
            .await
            .expect("block")
            .expect("exists")
            .header
            .timestamp
    }
}

/// How many `E` events the hub emitted in `receipt`, and for whom (`who` of each).
fn events<E: SolEvent>(receipt: &TransactionReceipt, hub: Address) -> Vec<E> {
    receipt
        .logs()
        .iter()
        .filter(|log| log.address() == hub)
        .filter_map(|log| log.log_decode::<E>().ok())
        .map(|log| log.inner.data)
        .collect()
}

/// A party's free and locked balance and score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Books {
    free: U256,
    locked: U256,
    score: u64,
}

async fn books(m: &Market, account: usize) -> Books {
    let (free, locked) = m.chain.account(account).await;
    Books {
        free,
        locked,
        score: m.score(account).await,
    }
}

/// Claim task `index` of `deal` with `contributors` and check every balance, score and the
/// kitty against `Deal::claim_outcome` of their statuses read from the hub.
async fn claim_as_the_rule_says(
    m: &Market,
    deal: (B256, &Bytes, &Deal),
    index: u64,
    contributors: &[usize],
) {
    let (deal_id, encoded, terms) = deal;
    let task = task_id(deal_id, index);
    let in_consensus = m.view(task).await.status == 2;
    let mut statuses = Vec::new();
    for &w in contributors {
        statuses.push(m.status(task, w).await);
    }
    let outcome = terms.claim_outcome(in_consensus, &statuses);
    let payer = books(m, REQUESTER).await;
    let scheduler = books(m, WORKERPOOL_OWNER).await;
    let mut workers = Vec::new();
    for &w in contributors {
        workers.push(books(m, w).await);
    }
    let kitty = m.kitty().await;

    let call = m
        .poco()
        .claim(
            encoded.clone(),
            deal_id,
            U256::from(index),
            contributors.iter().map(|&w| m.chain.addr(w)).collect(),
        )
        .from(m.chain.addr(REQUESTER))
        .with_cloned_provider();
    let receipt = send(&call).await.expect("claim");
    let context = format!("task {index}, consensus {in_consensus}, statuses {statuses:?}");

    let refund = U256::from(outcome.payer_refund);
    let after = books(m, REQUESTER).await;
    assert_eq!(
        after.free,
        payer.free + refund,
        "{context}: the payer's price, no more"
    );
    assert_eq!(after.locked, payer.locked - refund, "{context}");
    let stake = U256::from(terms.scheduler_stake());
    let after = books(m, WORKERPOOL_OWNER).await;
    assert_eq!(
        after.free, scheduler.free,
        "{context}: the scheduler gets nothing back"
    );
    assert_eq!(after.locked, scheduler.locked - stake, "{context}");
    assert_eq!(
        m.kitty().await,
        kitty + U256::from(outcome.to_kitty),
        "{context}"
    );
    let worker_stake = U256::from(terms.worker_stake);
    for ((&w, before), kept) in contributors.iter().zip(&workers).zip(&outcome.kept) {
        let after = books(m, w).await;
        assert_eq!(
            after.locked,
            before.locked - worker_stake,
            "{context}: worker {w}"
        );
        if *kept {
            assert_eq!(
                after.free,
                before.free + worker_stake,
                "{context}: worker {w}"
            );
            assert_eq!(after.score, before.score, "{context}: worker {w}");
        } else {
            assert_eq!(
                after.free, before.free,
                "{context}: worker {w} loses its stake"
            );
            assert_eq!(after.score, before.score * 2 / 3, "{context}: worker {w}");
        }
    }
    let faulty = events::<HubPoco::FaultyContribution>(&receipt, m.chain.deployment.hub);
    let seized: Vec<Address> = contributors
        .iter()
        .zip(&outcome.kept)
        .filter(|(_, kept)| !**kept)
        .map(|(&w, _)| m.chain.addr(w))
        .collect();
    assert_eq!(
        faulty.iter().map(|e| e.worker).collect::<Vec<_>>(),
        seized,
        "{context}"
    );
}

#[tokio::test]
async fn a_claim_refunds_the_payer_and_seizes_silent_and_wrong_stakes_for_the_kitty() {
    let m = Market::start().await;
    let mut rng = Rng::seeded("a_claim_refunds_the_payer_and_seizes_silent_and_wrong_stakes");
    let base = accounts_slot(&m, m.chain.addr(WORKERS.start)).await;
    // score 9: weight 2 like a fresh worker, and a third to lose
    for w in WORKERS {
        set_score(&m, base, m.chain.addr(w), 9).await;
    }
    let trust = 5;
    let (deal_id, deal, encoded) = m.deal(trust, 3, 0, PRICE, rng.b256()).await;
    let d = (deal_id, &encoded);

    // task 0 by the scheduler's batch: one worker votes Y, the others X, in this order
    let task = task_id(deal_id, 0);
    let order: Vec<(usize, B256)> = WORKERS
        .enumerate()
        .map(|(i, w)| (w, if i == 0 { Y } else { X }))
        .collect();
    let batch: Vec<_> = order
        .iter()
        .map(|&(w, v)| m.signed_contribution(deal_id, 0, w, v))
        .collect();
    // the batch is the scheduler's, and every signature is its worker's
    let e = refused(
        m.contribute_batch(d, batch.clone(), REQUESTER).call().await,
        "not the scheduler",
    );
    assert!(matches!(e, Hub::HubErrors::NotTheScheduler(_)), "{e:?}");
    let mut forged = batch.clone();
    forged[2].resultHash = result_hash(task, Y);
    let e = refused(
        m.contribute_batch(d, forged, WORKERPOOL_OWNER).call().await,
        "a vote the worker did not sign",
    );
    assert!(
        matches!(&e, Hub::HubErrors::InvalidContributionSignature(e) if e.worker == m.chain.addr(order[2].0)),
        "{e:?}"
    );
    // the Rust count of the votes, one by one, says where consensus comes
    let (mut total, mut groups) = (U256::from(1u8), std::collections::HashMap::new());
    let mut reached_at = None;
    for (i, &(w, v)) in order.iter().enumerate() {
        let group = groups.get(&v).copied().unwrap_or_default();
        let (group, t, reached) = count_vote(trust as u32, group, total, weight(9));
        groups.insert(v, group);
        total = t;
        if reached {
            reached_at = Some((i, w));
            break;
        }
    }
    let (last, _) = reached_at.expect("five fresh votes reach trust 5");
    assert_eq!(last, order.len() - 1, "the last vote reaches consensus");
    let receipt = send(&m.contribute_batch(d, batch, WORKERPOOL_OWNER))
        .await
        .expect("contributeBatch");
    let hub = m.chain.deployment.hub;
    assert_eq!(
        events::<HubPoco::TaskContribute>(&receipt, hub).len(),
        order.len()
    );
    let view = m.view(task).await;
    assert_eq!(view.status, 2, "consensus");
    assert_eq!(view.consensus, result_hash(task, X));
    assert_eq!(U256::from(view.total), total);
    for (v, group) in &groups {
        let onchain = m
            .poco()
            .viewGroup(task, result_hash(task, *v))
            .call()
            .await
            .expect("viewGroup");
        assert_eq!(onchain.weight, *group, "group of {v}");
    }
    // one X voter reveals; the other three stay silent
    let revealer = order[1].0;
    send(&m.poco().reveal(task, X).from(m.chain.addr(revealer)))
        .await
        .expect("reveal");

    // task 1: one contribution, no consensus
    let auth = m.authorize(
        m.chain.addr(WORKERS.start),
        task_id(deal_id, 1),
        Address::ZERO,
    );
    send(&m.contribute(d, 1, WORKERS.start, X, auth))
        .await
        .expect("contribute");

    m.advance_to(deal.final_deadline()).await;
    let workers: Vec<usize> = order.iter().map(|(w, _)| *w).collect();
    claim_as_the_rule_says(&m, (deal_id, &encoded, &deal), 0, &workers).await;
    assert_eq!(
        m.status(task, revealer).await,
        ContributionStatus::Proved,
        "only the revealer kept its stake"
    );
    claim_as_the_rule_says(&m, (deal_id, &encoded, &deal), 1, &[WORKERS.start]).await;

    // task 2, untouched: claimBatch refunds the price and seizes the scheduler's stake
    let kitty = m.kitty().await;
    let (payer, _) = m.chain.account(REQUESTER).await;
    let call = m
        .poco()
        .claimBatch(encoded.clone(), deal_id, vec![U256::from(2)])
        .from(m.chain.addr(REQUESTER))
        .with_cloned_provider();
    send(&call).await.expect("claimBatch");
    let outcome = deal.claim_outcome(false, &[]);
    assert_eq!(m.kitty().await, kitty + U256::from(outcome.to_kitty));
    assert_eq!(
        m.chain.account(REQUESTER).await.0,
        payer + U256::from(outcome.payer_refund)
    );
}

#[tokio::test]
async fn reopen_bars_only_the_rejected_voters_and_a_reopened_task_runs_to_its_final_deadline() {
    let m = Market::start().await;
    let mut rng = Rng::seeded("reopen_bars_only_the_rejected_voters");
    let trust = 3;
    let (deal_id, deal, encoded) = m.deal(trust, 2, 0, PRICE, rng.b256()).await;
    let d = (deal_id, &encoded);
    let task = task_id(deal_id, 0);
    let timeref = u64::from(deal.timeref);
    let [honest, s1, s2, s3, late] = [
        WORKERS.start,
        WORKERS.start + 1,
        WORKERS.start + 2,
        WORKERS.start + 3,
        WORKERS.start + 4,
    ];
    let hub = m.chain.deployment.hub;

    // task 1: two voters reach consensus on Y at once and stay silent (claimed at the end)
    let task1 = task_id(deal_id, 1);
    let batch = [s1, s2]
        .iter()
        .map(|&w| m.signed_contribution(deal_id, 1, w, Y))
        .collect();
    send(&m.contribute_batch(d, batch, WORKERPOOL_OWNER))
        .await
        .expect("contributeBatch");

    // task 0: an honest early vote for X, then three voters reach consensus on Y and stay
    // silent
    let auth = m.authorize(m.chain.addr(honest), task, Address::ZERO);
    send(&m.contribute(d, 0, honest, X, auth))
        .await
        .expect("contribute");
    let batch = [s1, s2, s3]
        .iter()
        .map(|&w| m.signed_contribution(deal_id, 0, w, Y))
        .collect();
    let receipt = send(&m.contribute_batch(d, batch, WORKERPOOL_OWNER))
        .await
        .expect("contributeBatch");
    let votes = [(X, 2), (Y, 2), (Y, 2), (Y, 2)].map(|(v, w)| (result_hash(task, v), w));
    assert!(has_consensus(trust as u32, &votes));
    assert!(!has_consensus(trust as u32, &votes[..3]));
    let view = m.view(task).await;
    assert_eq!(view.consensus, result_hash(task, Y));
    let reveal_deadline = view.revealDeadline.to::<u64>();
    assert_eq!(
        reveal_deadline,
        deal.reveal_deadline(m.block_time(&receipt).await)
    );

    // the reopen window opens at the reveal deadline
    let reopen = m
        .poco()
        .reopen(
            encoded.clone(),
            deal_id,
            U256::ZERO,
            [honest, s1, s2, s3]
                .iter()
                .map(|&w| m.chain.addr(w))
                .collect(),
        )
        .from(m.chain.addr(WORKERPOOL_OWNER))
        .with_cloned_provider();
    assert!(!deal.reopen_window(reveal_deadline).contains(&m.now().await));
    match refused(reopen.call().await, "too early") {
        Hub::HubErrors::DeadlineNotReached(e) => {
            assert_eq!(e.deadline, U256::from(reveal_deadline))
        }
        other => panic!("{other:?}"),
    }
    // … and stays open past the contribution deadline of epoch 0
    m.advance_to(deal.contribution_deadline() + 1).await;
    assert!(deal.reopen_window(reveal_deadline).contains(&m.now().await));
    let mut before = Vec::new();
    for w in [honest, s1, s2, s3] {
        before.push((w, m.status(task, w).await));
    }
    let receipt = send(&reopen).await.expect("reopen");
    find_event::<HubPoco::TaskReopen>(&receipt, hub).expect("TaskReopen");
    for (w, status) in before {
        let voted_y = w != honest;
        let expected = if status.rejected_by_reopen(voted_y) {
            ContributionStatus::Rejected
        } else {
            status
        };
        assert_eq!(m.status(task, w).await, expected, "worker {w}");
    }
    assert_eq!(
        m.status(task, honest).await,
        ContributionStatus::Contributed
    );
    let view = m.view(task).await;
    assert_eq!((view.status, view.epoch), (1, 1), "active again, epoch 1");
    assert_eq!(
        U256::from(view.total),
        U256::from(1 + 2),
        "only X's group counts"
    );

    // a reopened task takes contributions until its final deadline; a consensus reached
    // less than 2 T before it reveals until the final deadline, no later
    let late_time = deal.final_deadline() - timeref * 3 / 2;
    m.advance_to(late_time).await;
    assert!(m.now().await > deal.contribution_deadline());
    assert!(m.now().await < deal.contribution_deadline_in_epoch(view.epoch));
    let auth = m.authorize(m.chain.addr(late), task, Address::ZERO);
    let receipt = send(&m.contribute(d, 0, late, X, auth))
        .await
        .expect("a reopened task takes contributions after 7 T");
    assert!(has_consensus(
        trust as u32,
        &[(result_hash(task, X), 2), (result_hash(task, X), 2)]
    ));
    let view = m.view(task).await;
    assert_eq!(view.status, 2);
    assert_eq!(view.consensus, result_hash(task, X));
    let at = m.block_time(&receipt).await;
    assert_eq!(view.revealDeadline.to::<u64>(), deal.reveal_deadline(at));
    assert_eq!(deal.reveal_deadline(at), deal.final_deadline());

    // a rejected voter can never reveal; the honest voter of epoch 0 can
    for (w, digest) in [(s1, Y), (s1, X)] {
        assert!(!m.status(task, w).await.may_reveal());
        let e = refused(
            m.poco()
                .reveal(task, digest)
                .from(m.chain.addr(w))
                .call()
                .await,
            "a rejected vote",
        );
        assert!(matches!(e, Hub::HubErrors::NotRevealable(_)), "{e:?}");
    }
    assert!(m.status(task, honest).await.may_reveal());
    send(&m.poco().reveal(task, X).from(m.chain.addr(honest)))
        .await
        .expect("the honest early voter reveals");

    // finalize at once, without waiting for the late voter's reveal: the digest proves it
    let contributors = [honest, s1, s2, s3, late];
    let mut wins = Vec::new();
    for &w in &contributors {
        let status = m.status(task, w).await;
        let commits = w == honest || w == late; // sealed X with their own address
        wins.push(status.wins_finalize(commits));
    }
    let call = m
        .poco()
        .finalize(
            encoded.clone(),
            deal_id,
            U256::ZERO,
            X,
            contributors.iter().map(|&w| m.chain.addr(w)).collect(),
            Bytes::from_static(b"ipfs://result"),
            Bytes::new(),
        )
        .from(m.chain.addr(WORKERPOOL_OWNER))
        .with_cloned_provider();
    let receipt = send(&call).await.expect("finalize needs no more reveals");
    let paid: Vec<Address> = events::<HubPoco::AccurateContribution>(&receipt, hub)
        .into_iter()
        .map(|e| e.worker)
        .collect();
    let predicted: Vec<Address> = contributors
        .iter()
        .zip(&wins)
        .filter(|(_, won)| **won)
        .map(|(&w, _)| m.chain.addr(w))
        .collect();
    assert_eq!(paid, predicted);
    assert_eq!(paid, [m.chain.addr(honest), m.chain.addr(late)]);
    assert_eq!(
        events::<HubPoco::FaultyContribution>(&receipt, hub).len(),
        3,
        "the three rejected voters lose"
    );

    // task 1: a consensus nobody reveals cannot be reopened past the final deadline; its
    // claim seizes both silent voters' stakes
    m.advance_to(deal.final_deadline()).await;
    let view = m.view(task1).await;
    assert_eq!(view.status, 2);
    assert!(!deal
        .reopen_window(view.revealDeadline.to::<u64>())
        .contains(&m.now().await));
    let call = m
        .poco()
        .reopen(
            encoded.clone(),
            deal_id,
            U256::from(1),
            [s1, s2].iter().map(|&w| m.chain.addr(w)).collect(),
        )
        .from(m.chain.addr(WORKERPOOL_OWNER))
        .with_cloned_provider();
    match refused(call.call().await, "past the final deadline") {
        Hub::HubErrors::DeadlinePassed(e) => {
            assert_eq!(e.deadline, U256::from(deal.final_deadline()))
        }
        other => panic!("{other:?}"),
    }
    claim_as_the_rule_says(&m, (deal_id, &encoded, &deal), 1, &[s1, s2]).await;
}
