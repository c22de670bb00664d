//! Find and configure the pinned anvil binary (`@foundry-rs/anvil-linux-amd64` from npm).

use std::path::{Path, PathBuf};

use alloy::node_bindings::Anvil;

/// Environment variable naming the anvil binary to use instead of the pinned one.
pub const ANVIL_ENV: &str = "DEXEC_ANVIL";

/// Where npm installs the pinned anvil, relative to the repository root.
pub const NPM_ANVIL: &str = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

/// The anvil binary to run, first match wins:
/// 1. `$DEXEC_ANVIL`;
/// 2. `./node_modules/…/anvil` (running from the repository root);
/// 3. the repository this crate was built from (`<repo>/node_modules/…/anvil`);
/// 4. `anvil` from `PATH`.
pub fn anvil_path() -> PathBuf {
    if let Some(path) = std::env::var_os(ANVIL_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [PathBuf::from(NPM_ANVIL), built_from.join(NPM_ANVIL)]
        .into_iter()
        .find(|p| p.is_file())
        .map(|p| p.canonicalize().unwrap_or(p))
        .unwrap_or_else(|| PathBuf::from("anvil"))
}

/// An anvil builder for `binary` (or [`anvil_path`]) pinned to the hardfork the contracts are
/// compiled for (Prague), listening on localhost only.
pub fn anvil(binary: Option<&Path>) -> Anvil {
    let path = binary.map(Path::to_path_buf).unwrap_or_else(anvil_path);
    Anvil::at(path)
        .host("127.0.0.1")
        .args(["--hardfork", "prague"])
}
