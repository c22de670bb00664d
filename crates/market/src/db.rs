//! The market's database: SQLite (default, one file) or PostgreSQL, through sqlx's `Any`
//! driver and one set of portable migrations (`migrations/`).

use alloy::primitives::{Address, B256};
use dexec_sdk::OrderKind;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::book::{kind_from_name, status, Columns};
use crate::{Error, Result};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Order counts are exact up to this many.
pub(crate) const COUNT_CAP: i64 = 1000;

/// Lowercase 0x-hex of a hash.
pub(crate) fn hex32(v: &B256) -> String {
    format!("{v:#x}")
}

/// Lowercase 0x-hex of an address.
pub(crate) fn hex_addr(v: &Address) -> String {
    format!("{v:#x}")
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A stored order.
#[derive(Debug, Clone)]
pub(crate) struct OrderRow {
    pub hash: String,
    pub kind: OrderKind,
    pub signer: String,
    pub remaining: i64,
    pub status: String,
    pub publication: i64,
    pub published_at: i64,
    pub body: String,
}

const ORDER_FIELDS: &str = "hash, kind, signer, remaining, status, publication, published_at, body";

fn order_row(row: &AnyRow) -> Result<OrderRow> {
    let kind: String = row.try_get("kind")?;
    Ok(OrderRow {
        hash: row.try_get("hash")?,
        kind: kind_from_name(&kind)
            .ok_or_else(|| Error::Corrupt(format!("unknown order kind {kind:?}")))?,
        signer: row.try_get("signer")?,
        remaining: row.try_get("remaining")?,
        status: row.try_get("status")?,
        publication: row.try_get("publication")?,
        published_at: row.try_get("published_at")?,
        body: row.try_get("body")?,
    })
}

/// A value bound to a dynamically built query.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Int(i64),
    Text(String),
}

/// A WHERE clause under construction, with `$n` placeholders.
#[derive(Debug, Default)]
pub(crate) struct Where {
    pub clauses: Vec<String>,
    pub binds: Vec<Bind>,
}

impl Where {
    /// Add `bind` and return its placeholder.
    pub fn bind(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        format!("${}", self.binds.len())
    }

    /// Add a clause built from the placeholder of `bind`.
    pub fn push(&mut self, bind: Bind, clause: impl FnOnce(&str) -> String) {
        let p = self.bind(bind);
        self.clauses.push(clause(&p));
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        query = match b {
            Bind::Int(v) => query.bind(*v),
            Bind::Text(v) => query.bind(v.as_str()),
        };
    }
    query
}

/// A deal as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DealRecord {
    /// The deal id.
    pub deal_id: String,
    /// Block of its creation.
    pub block: i64,
    /// Position of its event in the block.
    pub log_index: i64,
    /// Transaction that created it.
    pub tx_hash: String,
    /// Category.
    pub category: i64,
    /// App.
    pub app: String,
    /// Dataset (zero if none).
    pub dataset: String,
    /// Workerpool.
    pub workerpool: String,
    /// App owner.
    pub app_owner: String,
    /// Dataset owner.
    pub dataset_owner: String,
    /// Workerpool owner (the scheduler).
    pub workerpool_owner: String,
    /// Requester.
    pub requester: String,
    /// Beneficiary.
    pub beneficiary: String,
    /// App price per task, nRLC.
    pub app_price: i64,
    /// Dataset price per task, nRLC.
    pub dataset_price: i64,
    /// Workerpool price per task, nRLC.
    pub workerpool_price: i64,
    /// Number of tasks.
    pub volume: i64,
    /// Trust.
    pub trust: i64,
    /// Tag (0x-hex bytes32).
    pub tag: String,
    /// Start time (Unix seconds, the block's timestamp).
    pub start_time: i64,
    /// App order hash.
    pub apporder_hash: String,
    /// Dataset order hash (zero if none).
    pub datasetorder_hash: String,
    /// Workerpool order hash.
    pub workerpoolorder_hash: String,
    /// Request order hash.
    pub requestorder_hash: String,
}

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

