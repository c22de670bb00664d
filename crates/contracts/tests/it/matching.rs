//! The happy path of a match, and what the hub refuses afterwards.

use alloy::primitives::{B256, U256};
use dexec_contracts::tx::{find_event, send};
use dexec_contracts::Hub;
use dexec_primitives::deal::COMMITMENT_MASK;
use dexec_primitives::{
    deal_id, AppOrder, Deal, OrderOperation, RequestOrder, Signed, WorkerpoolOrder,
};

use crate::fixture::{Chain, APP_OWNER, REQUESTER, STRANGER, WORKERPOOL_OWNER};

const APP_PRICE: u64 = 1_000;
const WORKERPOOL_PRICE: u64 = 1_000_000_000;
const VOLUME: u64 = 3;
const DEPOSIT: u64 = 100_000_000_000;

struct Orders {
    app: Signed<AppOrder>,
    workerpool: Signed<WorkerpoolOrder>,
    request: Signed<RequestOrder>,
}

/// App, workerpool and request orders for `VOLUME` tasks, signed by their owners.
async fn signed_orders(chain: &Chain, salt: u8) -> Orders {
    let app = chain.create_app().await;
    let workerpool = chain.create_workerpool().await;
    let d = &chain.domain;
    let app_order = AppOrder {
        app,
        appprice: U256::from(APP_PRICE),
        volume: U256::from(VOLUME),
        salt: B256::repeat_byte(salt),
        ..Default::default()
    };
    let workerpool_order = WorkerpoolOrder {
        workerpool,
        workerpoolprice: U256::from(WORKERPOOL_PRICE),
        volume: U256::from(VOLUME),
        trust: U256::from(1),
        salt: B256::repeat_byte(salt),
        ..Default::default()
    };
    let request_order = RequestOrder {
        app,
        appmaxprice: U256::from(APP_PRICE),
        workerpool,
        workerpoolmaxprice: U256::from(WORKERPOOL_PRICE),
        requester: chain.addr(REQUESTER),
        volume: U256::from(VOLUME),
        trust: U256::from(1),
        beneficiary: chain.addr(REQUESTER),
        params: r#"{"iexec_args":"hello world"}"#.into(),
        salt: B256::repeat_byte(salt),
        ..Default::default()
    };
    Orders {
        app: Signed::sign(app_order, d, &chain.signers[APP_OWNER]).expect("sign"),
        workerpool: Signed::sign(workerpool_order, d, &chain.signers[WORKERPOOL_OWNER])
            .expect("sign"),
        request: Signed::sign(request_order, d, &chain.signers[REQUESTER]).expect("sign"),
    }
}

/// `matchOrders` of `orders` sent by the requester.
fn match_call(
    chain: &Chain,
    orders: &Orders,
) -> alloy::contract::SolCallBuilder<alloy::providers::DynProvider, Hub::matchOrdersCall> {
    match_call_from(chain, orders, REQUESTER)
}

/// `matchOrders` of `orders` sent by `sender` (anyone may; the requester pays).
fn match_call_from(
    chain: &Chain,
    orders: &Orders,
    sender: usize,
) -> alloy::contract::SolCallBuilder<alloy::providers::DynProvider, Hub::matchOrdersCall> {
    chain
        .deployment
        .hub(chain.provider.clone())
        .matchOrders(
            (&orders.app).into(),
            Hub::DatasetOrder::none(),
            (&orders.workerpool).into(),
            (&orders.request).into(),
        )
        .from(chain.addr(sender))
        .with_cloned_provider()
}

