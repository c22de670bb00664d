//! The scheduler's database: SQLite (default, one file) or PostgreSQL, through sqlx's `Any`
//! driver and one set of portable migrations (`migrations/`).

use std::str::FromStr;

use alloy::primitives::{Address, B256};
use dexec_service::db::PoolSpec;
use dexec_service::DbUrl;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::api::ReplicateView;
use crate::error::{Error, Result};
use crate::state::{ReplicateStatus, TaskStatus};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A deal as stored.
#[derive(Debug, Clone)]
pub(crate) struct DealRow {
    pub deal_id: B256,
    pub encoded: Vec<u8>,
    pub params: String,
    pub app_type: String,
    pub app_multiaddr: String,
    pub app_checksum: B256,
    pub dataset_multiaddr: String,
    pub dataset_checksum: B256,
    pub block: u64,
}

/// A task as stored.
#[derive(Debug, Clone)]
pub(crate) struct TaskRow {
    pub task_id: B256,
    pub deal_id: B256,
    pub index: u64,
    pub status: TaskStatus,
    pub consensus: Option<B256>,
    pub result_digest: Option<B256>,
    pub results: Option<String>,
    /// When its status last changed (ms, the database's clock): for a pending task its
    /// arrival, for a revealing task when consensus was reached.
    pub updated_at: i64,
}

/// A replicate as stored.
#[derive(Debug, Clone)]
pub(crate) struct ReplicateRow {
    pub task_id: B256,
    pub worker: Address,
    pub status: ReplicateStatus,
    pub weight: u64,
    pub digest: Option<B256>,
    pub result_hash: Option<B256>,
    pub result_location: Option<String>,
    pub callback_data: Option<Vec<u8>>,
    pub error: Option<String>,
    pub assigned_at: i64,
    pub updated_at: i64,
}

impl ReplicateRow {
    pub fn view(&self) -> ReplicateView {
        ReplicateView {
            worker: self.worker,
            status: self.status.as_str().to_owned(),
            digest: self.digest,
            result_hash: self.result_hash,
            result_location: self.result_location.clone(),
            error: self.error.clone(),
            assigned_at: self.assigned_at,
            updated_at: self.updated_at,
        }
    }
}

/// Optional fields of a replicate update (`None` keeps the stored value).
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplicateUpdate {
    pub digest: Option<B256>,
    pub result_hash: Option<B256>,
    pub result_location: Option<String>,
    pub callback_data: Option<Vec<u8>>,
    pub error: Option<String>,
}

pub(crate) fn hex32(v: &B256) -> String {
    format!("{v:#x}")
}

pub(crate) fn hex_addr(v: &Address) -> String {
    format!("{v:#x}")
}

fn parse<T: FromStr>(what: &str, s: &str) -> Result<T> {
    s.parse()
        .map_err(|_| Error::Corrupt(format!("{what} {s:?} is not valid")))
}

fn state<T: FromStr<Err = crate::state::UnknownState>>(s: &str) -> Result<T> {
    s.parse()
        .map_err(|e: crate::state::UnknownState| Error::Corrupt(e.to_string()))
}

/// `$first, $first+1, …`: `n` numbered placeholders.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn opt<T: FromStr>(what: &str, s: Option<String>) -> Result<Option<T>> {
    s.map(|s| parse(what, &s)).transpose()
}

fn decode_hex(what: &str, s: &str) -> Result<Vec<u8>> {
    hex::decode(s.trim_start_matches("0x"))
        .map_err(|_| Error::Corrupt(format!("{what} is not hex")))
}

/// Task rows per INSERT statement (six parameters each: well within SQLite's and
/// PostgreSQL's limits on bound parameters).
const TASK_ROWS_PER_INSERT: usize = 500;

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The database.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pool: AnyPool,
}

