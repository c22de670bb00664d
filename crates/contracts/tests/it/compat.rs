//! The off-chain match rule against the hub's: on random mutations of a valid set of orders
//! (the kinds of `contracts/test/MatchOrders.t.sol`: category, trust, prices, tags, TEE,
//! restrictions, volumes, named assets), `incompatibilities()` is empty exactly when the
//! hub's `matchOrders` accepts them, and otherwise its first entry is the hub's error, data
//! and sentence included.

use alloy::primitives::{Address, B256, U256};
use dexec_contracts::error::{describe_revert, incompatibility};
use dexec_contracts::Hub;
use dexec_primitives::compat::{incompatibilities, MatchOrders};
use dexec_primitives::{tag, AppOrder, DatasetOrder, RequestOrder, Signed, WorkerpoolOrder};

use crate::fixture::{Chain, Rng, APP_OWNER, REQUESTER, WORKERPOOL_OWNER};

/// Random cases per run (each is four signatures and one `eth_call`).
const CASES: usize = 120;

#[derive(Debug, Clone)]
struct Orders {
    app: AppOrder,
    dataset: Option<DatasetOrder>,
    workerpool: WorkerpoolOrder,
    request: RequestOrder,
}

struct Parties {
    app: Address,
    dataset: Address,
    workerpool: Address,
    requester: Address,
    /// A contract that is no identity group (the token): a restriction naming it allows no one.
    contract: Address,
}

fn valid(p: &Parties) -> Orders {
    Orders {
        app: AppOrder {
            app: p.app,
            appprice: U256::from(5),
            volume: U256::from(10),
            tag: tag::GPU,
            ..Default::default()
        },
        dataset: Some(DatasetOrder {
            dataset: p.dataset,
            datasetprice: U256::from(7),
            volume: U256::from(10),
            tag: tag::SCONE,
            ..Default::default()
        }),
        workerpool: WorkerpoolOrder {
            workerpool: p.workerpool,
            workerpoolprice: U256::from(100),
            volume: U256::from(10),
            tag: tag::GPU | tag::TEE,
            category: U256::from(1),
            trust: U256::from(5),
            ..Default::default()
        },
        request: RequestOrder {
            app: p.app,
            appmaxprice: U256::from(5),
            dataset: p.dataset,
            datasetmaxprice: U256::from(7),
            workerpool: p.workerpool,
            workerpoolmaxprice: U256::from(100),
            requester: p.requester,
            volume: U256::from(4),
            category: U256::from(1),
            trust: U256::from(2),
            ..Default::default()
        },
    }
}

