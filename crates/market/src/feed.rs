//! The live feed: publishes, unpublishes (and other closings) and deals, broadcast to
//! WebSocket clients at `GET /ws?topics=orders,deals`.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use dexec_primitives::OrderKind;
use dexec_sdk::market::{BookStatus, DealView, OrderView};
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

use crate::api::AppState;

/// Capacity of the broadcast channel; a client further behind gets a `lagged` message.
pub(crate) const FEED_CAPACITY: usize = 4096;

/// What a feed message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    Orders,
    Deals,
}

/// A message of the feed, serialized once for every client.
#[derive(Debug, Clone)]
pub(crate) struct FeedEvent {
    pub topic: Topic,
    pub json: Arc<str>,
}

impl FeedEvent {
    pub fn published(view: &OrderView) -> Self {
        let json = serde_json::json!({
            "event": format!("{}_published", view.kind.file_key()),
            "order": view,
        });
        Self {
            topic: Topic::Orders,
            json: json.to_string().into(),
        }
    }

    /// An order left the book: `reason` is its new status (unpublished, filled, cancelled,
    /// dead).
    pub fn closed(kind: OrderKind, hash: &str, reason: BookStatus) -> Self {
        let json = serde_json::json!({
            "event": format!("{}_unpublished", kind.file_key()),
            "orderHash": hash,
            "reason": reason,
        });
        Self {
            topic: Topic::Orders,
            json: json.to_string().into(),
        }
    }

    pub fn deal(deal: &DealView) -> Self {
        let json = serde_json::json!({ "event": "deal_created", "deal": deal });
        Self {
            topic: Topic::Deals,
            json: json.to_string().into(),
        }
    }
}

/// `GET /ws` query.
#[derive(Debug, Deserialize)]
pub(crate) struct WsQuery {
    /// Comma-separated topics: `orders`, `deals` (default: both).
    topics: Option<String>,
}

pub(crate) async fn ws(
    State(state): State<AppState>,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, crate::Error> {
    let query = query.map_err(|e| crate::Error::BadRequest(e.body_text()))?;
    let mut orders = true;
    let mut deals = true;
    if let Some(topics) = &query.topics {
        orders = false;
        deals = false;
        for t in topics.split(',').map(str::trim) {
            match t {
                "orders" => orders = true,
                "deals" => deals = true,
                other => {
                    return Err(crate::Error::BadRequest(format!(
                        "unknown topic `{other}`: use topics=orders, topics=deals or topics=orders,deals"
                    )))
                }
            }
        }
    }
    let upgrade = upgrade.map_err(|e| {
        crate::Error::BadRequest(format!(
            "/ws is a WebSocket: connect with a WebSocket client ({})",
            e.body_text()
        ))
    })?;
    let rx = state.shared.feed.subscribe();
    let stop = state.shared.stop.clone();
    Ok(upgrade.on_upgrade(move |socket| forward(socket, rx, stop, orders, deals)))
}

async fn forward(
    mut socket: WebSocket,
    mut rx: broadcast::Receiver<FeedEvent>,
    mut stop: watch::Receiver<bool>,
    orders: bool,
    deals: bool,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            event = rx.recv() => match event {
                Ok(event) => {
                    let wanted = match event.topic {
                        Topic::Orders => orders,
                        Topic::Deals => deals,
                    };
                    if wanted && socket.send(Message::Text(event.json.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let msg = serde_json::json!({ "event": "lagged", "missed": missed }).to_string();
                    if socket.send(Message::Text(msg.into())).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
