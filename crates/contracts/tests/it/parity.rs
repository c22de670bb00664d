//! Each protocol rule of `dexec_primitives` against the deployed hub, on random (seeded)
//! inputs: the Rust answer equals the contract's. The deal codec, the scheduler's stake,
//! signature recovery with the low-s rule, the vote hashes and the scheduler's authorization,
//! Sarmenta weights and the consensus rule, and the deadlines. (Order digests and ids are in
//! `hashes.rs`, the match rule in `compat.rs`.)

use alloy::primitives::{keccak256, Address, Bytes, Signature, B256, U256};
use alloy::providers::Provider;
use alloy::signers::SignerSync;
use alloy::sol_types::SolValue;
use dexec_contracts::tx::{find_event, send};
use dexec_contracts::Hub;
use dexec_primitives::orders::HALF_N;
use dexec_primitives::poco::{
    authorization_hash, has_consensus, needs_more_replicates, result_hash, result_seal,
    scheduler_stake, weight,
};
use dexec_primitives::{
    recover_signer, AppOrder, Deal, RequestOrder, SignatureError, Signed, WorkerpoolOrder,
};

use crate::fixture::{Chain, Rng, APP_OWNER, REQUESTER, STRANGER, WORKERPOOL_OWNER};

/// Workers of the replicated tests: the dev accounts after the fixture's roles.
pub(crate) const WORKERS: std::ops::Range<usize> = 5..10;
pub(crate) const PRICE: u64 = 1_000_000;

pub(crate) fn plenty() -> U256 {
    U256::from(10u64).pow(U256::from(24))
}

/// Apps, a workerpool, funded parties; matches deals of any trust, volume and category.
pub(crate) struct Market {
    pub(crate) chain: Chain,
    pub(crate) app: Address,
    pub(crate) pool: Address,
}

impl Market {
    pub(crate) async fn start() -> Market {
        let chain = Chain::start().await;
        chain.fund(REQUESTER, plenty()).await;
        chain.fund(WORKERPOOL_OWNER, plenty()).await;
        for w in WORKERS {
            chain.fund(w, plenty()).await;
        }
        Market {
            app: chain.create_app().await,
            pool: chain.create_workerpool().await,
            chain,
        }
    }

    pub(crate) fn orders(
        &self,
        trust: u64,
        volume: u64,
        category: u64,
        price: u64,
        salt: B256,
    ) -> (AppOrder, WorkerpoolOrder, RequestOrder) {
        (
            AppOrder {
                app: self.app,
                volume: U256::from(volume),
                salt,
                ..Default::default()
            },
            WorkerpoolOrder {
                workerpool: self.pool,
                workerpoolprice: U256::from(price),
                volume: U256::from(volume),
                trust: U256::from(trust),
                category: U256::from(category),
                salt,
                ..Default::default()
            },
            RequestOrder {
                app: self.app,
                workerpool: self.pool,
                workerpoolmaxprice: U256::from(price),
                requester: self.chain.addr(REQUESTER),
                volume: U256::from(volume),
                trust: U256::from(trust),
                category: U256::from(category),
                salt,
                ..Default::default()
            },
        )
    }

    pub(crate) fn match_call(
        &self,
        app: AppOrder,
        pool: WorkerpoolOrder,
        request: &Signed<RequestOrder>,
    ) -> alloy::contract::SolCallBuilder<alloy::providers::DynProvider, Hub::matchOrdersCall> {
        let d = &self.chain.domain;
        let app = Signed::sign(app, d, &self.chain.signers[APP_OWNER]).expect("sign");
        let pool = Signed::sign(pool, d, &self.chain.signers[WORKERPOOL_OWNER]).expect("sign");
        self.chain
            .deployment
            .hub(self.chain.provider.clone())
            .matchOrders(
                (&app).into(),
                Hub::DatasetOrder::none(),
                (&pool).into(),
                request.into(),
            )
            // sent by a third party: an owner sending the match itself needs no signature, and
            // the signature rule is what these tests check
            .from(self.chain.addr(STRANGER))
            .with_cloned_provider()
    }

