//! [`MarketClient`]: the HTTP client of a market, used by the CLI (`dexec order publish`,
//! `dexec orderbook`, `dexec app run`), schedulers and anyone who builds matches.

use std::time::Duration;

use alloy::primitives::{Address, B256};
use alloy::signers::SignerSync;
use alloy::sol_types::Eip712Domain;
use dexec_primitives::{OrderKind, Signed};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

use super::liveness::{sign_heartbeat, PoolLiveness};
use super::query::{DealQuery, OrderQuery};
use super::types::{
    sign_unpublish, DealPage, DealView, Health, MarketOrder, OrderPage, OrderView, PublishBody,
};
use crate::ErrorBody;

/// What can go wrong talking to a market.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The market URL is not usable.
    #[error("`{0}` is not an http(s) URL of a market")]
    BadUrl(String),
    /// The market could not be reached or did not answer in time.
    #[error("the market at {url} cannot be reached: {source}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The market refused the request (4xx); `message` is its sentence saying what to fix.
    #[error("the market refused it: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The market's sentence.
        message: String,
    },
    /// The market failed (5xx).
    #[error("the market failed ({status}): {message}")]
    Failed {
        /// HTTP status.
        status: u16,
        /// The market's sentence.
        message: String,
    },
    /// The answer is not what this client understands (another service, another version).
    #[error("the market's answer from {url} cannot be read: {message}")]
    Decode {
        /// The URL asked.
        url: String,
        /// Why.
        message: String,
    },
    /// Signing the unpublish message failed.
    #[error("cannot sign: {0}")]
    Sign(String),
}

impl ClientError {
    /// The HTTP status the market answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } | Self::Failed { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// `Result` of the client.
pub type ClientResult<T> = std::result::Result<T, ClientError>;

/// The collection path of an order kind (`apporders`, …).
pub fn collection(kind: OrderKind) -> &'static str {
    match kind {
        OrderKind::App => "apporders",
        OrderKind::Dataset => "datasetorders",
        OrderKind::Workerpool => "workerpoolorders",
        OrderKind::Request => "requestorders",
    }
}

/// Client of one market. Every request names the chain the client was made for, so a market
/// of another chain refuses it instead of answering about the wrong book.
///
/// Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct MarketClient {
    base: Url,
    http: reqwest::Client,
    chain_id: u64,
}

impl MarketClient {
    /// A client of the market at `base_url` (e.g. `http://127.0.0.1:8547`) for chain
    /// `chain_id`, with 10 s connect and 30 s request timeouts.
    pub fn new(base_url: &str, chain_id: u64) -> ClientResult<Self> {
        Self::with_timeout(base_url, chain_id, Duration::from_secs(30))
    }

