//! The scheduler's database: SQLite (default, one file) or PostgreSQL, through sqlx's `Any`
//! driver and one set of portable migrations (`migrations/`).

use std::str::FromStr;

use alloy::primitives::{Address, B256};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::api::ReplicateView;
use crate::error::{Error, Result};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Task states.
pub(crate) mod task_status {
    /// Nobody assigned yet.
    pub const PENDING: &str = "pending";
    /// Replicates assigned or contributed, no consensus yet.
    pub const RUNNING: &str = "running";
    /// Consensus reached; winners reveal, then the scheduler finalizes.
    pub const REVEALING: &str = "revealing";
    /// Trust 1 in batch mode: a result is held for the next `pushResults`.
    pub const PUSHING: &str = "pushing";
    /// Settled with a result.
    pub const COMPLETED: &str = "completed";
    /// Claimed after its final deadline.
    pub const FAILED: &str = "failed";
}

/// Replicate states.
pub(crate) mod rep_status {
    /// Given to a worker, which is computing.
    pub const ASSIGNED: &str = "assigned";
    /// Result computed and reported.
    pub const COMPUTED: &str = "computed";
    /// Trust 1 in batch mode: the result is the scheduler's to push; the worker is free.
    pub const HELD: &str = "held";
    /// Contribution on chain.
    pub const CONTRIBUTED: &str = "contributed";
    /// Reveal on chain.
    pub const REVEALED: &str = "revealed";
    /// Finished: the task settled.
    pub const DONE: &str = "done";
    /// The worker reported a failure of its own.
    pub const FAILED: &str = "failed";
    /// The worker stopped sending heartbeats.
    pub const LOST: &str = "lost";
    /// No progress within the replicate timeout.
    pub const TIMEOUT: &str = "timeout";
    /// Not needed any more (consensus without it, task settled).
    pub const ABORTED: &str = "aborted";
    /// Its contribution was in a consensus nobody revealed (reopened).
    pub const REJECTED: &str = "rejected";
    /// Replicates still expected to contribute.
    pub const LIVE: [&str; 2] = [ASSIGNED, COMPUTED];
}

/// A deal as stored.
#[derive(Debug, Clone)]
pub(crate) struct DealRow {
    pub deal_id: B256,
    pub encoded: Vec<u8>,
    pub params: String,
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
    pub status: String,
    pub consensus: Option<B256>,
    pub result_digest: Option<B256>,
    pub results: Option<String>,
}

