//! Task and replicate states, and the moves between them (`docs/workerpool.md`). They are
//! stored as text only at the database edge (`db.rs`) and shown as the same text by
//! `GET /tasks/{id}`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A state name the scheduler does not know (a corrupted or foreign database).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} state {name:?}")]
pub struct UnknownState {
    /// `task` or `replicate`.
    pub kind: &'static str,
    /// The text read.
    pub name: String,
}

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Nobody assigned yet.
    Pending,
    /// Replicates assigned or contributed, no consensus yet.
    Running,
    /// Consensus reached; winners reveal, then the scheduler finalizes.
    Revealing,
    /// Trust 1 in batch mode: a result is held for the next `pushResults`.
    Pushing,
    /// Settled with a result.
    Completed,
    /// Claimed after its final deadline.
    Failed,
}

impl TaskStatus {
    /// Every state.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Running,
        Self::Revealing,
        Self::Pushing,
        Self::Completed,
        Self::Failed,
    ];

    /// States of a task not settled yet.
    pub const OPEN: [Self; 4] = [Self::Pending, Self::Running, Self::Revealing, Self::Pushing];

    /// States in which a task takes replicates.
    pub const ASSIGNABLE: [Self; 2] = [Self::Pending, Self::Running];

    /// The stored and shown name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Revealing => "revealing",
            Self::Pushing => "pushing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Settled: completed or failed, nothing moves it any more.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }

    /// Whether a task in this state may be written with `next`: a move the protocol makes, or
    /// staying (an update of the task's other fields).
    ///
    /// Assignment moves a pending task to running; a result held for a batch moves it to
    /// pushing; a consensus to revealing, and a reopen (nobody revealed) back to running; a
    /// finalization (by a worker, a batch or the scheduler) completes it and a claim after
    /// the final deadline fails it, from any open state.
    pub fn can_become(self, next: Self) -> bool {
        use TaskStatus::*;
        if self == next {
            return true;
        }
        matches!(
            (self, next),
            (Pending, Running)
                | (Pending | Running, Pushing | Revealing)
                | (Revealing, Running)
                | (Pending | Running | Revealing | Pushing, Completed | Failed)
        )
    }

    /// The states that may be written with `next` (see [`can_become`](Self::can_become)).
    pub fn sources(next: Self) -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|s| s.can_become(next))
            .collect()
    }
}

/// Where a replicate (one worker's run of a task) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicateStatus {
    /// Given to a worker, which is computing.
    Assigned,
    /// Result computed and reported.
    Computed,
    /// Trust 1 in batch mode: the result is the scheduler's to push; the worker is free.
    Held,
    /// Contribution on chain.
    Contributed,
    /// Reveal on chain.
    Revealed,
    /// Finished: the task settled.
    Done,
    /// The worker reported a failure of its own.
    Failed,
    /// The worker stopped sending heartbeats.
    Lost,
    /// No progress within the replicate timeout.
    Timeout,
    /// Not needed any more (consensus without it, task settled).
    Aborted,
    /// Its contribution was in a consensus nobody revealed (reopened).
    Rejected,
}

impl ReplicateStatus {
    /// Every state.
    pub const ALL: [Self; 11] = [
        Self::Assigned,
        Self::Computed,
        Self::Held,
        Self::Contributed,
        Self::Revealed,
        Self::Done,
        Self::Failed,
        Self::Lost,
        Self::Timeout,
        Self::Aborted,
        Self::Rejected,
    ];

    /// Replicates still expected to contribute (they count as running for consensus).
    pub const LIVE: [Self; 2] = [Self::Assigned, Self::Computed];

    /// States whose contribution is on chain.
    pub const CONTRIBUTED: [Self; 3] = [Self::Contributed, Self::Revealed, Self::Done];

    /// The stored and shown name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Assigned => "assigned",
            Self::Computed => "computed",
            Self::Held => "held",
            Self::Contributed => "contributed",
            Self::Revealed => "revealed",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Lost => "lost",
            Self::Timeout => "timeout",
            Self::Aborted => "aborted",
            Self::Rejected => "rejected",
        }
    }

    /// Still expected to contribute: assigned or computed.
    pub const fn is_live(self) -> bool {
        matches!(self, Self::Assigned | Self::Computed)
    }

    /// Whether a replicate in this state may be written with `next`: a move the protocol
    /// makes, or staying (an update of its other fields).
    ///
    /// A live replicate (assigned, computed) may end in every way: computed, held for a
    /// batch, contributed, revealed or done (the chain's events may overtake the worker's
    /// reports), failed, lost, timed out or aborted; only an assigned one times out. A held
    /// result is pushed (done). A contribution is revealed, settles (done), is aborted by a
    /// claim or rejected by a reopen; a reveal settles. A replicate given up on (failed, lost,
    /// timed out, aborted) may still have reached the chain: its contribution event or the
    /// worker's final report moves it on. Done and rejected are final.
    pub fn can_become(self, next: Self) -> bool {
        use ReplicateStatus::*;
        if self == next {
            return true;
        }
        matches!(
            (self, next),
            (Assigned, Timeout)
                | (
                    Assigned | Computed,
                    Computed | Held | Contributed | Revealed | Done | Failed | Lost | Aborted,
                )
                | (Held, Done)
                | (Contributed, Revealed | Done | Aborted | Rejected)
                | (Revealed, Done)
                | (Failed | Lost | Timeout | Aborted, Contributed | Done)
        )
    }

    /// The states that may be written with `next` (see [`can_become`](Self::can_become)).
    pub fn sources(next: Self) -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|s| s.can_become(next))
            .collect()
    }
}

