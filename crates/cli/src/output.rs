//! What a command prints: JSON with `--json`, otherwise readable text.
//!
//! Everything goes to stdout through [`emit`] (or the [`out!`](crate::out) and
//! [`outln!`](crate::outln) macros): a reader that closes the pipe early (`dexec … | head -1`)
//! ends the command quietly with exit 0 instead of a panic.

/// Write `text` to stdout. A closed stdout (the reader has seen enough) ends the process at
/// once with exit code 0; any other write error is reported on stderr, then exit 1.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// `print!` through [`emit`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::emit(&format!($($arg)*))
    };
}

/// `println!` through [`emit`].
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::emit("\n")
    };
    ($($arg:tt)*) => {
        $crate::output::emit(&(format!($($arg)*) + "\n"))
    };
}

use serde::Serialize;
use serde_json::Value;

/// The result of a command, in both forms.
#[derive(Debug)]
pub struct Output {
    /// Printed with `--json` (a success adds `"ok": true` to objects).
    pub json: Value,
    /// Printed otherwise.
    pub text: String,
}

impl Output {
    /// An output from a serializable value and its text.
    pub fn new(value: impl Serialize, text: impl Into<String>) -> eyre::Result<Self> {
        Ok(Self {
            json: serde_json::to_value(value)?,
            text: text.into(),
        })
    }

    /// Print to stdout in the chosen form.
    pub fn print(self, json: bool) {
        if json {
            let mut value = self.json;
            if let Value::Object(map) = &mut value {
                map.insert("ok".into(), Value::Bool(true));
            }
            crate::outln!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        } else if !self.text.is_empty() {
            crate::outln!("{}", self.text.trim_end());
        }
    }
}

/// Rows of `key  value`, keys aligned.
pub fn rows<K: AsRef<str>, V: AsRef<str>>(rows: &[(K, V)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.as_ref().len())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{:width$}  {}\n", k.as_ref(), v.as_ref()))
        .collect()
}

/// A table with a header row, columns aligned.
pub fn table<S: AsRef<str>>(header: &[&str], body: &[Vec<S>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in body {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.as_ref().chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:w$}  ", w = widths[i]));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in body {
        out.push_str(&line(row.iter().map(AsRef::as_ref).collect()));
    }
    out
}
