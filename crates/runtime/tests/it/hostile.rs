//! Hostile modules (WAT): each must end in a clear, deterministic outcome, or as a worker
//! fault for the wall-clock stop, and never reach outside its sandbox.

use std::time::{Duration, Instant};

use dexec_runtime::{Limit, Outcome, OutputLimits};

use crate::{run, wat, TaskDirs};

const INFINITE_LOOP: &str = r#"(module (func (export "_start") (loop $l (br $l))))"#;

/// A WASI command: imports, one page of memory with `data` at offset 0, and `body` as `_start`.
fn command(data: &str, body: &str) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "{data}")
  (func (export "_start") {body}))"#
    )
}

/// Open `path` relative to preopen `fd` (3 = /iexec_in, 4 = /iexec_out) for reading, following
/// links, copy up to 4 KiB of it to stdout; exit with the errno of the open (0 if it worked).
fn read_file(fd: u32, path: &str) -> String {
    command(
        path,
        &format!(
            r#"(local $errno i32)
    (local.set $errno (call $path_open (i32.const {fd}) (i32.const 1) (i32.const 0)
      (i32.const {len}) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)
      (i32.const 2048)))
    (if (i32.eqz (local.get $errno)) (then
      (i32.store (i32.const 1024) (i32.const 4096))
      (i32.store (i32.const 1028) (i32.const 4096))
      (drop (call $fd_read (i32.load (i32.const 2048)) (i32.const 1024) (i32.const 1)
        (i32.const 1040)))
      (i32.store (i32.const 1028) (i32.load (i32.const 1040)))
      (drop (call $fd_write (i32.const 1) (i32.const 1024) (i32.const 1) (i32.const 1040)))))
    (call $proc_exit (local.get $errno))"#,
            len = path.len()
        ),
    )
}

/// Create `/iexec_out/big` and write `chunks` chunks of 64 KiB to it (forever when 0).
fn write_chunks(chunks: u32) -> String {
    command(
        "big",
        &format!(
            r#"(local $n i32)
    (if (call $path_open (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 3)
          (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 2048))
      (then (call $proc_exit (i32.const 100))))
    (i32.store (i32.const 1024) (i32.const 4096))
    (i32.store (i32.const 1028) (i32.const 65536))
    (loop $l
      (if (call $fd_write (i32.load (i32.const 2048)) (i32.const 1024) (i32.const 1)
            (i32.const 1040))
        (then (call $proc_exit (i32.const 101))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.or (i32.eqz (i32.const {chunks})) (i32.lt_u (local.get $n) (i32.const {chunks})))))"#
        ),
    )
}

#[test]
fn an_infinite_loop_runs_out_of_fuel_deterministically() {
    let mut fuel = Vec::new();
    for _ in 0..2 {
        let dirs = TaskDirs::new();
        let mut job = dirs.job(wat(INFINITE_LOOP), "");
        job.fuel = 5_000_000;
        let result = run(job);
        assert_eq!(result.outcome, Outcome::OutOfFuel);
        assert!(result.outcome.is_deterministic());
        fuel.push(result.fuel_consumed);
    }
    assert_eq!(fuel, [5_000_000, 5_000_000]);
}

#[test]
fn the_wall_clock_deadline_stops_a_run_that_no_fuel_limit_stops() {
    let dirs = TaskDirs::new();
    let mut job = dirs.job(wat(INFINITE_LOOP), "");
    job.fuel = u64::MAX;
    job.timeout = Duration::from_millis(100);
    let started = Instant::now();
    let result = run(job);
    assert_eq!(result.outcome, Outcome::Timeout);
    // not a function of the app alone, but the app's doing: the worker gives an error result
    assert!(!result.outcome.is_deterministic());
    assert!(!result.outcome.is_host_fault());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let bomb = r#"(module (memory 1)
      (func (export "_start")
        (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))))"#;
    let dirs = TaskDirs::new();
    let mut job = dirs.job(wat(bomb), "");
    job.memory_limit = 16 << 20;
    let result = run(job);
    assert_eq!(result.outcome, Outcome::LimitExceeded(Limit::Memory));
}

