//! One process per state directory: an advisory lock on `<dir>/dexec.lock`.
//!
//! Two workers on one work directory would share their replicates' state (one "resumes" the
//! other's running task and deletes its live files); two devnets on one `.dexec` would fight
//! over chain.json and the anvil port. The lock is the kernel's (`flock` through
//! [`std::fs::File::try_lock`]), so it goes away with its process, however that process ends:
//! a stale lock file from a crash is never an obstacle. The file holds the holder's pid and
//! role, which the refusal names.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a state directory.
pub const LOCK_FILE: &str = "dexec.lock";

/// A held state-directory lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

/// Why a state directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds it.
    #[error(
        "{dir} is already used by another process ({holder}): one {role} per {per}; stop that \
         one or give this one another {per}"
    )]
    Busy {
        /// The state directory.
        dir: PathBuf,
        /// What the lock file says about its holder ("pid 123, worker"), or that it says nothing.
        holder: String,
        /// What this process is.
        role: String,
        /// What is locked: "folder" or "database".
        per: &'static str,
    },
    /// The directory or its lock file cannot be created or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl StateLock {
    /// Lock `dir` (created if missing) for this process, which is a `role` ("worker",
    /// "devnet", …); refused with [`LockError::Busy`] while another process holds it.
    pub fn acquire(dir: &Path, role: &str) -> Result<Self, LockError> {
        Self::lock(dir.join(LOCK_FILE), dir, role, "folder")
    }

    /// Lock the SQLite database `file` for this process, a `role`, through `<file>.lock`
    /// beside it (the database's own locks serialize writes, not whole processes: two
    /// schedulers on one database would each assign the same tasks).
    pub fn acquire_database(file: &Path, role: &str) -> Result<Self, LockError> {
        let mut name = file.as_os_str().to_owned();
        name.push(".lock");
        Self::lock(PathBuf::from(name), file, role, "database")
    }

    /// Lock the file `path` (its directory created if missing) on behalf of `what`.
    fn lock(path: PathBuf, what: &Path, role: &str, per: &'static str) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Busy {
                    dir: what.to_path_buf(),
                    holder: if holder.is_empty() {
                        "it has not said which".into()
                    } else {
                        holder.to_owned()
                    },
                    role: role.to_owned(),
                    per,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "pid {}, {role}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_told_who_holds_it_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = StateLock::acquire(&state, "worker").expect("first lock");
        assert!(first.path().is_file());
        let refused = StateLock::acquire(&state, "worker")
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains(&format!("pid {}, worker", std::process::id()))
                && refused.contains("one worker per folder")
                && refused.contains(&state.display().to_string()),
            "{refused}"
        );
        drop(first);
        StateLock::acquire(&state, "worker").expect("free again once dropped");
    }

    #[test]
    fn a_database_is_locked_through_a_file_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sub").join("scheduler.db");
        let first = StateLock::acquire_database(&db, "scheduler").expect("first lock");
        assert_eq!(
            first.path(),
            dir.path().join("sub").join("scheduler.db.lock")
        );
        let refused = StateLock::acquire_database(&db, "scheduler")
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("one scheduler per database")
                && refused.contains("another database")
                && refused.contains(&db.display().to_string()),
            "{refused}"
        );
    }
}
