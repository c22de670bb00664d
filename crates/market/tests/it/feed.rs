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
    let mut committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/openapi/market.json"
        ))
        .unwrap(),
    )
    .unwrap();
    // served = committed, with chainId limited to this chain and params to what this
    // market's --max-params-size always admits
    let config = world.config();
    for item in committed["paths"].as_object_mut().unwrap().values_mut() {
        for op in item.as_object_mut().unwrap().values_mut() {
            for param in op["parameters"].as_array_mut().into_iter().flatten() {
                if param["name"] == "chainId" {
                    param["schema"] = json!({"type": "integer", "enum": [world.chain.chain_id]});
                }
            }
        }
    }
    committed["components"]["schemas"]["Params"]["maxLength"] = json!(config.max_params_size / 4);
    if let Some(at) = first_difference(&served, &committed, String::new()) {
        panic!(
            "the served document differs from docs/openapi/market.json at {at} (stale? \
             `make openapi`)"
        );
    }
    let (status, body) = market.get("/nowhere").await;
    assert_eq!(status, 404);
    assert!(sentence(&body).contains("openapi"));
    market.stop().await;
}

/// Where `a` and `b` first differ, as a JSON pointer.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<_> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                first_difference(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    format!("{at}/{k}"),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, format!("{at}/{i}"))),
        _ => (a != b).then(|| format!("{at}: {a} != {b}")),
    }
}
