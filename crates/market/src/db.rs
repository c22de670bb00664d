//! The market's database: SQLite (default, one file) or PostgreSQL, through sqlx's `Any`
//! driver and one set of portable migrations (`migrations/`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use alloy::primitives::{Address, B256};
use dexec_sdk::OrderKind;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Row, Transaction};
use tokio::sync::{mpsc, oneshot, Mutex};

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

/// An order to store, checked by the publish handler for everything but what the book itself
/// decides (open orders per signer, volume left, not already open).
#[derive(Debug, Clone)]
pub(crate) struct NewOrder {
    pub hash: B256,
    pub columns: Columns,
    pub signer: Address,
    pub publication: i64,
    pub published_at: i64,
    pub body: String,
    /// Consumed volume and closed flag read from the chain; `None`: read them from the
    /// watcher's record (the `consumed` table), in the writer's transaction.
    pub consumed: Option<(i64, bool)>,
}

/// The columns of `orders` a publish writes, in bind order.
const INSERT_COLUMNS: &str = "hash, kind, asset, signer, price, max_total, volume, remaining, \
     tag_low, tag_high, category, trust, app_r, dataset_r, workerpool_r, requester_r, \
     beneficiary, status, publication, published_at, updated_at, body";
/// How many values [`INSERT_COLUMNS`] binds per row.
const INSERT_WIDTH: usize = 22;
/// Rows per multi-row statement at most. Statements are cut in sizes 1 to 8 and multiples of
/// 8, so that a group needs at most a few statements and a handful of distinct SQL texts stay
/// in the prepared-statement caches.
const ROWS_PER_STATEMENT: usize = 64;

/// Cut `n` items into chunks of at most [`ROWS_PER_STATEMENT`], each of 1 to 8 items or a
/// multiple of 8.
fn chunks(n: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < n {
        let left = (n - start).min(ROWS_PER_STATEMENT);
        let size = if left > 8 { left / 8 * 8 } else { left };
        out.push(start..start + size);
        start += size;
    }
    out
}

/// `n` placeholders from `first`: `($first, …)` for PostgreSQL, `(?, …)` for SQLite (whose
/// numbered parameters cost a name lookup per bind that grows with the statement).
fn placeholders(first: usize, n: usize, sqlite: bool) -> String {
    let list: Vec<String> = (first..first + n)
        .map(|i| if sqlite { "?".into() } else { format!("${i}") })
        .collect();
    format!("({})", list.join(", "))
}

/// A multi-row insert of `rows` orders: an upsert that republishes unpublished and dead
/// orders and returns the hashes it stored, or (`upsert` false) an insert that skips known
/// hashes.
fn insert_sql(rows: usize, upsert: bool, sqlite: bool) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| placeholders(r * INSERT_WIDTH + 1, INSERT_WIDTH, sqlite))
        .collect();
    let conflict = if upsert {
        "ON CONFLICT (hash) DO UPDATE SET status = excluded.status, \
         remaining = excluded.remaining, signer = excluded.signer, \
         publication = excluded.publication, published_at = excluded.published_at, \
         updated_at = excluded.updated_at, body = excluded.body \
         WHERE orders.status IN ('unpublished', 'dead') RETURNING hash"
    } else {
        "ON CONFLICT (hash) DO NOTHING"
    };
    format!(
        "INSERT INTO orders ({INSERT_COLUMNS}) VALUES {} {conflict}",
        values.join(", ")
    )
}

fn bind_order<'q>(
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    o: &'q NewOrder,
    remaining: i64,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    let c = &o.columns;
    let (tag_low, tag_high) = crate::book::split_tag(c.tag);
    query
        .bind(hex32(&o.hash))
        .bind(c.kind.name())
        .bind(hex_addr(&c.asset))
        .bind(hex_addr(&o.signer))
        .bind(c.price)
        .bind(c.needs)
        .bind(c.volume)
        .bind(remaining)
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
}

/// What the book decided about a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Published {
    /// Stored and committed (new, or republished after unpublish or death), with this much
    /// volume left.
    Stored { remaining: i64 },
    /// The signer already has this many open orders of the kind, the most allowed.
    TooManyOpen(i64),
    /// No volume left on chain: cancelled, or consumed by deals.
    NoVolume { closed: bool },
    /// Already open.
    AlreadyOpen,
    /// Filled or cancelled for good.
    Final,
}

