//! The publish writer: one thread stores every publish, deciding and committing those that
//! arrive together in one transaction (group commit).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use alloy::primitives::Address;
use dexec_primitives::OrderKind;
use dexec_sdk::market::BookStatus;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::orders::{NewOrder, Published};
use super::{hex32, Db};
use crate::{Error, Result};

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
            match existing.get(&hashes[i]) {
                Some(BookStatus::Open) => out[i] = Some(Ok(Published::AlreadyOpen)),
                Some(s) if s.is_final() => out[i] = Some(Ok(Published::Final)),
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
                    out[i] = Some(Ok(match now.get(&hashes[i]) {
                        Some(s) if s.is_final() => Published::Final,
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

    use alloy::primitives::B256;

    use super::*;
    use crate::book::BookOrder;

    async fn temp_db() -> (tempfile::TempDir, Db, dexec_service::DbUrl) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url: dexec_service::DbUrl = format!("sqlite://{}/market.db", dir.path().display())
            .parse()
            .expect("a SQLite URL");
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
        assert_eq!((row.status, row.publication), (BookStatus::Open, 60));
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
