//! `chain.json`: where a deployment lives, in the shape of iExec's project file of that name.
//!
//! ```json
//! {
//!   "default": "dexec-devnet",
//!   "chains": {
//!     "dexec-devnet": {
//!       "id": "31337",
//!       "host": "http://127.0.0.1:8545",
//!       "hub": "0x…", "token": "0x…",
//!       "appRegistry": "0x…", "datasetRegistry": "0x…", "workerpoolRegistry": "0x…"
//!     }
//!   }
//! }
//! ```
//!
//! As in iExec, the chain id is a string and `host` is the JSON-RPC URL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::deploy::Deployment;

/// Name under which `dexec devnet` records its chain.
pub const DEVNET: &str = "dexec-devnet";

/// The contents of a `chain.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainFile {
    /// Name of the chain commands use when none is given.
    pub default: String,
    /// Known chains by name.
    pub chains: BTreeMap<String, ChainEntry>,
}

/// One chain of a `chain.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainEntry {
    /// Chain id, as a decimal string.
    pub id: String,
    /// JSON-RPC URL.
    pub host: String,
    /// Contract addresses.
    #[serde(flatten)]
    pub deployment: Deployment,
    /// URL of the chain's market (order book API), as iExec's `iexecGateway`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// URL of the chain's default blob store (apps, datasets, input files, results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

/// Why a `chain.json` could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ChainFileError {
    /// Reading or writing the file failed.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file names no chain of that name.
    #[error("{path} has no chain named `{name}` (it has: {known})")]
    NoSuchChain {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The names it has, comma-separated.
        known: String,
    },
    /// The file is not a valid `chain.json`.
    #[error("{path} is not a valid chain.json: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

impl ChainFile {
    /// A file with one chain, `name`, which is also the default.
    pub fn single(name: &str, chain_id: u64, host: &str, deployment: Deployment) -> Self {
        let entry = ChainEntry::new(chain_id, host, deployment);
        Self {
            default: name.to_owned(),
            chains: BTreeMap::from([(name.to_owned(), entry)]),
        }
    }

    /// The default chain, if the file names one it has.
    pub fn default_chain(&self) -> Option<&ChainEntry> {
        self.chains.get(&self.default)
    }

    /// Read a `chain.json`.
    pub fn load(path: &Path) -> Result<Self, ChainFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ChainFileError::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ChainFileError::Json {
            path: path.to_owned(),
            source,
        })
    }

    /// Read `path` and return the chain `name` (the file's default when `None`) with its name:
    /// what every command and service does with `--chain-file` and `--chain`.
    pub fn load_entry(
        path: &Path,
        name: Option<&str>,
    ) -> Result<(String, ChainEntry), ChainFileError> {
        let file = Self::load(path)?;
        let name = name.map_or_else(|| file.default.clone(), str::to_owned);
        match file.chains.get(&name) {
            Some(entry) => Ok((name, entry.clone())),
            None => Err(ChainFileError::NoSuchChain {
                path: path.to_owned(),
                known: file.chains.keys().cloned().collect::<Vec<_>>().join(", "),
                name,
            }),
        }
    }

    /// [`load_entry`](Self::load_entry) for a service: the chain `name` of `path`, its
    /// JSON-RPC URL replaced by `rpc_url` when one is given (`--rpc-url`).
    pub fn load_service_entry(
        path: &Path,
        name: Option<&str>,
        rpc_url: Option<String>,
    ) -> Result<ChainEntry, ChainFileError> {
        let (_, mut entry) = Self::load_entry(path, name)?;
        if let Some(url) = rpc_url {
            entry.host = url;
        }
        Ok(entry)
    }

    /// Write a `chain.json` (pretty-printed), replacing any previous file.
    pub fn save(&self, path: &Path) -> Result<(), ChainFileError> {
        let json = serde_json::to_string_pretty(self).map_err(|source| ChainFileError::Json {
            path: path.to_owned(),
            source,
        })?;
        // written beside and renamed, so a reader never sees half a file
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, json + "\n")
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|source| ChainFileError::Io {
                path: path.to_owned(),
                source,
            })
    }
}

impl ChainEntry {
    /// A chain at `host` with the hub `deployment`, and no service URLs.
    pub fn new(chain_id: u64, host: impl Into<String>, deployment: Deployment) -> Self {
        Self {
            id: chain_id.to_string(),
            host: host.into(),
            deployment,
            market: None,
            store: None,
        }
    }

    /// The chain id as a number, if `id` is one.
    pub fn chain_id(&self) -> Option<u64> {
        self.id.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::Address;

    fn deployment() -> Deployment {
        Deployment {
            token: Address::repeat_byte(1),
            app_registry: Address::repeat_byte(2),
            dataset_registry: Address::repeat_byte(3),
            workerpool_registry: Address::repeat_byte(4),
            hub: Address::repeat_byte(5),
            poco_module: Address::repeat_byte(6),
        }
    }

    #[test]
    fn shape_follows_iexec() {
        let file = ChainFile::single(DEVNET, 31337, "http://127.0.0.1:8545", deployment());
        let json = serde_json::to_value(&file).expect("serializes");
        let chain = &json["chains"][DEVNET];
        assert_eq!(json["default"], DEVNET);
        assert_eq!(chain["id"], "31337");
        assert_eq!(chain["host"], "http://127.0.0.1:8545");
        assert_eq!(chain["hub"], "0x0505050505050505050505050505050505050505");
        assert_eq!(
            chain["appRegistry"],
            "0x0202020202020202020202020202020202020202"
        );
        assert_eq!(
            file.default_chain().and_then(ChainEntry::chain_id),
            Some(31337)
        );
    }

    #[test]
    fn save_and_load_round_trip() {
        let path = std::env::temp_dir().join(format!("dexec-chain-{}.json", std::process::id()));
        let file = ChainFile::single("x", 1, "http://h", deployment());
        file.save(&path).expect("save");
        assert_eq!(ChainFile::load(&path).expect("load"), file);
        let (name, entry) = ChainFile::load_entry(&path, None).expect("default chain");
        assert_eq!((name.as_str(), entry.id.as_str()), ("x", "1"));
        let missing = ChainFile::load_entry(&path, Some("y")).expect_err("no chain y");
        assert!(
            missing
                .to_string()
                .contains("no chain named `y` (it has: x)"),
            "{missing}"
        );
        std::fs::remove_file(&path).expect("cleanup");
        assert!(matches!(
            ChainFile::load(&path),
            Err(ChainFileError::Io { .. })
        ));
    }
}