    /// [`new`](Self::new) with requests failing after `timeout` (a market that accepts the
    /// connection and never answers then fails the call instead of holding it).
    pub fn with_timeout(base_url: &str, chain_id: u64, timeout: Duration) -> ClientResult<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .timeout(timeout)
            .build()
            .map_err(|source| ClientError::Unreachable {
                url: base_url.to_owned(),
                source,
            })?;
        let mut base = Url::parse(base_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| ClientError::BadUrl(base_url.to_owned()))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Self {
            base,
            http,
            chain_id,
        })
    }

    /// The market's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The chain this client asks about.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self
            .base
            .join(path)
            .expect("market paths are valid relative URLs");
        url.query_pairs_mut()
            .append_pair("chainId", &self.chain_id.to_string());
        url
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> ClientResult<T> {
        let request = request.build().map_err(|source| ClientError::Unreachable {
            url: self.base.to_string(),
            source,
        })?;
        let url = request.url().to_string();
        let response =
            self.http
                .execute(request)
                .await
                .map_err(|source| ClientError::Unreachable {
                    url: url.clone(),
                    source,
                })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.clone(),
                source,
            })?;
        if !status.is_success() {
            let message = serde_json::from_str::<ErrorBody>(&text)
                .map(|body| body.error)
                .unwrap_or_else(|_| {
                    let mut t = text.trim().to_owned();
                    t.truncate(300);
                    if t.is_empty() {
                        status.to_string()
                    } else {
                        t
                    }
                });
            let status = status.as_u16();
            return Err(if status < 500 {
                ClientError::Refused { status, message }
            } else {
                ClientError::Failed { status, message }
            });
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Decode {
            url,
            message: e.to_string(),
        })
    }

    /// `GET /health`: the market answers, and how far its watcher has read the chain.
    pub async fn health(&self) -> ClientResult<Health> {
        self.send(self.http.get(self.url("health"))).await
    }

    /// Publishes a signed order; the market checks it against the chain first.
    pub async fn publish<T: MarketOrder>(&self, order: &Signed<T>) -> ClientResult<OrderView> {
        let body = PublishBody {
            order: order.clone(),
        };
        self.send(self.http.post(self.url(collection(T::KIND))).json(&body))
            .await
    }

    /// The order of hash `hash`, whatever its status, or `None` if the market never saw it.
    pub async fn order(&self, hash: B256) -> ClientResult<Option<OrderView>> {
        match self
            .send(self.http.get(self.url(&format!("orders/{hash}"))))
            .await
        {
            Ok(view) => Ok(Some(view)),
            Err(ClientError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A page of open orders of `kind` matching `query`, best first (cheapest, then oldest;
    /// for requests the highest bid first).
    pub async fn orders(&self, kind: OrderKind, query: &OrderQuery) -> ClientResult<OrderPage> {
        let query = OrderQuery {
            chain_id: None,
            ..query.clone()
        };
        self.send(self.http.get(self.url(collection(kind))).query(&query))
            .await
    }

    /// Takes the order `hash` out of the book, signing the market's unpublish message with
    /// `signer` (the order's signer) under the hub's `domain`.
    pub async fn unpublish<S: SignerSync + ?Sized>(
        &self,
        hash: B256,
        signer: &S,
        domain: &Eip712Domain,
    ) -> ClientResult<OrderView> {
        let view = self
            .order(hash)
            .await?
            .ok_or_else(|| ClientError::Refused {
                status: StatusCode::NOT_FOUND.as_u16(),
                message: format!("order {hash} was never published on this market"),
            })?;
        let body = sign_unpublish(signer, domain, hash, view.publication)
            .map_err(|e| ClientError::Sign(e.to_string()))?;
        self.send(
            self.http
                .post(self.url(&format!("orders/{hash}/unpublish")))
                .json(&body),
        )
        .await
    }

    /// Tells the market that the scheduler of `workerpool` is alive: a heartbeat at `timestamp`
    /// (Unix seconds) signed by `signer`, the pool's owner, under the hub's `domain` (see
    /// [`crate::market::liveness`]).
    pub async fn heartbeat<S: SignerSync + ?Sized>(
        &self,
        workerpool: Address,
        timestamp: u64,
        signer: &S,
        domain: &Eip712Domain,
    ) -> ClientResult<PoolLiveness> {
        let body = sign_heartbeat(signer, domain, workerpool, timestamp)
            .map_err(|e| ClientError::Sign(e.to_string()))?;
        self.send(
            self.http
                .post(self.url(&format!("workerpools/{workerpool}/heartbeat")))
                .json(&body),
        )
        .await
    }

    /// Whether the scheduler of `workerpool` is alive, as the market sees it.
    pub async fn liveness(&self, workerpool: Address) -> ClientResult<PoolLiveness> {
        self.send(
            self.http
                .get(self.url(&format!("workerpools/{workerpool}/liveness"))),
        )
        .await
    }

    /// A page of the deals the market recorded, newest first, filtered by `query`.
    pub async fn deals(&self, query: &DealQuery) -> ClientResult<DealPage> {
        let query = DealQuery {
            chain_id: None,
            ..query.clone()
        };
        self.send(self.http.get(self.url("deals")).query(&query))
            .await
    }

    /// The deal `id` as the market recorded it, or `None`.
    pub async fn deal(&self, id: B256) -> ClientResult<Option<DealView>> {
        match self
            .send(self.http.get(self.url(&format!("deals/{id}"))))
            .await
        {
            Ok(deal) => Ok(Some(deal)),
            Err(ClientError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