macro_rules! text {
    ($ty:ty, $kind:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownState;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|state| state.as_str() == s)
                    .ok_or_else(|| UnknownState {
                        kind: $kind,
                        name: s.to_owned(),
                    })
            }
        }
    };
}

text!(TaskStatus, "task");
text!(ReplicateStatus, "replicate");

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ReplicateStatus as R;
    use TaskStatus as T;

    #[test]
    fn names_round_trip_through_text_and_json() {
        for s in T::ALL {
            assert_eq!(s.as_str().parse::<T>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
        for s in R::ALL {
            assert_eq!(s.as_str().parse::<R>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        let bad = "finished".parse::<T>().unwrap_err();
        assert_eq!(bad.to_string(), r#"unknown task state "finished""#);
        assert!("Pending".parse::<T>().is_err(), "names are lower case");
    }

    #[test]
    fn the_stored_names_are_the_ones_databases_already_hold() {
        let tasks: Vec<_> = T::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            tasks,
            [
                "pending",
                "running",
                "revealing",
                "pushing",
                "completed",
                "failed"
            ]
        );
        let replicates: Vec<_> = R::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            replicates,
            [
                "assigned",
                "computed",
                "held",
                "contributed",
                "revealed",
                "done",
                "failed",
                "lost",
                "timeout",
                "aborted",
                "rejected"
            ]
        );
    }

    #[test]
    fn task_moves() {
        // the life of a task
        assert!(T::Pending.can_become(T::Running));
        assert!(T::Running.can_become(T::Revealing));
        assert!(T::Revealing.can_become(T::Running), "reopen");
        assert!(T::Revealing.can_become(T::Completed));
        assert!(T::Running.can_become(T::Pushing));
        assert!(T::Pushing.can_become(T::Completed));
        for open in T::OPEN {
            assert!(!open.is_final());
            assert!(open.can_become(T::Completed) && open.can_become(T::Failed));
        }
        // settled tasks stay settled
        for settled in [T::Completed, T::Failed] {
            assert!(settled.is_final());
            for next in T::ALL {
                assert_eq!(
                    settled.can_become(next),
                    settled == next,
                    "{settled} -> {next}"
                );
            }
        }
        // nothing goes back to pending; a held result is not un-held
        for s in T::ALL {
            assert_eq!(s.can_become(T::Pending), s == T::Pending);
        }
        assert!(!T::Pushing.can_become(T::Running));
        assert!(!T::Pushing.can_become(T::Revealing));
        assert!(!T::Revealing.can_become(T::Pushing));
        assert_eq!(
            T::sources(T::Revealing),
            [T::Pending, T::Running, T::Revealing]
        );
        assert_eq!(
            T::sources(T::Running),
            [T::Pending, T::Running, T::Revealing]
        );
    }

    #[test]
    fn replicate_moves() {
        for live in R::LIVE {
            assert!(live.is_live());
            for next in [R::Contributed, R::Done, R::Failed, R::Lost, R::Aborted] {
                assert!(live.can_become(next), "{live} -> {next}");
            }
            assert!(
                !live.can_become(R::Rejected),
                "only a contribution is rejected"
            );
        }
        assert!(R::Assigned.can_become(R::Computed) && R::Assigned.can_become(R::Held));
        assert!(R::Assigned.can_become(R::Timeout));
        assert!(
            !R::Computed.can_become(R::Timeout),
            "a computed replicate made progress"
        );
        assert!(!R::Computed.can_become(R::Assigned));
        assert_eq!(R::sources(R::Held), [R::Assigned, R::Computed, R::Held]);
        // a held result is pushed, nothing else
        for next in R::ALL {
            assert_eq!(R::Held.can_become(next), matches!(next, R::Held | R::Done));
        }
        assert!(R::Contributed.can_become(R::Revealed));
        assert!(R::Contributed.can_become(R::Rejected));
        assert!(
            !R::Contributed.can_become(R::Lost),
            "its vote is on chain already"
        );
        assert!(R::Revealed.can_become(R::Done));
        assert!(
            !R::Revealed.can_become(R::Rejected),
            "a revealed task is never reopened"
        );
        // given up on, but the chain may say otherwise
        for gone in [R::Failed, R::Lost, R::Timeout, R::Aborted] {
            assert!(!gone.is_live());
            assert!(gone.can_become(R::Contributed) && gone.can_become(R::Done));
            assert!(!gone.can_become(R::Assigned) && !gone.can_become(R::Revealed));
        }
        for last in [R::Done, R::Rejected] {
            for next in R::ALL {
                assert_eq!(last.can_become(next), last == next, "{last} -> {next}");
            }
        }
        // nothing goes back to assigned
        assert_eq!(R::sources(R::Assigned), [R::Assigned]);
    }
}
