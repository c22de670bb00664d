//! Publish, get, query and unpublish round trips for the four kinds; sorting and filters.

use alloy::primitives::{Address, U256};
use dexec_primitives::tag;
use dexec_sdk::market::sign_unpublish;
use serde_json::Value;

use crate::*;

fn hashes(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderHash"].as_str().unwrap().to_owned())
        .collect()
}

async fn round_trip<T: serde::Serialize>(
    world: &World,
    market: &Market,
    kind: &str,
    signed: &dexec_primitives::Signed<T>,
    signer: usize,
    query: &str,
) {
    let (status, published) = market.publish(kind, signed).await;
    assert_eq!(status, 201, "{kind}: {published}");
    let hash = published["orderHash"].as_str().unwrap().to_owned();
    assert_eq!(published["status"], "open");
    assert_eq!(
        published["signer"].as_str().unwrap().to_lowercase(),
        format!("{:#x}", world.chain.address(signer))
    );
    assert_eq!(published["chainId"], world.chain.chain_id);

    let (status, got) = market.get(&format!("/{kind}orders/{hash}")).await;
    assert_eq!(status, 200);
    assert_eq!(got, published);
    assert_eq!(
        got["order"]["sign"],
        serde_json::to_value(signed).unwrap()["sign"]
    );

    let (status, page) = market.get(&format!("/{kind}orders?{query}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(hashes(&page), vec![hash.clone()], "{kind}: {page}");
    assert_eq!(page["count"], 1);

    let publication = published["publication"].as_i64().unwrap();
    let body = sign_unpublish(
        &world.signer(signer),
        &world.domain(),
        hash.parse().unwrap(),
        publication,
    )
    .unwrap();
    let (status, unpublished) = market
        .post(&format!("/orders/{hash}/unpublish"), &body)
        .await;
    assert_eq!(status, 200, "{unpublished}");
    assert_eq!(unpublished["status"], "unpublished");
    let (_, page) = market.get(&format!("/{kind}orders?{query}")).await;
    assert!(
        hashes(&page).is_empty(),
        "{kind}: unpublished orders are not listed"
    );

    // an unpublished order may be published again, under a new publication number
    let (status, again) = market.publish(kind, signed).await;
    assert_eq!(status, 201, "{again}");
    assert!(again["publication"].as_i64().unwrap() > publication);
}

#[tokio::test]
async fn publish_query_unpublish_each_kind() {
    let world = World::new().await;
    let market = world.market().await;
    let w = &world;
    round_trip(
        w,
        &market,
        "app",
        &w.sign(w.app_order(5, 1), APP_OWNER),
        APP_OWNER,
        &format!("app={}", w.app),
    )
    .await;
    round_trip(
        w,
        &market,
        "dataset",
        &w.sign(w.dataset_order(5, 2), DATASET_OWNER),
        DATASET_OWNER,
        &format!("dataset={}", w.dataset),
    )
    .await;
    round_trip(
        w,
        &market,
        "workerpool",
        &w.sign(w.pool_order(5, 3), POOL_OWNER),
        POOL_OWNER,
        "category=0",
    )
    .await;
    round_trip(
        w,
        &market,
        "request",
        &w.sign(w.request_order(5, 4), REQUESTER),
        REQUESTER,
        &format!("app={}", w.app),
    )
    .await;

    // kind-agnostic lookup, and a lookup under the wrong kind
    let signed = w.sign(w.app_order(6, 9), APP_OWNER);
    let (_, published) = market.publish("app", &signed).await;
    let hash = published["orderHash"].as_str().unwrap();
    assert_eq!(market.get(&format!("/orders/{hash}")).await.0, 200);
    let (status, body) = market.get(&format!("/requestorders/{hash}")).await;
    assert_eq!(status, 404);
    assert!(sentence(&body).contains("/apporders/"), "{body}");
    market.stop().await;
}

#[tokio::test]
async fn sorting_and_filters() {
    let world = World::new().await;
    let w = &world;
    let market = w.market().await;
    // app orders: price ascending, then publication time
    let mut expected = Vec::new();
    for (price, salt) in [(30, 1), (10, 2), (20, 3), (10, 4)] {
        let (status, body) = market
            .publish("app", &w.sign(w.app_order(price, salt), APP_OWNER))
            .await;
        assert_eq!(status, 201, "{body}");
        expected.push((price, body["orderHash"].as_str().unwrap().to_owned()));
    }
    expected.sort_by_key(|(price, _)| *price); // stable: publication order within a price
    let (_, page) = market.get(&format!("/apporders?app={}", w.app)).await;
    assert_eq!(
        hashes(&page),
        expected.iter().map(|(_, h)| h.clone()).collect::<Vec<_>>()
    );

    // paging
    let (_, first) = market
        .get(&format!("/apporders?app={}&pageSize=10", w.app))
        .await;
    assert_eq!(first["count"], 4);
    assert_eq!(first["nextPage"], Value::Null);
    let more: Vec<String> = {
        let mut hashes = Vec::new();
        for salt in 20..28 {
            let (status, body) = market
                .publish("app", &w.sign(w.app_order(40, salt), APP_OWNER))
                .await;
            assert_eq!(status, 201, "{body}");
            hashes.push(body["orderHash"].as_str().unwrap().to_owned());
        }
        hashes
    };
    let path = |index: u64| format!("/apporders?app={}&pageSize=10&pageIndex={index}", w.app);
    let (_, page0) = market.get(&path(0)).await;
    assert_eq!(
        (page0["count"].as_i64(), page0["nextPage"].as_u64()),
        (Some(12), Some(1))
    );
    let (_, page1) = market.get(&path(1)).await;
    assert_eq!(page1["count"], 12, "{page1}");
    assert_eq!(page1["nextPage"], Value::Null);
    assert_eq!(
        hashes(&page1),
        more[6..].to_vec(),
        "the two dearest, by publication"
    );
    let (_, past) = market.get(&path(5)).await;
    assert!(hashes(&past).is_empty());
    assert_eq!(
        past["count"], 12,
        "a page past the end still counts: {past}"
    );
    for hash in &more {
        let (status, published) = market.get(&format!("/apporders/{hash}")).await;
        assert_eq!(status, 200);
        let body = sign_unpublish(
            &w.signer(APP_OWNER),
            &w.domain(),
            hash.parse().unwrap(),
            published["publication"].as_i64().unwrap(),
        )
        .unwrap();
        let (status, _) = market
            .post(&format!("/orders/{hash}/unpublish"), &body)
            .await;
        assert_eq!(status, 200);
    }

    // restrictions: omitted → unrestricted only; given → restricted to it or unrestricted;
    // strict → restricted to it only; any → all
    let requester = w.chain.address(REQUESTER);
    let restricted = market
        .publish(
            "app",
            &w.sign(
                dexec_primitives::AppOrder {
                    requesterrestrict: requester,
                    ..w.app_order(1, 5)
                },
                APP_OWNER,
            ),
        )
        .await
        .1["orderHash"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, page) = market.get(&format!("/apporders?app={}", w.app)).await;
    assert!(!hashes(&page).contains(&restricted));
    let (_, page) = market
        .get(&format!("/apporders?app={}&requester={requester}", w.app))
        .await;
    assert_eq!(hashes(&page)[0], restricted, "cheapest first");
    assert_eq!(page["count"], 5);
    let (_, page) = market
        .get(&format!(
            "/apporders?app={}&requester={requester}&isRequesterStrict=true",
            w.app
        ))
        .await;
    assert_eq!(hashes(&page), vec![restricted.clone()]);
    let (_, page) = market
        .get(&format!("/apporders?app={}&requester=any", w.app))
        .await;
    assert_eq!(page["count"], 5);
    let (_, page) = market
        .get(&format!(
            "/apporders?app={}&requester={}",
            w.app,
            Address::repeat_byte(9)
        ))
        .await;
    assert_eq!(page["count"], 4, "restricted to someone else: not listed");

    // tags, trust, category, volume on workerpool orders
    let tee_gpu = market
        .publish(
            "workerpool",
            &w.sign(
                dexec_primitives::WorkerpoolOrder {
                    tag: tag::TEE | tag::GPU,
                    trust: U256::from(5),
                    ..w.pool_order(100, 6)
                },
                POOL_OWNER,
            ),
        )
        .await
        .1["orderHash"]
        .as_str()
        .unwrap()
        .to_owned();
    let plain = market
        .publish(
            "workerpool",
            &w.sign(
                dexec_primitives::WorkerpoolOrder {
                    category: U256::from(2),
                    volume: U256::from(3),
                    ..w.pool_order(50, 7)
                },
                POOL_OWNER,
            ),
        )
        .await
        .1["orderHash"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, page) = market.get("/workerpoolorders?minTag=tee").await;
    assert_eq!(hashes(&page), vec![tee_gpu.clone()]);
    let (_, page) = market.get("/workerpoolorders?minTag=0x1&maxTag=tee").await;
    assert!(hashes(&page).is_empty(), "gpu is outside maxTag");
    let (_, page) = market.get("/workerpoolorders?maxTag=tee").await;
    assert_eq!(hashes(&page), vec![plain.clone()]);
    let (_, page) = market.get("/workerpoolorders?minTrust=3").await;
    assert_eq!(hashes(&page), vec![tee_gpu.clone()]);
    let (_, page) = market.get("/workerpoolorders?category=2").await;
    assert_eq!(hashes(&page), vec![plain.clone()]);
    let (_, page) = market.get("/workerpoolorders?minVolume=5").await;
    assert_eq!(hashes(&page), vec![tee_gpu.clone()]);
    let (_, page) = market
        .get(&format!(
            "/workerpoolorders?workerpoolOwner={}",
            w.chain.address(POOL_OWNER)
        ))
        .await;
    assert_eq!(hashes(&page), vec![plain, tee_gpu], "price ascending");

    // requests: workerpoolmaxprice descending
    let low = market
        .publish("request", &w.sign(w.request_order(10, 8), REQUESTER))
        .await
        .1["orderHash"]
        .as_str()
        .unwrap()
        .to_owned();
    let high = market
        .publish("request", &w.sign(w.request_order(90, 9), REQUESTER))
        .await
        .1["orderHash"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, page) = market
        .get(&format!(
            "/requestorders?requester={requester}&app={}",
            w.app
        ))
        .await;
    assert_eq!(hashes(&page), vec![high, low]);
    let (_, page) = market
        .get(&format!(
            "/requestorders?beneficiary={}",
            Address::repeat_byte(3)
        ))
        .await;
    assert!(hashes(&page).is_empty());

    // bad filters say what to fix
    for (path, needle) in [
        ("/apporders?app=nope", "`app` must be an address"),
        ("/apporders?pageSize=5000", "pageSize"),
        ("/apporders?minTag=fpga", "minTag"),
        ("/apporders?colour=red", "unknown field"),
        ("/apporders?chainId=1", "serves chain"),
    ] {
        let (status, body) = market.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(sentence(&body).contains(needle), "{path}: {body}");
    }
    market.stop().await;
}
