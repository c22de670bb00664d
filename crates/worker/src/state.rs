//! A replicate's state on disk (`<work_dir>/tasks/<taskId>/state.json`), written after every
//! step so that an interrupted replicate resumes where it stopped.

use std::path::Path;

use alloy::primitives::{Bytes, B256};
use dexec_sdk::scheduler::Assignment;
use serde::{Deserialize, Serialize};

use crate::error::Result;

const STATE_FILE: &str = "state.json";

/// Where a replicate is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "phase",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub(crate) enum Phase {
    /// Assigned; not computed yet (recomputed from scratch after a restart).
    Received,
    /// Computed and uploaded.
    Computed {
        digest: B256,
        result_location: Option<String>,
        callback_data: Option<Bytes>,
    },
    /// `contribute` mined with `digest` (the vote).
    Contributed { digest: B256 },
    /// `reveal` mined.
    Revealed { digest: B256 },
    /// `contributeAndFinalize` mined.
    Finalized { digest: B256 },
}

/// A replicate: its assignment and phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TaskState {
    pub assignment: Assignment,
    pub phase: Phase,
}

impl TaskState {
    /// Write atomically (temp file + rename) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(".state.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(tmp, dir.join(STATE_FILE))?;
        Ok(())
    }
}

/// Every saved replicate under `tasks_dir` (unreadable ones are logged and skipped).
pub(crate) fn load_all(tasks_dir: &Path) -> Result<Vec<TaskState>> {
    let mut out = Vec::new();
    if !tasks_dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(tasks_dir)? {
        let path = entry?.path().join(STATE_FILE);
        match std::fs::read(&path).map(|b| serde_json::from_slice::<TaskState>(&b)) {
            Ok(Ok(state)) => out.push(state),
            Ok(Err(e)) => {
                tracing::warn!(target: "worker", path = %path.display(), error = %e, "unreadable task state; skipped")
            }
            Err(_) => {}
        }
    }
    Ok(out)
}
