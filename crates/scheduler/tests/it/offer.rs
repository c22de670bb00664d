//! The scheduler keeps a workerpool order of its policy open on a real market: it publishes
//! one, publishes a fresh one when deals used it up, never stacks duplicates, and survives a
//! market that refuses its order; the order's volume follows what the pool's workers can do
//! (none without workers), and it is for the requester the operator names.

use std::time::Duration;

use alloy::primitives::{B256, U256};
use dexec_primitives::orders::{AppOrder, RequestOrder, WorkerpoolOrder};
use dexec_primitives::{Nrlc, Signed};
use dexec_scheduler::offer::OfferPolicy;
use dexec_sdk::market::{AddressFilter, BookStatus, MarketClient, OrderQuery, OrderView};
use dexec_sdk::{MatchInput, OrderKind};
use dexec_test_utils::wait_for;

use crate::fixture::*;

async fn open_orders(market: &MarketClient, pool: &Pool) -> Vec<OrderView> {
    market
        .orders(
            OrderKind::Workerpool,
            &OrderQuery {
                workerpool: Some(pool.workerpool.into()),
                // restricted orders too (by default the book lists unrestricted ones)
                app: Some(AddressFilter::Any),
                dataset: Some(AddressFilter::Any),
                requester: Some(AddressFilter::Any),
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
    // a worker: the pool can take tasks (5 per slot in XS before anything is measured, more
    // than the cap of 2)
    let worker = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;

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
    // the market marks the first one filled when its watcher sees the deal, which may come
    // after the scheduler published the fresh one
    let filled = wait_for(Duration::from_secs(20), || async {
        let seen = market
            .order(first.order_hash)
            .await
            .expect("market answers")
            .expect("known");
        (seen.status == BookStatus::Filled).then_some(())
    })
    .await;
    assert!(filled.is_some(), "the market marks the taken order filled");
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
    drop(worker);
    let _worker = pool
        .start_worker(pool.worker_config(FIRST_WORKER + 1))
        .await;
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

/// The market, served on port 0 with its database in the pool's directory; stops when the
/// sender is dropped or sent to.
async fn start_market(pool: &Pool) -> (MarketClient, String, tokio::sync::oneshot::Sender<()>) {
    start_market_with(
        pool,
        Duration::from_secs(dexec_market::DEFAULT_HEARTBEAT_TTL_SECS),
    )
    .await
}

/// [`start_market`] with schedulers' heartbeats good for `heartbeat_ttl`.
async fn start_market_with(
    pool: &Pool,
    heartbeat_ttl: Duration,
) -> (MarketClient, String, tokio::sync::oneshot::Sender<()>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut config = dexec_market::Config::test(
        pool.chain.chain_entry(),
        format!("sqlite://{}", pool.dir.path().join("market.db").display())
            .parse()
            .expect("a SQLite URL"),
    );
    config.heartbeat_ttl = heartbeat_ttl;
    let market = dexec_market::serve(config, async move {
        let _ = stopped.await;
    })
    .await
    .expect("market starts");
    let url = market.url();
    let client = MarketClient::new(&url, pool.chain.chain_id).expect("client");
    (client, url, stop)
}

/// An offer at the pool's price, at most `volume` tasks per order, in category 0 at trust 1,
/// checked every 100 ms.
fn offer_at_pool_price(market_url: String, volume: u64) -> OfferPolicy {
    OfferPolicy {
        market_url,
        price: Nrlc(u128::from(WORKERPOOL_PRICE)),
        volume,
        category: 0,
        trust: 1,
        tag: B256::ZERO,
        interval: Duration::from_millis(100),
    }
}

/// The order's volume still available on chain.
async fn remaining_on_chain(pool: &Pool, order: &Signed<WorkerpoolOrder>) -> U256 {
    pool.chain
        .reader()
        .order_status(order)
        .await
        .expect("order status")
        .remaining
}

/// The one open order of the pool with `volume`, once the offer loop published it.
async fn wait_offer(market: &MarketClient, pool: &Pool, volume: u64) -> Signed<WorkerpoolOrder> {
    let found = wait_for(Duration::from_secs(30), || async {
        let open = open_orders(market, pool).await;
        let view = open.into_iter().find(|o| o.remaining == volume as i64)?;
        let order: Signed<WorkerpoolOrder> = view.order.into_signed()?;
        (remaining_on_chain(pool, &order).await == U256::from(volume)).then_some(order)
    })
    .await;
    match found {
        Some(order) => order,
        None => panic!(
            "no open order of volume {volume}: {:?}, offer {}",
            open_orders(market, pool)
                .await
                .iter()
                .map(|o| o.remaining)
                .collect::<Vec<_>>(),
            offer_counts(pool).await
        ),
    }
}

/// The review's H-1 overload: the default offer was 1000 tasks whatever the pool. Now the
/// volume is what the workers can finish before the deadline (in XS, before any duration is
/// measured: 10 T with half held back, a full T per task, so 5 per slot), at most the cap:
/// nothing without workers, more when a worker joins (the smaller order is closed on chain
/// and replaced), nothing again when they are gone (closed on chain, so no copy of its
/// signature can match); and only the named requester can take it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_offered_volume_follows_the_workers_and_the_requester_restriction() {
    let mut pool = Pool::start(PoolOptions::default()).await;
    let (market, url, stop_market) = start_market(&pool).await;
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.offer = Some(offer_at_pool_price(url, 1_000));
    let requester = pool.chain.address(REQUESTER);
    config.offer_restrict.requester = requester;
    pool.start_scheduler_with(config).await;

    // no worker: checks run, nothing is offered
    let idle = wait_for(Duration::from_secs(20), || async {
        let now = offer_counts(&pool).await;
        (now["checks"].as_u64()? >= 3).then_some(now)
    })
    .await
    .expect("the offer loop checks");
    assert_eq!(idle["published"], 0, "{idle}");
    assert_eq!(idle["capacity"], 0, "{idle}");
    assert!(open_orders(&market, &pool).await.is_empty());

    // one worker with one slot: 5 tasks
    let mut one = pool.worker_config(FIRST_WORKER);
    one.max_concurrent = 1;
    let one = pool.start_worker(one).await;
    let first = wait_offer(&market, &pool, 5).await;
    assert_eq!(first.order.requesterrestrict, requester);
    assert_eq!(first.order.apprestrict, alloy::primitives::Address::ZERO);
    assert_eq!(offer_counts(&pool).await["capacity"], 5);

    // another with two slots: 15; the order of 5 offers a third of it, it is replaced
    let mut two = pool.worker_config(FIRST_WORKER + 1);
    two.max_concurrent = 2;
    let two = pool.start_worker(two).await;
    let second = wait_offer(&market, &pool, 15).await;
    assert_eq!(second.order.requesterrestrict, requester);
    assert_eq!(
        remaining_on_chain(&pool, &first).await,
        U256::ZERO,
        "the smaller order was closed on chain"
    );
    assert!(offer_counts(&pool).await["closed"].as_u64() >= Some(1));
    let mut live = 0;
    for view in open_orders(&market, &pool).await {
        let order: Signed<WorkerpoolOrder> = view.order.into_signed().expect("workerpool");
        if remaining_on_chain(&pool, &order).await > U256::ZERO {
            live += 1;
        }
    }
    assert_eq!(
        live, 1,
        "one order can match (the market may still list the closed one)"
    );

    // anyone else is refused by the order's restriction
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
    let stranger = pool.chain.client_for(APP_OWNER);
    let request = stranger
        .sign_order(RequestOrder {
            app,
            workerpool: pool.workerpool,
            workerpoolmaxprice: U256::from(WORKERPOOL_PRICE),
            requester: pool.chain.address(APP_OWNER),
            beneficiary: pool.chain.address(APP_OWNER),
            volume: U256::from(1),
            trust: U256::from(1),
            salt: salt(),
            ..Default::default()
        })
        .await
        .expect("request");
    let refused = stranger
        .match_orders(&MatchInput {
            app: app_order,
            dataset: None,
            workerpool: second.clone(),
            request,
        })
        .await
        .expect_err("the order is for another requester");
    assert!(
        refused.to_string().contains("requester"),
        "the refusal names the requester restriction: {refused}"
    );

    // the workers leave (lost after 2 s without heartbeat): the order is closed on chain
    drop(one);
    drop(two);
    let closed = wait_for(Duration::from_secs(30), || async {
        (remaining_on_chain(&pool, &second).await == U256::ZERO).then_some(())
    })
    .await;
    assert!(
        closed.is_some(),
        "the order was closed once the workers left"
    );
    let empty = wait_for(Duration::from_secs(20), || async {
        let now = offer_counts(&pool).await;
        (now["capacity"] == 0 && open_orders(&market, &pool).await.is_empty()).then_some(now)
    })
    .await;
    assert!(empty.is_some(), "no order open without workers");
    let _ = stop_market.send(());
}

/// A scheduler that stops withdraws its offer: its open order is closed on chain (no copy of
/// the signature can be matched against a pool nobody runs) and the market no longer lists
/// it; a restart publishes a fresh one (issue 18, finding 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopping_scheduler_withdraws_its_offer() {
    let mut pool = Pool::start(PoolOptions::default()).await;
    let (market, url, stop_market) = start_market(&pool).await;
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.offer = Some(offer_at_pool_price(url, 3));
    pool.start_scheduler_with(config.clone()).await;
    let _worker = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;
    let offered = wait_offer(&market, &pool, 3).await;

    pool.scheduler.take().expect("running").stop().await;
    assert_eq!(
        remaining_on_chain(&pool, &offered).await,
        U256::ZERO,
        "closed on chain before the scheduler ended"
    );
    let gone = wait_for(Duration::from_secs(20), || async {
        open_orders(&market, &pool).await.is_empty().then_some(())
    })
    .await;
    assert!(
        gone.is_some(),
        "the market no longer lists the dead pool's order"
    );
    let hash = pool.chain.reader().order_hash(&offered.order);
    let seen = market
        .order(hash)
        .await
        .expect("market answers")
        .expect("known");
    assert_eq!(seen.status, BookStatus::Cancelled);

    // back (with a worker that registers with it): a fresh order
    pool.start_scheduler_with(config).await;
    let _again = pool
        .start_worker(pool.worker_config(FIRST_WORKER + 1))
        .await;
    let fresh = wait_offer(&market, &pool, 3).await;
    assert_ne!(fresh.order.salt, offered.order.salt);
    let _ = stop_market.send(());
}

/// A scheduler that stops without withdrawing its pool's orders (killed, its host gone) stops
/// its heartbeats: the market takes the pool's workerpool orders out of the book (`offline`)
/// once the heartbeats' time-to-live passes, and lists them again at the next heartbeat. A
/// heartbeat is refused when replayed, signed by someone else or dated far from the market's
/// clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_silent_scheduler_s_orders_leave_the_book_until_it_beats_again() {
    use dexec_sdk::market::{ClientError, Liveness};

    let mut pool = Pool::start(PoolOptions::default()).await;
    let (market, url, _stop_market) = start_market_with(&pool, Duration::from_secs(1)).await;
    // an order the operator published by hand (no offer policy: nothing withdraws it)
    let owner = pool.chain.client_for(SCHEDULER);
    let order = owner
        .sign_order(WorkerpoolOrder {
            workerpool: pool.workerpool,
            workerpoolprice: U256::from(WORKERPOOL_PRICE),
            volume: U256::from(3),
            trust: U256::from(1),
            salt: B256::from(rand::random::<[u8; 32]>()),
            ..Default::default()
        })
        .await
        .expect("workerpool order");
    let hash = market.publish(&order).await.expect("published").order_hash;
    let status = |market: MarketClient| async move {
        market
            .order(hash)
            .await
            .expect("market answers")
            .expect("known")
            .status
    };
    let workerpool = pool.workerpool;
    let liveness = |market: MarketClient| async move {
        market
            .liveness(workerpool)
            .await
            .expect("liveness")
            .liveness
    };
    assert_eq!(
        liveness(market.clone()).await,
        Liveness::Unknown,
        "no heartbeat yet: the order stays listed"
    );
    assert_eq!(open_orders(&market, &pool).await.len(), 1);

    // a scheduler that beats every 100 ms
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.market_heartbeat = Some((url.clone(), Duration::from_millis(100)));
    pool.start_scheduler_with(config.clone()).await;
    let live = wait_for(Duration::from_secs(20), || async {
        let seen = market.liveness(pool.workerpool).await.ok()?;
        (seen.liveness == Liveness::Live).then_some(seen)
    })
    .await
    .expect("the scheduler's heartbeats reach the market");
    assert!(live.last_heartbeat.is_some());

    // silence: the order leaves the book after the time-to-live, and is said offline
    pool.scheduler.take().expect("running").stop().await;
    let offline = wait_for(Duration::from_secs(20), || async {
        (status(market.clone()).await == BookStatus::Offline).then_some(())
    })
    .await;
    assert!(offline.is_some(), "the silent pool's order is offline");
    assert!(open_orders(&market, &pool).await.is_empty());
    assert_eq!(liveness(market.clone()).await, Liveness::Offline);

    // the scheduler comes back: so does its order
    pool.start_scheduler_with(config).await;
    let back = wait_for(Duration::from_secs(20), || async {
        (status(market.clone()).await == BookStatus::Open).then_some(())
    })
    .await;
    assert!(back.is_some(), "the order is listed again");
    assert_eq!(open_orders(&market, &pool).await.len(), 1);

    // what the market refuses
    let domain = owner.domain();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let stranger = pool.chain.client_for(REQUESTER);
    let refused = |r: Result<_, ClientError>| match r {
        Err(ClientError::Refused { status, message }) => (status, message),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let (code, said) = refused(
        market
            .heartbeat(
                pool.workerpool,
                now + 1,
                stranger.signer().expect("key"),
                &domain,
            )
            .await,
    );
    assert!(code == 403 && said.contains("belongs to"), "{code} {said}");
    let (code, said) = refused(
        market
            .heartbeat(
                pool.workerpool,
                now - 3_600,
                owner.signer().expect("key"),
                &domain,
            )
            .await,
    );
    assert!(code == 422 && said.contains("clock"), "{code} {said}");
    // the scheduler's own last heartbeat, replayed
    let last = market
        .liveness(pool.workerpool)
        .await
        .expect("liveness")
        .last_heartbeat
        .expect("a heartbeat");
    let (code, said) = refused(
        market
            .heartbeat(pool.workerpool, last, owner.signer().expect("key"), &domain)
            .await,
    );
    assert!(code == 409 && said.contains("newer"), "{code} {said}");
}

/// What the scheduler's fill loop decided about `request` (`GET /requests/{hash}`), once it
/// decided `state`.
async fn wait_decision(pool: &Pool, request: B256, state: &str) -> serde_json::Value {
    let url = format!("{}/requests/{request:#x}", pool.scheduler_url());
    let seen = wait_for(Duration::from_secs(30), || async {
        let answer: serde_json::Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
        (answer["state"] == state).then_some(answer)
    })
    .await;
    match seen {
        Some(seen) => seen,
        None => panic!(
            "request {request}: not {state}: {:?}",
            reqwest::get(&url).await.expect("scheduler").text().await
        ),
    }
}

/// Limit orders complete on their own: a request published on the market that the pool's
/// policy accepts is matched by the scheduler against its standing order and runs; requests
/// it must refuse (a workerpool price below its floor, a tag its workers lack) stay open on
/// the market, the reason shown by `GET /requests/{hash}`; a filled request is not matched
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_scheduler_fills_the_limit_orders_its_policy_accepts() {
    let mut pool = Pool::start(PoolOptions::default()).await;
    let (market, url, _stop_market) = start_market(&pool).await;
    pool.scheduler.take().expect("running").stop().await;
    let mut config = pool.scheduler_config(None);
    config.offer = Some(offer_at_pool_price(url, 10));
    config.fill_interval = Some(Duration::from_millis(100));
    pool.start_scheduler_with(config).await;
    let _worker = pool.start_worker(pool.worker_config(FIRST_WORKER)).await;

    let app = pool.deploy_app("hello", &hello_app(0)).await;
    let salt = || B256::from(rand::random::<[u8; 32]>());
    let app_order = pool
        .chain
        .client_for(APP_OWNER)
        .sign_order(AppOrder {
            app,
            appprice: U256::from(APP_PRICE),
            volume: U256::from(10),
            salt: salt(),
            ..Default::default()
        })
        .await
        .expect("app order");
    market
        .publish(&app_order)
        .await
        .expect("app order published");
    let requester = pool.chain.client_for(REQUESTER);
    let me = pool.chain.address(REQUESTER);
    let limit = |workerpoolmaxprice: u64, tag: B256| RequestOrder {
        app,
        appmaxprice: U256::from(APP_PRICE),
        workerpoolmaxprice: U256::from(workerpoolmaxprice),
        requester: me,
        beneficiary: me,
        volume: U256::from(2),
        trust: U256::from(1),
        tag,
        params: r#"{"iexec_args":"limit"}"#.into(),
        salt: salt(),
        ..Default::default()
    };
    let cheap = requester
        .sign_order(limit(WORKERPOOL_PRICE - 1, B256::ZERO))
        .await
        .expect("signed");
    let tee = requester
        .sign_order(limit(
            WORKERPOOL_PRICE,
            dexec_primitives::tag::parse("tee").expect("tag"),
        ))
        .await
        .expect("signed");
    let good = requester
        .sign_order(limit(WORKERPOOL_PRICE, B256::ZERO))
        .await
        .expect("signed");
    let mut hashes = Vec::new();
    for order in [&cheap, &tee, &good] {
        hashes.push(market.publish(order).await.expect("published").order_hash);
    }
    let balance_before = pool.total_on_hub().await;

    let filled = wait_decision(&pool, hashes[2], "filled").await;
    assert_eq!(filled["volume"], 2, "{filled}");
    let deal_id: B256 = filled["deal"]
        .as_str()
        .expect("deal")
        .parse()
        .expect("deal id");
    let deal = pool.chain.reader().deal(deal_id).await.expect("deal");
    assert_eq!(deal.deal.requester, me);
    assert_eq!(
        deal.deal.workerpool_price,
        u128::from(WORKERPOOL_PRICE),
        "matched at the pool's price"
    );
    pool.wait_completed(&deal, Duration::from_secs(60)).await;

    let cheap_why = wait_decision(&pool, hashes[0], "refused").await;
    assert!(
        cheap_why["reason"]
            .as_str()
            .is_some_and(|r| r.contains("below this pool's floor")),
        "{cheap_why}"
    );
    let tee_why = wait_decision(&pool, hashes[1], "refused").await;
    assert!(
        tee_why["reason"]
            .as_str()
            .is_some_and(|r| r.contains("tag bits") && r.contains("tee")),
        "{tee_why}"
    );
    // the refused ones stay open on the market and on chain
    for hash in &hashes[..2] {
        let view = market.order(*hash).await.expect("market").expect("known");
        assert_eq!(view.status, BookStatus::Open, "{hash}");
        assert_eq!(
            requester.consumed(*hash).await.expect("consumed"),
            U256::ZERO
        );
    }
    // never matched twice: more passes, still one deal for it
    let passes = pool.health().await["fill"]["passes"]
        .as_u64()
        .expect("passes");
    wait_for(Duration::from_secs(20), || async {
        (pool.health().await["fill"]["passes"].as_u64()? >= passes + 5).then_some(())
    })
    .await
    .expect("the fill loop keeps passing");
    let again = wait_decision(&pool, hashes[2], "filled").await;
    assert_eq!(again["deals"], 1, "{again}");
    assert_eq!(pool.health().await["fill"]["filled"], 1);
    // money moved between accounts only
    assert_eq!(pool.total_on_hub().await, balance_before);
}