fn deal_row(r: &AnyRow) -> Result<DealRecord> {
    Ok(DealRecord {
        deal_id: r.try_get("deal_id")?,
        block: r.try_get("block")?,
        log_index: r.try_get("log_index")?,
        tx_hash: r.try_get("tx_hash")?,
        category: r.try_get("category")?,
        app: r.try_get("app")?,
        dataset: r.try_get("dataset")?,
        workerpool: r.try_get("workerpool")?,
        app_owner: r.try_get("app_owner")?,
        dataset_owner: r.try_get("dataset_owner")?,
        workerpool_owner: r.try_get("workerpool_owner")?,
        requester: r.try_get("requester")?,
        beneficiary: r.try_get("beneficiary")?,
        app_price: r.try_get("app_price")?,
        dataset_price: r.try_get("dataset_price")?,
        workerpool_price: r.try_get("workerpool_price")?,
        volume: r.try_get("volume")?,
        trust: r.try_get("trust")?,
        tag: r.try_get("tag")?,
        start_time: r.try_get("start_time")?,
        apporder_hash: r.try_get("apporder_hash")?,
        datasetorder_hash: r.try_get("datasetorder_hash")?,
        workerpoolorder_hash: r.try_get("workerpoolorder_hash")?,
        requestorder_hash: r.try_get("requestorder_hash")?,
    })
}

/// A new order to store.
#[derive(Debug)]
pub(crate) struct NewOrder<'a> {
    pub hash: B256,
    pub columns: &'a Columns,
    pub signer: Address,
    pub remaining: i64,
    pub publication: i64,
    pub published_at: i64,
    pub body: String,
}

/// What happened to a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// Stored (new, or republished after unpublish / death).
    Stored,
    /// Already open.
    AlreadyOpen,
    /// Filled or cancelled for good.
    Final,
}

/// The database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    sqlite: bool,
}

