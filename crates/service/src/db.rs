//! Databases: [`DbUrl`] (a URL that never shows its password) and [`open`] (a SQLite or
//! PostgreSQL pool, set up the same way by every service).

use std::fmt;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use crate::args::ArgsError;

/// A database URL: `sqlite://<file>`, `sqlite::memory:` or `postgres://…`. Its `Debug` and
/// `Display` replace the password with `***`; [`expose`](Self::expose) gives the real one to
/// the driver.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(String);

impl DbUrl {
    /// Check the scheme.
    pub fn parse(url: &str) -> Result<Self, ArgsError> {
        if url.starts_with("sqlite:") || url.starts_with("postgres") {
            Ok(Self(url.to_owned()))
        } else {
            Err(ArgsError::DbUrl(Self(url.to_owned()).redacted()))
        }
    }

    /// The URL with its password, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True for SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }

    /// True for an in-memory SQLite database (every connection is a database of its own).
    pub fn is_memory(&self) -> bool {
        self.is_sqlite() && self.0.contains(":memory:")
    }

    /// The file of a SQLite database on disk (`None` for PostgreSQL and in-memory SQLite).
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        if !self.is_sqlite() || self.is_memory() {
            return None;
        }
        let path = self
            .0
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or(path);
        (!path.is_empty()).then(|| std::path::PathBuf::from(path))
    }

    /// The URL with `***` for its password.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let creds = &url[scheme + 3..at];
                match creds.split_once(':') {
                    Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                    None => url.clone(),
                }
            }
            _ => url.clone(),
        }
    }

    /// The URL the driver opens: a SQLite file gets `mode=rwc` (created if missing) and its
    /// directory is created.
    fn prepared(&self) -> std::io::Result<String> {
        let url = &self.0;
        if !self.is_sqlite() || self.is_memory() {
            return Ok(url.clone());
        }
        let Some(path) = self.sqlite_file() else {
            return Ok(url.clone());
        };
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        Ok(if url.contains("mode=") {
            url.clone()
        } else if url.contains('?') {
            format!("{url}&mode=rwc")
        } else {
            format!("{url}?mode=rwc")
        })
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DbUrl").field(&self.redacted()).finish()
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::str::FromStr for DbUrl {
    type Err = ArgsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// How a pool is opened.
#[derive(Debug, Clone, Copy)]
pub struct PoolSpec {
    /// Most connections.
    pub max_connections: u32,
    /// Statements run on every new SQLite connection (`PRAGMA …`).
    pub sqlite_pragmas: &'static [&'static str],
}

/// A pool could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The SQLite file's directory could not be created.
    #[error("cannot create the database directory: {0}")]
    Io(#[from] std::io::Error),
    /// The driver refused.
    #[error("cannot open the database {url}: {source}")]
    Connect {
        /// The URL, redacted.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
}

/// Open a pool on `url`. SQLite files (and their directory) are created if missing, and
/// `spec.sqlite_pragmas` run on each connection. A SQLite file is a local file: no ping before
/// each use; a server connection may have died, so PostgreSQL connections are tested.
/// Migrations are the caller's (each service has its own).
pub async fn open(url: &DbUrl, spec: PoolSpec) -> Result<AnyPool, DbError> {
    sqlx::any::install_default_drivers();
    let sqlite = url.is_sqlite();
    let pragmas = spec.sqlite_pragmas;
    AnyPoolOptions::new()
        .max_connections(spec.max_connections)
        .test_before_acquire(!sqlite)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    for pragma in pragmas {
                        sqlx::Executor::execute(&mut *conn, *pragma).await?;
                    }
                }
                Ok(())
            })
        })
        .connect(&url.prepared()?)
        .await
        .map_err(|source| DbError::Connect {
            url: url.redacted(),
            source,
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = DbUrl::parse("postgres://dexec:s3cret@db.example:5432/market").unwrap();
        for shown in [format!("{url:?}"), url.to_string()] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("dexec:***@db.example"), "{shown}");
        }
        assert_eq!(
            url.expose(),
            "postgres://dexec:s3cret@db.example:5432/market"
        );
        let bad = DbUrl::parse("mysql://u:pw@h/db").unwrap_err().to_string();
        assert!(!bad.contains("pw@") && bad.contains("sqlite://"), "{bad}");
    }

    #[tokio::test]
    async fn a_sqlite_file_and_its_directory_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/state.db");
        let url = DbUrl::parse(&format!("sqlite://{}", path.display())).unwrap();
        let pool = open(
            &url,
            PoolSpec {
                max_connections: 1,
                sqlite_pragmas: &["PRAGMA journal_mode = WAL"],
            },
        )
        .await
        .unwrap();
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(mode.0, "wal");
        assert!(path.is_file());
    }
}