/// A replicate as stored.
#[derive(Debug, Clone)]
pub(crate) struct ReplicateRow {
    pub task_id: B256,
    pub worker: Address,
    pub status: String,
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
            status: self.status.clone(),
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

fn opt<T: FromStr>(what: &str, s: Option<String>) -> Result<Option<T>> {
    s.map(|s| parse(what, &s)).transpose()
}

fn decode_hex(what: &str, s: &str) -> Result<Vec<u8>> {
    hex::decode(s.trim_start_matches("0x"))
        .map_err(|_| Error::Corrupt(format!("{what} is not hex")))
}

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
    /// Connect to `url` (`sqlite://path`, `sqlite::memory:`, `postgres://…`) and migrate.
    /// A SQLite file (and its directory) is created if missing.
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
        // SQLite allows one writer: one connection avoids "database is locked" entirely, and
        // the scheduler's queries are short.
        let max = if sqlite { 1 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // a write-ahead log synced at checkpoints: a process crash loses
                        // nothing; a power cut may lose the last transactions, which the
                        // chain and the workers' reports rebuild (a result held for a batch
                        // is then recomputed)
                        sqlx::Executor::execute(&mut *conn, "PRAGMA journal_mode = WAL").await?;
                        sqlx::Executor::execute(&mut *conn, "PRAGMA synchronous = NORMAL").await?;
                        // the working set in memory: 64 MiB of page cache, reads mapped
                        sqlx::Executor::execute(&mut *conn, "PRAGMA cache_size = -65536").await?;
                        sqlx::Executor::execute(&mut *conn, "PRAGMA mmap_size = 268435456").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
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
             dataset_multiaddr, dataset_checksum, block) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (deal_id) DO NOTHING",
        )
        .bind(hex32(&deal.deal_id))
        .bind(format!("0x{}", hex::encode(&deal.encoded)))
        .bind(deal.params.clone())
        .bind(deal.app_multiaddr.clone())
        .bind(hex32(&deal.app_checksum))
        .bind(deal.dataset_multiaddr.clone())
        .bind(hex32(&deal.dataset_checksum))
        .bind(deal.block as i64)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if inserted {
            let now = now_ms();
            for (task_id, index) in tasks {
                sqlx::query(
                    "INSERT INTO tasks (task_id, deal_id, idx, block, status, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (task_id) DO NOTHING",
                )
                .bind(hex32(task_id))
                .bind(hex32(&deal.deal_id))
                .bind(*index as i64)
                .bind(deal.block as i64)
                .bind(task_status::PENDING)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(inserted)
    }

    pub async fn deal(&self, deal_id: &B256) -> Result<Option<DealRow>> {
        let row = sqlx::query(
            "SELECT deal_id, encoded, params, app_multiaddr, app_checksum, dataset_multiaddr, \
             dataset_checksum, block FROM deals WHERE deal_id = $1",
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
            })
        })
        .transpose()
    }

    fn task_row(r: &AnyRow) -> Result<TaskRow> {
        Ok(TaskRow {
            task_id: parse("task id", &r.get::<String, _>(0))?,
            deal_id: parse("deal id", &r.get::<String, _>(1))?,
            index: r.get::<i64, _>(2) as u64,
            status: r.get(3),
            consensus: opt("consensus", r.get(4))?,
            result_digest: opt("digest", r.get(5))?,
            results: r.get(6),
        })
    }

    const TASK_COLUMNS: &'static str =
        "task_id, deal_id, idx, status, consensus, result_digest, results";

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

    /// Tasks in one of `statuses`, oldest deal first, then by index.
    pub async fn tasks_with_status(&self, statuses: &[&str], limit: i64) -> Result<Vec<TaskRow>> {
        self.tasks_page(statuses, limit, 0).await
    }

    /// Tasks in `statuses`, oldest deal and lowest index first: `limit` from `offset`.
    pub async fn tasks_page(
        &self,
        statuses: &[&str],
        limit: i64,
        offset: i64,
    ) -> Result<Vec<TaskRow>> {
        let placeholders: Vec<String> = (1..=statuses.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {} FROM tasks WHERE status IN ({}) ORDER BY block, idx LIMIT {limit} \
             OFFSET {offset}",
            Self::TASK_COLUMNS,
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for s in statuses {
            query = query.bind(*s);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(Self::task_row).collect()
    }

    pub async fn set_task_status(&self, task_id: &B256, status: &str) -> Result<()> {
        sqlx::query("UPDATE tasks SET status = $1, updated_at = $2 WHERE task_id = $3")
            .bind(status)
            .bind(now_ms())
            .bind(hex32(task_id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Move a task from `from` (any of) to `to`; false if it was in none of them.
    pub async fn transition_task(&self, task_id: &B256, from: &[&str], to: &str) -> Result<bool> {
        let placeholders: Vec<String> = (3..3 + from.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "UPDATE tasks SET status = $1, updated_at = $2 WHERE task_id = ${} AND status IN ({})",
            3 + from.len(),
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(to).bind(now_ms());
        for s in from {
            query = query.bind(*s);
        }
        let done = query
            .bind(hex32(task_id))
            .execute(&self.pool)
            .await?
            .rows_affected();
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

    /// `UPDATE` of a task to completed with its digest and results link.
    fn complete_query<'q>(
        task_id: &B256,
        digest: &B256,
        results: &str,
        now: i64,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        sqlx::query(
            "UPDATE tasks SET status = $1, result_digest = $2, results = $3, updated_at = $4 \
             WHERE task_id = $5",
        )
        .bind(task_status::COMPLETED)
        .bind(hex32(digest))
        .bind(results.to_owned())
        .bind(now)
        .bind(hex32(task_id))
    }

    pub async fn complete_task(&self, task_id: &B256, digest: &B256, results: &str) -> Result<()> {
        Self::complete_query(task_id, digest, results, now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Mark pushed tasks completed and their replicates done, in one transaction:
    /// `(task, worker, digest, results link)`.
    pub async fn complete_pushed(&self, pushed: &[(B256, Address, B256, String)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        for (task_id, worker, digest, results) in pushed {
            Self::complete_query(task_id, digest, results, now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE replicates SET status = $1, updated_at = $2 WHERE task_id = $3 AND \
                 worker = $4",
            )
            .bind(rep_status::DONE)
            .bind(now)
            .bind(hex32(task_id))
            .bind(hex_addr(worker))
            .execute(&mut *tx)
            .await?;
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
            status: r.get(2),
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
        statuses: &[&str],
        worker: Option<&Address>,
    ) -> Result<Vec<ReplicateRow>> {
        let placeholders: Vec<String> = (1..=statuses.len()).map(|i| format!("${i}")).collect();
        let mut sql = format!(
            "SELECT {} FROM replicates WHERE status IN ({})",
            Self::REPLICATE_COLUMNS,
            placeholders.join(", ")
        );
        if worker.is_some() {
            sql.push_str(&format!(" AND worker = ${}", statuses.len() + 1));
        }
        sql.push_str(" ORDER BY assigned_at");
        let mut query = sqlx::query(&sql);
        for s in statuses {
            query = query.bind(*s);
        }
        if let Some(worker) = worker {
            query = query.bind(hex_addr(worker));
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(Self::replicate_row).collect()
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
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hex32(task_id))
        .bind(hex_addr(worker))
        .bind(rep_status::ASSIGNED)
        .bind(weight as i64)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Set a replicate's status (only from one of `from`, any if empty) and fields; false if
    /// it was not in an allowed state.
    pub async fn update_replicate(
        &self,
        task_id: &B256,
        worker: &Address,
        from: &[&str],
        status: &str,
        update: ReplicateUpdate,
    ) -> Result<bool> {
        let mut sql = "UPDATE replicates SET status = $1, updated_at = $2, \
             digest = COALESCE($3, digest), result_hash = COALESCE($4, result_hash), \
             result_location = COALESCE($5, result_location), \
             callback_data = COALESCE($6, callback_data), error = COALESCE($7, error) \
             WHERE task_id = $8 AND worker = $9"
            .to_owned();
        if !from.is_empty() {
            let placeholders: Vec<String> =
                (10..10 + from.len()).map(|i| format!("${i}")).collect();
            sql.push_str(&format!(" AND status IN ({})", placeholders.join(", ")));
        }
        let mut query = sqlx::query(&sql)
            .bind(status)
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
            query = query.bind(*s);
        }
        Ok(query.execute(&self.pool).await?.rows_affected() > 0)
    }

    /// Number of tasks by status (health and metrics).
    pub async fn task_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows =
            sqlx::query("SELECT status, COUNT(*) FROM tasks GROUP BY status ORDER BY status")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
