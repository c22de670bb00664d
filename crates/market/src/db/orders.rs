//! The book's rows: storing publishes (for the writer), unpublishing, the paged queries, and
//! the closings the watcher applies (consumed, cancelled, dead).

use std::collections::{HashMap, HashSet};

use alloy::primitives::{Address, B256};
use dexec_primitives::OrderKind;
use dexec_sdk::market::BookStatus;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::sql::{chunks, insert_sql, placeholders, Where};
use super::{hex32, hex_addr, now_ms, Db};
use crate::book::{kind_from_name, split_tag, Columns};
use crate::{Error, Result};

/// Order counts are exact up to this many.
pub(crate) const COUNT_CAP: i64 = 1000;

/// A stored order.
#[derive(Debug, Clone)]
pub(crate) struct OrderRow {
    pub hash: B256,
    pub kind: OrderKind,
    pub signer: Address,
    pub remaining: i64,
    pub status: BookStatus,
    pub publication: i64,
    pub published_at: i64,
    /// The signed order's JSON, as published.
    pub body: String,
}

const ORDER_FIELDS: &str = "hash, kind, signer, remaining, status, publication, published_at, body";

fn corrupt(what: &str, value: &str) -> Error {
    Error::Corrupt(format!("stored {what} {value:?}"))
}

/// A stored status.
fn status_of(text: &str) -> Result<BookStatus> {
    text.parse().map_err(|_| corrupt("status", text))
}

/// A stored kind.
fn kind_of(text: &str) -> Result<OrderKind> {
    kind_from_name(text).ok_or_else(|| corrupt("order kind", text))
}

fn order_row(row: &AnyRow) -> Result<OrderRow> {
    let hash: String = row.try_get("hash")?;
    let signer: String = row.try_get("signer")?;
    Ok(OrderRow {
        hash: hash.parse().map_err(|_| corrupt("hash", &hash))?,
        kind: kind_of(&row.try_get::<String, _>("kind")?)?,
        signer: signer.parse().map_err(|_| corrupt("signer", &signer))?,
        remaining: row.try_get("remaining")?,
        status: status_of(&row.try_get::<String, _>("status")?)?,
        publication: row.try_get("publication")?,
        published_at: row.try_get("published_at")?,
        body: row.try_get("body")?,
    })
}

/// An order to store, checked by the publish rules for everything but what the book itself
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

fn bind_order<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    o: &'q NewOrder,
    remaining: i64,
) -> Query<'q, Any, AnyArguments<'q>> {
    let c = &o.columns;
    let (tag_low, tag_high) = split_tag(c.tag);
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
        .bind(BookStatus::Open.as_str())
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

/// What the book knows of some hashes: their status if listed, and their consumed volume and
/// closed flag if the watcher recorded them.
pub(crate) type Known = (HashMap<String, BookStatus>, HashMap<String, (i64, bool)>);

impl Db {
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
    pub(crate) async fn open_count(
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
        .bind(BookStatus::Open.as_str())
        .bind(kind.name())
        .bind(cap)
        .fetch_one(&mut *conn)
        .await?;
        Ok(row.get::<i64, _>(0))
    }

    /// For each of `hashes`: its status if it is in the book, and its consumed volume and
    /// closed flag if the watcher recorded them. One statement per chunk.
    pub(crate) async fn known(
        conn: &mut AnyConnection,
        sqlite: bool,
        hashes: &[String],
    ) -> Result<Known> {
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
                    statuses.insert(hash, status_of(&status)?);
                }
            }
        }
        Ok((statuses, consumed))
    }

    /// Store `orders` (with their remaining volumes), republishing unpublished and dead ones;
    /// returns the hashes stored.
    pub(crate) async fn upsert(
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

    /// Move the workerpool orders of `pool` in status `from` to status `to` (open ones out of
    /// the book while its scheduler is silent, offline ones back with volume left); returns
    /// their hashes.
    pub(crate) async fn set_pool_orders(
        &self,
        pool: Address,
        from: BookStatus,
        to: BookStatus,
    ) -> Result<Vec<B256>> {
        let rows = sqlx::query(
            "UPDATE orders SET status = $1, updated_at = $2 \
             WHERE kind = $3 AND asset = $4 AND status = $5 AND remaining > 0 RETURNING hash",
        )
        .bind(to.as_str())
        .bind(now_ms())
        .bind(OrderKind::Workerpool.name())
        .bind(hex_addr(&pool))
        .bind(from.as_str())
        .fetch_all(&self.write)
        .await?;
        rows.iter()
            .map(|r| {
                let hash: String = r.try_get(0)?;
                hash.parse()
                    .map_err(|_| Error::Corrupt(format!("order hash `{hash}`")))
            })
            .collect()
    }

    /// Unpublish `hash` if it is open under `publication`; false if it was not.
    pub(crate) async fn unpublish(&self, hash: &B256, publication: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE orders SET status = $1, updated_at = $2 \
             WHERE hash = $3 AND status = $4 AND publication = $5",
        )
        .bind(BookStatus::Unpublished.as_str())
        .bind(now_ms())
        .bind(hex32(hash))
        .bind(BookStatus::Open.as_str())
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
        let rows = filter
            .bind_to(sqlx::query(&sql))
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
                filter
                    .bind_to(sqlx::query(&sql))
                    .fetch_one(&self.pool)
                    .await?
                    .get::<i64, _>(0)
            }
            None => seen,
        };
        Ok((rows, more, count))
    }

    /// How many orders are open (benchmarks).
    pub(crate) async fn open_orders(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM orders WHERE status = $1")
            .bind(BookStatus::Open.as_str())
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
    ) -> Result<Option<(OrderKind, BookStatus)>> {
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
        let kind = kind_of(&row.try_get::<String, _>(0)?)?;
        let volume: i64 = row.try_get(1)?;
        let old = status_of(&row.try_get::<String, _>(2)?)?;
        let remaining = if closed {
            0
        } else {
            (volume - consumed).max(0)
        };
        let new = if closed {
            BookStatus::Cancelled
        } else if remaining == 0 {
            BookStatus::Filled
        } else {
            old
        };
        sqlx::query(
            "UPDATE orders SET remaining = $1, status = $2, updated_at = $3 WHERE hash = $4",
        )
        .bind(remaining)
        .bind(new.as_str())
        .bind(now_ms())
        .bind(h.as_str())
        .execute(&mut **tx)
        .await?;
        Ok((new != old).then_some((kind, new)))
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
            BookStatus::Open
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
        .bind(BookStatus::Open.as_str())
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
                .bind(BookStatus::Dead.as_str())
                .bind(now_ms())
                .bind(hash.as_str())
                .execute(&mut **tx)
                .await?;
            out.push((kind, hash));
        }
        Ok(out)
    }
}
