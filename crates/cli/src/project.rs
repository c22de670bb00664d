//! Project files in the working directory, as iExec's SDK keeps them:
//!
//! - `dexec.json`: what to deploy (`app`, `dataset`, `workerpool`) and order templates
//!   (`order.apporder`, …), edited by hand or by `dexec <asset> init` / `dexec order init`;
//! - `deployed.json`: the last deployed asset of each kind, per chain id;
//! - `orders.json`: signed orders per chain id, written by `dexec order sign`.
//!
//! Files are written atomically (temporary file, then rename), and a signed order is never
//! replaced silently: see [`OrdersFile::put`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use dexec_sdk::{AssetKind, OrderKind};
use eyre::WrapErr;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::exit::Fail;

/// `dexec.json`.
pub const PROJECT: &str = "dexec.json";
/// `deployed.json`.
pub const DEPLOYED: &str = "deployed.json";
/// `orders.json`.
pub const ORDERS: &str = "orders.json";

/// Read a JSON file, `None` if it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> eyre::Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Fail::usage(format!("{} is not valid: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).wrap_err_with(|| format!("cannot read {}", path.display())),
    }
}

/// Write `value` as pretty JSON to `path` atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> eyre::Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).wrap_err_with(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).wrap_err_with(|| format!("cannot write {}", path.display()))
}

/// `dexec.json`, kept as JSON so unknown keys (descriptions, licenses) survive edits.
#[derive(Debug, Clone, Default)]
pub struct Project {
    path: PathBuf,
    value: Map<String, Value>,
}

impl Project {
    /// Load `dexec.json` from `dir` (empty if absent).
    pub fn load(dir: &Path) -> eyre::Result<Self> {
        let path = dir.join(PROJECT);
        let value = read_json::<Map<String, Value>>(&path)?.unwrap_or_default();
        Ok(Self { path, value })
    }

    /// Load `dexec.json` from `dir`, which must exist.
    pub fn require(dir: &Path) -> eyre::Result<Self> {
        let project = Self::load(dir)?;
        if !project.path.is_file() {
            return Err(Fail::usage(format!(
                "no {PROJECT} here: run `dexec init` first (or pass the values as options)"
            )));
        }
        Ok(project)
    }

    /// The section `key` (e.g. "app"), if present.
    pub fn section(&self, key: &str) -> Option<&Value> {
        self.value.get(key)
    }

    /// The order template `order.<file_key>`, if present.
    pub fn order_template(&self, kind: OrderKind) -> Option<&Value> {
        self.value.get("order")?.get(kind.file_key())
    }

    /// Set the section `key`, returning whether one was replaced.
    pub fn set_section(&mut self, key: &str, value: Value) -> bool {
        self.value.insert(key.into(), value).is_some()
    }

    /// Set the order template of `kind`.
    pub fn set_order_template(&mut self, kind: OrderKind, value: Value) {
        let order = self
            .value
            .entry("order")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = order {
            map.insert(kind.file_key().into(), value);
        }
    }

    /// Write the file.
    pub fn save(&self) -> eyre::Result<()> {
        write_json(&self.path, &self.value)
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `deployed.json`: kind → chain id → address.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeployedFile {
    #[serde(flatten)]
    kinds: BTreeMap<String, BTreeMap<String, Address>>,
}

impl DeployedFile {
    /// Load from `dir` (empty if absent).
    pub fn load(dir: &Path) -> eyre::Result<Self> {
        Ok(read_json(&dir.join(DEPLOYED))?.unwrap_or_default())
    }

    /// The last deployed asset of `kind` on `chain_id`.
    pub fn get(&self, kind: AssetKind, chain_id: u64) -> Option<Address> {
        self.kinds
            .get(kind.name())
            .and_then(|chains| chains.get(&chain_id.to_string()))
            .copied()
    }

    /// Record a deployment and save.
    pub fn record(
        dir: &Path,
        kind: AssetKind,
        chain_id: u64,
        address: Address,
    ) -> eyre::Result<()> {
        let mut file = Self::load(dir)?;
        file.kinds
            .entry(kind.name().into())
            .or_default()
            .insert(chain_id.to_string(), address);
        write_json(&dir.join(DEPLOYED), &file)
    }
}

/// `orders.json`: chain id → order key (`apporder`, …) → signed order.
#[derive(Debug, Clone, Default)]
pub struct OrdersFile {
    path: PathBuf,
    chains: BTreeMap<String, Map<String, Value>>,
}

impl OrdersFile {
    /// Load from `dir` (empty if absent).
    pub fn load(dir: &Path) -> eyre::Result<Self> {
        let path = dir.join(ORDERS);
        let chains = read_json(&path)?.unwrap_or_default();
        Ok(Self { path, chains })
    }

    /// The signed order of `kind` on `chain_id`, parsed.
    pub fn get<T: DeserializeOwned>(
        &self,
        chain_id: u64,
        kind: OrderKind,
    ) -> eyre::Result<Option<T>> {
        let Some(value) = self
            .chains
            .get(&chain_id.to_string())
            .and_then(|orders| orders.get(kind.file_key()))
        else {
            return Ok(None);
        };
        serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|e| {
                Fail::usage(format!(
                    "{}: the {} of chain {chain_id} is malformed: {e}",
                    self.path.display(),
                    kind.file_key()
                ))
            })
    }

    /// Store a signed order. An existing, different order of that kind is kept unless
    /// `replace`; when replaced it is appended to `orders.json.bak` first, so a signed order
    /// is never lost. Returns whether an order was replaced.
    pub fn put(
        &mut self,
        chain_id: u64,
        kind: OrderKind,
        order: &impl Serialize,
        replace: bool,
    ) -> eyre::Result<bool> {
        let value = serde_json::to_value(order)?;
        let orders = self.chains.entry(chain_id.to_string()).or_default();
        let replaced = match orders.get(kind.file_key()) {
            Some(old) if *old == value => false,
            Some(_) if !replace => {
                return Err(Fail::refused(format!(
                    "{} already holds a signed {} for chain {chain_id} (hash-different from the \
                     new one); pass --force to replace it (the old one is saved to {}.bak)",
                    self.path.display(),
                    kind.file_key(),
                    self.path.display()
                )));
            }
            Some(old) => {
                backup(&self.path, chain_id, kind, old)?;
                true
            }
            None => false,
        };
        orders.insert(kind.file_key().into(), value);
        write_json(&self.path, &self.chains)?;
        Ok(replaced)
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Append a replaced order to `<orders.json>.bak` (a JSON array of records).
fn backup(path: &Path, chain_id: u64, kind: OrderKind, order: &Value) -> eyre::Result<()> {
    let bak = path.with_extension("json.bak");
    let mut records: Vec<Value> = read_json(&bak)?.unwrap_or_default();
    records.push(serde_json::json!({
        "chainId": chain_id.to_string(),
        "kind": kind.file_key(),
        "order": order,
    }));
    write_json(&bak, &records)
}
