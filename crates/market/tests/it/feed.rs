//! The WebSocket feed.

use std::time::Duration;

use dexec_sdk::market::sign_unpublish;
use dexec_sdk::MatchInput;
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::*;

async fn next_event(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("an event in time")
            .expect("open")
            .expect("message");
        if let Message::Text(text) = msg {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[tokio::test]
async fn feed_streams_publishes_unpublishes_and_deals() {
    let world = World::new().await;
    let w = &world;
    let market = w.market().await;
    let (mut orders, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws?topics=orders", market.addr))
            .await
            .unwrap();
    let (mut deals, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws?topics=deals", market.addr))
            .await
            .unwrap();
    let (status, body) = market.get("/ws?topics=gossip").await;
    assert_eq!(status, 400, "{body}");

    let app = w.sign(w.app_order(1, 1), APP_OWNER);
    let (_, published) = market.publish("app", &app).await;
    let event = next_event(&mut orders).await;
    assert_eq!(event["event"], "apporder_published");
    assert_eq!(event["order"], published);

    let hash = published["orderHash"].as_str().unwrap();
    let body = sign_unpublish(
        &w.signer(APP_OWNER),
        &w.domain(),
        hash.parse().unwrap(),
        published["publication"].as_i64().unwrap(),
    )
    .unwrap();
    assert_eq!(
        market
            .post(&format!("/orders/{hash}/unpublish"), &body)
            .await
            .0,
        200
    );
    let event = next_event(&mut orders).await;
    assert_eq!(event["event"], "apporder_unpublished");
    assert_eq!(event["orderHash"], hash);
    assert_eq!(event["reason"], "unpublished");

    let pool = w.sign(w.pool_order(3, 2), POOL_OWNER);
    let request = w.sign(w.request_order(3, 3), REQUESTER);
    let matched = w
        .client(REQUESTER)
        .match_orders(&MatchInput {
            app,
            dataset: None,
            workerpool: pool,
            request,
        })
        .await
        .unwrap();
    let event = next_event(&mut deals).await;
    assert_eq!(event["event"], "deal_created");
    assert_eq!(event["deal"]["dealId"], format!("{:#x}", matched.deal_id));
    market.stop().await;
}

#[tokio::test]
async fn openapi_is_served_and_committed() {
    let world = World::new().await;
    let market = world.market().await;
    let (status, served) = market.get("/openapi.json").await;
    assert_eq!(status, 200);
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/openapi/market.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(served, committed, "docs/openapi/market.json is stale: DEXEC_BLESS=1 cargo test -p dexec-market committed_spec");
    let (status, body) = market.get("/nowhere").await;
    assert_eq!(status, 404);
    assert!(sentence(&body).contains("openapi"));
    market.stop().await;
}
