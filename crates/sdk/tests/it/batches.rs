//! The scheduler's batches against the real hub: workers' signed contributions sent in one
//! transaction (`contribute_batch`, with `sign_contribution` on the worker's side), and the
//! results of a `pushResults` batch delivered to the deal's consumer in transactions of their
//! own (`submit_results` / `push_results`, then `deliver_callbacks`), with consumers made of a
//! few opcodes: one that counts its calls, one that burns all the gas it is given.

use std::time::Duration;

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::providers::Provider;
use dexec_sdk::primitives::poco::{result_hash, result_seal};
use dexec_sdk::primitives::ContributionStatus;
use dexec_sdk::{Client, DealRef, PushedResult, Refusal, SignedContribution, TaskStatus};
use dexec_test_utils::wait_for;

use crate::execution::{link, refusal, Setup};

/// Runtime code of a consumer that counts its calls in slot 0:
/// `PUSH0 SLOAD PUSH1 1 ADD PUSH0 SSTORE STOP`.
const RECORDER: &[u8] = &[0x5f, 0x54, 0x60, 0x01, 0x01, 0x5f, 0x55, 0x00];
/// Runtime code of a consumer that loops until its gas runs out: `JUMPDEST PUSH0 JUMP`.
const BURNER: &[u8] = &[0x5b, 0x5f, 0x56];

fn addr(w: &Client) -> Address {
    w.address().expect("wallet")
}

