//! The worker's error.

/// What can go wrong in the worker (failures of the worker itself; what an app does wrong is
/// a deterministic error *result*, never an [`Error`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A flag group (chain, wallet) could not be used.
    #[error(transparent)]
    Args(#[from] dexec_service::args::ArgsError),
    /// The scheduler refused a call or could not be reached.
    #[error(transparent)]
    Scheduler(#[from] dexec_sdk::scheduler::SchedulerError),
    /// A chain call failed.
    #[error(transparent)]
    Chain(#[from] dexec_sdk::Error),
    /// A hub transaction failed.
    #[error(transparent)]
    Contract(#[from] dexec_contracts::Error),
    /// Another process uses the work directory.
    #[error(transparent)]
    Lock(#[from] dexec_service::LockError),
    /// The runtime could not run the app (a host problem, not an app problem).
    #[error("runtime: {0}")]
    Runtime(#[from] dexec_runtime::Error),
    /// The worker itself failed (the runtime's host error, a panicked or cancelled task, an
    /// HTTP client that cannot be built, an answer of the hub it does not understand): a
    /// worker fault, never a result; the scheduler gives the task to another worker.
    #[error("worker fault: {0}")]
    Fault(String),
    /// The result could not be uploaded.
    #[error("result upload failed: {0}")]
    Store(#[from] dexec_sdk::store::StoreError),
    /// The assignment's deal is not a packed deal.
    #[error("the assignment for task {task} carries an invalid deal: {error}")]
    BadDeal {
        /// The task.
        task: alloy::primitives::B256,
        /// Why the deal does not decode.
        error: dexec_primitives::DealError,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signer(#[from] alloy::signers::Error),
    /// The assignment's authorization is not the workerpool owner's.
    #[error(
        "the assignment for task {0} carries no valid authorization from the workerpool owner"
    )]
    BadAuthorization(alloy::primitives::B256),
    /// Local files.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A state file could not be read or written.
    #[error("state file: {0}")]
    State(#[from] serde_json::Error),
}

/// `Result` with the worker's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