/// The database.
#[derive(Debug, Clone)]
pub struct Db {
    /// Reads.
    pool: AnyPool,
    /// Writes. SQLite: two connections, the publish writer's and one for the watcher and
    /// unpublishes (SQLite has one writer at a time: queuing in the pool is cheaper than its
    /// busy-wait), transactions begun IMMEDIATE. PostgreSQL: `pool`.
    write: AnyPool,
    sqlite: bool,
    /// SQLite `:memory:`: one connection for everything.
    memory: bool,
}

impl Db {
    /// Connect to `url` (`sqlite://path`, `postgres://…`) and migrate. A SQLite file (and its
    /// directory) is created if missing and put in WAL mode with `synchronous = FULL`: a
    /// commit is on disk when it returns (the publish writer commits in groups, so this costs
    /// one sync per group, not per order).
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let memory = url.contains(":memory:");
        let url = if sqlite && !memory {
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
        let options = |connections: u32| {
            AnyPoolOptions::new()
                .max_connections(connections)
                // SQLite is a local file: no ping before each use (a round trip to the
                // connection's thread per statement); a server connection may have died
                .test_before_acquire(!sqlite)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if sqlite {
                            for pragma in SQLITE_PRAGMAS {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                        }
                        Ok(())
                    })
                })
        };
        let write = options(if !sqlite {
            16
        } else if memory {
            // every connection to :memory: is a database of its own
            1
        } else {
            // the publish writer's own connection, and one for the watcher and unpublishes
            2
        })
        .connect(&url)
        .await?;
        MIGRATOR.run(&write).await?;
        let pool = if sqlite && !memory {
            options(4).connect(&url).await?
        } else {
            write.clone()
        };
        if sqlite {
            // bounded: statistics from a sample are enough for the planner
            sqlx::query("PRAGMA analysis_limit = 2000")
                .execute(&write)
                .await?;
        }
        // fresh planner statistics: with them the query planner picks the book indexes
        sqlx::query("ANALYZE").execute(&write).await?;
        Ok(Self {
            pool,
            write,
            sqlite,
            memory,
        })
    }

    /// True for SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    /// A write transaction (SQLite: `BEGIN IMMEDIATE`, so that reading before writing cannot
    /// fail on a lock upgrade).
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>> {
        Ok(if self.sqlite {
            self.write.begin_with("BEGIN IMMEDIATE").await?
        } else {
            self.write.begin().await?
        })
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

    /// Open orders of `signer` of `kind`, counted up to `cap`.
    async fn open_count(
        conn: &mut AnyConnection,
        signer: &Address,
        kind: OrderKind,
        cap: i64,
    ) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM (SELECT 1 FROM orders WHERE signer = $1 AND status = $2 \
             AND kind = $3 LIMIT $4) capped",
        )
        .bind(hex_addr(signer))
        .bind(status::OPEN)
        .bind(kind.name())
        .bind(cap)
        .fetch_one(&mut *conn)
        .await?;
        Ok(row.get::<i64, _>(0))
    }

    /// For each of `hashes`: its status if it is in the book, and its consumed volume and
    /// closed flag if the watcher recorded them. One statement per chunk.
    async fn known(
        conn: &mut AnyConnection,
        sqlite: bool,
        hashes: &[String],
    ) -> Result<(HashMap<String, String>, HashMap<String, (i64, bool)>)> {
        let mut statuses = HashMap::new();
        let mut consumed = HashMap::new();
        for chunk in chunks(hashes.len()) {
            // PostgreSQL names the list twice; SQLite binds it twice
            let list = placeholders(1, chunk.len(), sqlite);
            let sql = format!(
                "SELECT hash, status, CAST(0 AS BIGINT), CAST(0 AS BIGINT) FROM orders \
                 WHERE hash IN {list} UNION ALL \
                 SELECT hash, '', consumed, closed FROM consumed WHERE hash IN {list}"
            );
            let mut query = sqlx::query(&sql);
            for _ in 0..if sqlite { 2 } else { 1 } {
                for h in &hashes[chunk.clone()] {
                    query = query.bind(h.as_str());
                }
            }
            for r in query.fetch_all(&mut *conn).await? {
                let hash: String = r.try_get(0)?;
                let status: String = r.try_get(1)?;
                if status.is_empty() {
                    consumed.insert(
                        hash,
                        (r.try_get::<i64, _>(2)?, r.try_get::<i64, _>(3)? != 0),
                    );
                } else {
                    statuses.insert(hash, status);
                }
            }
        }
        Ok((statuses, consumed))
    }

    /// Store `orders` (with their remaining volumes), republishing unpublished and dead ones;
    /// returns the hashes stored.
    async fn upsert(
        conn: &mut AnyConnection,
        sqlite: bool,
        orders: &[(&NewOrder, i64)],
    ) -> Result<HashSet<String>> {
        let mut stored = HashSet::new();
        for chunk in chunks(orders.len()) {
            let sql = insert_sql(chunk.len(), true, sqlite);
            let mut query = sqlx::query(&sql);
            for (o, remaining) in &orders[chunk] {
                query = bind_order(query, o, *remaining);
            }
            for r in query.fetch_all(&mut *conn).await? {
                stored.insert(r.try_get::<String, _>(0)?);
            }
        }
        Ok(stored)
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
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Open orders matching `filter`, sorted (`order_by`), one page; whether more follow; and
    /// how many match in all, counted up to [`COUNT_CAP`] (beyond it, at least the orders up
    /// to this page).
    ///
    /// One statement: the page, each row carrying the capped count as an uncorrelated
    /// subquery (evaluated once) over the same filter and index, reading index entries only.
    /// The count is left out when the page reaches the cap (then it says no more than the
    /// page does).
    pub(crate) async fn query(
        &self,
        filter: &Where,
        order_by: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<OrderRow>, bool, i64)> {
        let counted = offset + limit < COUNT_CAP;
        let count = if counted {
            format!(
                ", (SELECT COUNT(*) FROM (SELECT 1 FROM orders{} LIMIT {COUNT_CAP}) capped) \
                 AS capped",
                filter.sql()
            )
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {ORDER_FIELDS}{count} FROM orders{} ORDER BY {order_by} \
             LIMIT {} OFFSET {offset}",
            filter.sql(),
            limit + 1
        );
        let rows = bind_all(sqlx::query(&sql), &filter.binds)
            .fetch_all(&self.pool)
            .await?;
        let capped = match rows.first() {
            Some(row) if counted => Some(row.try_get::<i64, _>("capped")?),
            _ => None,
        };
        let mut rows = rows.iter().map(order_row).collect::<Result<Vec<_>>>()?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let seen = offset + rows.len() as i64 + i64::from(more);
        let count = match capped {
            Some(capped) => capped.max(seen),
            None if rows.is_empty() && offset > 0 => {
                // a page past the end: count apart
                let sql = format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM orders{} LIMIT {COUNT_CAP}) capped",
                    filter.sql()
                );
                bind_all(sqlx::query(&sql), &filter.binds)
                    .fetch_one(&self.pool)
                    .await?
                    .get::<i64, _>(0)
            }
            None => seen,
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

    /// How many orders are open (benchmarks).
    pub(crate) async fn open_orders(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM orders WHERE status = $1")
            .bind(status::OPEN)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<i64, _>(0))
    }

    /// Insert many orders at once (benchmarks), skipping known hashes: multi-row statements,
    /// a transaction per thousand orders.
    pub(crate) async fn insert_many(&self, orders: &[NewOrder]) -> Result<()> {
        for group in orders.chunks(1024) {
            let mut tx = self.begin().await?;
            for chunk in chunks(group.len()) {
                let sql = insert_sql(chunk.len(), false, self.sqlite);
                let mut query = sqlx::query(&sql);
                for o in &group[chunk] {
                    let used = o.consumed.map_or(0, |(used, _)| used);
                    query = bind_order(query, o, o.columns.volume.saturating_sub(used));
                }
                query.execute(&mut *tx).await?;
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
        // kind and status as literals: the kind's partial book index serves the query
        let rows = sqlx::query(&format!(
            "SELECT hash FROM orders WHERE kind = '{}' AND status = '{}' AND asset = $1 \
             AND signer <> $2",
            kind.name(),
            status::OPEN
        ))
        .bind(hex_addr(asset))
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

/// Per-connection SQLite settings. WAL lets readers run beside the writer; `synchronous =
/// FULL` syncs the WAL at each commit, so a publish answered 201 survives a power loss (the
/// writer commits publishes in groups, so this costs one sync per group); a larger page cache
/// and memory-mapped reads keep the book's indexes out of read system calls; checkpoints every
/// 8000 pages (32 MiB of WAL) rather than 1000 copy a page rewritten by many groups once.
const SQLITE_PRAGMAS: [&str; 7] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA cache_size = -32768",
    "PRAGMA mmap_size = 268435456",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA wal_autocheckpoint = 8000",
];

/// Most publishes committed in one transaction.
const MAX_GROUP: usize = 256;
/// Publishes waiting for the writer at most; handlers wait beyond.
const QUEUE: usize = 4096;
/// Signers whose open-order counts the writer remembers, at most (then it forgets them all).
const MAX_COUNTED: usize = 100_000;

/// Checks the writer repeats for each publish while it holds the book lock, against the
/// chain caches the watcher updates under the same lock (owner, balance): an order checked
/// just before a transfer or a withdrawal is then either refused here or stored before the
/// watcher's transaction, which marks it dead. Cheap (no I/O).
pub(crate) type Recheck = Arc<dyn Fn(&NewOrder) -> Result<()> + Send + Sync>;

struct Job {
    order: NewOrder,
    reply: oneshot::Sender<Result<Published>>,
}

/// The publish writer: one thread (with its own connection) stores every publish, deciding
/// and committing those that arrive together in one transaction (group commit): while a group
/// commits, the next one queues. A publish is answered once its transaction is committed (on
/// disk with SQLite's `synchronous = FULL` and PostgreSQL's default `synchronous_commit =
/// on`), so an order answered 201 survives a crash; a failing group is retried order by order
/// so that one bad order cannot fail the others. One market process per database: the
/// writer's open-order counts assume it is the only one opening orders.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("order", &self.order.hash)
            .finish()
    }
}

