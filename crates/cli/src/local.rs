//! A local anvil chain and a provider that signs for its dev accounts.

use std::path::PathBuf;

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use dexec_contracts::tx::signing_provider;
use eyre::{eyre, WrapErr};

/// A running anvil, stopped (SIGTERM, so it can save its state) when dropped.
///
/// Fields drop in declaration order: the provider (and its background block poller) goes
/// before anvil, so no poll hits a stopped node.
pub struct LocalChain {
    /// JSON-RPC provider signing for every dev account.
    pub provider: DynProvider,
    /// The dev accounts' keys, in anvil's order (account 0 deploys and owns the hub).
    pub signers: Vec<PrivateKeySigner>,
    /// The chain id.
    pub chain_id: u64,
    /// The anvil process.
    pub anvil: AnvilInstance,
}

/// Environment variable that turns `dexec` into a launcher: set to a program's path, `dexec`
/// asks the kernel to SIGTERM it when its parent dies, then becomes that program (`execv`,
/// same arguments). See [`exec_with_parent_death_signal`].
pub const EXEC_WITH_PARENT_DEATH_ENV: &str = "DEXEC_EXEC_WITH_PARENT_DEATH";

/// The pid of the `dexec` that starts the launcher, so the launcher can tell that its parent
/// is still the one that started it (a parent's pid may be 1 in a container).
pub(crate) const PARENT_PID_ENV: &str = "DEXEC_EXEC_PARENT_PID";

/// When `dexec` runs as the launcher of [`EXEC_WITH_PARENT_DEATH_ENV`], replace this process
/// with the program it names, which then receives SIGTERM when the process that started it
/// dies (`PR_SET_PDEATHSIG` survives `execv`). Returns (with the reason) only if it cannot.
///
/// This is how a devnet's anvil dies with its `dexec` even when that one is killed with
/// SIGKILL: anvil is spawned by alloy's builder, whose `Command` takes no `pre_exec` hook, so
/// the builder runs `dexec` itself, which sets the signal and execs anvil.
pub fn exec_with_parent_death_signal(program: &std::ffi::OsStr) -> std::io::Error {
    use rustix::process::{getppid, set_parent_process_death_signal, Signal};
    use std::os::unix::process::CommandExt;
    if let Err(e) = set_parent_process_death_signal(Some(Signal::TERM)) {
        return e.into();
    }
    // the parent may already be gone (re-parented before the signal was set)
    let expected = std::env::var(PARENT_PID_ENV).ok();
    let parent = getppid().map(|p| p.as_raw_nonzero().get().to_string());
    if expected.is_none() || parent != expected {
        return std::io::Error::other("the dexec that started it is already gone");
    }
    std::process::Command::new(program)
        .args(std::env::args_os().skip(1))
        .env_remove(EXEC_WITH_PARENT_DEATH_ENV)
        .env_remove(PARENT_PID_ENV)
        .exec()
}

impl LocalChain {
    /// Spawn `anvil` (blocking until it listens) and connect to it. Anvil receives SIGTERM
    /// (and saves its state) when this process dies, however it dies.
    ///
    /// Spawned from the calling thread, not tokio's blocking pool: the parent-death signal
    /// fires when the spawning *thread* ends, and an idle blocking thread ends after 10 s.
    pub async fn spawn(anvil: Anvil, binary: Option<&PathBuf>) -> eyre::Result<Self> {
        let shown = binary
            .cloned()
            .unwrap_or_else(dexec_contracts::anvil::anvil_path);
        let launcher = std::env::current_exe().wrap_err("cannot find the dexec executable")?;
        let anvil = anvil
            .path(launcher)
            .env(EXEC_WITH_PARENT_DEATH_ENV, shown.as_os_str())
            .env(PARENT_PID_ENV, std::process::id().to_string());
        let instance = anvil
            .try_spawn()
            .map_err(|e| eyre!("{e}"))
            .wrap_err_with(|| {
                format!(
                    "could not start anvil ({}); is the port free and the binary installed \
                     (`npm ci`, or set DEXEC_ANVIL / --anvil-bin)?",
                    shown.display()
                )
            })?;
        let signers: Vec<PrivateKeySigner> = instance
            .keys()
            .iter()
            .map(|k| PrivateKeySigner::from(k.clone()))
            .collect();
        if signers.is_empty() {
            return Err(eyre!("anvil reported no dev accounts"));
        }
        let provider = signing_provider(instance.endpoint_url(), &signers);
        let chain_id = provider
            .get_chain_id()
            .await
            .wrap_err("cannot reach anvil")?;
        Ok(Self {
            anvil: instance,
            provider,
            signers,
            chain_id,
        })
    }

    /// Address of dev account `index`.
    pub fn address(&self, index: usize) -> Address {
        self.signers[index].address()
    }

    /// The JSON-RPC URL.
    pub fn rpc_url(&self) -> String {
        self.anvil.endpoint()
    }
}
