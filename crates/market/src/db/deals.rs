//! Deals as the watcher records them, and the trades the price candles are made of.

use alloy::primitives::B256;
use dexec_sdk::market::DealView;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::sql::Where;
use super::{hex32, hex_addr, Db};
use crate::{Error, Result};

/// The columns of `deals`, in the order [`insert_deal`](Db::insert_deal) binds them.
const DEAL_FIELDS: [&str; 24] = [
    "deal_id",
    "block",
    "log_index",
    "tx_hash",
    "category",
    "app",
    "dataset",
    "workerpool",
    "app_owner",
    "dataset_owner",
    "workerpool_owner",
    "requester",
    "beneficiary",
    "app_price",
    "dataset_price",
    "workerpool_price",
    "volume",
    "trust",
    "tag",
    "start_time",
    "apporder_hash",
    "datasetorder_hash",
    "workerpoolorder_hash",
    "requestorder_hash",
];

/// A stored 0x-hex value (hash or address) read back.
fn hex<T: std::str::FromStr>(r: &AnyRow, column: &str) -> Result<T> {
    let text: String = r.try_get(column)?;
    text.parse()
        .map_err(|_| Error::Corrupt(format!("stored deal {column} {text:?}")))
}

/// A stored BIGINT that is never negative.
fn count(r: &AnyRow, column: &str) -> Result<u64> {
    let value: i64 = r.try_get(column)?;
    u64::try_from(value).map_err(|_| Error::Corrupt(format!("stored deal {column} {value}")))
}

/// A number of the chain stored as BIGINT (the watcher saturates larger values).
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn deal_row(r: &AnyRow) -> Result<DealView> {
    Ok(DealView {
        deal_id: hex(r, "deal_id")?,
        block: count(r, "block")?,
        log_index: count(r, "log_index")?,
        tx_hash: hex(r, "tx_hash")?,
        category: count(r, "category")?,
        app: hex(r, "app")?,
        dataset: hex(r, "dataset")?,
        workerpool: hex(r, "workerpool")?,
        app_owner: hex(r, "app_owner")?,
        dataset_owner: hex(r, "dataset_owner")?,
        workerpool_owner: hex(r, "workerpool_owner")?,
        requester: hex(r, "requester")?,
        beneficiary: hex(r, "beneficiary")?,
        app_price: count(r, "app_price")?,
        dataset_price: count(r, "dataset_price")?,
        workerpool_price: count(r, "workerpool_price")?,
        volume: count(r, "volume")?,
        trust: count(r, "trust")?,
        tag: hex(r, "tag")?,
        start_time: count(r, "start_time")?,
        apporder_hash: hex(r, "apporder_hash")?,
        datasetorder_hash: hex(r, "datasetorder_hash")?,
        workerpoolorder_hash: hex(r, "workerpoolorder_hash")?,
        requestorder_hash: hex(r, "requestorder_hash")?,
    })
}

impl Db {
    /// Deals matching `filter`, newest first, one page; and how many match in all.
    pub(crate) async fn deals(
        &self,
        filter: &Where,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<DealView>, i64)> {
        let sql = format!(
            "SELECT {} FROM deals{} ORDER BY block DESC, log_index DESC LIMIT {limit} OFFSET {offset}",
            DEAL_FIELDS.join(", "),
            filter.sql()
        );
        let rows = filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?;
        let deals = rows.iter().map(deal_row).collect::<Result<Vec<_>>>()?;
        let sql = format!("SELECT COUNT(*) FROM deals{}", filter.sql());
        let count = filter
            .bind_to(sqlx::query(&sql))
            .fetch_one(&self.pool)
            .await?
            .get::<i64, _>(0);
        Ok((deals, count))
    }

    /// Deal `id`.
    pub(crate) async fn deal(&self, id: &B256) -> Result<Option<DealView>> {
        let sql = format!(
            "SELECT {} FROM deals WHERE deal_id = $1",
            DEAL_FIELDS.join(", ")
        );
        let row = sqlx::query(&sql)
            .bind(hex32(id))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(deal_row).transpose()
    }

    /// (start_time, workerpool_price, volume) of the deals of `category` since `since`, oldest
    /// first.
    pub(crate) async fn trades(&self, category: i64, since: i64) -> Result<Vec<(i64, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT start_time, workerpool_price, volume FROM deals \
             WHERE category = $1 AND start_time >= $2 ORDER BY start_time, block, log_index",
        )
        .bind(category)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1), r.get::<i64, _>(2)))
            .collect())
    }

    /// Insert a deal (nothing if known); true if new.
    pub(crate) async fn insert_deal(
        tx: &mut Transaction<'static, Any>,
        d: &DealView,
    ) -> Result<bool> {
        let placeholders: Vec<String> = (1..=DEAL_FIELDS.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO deals ({}) VALUES ({}) ON CONFLICT (deal_id) DO NOTHING",
            DEAL_FIELDS.join(", "),
            placeholders.join(", ")
        );
        let done = sqlx::query(&sql)
            .bind(hex32(&d.deal_id))
            .bind(int(d.block))
            .bind(int(d.log_index))
            .bind(hex32(&d.tx_hash))
            .bind(int(d.category))
            .bind(hex_addr(&d.app))
            .bind(hex_addr(&d.dataset))
            .bind(hex_addr(&d.workerpool))
            .bind(hex_addr(&d.app_owner))
            .bind(hex_addr(&d.dataset_owner))
            .bind(hex_addr(&d.workerpool_owner))
            .bind(hex_addr(&d.requester))
            .bind(hex_addr(&d.beneficiary))
            .bind(int(d.app_price))
            .bind(int(d.dataset_price))
            .bind(int(d.workerpool_price))
            .bind(int(d.volume))
            .bind(int(d.trust))
            .bind(hex32(&d.tag))
            .bind(int(d.start_time))
            .bind(hex32(&d.apporder_hash))
            .bind(hex32(&d.datasetorder_hash))
            .bind(hex32(&d.workerpoolorder_hash))
            .bind(hex32(&d.requestorder_hash))
            .execute(&mut **tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