#[tokio::test]
async fn match_orders_creates_a_deal_and_locks_funds() {
    let chain = Chain::start().await;
    chain.fund(REQUESTER, U256::from(DEPOSIT)).await;
    chain.fund(WORKERPOOL_OWNER, U256::from(DEPOSIT)).await;
    let orders = signed_orders(&chain, 1).await;
    let hub = chain.deployment.hub(&chain.provider);

    let receipt = send(&match_call(&chain, &orders))
        .await
        .expect("matchOrders");
    let event =
        find_event::<Hub::DealCreated>(&receipt, chain.deployment.hub).expect("DealCreated");

    // the deal id is the request digest and its first task index
    let request_hash = orders.request.digest(&chain.domain);
    assert_eq!(event.requestOrderHash, request_hash);
    assert_eq!(event.appOrderHash, orders.app.digest(&chain.domain));
    assert_eq!(
        event.workerpoolOrderHash,
        orders.workerpool.digest(&chain.domain)
    );
    assert_eq!(event.datasetOrderHash, B256::ZERO);
    assert_eq!(event.dealId, deal_id(request_hash, 0));
    assert_eq!(event.params, orders.request.order.params);
    assert_eq!(event.beneficiary, chain.addr(REQUESTER));

    // what the deal records: the packed encoding decodes the same in Rust and on chain
    let deal = Deal::decode(&event.deal).expect("a packed deal");
    let onchain: Deal = hub
        .decodeDeal(event.deal.clone())
        .call()
        .await
        .expect("decodeDeal")
        .into();
    assert_eq!(onchain, deal);
    assert_eq!(deal.encode().expect("fits"), event.deal.to_vec());
    assert_eq!(deal.app, orders.app.order.app);
    assert_eq!(deal.workerpool, orders.workerpool.order.workerpool);
    assert_eq!(deal.app_owner, chain.addr(APP_OWNER));
    assert_eq!(deal.workerpool_owner, chain.addr(WORKERPOOL_OWNER));
    assert_eq!(deal.requester, chain.addr(REQUESTER));
    assert_eq!(deal.payer, chain.addr(REQUESTER));
    assert_eq!(deal.app_price, APP_PRICE.into());
    assert_eq!(deal.workerpool_price, WORKERPOOL_PRICE.into());
    assert_eq!(
        deal.worker_stake,
        (WORKERPOOL_PRICE * 30 / 100).into(),
        "default stake ratio"
    );
    assert_eq!(deal.task_indices(), 0..VOLUME);
    assert_eq!(deal.trust, 1);
    assert_eq!(deal.timeref, 300, "category 0 is XS");

    // the hub committed to exactly this deal, and to nothing else
    let word = hub
        .viewDealWord(event.dealId)
        .call()
        .await
        .expect("viewDealWord");
    assert_eq!(word & COMMITMENT_MASK, Deal::commitment(&event.deal));
    assert!(hub
        .checkDeal(event.dealId, event.deal.clone())
        .call()
        .await
        .expect("checkDeal"));
    let forged = Deal {
        bot_size: deal.bot_size + 1,
        ..deal.clone()
    }
    .encode()
    .expect("fits");
    assert!(!hub
        .checkDeal(event.dealId, forged.into())
        .call()
        .await
        .expect("checkDeal"));
    let abi_deal = Hub::Deal::try_from(&deal).expect("fits");
    assert_eq!(
        hub.encodeDeal(abi_deal).call().await.expect("encodeDeal"),
        event.deal
    );

    // escrow: the requester's price × volume and the scheduler's 30 % stake are locked
    let price = (APP_PRICE + WORKERPOOL_PRICE) * VOLUME;
    assert_eq!(
        chain.account(REQUESTER).await,
        (U256::from(DEPOSIT - price), U256::from(price))
    );
    let stake = WORKERPOOL_PRICE * 30 / 100 * VOLUME;
    assert_eq!(
        chain.account(WORKERPOOL_OWNER).await,
        (U256::from(DEPOSIT - stake), U256::from(stake))
    );

    // the orders are used up
    let consumed = hub
        .viewConsumed(event.appOrderHash)
        .call()
        .await
        .expect("viewConsumed");
    assert_eq!(consumed, U256::from(VOLUME));
    let err = send(&match_call(&chain, &orders))
        .await
        .expect_err("orders are consumed");
    assert!(
        matches!(err.as_hub_error(), Some(Hub::HubErrors::AppOrderConsumed(e)) if e.orderHash == event.appOrderHash),
        "{err}"
    );
    assert!(err.to_string().contains("has no volume left"), "{err}");
}

#[tokio::test]
async fn match_refuses_bad_signatures_and_missing_funds() {
    let chain = Chain::start().await;
    let orders = signed_orders(&chain, 2).await;

    // no deposit yet: the requester cannot pay
    let err = send(&match_call(&chain, &orders))
        .await
        .expect_err("no funds");
    assert!(
        matches!(
            err.as_hub_error(),
            Some(Hub::HubErrors::InsufficientBalance(_))
        ),
        "{err}"
    );

    // a request signed by someone else than its requester, relayed by a third party
    chain.fund(REQUESTER, U256::from(DEPOSIT)).await;
    chain.fund(WORKERPOOL_OWNER, U256::from(DEPOSIT)).await;
    let forged = Orders {
        request: Signed::sign(
            orders.request.order.clone(),
            &chain.domain,
            &chain.signers[STRANGER],
        )
        .expect("sign"),
        ..orders
    };
    let err = send(&match_call_from(&chain, &forged, STRANGER))
        .await
        .expect_err("forged request");
    assert!(
        matches!(
            err.as_hub_error(),
            Some(Hub::HubErrors::InvalidRequestOrderSignature(_))
        ),
        "{err}"
    );
    // the requester sending the match itself approves its request: no signature is read
    send(&match_call(&chain, &forged))
        .await
        .expect("the requester's own match");
}

