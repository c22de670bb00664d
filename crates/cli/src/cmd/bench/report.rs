//! Bench reports: a table on stdout and `{"figures", "anchors", "targets", ...}` JSON on disk.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use eyre::WrapErr;
use serde::Serialize;

/// What a figure is compared with.
#[derive(Debug, Clone, Copy)]
pub struct Anchor {
    /// The comparable figure of the reference system.
    pub value: u64,
    /// Where it comes from, for the table.
    pub note: &'static str,
}

/// The goal for a figure: at most `max`; above `alarm`, the design itself must change.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Upper bound to meet.
    pub max: u64,
    /// Bound past which the figure means a redesign rather than tuning.
    pub alarm: Option<(u64, &'static str)>,
}

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Stable name (JSON key).
    pub name: String,
    /// The measured value.
    pub value: u64,
    /// For gas figures: the part that is 21,000 + calldata.
    pub intrinsic: Option<u64>,
    /// Reference value, if any.
    pub anchor: Option<Anchor>,
    /// Goal, if any.
    pub target: Option<Target>,
    /// What the figure measures when its name cannot say it all (printed under the table).
    pub note: Option<&'static str>,
}

impl Figure {
    /// `ok`, `over target`, or the alarm's message.
    pub fn verdict(&self) -> &'static str {
        match self.target {
            None => "",
            Some(Target {
                alarm: Some((limit, message)),
                ..
            }) if self.value > limit => message,
            Some(t) if self.value > t.max => "over target",
            Some(_) => "meets target",
        }
    }
}

/// The JSON written under `target/bench/`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Measured values by name.
    pub figures: BTreeMap<String, u64>,
    /// Reference values by figure name.
    pub anchors: BTreeMap<String, u64>,
    /// Upper bounds by figure name.
    pub targets: BTreeMap<String, u64>,
    /// Alarm bounds by figure name (past them, the design must change).
    pub alarms: BTreeMap<String, u64>,
    /// For gas figures: the part that is 21,000 + calldata, by figure name.
    pub intrinsic: BTreeMap<String, u64>,
    /// What a figure measures, by figure name, where its name does not say it all.
    pub notes: BTreeMap<String, &'static str>,
}

impl Report {
    /// Collect `figures` into the JSON shape.
    pub fn new(figures: &[Figure]) -> Self {
        let mut report = Self {
            figures: BTreeMap::new(),
            anchors: BTreeMap::new(),
            targets: BTreeMap::new(),
            alarms: BTreeMap::new(),
            intrinsic: BTreeMap::new(),
            notes: BTreeMap::new(),
        };
        for f in figures {
            report.figures.insert(f.name.clone(), f.value);
            if let Some(i) = f.intrinsic {
                report.intrinsic.insert(f.name.clone(), i);
            }
            if let Some(note) = f.note {
                report.notes.insert(f.name.clone(), note);
            }
            if let Some(a) = f.anchor {
                report.anchors.insert(f.name.clone(), a.value);
            }
            if let Some(t) = f.target {
                report.targets.insert(f.name.clone(), t.max);
                if let Some((alarm, _)) = t.alarm {
                    report.alarms.insert(f.name.clone(), alarm);
                }
            }
        }
        report
    }

    /// Write the report as pretty JSON, creating parent directories.
    pub fn write(&self, path: &Path) -> eyre::Result<()> {
        write_json(path, self)
    }
}