    /// Match a deal; its id, terms, packed terms and the block timestamp of the match.
    pub(crate) async fn deal(
        &self,
        trust: u64,
        volume: u64,
        category: u64,
        price: u64,
        salt: B256,
    ) -> (B256, Deal, Bytes) {
        let (app, pool, request) = self.orders(trust, volume, category, price, salt);
        let request = Signed::sign(request, &self.chain.domain, &self.chain.signers[REQUESTER])
            .expect("sign");
        let receipt = send(&self.match_call(app, pool, &request))
            .await
            .expect("matchOrders");
        let event = find_event::<Hub::DealCreated>(&receipt, self.chain.deployment.hub)
            .expect("DealCreated");
        let deal = Deal::decode(&event.deal).expect("a packed deal");
        (event.dealId, deal, event.deal)
    }

    /// The scheduler's authorization of `worker` on `task` (EIP-191 over the Rust digest).
    pub(crate) fn authorize(&self, worker: Address, task: B256, enclave: Address) -> Bytes {
        let hash = authorization_hash(worker, task, enclave);
        let sig = self.chain.signers[WORKERPOOL_OWNER]
            .sign_message_sync(hash.as_slice())
            .expect("sign");
        Bytes::copy_from_slice(&sig.as_bytes())
    }

    /// The contribute call of `worker` voting `digest` on task `index`.
    pub(crate) fn contribute(
        &self,
        deal: (B256, &Bytes),
        index: u64,
        worker: usize,
        digest: B256,
        authorization: Bytes,
    ) -> alloy::contract::SolCallBuilder<
        alloy::providers::DynProvider,
        dexec_contracts::HubPoco::contributeCall,
    > {
        let who = self.chain.addr(worker);
        let task = dexec_primitives::task_id(deal.0, index);
        self.chain
            .deployment
            .poco(self.chain.provider.clone())
            .contribute(
                deal.1.clone(),
                deal.0,
                U256::from(index),
                result_hash(task, digest),
                result_seal(who, task, digest),
                Address::ZERO,
                Bytes::new(),
                authorization,
            )
            .from(who)
            .with_cloned_provider()
    }

    pub(crate) async fn now(&self) -> u64 {
        self.chain
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .expect("block")
            .expect("latest")
            .header
            .timestamp
    }

    pub(crate) async fn advance_to(&self, time: u64) {
        let now = self.now().await;
        let _: serde_json::Value = self
            .chain
            .provider
            .raw_request("evm_increaseTime".into(), (time.saturating_sub(now),))
            .await
            .expect("evm_increaseTime");
        let _: serde_json::Value = self
            .chain
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }
}

/// The hub's error of a call that must be refused.
pub(crate) fn refused<T>(result: Result<T, alloy::contract::Error>, what: &str) -> Hub::HubErrors {
    match result {
        Ok(_) => panic!("{what}: the hub accepted"),
        Err(err) => hub_error(err),
    }
}

pub(crate) fn hub_error(err: alloy::contract::Error) -> Hub::HubErrors {
    let err = dexec_contracts::Error::from(err);
    err.as_hub_error()
        .unwrap_or_else(|| panic!("not a hub error: {err}"))
}

