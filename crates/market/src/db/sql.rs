//! A small SQL builder: WHERE clauses with bound values, and the multi-row inserts of the
//! publish writer (placeholders and chunk sizes).

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

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

    /// ` WHERE a AND b`, or nothing.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// Bind this clause's values to `query`, in order.
    pub fn bind_to<'q>(
        &'q self,
        mut query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        for b in &self.binds {
            query = match b {
                Bind::Int(v) => query.bind(*v),
                Bind::Text(v) => query.bind(v.as_str()),
            };
        }
        query
    }
}

/// The columns of `orders` a publish writes, in bind order.
pub(crate) const INSERT_COLUMNS: &str = "hash, kind, asset, signer, price, max_total, volume, \
     remaining, tag_low, tag_high, category, trust, app_r, dataset_r, workerpool_r, \
     requester_r, beneficiary, status, publication, published_at, updated_at, body";
/// How many values [`INSERT_COLUMNS`] binds per row.
pub(crate) const INSERT_WIDTH: usize = 22;
/// Rows per multi-row statement at most. Statements are cut in sizes 1 to 8 and multiples of
/// 8, so that a group needs at most a few statements and a handful of distinct SQL texts stay
/// in the prepared-statement caches.
const ROWS_PER_STATEMENT: usize = 64;

/// Cut `n` items into chunks of at most [`ROWS_PER_STATEMENT`], each of 1 to 8 items or a
/// multiple of 8.
pub(crate) fn chunks(n: usize) -> Vec<std::ops::Range<usize>> {
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
pub(crate) fn placeholders(first: usize, n: usize, sqlite: bool) -> String {
    let list: Vec<String> = (first..first + n)
        .map(|i| if sqlite { "?".into() } else { format!("${i}") })
        .collect();
    format!("({})", list.join(", "))
}

/// A multi-row insert of `rows` orders: an upsert that republishes unpublished, dead and
/// offline orders and returns the hashes it stored, or (`upsert` false) an insert that skips known
/// hashes.
pub(crate) fn insert_sql(rows: usize, upsert: bool, sqlite: bool) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| placeholders(r * INSERT_WIDTH + 1, INSERT_WIDTH, sqlite))
        .collect();
    let conflict = if upsert {
        "ON CONFLICT (hash) DO UPDATE SET status = excluded.status, \
         remaining = excluded.remaining, signer = excluded.signer, \
         publication = excluded.publication, published_at = excluded.published_at, \
         updated_at = excluded.updated_at, body = excluded.body \
         WHERE orders.status IN ('unpublished', 'dead', 'offline') RETURNING hash"
    } else {
        "ON CONFLICT (hash) DO NOTHING"
    };
    format!(
        "INSERT INTO orders ({INSERT_COLUMNS}) VALUES {} {conflict}",
        values.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
