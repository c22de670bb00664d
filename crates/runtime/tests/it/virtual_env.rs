//! The virtual clock, the seeded random source and the task environment.

use std::time::{Duration, Instant};

use dexec_runtime::{Outcome, DEFAULT_CLOCK_START_UNIX_SECS};

use crate::{app, run, wat, TaskDirs};

/// Reads the realtime and monotonic clocks and 32 random bytes, sleeps an hour with
/// `poll_oneoff`, reads the monotonic clock again, and writes it all to stdout:
/// `realtime u64 ‖ monotonic u64 ‖ random[32] ‖ monotonic u64 ‖ event userdata u64 ‖ nevents u32`.
const CLOCK_AND_RANDOM: &str = r#"(module
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 0)))
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 8)))
    (drop (call $random_get (i32.const 16) (i32.const 32)))
    ;; subscription: userdata 7, clock, monotonic, relative timeout 3600 s
    (i64.store (i32.const 256) (i64.const 7))
    (i32.store8 (i32.const 264) (i32.const 0))
    (i32.store (i32.const 272) (i32.const 1))
    (i64.store (i32.const 280) (i64.const 3600000000000))
    (drop (call $poll_oneoff (i32.const 256) (i32.const 512) (i32.const 1) (i32.const 600)))
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 48)))
    ;; one iovec per call: wasmtime-wasi writes only the first non-empty one
    (i32.store (i32.const 700) (i32.const 0))
    (i32.store (i32.const 704) (i32.const 56))
    (i32.store (i32.const 708) (i32.const 512))
    (i32.store (i32.const 712) (i32.const 8))
    (i32.store (i32.const 716) (i32.const 600))
    (i32.store (i32.const 720) (i32.const 4))
    (drop (call $fd_write (i32.const 1) (i32.const 700) (i32.const 1) (i32.const 800)))
    (drop (call $fd_write (i32.const 1) (i32.const 708) (i32.const 1) (i32.const 800)))
    (drop (call $fd_write (i32.const 1) (i32.const 716) (i32.const 1) (i32.const 800)))))"#;

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

#[test]
fn clocks_and_random_are_virtual_and_derived_from_the_task() {
    let run_task = |task_id: [u8; 32]| {
        let dirs = TaskDirs::new();
        let mut job = dirs.job(wat(CLOCK_AND_RANDOM), "");
        job.env.task_id = task_id;
        let started = Instant::now();
        let result = run(job);
        assert_eq!(result.outcome, Outcome::Ok { exit_code: 0 });
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the sleep blocked"
        );
        assert_eq!(result.stdout.len(), 68);
        (result.stdout, result.fuel_consumed)
    };
    let (first, fuel1) = run_task([1; 32]);
    let (again, fuel2) = run_task([1; 32]);
    let (other, _) = run_task([2; 32]);
    assert_eq!(first, again, "same task, same bytes");
    assert_eq!(fuel1, fuel2);

    // each reading advances the virtual time by 1 µs; the sleep by exactly its timeout
    let start_ns = DEFAULT_CLOCK_START_UNIX_SECS * 1_000_000_000;
    assert_eq!(u64_at(&first, 0), start_ns + 1_000, "realtime");
    assert_eq!(u64_at(&first, 8), 2_000, "monotonic");
    assert_eq!(
        u64_at(&first, 48),
        2_000 + 3_600_000_000_000 + 1_000,
        "after sleep"
    );
    assert_eq!(u64_at(&first, 56), 7, "event userdata");
    assert_eq!(&first[64..68], &1u32.to_le_bytes(), "one event");

    assert_ne!(&first[16..48], &[0u8; 32], "random bytes");
    assert_ne!(
        &first[16..48],
        &other[16..48],
        "another task, other random bytes"
    );
    assert_eq!(
        &first[..16],
        &other[..16],
        "clocks do not depend on the task id"
    );
}

#[test]
fn the_probe_app_sees_the_same_world_every_time() {
    let run_probe = || {
        let dirs = TaskDirs::new();
        // created out of order: the listing must come sorted whatever the host's order
        for name in ["input-1", "c", "a", "b"] {
            std::fs::write(dirs.input().join(name), "x").expect("input");
        }
        let mut job = dirs.job(app("probe"), "one 'two three'");
        job.app_name = "probe".into();
        job.env.deal_id = [0xde; 32];
        job.env.task_index = 3;
        job.env.bot_size = 5;
        job.env.bot_first_index = 2;
        job.env.input_files = vec!["input-1".into()];
        let started = Instant::now();
        let result = run(job);
        assert_eq!(result.outcome, Outcome::Ok { exit_code: 0 }, "{result:?}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "sleep(3600) blocked"
        );
        assert!(!dirs.input().join("written-by-probe").exists());
        dirs.read("result.txt")
    };
    let report = run_probe();
    assert_eq!(report, run_probe(), "two runs of the same task differ");

    for line in [
        "argv[0] = probe",
        "argv[1] = one",
        "argv[2] = two three",
        "env IEXEC_BOT_FIRST_INDEX=2",
        "env IEXEC_BOT_SIZE=5",
        "env IEXEC_BOT_TASK_INDEX=3",
        "env IEXEC_TASK_INDEX=3",
        "env IEXEC_IN=/iexec_in",
        "env IEXEC_OUT=/iexec_out",
        "env IEXEC_INPUT_FILES_NUMBER=1",
        "env IEXEC_INPUT_FILE_NAME_1=input-1",
        "write /iexec_in: refused",
        "ls /iexec_in: . .. a b c input-1",
        &format!(
            "mtime /iexec_in: {0} ctime {0} atime {0}",
            DEFAULT_CLOCK_START_UNIX_SECS
        ),
    ] {
        assert!(
            report.lines().any(|l| l == line),
            "no {line:?} in:\n{report}"
        );
    }
    let task_id = format!("env IEXEC_TASK_ID=0x{}", "11".repeat(32));
    assert!(report.contains(&task_id), "{report}");
    assert!(
        report.contains(&format!("\nwall {DEFAULT_CLOCK_START_UNIX_SECS}.")),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "after sleep(3600): wall {}.",
            DEFAULT_CLOCK_START_UNIX_SECS + 3600
        )),
        "{report}"
    );
    let opens: Vec<&str> = report.lines().filter(|l| l.starts_with("open ")).collect();
    assert_eq!(opens.len(), 3, "{report}");
    assert!(opens.iter().all(|l| l.contains("refused")), "{report}");
    // nothing of the host's environment leaks in
    assert!(report
        .lines()
        .filter(|l| l.starts_with("env "))
        .all(|l| l.starts_with("env IEXEC_")));
}

#[test]
fn long_listings_come_sorted_across_readdir_calls() {
    // ~40 KiB of dirents: wasi-libc reads them in several fd_readdir calls (cookies)
    let dirs = TaskDirs::new();
    let mut names: Vec<String> = (0..600)
        .map(|i| format!("file-{:04}-{}", (i * 7919) % 600, "x".repeat(40)))
        .collect();
    for name in &names {
        std::fs::write(dirs.input().join(name), "").expect("input");
    }
    let result = run(dirs.job(app("probe"), ""));
    assert_eq!(result.outcome, Outcome::Ok { exit_code: 0 });
    names.sort();
    let expected = format!("ls /iexec_in: . .. {}", names.join(" "));
    let report = dirs.read("result.txt");
    assert!(
        report.lines().any(|l| l == expected),
        "listing not sorted:\n{report}"
    );
}
