//! The scheduler keeps a workerpool order of its policy open on a real market: it publishes
//! one, publishes a fresh one when deals used it up, never stacks duplicates, and survives a
//! market that refuses its order.

use std::time::Duration;

use alloy::primitives::{B256, U256};
use dexec_primitives::orders::{AppOrder, RequestOrder, WorkerpoolOrder};
use dexec_primitives::{Nrlc, Signed};
use dexec_scheduler::offer::OfferPolicy;
use dexec_sdk::market::{BookStatus, MarketClient, OrderQuery, OrderView};
use dexec_sdk::{MatchInput, OrderKind};
use dexec_test_utils::wait_for;

use crate::fixture::*;

async fn open_orders(market: &MarketClient, pool: &Pool) -> Vec<OrderView> {
    market
        .orders(
            OrderKind::Workerpool,
            &OrderQuery {
                workerpool: Some(pool.workerpool.into()),
                ..OrderQuery::default()
            },
        )
        .await
        .expect("market answers")
        .orders
}

/// The offer loop's counters, from the scheduler's `GET /health`.
async fn offer_counts(pool: &Pool) -> serde_json::Value {
    pool.health().await["offer"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keeps_a_workerpool_order_open_on_the_market() {
    let mut pool = Pool::start(PoolOptions::default()).await;
    let (stop_market, market_stopped) = tokio::sync::oneshot::channel::<()>();
    let market = dexec_market::serve(
        dexec_market::Config::test(
            pool.chain.chain_entry(),
            format!("sqlite://{}", pool.dir.path().join("market.db").display())
                .parse()
                .expect("a SQLite URL"),
        ),
        async move {
            let _ = market_stopped.await;
        },
    )
    .await
    .expect("market starts");
    let url = market.url();
    let market = MarketClient::new(&url, pool.chain.chain_id).expect("client");

    // the scheduler, now with a policy: 2 tasks per order at the pool's price
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.offer = Some(OfferPolicy {
        market_url: url.clone(),
        price: Nrlc(u128::from(WORKERPOOL_PRICE)),
        volume: 2,
        category: 0,
        trust: 1,
        tag: B256::ZERO,
        interval: Duration::from_millis(100),
    });
    pool.start_scheduler_with(config).await;

    let first = wait_for(Duration::from_secs(20), || async {
        open_orders(&market, &pool).await.into_iter().next()
    })
    .await
    .expect("the scheduler published an order");
    let offered: Signed<WorkerpoolOrder> = first
        .order
        .clone()
        .into_signed()
        .expect("a workerpool order");
    assert_eq!(offered.order.workerpoolprice, U256::from(WORKERPOOL_PRICE));
    assert_eq!(offered.order.volume, U256::from(2));
    assert_eq!(first.signer, pool.chain.address(SCHEDULER));
    // never more than one open at a time: two more checks of the offer loop finish (the
    // second began after the order was seen open) and publish nothing
    let seen = offer_counts(&pool).await;
    let later = wait_for(Duration::from_secs(20), || async {
        let now = offer_counts(&pool).await;
        (now["checks"].as_u64()? >= seen["checks"].as_u64()? + 2).then_some(now)
    })
    .await
    .expect("the offer loop keeps checking");
    assert_eq!(later["published"], 1, "{later}");
    assert_eq!(open_orders(&market, &pool).await.len(), 1);

    // a requester takes both tasks of the offered order: a fresh order replaces it
    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let salt = || B256::from(rand::random::<[u8; 32]>());
    let app_order = pool
        .chain
        .client_for(APP_OWNER)
        .sign_order(AppOrder {
            app,
            volume: U256::from(10),
            salt: salt(),
            ..Default::default()
        })
        .await
        .expect("app order");
    let requester = pool.chain.client_for(REQUESTER);
    let request = requester
        .sign_order(RequestOrder {
            app,
            workerpool: pool.workerpool,
            workerpoolmaxprice: U256::from(WORKERPOOL_PRICE),
            requester: pool.chain.address(REQUESTER),
            beneficiary: pool.chain.address(REQUESTER),
            volume: U256::from(2),
            trust: U256::from(1),
            salt: salt(),
            ..Default::default()
        })
        .await
        .expect("request");
    let matched = requester
        .match_orders(&MatchInput {
            app: app_order,
            dataset: None,
            workerpool: offered,
            request,
        })
        .await
        .expect("the offered order matches");
    assert_eq!(matched.deal.bot_size, 2);
    let second = wait_for(Duration::from_secs(20), || async {
        open_orders(&market, &pool)
            .await
            .into_iter()
            .find(|o| o.order_hash != first.order_hash)
    })
    .await
    .expect("a fresh order replaced the filled one");
    assert_eq!(second.remaining, 2);
    let seen = market
        .order(first.order_hash)
        .await
        .expect("market answers")
        .expect("known");
    assert_eq!(seen.status, BookStatus::Filled);
    assert_eq!(open_orders(&market, &pool).await.len(), 1);

    // a price the scheduler's stake cannot back: refused by the market, the scheduler lives on
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.offer = Some(OfferPolicy {
        market_url: url,
        price: Nrlc::from_rlc(10_000_000),
        volume: 1,
        category: 1,
        trust: 1,
        tag: B256::ZERO,
        interval: Duration::from_millis(100),
    });
    pool.start_scheduler_with(config).await;
    let refused = wait_for(Duration::from_secs(20), || async {
        let now = offer_counts(&pool).await;
        (now["refused"].as_u64()? >= 1).then_some(now)
    })
    .await
    .expect("the scheduler tried to publish, and the market refused");
    assert_eq!(refused["published"], 0, "{refused}");
    let in_category_1 = market
        .orders(
            OrderKind::Workerpool,
            &OrderQuery {
                workerpool: Some(pool.workerpool.into()),
                category: Some(1),
                ..OrderQuery::default()
            },
        )
        .await
        .expect("market answers");
    assert_eq!(in_category_1.count, 0, "nothing the stake cannot back");
    let scheduler = pool.scheduler.as_ref().expect("running");
    assert!(
        !scheduler.running.task.is_finished(),
        "the scheduler still runs"
    );
    // it lives on and keeps trying
    let checks = refused["checks"].as_u64().expect("checks");
    let again = wait_for(Duration::from_secs(20), || async {
        (offer_counts(&pool).await["checks"].as_u64()? > checks).then_some(())
    })
    .await;
    assert!(
        again.is_some(),
        "the offer loop checks again after a refusal"
    );
    let _ = stop_market.send(());
}