#[tokio::test]
async fn deal_codec_equals_the_hub_on_random_deals() {
    let chain = Chain::start().await;
    let hub = chain.deployment.hub(&chain.provider);
    let mut rng = Rng::seeded("deal_codec_equals_the_hub_on_random_deals");
    let price = |rng: &mut Rng| u128::from(rng.next()) << rng.below(33) as u32;
    for case in 0..24 {
        let deal = Deal {
            app: rng.address(),
            dataset: rng.address(),
            workerpool: rng.address(),
            app_owner: rng.address(),
            dataset_owner: rng.address(),
            workerpool_owner: rng.address(),
            requester: rng.address(),
            payer: rng.address(),
            callback: rng.address(),
            app_price: price(&mut rng),
            dataset_price: price(&mut rng),
            workerpool_price: price(&mut rng),
            worker_stake: price(&mut rng),
            tag: rng.b256(),
            trust: rng.next() as u32,
            category: rng.next() as u32,
            timeref: rng.next() as u32,
            start_time: rng.next() >> 24,
            bot_first: rng.next() as u32,
            bot_size: rng.next() as u32,
            scheduler_reward_ratio: rng.next() as u8,
        };
        let encoded = deal.encode().expect("fits");
        let abi = Hub::Deal::try_from(&deal).expect("fits");
        let onchain = hub.encodeDeal(abi).call().await.expect("encodeDeal");
        assert_eq!(onchain.to_vec(), encoded, "case {case}: {deal:?}");
        let decoded: Deal = hub
            .decodeDeal(encoded.into())
            .call()
            .await
            .expect("decodeDeal")
            .into();
        assert_eq!(decoded, deal, "case {case}");
    }
}

#[tokio::test]
async fn a_match_locks_the_scheduler_stake_of_the_rule() {
    let m = Market::start().await;
    let mut rng = Rng::seeded("a_match_locks_the_scheduler_stake_of_the_rule");
    let hub = m.chain.deployment.hub(&m.chain.provider);
    for case in 0..4 {
        let price = rng.below(10_000_000_000);
        let volume = 1 + rng.below(20);
        let (_, before) = m.chain.account(WORKERPOOL_OWNER).await;
        let (_, deal, _) = m.deal(1, volume, 0, price, rng.b256()).await;
        let (_, after) = m.chain.account(WORKERPOOL_OWNER).await;
        let expected = scheduler_stake(u128::from(price)) * u128::from(volume);
        assert_eq!(
            after - before,
            U256::from(expected),
            "case {case}: price {price}"
        );
        assert_eq!(deal.scheduler_stake(), scheduler_stake(u128::from(price)));
        let ratio = hub.WORKERPOOL_STAKE_RATIO().call().await.expect("constant");
        assert_eq!(
            ratio,
            U256::from(dexec_primitives::poco::SCHEDULER_STAKE_RATIO)
        );
    }
}

#[tokio::test]
async fn the_hub_accepts_the_signatures_recover_signer_accepts() {
    let m = Market::start().await;
    let mut rng = Rng::seeded("the_hub_accepts_the_signatures_recover_signer_accepts");
    let d = &m.chain.domain;
    let requester = m.chain.addr(REQUESTER);
    let n = HALF_N * U256::from(2) + U256::from(1);
    for case in 0..6 {
        let (app, pool, request) = m.orders(1, 1, 0, PRICE, rng.b256());
        let signed = Signed::sign(request.clone(), d, &m.chain.signers[REQUESTER]).expect("sign");
        let digest = signed.digest(d);
        let sig = Signature::from_raw(&signed.sign).expect("65 bytes");
        let high = Signature::new(sig.r(), n - sig.s(), !sig.v());
        let variants: [(&str, Vec<u8>, Result<Address, SignatureError>); 4] = [
            ("65 bytes", signed.sign.to_vec(), Ok(requester)),
            ("64 bytes", sig.as_erc2098().to_vec(), Ok(requester)),
            (
                "high s",
                high.as_bytes().to_vec(),
                Err(SignatureError::HighS),
            ),
            (
                "63 bytes",
                signed.sign[..63].to_vec(),
                Err(SignatureError::Length(63)),
            ),
        ];
        for (what, sign, expected) in variants {
            assert_eq!(
                recover_signer(&sign, digest),
                expected,
                "case {case}: {what}"
            );
            let order = Signed {
                order: request.clone(),
                sign: sign.into(),
            };
            assert_eq!(order.recover(d), expected.ok(), "case {case}: {what}");
            let result = m.match_call(app.clone(), pool.clone(), &order).call().await;
            match (expected, result) {
                (Ok(_), Ok(_)) => {}
                (Err(_), Err(err)) => assert!(
                    matches!(
                        hub_error(err),
                        Hub::HubErrors::InvalidRequestOrderSignature(_)
                    ),
                    "case {case}: {what}"
                ),
                (expected, result) => panic!(
                    "case {case}: {what}: recover_signer says {expected:?}, the hub {:?}",
                    result.map(|_| ()).map_err(|e| e.to_string())
                ),
            }
        }
    }
}

