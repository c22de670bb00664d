//! Integration tests of dexec-runtime: the example apps of `apps/` (built with `make -C apps`)
//! and hostile WebAssembly modules written in WAT.

mod apps;
mod hostile;
mod virtual_env;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dexec_runtime::{Job, Run, Runtime, RuntimeConfig, TaskEnv};
use tempfile::TempDir;

/// The repository's `apps/` directory.
fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps")
}

/// Build the example apps once per test binary and return `apps/build`.
///
/// Fails loudly when the toolchain is missing: CI runs `scripts/bootstrap-debian.sh` first.
fn apps_build() -> &'static Path {
    static BUILD: OnceLock<PathBuf> = OnceLock::new();
    BUILD.get_or_init(|| {
        let output = Command::new("make")
            .arg("-C")
            .arg(apps_dir())
            .arg("--no-print-directory")
            .output()
            .expect("cannot run make: install it (scripts/bootstrap-debian.sh)");
        assert!(
            output.status.success(),
            "building the example apps failed; run scripts/bootstrap-debian.sh (clang-14, \
             lld-14, wasi-libc, libclang-rt-14-dev-wasm32) or `make apps` first.\n\
             make stdout:\n{}\nmake stderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        apps_dir().join("build")
    })
}

/// An example app's WebAssembly bytes.
fn app(name: &str) -> Arc<[u8]> {
    let path = apps_build().join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into()
}

/// A WAT module compiled to WebAssembly.
fn wat(text: &str) -> Arc<[u8]> {
    wat::parse_str(text).expect("valid WAT").into()
}

/// One runtime shared by the tests (they also exercise it concurrently).
fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Arc::new(Runtime::new(RuntimeConfig::default()).expect("runtime")))
        .clone()
}

/// A task's directories: `in/` and `out/` under a temporary directory.
struct TaskDirs {
    root: TempDir,
}

impl TaskDirs {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("in")).expect("mkdir in");
        std::fs::create_dir(root.path().join("out")).expect("mkdir out");
        Self { root }
    }

    fn input(&self) -> PathBuf {
        self.root.path().join("in")
    }

    fn output(&self) -> PathBuf {
        self.root.path().join("out")
    }

    fn job(&self, wasm: Arc<[u8]>, args: &str) -> Job {
        let mut job = Job::new(wasm, TaskEnv::new([0x11; 32]), self.input(), self.output());
        job.app_name = "app".into();
        job.args = args.into();
        job.fuel = 1_000_000_000;
        job.memory_limit = 64 << 20;
        job.timeout = Duration::from_secs(60);
        job
    }

    fn read(&self, name: &str) -> String {
        let path = self.output().join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// Run `job` on the shared runtime.
fn run(job: Job) -> Run {
    runtime().run(job).expect("the run sets up")
}