#[test]
fn an_initial_memory_over_the_limit_is_refused() {
    let dirs = TaskDirs::new();
    let mut job = dirs.job(wat(r#"(module (memory 512) (func (export "_start")))"#), "");
    job.memory_limit = 16 << 20;
    assert_eq!(run(job).outcome, Outcome::LimitExceeded(Limit::Memory));
}

#[test]
fn deep_recursion_overflows_the_stack_deterministically() {
    let recursion = r#"(module
      (func $f (param i32) (result i32)
        (i32.add (call $f (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
      (func (export "_start") (drop (call $f (i32.const 0)))))"#;
    let mut fuel = Vec::new();
    for _ in 0..2 {
        let dirs = TaskDirs::new();
        let result = run(dirs.job(wat(recursion), ""));
        assert_eq!(result.outcome, Outcome::Trap("call stack exhausted".into()));
        fuel.push(result.fuel_consumed);
    }
    assert_eq!(fuel[0], fuel[1], "the overflow happens at the same depth");
}

#[test]
fn other_traps_carry_their_description() {
    let dirs = TaskDirs::new();
    let result = run(dirs.job(wat(r#"(module (func (export "_start") unreachable))"#), ""));
    assert_eq!(
        result.outcome,
        Outcome::Trap("wasm `unreachable` instruction executed".into())
    );
    // the sentence is the trap's fixed description; the detail tells where it happened
    let detail = result.detail.expect("a trap has a detail");
    assert!(detail.contains("wasm backtrace"), "{detail}");
}

#[test]
fn files_outside_the_preopens_cannot_be_read() {
    let dirs = TaskDirs::new();
    let secret = "TOP-SECRET-outside-the-sandbox";
    std::fs::write(dirs.root.path().join("secret"), secret).expect("secret");
    std::fs::write(dirs.input().join("inside"), "inside the sandbox").expect("input");
    std::os::unix::fs::symlink("../secret", dirs.input().join("link-out")).expect("symlink");
    std::os::unix::fs::symlink(
        dirs.root.path().join("secret"),
        dirs.input().join("abs-link"),
    )
    .expect("symlink");

    // the control: a file of /iexec_in is readable
    let result = run(dirs.job(wat(&read_file(3, "inside")), ""));
    assert_eq!(result.outcome, Outcome::Ok { exit_code: 0 });
    assert_eq!(result.stdout, b"inside the sandbox");

    for (fd, path) in [
        (3, "../secret"),
        (4, "../secret"),
        (3, "/etc/passwd"),
        (3, "../../../../../../etc/passwd"),
        (3, "link-out"),
        (3, "abs-link"),
    ] {
        let result = run(dirs.job(wat(&read_file(fd, path)), ""));
        let Outcome::Ok { exit_code } = result.outcome else {
            panic!("{path}: {:?}", result.outcome);
        };
        assert_ne!(exit_code, 0, "fd {fd} {path} was opened");
        assert!(result.stdout.is_empty(), "{path}: read {:?}", result.stdout);
    }
}

#[test]
fn iexec_in_is_read_only() {
    let dirs = TaskDirs::new();
    let create = command(
        "new",
        r#"(call $proc_exit (call $path_open (i32.const 3) (i32.const 0) (i32.const 0)
          (i32.const 3) (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0)
          (i32.const 2048)))"#,
    );
    let result = run(dirs.job(wat(&create), ""));
    assert!(
        matches!(result.outcome, Outcome::Ok { exit_code } if exit_code != 0),
        "{result:?}"
    );
    assert!(!dirs.input().join("new").exists());
}

#[test]
fn links_cannot_be_created() {
    let dirs = TaskDirs::new();
    let symlink = command(
        "/etc/passwdleak",
        r#"(call $proc_exit (call $path_symlink (i32.const 0) (i32.const 11) (i32.const 4)
          (i32.const 11) (i32.const 4)))"#,
    );
    let result = run(dirs.job(wat(&symlink), ""));
    assert_eq!(result.outcome, Outcome::Ok { exit_code: 58 }, "ENOTSUP");
    assert!(std::fs::read_dir(dirs.output())
        .expect("out")
        .next()
        .is_none());
}

#[test]
fn a_large_output_exceeds_the_output_limit() {
    let dirs = TaskDirs::new();
    let mut job = dirs.job(wat(&write_chunks(32)), ""); // 2 MiB
    job.output_limits = OutputLimits {
        max_bytes: 1 << 20,
        ..OutputLimits::default()
    };
    let result = run(job);
    assert_eq!(result.outcome, Outcome::LimitExceeded(Limit::OutputBytes));

    // the same output within the limit is fine
    let dirs = TaskDirs::new();
    let result = run(dirs.job(wat(&write_chunks(32)), ""));
    assert_eq!(result.outcome, Outcome::Ok { exit_code: 0 });
    assert_eq!(
        std::fs::metadata(dirs.output().join("big"))
            .expect("big")
            .len(),
        2 << 20
    );
}

#[test]
fn endless_writes_stop_at_the_write_budget() {
    let dirs = TaskDirs::new();
    let mut job = dirs.job(wat(&write_chunks(0)), "");
    job.output_limits = OutputLimits {
        max_written_bytes: 4 << 20,
        ..OutputLimits::default()
    };
    job.fuel = u64::MAX / 2;
    let result = run(job);
    assert_eq!(result.outcome, Outcome::LimitExceeded(Limit::WrittenBytes));
    let written = std::fs::metadata(dirs.output().join("big"))
        .expect("big")
        .len();
    assert!(written <= 4 << 20, "{written} bytes reached the disk");
}

#[test]
fn stdout_is_captured_up_to_its_cap() {
    let dirs = TaskDirs::new();
    // 40 writes of 4 KiB = 160 KiB to stdout, more than the 64 KiB kept
    let chatty = command(
        "",
        r#"(local $n i32)
    (i32.store (i32.const 1024) (i32.const 4096))
    (i32.store (i32.const 1028) (i32.const 4096))
    (loop $l
      (drop (call $fd_write (i32.const 1) (i32.const 1024) (i32.const 1) (i32.const 1040)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 40))))"#,
    );
    let result = run(dirs.job(wat(&chatty), ""));
    assert_eq!(result.outcome, Outcome::Ok { exit_code: 0 });
    assert_eq!(result.stdout.len(), 64 << 10);
    assert!(result.stdout_truncated && !result.stderr_truncated);
}

#[test]
fn any_exit_code_is_a_deterministic_exit() {
    for code in [0, 3, 125, 200] {
        let dirs = TaskDirs::new();
        let body = format!("(call $proc_exit (i32.const {code}))");
        let result = run(dirs.job(wat(&command("", &body)), ""));
        assert_eq!(result.outcome, Outcome::Ok { exit_code: code });
    }
}

#[test]
fn modules_that_cannot_run_are_invalid_apps() {
    for (what, bytes) in [
        ("not wasm", b"definitely not wasm".to_vec()),
        (
            "unknown import",
            wat::parse_str(r#"(module (import "env" "socket" (func)) (func (export "_start")))"#)
                .expect("wat"),
        ),
        (
            "no _start",
            wat::parse_str(r#"(module (func (export "main")))"#).expect("wat"),
        ),
    ] {
        let dirs = TaskDirs::new();
        let result = run(dirs.job(bytes.into(), ""));
        assert!(
            matches!(&result.outcome, Outcome::InvalidApp(why) if !why.contains('\n')),
            "{what}: {:?}",
            result.outcome
        );
        assert!(result.outcome.is_deterministic());
        assert!(result.detail.is_some(), "{what}: the full error is kept");
    }
}