impl Writer {
    /// Start the writer thread; it stops when the last `Writer` clone is dropped. `lock` is the
    /// book lock the watcher holds while it applies events; `max_open` the most open orders
    /// per signer and kind.
    pub fn spawn(db: Db, max_open: u64, recheck: Recheck, lock: Arc<Mutex<()>>) -> Self {
        let (jobs, mut rx) = mpsc::channel(QUEUE);
        let fresh = move || GroupCommit {
            db: db.clone(),
            max_open: i64::try_from(max_open).unwrap_or(i64::MAX),
            recheck: recheck.clone(),
            lock: lock.clone(),
            conn: None,
            open: HashMap::new(),
        };
        // its own thread and runtime: each group is a few round trips to the database, and
        // on a busy server the writer would otherwise wait behind the HTTP tasks for each
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        match runtime {
            Ok(runtime) => {
                let spawned = std::thread::Builder::new()
                    .name("market-writer".into())
                    .spawn(move || loop {
                        // a bug that panics fails its group's publishes (500), not the next
                        let group = fresh();
                        let run = std::panic::AssertUnwindSafe(|| {
                            runtime.block_on(group.run(&mut rx))
                        });
                        if std::panic::catch_unwind(run).is_ok() {
                            break;
                        }
                        tracing::error!(target: "market::book", "the publish writer panicked; restarting it");
                    });
                if let Err(e) = spawned {
                    tracing::error!(target: "market::book", error = %e, "cannot start the publish writer thread");
                }
            }
            Err(e) => {
                tracing::error!(target: "market::book", error = %e, "cannot start the publish writer runtime");
            }
        }
        Self { jobs }
    }

