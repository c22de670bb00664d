//! Hostile and mistaken inputs: each refused with a 4xx and a sentence.

use alloy::primitives::{Address, Bytes, U256};
use dexec_market::Rate;
use dexec_primitives::{domain, AppOrder, RequestOrder, Signed};
use dexec_sdk::market::sign_unpublish;
use serde_json::{json, Value};

use crate::*;

#[tokio::test]
async fn malformed_and_forged_orders_are_refused() {
    let world = World::new().await;
    let w = &world;
    let market = w.market().await;

    // malformed JSON, wrong shape, out-of-range numbers
    let r = market
        .http
        .post(market.url("/apporders"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(sentence(&r.json().await.unwrap()).contains("must be JSON"));
    let (status, body) = market
        .post("/apporders", &json!({"order": {"app": "0x12"}}))
        .await;
    assert_eq!(status, 400, "{body}");
    let huge = w.sign(
        AppOrder {
            appprice: U256::MAX,
            ..w.app_order(1, 1)
        },
        APP_OWNER,
    );
    let (status, body) = market.publish("app", &huge).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        sentence(&body).contains("more than an order may ask"),
        "{body}"
    );
    let (status, _) = market
        .post(
            "/apporders?chainId=5",
            &json!({"order": w.sign(w.app_order(1, 1), APP_OWNER)}),
        )
        .await;
    assert_eq!(status, 400);

    // signatures under another hub or another chain recover someone else
    for d in [
        domain(w.chain.chain_id, Address::repeat_byte(0x42)),
        domain(w.chain.chain_id + 1, w.chain.deployment.hub),
    ] {
        let forged = Signed::sign(w.app_order(1, 2), &d, &w.signer(APP_OWNER)).unwrap();
        let (status, body) = market.publish("app", &forged).await;
        assert_eq!(status, 403, "{body}");
        assert!(sentence(&body).contains("owner must sign"), "{body}");
        let forged = Signed::sign(w.request_order(1, 2), &d, &w.signer(REQUESTER)).unwrap();
        let (status, body) = market.publish("request", &forged).await;
        assert_eq!(status, 403, "{body}");
    }

    // bad signatures
    let mut bad = w.sign(w.app_order(1, 3), APP_OWNER);
    bad.sign = Bytes::from_static(&[1, 2, 3]);
    let (status, body) = market.publish("app", &bad).await;
    assert_eq!(status, 400, "{body}");
    assert!(sentence(&body).contains("65-byte"), "{body}");
    let mut high_s = w.sign(w.app_order(1, 3), APP_OWNER);
    let mut raw = high_s.sign.to_vec();
    // s' = n - s, v flipped: the malleable twin of a valid signature
    let n = U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )
    .unwrap();
    let s = U256::from_be_slice(&raw[32..64]);
    raw[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    raw[64] = if raw[64] == 27 { 28 } else { 27 };
    high_s.sign = raw.into();
    // well-formed signatures that authorize no one: refused as a wrong signer is (403)
    let (status, body) = market.publish("app", &high_s).await;
    assert_eq!(status, 403, "{body}");
    assert!(sentence(&body).contains("high `s`"), "{body}");
    let mut off_curve = w.sign(w.app_order(1, 3), APP_OWNER);
    let mut raw = off_curve.sign.to_vec();
    raw[..32].fill(0); // r = 0 is no point's x
    off_curve.sign = raw.into();
    let (status, body) = market.publish("app", &off_curve).await;
    assert_eq!(status, 403, "{body}");
    assert!(sentence(&body).contains("recovers no signer"), "{body}");
    let unsigned = Signed::unsigned(w.app_order(1, 3));
    let (status, body) = market.publish("app", &unsigned).await;
    assert_eq!(status, 403, "{body}");
    assert!(sentence(&body).contains("not presigned"), "{body}");

    // non-owner signer, request signed by someone else, unregistered asset
    let (status, body) = market
        .publish("app", &w.sign(w.app_order(1, 4), STRANGER))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = market
        .publish("request", &w.sign(w.request_order(1, 4), STRANGER))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        sentence(&body).contains("signed by its requester"),
        "{body}"
    );
    let ghost = w.sign(
        AppOrder {
            app: Address::repeat_byte(0x77),
            ..w.app_order(1, 4)
        },
        APP_OWNER,
    );
    let (status, body) = market.publish("app", &ghost).await;
    assert_eq!(status, 422, "{body}");
    assert!(sentence(&body).contains("not registered"), "{body}");

    // a field the order does not have is refused, not dropped from what was signed; `5.0` is
    // the integer 5, as JSON Schema says
    let mut extra = json!({"order": w.sign(w.app_order(1, 8), APP_OWNER)});
    extra["order"]["apprestrict"] = json!(format!("{:#x}", Address::ZERO));
    let (status, body) = market.post("/apporders", &extra).await;
    assert_eq!(status, 400, "{body}");
    assert!(sentence(&body).contains("no field `apprestrict`"), "{body}");
    let mut float = json!({"order": w.sign(w.app_order(1, 8), APP_OWNER)});
    float["order"]["volume"] = json!(10.0);
    let (status, body) = market.post("/apporders", &float).await;
    assert_eq!(status, 201, "{body}");
    // max prices that each fit but add up past 2^63 - 1: no balance pays them (422)
    let sum = w.sign(
        RequestOrder {
            appmaxprice: U256::from(i64::MAX as u64),
            workerpoolmaxprice: U256::from(1),
            ..w.request_order(1, 9)
        },
        REQUESTER,
    );
    let (status, body) = market.publish("request", &sum).await;
    assert_eq!(status, 422, "{body}");

    // duplicates
    let good = w.sign(w.app_order(1, 5), APP_OWNER);
    assert_eq!(market.publish("app", &good).await.0, 201);
    let (status, body) = market.publish("app", &good).await;
    assert_eq!(status, 409, "{body}");

    // a request whose max prices exceed the requester's free balance
    let rich = w.sign(
        RequestOrder {
            appmaxprice: U256::from(10u128.pow(18)),
            ..w.request_order(1, 6)
        },
        REQUESTER,
    );
    let (status, body) = market.publish("request", &rich).await;
    assert_eq!(status, 422, "{body}");
    assert!(sentence(&body).contains("deposit more"), "{body}");

    // oversized params and body
    let fat = w.sign(
        RequestOrder {
            params: "x".repeat(5000),
            ..w.request_order(1, 7)
        },
        REQUESTER,
    );
    let (status, body) = market.publish("request", &fat).await;
    assert_eq!(status, 413, "{body}");
    assert!(sentence(&body).contains("params"), "{body}");
    let fatter = w.sign(
        RequestOrder {
            params: "x".repeat(40_000),
            ..w.request_order(1, 7)
        },
        REQUESTER,
    );
    let (status, body) = market.publish("request", &fatter).await;
    assert_eq!(status, 413, "{body}");
    assert!(sentence(&body).contains("larger than"), "{body}");
    market.stop().await;
}

