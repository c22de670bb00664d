//! The execution side against the real hub: each call succeeds where the hub accepts it, and
//! each pre-check refuses with its sentence, before sending, where the hub would revert.

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::signers::SignerSync;
use dexec_sdk::primitives::poco::{authorization_hash, result_hash, result_seal};
use dexec_sdk::primitives::{AppOrder, ContributionStatus, RequestOrder, WorkerpoolOrder};
use dexec_sdk::{
    AppSpec, Client, DealInfo, DealRef, Error, MatchInput, PushedResult, Refusal, TaskStatus,
    WorkerpoolSpec,
};
use dexec_test_utils::TestChain;

pub(crate) const APP_OWNER: usize = 1;
pub(crate) const SCHEDULER: usize = 2;
pub(crate) const REQUESTER: usize = 3;
pub(crate) const WORKERS: [usize; 3] = [4, 5, 6];
pub(crate) const PRICE: u64 = 1_000_000;

pub(crate) struct Setup {
    pub(crate) chain: TestChain,
    pub(crate) scheduler: Client,
    pub(crate) requester: Client,
    pub(crate) workers: Vec<Client>,
    pub(crate) app: Address,
    pub(crate) pool: Address,
}

impl Setup {
    pub(crate) async fn start() -> Setup {
        let chain = TestChain::start().await.expect("chain");
        let app = chain
            .client_for(APP_OWNER)
            .deploy_app(&AppSpec {
                name: "echo".into(),
                app_type: "WASM".into(),
                multiaddr: "https://store.example/echo.wasm".into(),
                checksum: B256::repeat_byte(7),
                mrenclave: Default::default(),
            })
            .await
            .expect("app")
            .address;
        let scheduler = chain.client_for(SCHEDULER);
        let pool = scheduler
            .deploy_workerpool(&WorkerpoolSpec {
                description: "pool".into(),
            })
            .await
            .expect("pool")
            .address;
        Setup {
            requester: chain.client_for(REQUESTER),
            workers: WORKERS.iter().map(|i| chain.client_for(*i)).collect(),
            scheduler,
            app,
            pool,
            chain,
        }
    }

    /// A deal of `volume` tasks at `trust`, in category 0 (XS, timeref 300 s).
    pub(crate) async fn deal(&self, trust: u64, volume: u64, salt: u8) -> DealInfo {
        self.deal_calling(trust, volume, salt, Address::ZERO).await
    }

    /// [`Setup::deal`] whose results go to the consumer `callback` (zero: none).
    pub(crate) async fn deal_calling(
        &self,
        trust: u64,
        volume: u64,
        salt: u8,
        callback: Address,
    ) -> DealInfo {
        let app = self
            .chain
            .client_for(APP_OWNER)
            .sign_order(AppOrder {
                app: self.app,
                volume: U256::from(volume),
                salt: B256::repeat_byte(salt),
                ..Default::default()
            })
            .await
            .expect("app order");
        let workerpool = self
            .scheduler
            .sign_order(WorkerpoolOrder {
                workerpool: self.pool,
                workerpoolprice: U256::from(PRICE),
                volume: U256::from(volume),
                trust: U256::from(trust),
                salt: B256::repeat_byte(salt),
                ..Default::default()
            })
            .await
            .expect("workerpool order");
        let request = self
            .requester
            .sign_order(RequestOrder {
                app: self.app,
                workerpoolmaxprice: U256::from(PRICE),
                requester: self.requester.address().expect("wallet"),
                volume: U256::from(volume),
                trust: U256::from(trust),
                params: r#"{"iexec_args":"x"}"#.into(),
                callback,
                salt: B256::repeat_byte(salt),
                ..Default::default()
            })
            .await
            .expect("request order");
        let matched = self
            .requester
            .match_orders(&MatchInput {
                app,
                dataset: None,
                workerpool,
                request,
            })
            .await
            .expect("match");
        self.requester.deal(matched.deal_id).await.expect("deal")
    }

    /// The scheduler's authorization of `worker` on `task` (no enclave).
    pub(crate) fn authorize(&self, worker: &Client, task: B256) -> Bytes {
        authorize_as(&self.chain, SCHEDULER, worker, task)
    }
}

