//! The SDK against a real anvil with the hub deployed: assets, orders, matching pre-checks,
//! deals, tasks and the event follower; the execution side (`execution`), the scheduler's
//! batches of signed contributions and the delivery of batch results to consumers (`batches`).

mod batches;
mod execution;

use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use dexec_contracts::tx::{send, signing_provider};
use dexec_contracts::{anvil, deploy_hub};
use dexec_sdk::primitives::{AppOrder, Nrlc, RequestOrder, WorkerpoolOrder};
use dexec_sdk::{
    AppSpec, AssetKind, Client, Error, EventFollower, HubEvent, MatchInput, TaskStatus,
    WorkerpoolSpec,
};

struct Net {
    _anvil: AnvilInstance,
    clients: Vec<Client>,
}

/// anvil + hub; clients for accounts 0..5, accounts 1..5 funded with 100 RLC on the hub.
async fn net() -> Net {
    let anvil = anvil::anvil(None).try_spawn().expect("anvil starts");
    let signers: Vec<PrivateKeySigner> = anvil.keys().iter().map(|k| k.clone().into()).collect();
    let admin = signing_provider(anvil.endpoint_url(), &signers[..1]);
    let deployment = deploy_hub(&admin, signers[0].address())
        .await
        .expect("deploy");
    let chain_id = admin.get_chain_id().await.expect("chain id");
    let token = deployment.token(&admin);
    let clients: Vec<Client> = signers[..6]
        .iter()
        .map(|s| {
            Client::from_provider(
                signing_provider(anvil.endpoint_url(), std::slice::from_ref(s)),
                deployment,
                chain_id,
                anvil.endpoint(),
                Some(s.clone()),
            )
        })
        .collect();
    for client in &clients[1..] {
        let me = client.address().expect("wallet");
        send(&token.mint(me, Nrlc::from_rlc(100).to_u256()))
            .await
            .expect("mint");
        client.deposit(Nrlc::from_rlc(100)).await.expect("deposit");
    }
    Net {
        _anvil: anvil,
        clients,
    }
}

fn app_spec(name: &str) -> AppSpec {
    AppSpec {
        name: name.into(),
        app_type: "WASM".into(),
        multiaddr: format!("https://store.example/{name}.wasm"),
        checksum: B256::repeat_byte(7),
        mrenclave: Default::default(),
    }
}