/// Write any bench report as pretty JSON at `path`, creating parent directories.
pub fn write_json(path: &Path, report: &impl Serialize) -> eyre::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .wrap_err_with(|| format!("cannot create {}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(path, json + "\n").wrap_err_with(|| format!("cannot write {}", path.display()))
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The figures as an aligned table: figure | dexec | of which 21k + calldata | anchor | target.
pub fn table(figures: &[Figure], anchor_header: &str) -> String {
    let header: Vec<String> = [
        "figure",
        "dexec",
        "21k+calldata",
        anchor_header,
        "target",
        "",
    ]
    .map(str::to_owned)
    .into();
    // numbers right-aligned, text left-aligned
    let right = [false, true, true, false, false, false];
    let rows: Vec<Vec<String>> = figures
        .iter()
        .map(|f| {
            let anchor = f.anchor.map_or_else(
                || "—".to_owned(),
                |a| {
                    let ratio = f.value as f64 / a.value as f64;
                    format!("{} ({}; dexec = {:.2}×)", thousands(a.value), a.note, ratio)
                },
            );
            let target = f
                .target
                .map_or_else(|| "—".to_owned(), |t| format!("≤ {}", thousands(t.max)));
            vec![
                f.name.clone(),
                thousands(f.value),
                f.intrinsic.map_or_else(|| "—".to_owned(), thousands),
                anchor,
                target,
                f.verdict().to_owned(),
            ]
        })
        .collect();
    let mut all = vec![header];
    all.extend(rows);
    aligned(&all, &right)
}

/// `rows` (the first is the header, underlined) as aligned columns, the columns whose `right`
/// is true right-aligned (numbers), the others left-aligned (text).
pub fn aligned(rows: &[Vec<String>], right: &[bool]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (j, (cell, width)) in row.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(width - cell.chars().count());
            if right.get(j).copied().unwrap_or(false) {
                let _ = write!(line, "{pad}{cell}  ");
            } else {
                let _ = write!(line, "{cell}{pad}  ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
        if i == 0 {
            let _ = writeln!(
                out,
                "{}",
                "-".repeat(widths.iter().sum::<usize>() + 2 * widths.len())
            );
        }
    }
    out
}

/// The figures' notes, one per line (`name: note`), or nothing when none has a note.
pub fn notes(figures: &[Figure]) -> String {
    let mut out = String::new();
    for f in figures {
        if let Some(note) = f.note {
            let _ = writeln!(out, "  {}: {note}", f.name);
        }
    }
    if out.is_empty() {
        out
    } else {
        format!("notes:\n{out}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(value: u64) -> Figure {
        Figure {
            name: "f".into(),
            value,
            intrinsic: None,
            anchor: Some(Anchor {
                value: 200,
                note: "ref",
            }),
            target: Some(Target {
                max: 100,
                alarm: Some((150, "redesign")),
            }),
            note: None,
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(figure(100).verdict(), "meets target");
        assert_eq!(figure(120).verdict(), "over target");
        assert_eq!(figure(151).verdict(), "redesign");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(647_316), "647,316");
        assert_eq!(thousands(1_302_380), "1,302,380");
    }

    #[test]
    fn json_shape() {
        let report = Report::new(&[figure(90)]);
        let json = serde_json::to_value(&report).expect("serializes");
        assert_eq!(json["figures"]["f"], 90);
        assert_eq!(json["anchors"]["f"], 200);
        assert_eq!(json["targets"]["f"], 100);
        assert_eq!(json["alarms"]["f"], 150);
        assert!(json["notes"].as_object().is_some_and(|n| n.is_empty()));
    }

    #[test]
    fn notes_in_json_and_under_the_table() {
        let mut noted = figure(90);
        noted.note = Some("at trust 5");
        let report = serde_json::to_value(Report::new(&[noted.clone(), figure(80)])).expect("json");
        assert_eq!(report["notes"]["f"], "at trust 5");
        assert_eq!(notes(&[noted, figure(80)]), "notes:\n  f: at trust 5\n");
        assert_eq!(notes(&[figure(80)]), "");
    }

    #[test]
    fn table_has_a_row_per_figure() {
        let text = table(&[figure(90), figure(160)], "iExec");
        assert_eq!(text.lines().count(), 4);
        assert!(text.contains("dexec = 0.45×"), "{text}");
        assert!(
            text.lines().nth(3).is_some_and(|l| l.ends_with("redesign")),
            "{text}"
        );
    }
}
