//! The kinds of asset and of order, named once for every crate.

use serde::{Deserialize, Serialize};

/// The three kinds of asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetKind {
    /// A WebAssembly app.
    App,
    /// A dataset.
    Dataset,
    /// A workerpool (a scheduler and its workers).
    Workerpool,
}

impl AssetKind {
    /// All kinds.
    pub const ALL: [Self; 3] = [Self::App, Self::Dataset, Self::Workerpool];

    /// Lower-case name, as in commands and files.
    pub const fn name(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Dataset => "dataset",
            Self::Workerpool => "workerpool",
        }
    }
}

impl std::fmt::Display for AssetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The four kinds of order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderKind {
    /// An app provider's offer.
    App,
    /// A dataset provider's offer.
    Dataset,
    /// A workerpool's offer of computing power.
    Workerpool,
    /// A requester's demand.
    Request,
}

impl OrderKind {
    /// Name as in iExec's files (`apporder`, …).
    pub const fn file_key(self) -> &'static str {
        match self {
            Self::App => "apporder",
            Self::Dataset => "datasetorder",
            Self::Workerpool => "workerpoolorder",
            Self::Request => "requestorder",
        }
    }

    /// Short name ("app", "dataset", "workerpool", "request").
    pub const fn name(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Dataset => "dataset",
            Self::Workerpool => "workerpool",
            Self::Request => "request",
        }
    }
}

impl std::fmt::Display for OrderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