/// Change one thing, as one of the hub's forge tests does.
fn mutate(o: &mut Orders, p: &Parties, rng: &mut Rng) -> String {
    let huge = U256::from(1u8) << 96;
    let tags = [
        B256::ZERO,
        tag::TEE,
        tag::GPU,
        tag::TEE | tag::SCONE,
        tag::GRAMINE | tag::GPU,
        tag::TDX,
        tag::bit(200),
    ];
    match rng.below(8) {
        0 => {
            let c = U256::from(rng.below(5)); // the five default categories exist
            if rng.one_in(2) {
                o.request.category = c;
            } else {
                o.workerpool.category = c;
            }
            "category".into()
        }
        1 => {
            // around the hub's bound (2^16) and past 32 bits
            let t = rng.pick(&[
                0u64,
                1,
                2,
                5,
                6,
                1 << 16,
                (1 << 16) + 1,
                1 << 32,
                (1 << 32) + 5,
            ]);
            if rng.one_in(2) {
                o.request.trust = U256::from(t);
            } else {
                o.workerpool.trust = U256::from(t);
                if rng.one_in(2) {
                    o.request.trust = U256::from(t);
                }
            }
            format!("trust {t}")
        }
        2 => {
            let price = if rng.one_in(4) {
                huge + U256::from(rng.below(3))
            } else {
                U256::from(rng.below(150))
            };
            let raise_max = rng.one_in(2);
            match rng.below(6) {
                0 => o.app.appprice = price,
                1 => o.request.appmaxprice = price,
                2 => {
                    if let Some(d) = &mut o.dataset {
                        d.datasetprice = price;
                    }
                }
                3 => o.request.datasetmaxprice = price,
                4 => o.workerpool.workerpoolprice = price,
                _ => o.request.workerpoolmaxprice = price,
            }
            if raise_max {
                o.request.appmaxprice = o.request.appmaxprice.max(o.app.appprice);
                o.request.workerpoolmaxprice = o
                    .request
                    .workerpoolmaxprice
                    .max(o.workerpool.workerpoolprice);
            }
            format!("price {price}")
        }
        3 => {
            let t = rng.pick(&tags);
            match rng.below(4) {
                0 => o.app.tag = t,
                1 => {
                    if let Some(d) = &mut o.dataset {
                        d.tag = t;
                    }
                }
                2 => o.workerpool.tag = t,
                _ => o.request.tag = t,
            }
            format!("tag {t}")
        }
        4 => {
            match rng.below(3) {
                0 => o.app.tag ^= tag::TEE,
                1 => o.request.tag ^= tag::TEE,
                _ => {
                    if let Some(d) = &mut o.dataset {
                        d.tag ^= tag::TEE;
                    }
                }
            }
            "TEE".into()
        }
        5 => {
            // zero (anyone), a stranger, a contract that is no group, or the account itself
            let mode = rng.below(4);
            let value = match mode {
                0 => Address::ZERO,
                1 => rng.address(),
                _ => p.contract,
            };
            let pick = rng.below(10);
            let d = o.dataset.get_or_insert_with(DatasetOrder::default);
            let (field, account) = match pick {
                0 => (&mut o.request.workerpool, p.workerpool),
                1 => (&mut o.app.datasetrestrict, o.request.dataset),
                2 => (&mut o.app.workerpoolrestrict, p.workerpool),
                3 => (&mut o.app.requesterrestrict, p.requester),
                4 => (&mut d.apprestrict, p.app),
                5 => (&mut d.workerpoolrestrict, p.workerpool),
                6 => (&mut d.requesterrestrict, p.requester),
                7 => (&mut o.workerpool.apprestrict, p.app),
                8 => (&mut o.workerpool.datasetrestrict, o.request.dataset),
                _ => (&mut o.workerpool.requesterrestrict, p.requester),
            };
            *field = if mode == 3 { account } else { value };
            format!("restriction {pick} = {}", *field)
        }
        6 => {
            if rng.one_in(3) {
                // every order past 2^32 tasks
                let v = (U256::from(1u8) << 32) + U256::from(rng.below(3));
                o.app.volume = v;
                o.workerpool.volume = v;
                o.request.volume = v;
                if let Some(d) = &mut o.dataset {
                    d.volume = v;
                }
                format!("volumes {v}")
            } else {
                let v = U256::from(rng.below(3));
                match rng.below(4) {
                    0 => o.app.volume = v,
                    1 => {
                        if let Some(d) = &mut o.dataset {
                            d.volume = v;
                        }
                    }
                    2 => o.workerpool.volume = v,
                    _ => o.request.volume = v,
                }
                format!("volume {v}")
            }
        }
        _ => {
            match rng.below(4) {
                0 => o.request.app = rng.address(),
                1 => o.request.dataset = Address::ZERO,
                2 => o.dataset = None,
                _ => {
                    o.request.dataset = Address::ZERO;
                    o.dataset = None;
                }
            }
            "named assets".into()
        }
    }
}

