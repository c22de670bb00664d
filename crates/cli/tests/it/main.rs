//! End-to-end tests of the `dexec` binary against real anvil processes.

mod byzantine;
mod chaos;
mod claim;
mod commands;
mod container;
mod demo;
mod devnet;
mod flow;
mod market;
mod operations;
mod oracle;
mod quickstart;
mod reference;
mod scripts;
mod silent_node;
mod wallet;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The smallest app `app init` accepts: a WASI command whose `_start` does nothing
/// (`(module (func (export "_start")))`).
pub(crate) const MINIMAL_APP: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
    0x03, 0x02, 0x01, 0x00, // function section
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, // export _start
    0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: an empty body
];

/// [`MINIMAL_APP`] with a custom section named `name` (another checksum, same behaviour).
pub(crate) fn minimal_app_named(name: &str) -> Vec<u8> {
    let mut module = MINIMAL_APP.to_vec();
    module.extend([0x00, name.len() as u8 + 1, name.len() as u8]);
    module.extend(name.as_bytes());
    module
}

/// The binary under test, with no dexec setting inherited from the environment.
pub(crate) fn dexec() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dexec"));
    for (key, _) in std::env::vars() {
        if key.starts_with("DEXEC_") && key != "DEXEC_ANVIL" {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_BACKTRACE").stdin(Stdio::null());
    cmd
}

/// A port nothing listens on, for a service a test starts as a process. Chosen at random below
/// the kernel's ephemeral range (32768–60999 on Linux): a port the kernel hands out (`:0`) is
/// free when this returns, but any outgoing connection of the parallel tests may take it as
/// its local port before the service binds it (a devnet then never starts).
pub(crate) fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..1000 {
        let mut random = std::collections::hash_map::RandomState::new().build_hasher();
        random.write_u32(std::process::id());
        let port = 20_000 + (random.finish() % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000..32000 on 127.0.0.1");
}

pub(crate) fn run_json(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("dexec runs");
    assert!(
        out.status.success(),
        "dexec failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

pub(crate) fn devnet_once(state_dir: &Path, extra: &[&str]) -> Value {
    let port = free_port().to_string();
    run_json(
        dexec()
            .args([
                "devnet",
                "--once",
                "--json",
                "--block-time",
                "0",
                "--accounts",
                "3",
            ])
            .args(["--port", &port])
            .arg("--state-dir")
            .arg(state_dir)
            .args(extra),
    )
}

/// A `dexec devnet` running in the background for a test, with a project directory whose
/// `.dexec/chain.json` it writes; stopped with Ctrl-C (SIGINT) when dropped.
pub(crate) struct Devnet {
    child: Child,
    /// The project directory (also HOME of the commands, so keystores stay inside).
    pub(crate) dir: tempfile::TempDir,
}

impl Devnet {
    /// Start one, in a fresh directory; a devnet that exits before it serves (a port taken
    /// meanwhile) is started again on other ports, twice at most.
    pub(crate) fn start() -> Self {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::try_start() {
                Ok(devnet) => return devnet,
                Err(why) => failures.push(why),
            }
        }
        panic!("devnet did not start: {failures:#?}");
    }

    fn try_start() -> Result<Self, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port().to_string();
        let market_port = free_port().to_string();
        let store_port = free_port().to_string();
        let log = dir.path().join("devnet.log");
        let child = dexec()
            .current_dir(dir.path())
            .args([
                "devnet",
                "--block-time",
                "0",
                "--accounts",
                "6",
                "--port",
                &port,
                "--market-port",
                &market_port,
                "--store-port",
                &store_port,
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("devnet.log"))
            .spawn()
            .expect("devnet starts");
        let mut devnet = Self { child, dir };
        let chain_file = devnet.dir.path().join(".dexec/chain.json");
        let deadline = Instant::now() + Duration::from_secs(120);
        let said = |what: String| {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            format!("{what}; its last lines: {tail:?}")
        };
        // chain.json names the market once it serves
        while !std::fs::read_to_string(&chain_file).is_ok_and(|t| t.contains("\"market\"")) {
            if let Ok(Some(status)) = devnet.child.try_wait() {
                return Err(said(format!("devnet exited ({status}) before it served")));
            }
            if Instant::now() >= deadline {
                return Err(said(
                    "devnet did not write chain.json with its market within 120 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(devnet)
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// Kill the devnet process with SIGKILL (nothing of it runs afterwards) and reap it.
    pub(crate) fn kill_hard(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// `dexec <args>` in the project directory, as dev account `account` (if any).
    pub(crate) fn cmd(&self, account: Option<u32>, args: &[&str]) -> Command {
        let mut cmd = dexec();
        cmd.current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .args(args);
        if let Some(account) = account {
            cmd.env("DEXEC_DEV_ACCOUNT", account.to_string());
        }
        cmd
    }

    /// Run and expect success; the JSON output.
    pub(crate) fn json(&self, account: Option<u32>, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        run_json(&mut self.cmd(account, &args))
    }

    /// Run and expect failure with `code`; the JSON error.
    pub(crate) fn fails(&self, account: Option<u32>, args: &[&str], code: i32) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.cmd(account, &args).output().expect("runs");
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let value: Value = serde_json::from_slice(&out.stdout).expect("JSON error");
        assert_eq!(value["ok"], false);
        assert_eq!(value["code"], code);
        value
    }

    /// Run as text and expect success; stdout.
    pub(crate) fn text(&self, account: Option<u32>, args: &[&str]) -> String {
        let out: Output = self.cmd(account, args).output().expect("runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        // SIGINT lets devnet stop anvil (its child) cleanly
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Compare `text` with the committed snapshot `tests/it/snapshots/<name>.txt` after redacting
/// what varies between runs (hashes, ports, times, gas). `UPDATE_SNAPSHOTS=1` rewrites it.
pub(crate) fn assert_snapshot(name: &str, text: &str) {
    let redacted = redact(text);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/it/snapshots/{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, &redacted).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run with UPDATE_SNAPSHOTS=1 and commit it",
            path.display()
        )
    });
    assert_eq!(
        redacted,
        expected,
        "output differs from {} (UPDATE_SNAPSHOTS=1 to accept)",
        path.display()
    );
}

fn redact(text: &str) -> String {
    let rules = [
        (r"0x[0-9a-fA-F]{64}", "<hash>"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:<port>"),
        (r"unix \d+", "unix <time>"),
        (r"gas \d+", "gas <gas>"),
        (r"block \d+", "block <n>"),
        (r"/tmp/[^\s]+", "<tmp>"),
    ];
    let mut out = text.to_owned();
    for (pattern, replacement) in rules {
        out = regex::Regex::new(pattern)
            .expect("valid regex")
            .replace_all(&out, replacement)
            .into_owned();
    }
    out
}