    /// Decide and store `order`; returns once the decision is durable.
    pub async fn publish(&self, order: NewOrder) -> Result<Published> {
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::Corrupt("the publish writer stopped".into());
        self.jobs
            .send(Job { order, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The writer task's state.
struct GroupCommit {
    db: Db,
    max_open: i64,
    recheck: Recheck,
    lock: Arc<Mutex<()>>,
    /// The writer's connection, kept between groups (returning it to the pool and taking it
    /// back costs two task switches per group under load).
    conn: Option<PoolConnection<Any>>,
    /// Open orders per (signer, kind): exact when read, then raised by each order stored.
    /// Only the writer opens orders (the watcher and unpublish only close them), so this is
    /// an upper bound: below the cap it accepts without a query, at the cap it is recounted.
    open: HashMap<(Address, OrderKind), i64>,
}

impl GroupCommit {
    async fn run(mut self, rx: &mut mpsc::Receiver<Job>) {
        while let Some(first) = rx.recv().await {
            let mut jobs = vec![first];
            while jobs.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            let _book = self.lock.clone().lock_owned().await;
            let orders: Vec<&NewOrder> = jobs.iter().map(|j| &j.order).collect();
            match self.store(&orders).await {
                Ok(outcomes) => {
                    for (job, outcome) in jobs.into_iter().zip(outcomes) {
                        let _ = job.reply.send(outcome);
                    }
                }
                Err(e) if jobs.len() > 1 => {
                    tracing::warn!(target: "market::book", error = %e, orders = jobs.len(), "group commit failed; storing its orders one by one");
                    for job in jobs {
                        let outcome = match self.store(&[&job.order]).await {
                            Ok(mut one) => one.pop().unwrap_or_else(|| {
                                Err(Error::Corrupt("no outcome for a publish".into()))
                            }),
                            Err(e) => Err(e),
                        };
                        let _ = job.reply.send(outcome);
                    }
                }
                Err(e) => {
                    if let Some(job) = jobs.into_iter().next() {
                        let _ = job.reply.send(Err(e));
                    }
                }
            }
        }
    }

    /// Decide each of `orders` in order, store the accepted ones and commit: one transaction.
    async fn store(&mut self, orders: &[&NewOrder]) -> Result<Vec<Result<Published>>> {
        let stored = self.try_store(orders).await;
        if stored.is_err() || self.db.memory {
            // a fresh connection after an error; `:memory:` has only the one
            self.conn = None;
        }
        stored
    }

    async fn try_store(&mut self, orders: &[&NewOrder]) -> Result<Vec<Result<Published>>> {
        let mut out: Vec<Option<Result<Published>>> = orders
            .iter()
            .map(|o| (self.recheck)(o).err().map(Err))
            .collect();
        let conn = match &mut self.conn {
            Some(conn) => conn,
            slot => slot.insert(self.db.write.acquire().await?),
        };
        let mut tx = if self.db.sqlite {
            Connection::begin_with(&mut **conn, "BEGIN IMMEDIATE").await?
        } else {
            Connection::begin(&mut **conn).await?
        };

        // open orders per (signer, kind): the remembered upper bound when the whole group
        // stays below the cap with it, else an exact count
        let mut wanted: HashMap<(Address, OrderKind), i64> = HashMap::new();
        for (o, decided) in orders.iter().zip(&out) {
            if decided.is_none() {
                *wanted.entry((o.signer, o.columns.kind)).or_default() += 1;
            }
        }
        let mut counts: HashMap<(Address, OrderKind), i64> = HashMap::new();
        for (key, n) in wanted {
            let count = match self.open.get(&key) {
                Some(&c) if c.saturating_add(n) < self.max_open => c,
                _ => Db::open_count(&mut tx, &key.0, key.1, self.max_open).await?,
            };
            counts.insert(key, count);
        }

        let hashes: Vec<String> = orders.iter().map(|o| hex32(&o.hash)).collect();
        let (existing, consumed) = Db::known(&mut tx, self.db.sqlite, &hashes).await?;

        // the checks, in the documented order: open orders, volume left, not already open
        let mut accepted: Vec<(usize, i64)> = Vec::new();
        let mut in_group: HashSet<&str> = HashSet::new();
        for (i, o) in orders.iter().enumerate() {
            if out[i].is_some() {
                continue;
            }
            let key = (o.signer, o.columns.kind);
            let open = counts.get(&key).copied().unwrap_or_default();
            if open >= self.max_open {
                out[i] = Some(Ok(Published::TooManyOpen(open)));
                continue;
            }
            let (used, closed) = o
                .consumed
                .or_else(|| consumed.get(&hashes[i]).copied())
                .unwrap_or((0, false));
            let remaining = o.columns.volume.saturating_sub(used);
            if closed || remaining <= 0 {
                out[i] = Some(Ok(Published::NoVolume { closed }));
                continue;
            }
            if in_group.contains(hashes[i].as_str()) {
                out[i] = Some(Ok(Published::AlreadyOpen));
                continue;
            }
            match existing.get(&hashes[i]).map(String::as_str) {
                Some(status::OPEN) => out[i] = Some(Ok(Published::AlreadyOpen)),
                Some(status::FILLED | status::CANCELLED) => out[i] = Some(Ok(Published::Final)),
                _ => {
                    in_group.insert(hashes[i].as_str());
                    *counts.entry(key).or_default() += 1;
                    accepted.push((i, remaining));
                }
            }
        }

        let rows: Vec<(&NewOrder, i64)> = accepted.iter().map(|&(i, r)| (orders[i], r)).collect();
        let stored = if rows.is_empty() {
            HashSet::new()
        } else {
            Db::upsert(&mut tx, self.db.sqlite, &rows).await?
        };
        let mut missed = Vec::new();
        for &(i, remaining) in &accepted {
            if stored.contains(&hashes[i]) {
                out[i] = Some(Ok(Published::Stored { remaining }));
            } else {
                // changed since read: only another market process writing the same
                // database can do that (the watcher waits for the book lock)
                let key = (orders[i].signer, orders[i].columns.kind);
                if let Some(c) = counts.get_mut(&key) {
                    *c -= 1;
                }
                missed.push(hashes[i].clone());
            }
        }
        if !missed.is_empty() {
            let (now, _) = Db::known(&mut tx, self.db.sqlite, &missed).await?;
            for &(i, _) in &accepted {
                if out[i].is_none() {
                    out[i] = Some(Ok(match now.get(&hashes[i]).map(String::as_str) {
                        Some(status::FILLED | status::CANCELLED) => Published::Final,
                        _ => Published::AlreadyOpen,
                    }));
                }
            }
        }
        tx.commit().await?;

        if self.open.len() + counts.len() > MAX_COUNTED {
            self.open.clear();
        }
        self.open.extend(counts);
        Ok(out
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err(Error::Corrupt("undecided publish".into()))))
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use dexec_primitives::AppOrder;

    use super::*;
    use crate::book::BookOrder;

    async fn temp_db() -> (tempfile::TempDir, Db, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/market.db", dir.path().display());
        let db = Db::connect(&url).await.expect("connects");
        (dir, db, url)
    }

    fn order(salt: u8, signer: Address) -> NewOrder {
        let app = AppOrder {
            app: Address::repeat_byte(0xaa),
            appprice: alloy::primitives::U256::from(salt),
            volume: alloy::primitives::U256::from(10),
            salt: B256::repeat_byte(salt),
            ..Default::default()
        };
        NewOrder {
            hash: B256::repeat_byte(salt),
            columns: app.columns().expect("fits"),
            signer,
            publication: i64::from(salt),
            published_at: 1,
            body: "{}".into(),
            consumed: None,
        }
    }

    fn accept_all() -> Recheck {
        Arc::new(|_: &NewOrder| Ok(()))
    }

    #[test]
    fn chunks_are_few_and_of_few_sizes() {
        let sizes = |n| chunks(n).iter().map(|r| r.len()).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(5), vec![5]);
        assert_eq!(sizes(26), vec![24, 2]);
        assert_eq!(sizes(64), vec![64]);
        assert_eq!(sizes(140), vec![64, 64, 8, 4]);
        assert_eq!(placeholders(3, 2, false), "($3, $4)");
        assert_eq!(placeholders(3, 2, true), "(?, ?)");
    }

    #[tokio::test]
    async fn groups_decide_duplicates_caps_volume_and_final_orders() {
        let (_dir, db, url) = temp_db().await;
        let lock = Arc::new(Mutex::new(()));
        let writer = Writer::spawn(db.clone(), 4, accept_all(), lock.clone());
        let (alice, bob) = (Address::repeat_byte(1), Address::repeat_byte(2));
        // the watcher saw order 9 cancelled and order 8 fully consumed
        sqlx::query("INSERT INTO consumed (hash, consumed, closed) VALUES ($1, 0, 1), ($2, 10, 0)")
            .bind(hex32(&B256::repeat_byte(9)))
            .bind(hex32(&B256::repeat_byte(8)))
            .execute(&db.write)
            .await
            .unwrap();
        // hold the book lock so that these queue up, then let them through together; they
        // may reach the writer in any order, and the outcomes do not depend on it
        let held = lock.clone().lock_owned().await;
        let publishes: Vec<_> = [
            (1, alice),
            (2, alice),
            (3, alice),
            (4, alice),
            (5, alice),
            (7, bob),
            (7, bob),
            (9, bob),
            (8, bob),
        ]
        .into_iter()
        .map(|(salt, signer)| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.publish(order(salt, signer)).await })
        })
        .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drop(held);
        let mut outcomes = Vec::new();
        for p in publishes {
            outcomes.push(p.await.unwrap().unwrap());
        }
        let count = |f: &dyn Fn(&Published) -> bool| outcomes.iter().filter(|o| f(o)).count();
        // alice: four stored, the fifth over the cap; bob: 7 once, then already open
        assert_eq!(
            count(&|o| matches!(o, Published::Stored { remaining: 10 })),
            5,
            "{outcomes:?}"
        );
        assert_eq!(
            count(&|o| matches!(o, Published::TooManyOpen(4))),
            1,
            "{outcomes:?}"
        );
        assert_eq!(count(&|o| *o == Published::AlreadyOpen), 1, "{outcomes:?}");
        assert_eq!(
            outcomes[7..],
            [
                Published::NoVolume { closed: true },
                Published::NoVolume { closed: false }
            ]
        );
        assert_eq!(db.open_orders().await.unwrap(), 5);

        // filled for good; unpublished, then published again
        sqlx::query("UPDATE orders SET status = 'filled' WHERE hash = $1")
            .bind(hex32(&B256::repeat_byte(7)))
            .execute(&db.write)
            .await
            .unwrap();
        assert_eq!(
            writer.publish(order(7, bob)).await.unwrap(),
            Published::Final
        );
        assert_eq!(
            writer.publish(order(6, bob)).await.unwrap(),
            Published::Stored { remaining: 10 }
        );
        assert!(db.unpublish(&B256::repeat_byte(6), 6).await.unwrap());
        let mut again = order(6, bob);
        again.publication = 60;
        assert_eq!(
            writer.publish(again).await.unwrap(),
            Published::Stored { remaining: 10 }
        );
        drop(writer);
        drop(db);

        // what was answered is there after a restart
        let db = Db::connect(&url).await.unwrap();
        assert_eq!(db.open_orders().await.unwrap(), 5);
        let row = db.order(&B256::repeat_byte(6)).await.unwrap().unwrap();
        assert_eq!((row.status.as_str(), row.publication), ("open", 60));
    }

    #[tokio::test]
    async fn a_publish_checked_before_a_watcher_change_is_rechecked_after_it() {
        let (_dir, db, _url) = temp_db().await;
        let lock = Arc::new(Mutex::new(()));
        let drained = Arc::new(AtomicBool::new(false));
        let recheck: Recheck = {
            let drained = drained.clone();
            Arc::new(move |_: &NewOrder| {
                if drained.load(Ordering::SeqCst) {
                    Err(Error::Unprocessable("drained".into()))
                } else {
                    Ok(())
                }
            })
        };
        let writer = Writer::spawn(db.clone(), 50, recheck, lock.clone());
        // the watcher holds the book lock while it applies a withdrawal...
        let watcher = lock.clone().lock_owned().await;
        let publish = {
            let writer = writer.clone();
            tokio::spawn(async move { writer.publish(order(1, Address::repeat_byte(1))).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // ...updates the balance cache and commits: the publish waiting for the lock is refused
        drained.store(true, Ordering::SeqCst);
        drop(watcher);
        let refused = publish.await.unwrap();
        assert!(
            matches!(refused, Err(Error::Unprocessable(_))),
            "{refused:?}"
        );
        assert_eq!(db.open_orders().await.unwrap(), 0);
    }
}
