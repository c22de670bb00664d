//! Exit codes, decided in one place from what went wrong.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure of the environment (node unreachable, I/O, unexpected data) |
//! | 2 | bad usage or input (arguments, files, amounts, missing password or configuration) |
//! | 3 | refused: the hub reverted, or a check before sending found it would (balance, owner, orders that cannot match) |
//! | 4 | not found (asset, deal, task, order) |
//! | 5 | aborted: a confirmation was declined or not given (`--force`), or Ctrl-C |
//! | 6 | the task completed, but with an app error: the app produced no result and the workers' error result says why |

use std::fmt;

/// Exit code of a successful command.
pub const OK: u8 = 0;
/// Exit code of an environment failure.
pub const FAILURE: u8 = 1;
/// Exit code of bad usage or input.
pub const USAGE: u8 = 2;
/// Exit code of a refusal by the hub or by a pre-check.
pub const REFUSED: u8 = 3;
/// Exit code of something not found.
pub const NOT_FOUND: u8 = 4;
/// Exit code of an aborted command.
pub const ABORTED: u8 = 5;
/// Exit code of a task that completed with an app error (an error result).
pub const APP_ERROR: u8 = 6;

/// An error the CLI itself raises, with its exit code.
#[derive(Debug)]
pub struct Fail {
    /// The exit code.
    pub code: u8,
    /// The sentence shown.
    pub message: String,
}

impl Fail {
    /// Bad usage or input.
    pub fn usage(message: impl Into<String>) -> eyre::Report {
        eyre::Report::new(Self {
            code: USAGE,
            message: message.into(),
        })
    }

    /// Something not found.
    pub fn not_found(message: impl Into<String>) -> eyre::Report {
        eyre::Report::new(Self {
            code: NOT_FOUND,
            message: message.into(),
        })
    }

    /// A refusal found before sending.
    pub fn refused(message: impl Into<String>) -> eyre::Report {
        eyre::Report::new(Self {
            code: REFUSED,
            message: message.into(),
        })
    }

    /// Tasks that completed with an app error.
    pub fn app_error(message: impl Into<String>) -> eyre::Report {
        eyre::Report::new(Self {
            code: APP_ERROR,
            message: message.into(),
        })
    }

    /// A declined confirmation.
    pub fn aborted(message: impl Into<String>) -> eyre::Report {
        eyre::Report::new(Self {
            code: ABORTED,
            message: message.into(),
        })
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

/// The exit code for `report`.
pub fn code(report: &eyre::Report) -> u8 {
    for cause in report.chain() {
        if let Some(fail) = cause.downcast_ref::<Fail>() {
            return fail.code;
        }
        if let Some(err) = cause.downcast_ref::<dexec_sdk::Error>() {
            return sdk_code(err);
        }
        if cause
            .downcast_ref::<dexec_sdk::wallet::WalletError>()
            .is_some()
            || cause
                .downcast_ref::<dexec_sdk::primitives::AmountError>()
                .is_some()
            || cause
                .downcast_ref::<dexec_contracts::chain_file::ChainFileError>()
                .is_some()
        {
            return USAGE;
        }
        if let Some(err) = cause.downcast_ref::<dexec_sdk::market::ClientError>() {
            return match err.status() {
                Some(400 | 413) => USAGE,
                Some(404) => NOT_FOUND,
                Some(status) if status < 500 => REFUSED,
                _ => FAILURE,
            };
        }
        if let Some(err) = cause.downcast_ref::<dexec_contracts::Error>() {
            return match err {
                dexec_contracts::Error::Revert { .. } | dexec_contracts::Error::Failed(_) => {
                    REFUSED
                }
                _ => FAILURE,
            };
        }
    }
    FAILURE
}

fn sdk_code(err: &dexec_sdk::Error) -> u8 {
    use dexec_sdk::Error as E;
    match err {
        E::Contract(_) if err.is_revert() => REFUSED,
        E::Insufficient { .. }
        | E::NotOwner { .. }
        | E::Incompatible(_)
        | E::Exhausted { .. }
        | E::Refused(_)
        | E::WrongChain { .. } => REFUSED,
        E::UnknownAsset { .. }
        | E::NoSuchIndex { .. }
        | E::DealNotFound(_)
        | E::UnknownCategory { .. } => NOT_FOUND,
        E::NoWallet | E::Wallet(_) | E::BadParams(_) => USAGE,
        _ => FAILURE,
    }
}

/// The message of `report`: its causes joined, without backtrace.
pub fn message(report: &eyre::Report) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in report.chain() {
        let text = cause.to_string();
        // thiserror's `transparent` and `#[from]` wrappers repeat their source's text
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}