#[tokio::test]
async fn closed_orders_cannot_match() {
    let chain = Chain::start().await;
    chain.fund(REQUESTER, U256::from(DEPOSIT)).await;
    chain.fund(WORKERPOOL_OWNER, U256::from(DEPOSIT)).await;
    let orders = signed_orders(&chain, 3).await;
    let hub = chain.deployment.hub(&chain.provider);

    // a stranger may not close the request without the requester's signature …
    let by_stranger =
        Hub::RequestOrderOperation::by_owner(orders.request.order.clone(), OrderOperation::Close);
    let err = send(
        &hub.manageRequestOrder(by_stranger)
            .from(chain.addr(STRANGER)),
    )
    .await
    .expect_err("stranger");
    assert!(
        matches!(err.as_hub_error(), Some(Hub::HubErrors::NotOrderOwner(_))),
        "{err}"
    );

    // … but may relay a close the requester signed
    let signed = Hub::RequestOrderOperation::signed(
        orders.request.order.clone(),
        OrderOperation::Close,
        &chain.domain,
        &chain.signers[REQUESTER],
    )
    .expect("sign");
    let receipt = send(&hub.manageRequestOrder(signed).from(chain.addr(STRANGER)))
        .await
        .expect("close");
    let closed = find_event::<Hub::RequestOrderClosed>(&receipt, chain.deployment.hub)
        .expect("RequestOrderClosed");
    assert_eq!(closed.orderHash, orders.request.digest(&chain.domain));
    assert_eq!(closed.owner, chain.addr(REQUESTER));

    let err = send(&match_call(&chain, &orders))
        .await
        .expect_err("closed");
    assert!(
        matches!(
            err.as_hub_error(),
            Some(Hub::HubErrors::RequestOrderConsumed(_))
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_sponsored_request_is_paid_by_its_sponsor_only() {
    let chain = Chain::start().await;
    chain.fund(REQUESTER, U256::from(DEPOSIT)).await;
    chain.fund(STRANGER, U256::from(DEPOSIT)).await;
    chain.fund(WORKERPOOL_OWNER, U256::from(DEPOSIT)).await;
    let plain = signed_orders(&chain, 4).await;
    let sponsor = chain.addr(STRANGER);
    let orders = Orders {
        request: Signed::sign_sponsored(
            plain.request.order.clone(),
            sponsor,
            &chain.domain,
            &chain.signers[REQUESTER],
        )
        .expect("sign"),
        ..plain
    };

    // plain matchOrders cannot turn the sponsored signature against the requester's balance
    // (sent by the sponsor: the requester's own match would need no signature)
    let err = send(&match_call_from(&chain, &orders, STRANGER))
        .await
        .expect_err("not for matchOrders");
    assert!(
        matches!(
            err.as_hub_error(),
            Some(Hub::HubErrors::InvalidRequestOrderSignature(_))
        ),
        "{err}"
    );

    let hub = chain.deployment.hub(&chain.provider);
    let call = hub
        .sponsorMatchOrders(
            (&orders.app).into(),
            Hub::DatasetOrder::none(),
            (&orders.workerpool).into(),
            (&orders.request).into(),
        )
        .from(sponsor);
    let receipt = send(&call).await.expect("sponsorMatchOrders");
    let event =
        find_event::<Hub::DealCreated>(&receipt, chain.deployment.hub).expect("DealCreated");
    let deal = Deal::decode(&event.deal).expect("a packed deal");
    assert_eq!(deal.requester, chain.addr(REQUESTER));
    assert_eq!(deal.payer, sponsor);
    let price = (APP_PRICE + WORKERPOOL_PRICE) * VOLUME;
    assert_eq!(
        chain.account(STRANGER).await,
        (U256::from(DEPOSIT - price), U256::from(price))
    );
    assert_eq!(
        chain.account(REQUESTER).await,
        (U256::from(DEPOSIT), U256::ZERO)
    );
}
