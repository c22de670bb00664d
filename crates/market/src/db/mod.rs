//! The market's database: SQLite (default, one file) or PostgreSQL, through sqlx's `Any`
//! driver and one set of portable migrations (`migrations/`).
//!
//! - this module: [`Db`], its pools and the watcher's cursor;
//! - [`sql`]: the small SQL builder (WHERE clauses, multi-row inserts);
//! - [`orders`]: the book (publish, unpublish, queries, the watcher's closings);
//! - [`deals`]: deals and trades;
//! - [`writer`]: the publish writer (group commit).

pub(crate) mod deals;
pub(crate) mod orders;
pub(crate) mod sql;
pub(crate) mod writer;

use alloy::primitives::{Address, B256};
use dexec_service::db::{open, PoolSpec};
use dexec_service::DbUrl;
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::Result;

pub(crate) use orders::{NewOrder, OrderRow, Published};
pub(crate) use sql::{Bind, Where};
pub(crate) use writer::{Recheck, Writer};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

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

/// Per-connection SQLite settings. WAL lets readers run beside the writer; `synchronous =
/// FULL` syncs the WAL at each commit, so a publish answered 201 survives a power loss (the
/// writer commits publishes in groups, so this costs one sync per group); a larger page cache
/// and memory-mapped reads keep the book's indexes out of read system calls; checkpoints every
/// 8000 pages (32 MiB of WAL) rather than 1000 copy a page rewritten by many groups once.
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA cache_size = -32768",
    "PRAGMA mmap_size = 268435456",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA wal_autocheckpoint = 8000",
];

/// The database.
#[derive(Debug, Clone)]
pub(crate) struct Db {
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
    pub(crate) async fn connect(url: &DbUrl) -> Result<Self> {
        let sqlite = url.is_sqlite();
        let memory = url.is_memory();
        let spec = |max_connections| PoolSpec {
            max_connections,
            sqlite_pragmas: SQLITE_PRAGMAS,
        };
        let write = open(
            url,
            spec(if !sqlite {
                16
            } else if memory {
                // every connection to :memory: is a database of its own
                1
            } else {
                // the publish writer's own connection, and one for the watcher and unpublishes
                2
            }),
        )
        .await?;
        MIGRATOR.run(&write).await?;
        let pool = if sqlite && !memory {
            open(url, spec(4)).await?
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

    /// A write transaction (SQLite: `BEGIN IMMEDIATE`, so that reading before writing cannot
    /// fail on a lock upgrade).
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>> {
        Ok(if self.sqlite {
            self.write.begin_with("BEGIN IMMEDIATE").await?
        } else {
            self.write.begin().await?
        })
    }

    /// The watcher's cursor: the first block whose events are not applied yet (`None` on a
    /// fresh database).
    pub(crate) async fn next_block(&self) -> Result<Option<u64>> {
        let row = sqlx::query("SELECT next_block FROM cursor WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<i64, _>(0) as u64))
    }

    /// Open orders in the book by kind (metrics).
    pub(crate) async fn book_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) FROM orders WHERE status = 'open' GROUP BY kind ORDER BY kind",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Move the watcher's cursor, in the transaction that applies the events before it.
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
}
