//! The deal routes: deals, one deal, and the price candles of a category.

use alloy::primitives::B256;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use dexec_sdk::market::{Candle, DealPage, DealQuery, DealView, Ohlc, OhlcQuery};
use dexec_sdk::ErrorBody;

use super::{check_chain, page, query_error, AppState};
use crate::book::filter::{deal_filter, int_param};
use crate::{Error, Result};

/// `GET /deals`.
#[utoipa::path(get, path = "/deals", tag = "deals",
    summary = "Deals (trades), newest first",
    params(DealQuery),
    responses(
        (status = 200, description = "A page of deals", body = DealPage),
        (status = 400, description = "A parameter the schema refuses, an unknown parameter, or chainId of another chain", body = ErrorBody),
    ))]
pub(crate) async fn deals(
    State(state): State<AppState>,
    q: Result<Query<DealQuery>, QueryRejection>,
) -> Result<Json<DealPage>> {
    let s = &state.shared;
    let q = q.map_err(query_error)?.0;
    check_chain(s, q.chain_id)?;
    let filter = deal_filter(&q)?;
    let (limit, offset, index) = page(q.page_size, q.page_index)?;
    let (deals, count) = s.db.deals(&filter, limit, offset).await?;
    let next_page = (offset + (deals.len() as i64) < count).then_some(index + 1);
    Ok(Json(DealPage {
        ok: true,
        deals,
        count,
        page_index: index,
        next_page,
    }))
}

/// `GET /deals/{id}`.
#[utoipa::path(get, path = "/deals/{id}", tag = "deals",
    summary = "A deal",
    params(("id" = String, Path, description = "The deal id: 0x and 64 hex digits", pattern = "^0x[0-9a-fA-F]{64}$")),
    responses(
        (status = 200, description = "The deal", body = DealView),
        (status = 400, description = "Not a deal id", body = ErrorBody),
        (status = 404, description = "No such deal is known to this market", body = ErrorBody),
    ))]
pub(crate) async fn deal(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DealView>> {
    let id: B256 = id.parse().map_err(|_| {
        Error::BadRequest(format!("`{id}` is not a deal id (0x and 64 hex digits)"))
    })?;
    state
        .shared
        .db
        .deal(&id)
        .await?
        .map(Json)
        .ok_or_else(|| Error::NotFound(format!("no deal {id} is known to this market")))
}

/// Group `(time, price, volume)` trades (sorted by time) into candles.
pub(crate) fn candles(trades: &[(i64, i64, i64)], interval: i64) -> Vec<Candle> {
    let mut out: Vec<Candle> = Vec::new();
    for &(time, price, volume) in trades {
        let start = time - time.rem_euclid(interval);
        match out.last_mut() {
            Some(c) if c.time == start => {
                c.high = c.high.max(price);
                c.low = c.low.min(price);
                c.close = price;
                c.volume += volume;
            }
            _ => out.push(Candle {
                time: start,
                open: price,
                high: price,
                low: price,
                close: price,
                volume,
            }),
        }
    }
    out
}

/// `GET /ohlc`.
#[utoipa::path(get, path = "/ohlc", tag = "deals",
    summary = "Workerpool price candles and last price of a category",
    params(OhlcQuery),
    responses(
        (status = 200, description = "Candles", body = Ohlc),
        (status = 400, description = "A parameter the schema refuses, an unknown parameter, or chainId of another chain", body = ErrorBody),
    ))]
pub(crate) async fn ohlc(
    State(state): State<AppState>,
    q: Result<Query<OhlcQuery>, QueryRejection>,
) -> Result<Json<Ohlc>> {
    let s = &state.shared;
    let q = q.map_err(query_error)?.0;
    check_chain(s, q.chain_id)?;
    let interval = q.interval.unwrap_or(3600);
    if interval == 0 || interval > 365 * 86_400 {
        return Err(Error::BadRequest(
            "`interval` must be between 1 second and a year".into(),
        ));
    }
    let trades =
        s.db.trades(
            int_param("category", q.category)?,
            int_param("since", q.since.unwrap_or(0))?,
        )
        .await?;
    Ok(Json(Ohlc {
        category: q.category,
        interval,
        last_price: trades.last().map(|t| t.1),
        candles: candles(&trades, interval as i64),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candles_group_by_interval() {
        let c = candles(&[(0, 5, 1), (10, 7, 2), (59, 3, 1), (60, 4, 1)], 60);
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].open, c[0].high, c[0].low, c[0].close, c[0].volume),
            (5, 7, 3, 3, 4)
        );
        assert_eq!((c[1].time, c[1].open), (60, 4));
    }
}