/// Where the hub keeps account words: the base slot of its `accounts` mapping, found by
/// looking for a funded account's balance (free = `plenty`, nothing locked, score 0).
pub(crate) async fn accounts_slot(m: &Market, funded: Address) -> U256 {
    for base in 0..64u64 {
        let slot = keccak256((funded, U256::from(base)).abi_encode());
        let word = m
            .chain
            .provider
            .get_storage_at(m.chain.deployment.hub, slot.into())
            .await
            .expect("storage");
        if word == plenty() {
            return U256::from(base);
        }
    }
    panic!("no account word holds the funded balance");
}

/// Give `who` reputation `score` (written into its account word, checked with `viewScore`):
/// reaching high scores by finalized tasks would take hundreds of transactions.
pub(crate) async fn set_score(m: &Market, base: U256, who: Address, score: u64) {
    let hub = m.chain.deployment.hub;
    let slot: U256 = keccak256((who, base).abi_encode()).into();
    let word = m
        .chain
        .provider
        .get_storage_at(hub, slot)
        .await
        .expect("storage");
    let low = word & ((U256::from(1u8) << 224) - U256::from(1u8));
    let word = low | (U256::from(score) << 224);
    let _: bool = m
        .chain
        .provider
        .raw_request(
            "anvil_setStorageAt".into(),
            (hub, B256::from(slot), B256::from(word)),
        )
        .await
        .expect("anvil_setStorageAt");
    let onchain = m
        .chain
        .deployment
        .hub(&m.chain.provider)
        .viewScore(who)
        .call()
        .await
        .expect("viewScore");
    assert_eq!(
        onchain,
        U256::from(score),
        "the score sits in the account word's top bits"
    );
}

#[tokio::test]
async fn votes_weights_and_consensus_are_the_hubs() {
    let m = Market::start().await;
    let mut rng = Rng::seeded("votes_weights_and_consensus_are_the_hubs");
    let base = accounts_slot(&m, m.chain.addr(WORKERS.start)).await;
    let poco = m.chain.deployment.poco(&m.chain.provider);
    let votes = [B256::repeat_byte(0xa1), B256::repeat_byte(0xb2), rng.b256()];
    let mut reached = 0;
    for case in 0..5 {
        let trust = 2 + rng.below(5);
        let (deal_id, deal, encoded) = m.deal(trust, 1, 0, PRICE, rng.b256()).await;
        let task = dexec_primitives::task_id(deal_id, 0);
        let mut workers: Vec<usize> = WORKERS.collect();
        for i in (1..workers.len()).rev() {
            workers.swap(i, rng.below(i as u64 + 1) as usize);
        }
        // an authorization of another (worker, task, enclave) is refused
        let w0 = workers[0];
        let wrong = m.authorize(m.chain.addr(w0), task, Address::repeat_byte(1));
        let result = m
            .contribute((deal_id, &encoded), 0, w0, votes[0], wrong)
            .call()
            .await;
        assert!(
            matches!(
                refused(result, "wrong authorization"),
                Hub::HubErrors::InvalidAuthorization(_)
            ),
            "case {case}"
        );
        let mut contributions = Vec::new();
        let mut voted = Vec::new();
        for w in workers {
            let who = m.chain.addr(w);
            let score = rng.pick(&[0u64, 9, 12, 30, 90, 300, 771, 2_000]) + rng.below(3);
            set_score(&m, base, who, score).await;
            // mostly the honest vote, sometimes one of two others
            let spread = if rng.one_in(3) { 3 } else { 1 };
            let digest = votes[rng.below(spread) as usize];
            let auth = m.authorize(who, task, Address::ZERO);
            let receipt = send(&m.contribute((deal_id, &encoded), 0, w, digest, auth))
                .await
                .unwrap_or_else(|e| panic!("case {case}: a Rust authorization is accepted: {e}"));
            let c = poco
                .viewContribution(task, who)
                .call()
                .await
                .expect("viewContribution");
            assert_eq!(
                c.weight,
                U256::from(weight(score)),
                "case {case}: score {score}"
            );
            contributions.push((result_hash(task, digest), weight(score)));
            voted.push((w, digest));
            let view = poco.viewTask(task).call().await.expect("viewTask");
            let predicted = has_consensus(trust as u32, &contributions);
            assert_eq!(
                view.status == 2,
                predicted,
                "case {case}: trust {trust}, contributions {contributions:?}"
            );
            assert_eq!(
                needs_more_replicates(trust as u32, &contributions, &[]),
                !predicted
            );
            if !predicted {
                continue;
            }
            reached += 1;
            // the reveal deadline is the rule's, from the consensus block
            let block = m
                .chain
                .provider
                .get_block_by_number(receipt.block_number.expect("mined").into())
                .await
                .expect("block")
                .expect("exists");
            assert_eq!(
                view.revealDeadline.to::<u64>(),
                deal.reveal_deadline(block.header.timestamp),
                "case {case}"
            );
            // winners reveal: the hub recomputes resultHash and resultSeal from the digest
            for (w, digest) in &voted {
                if result_hash(task, *digest) == view.consensus {
                    send(&poco.reveal(task, *digest).from(m.chain.addr(*w)))
                        .await
                        .unwrap_or_else(|e| panic!("case {case}: the hashes are the hub's: {e}"));
                }
            }
            break;
        }
    }
    eprintln!("consensus reached in {reached} of 5 tasks");
}

