//! Price sources: a small HTTP server answering `{"price": "…", "timestamp": …}` (what the
//! `pricefeed` app reads; for devnets, tests and `dexec demo --oracle`), and the feed runner's
//! own reading of its sources (to tell a deviation).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Json, Router};

/// What a price server answers.
#[derive(Debug, Clone)]
pub struct Quote {
    /// The price, as a decimal string (`"2000.12"`).
    pub price: String,
    /// Fixed observation time (Unix seconds), or `None`: the current time floored to `step`.
    pub timestamp: Option<u64>,
    /// With no fixed timestamp: the clock's granularity, seconds (at least 1).
    pub step: u64,
}

impl Quote {
    fn timestamp(&self) -> u64 {
        self.timestamp.unwrap_or_else(|| {
            let now = unix_now();
            let step = self.step.max(1);
            now - now % step
        })
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Serve `quote` on `listen` (GET on any path) until `stop` resolves; the bound address.
pub async fn serve<F>(
    listen: SocketAddr,
    quote: Quote,
    stop: F,
) -> eyre::Result<(SocketAddr, tokio::task::JoinHandle<()>)>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let answer = move || {
        let quote = quote.clone();
        async move {
            Json(serde_json::json!({
                "price": quote.price,
                "timestamp": quote.timestamp(),
            }))
        }
    };
    let router = Router::new()
        .route("/", get(answer.clone()))
        .fallback(get(answer));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await;
    });
    Ok((addr, task))
}

/// The median (lower middle) of the prices `sources` answer now, as floating point: the feed
/// runner's estimate to tell a deviation (the on-chain value comes from the app's exact
/// decimals). Sources that fail or answer something else are skipped; `None` when none
/// answered.
pub async fn median(http: &reqwest::Client, sources: &[String]) -> Option<f64> {
    let mut prices = Vec::new();
    for url in sources {
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            http.get(url)
                .send()
                .await?
                .json::<serde_json::Value>()
                .await
        })
        .await;
        let Ok(Ok(body)) = answer else { continue };
        let price = match &body["price"] {
            serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
            serde_json::Value::Number(n) => n.as_f64(),
            _ => None,
        };
        if let Some(p) = price.filter(|p| p.is_finite()) {
            prices.push(p);
        }
    }
    if prices.is_empty() {
        return None;
    }
    prices.sort_by(f64::total_cmp);
    Some(prices[(prices.len() - 1) / 2])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_runner_reads_the_lower_median_of_what_answers() {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut urls = Vec::new();
        for price in ["100.5", "99.5", "120"] {
            let quote = Quote {
                price: price.into(),
                timestamp: Some(1_700_000_000),
                step: 1,
            };
            let mut stopped = stopped.clone();
            let (addr, _) = serve("127.0.0.1:0".parse().unwrap(), quote, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
            .unwrap();
            urls.push(format!("http://{addr}/price"));
        }
        urls.push("http://127.0.0.1:9/nobody".into());
        let http = reqwest::Client::new();
        assert_eq!(median(&http, &urls).await, Some(100.5));
        let body: serde_json::Value = http
            .get(&urls[0])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["price"], "100.5");
        assert_eq!(body["timestamp"], 1_700_000_000);
        assert_eq!(median(&http, &urls[3..]).await, None);
        let _ = stop.send(true);
    }
}
