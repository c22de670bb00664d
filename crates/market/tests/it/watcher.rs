//! The watcher: orders filled, cancelled and dead while the market was down are found on
//! restart; replaying is harmless.

use dexec_sdk::{AssetKind, MatchInput};

use crate::*;

#[tokio::test]
async fn catch_up_after_downtime() {
    let world = World::new().await;
    let w = &world;
    let market = w.market().await;
    let app = w.sign(w.app_order(100, 1), APP_OWNER);
    let spare = w.sign(w.app_order(200, 2), APP_OWNER);
    let pool = w.sign(w.pool_order(300, 3), POOL_OWNER);
    let request = w.sign(w.request_order(300, 4), REQUESTER);
    let data = w.sign(w.dataset_order(5, 5), DATASET_OWNER);
    let mut hash = std::collections::HashMap::new();
    for (name, kind, status_body) in [
        ("app", "app", market.publish("app", &app).await),
        ("spare", "app", market.publish("app", &spare).await),
        (
            "pool",
            "workerpool",
            market.publish("workerpool", &pool).await,
        ),
        (
            "request",
            "request",
            market.publish("request", &request).await,
        ),
        ("data", "dataset", market.publish("dataset", &data).await),
    ] {
        assert_eq!(status_body.0, 201, "{name}: {}", status_body.1);
        hash.insert(
            name,
            (
                kind,
                status_body.1["orderHash"].as_str().unwrap().to_owned(),
            ),
        );
    }
    market.stop().await;

    // while the market is down: a deal, a cancel, a transfer
    let requester = w.client(REQUESTER);
    let matched = requester
        .match_orders(&MatchInput {
            app: app.clone(),
            dataset: None,
            workerpool: pool.clone(),
            request: request.clone(),
        })
        .await
        .expect("match");
    w.client(APP_OWNER)
        .cancel_order(&spare.order)
        .await
        .expect("cancel");
    w.client(DATASET_OWNER)
        .transfer_asset(AssetKind::Dataset, w.dataset, w.chain.address(STRANGER))
        .await
        .expect("transfer");

    let market = w.market().await;
    let path = |name: &str| {
        let (kind, h) = &hash[name];
        format!("/{kind}orders/{h}")
    };
    market
        .wait(&path("request"), |o| o["status"] == "filled")
        .await;
    let app_view = market.wait(&path("app"), |o| o["remaining"] == 8).await;
    assert_eq!(app_view["status"], "open");
    assert_eq!(market.get(&path("pool")).await.1["remaining"], 8);
    market
        .wait(&path("spare"), |o| o["status"] == "cancelled")
        .await;
    market.wait(&path("data"), |o| o["status"] == "dead").await;

    let (_, deals) = market
        .get(&format!("/deals?requester={}", w.chain.address(REQUESTER)))
        .await;
    assert_eq!(deals["count"], 1, "{deals}");
    let deal = &deals["deals"][0];
    assert_eq!(deal["dealId"], format!("{:#x}", matched.deal_id));
    assert_eq!(deal["volume"], 2);
    assert_eq!(deal["workerpoolPrice"], 300);
    let (status, one) = market.get(&format!("/deals/{:#x}", matched.deal_id)).await;
    assert_eq!((status, &one), (200, deal));
    let (_, by_order) = market
        .get(&format!("/deals?orderHash={}", hash["app"].1))
        .await;
    assert_eq!(by_order["count"], 1);
    let (_, ohlc) = market.get("/ohlc?category=0").await;
    assert_eq!(ohlc["lastPrice"], 300, "{ohlc}");
    assert_eq!(ohlc["candles"][0]["volume"], 2);
    // the listed book: only the partially used app order is left among app orders
    let (_, page) = market.get(&format!("/apporders?app={}", w.app)).await;
    assert_eq!(page["count"], 1);
    // republishing a dead order under its old owner's signature is refused (the owner changed)
    let (status, body) = market.publish("dataset", &data).await;
    assert_eq!(status, 403, "{body}");
    market.stop().await;

    // a restart replays nothing twice: a block is mined after the restart, and once the
    // watcher's cursor is past it, whatever it replayed is applied
    let market = w.market().await;
    w.chain.advance_time(1).await.expect("a new block");
    let head = w.client(REQUESTER).block_number().await.unwrap();
    market
        .wait("/health", |h| {
            h["nextBlock"].as_u64().is_some_and(|n| n > head)
        })
        .await;
    let (_, deals) = market.get("/deals").await;
    assert_eq!(deals["count"], 1);
    assert_eq!(market.get(&path("app")).await.1["remaining"], 8);
    market.stop().await;
}

#[tokio::test]
async fn a_transfer_kills_the_old_owners_orders_and_refuses_new_ones() {
    let world = World::new().await;
    let w = &world;
    let market = w.market().await;
    // the owner is read once and cached
    let (status, listed) = market
        .publish("app", &w.sign(w.app_order(1, 1), APP_OWNER))
        .await;
    assert_eq!(status, 201, "{listed}");
    let hash = listed["orderHash"].as_str().unwrap();
    w.client(APP_OWNER)
        .transfer_asset(AssetKind::App, w.app, w.chain.address(STRANGER))
        .await
        .expect("transfer");
    market
        .wait(&format!("/apporders/{hash}"), |o| o["status"] == "dead")
        .await;
    // the watcher updated the cached owner: the old owner is refused, the new one accepted
    let (status, body) = market
        .publish("app", &w.sign(w.app_order(1, 2), APP_OWNER))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        sentence(&body).contains(&format!("{}", w.chain.address(STRANGER))),
        "{body}"
    );
    let (status, body) = market
        .publish("app", &w.sign(w.app_order(1, 2), STRANGER))
        .await;
    assert_eq!(status, 201, "{body}");
    market.stop().await;
}

#[tokio::test]
async fn a_drained_account_s_orders_die_and_new_ones_are_refused() {
    let world = World::new().await;
    let w = &world;
    let market = w.market().await;
    // both balances are read once and trusted for 10 s
    let (status, request) = market
        .publish("request", &w.sign(w.request_order(100, 1), REQUESTER))
        .await;
    assert_eq!(status, 201, "{request}");
    let (status, pool) = market
        .publish("workerpool", &w.sign(w.pool_order(1_000, 1), POOL_OWNER))
        .await;
    assert_eq!(status, 201, "{pool}");
    for who in [REQUESTER, POOL_OWNER] {
        let client = w.client(who);
        let free = client
            .account(w.chain.address(who))
            .await
            .unwrap()
            .hub_balance;
        client.withdraw(free).await.expect("withdraw all");
    }
    for (kind, view) in [("request", &request), ("workerpool", &pool)] {
        let hash = view["orderHash"].as_str().unwrap();
        market
            .wait(&format!("/{kind}orders/{hash}"), |o| o["status"] == "dead")
            .await;
    }
    // within the 10 s a balance is trusted: refused all the same, the watcher re-read it
    let (status, body) = market
        .publish("request", &w.sign(w.request_order(100, 2), REQUESTER))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(sentence(&body).contains("deposit more"), "{body}");
    let (status, body) = market
        .publish("workerpool", &w.sign(w.pool_order(1_000, 2), POOL_OWNER))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(sentence(&body).contains("stake"), "{body}");
    // republishing the dead order is refused too
    let (status, body) = market
        .publish("request", &w.sign(w.request_order(100, 1), REQUESTER))
        .await;
    assert_eq!(status, 422, "{body}");
    market.stop().await;
}