#[tokio::test]
async fn deadlines_are_the_hubs() {
    let m = Market::start().await;
    let mut rng = Rng::seeded("deadlines_are_the_hubs");
    let hub = m.chain.deployment.hub(&m.chain.provider);
    let poco = m.chain.deployment.poco(m.chain.provider.clone());
    for case in 0..3 {
        let timeref = 1 + rng.below(604_800);
        let receipt = send(
            &hub.createCategory(format!("C{case}"), "random".into(), U256::from(timeref))
                .from(m.chain.addr(0)),
        )
        .await
        .expect("createCategory");
        let category = find_event::<Hub::CategoryCreated>(&receipt, m.chain.deployment.hub)
            .expect("CategoryCreated")
            .category;
        let (deal_id, deal, encoded) = m
            .deal(3, 1, category.saturating_to(), PRICE, rng.b256())
            .await;
        assert_eq!(u64::from(deal.timeref), timeref);
        let claim = poco
            .claim(encoded.clone(), deal_id, U256::ZERO, Vec::new())
            .from(m.chain.addr(REQUESTER));
        match refused(claim.call().await, "too early") {
            Hub::HubErrors::DeadlineNotReached(e) => {
                assert_eq!(e.deadline, U256::from(deal.final_deadline()), "case {case}")
            }
            other => panic!("case {case}: {other:?}"),
        }
        // contributions close at the contribution deadline
        let w = WORKERS.start;
        let task = dexec_primitives::task_id(deal_id, 0);
        let auth = m.authorize(m.chain.addr(w), task, Address::ZERO);
        let contribute = m.contribute((deal_id, &encoded), 0, w, votes_digest(), auth);
        contribute.call().await.expect("open before the deadline");
        m.advance_to(deal.contribution_deadline()).await;
        match refused(contribute.call().await, "closed") {
            Hub::HubErrors::DeadlinePassed(e) => {
                assert_eq!(
                    e.deadline,
                    U256::from(deal.contribution_deadline()),
                    "case {case}"
                )
            }
            other => panic!("case {case}: {other:?}"),
        }
        m.advance_to(deal.final_deadline()).await;
        claim.call().await.expect("claimable at the final deadline");
    }
}

fn votes_digest() -> B256 {
    B256::repeat_byte(0x77)
}