#[tokio::test]
async fn assets_orders_deals_and_events() {
    let net = net().await;
    let [_, app_owner, pool_owner, requester, other, _] = &net.clients[..] else {
        unreachable!()
    };
    let mut follower = EventFollower::new(requester.clone(), 0);

    // assets: deterministic, idempotent, transferable by their owner only
    let app = app_owner.deploy_app(&app_spec("echo")).await.expect("app");
    assert!(app.tx.is_some());
    assert_eq!(
        app_owner
            .deploy_app(&app_spec("echo"))
            .await
            .expect("again")
            .address,
        app.address
    );
    let spare = app_owner
        .deploy_app(&app_spec("spare"))
        .await
        .expect("spare");
    let refused = other
        .transfer_asset(AssetKind::App, spare.address, other.address().expect("w"))
        .await;
    assert!(
        matches!(refused, Err(Error::NotOwner { .. })),
        "{refused:?}"
    );
    app_owner
        .transfer_asset(AssetKind::App, spare.address, other.address().expect("w"))
        .await
        .expect("transfer");
    assert_eq!(
        app_owner
            .asset_owner(AssetKind::App, spare.address)
            .await
            .expect("owner"),
        Some(other.address().expect("w"))
    );
    assert_eq!(
        app_owner
            .asset_count(AssetKind::App, None)
            .await
            .expect("count"),
        2
    );
    let pool = pool_owner
        .deploy_workerpool(&WorkerpoolSpec {
            description: "pool".into(),
        })
        .await
        .expect("pool");

    // orders: signed by their owner, hashed as the hub hashes them
    let app_order = AppOrder {
        app: app.address,
        appprice: U256::from(2_000),
        volume: U256::from(10),
        salt: B256::repeat_byte(1),
        ..Default::default()
    };
    let hub = requester.deployment().hub(requester.provider());
    let on_chain = hub
        .hashAppOrder(dexec_sdk::primitives::Signed::unsigned(app_order.clone()).into())
        .call()
        .await
        .expect("hub hash");
    assert_eq!(requester.order_hash(&app_order), on_chain);
    assert!(matches!(
        other.sign_order(app_order.clone()).await,
        Err(Error::NotOwner { .. })
    ));
    let app_signed = app_owner.sign_order(app_order).await.expect("sign app");
    let pool_signed = pool_owner
        .sign_order(WorkerpoolOrder {
            workerpool: pool.address,
            workerpoolprice: U256::from(1_000),
            volume: U256::from(10),
            trust: U256::from(1),
            salt: B256::repeat_byte(2),
            ..Default::default()
        })
        .await
        .expect("sign pool");
    let request = RequestOrder {
        app: app.address,
        appmaxprice: U256::from(2_000),
        workerpoolmaxprice: U256::from(1_000),
        requester: requester.address().expect("w"),
        volume: U256::from(4),
        category: U256::from(1), // the pool sells category 0
        trust: U256::from(1),
        params: r#"{"iexec_args":"x"}"#.into(),
        salt: B256::repeat_byte(3),
        ..Default::default()
    };
    let mut input = MatchInput {
        app: app_signed,
        dataset: None,
        workerpool: pool_signed,
        request: requester
            .sign_order(request.clone())
            .await
            .expect("sign request"),
    };
    let Err(Error::Incompatible(why)) = requester.plan_match(&input).await else {
        panic!("a category mismatch is found before sending");
    };
    assert!(why[0].contains("category 1"), "{why:?}");
    // restrictions: one naming a plain address is checked before sending; one naming a
    // contract (perhaps an identity group) is left to the hub, whose refusal says the same
    let sentence = format!(
        "the request is restricted to another workerpool than {}",
        pool.address
    );
    for (restriction, before_sending) in [
        (Address::repeat_byte(0x42), true),
        (requester.deployment().token, false),
    ] {
        input.request = requester
            .sign_order(RequestOrder {
                category: U256::ZERO,
                workerpool: restriction,
                ..request.clone()
            })
            .await
            .expect("sign request");
        let err = if before_sending {
            requester.plan_match(&input).await.expect_err("restricted")
        } else {
            requester.plan_match(&input).await.expect("the hub decides");
            let err = requester
                .match_orders(&input)
                .await
                .expect_err("restricted");
            assert!(err.is_revert(), "{err}");
            err
        };
        assert!(err.to_string().contains(&sentence), "{err}");
    }
    input.request = requester
        .sign_order(RequestOrder {
            category: U256::ZERO,
            ..request
        })
        .await
        .expect("sign request");
    let plan = requester.plan_match(&input).await.expect("plan");
    assert_eq!(plan.volume, 4);
    assert_eq!(plan.total_cost, Nrlc(12_000));
    assert_eq!(plan.scheduler_stake, Nrlc(1_200));
    let matched = requester.match_orders(&input).await.expect("match");
    assert_eq!(matched.tasks.len(), 4);
    let exhausted = requester.plan_match(&input).await;
    assert!(
        matches!(
            exhausted,
            Err(Error::Exhausted {
                kind: "request",
                ..
            })
        ),
        "{exhausted:?}"
    );

    // the deal and its tasks, read back from the chain
    let deal = requester.deal(matched.deal_id).await.expect("deal");
    assert_eq!(deal.deal, matched.deal);
    assert_eq!(deal.params, r#"{"iexec_args":"x"}"#);
    let task = requester.task(&deal, 2).await.expect("task");
    assert_eq!(task.status, TaskStatus::Unset);
    assert_eq!(task.task_id, matched.tasks[2]);
    assert_eq!(
        requester
            .deal_of_task(matched.tasks[3], 0)
            .await
            .expect("scan")
            .map(|d| d.deal_id),
        Some(matched.deal_id)
    );
    assert!(matches!(
        requester.deal(B256::repeat_byte(9)).await,
        Err(Error::DealNotFound(_))
    ));

    // events: everything so far, once, in order
    let events = follower.poll().await.expect("poll");
    let deals: Vec<B256> = events
        .iter()
        .filter_map(|l| match &l.event {
            HubEvent::DealCreated { deal_id, .. } => Some(*deal_id),
            _ => None,
        })
        .collect();
    assert_eq!(deals, vec![matched.deal_id]);
    assert!(events.iter().any(|l| matches!(
        &l.event,
        HubEvent::AssetTransfer { kind: AssetKind::App, asset, from, .. }
            if *asset == spare.address && *from != Address::ZERO
    )));
    assert!(events
        .windows(2)
        .all(|w| (w[0].block, w[0].log_index) < (w[1].block, w[1].log_index)));
    assert!(
        follower.poll().await.expect("poll").is_empty(),
        "nothing twice"
    );

    // a cancel is seen by a follower resumed from where the first stopped, behind 2 confirmations
    let resume_at = follower.next_block();
    app_owner
        .cancel_order(&input.app.order)
        .await
        .expect("cancel");
    let mut resumed = EventFollower::new(requester.clone(), resume_at).confirmations(2);
    assert!(
        resumed.poll().await.expect("poll").is_empty(),
        "not confirmed yet"
    );
    for _ in 0..2 {
        let _: String = requester
            .provider()
            .raw_request("evm_mine".into(), ())
            .await
            .expect("mine");
    }
    let closed = resumed.poll().await.expect("poll");
    assert!(
        matches!(&closed[..], [l] if matches!(l.event, HubEvent::OrderClosed { hash, .. } if hash == requester.order_hash(&input.app.order))),
        "{closed:?}"
    );
}