impl Db {
    /// Connect to `url` (`sqlite://path`, `postgres://…`) and migrate. A SQLite file (and its
    /// directory) is created if missing and put in WAL mode.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let url = if sqlite && !url.contains(":memory:") {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)?;
                }
            }
            if url.contains("mode=") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            }
        } else {
            url.to_owned()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        MIGRATOR.run(&pool).await?;
        // fresh planner statistics: with them the query planner picks the book indexes
        sqlx::query("ANALYZE").execute(&pool).await?;
        Ok(Self { pool, sqlite })
    }

    /// True for SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>> {
        Ok(self.pool.begin().await?)
    }

    /// The watcher's cursor.
    pub(crate) async fn next_block(&self) -> Result<Option<u64>> {
        let row = sqlx::query("SELECT next_block FROM cursor WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<i64, _>(0) as u64))
    }

    pub(crate) async fn set_next_block(
        tx: &mut Transaction<'static, Any>,
        block: u64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO cursor (id, next_block) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET next_block = excluded.next_block",
        )
        .bind(block as i64)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The order `hash`, any status.
    pub(crate) async fn order(&self, hash: &B256) -> Result<Option<OrderRow>> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_FIELDS} FROM orders WHERE hash = $1"
        ))
        .bind(hex32(hash))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(order_row).transpose()
    }

    /// Consumed volume and closed flag of `hash` as the watcher last saw them.
    pub(crate) async fn consumed(&self, hash: &B256) -> Result<Option<(i64, bool)>> {
        let row = sqlx::query("SELECT consumed, closed FROM consumed WHERE hash = $1")
            .bind(hex32(hash))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1) != 0)))
    }

    /// Open orders of `signer` of `kind`, counted up to `cap`.
    pub(crate) async fn open_count(
        &self,
        signer: &Address,
        kind: OrderKind,
        cap: u64,
    ) -> Result<u64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM (SELECT 1 FROM orders WHERE signer = $1 AND status = $2 \
             AND kind = $3 LIMIT $4) capped",
        )
        .bind(hex_addr(signer))
        .bind(status::OPEN)
        .bind(kind.name())
        .bind(i64::try_from(cap).unwrap_or(i64::MAX))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<i64, _>(0) as u64)
    }

    /// Store a published order, or republish an unpublished or dead one.
    pub(crate) async fn insert(&self, o: &NewOrder<'_>) -> Result<Inserted> {
        let c = o.columns;
        let (tag_low, tag_high) = crate::book::split_tag(c.tag);
        let now = o.published_at;
        let done = sqlx::query(
            "INSERT INTO orders (hash, kind, asset, signer, price, max_total, volume, remaining, \
             tag_low, tag_high, category, trust, app_r, dataset_r, workerpool_r, requester_r, \
             beneficiary, status, publication, published_at, updated_at, body) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21, $22) \
             ON CONFLICT (hash) DO UPDATE SET status = excluded.status, \
             remaining = excluded.remaining, signer = excluded.signer, \
             publication = excluded.publication, published_at = excluded.published_at, \
             updated_at = excluded.updated_at, body = excluded.body \
             WHERE orders.status IN ('unpublished', 'dead')",
        )
        .bind(hex32(&o.hash))
        .bind(c.kind.name())
        .bind(hex_addr(&c.asset))
        .bind(hex_addr(&o.signer))
        .bind(c.price)
        .bind(c.needs)
        .bind(c.volume)
        .bind(o.remaining)
        .bind(tag_low)
        .bind(tag_high)
        .bind(c.category)
        .bind(c.trust)
        .bind(hex_addr(&c.app_r))
        .bind(hex_addr(&c.dataset_r))
        .bind(hex_addr(&c.workerpool_r))
        .bind(hex_addr(&c.requester_r))
        .bind(hex_addr(&c.beneficiary))
        .bind(status::OPEN)
        .bind(o.publication)
        .bind(now)
        .bind(now)
        .bind(o.body.as_str())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(Inserted::Stored);
        }
        match self.order(&o.hash).await? {
            Some(row) if row.status == status::OPEN => Ok(Inserted::AlreadyOpen),
            _ => Ok(Inserted::Final),
        }
    }

    /// Unpublish `hash` if it is open under `publication`; false if it was not.
    pub(crate) async fn unpublish(&self, hash: &B256, publication: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE orders SET status = $1, updated_at = $2 \
             WHERE hash = $3 AND status = $4 AND publication = $5",
        )
        .bind(status::UNPUBLISHED)
        .bind(now_ms())
        .bind(hex32(hash))
        .bind(status::OPEN)
        .bind(publication)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Open orders matching `filter`, sorted (`order_by`), one page; whether more follow; and
    /// how many match in all, counted up to [`COUNT_CAP`] (beyond it, at least the orders up
    /// to this page).
    pub(crate) async fn query(
        &self,
        filter: &Where,
        order_by: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<OrderRow>, bool, i64)> {
        let sql = format!(
            "SELECT {ORDER_FIELDS} FROM orders{} ORDER BY {order_by} LIMIT {} OFFSET {offset}",
            filter.sql(),
            limit + 1
        );
        let rows = bind_all(sqlx::query(&sql), &filter.binds)
            .fetch_all(&self.pool)
            .await?;
        let mut rows = rows.iter().map(order_row).collect::<Result<Vec<_>>>()?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let count = if offset == 0 && !more {
            rows.len() as i64
        } else {
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM orders{} LIMIT {COUNT_CAP}) capped",
                filter.sql()
            );
            let capped = bind_all(sqlx::query(&sql), &filter.binds)
                .fetch_one(&self.pool)
                .await?
                .get::<i64, _>(0);
            capped.max(offset + rows.len() as i64 + i64::from(more))
        };
        Ok((rows, more, count))
    }

    /// Deals matching `filter`, newest first.
    pub(crate) async fn deals(
        &self,
        filter: &Where,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<DealRecord>, i64)> {
        let sql = format!(
            "SELECT {} FROM deals{} ORDER BY block DESC, log_index DESC LIMIT {limit} OFFSET {offset}",
            DEAL_FIELDS.join(", "),
            filter.sql()
        );
        let rows = bind_all(sqlx::query(&sql), &filter.binds)
            .fetch_all(&self.pool)
            .await?;
        let deals = rows.iter().map(deal_row).collect::<Result<Vec<_>>>()?;
        let sql = format!("SELECT COUNT(*) FROM deals{}", filter.sql());
        let count = bind_all(sqlx::query(&sql), &filter.binds)
            .fetch_one(&self.pool)
            .await?
            .get::<i64, _>(0);
        Ok((deals, count))
    }

    /// Deal `id`.
    pub(crate) async fn deal(&self, id: &B256) -> Result<Option<DealRecord>> {
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

    /// Insert many orders at once (benchmarks): one transaction.
    pub(crate) async fn insert_many(&self, orders: &[NewOrder<'_>]) -> Result<()> {
        for chunk in orders.chunks(500) {
            let mut tx = self.begin().await?;
            for o in chunk {
                let c = o.columns;
                let (tag_low, tag_high) = crate::book::split_tag(c.tag);
                sqlx::query(
                    "INSERT INTO orders (hash, kind, asset, signer, price, max_total, volume, \
                     remaining, tag_low, tag_high, category, trust, app_r, dataset_r, \
                     workerpool_r, requester_r, beneficiary, status, publication, published_at, \
                     updated_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                     $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) ON CONFLICT (hash) DO NOTHING",
                )
                .bind(hex32(&o.hash))
                .bind(c.kind.name())
                .bind(hex_addr(&c.asset))
                .bind(hex_addr(&o.signer))
                .bind(c.price)
                .bind(c.needs)
                .bind(c.volume)
                .bind(o.remaining)
                .bind(tag_low)
                .bind(tag_high)
                .bind(c.category)
                .bind(c.trust)
                .bind(hex_addr(&c.app_r))
                .bind(hex_addr(&c.dataset_r))
                .bind(hex_addr(&c.workerpool_r))
                .bind(hex_addr(&c.requester_r))
                .bind(hex_addr(&c.beneficiary))
                .bind(status::OPEN)
                .bind(o.publication)
                .bind(o.published_at)
                .bind(o.published_at)
                .bind(o.body.as_str())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    // ---- watcher updates (inside its transaction) ----

    /// Record the consumed volume of `hash` and update its order; returns the order's new
    /// status if it changed.
    pub(crate) async fn set_consumed(
        tx: &mut Transaction<'static, Any>,
        hash: &B256,
        consumed: i64,
        closed: bool,
    ) -> Result<Option<(OrderKind, String)>> {
        let h = hex32(hash);
        sqlx::query(
            "INSERT INTO consumed (hash, consumed, closed) VALUES ($1, $2, $3) \
             ON CONFLICT (hash) DO UPDATE SET consumed = excluded.consumed, \
             closed = excluded.closed",
        )
        .bind(h.as_str())
        .bind(consumed)
        .bind(i64::from(closed))
        .execute(&mut **tx)
        .await?;
        let Some(row) = sqlx::query("SELECT kind, volume, status FROM orders WHERE hash = $1")
            .bind(h.as_str())
            .fetch_optional(&mut **tx)
            .await?
        else {
            return Ok(None);
        };
        let kind: String = row.try_get(0)?;
        let volume: i64 = row.try_get(1)?;
        let old: String = row.try_get(2)?;
        let remaining = if closed {
            0
        } else {
            (volume - consumed).max(0)
        };
        let new = if closed {
            status::CANCELLED
        } else if remaining == 0 {
            status::FILLED
        } else {
            old.as_str()
        };
        sqlx::query(
            "UPDATE orders SET remaining = $1, status = $2, updated_at = $3 WHERE hash = $4",
        )
        .bind(remaining)
        .bind(new)
        .bind(now_ms())
        .bind(h.as_str())
        .execute(&mut **tx)
        .await?;
        let kind = kind_from_name(&kind)
            .ok_or_else(|| Error::Corrupt(format!("unknown order kind {kind:?}")))?;
        Ok((new != old).then(|| (kind, new.to_owned())))
    }

    /// Insert a deal (nothing if known); true if new.
    pub(crate) async fn insert_deal(
        tx: &mut Transaction<'static, Any>,
        d: &DealRecord,
    ) -> Result<bool> {
        let placeholders: Vec<String> = (1..=DEAL_FIELDS.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO deals ({}) VALUES ({}) ON CONFLICT (deal_id) DO NOTHING",
            DEAL_FIELDS.join(", "),
            placeholders.join(", ")
        );
        let done = sqlx::query(&sql)
            .bind(d.deal_id.as_str())
            .bind(d.block)
            .bind(d.log_index)
            .bind(d.tx_hash.as_str())
            .bind(d.category)
            .bind(d.app.as_str())
            .bind(d.dataset.as_str())
            .bind(d.workerpool.as_str())
            .bind(d.app_owner.as_str())
            .bind(d.dataset_owner.as_str())
            .bind(d.workerpool_owner.as_str())
            .bind(d.requester.as_str())
            .bind(d.beneficiary.as_str())
            .bind(d.app_price)
            .bind(d.dataset_price)
            .bind(d.workerpool_price)
            .bind(d.volume)
            .bind(d.trust)
            .bind(d.tag.as_str())
            .bind(d.start_time)
            .bind(d.apporder_hash.as_str())
            .bind(d.datasetorder_hash.as_str())
            .bind(d.workerpoolorder_hash.as_str())
            .bind(d.requestorder_hash.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Mark dead the open orders of `asset` (of `kind`) not signed by `owner`; returns them.
    pub(crate) async fn kill_asset_orders(
        tx: &mut Transaction<'static, Any>,
        kind: OrderKind,
        asset: &Address,
        owner: &Address,
    ) -> Result<Vec<(OrderKind, String)>> {
        let rows = sqlx::query(
            "SELECT hash FROM orders WHERE kind = $1 AND asset = $2 AND status = $3 AND signer <> $4",
        )
        .bind(kind.name())
        .bind(hex_addr(asset))
        .bind(status::OPEN)
        .bind(hex_addr(owner))
        .fetch_all(&mut **tx)
        .await?;
        Self::kill(tx, kind, rows).await
    }

    /// Mark dead the open orders of `signer` of `kind` that need more than `free` per task.
    pub(crate) async fn kill_unfunded(
        tx: &mut Transaction<'static, Any>,
        kind: OrderKind,
        signer: &Address,
        free: i64,
    ) -> Result<Vec<(OrderKind, String)>> {
        let rows = sqlx::query(
            "SELECT hash FROM orders WHERE kind = $1 AND signer = $2 AND status = $3 AND max_total > $4",
        )
        .bind(kind.name())
        .bind(hex_addr(signer))
        .bind(status::OPEN)
        .bind(free)
        .fetch_all(&mut **tx)
        .await?;
        Self::kill(tx, kind, rows).await
    }

    async fn kill(
        tx: &mut Transaction<'static, Any>,
        kind: OrderKind,
        rows: Vec<AnyRow>,
    ) -> Result<Vec<(OrderKind, String)>> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let hash: String = row.try_get(0)?;
            sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE hash = $3")
                .bind(status::DEAD)
                .bind(now_ms())
                .bind(hash.as_str())
                .execute(&mut **tx)
                .await?;
            out.push((kind, hash));
        }
        Ok(out)
    }
}