fn authorize_as(chain: &TestChain, signer: usize, worker: &Client, task: B256) -> Bytes {
    let hash = authorization_hash(worker.address().expect("wallet"), task, Address::ZERO);
    let signature = chain
        .signer(signer)
        .sign_message_sync(hash.as_slice())
        .expect("sign");
    Bytes::copy_from_slice(&signature.as_bytes())
}

/// The refusal of a call that must not have been sent.
pub(crate) fn refusal<T: std::fmt::Debug>(result: Result<T, Error>) -> Refusal {
    match result {
        Err(Error::Refused(refusal)) => refusal,
        other => panic!("expected a refusal before sending, got {other:?}"),
    }
}

pub(crate) fn link() -> Bytes {
    Bytes::from_static(br#"{"storage":"http","location":"https://store.example/r"}"#)
}

#[tokio::test]
async fn trust_one_tasks_settle_in_one_transaction_or_a_batch() {
    let s = Setup::start().await;
    let info = s.deal(1, 3, 1).await;
    let deal = DealRef::from(&info);
    let task = deal.task(info.deal.bot_first.into()).expect("task 0");
    let worker = &s.workers[0];
    let digest = B256::repeat_byte(0xd1);
    let auth = s.authorize(worker, task.task_id());

    // pre-checks: out of the bag, unknown deal, wrong trust, bad authorization, callback data
    let r = refusal(deal.task(3));
    assert!(
        matches!(r, Refusal::IndexOutOfRange { index: 3, .. }),
        "{r}"
    );
    let forged =
        dexec_sdk::TaskRef::new(B256::repeat_byte(9), deal.encoded().clone(), 0).expect("decodes");
    let r = refusal(
        worker
            .contribute_and_finalize(&forged, digest, &link(), &Bytes::new(), None, &auth)
            .await,
    );
    assert!(matches!(r, Refusal::UnknownDeal(_)), "{r}");
    let me = worker.address().expect("wallet");
    let r = refusal(
        worker
            .contribute(
                &task,
                result_hash(task.task_id(), digest),
                result_seal(me, task.task_id(), digest),
                None,
                &auth,
            )
            .await,
    );
    assert!(
        r.to_string()
            .contains("has trust 1: its tasks settle in one transaction"),
        "{r}"
    );
    let stranger = authorize_as(&s.chain, REQUESTER, worker, task.task_id());
    let r = refusal(
        worker
            .contribute_and_finalize(&task, digest, &link(), &Bytes::new(), None, &stranger)
            .await,
    );
    assert!(matches!(r, Refusal::BadAuthorization { .. }), "{r}");
    let other_worker = s.authorize(&s.workers[1], task.task_id());
    let r = refusal(
        worker
            .contribute_and_finalize(&task, digest, &link(), &Bytes::new(), None, &other_worker)
            .await,
    );
    assert!(matches!(r, Refusal::BadAuthorization { .. }), "{r}");
    let r = refusal(
        worker
            .contribute_and_finalize(
                &task,
                digest,
                &link(),
                &Bytes::from_static(b"x"),
                None,
                &auth,
            )
            .await,
    );
    assert!(r.to_string().contains("has no callback"), "{r}");

    // the worker settles task 0 and is paid at once
    let (free_before, _) = s.chain.hub_account(me).await.expect("account");
    worker
        .contribute_and_finalize(&task, digest, &link(), &Bytes::new(), None, &auth)
        .await
        .expect("contributeAndFinalize");
    let (free_after, _) = s.chain.hub_account(me).await.expect("account");
    assert!(free_after > free_before, "the worker is paid");
    let state = s.requester.task(&info, task.index()).await.expect("task");
    assert_eq!(state.status, TaskStatus::Completed);
    assert_eq!(state.result.expect("result").digest, digest);
    let r = refusal(
        worker
            .contribute_and_finalize(&task, digest, &link(), &Bytes::new(), None, &auth)
            .await,
    );
    assert_eq!(
        r.to_string(),
        format!(
            "task {} is COMPLETED: nothing to contribute to",
            task.task_id()
        )
    );
    let r = refusal(s.requester.claim(&task).await);
    assert_eq!(
        r.to_string(),
        format!("task {} is COMPLETED: nothing to claim", task.task_id())
    );

    // the scheduler pushes tasks 1 and 2 in one batch
    let item = |index: u64| PushedResult {
        index,
        worker: me,
        digest,
        results: link(),
        callback: Bytes::new(),
        enclave: None,
        authorization: Bytes::new(),
    };
    let r = refusal(worker.push_results(&deal, &[item(1)]).await);
    assert!(matches!(r, Refusal::NotTheScheduler { .. }), "{r}");
    let r = refusal(s.scheduler.push_results(&deal, &[]).await);
    assert_eq!(r, Refusal::EmptyBatch);
    let r = refusal(s.scheduler.push_results(&deal, &[item(1), item(1)]).await);
    assert_eq!(r, Refusal::DuplicateIndex(1));
    let r = refusal(
        s.scheduler
            .push_results(
                &deal,
                &[PushedResult {
                    worker: Address::ZERO,
                    ..item(1)
                }],
            )
            .await,
    );
    assert_eq!(r, Refusal::ZeroWorker(1));
    s.scheduler
        .push_results(&deal, &[item(1), item(2)])
        .await
        .expect("pushResults");
    for index in 1..3 {
        let state = s.requester.task(&info, index).await.expect("task");
        assert_eq!(state.status, TaskStatus::Completed, "task {index}");
    }
    // a settled task in a batch is refused by the hub at estimation, decoded
    let err = s
        .scheduler
        .push_results(&deal, &[item(1)])
        .await
        .expect_err("settled");
    assert!(err.is_revert(), "{err}");
    assert!(err.to_string().contains("is already settled"), "{err}");
}

#[tokio::test]
async fn replicated_tasks_contribute_reveal_and_finalize() {
    let s = Setup::start().await;
    let info = s.deal(3, 1, 2).await;
    let deal = DealRef::from(&info);
    let task = deal.task(0).expect("task");
    let id = task.task_id();
    let digest = B256::repeat_byte(0xd2);
    let [w1, w2, w3] = &s.workers[..] else {
        unreachable!()
    };
    let contribute = |w: &Client, auth: Bytes| {
        let me = w.address().expect("wallet");
        let task = task.clone();
        let w = w.clone();
        async move {
            w.contribute(
                &task,
                result_hash(id, digest),
                result_seal(me, id, digest),
                None,
                &auth,
            )
            .await
        }
    };
    let addr = |w: &Client| w.address().expect("wallet");

    // a trust-3 deal takes no one-transaction settlement
    let r = refusal(
        w1.contribute_and_finalize(
            &task,
            digest,
            &link(),
            &Bytes::new(),
            None,
            &s.authorize(w1, id),
        )
        .await,
    );
    assert!(
        r.to_string()
            .contains("has trust 3: its tasks need replicated contributions"),
        "{r}"
    );

    contribute(w1, s.authorize(w1, id))
        .await
        .expect("w1 contributes");
    assert_eq!(
        w1.contribution(id, addr(w1)).await.expect("view"),
        ContributionStatus::Contributed
    );
    let r = refusal(contribute(w1, s.authorize(w1, id)).await);
    assert!(matches!(r, Refusal::AlreadyContributed { .. }), "{r}");
    let r = refusal(w1.reveal(id, digest).await);
    assert_eq!(
        r.to_string(),
        format!("task {id} is ACTIVE: no consensus yet: reveal once it is reached")
    );
    // w2's authorization does not let w3 in
    let r = refusal(contribute(w3, s.authorize(w2, id)).await);
    assert!(matches!(r, Refusal::BadAuthorization { .. }), "{r}");

    // two fresh workers agree: consensus (2 × 2 × 3 > (1 + 4) × 2)
    contribute(w2, s.authorize(w2, id))
        .await
        .expect("w2 contributes");
    let r = refusal(contribute(w3, s.authorize(w3, id)).await);
    assert!(
        r.to_string().contains("is REVEALING: consensus is reached"),
        "{r}"
    );
    let r = refusal(w1.reveal(id, B256::repeat_byte(0xee)).await);
    assert!(matches!(r, Refusal::NotTheConsensus { .. }), "{r}");
    let r = refusal(w3.reveal(id, digest).await);
    assert!(r.to_string().contains("it did not contribute"), "{r}");
    w1.reveal(id, digest).await.expect("w1 reveals");
    let r = refusal(w1.reveal(id, digest).await);
    assert!(r.to_string().contains("it already revealed"), "{r}");

    // finalize: the scheduler only, at once: the digest proves w2's vote, revealed or not
    let r = refusal(
        s.requester
            .finalize(&task, digest, &link(), &Bytes::new())
            .await,
    );
    assert!(matches!(r, Refusal::NotTheScheduler { .. }), "{r}");
    let r = refusal(
        s.scheduler
            .finalize(&task, B256::repeat_byte(0xee), &link(), &Bytes::new())
            .await,
    );
    assert!(matches!(r, Refusal::NotTheConsensus { .. }), "{r}");
    s.scheduler
        .finalize(&task, digest, &link(), &Bytes::new())
        .await
        .expect("finalize");
    assert_eq!(
        w1.contribution(id, addr(w1)).await.expect("view"),
        ContributionStatus::Proved
    );
    assert_eq!(
        w1.contribution(id, addr(w2)).await.expect("view"),
        ContributionStatus::Contributed,
        "w2 never revealed"
    );
    for w in [w1, w2] {
        assert_eq!(s.chain.score(addr(w)).await.expect("score"), 1, "both won");
        let (_, locked) = s.chain.hub_account(addr(w)).await.expect("account");
        assert_eq!(locked, U256::ZERO, "the stake came back");
    }
    let state = s.requester.task(&info, 0).await.expect("task");
    assert_eq!(state.status, TaskStatus::Completed);
    let r = refusal(s.scheduler.reopen(&task).await);
    assert_eq!(
        r.to_string(),
        format!("task {id} is COMPLETED: nothing to reopen")
    );
    let r = refusal(
        s.scheduler
            .finalize(&task, digest, &link(), &Bytes::new())
            .await,
    );
    assert_eq!(
        r.to_string(),
        format!("task {id} is COMPLETED: nothing to finalize")
    );
}

#[tokio::test]
async fn unrevealed_consensus_is_reopened_and_expired_tasks_are_claimed() {
    let s = Setup::start().await;
    let requester = s.requester.address().expect("wallet");
    let (free_before, locked_before) = s.chain.hub_account(requester).await.expect("account");
    let kitty_before = s.requester.kitty().await.expect("kitty");
    let info = s.deal(3, 3, 3).await;
    let deal = DealRef::from(&info);
    let task = deal.task(0).expect("task");
    let id = task.task_id();
    let [w1, w2, w3] = &s.workers[..] else {
        unreachable!()
    };
    let addr = |w: &Client| w.address().expect("wallet");
    let vote = |w: &Client, digest: B256| {
        let (w, task, auth) = (w.clone(), task.clone(), s.authorize(w, id));
        async move {
            let me = w.address().expect("wallet");
            w.contribute(
                &task,
                result_hash(id, digest),
                result_seal(me, id, digest),
                None,
                &auth,
            )
            .await
        }
    };
    for w in [w1, w2] {
        vote(w, B256::repeat_byte(0xd3)).await.expect("contribute");
    }

    // nobody reveals: the scheduler may reopen from the reveal deadline on
    let r = refusal(s.scheduler.reopen(&task).await);
    assert!(
        r.to_string().contains("reveal deadline of task")
            && r.to_string().contains("its voters may still reveal"),
        "{r}"
    );
    let r = refusal(s.requester.reopen(&task).await);
    assert!(matches!(r, Refusal::NotTheScheduler { .. }), "{r}");
    let now = s.requester.now().await.expect("now");
    s.chain
        .advance_time(info.deal.reveal_deadline(now) - now + 1)
        .await
        .expect("time passes");
    let r = refusal(w1.reveal(id, B256::repeat_byte(0xd3)).await);
    assert!(
        matches!(
            r,
            Refusal::DeadlinePassed {
                deadline: "reveal",
                ..
            }
        ),
        "{r}"
    );
    // … and until the final deadline, past the contribution deadline of the first epoch
    let now = s.requester.now().await.expect("now");
    s.chain
        .advance_time(info.deal.contribution_deadline() - now + 1)
        .await
        .expect("time passes");
    s.scheduler.reopen(&task).await.expect("reopen");
    let state = s.requester.task(&info, 0).await.expect("task");
    assert_eq!(state.status, TaskStatus::Active);
    for w in [w1, w2] {
        assert_eq!(
            w3.contribution(id, addr(w)).await.expect("view"),
            ContributionStatus::Rejected,
            "the voters of the rejected value are barred"
        );
    }
    let r = refusal(vote(w1, B256::repeat_byte(0xd4)).await);
    assert!(matches!(r, Refusal::AlreadyContributed { .. }), "{r}");
    // a reopened task takes contributions after 7 T (one fresh vote is no consensus)
    vote(w3, B256::repeat_byte(0xd4))
        .await
        .expect("a reopened task takes contributions until its final deadline");
    assert_eq!(
        s.requester.task(&info, 0).await.expect("task").status,
        TaskStatus::Active
    );

    // before the final deadline nothing can be claimed
    let r = refusal(s.requester.claim(&task).await);
    assert_eq!(
        r.to_string(),
        format!(
            "the final deadline of task {id} passes at unix {}: it cannot be claimed before",
            info.deal.final_deadline()
        )
    );
    let r = refusal(s.requester.claim_batch(&deal, &[1, 2]).await);
    assert!(
        matches!(
            r,
            Refusal::DeadlineNotReached {
                deadline: "final",
                ..
            }
        ),
        "{r}"
    );

    // past the final deadline: no more contributions; the untouched tasks go in one batch
    let now = s.requester.now().await.expect("now");
    s.chain
        .advance_time(info.deal.final_deadline() - now)
        .await
        .expect("time passes");
    let r = refusal(vote(w3, B256::ZERO).await);
    assert!(
        matches!(
            r,
            Refusal::DeadlinePassed {
                deadline: "contribution",
                at,
                ..
            } if at == info.deal.final_deadline()
        ),
        "{r}"
    );
    let r = refusal(s.requester.claim_batch(&deal, &[0, 1]).await);
    assert!(
        r.to_string()
            .contains("it has contributors: claim it alone"),
        "{r}"
    );
    s.requester
        .claim_batch(&deal, &[1, 2])
        .await
        .expect("claimBatch");
    s.requester.claim(&task).await.expect("claim");
    let r = refusal(s.requester.claim(&task).await);
    assert_eq!(
        r.to_string(),
        format!("task {id} is FAILED: nothing to claim")
    );
    let r = refusal(s.scheduler.reopen(&task).await);
    assert_eq!(
        r.to_string(),
        format!("task {id} is FAILED: nothing to reopen")
    );

    // money: the payer gets its price back and nothing more; the scheduler's stakes and the
    // rejected voters' go to the kitty; the contributor who was not rejected gets its back
    for index in 0..3 {
        let state = s.requester.task(&info, index).await.expect("task");
        assert_eq!(state.status, TaskStatus::Failed, "task {index}");
    }
    let (free_after, locked_after) = s.chain.hub_account(requester).await.expect("account");
    assert_eq!(
        (free_after, locked_after),
        (free_before, locked_before),
        "nobody profits from a failed task"
    );
    let kitty = s.requester.kitty().await.expect("kitty");
    assert_eq!(
        kitty.0 - kitty_before.0,
        3 * info.deal.scheduler_stake() + 2 * info.deal.worker_stake
    );
    for (w, lost) in [(w1, true), (w2, true), (w3, false)] {
        let (free, locked) = s.chain.hub_account(addr(w)).await.expect("account");
        assert_eq!(locked, U256::ZERO);
        let deposit = dexec_sdk::primitives::Nrlc::from_rlc(100_000).to_u256();
        let expected = if lost {
            deposit - U256::from(info.deal.worker_stake)
        } else {
            deposit
        };
        assert_eq!(free, expected, "{}", addr(w));
    }
}