#[tokio::test]
async fn signed_contributions_go_in_one_scheduler_transaction() {
    let s = Setup::start().await;
    let info = s.deal(3, 2, 4).await;
    let deal = DealRef::from(&info);
    let task = deal.task(0).expect("task 0");
    let task1 = deal.task(1).expect("task 1");
    let id = task.task_id();
    let digest = B256::repeat_byte(0xb1);
    let [w1, w2, w3] = &s.workers[..] else {
        unreachable!()
    };
    // each worker signs its own vote for its scheduler; nothing is sent
    let sign = |w: &Client, task: &dexec_sdk::TaskRef| -> SignedContribution {
        let t = task.task_id();
        w.sign_contribution(
            task,
            result_hash(t, digest),
            result_seal(addr(w), t, digest),
            None,
            &Bytes::new(),
        )
        .expect("sign")
    };

    // a trust-1 deal takes no contributions, signed or not
    let fast = s.deal(1, 1, 5).await;
    let fast_deal = DealRef::from(&fast);
    let fast_task = fast_deal.task(0).expect("task");
    let r = refusal(w1.sign_contribution(&fast_task, B256::ZERO, B256::ZERO, None, &Bytes::new()));
    assert!(r.to_string().contains("has trust 1"), "{r}");
    let r = refusal(
        s.scheduler
            .contribute_batch(&fast_deal, &[sign(w1, &task)])
            .await,
    );
    assert!(r.to_string().contains("has trust 1"), "{r}");

    // pre-checks, before sending
    let r = refusal(
        s.requester
            .contribute_batch(&deal, &[sign(w1, &task)])
            .await,
    );
    assert!(matches!(r, Refusal::NotTheScheduler { .. }), "{r}");
    let r = refusal(s.scheduler.contribute_batch(&deal, &[]).await);
    assert_eq!(r, Refusal::EmptyBatch);
    let r = refusal(
        s.scheduler
            .contribute_batch(&deal, &[sign(w1, &task), sign(w1, &task)])
            .await,
    );
    assert_eq!(
        r,
        Refusal::DuplicateContribution {
            index: 0,
            worker: addr(w1)
        }
    );
    // a vote the worker did not sign, and a signature lent to another worker
    let mut changed = sign(w1, &task);
    changed.result_hash = result_hash(id, B256::repeat_byte(0xee));
    let r = refusal(s.scheduler.contribute_batch(&deal, &[changed]).await);
    assert!(
        matches!(r, Refusal::BadContributionSignature { worker, .. } if worker == addr(w1)),
        "{r}"
    );
    let lent = SignedContribution {
        worker: addr(w2),
        ..sign(w1, &task)
    };
    let r = refusal(s.scheduler.contribute_batch(&deal, &[lent]).await);
    assert!(
        r.to_string()
            .contains(&format!("it is {}'s signature", addr(w1))),
        "{r}"
    );
    // two fresh votes reach trust 3: a third after them would be refused by the hub
    let r = refusal(
        s.scheduler
            .contribute_batch(&deal, &[sign(w1, &task), sign(w2, &task), sign(w3, &task)])
            .await,
    );
    assert_eq!(
        r,
        Refusal::AfterConsensus {
            task: id,
            reached_by: addr(w2),
            worker: addr(w3)
        }
    );

    // one transaction: consensus on task 0, one vote on task 1; each stake locked from its
    // worker's own balance
    let (w1_free, _) = s.chain.hub_account(addr(w1)).await.expect("account");
    s.scheduler
        .contribute_batch(&deal, &[sign(w1, &task), sign(w2, &task), sign(w3, &task1)])
        .await
        .expect("contributeBatch");
    let (free, locked) = s.chain.hub_account(addr(w1)).await.expect("account");
    assert_eq!(locked, U256::from(info.deal.worker_stake));
    assert_eq!(free, w1_free - U256::from(info.deal.worker_stake));
    for (w, t) in [(w1, id), (w2, id), (w3, task1.task_id())] {
        assert_eq!(
            s.requester.contribution(t, addr(w)).await.expect("view"),
            ContributionStatus::Contributed
        );
    }
    assert_eq!(
        s.requester.task(&info, 0).await.expect("task").status,
        TaskStatus::Revealing
    );
    assert_eq!(
        s.requester.task(&info, 1).await.expect("task").status,
        TaskStatus::Active
    );
    let r = refusal(
        s.scheduler
            .contribute_batch(&deal, &[sign(w3, &task1)])
            .await,
    );
    assert!(matches!(r, Refusal::AlreadyContributed { .. }), "{r}");
    let r = refusal(
        s.scheduler
            .contribute_batch(&deal, &[sign(w3, &task)])
            .await,
    );
    assert!(
        r.to_string().contains("is REVEALING: consensus is reached"),
        "{r}"
    );

    // nobody revealed: the scheduler finalizes with the digest, which proves both votes
    s.scheduler
        .finalize(&task, digest, &link(), &Bytes::new())
        .await
        .expect("finalize");
    assert_eq!(
        s.requester.task(&info, 0).await.expect("task").status,
        TaskStatus::Completed
    );
    for w in [w1, w2] {
        assert_eq!(s.chain.score(addr(w)).await.expect("score"), 1);
        let (free, locked) = s.chain.hub_account(addr(w)).await.expect("account");
        assert_eq!(locked, U256::ZERO);
        assert!(free > w1_free, "{} is paid", addr(w));
    }
}

/// A trust-1 result whose callback data is `data` (the digest is its hash).
fn item(worker: Address, index: u64) -> PushedResult {
    let data = Bytes::from(format!("result {index}").into_bytes());
    PushedResult {
        index,
        worker,
        digest: keccak256(&data),
        results: link(),
        callback: data,
        enclave: None,
        authorization: Bytes::new(),
    }
}

async fn calls_recorded(s: &Setup, consumer: Address) -> U256 {
    s.chain
        .provider
        .get_storage_at(consumer, U256::ZERO)
        .await
        .expect("storage")
}

