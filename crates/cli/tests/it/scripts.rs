//! `dexec` in scripts: usage errors are JSON with `--json`, and a reader that closes the pipe
//! early ends the command quietly (issue 18, finding 9).

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use serde_json::Value;

use crate::dexec;

#[test]
fn a_usage_error_is_json_with_json() {
    let out = dexec()
        .args(["account", "show", "--json", "--no-such-flag"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&out.stdout).expect("a JSON error on stdout");
    assert_eq!(error["ok"], false);
    assert_eq!(error["code"], 2);
    let message = error["error"].as_str().expect("a sentence");
    assert!(
        message.contains("unexpected argument '--no-such-flag'") && !message.contains('\n'),
        "{message}"
    );
    // without --json, clap's text on stderr, same code
    let out = dexec()
        .args(["account", "show", "--no-such-flag"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
    // help is still help
    let out = dexec().args(["--help", "--json"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: dexec"));
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    // `dexec reference | head -1`
    let mut child = dexec()
        .arg("reference")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("a first line");
    assert_eq!(first.trim(), "# dexec CLI reference");
    drop(stdout);
    let status = child.wait().expect("ends");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("readable");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
