//! What a command prints: JSON with `--json`, otherwise readable text.

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
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        } else if !self.text.is_empty() {
            println!("{}", self.text.trim_end());
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