impl Db {
    /// Open `url` (`sqlite://path`, `sqlite::memory:`, `postgres://…`) and migrate. A SQLite
    /// file (and its directory) is created if missing.
    pub async fn connect(url: &DbUrl) -> Result<Self> {
        let pool = dexec_service::db::open(
            url,
            PoolSpec {
                // SQLite allows one writer: one connection avoids "database is locked"
                // entirely, and the scheduler's queries are short
                max_connections: if url.is_sqlite() { 1 } else { 8 },
                sqlite_pragmas: &[
                    // a write-ahead log synced at checkpoints: a process crash loses nothing;
                    // a power cut may lose the last transactions, which the chain and the
                    // workers' reports rebuild (a result held for a batch is then recomputed)
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = NORMAL",
                    // the working set in memory: 64 MiB of page cache, reads mapped
                    "PRAGMA cache_size = -65536",
                    "PRAGMA mmap_size = 268435456",
                ],
            },
        )
        .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn next_block(&self) -> Result<Option<u64>> {
        let row = sqlx::query("SELECT next_block FROM cursor WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<i64, _>(0) as u64))
    }

    pub async fn set_next_block(&self, block: u64) -> Result<()> {
        sqlx::query(
            "INSERT INTO cursor (id, next_block) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET next_block = excluded.next_block",
        )
        .bind(block as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Insert a deal and its tasks (nothing if the deal is known).
    pub async fn insert_deal(&self, deal: &DealRow, tasks: &[(B256, u64)]) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO deals (deal_id, encoded, params, app_multiaddr, app_checksum, \
             dataset_multiaddr, dataset_checksum, block, app_type) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (deal_id) DO NOTHING",
        )
        .bind(hex32(&deal.deal_id))
        .bind(format!("0x{}", hex::encode(&deal.encoded)))
        .bind(deal.params.clone())
        .bind(deal.app_multiaddr.clone())
        .bind(hex32(&deal.app_checksum))
        .bind(deal.dataset_multiaddr.clone())
        .bind(hex32(&deal.dataset_checksum))
        .bind(deal.block as i64)
        .bind(deal.app_type.clone())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if inserted {
            let now = now_ms();
            // a bag's rows in a few statements, not one per task
            for chunk in tasks.chunks(TASK_ROWS_PER_INSERT) {
                // numbered placeholders, which SQLite and PostgreSQL both read (sqlx's `Any`
                // query builder writes `?`, which PostgreSQL does not)
                let rows: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let p = |k: usize| format!("${}", i * 6 + k);
                        format!(
                            "({}, {}, {}, {}, {}, {})",
                            p(1),
                            p(2),
                            p(3),
                            p(4),
                            p(5),
                            p(6)
                        )
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO tasks (task_id, deal_id, idx, block, status, updated_at) \
                     VALUES {} ON CONFLICT (task_id) DO NOTHING",
                    rows.join(", ")
                );
                let mut insert = sqlx::query(&sql);
                for (task_id, index) in chunk {
                    insert = insert
                        .bind(hex32(task_id))
                        .bind(hex32(&deal.deal_id))
                        .bind(*index as i64)
                        .bind(deal.block as i64)
                        .bind(TaskStatus::Pending.as_str())
                        .bind(now);
                }
                insert.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(inserted)
    }

    pub async fn deal(&self, deal_id: &B256) -> Result<Option<DealRow>> {
        let row = sqlx::query(
            "SELECT deal_id, encoded, params, app_multiaddr, app_checksum, dataset_multiaddr, \
             dataset_checksum, block, app_type FROM deals WHERE deal_id = $1",
        )
        .bind(hex32(deal_id))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(DealRow {
                deal_id: parse("deal id", &r.get::<String, _>(0))?,
                encoded: decode_hex("deal", &r.get::<String, _>(1))?,
                params: r.get(2),
                app_multiaddr: r.get(3),
                app_checksum: parse("checksum", &r.get::<String, _>(4))?,
                dataset_multiaddr: r.get(5),
                dataset_checksum: parse("checksum", &r.get::<String, _>(6))?,
                block: r.get::<i64, _>(7) as u64,
                app_type: r.get(8),
            })
        })
        .transpose()
    }

    fn task_row(r: &AnyRow) -> Result<TaskRow> {
        Ok(TaskRow {
            task_id: parse("task id", &r.get::<String, _>(0))?,
            deal_id: parse("deal id", &r.get::<String, _>(1))?,
            index: r.get::<i64, _>(2) as u64,
            status: state(&r.get::<String, _>(3))?,
            consensus: opt("consensus", r.get(4))?,
            result_digest: opt("digest", r.get(5))?,
            results: r.get(6),
            updated_at: r.get(7),
        })
    }

    const TASK_COLUMNS: &'static str =
        "task_id, deal_id, idx, status, consensus, result_digest, results, updated_at";

    pub async fn task(&self, task_id: &B256) -> Result<Option<TaskRow>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM tasks WHERE task_id = $1",
            Self::TASK_COLUMNS
        ))
        .bind(hex32(task_id))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::task_row).transpose()
    }

    /// The tasks of `task_ids` that exist, by id (read 500 per statement).
    pub async fn tasks_by_id(
        &self,
        task_ids: &[B256],
    ) -> Result<std::collections::HashMap<B256, TaskRow>> {
        let mut found = std::collections::HashMap::with_capacity(task_ids.len());
        for chunk in task_ids.chunks(500) {
            let sql = format!(
                "SELECT {} FROM tasks WHERE task_id IN ({})",
                Self::TASK_COLUMNS,
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(hex32(id));
            }
            for row in query.fetch_all(&self.pool).await? {
                let task = Self::task_row(&row)?;
                found.insert(task.task_id, task);
            }
        }
        Ok(found)
    }

    /// Tasks in one of `statuses`, oldest deal first, then by index.
    pub async fn tasks_with_status(
        &self,
        statuses: &[TaskStatus],
        limit: i64,
    ) -> Result<Vec<TaskRow>> {
        self.tasks_page(statuses, limit, 0).await
    }

    /// Tasks in `statuses`, oldest deal and lowest index first: `limit` from `offset`.
    pub async fn tasks_page(
        &self,
        statuses: &[TaskStatus],
        limit: i64,
        offset: i64,
    ) -> Result<Vec<TaskRow>> {
        let sql = format!(
            "SELECT {} FROM tasks WHERE status IN ({}) ORDER BY block, idx LIMIT {limit} \
             OFFSET {offset}",
            Self::TASK_COLUMNS,
            placeholders(1, statuses.len())
        );
        let mut query = sqlx::query(&sql);
        for s in statuses {
            query = query.bind(s.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(Self::task_row).collect()
    }

    /// Move a task to `to` from whatever state it may come from (see
    /// [`TaskStatus::can_become`]); false if it was in none of them.
    pub async fn set_task_status(&self, task_id: &B256, to: TaskStatus) -> Result<bool> {
        self.transition_task(task_id, &TaskStatus::sources(to), to)
            .await
    }

    /// Move a task from `from` (any of) to `to`; false if it was in none of them.
    pub async fn transition_task(
        &self,
        task_id: &B256,
        from: &[TaskStatus],
        to: TaskStatus,
    ) -> Result<bool> {
        debug_assert!(
            !from.is_empty() && from.iter().all(|f| f.can_become(to)),
            "{from:?} -> {to}"
        );
        let sql = format!(
            "UPDATE tasks SET status = $1, updated_at = $2 WHERE task_id = $3 AND status IN ({})",
            placeholders(4, from.len())
        );
        let mut query = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(now_ms())
            .bind(hex32(task_id));
        for s in from {
            query = query.bind(s.as_str());
        }
        let done = query.execute(&self.pool).await?.rows_affected();
        Ok(done > 0)
    }

    pub async fn set_consensus(&self, task_id: &B256, consensus: Option<&B256>) -> Result<()> {
        sqlx::query("UPDATE tasks SET consensus = $1, updated_at = $2 WHERE task_id = $3")
            .bind(consensus.map(hex32))
            .bind(now_ms())
            .bind(hex32(task_id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// `UPDATE` of a task to completed with its digest and results link (from a state that
    /// may complete).
    fn complete_query<'q>(
        sql: &'q str,
        task_id: &B256,
        digest: &B256,
        results: &str,
        now: i64,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let mut query = sqlx::query(sql)
            .bind(TaskStatus::Completed.as_str())
            .bind(hex32(digest))
            .bind(results.to_owned())
            .bind(now)
            .bind(hex32(task_id));
        for s in TaskStatus::sources(TaskStatus::Completed) {
            query = query.bind(s.as_str());
        }
        query
    }

    fn complete_sql() -> String {
        format!(
            "UPDATE tasks SET status = $1, result_digest = $2, results = $3, updated_at = $4 \
             WHERE task_id = $5 AND status IN ({})",
            placeholders(6, TaskStatus::sources(TaskStatus::Completed).len())
        )
    }

    pub async fn complete_task(&self, task_id: &B256, digest: &B256, results: &str) -> Result<()> {
        let sql = Self::complete_sql();
        Self::complete_query(&sql, task_id, digest, results, now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Record a task settled on chain with `digest`, its replicates with it, in one
    /// transaction (a reader never sees a completed task with replicates still running):
    /// live replicates with another result (or none yet) are aborted, the others that took
    /// part are done.
    pub async fn settle_task(&self, task_id: &B256, digest: &B256, results: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let complete = Self::complete_sql();
        Self::complete_query(&complete, task_id, digest, results, now)
            .execute(&mut *tx)
            .await?;
        let live = ReplicateStatus::LIVE;
        let abort = format!(
            "UPDATE replicates SET status = $1, updated_at = $2 WHERE task_id = $3 AND \
             (digest IS NULL OR digest <> $4) AND status IN ({})",
            placeholders(5, live.len())
        );
        let mut query = sqlx::query(&abort)
            .bind(ReplicateStatus::Aborted.as_str())
            .bind(now)
            .bind(hex32(task_id))
            .bind(hex32(digest));
        for s in live {
            query = query.bind(s.as_str());
        }
        query.execute(&mut *tx).await?;
        let took_part = [
            ReplicateStatus::Assigned,
            ReplicateStatus::Computed,
            ReplicateStatus::Held,
            ReplicateStatus::Contributed,
            ReplicateStatus::Revealed,
        ];
        let done = format!(
            "UPDATE replicates SET status = $1, updated_at = $2 WHERE task_id = $3 AND \
             status IN ({})",
            placeholders(4, took_part.len())
        );
        let mut query = sqlx::query(&done)
            .bind(ReplicateStatus::Done.as_str())
            .bind(now)
            .bind(hex32(task_id));
        for s in took_part {
            query = query.bind(s.as_str());
        }
        query.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Mark pushed tasks completed and their replicates done, in one transaction:
    /// `(task, worker, digest, results link)`.
    pub async fn complete_pushed(&self, pushed: &[(B256, Address, B256, String)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let complete = Self::complete_sql();
        let done_from = ReplicateStatus::sources(ReplicateStatus::Done);
        let done = format!(
            "UPDATE replicates SET status = $1, updated_at = $2 WHERE task_id = $3 AND \
             worker = $4 AND status IN ({})",
            placeholders(5, done_from.len())
        );
        for (task_id, worker, digest, results) in pushed {
            Self::complete_query(&complete, task_id, digest, results, now)
                .execute(&mut *tx)
                .await?;
            let mut query = sqlx::query(&done)
                .bind(ReplicateStatus::Done.as_str())
                .bind(now)
                .bind(hex32(task_id))
                .bind(hex_addr(worker));
            for s in &done_from {
                query = query.bind(s.as_str());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Undo what a reorg took back: the tasks settled by a transaction whose block was
    /// replaced go back from completed to `to` (pushing: their held results are pushed again;
    /// revealing: finalized again), and the replicates named with them from done to held.
    /// These are the only moves out of the final states, made for this alone (they are not
    /// in [`TaskStatus::can_become`] or [`ReplicateStatus::can_become`], where a late report
    /// could reach them). One transaction: `(task, replicate's worker if any)`.
    pub async fn undo_settlement(
        &self,
        tasks: &[(B256, Option<Address>)],
        to: TaskStatus,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        for (task_id, worker) in tasks {
            sqlx::query(
                "UPDATE tasks SET status = $1, result_digest = NULL, results = NULL, \
                 updated_at = $2 WHERE task_id = $3 AND status = $4",
            )
            .bind(to.as_str())
            .bind(now)
            .bind(hex32(task_id))
            .bind(TaskStatus::Completed.as_str())
            .execute(&mut *tx)
            .await?;
            if let Some(worker) = worker {
                sqlx::query(
                    "UPDATE replicates SET status = $1, updated_at = $2 WHERE task_id = $3 \
                     AND worker = $4 AND status = $5",
                )
                .bind(ReplicateStatus::Held.as_str())
                .bind(now)
                .bind(hex32(task_id))
                .bind(hex_addr(worker))
                .bind(ReplicateStatus::Done.as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    const REPLICATE_COLUMNS: &'static str = "task_id, worker, status, weight, digest, \
        result_hash, result_location, callback_data, error, assigned_at, updated_at";

    fn replicate_row(r: &AnyRow) -> Result<ReplicateRow> {
        let callback: Option<String> = r.get(7);
        Ok(ReplicateRow {
            task_id: parse("task id", &r.get::<String, _>(0))?,
            worker: parse("worker", &r.get::<String, _>(1))?,
            status: state(&r.get::<String, _>(2))?,
            weight: r.get::<i64, _>(3) as u64,
            digest: opt("digest", r.get(4))?,
            result_hash: opt("result hash", r.get(5))?,
            result_location: r.get(6),
            callback_data: callback
                .map(|c| decode_hex("callback data", &c))
                .transpose()?,
            error: r.get(8),
            assigned_at: r.get(9),
            updated_at: r.get(10),
        })
    }

    /// Replicates of a task, in assignment order.
    pub async fn replicates(&self, task_id: &B256) -> Result<Vec<ReplicateRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM replicates WHERE task_id = $1 ORDER BY assigned_at, worker",
            Self::REPLICATE_COLUMNS
        ))
        .bind(hex32(task_id))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::replicate_row).collect()
    }

    pub async fn replicate(
        &self,
        task_id: &B256,
        worker: &Address,
    ) -> Result<Option<ReplicateRow>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM replicates WHERE task_id = $1 AND worker = $2",
            Self::REPLICATE_COLUMNS
        ))
        .bind(hex32(task_id))
        .bind(hex_addr(worker))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::replicate_row).transpose()
    }

    /// Replicates in one of `statuses` (all workers, or one).
    pub async fn replicates_with_status(
        &self,
        statuses: &[ReplicateStatus],
        worker: Option<&Address>,
    ) -> Result<Vec<ReplicateRow>> {
        let mut sql = format!(
            "SELECT {} FROM replicates WHERE status IN ({})",
            Self::REPLICATE_COLUMNS,
            placeholders(1, statuses.len())
        );
        if worker.is_some() {
            sql.push_str(&format!(" AND worker = ${}", statuses.len() + 1));
        }
        sql.push_str(" ORDER BY assigned_at");
        let mut query = sqlx::query(&sql);
        for s in statuses {
            query = query.bind(s.as_str());
        }
        if let Some(worker) = worker {
            query = query.bind(hex_addr(worker));
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(Self::replicate_row).collect()
    }

    /// Live replicates (assigned, computed) per worker: each worker's load.
    pub async fn live_load(&self) -> Result<std::collections::HashMap<Address, usize>> {
        let live = ReplicateStatus::LIVE;
        let sql = format!(
            "SELECT worker, COUNT(*) FROM replicates WHERE status IN ({}) GROUP BY worker",
            placeholders(1, live.len())
        );
        let mut query = sqlx::query(&sql);
        for s in live {
            query = query.bind(s.as_str());
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let worker = parse("worker", &r.get::<String, _>(0))?;
                Ok((worker, usize::try_from(r.get::<i64, _>(1)).unwrap_or(0)))
            })
            .collect()
    }

    pub async fn insert_replicate(
        &self,
        task_id: &B256,
        worker: &Address,
        weight: u64,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO replicates (task_id, worker, status, weight, assigned_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (task_id, worker) DO UPDATE SET status = $3, weight = $4, \
             digest = NULL, result_hash = NULL, result_location = NULL, callback_data = NULL, \
             error = NULL, assigned_at = $5, updated_at = $6 WHERE replicates.status = 'failed'",
        )
        .bind(hex32(task_id))
        .bind(hex_addr(worker))
        .bind(ReplicateStatus::Assigned.as_str())
        .bind(weight as i64)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Move a replicate to `to` from whatever state it may come from (see
    /// [`ReplicateStatus::can_become`]) and set the fields of `update`; false if it was in
    /// none of them.
    pub async fn set_replicate(
        &self,
        task_id: &B256,
        worker: &Address,
        to: ReplicateStatus,
        update: ReplicateUpdate,
    ) -> Result<bool> {
        self.update_replicate(task_id, worker, &ReplicateStatus::sources(to), to, update)
            .await
    }

    /// Move a replicate from one of `from` to `status` and set the fields of `update`; false
    /// if it was in none of them.
    pub async fn update_replicate(
        &self,
        task_id: &B256,
        worker: &Address,
        from: &[ReplicateStatus],
        status: ReplicateStatus,
        update: ReplicateUpdate,
    ) -> Result<bool> {
        debug_assert!(
            !from.is_empty() && from.iter().all(|f| f.can_become(status)),
            "{from:?} -> {status}"
        );
        let sql = format!(
            "UPDATE replicates SET status = $1, updated_at = $2, \
             digest = COALESCE($3, digest), result_hash = COALESCE($4, result_hash), \
             result_location = COALESCE($5, result_location), \
             callback_data = COALESCE($6, callback_data), error = COALESCE($7, error) \
             WHERE task_id = $8 AND worker = $9 AND status IN ({})",
            placeholders(10, from.len())
        );
        let mut query = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(now_ms())
            .bind(update.digest.as_ref().map(hex32))
            .bind(update.result_hash.as_ref().map(hex32))
            .bind(update.result_location)
            .bind(
                update
                    .callback_data
                    .map(|d| format!("0x{}", hex::encode(d))),
            )
            .bind(update.error)
            .bind(hex32(task_id))
            .bind(hex_addr(worker));
        for s in from {
            query = query.bind(s.as_str());
        }
        Ok(query.execute(&self.pool).await?.rows_affected() > 0)
    }

    /// Number of replicates by status (metrics).
    pub async fn replicate_counts(&self) -> Result<Vec<(String, i64)>> {
        self.counts_by_status("replicates").await
    }

    /// Number of tasks by status (health and metrics).
    pub async fn task_counts(&self) -> Result<Vec<(String, i64)>> {
        self.counts_by_status("tasks").await
    }

    /// Rows of `table` (a fixed name, never input) by status.
    async fn counts_by_status(&self, table: &'static str) -> Result<Vec<(String, i64)>> {
        let sql = format!("SELECT status, COUNT(*) FROM {table} GROUP BY status ORDER BY status");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