#[tokio::test]
async fn incompatibilities_predict_the_hubs_match() {
    let chain = Chain::start().await;
    let mut rng = Rng::seeded("incompatibilities_predict_the_hubs_match");
    let plenty = U256::from(10u64).pow(U256::from(24));
    chain.fund(REQUESTER, plenty).await;
    chain.fund(WORKERPOOL_OWNER, plenty).await;
    let parties = Parties {
        app: chain.create_app().await,
        dataset: chain.create_dataset().await,
        workerpool: chain.create_workerpool().await,
        requester: chain.addr(REQUESTER),
        contract: chain.deployment.token,
    };
    let hub = chain.deployment.hub(chain.provider.clone());
    let d = &chain.domain;
    let mut refused = 0;
    for case in 0..CASES {
        let mut o = valid(&parties);
        let mut changes = Vec::new();
        if case > 0 {
            for _ in 0..1 + rng.below(3) {
                changes.push(mutate(&mut o, &parties, &mut rng));
            }
        }
        let why = incompatibilities(&MatchOrders {
            app: &o.app,
            dataset: o.dataset.as_ref(),
            workerpool: &o.workerpool,
            request: &o.request,
        });
        let app = Signed::sign(o.app.clone(), d, &chain.signers[APP_OWNER]).expect("sign");
        let dataset = match &o.dataset {
            Some(ds) => {
                (&Signed::sign(ds.clone(), d, &chain.signers[APP_OWNER]).expect("sign")).into()
            }
            None => Hub::DatasetOrder::none(),
        };
        let pool =
            Signed::sign(o.workerpool.clone(), d, &chain.signers[WORKERPOOL_OWNER]).expect("sign");
        let request = Signed::sign(o.request.clone(), d, &chain.signers[REQUESTER]).expect("sign");
        let result = hub
            .matchOrders((&app).into(), dataset, (&pool).into(), (&request).into())
            .from(chain.addr(REQUESTER))
            .call()
            .await
            .map_err(dexec_contracts::Error::from);
        let context = || format!("case {case} {changes:?}\norders {o:#?}\nrule {why:?}");
        match (why.first(), result) {
            (None, Ok(_)) => {}
            (Some(first), Err(err)) => {
                refused += 1;
                let hub_error = err
                    .as_hub_error()
                    .unwrap_or_else(|| panic!("not a hub error: {err}\n{}", context()));
                let name = format!("{hub_error:?}");
                assert!(
                    name.starts_with(&format!("{}(", first.hub_error())),
                    "the hub says {name}\n{}",
                    context()
                );
                if let Some(typed) = incompatibility(&hub_error) {
                    assert_eq!(typed, *first, "{}", context());
                    let dexec_contracts::Error::Revert { data, .. } = &err else {
                        unreachable!("a hub error is a revert")
                    };
                    assert_eq!(describe_revert(data), first.to_string(), "{}", context());
                }
            }
            (None, Err(err)) => panic!("the hub refused: {err}\n{}", context()),
            (Some(_), Ok(_)) => panic!("the hub accepted\n{}", context()),
        }
    }
    // the mutations reach both verdicts often (a check that the test tests something)
    assert!(
        refused > CASES / 4 && refused < CASES - CASES / 8,
        "{refused} of {CASES} refused"
    );
}

#[tokio::test]
async fn trust_above_two_to_the_sixteen_is_refused_as_the_rule_says() {
    let chain = Chain::start().await;
    let plenty = U256::from(10u64).pow(U256::from(24));
    chain.fund(REQUESTER, plenty).await;
    chain.fund(WORKERPOOL_OWNER, plenty).await;
    let parties = Parties {
        app: chain.create_app().await,
        dataset: chain.create_dataset().await,
        workerpool: chain.create_workerpool().await,
        requester: chain.addr(REQUESTER),
        contract: chain.deployment.token,
    };
    let hub = chain.deployment.hub(chain.provider.clone());
    let bound = hub.MAX_TRUST().call().await.expect("MAX_TRUST");
    assert_eq!(bound, U256::from(dexec_primitives::poco::MAX_TRUST));
    let d = &chain.domain;
    for trust in [bound, bound + U256::from(1u8)] {
        let mut o = valid(&parties);
        o.workerpool.trust = U256::from(1u64 << 20);
        o.request.trust = trust;
        let why = incompatibilities(&MatchOrders {
            app: &o.app,
            dataset: o.dataset.as_ref(),
            workerpool: &o.workerpool,
            request: &o.request,
        });
        let app = Signed::sign(o.app.clone(), d, &chain.signers[APP_OWNER]).expect("sign");
        let dataset = Signed::sign(
            o.dataset.clone().expect("a dataset"),
            d,
            &chain.signers[APP_OWNER],
        )
        .expect("sign");
        let pool =
            Signed::sign(o.workerpool.clone(), d, &chain.signers[WORKERPOOL_OWNER]).expect("sign");
        let request = Signed::sign(o.request.clone(), d, &chain.signers[REQUESTER]).expect("sign");
        let result = hub
            .matchOrders(
                (&app).into(),
                (&dataset).into(),
                (&pool).into(),
                (&request).into(),
            )
            .from(chain.addr(REQUESTER))
            .call()
            .await
            .map_err(dexec_contracts::Error::from);
        if trust == bound {
            assert_eq!(why, [], "trust {trust} is accepted by the rule");
            result.unwrap_or_else(|e| panic!("trust {trust} is accepted by the hub: {e}"));
            continue;
        }
        assert_eq!(
            why,
            [dexec_primitives::Incompatibility::TrustOutOfRange { trust }]
        );
        let err = result.expect_err("trust above 2^16");
        assert!(
            matches!(err.as_hub_error(), Some(Hub::HubErrors::TrustOutOfRange(e)) if e.trust == trust),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("the contract refused: {}", why[0]),
            "the pre-check and the decoded revert say the same"
        );
    }
}