#[tokio::test]
async fn batch_results_reach_their_consumer_in_deliveries_of_their_own() {
    let s = Setup::start().await;
    let worker = addr(&s.workers[0]);
    let (recorder, burner) = (Address::repeat_byte(0xc1), Address::repeat_byte(0xc2));
    s.chain.set_code(recorder, RECORDER).await.expect("code");
    s.chain.set_code(burner, BURNER).await.expect("code");
    let cap = s.scheduler.callback_gas_limit().await.expect("cap");

    // consumers that burn their whole cap: the settlement is one transaction, the delivery
    // another that gives each of them its full cap
    let info = s.deal_calling(1, 3, 6, burner).await;
    let deal = DealRef::from(&info);
    let pushed = s
        .scheduler
        .push_results(&deal, &[item(worker, 0), item(worker, 1), item(worker, 2)])
        .await
        .expect("pushResults");
    assert_eq!(pushed.deliveries.len(), 1);
    let delivery = &pushed.deliveries[0];
    assert_eq!(delivery.indices, [0, 1, 2]);
    let delivered = delivery.result.as_ref().expect("delivered");
    assert_eq!(
        delivered
            .calls
            .iter()
            .map(|c| (c.index, c.succeeded))
            .collect::<Vec<_>>(),
        [(0, false), (1, false), (2, false)],
        "each consumer ran out of gas"
    );
    assert!(
        delivered.tx.gas_used > 3 * cap,
        "{} gas for three caps of {cap}",
        delivered.tx.gas_used
    );
    assert!(
        pushed.tx.gas_used < 3 * cap,
        "the settlement ({} gas) paid for no consumer",
        pushed.tx.gas_used
    );
    for index in 0..3 {
        assert!(!s
            .requester
            .is_callback_pending(&deal, index)
            .await
            .expect("view"));
        assert_eq!(
            s.requester.task(&info, index).await.expect("task").status,
            TaskStatus::Completed
        );
    }

    // a consumer that counts: someone else delivers task 0 between the batch and the
    // scheduler's delivery, which then fails, and says so, while the settlement stands
    let info = s.deal_calling(1, 2, 7, recorder).await;
    let deal = DealRef::from(&info);
    let pending = s
        .scheduler
        .submit_results(&deal, &[item(worker, 0), item(worker, 1)])
        .await
        .expect("pushResults sent");
    let (requester, pushed_deal) = (&s.requester, &deal);
    let mined = wait_for(Duration::from_secs(20), || async move {
        requester
            .is_callback_pending(pushed_deal, 0)
            .await
            .expect("view")
            .then_some(())
    })
    .await;
    assert!(mined.is_some(), "the batch is mined");
    let early = s
        .requester
        .deliver_callbacks(&deal, &[0])
        .await
        .expect("anyone may deliver");
    assert_eq!(early.calls.len(), 1);
    assert!(early.calls[0].succeeded);
    let receipt = pending.get_receipt().await.expect("the batch is mined");
    assert!(receipt.status(), "the settlement stands");
    assert_eq!(receipt.deliveries.len(), 1);
    let err = receipt.deliveries[0]
        .result
        .as_ref()
        .expect_err("task 0 was delivered already");
    assert!(
        err.to_string()
            .contains("has no result waiting for its callback"),
        "{err}"
    );
    for index in 0..2 {
        assert_eq!(
            s.requester.task(&info, index).await.expect("task").status,
            TaskStatus::Completed
        );
    }
    assert_eq!(calls_recorded(&s, recorder).await, U256::from(1));
    assert!(s
        .requester
        .is_callback_pending(&deal, 1)
        .await
        .expect("view"));

    // what the failed delivery left pending is delivered later, once
    let r = refusal(s.requester.deliver_callbacks(&deal, &[0, 1]).await);
    assert_eq!(
        r,
        Refusal::CallbackNotPending {
            task: deal.task(0).expect("task").task_id()
        }
    );
    let late = s
        .requester
        .deliver_callbacks(&deal, &[1])
        .await
        .expect("deliver");
    assert_eq!((late.calls[0].index, late.calls[0].succeeded), (1, true));
    assert_eq!(calls_recorded(&s, recorder).await, U256::from(2));
    let r = refusal(s.requester.deliver_callbacks(&deal, &[1]).await);
    assert!(matches!(r, Refusal::CallbackNotPending { .. }), "{r}");
    let r = refusal(s.requester.deliver_callbacks(&deal, &[]).await);
    assert_eq!(r, Refusal::EmptyBatch);
    let r = refusal(s.requester.deliver_callbacks(&deal, &[2]).await);
    assert!(matches!(r, Refusal::IndexOutOfRange { .. }), "{r}");
    let plain = DealRef::from(&s.deal(1, 1, 8).await);
    let r = refusal(s.requester.deliver_callbacks(&plain, &[0]).await);
    assert_eq!(r, Refusal::NoCallback(plain.deal_id()));
}