#[tokio::test]
async fn errors_axum_answers_itself_are_json_too() {
    let world = World::new().await;
    let market = world.market().await;
    // a method the path does not serve: 405 with Allow, and the error body
    let r = market
        .http
        .delete(market.url("/apporders"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["content-type"], "application/json");
    let allow = r.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let body: Value = r.json().await.unwrap();
    assert!(sentence(&body).contains("DELETE is not served"), "{body}");
    // a path no route knows; a path segment that is not UTF-8
    for (path, status) in [("/nothing", 404), ("/orders/%FF", 400)] {
        let r = market.http.get(market.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(!sentence(&body).is_empty(), "{path}");
    }
    // an unpublish body over the limit
    let r = market
        .http
        .post(market.url(&format!("/orders/0x{}/unpublish", "1".repeat(64))))
        .body(vec![b' '; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let body: Value = r.json().await.unwrap();
    assert!(sentence(&body).contains("larger than"), "{body}");
    market.stop().await;
}

#[tokio::test]
async fn unpublish_needs_the_signer_and_cannot_be_replayed() {
    let world = World::new().await;
    let w = &world;
    let market = w.market().await;
    let (_, published) = market
        .publish("app", &w.sign(w.app_order(1, 1), APP_OWNER))
        .await;
    let hash = published["orderHash"].as_str().unwrap().to_owned();
    let publication = published["publication"].as_i64().unwrap();
    let path = format!("/orders/{hash}/unpublish");

    // a stranger, or the owner signing for another publication or hub
    let stranger = sign_unpublish(
        &w.signer(STRANGER),
        &w.domain(),
        hash.parse().unwrap(),
        publication,
    )
    .unwrap();
    let (status, body) = market.post(&path, &stranger).await;
    assert_eq!(status, 403, "{body}");
    let other_hub = sign_unpublish(
        &w.signer(APP_OWNER),
        &domain(w.chain.chain_id, Address::repeat_byte(1)),
        hash.parse().unwrap(),
        publication,
    )
    .unwrap();
    assert_eq!(market.post(&path, &other_hub).await.0, 403);
    let (status, _) = market
        .post(
            &path,
            &json!({"publication": publication, "sign": "0x1234"}),
        )
        .await;
    assert_eq!(status, 400);

    // personal_sign works too
    let owner = w.signer(APP_OWNER);
    let message = dexec_sdk::market::unpublish_message(hash.parse().unwrap(), publication);
    let signature =
        alloy::signers::SignerSync::sign_message_sync(&owner, message.as_bytes()).unwrap();
    let personal = json!({"publication": publication, "sign": Bytes::copy_from_slice(&signature.as_bytes()), "scheme": "personal"});
    let (status, body) = market.post(&path, &personal).await;
    assert_eq!(status, 200, "{body}");

    // replayed: nothing to unpublish; after a republish: names an old publication
    let (status, body) = market.post(&path, &personal).await;
    assert_eq!(status, 409, "{body}");
    let (status, republished) = market
        .publish("app", &w.sign(w.app_order(1, 1), APP_OWNER))
        .await;
    assert_eq!(status, 201);
    let (status, body) = market.post(&path, &personal).await;
    assert_eq!(status, 409, "{body}");
    assert!(sentence(&body).contains("republished"), "{body}");
    let (_, got) = market.get(&format!("/apporders/{hash}")).await;
    assert_eq!(got["status"], "open");
    assert_eq!(got["publication"], republished["publication"]);
    let (status, _) = market.post("/orders/0x12/unpublish", &personal).await;
    assert_eq!(status, 400);
    market.stop().await;
}

#[tokio::test]
async fn limits_open_orders_and_rates() {
    let world = World::new().await;
    let w = &world;
    let mut config = w.config();
    config.max_open_orders = 2;
    config.per_address = Rate {
        per_second: 0.01,
        burst: 3,
    };
    let market = Market::spawn(config).await;
    for salt in 1..=2 {
        assert_eq!(
            market
                .publish("app", &w.sign(w.app_order(1, salt), APP_OWNER))
                .await
                .0,
            201
        );
    }
    let (status, body) = market
        .publish("app", &w.sign(w.app_order(1, 3), APP_OWNER))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(sentence(&body).contains("open app orders"), "{body}");
    // other kinds count apart
    assert_eq!(
        market
            .publish("request", &w.sign(w.request_order(1, 1), REQUESTER))
            .await
            .0,
        201
    );
    // the owner's bucket (3 tokens) is now empty
    let (status, body) = market
        .publish("app", &w.sign(w.app_order(1, 4), APP_OWNER))
        .await;
    assert_eq!(status, 429, "{body}");
    assert!(sentence(&body).contains("retry in"), "{body}");
    market.stop().await;

    let mut config = w.config();
    config.per_ip = Rate {
        per_second: 0.01,
        burst: 3,
    };
    let market = Market::spawn(config).await;
    for _ in 0..3 {
        assert_eq!(market.get("/health").await.0, 200);
    }
    let (status, body) = market.get("/health").await;
    assert_eq!(status, 429);
    assert!(sentence(&body).contains("too many requests"), "{body}");
    market.stop().await;
}

#[tokio::test]
async fn exhausted_orders_are_refused() {
    let world = World::new().await;
    let w = &world;
    let market = w.market().await;
    let owner = w.client(APP_OWNER);
    // cancel one order never published, then one published; once the watcher has seen the
    // second, it has seen the first
    let never = w.app_order(1, 1);
    let listed = w.sign(w.app_order(1, 2), APP_OWNER);
    let (_, published) = market.publish("app", &listed).await;
    owner.cancel_order(&never).await.unwrap();
    owner.cancel_order(&listed.order).await.unwrap();
    let hash = published["orderHash"].as_str().unwrap();
    market
        .wait(&format!("/apporders/{hash}"), |o| {
            o["status"] == "cancelled"
        })
        .await;
    let (status, body) = market.publish("app", &w.sign(never, APP_OWNER)).await;
    assert_eq!(status, 422, "{body}");
    assert!(sentence(&body).contains("cancelled"), "{body}");
    let (status, body) = market.publish("app", &listed).await;
    assert_eq!(status, 422, "{body}");
    market.stop().await;
}
