//! The example apps carried inside the binary (`crates/cli/apps/`, copies of what `make apps`
//! builds from `apps/`): `dexec app init --example hello` and `dexec demo` work from any folder.

use std::path::{Path, PathBuf};

use crate::exit::Fail;

/// An example app.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    /// Its name (`--example <name>`).
    pub name: &'static str,
    /// What it does, one line.
    pub about: &'static str,
    /// The WebAssembly module.
    pub wasm: &'static [u8],
}

/// Every example, by name.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "hello",
        about: "writes `Hello, <args>!` to result.txt (the quickstart's app)",
        wasm: include_bytes!("../apps/hello.wasm"),
    },
    Example {
        name: "pi",
        about: "a Monte-Carlo estimate of π (`--args <samples>`): a compute kernel",
        wasm: include_bytes!("../apps/pi.wasm"),
    },
    Example {
        name: "wordcount",
        about: "counts the bytes, lines and words of the task's dataset",
        wasm: include_bytes!("../apps/wordcount.wasm"),
    },
    Example {
        name: "pricefeed",
        about: "a price-feed oracle: the median of its input files' prices as callback data for \
                PriceFeedOracle (`--args '<decimals> <bucket secs>'`, e.g. `8 60`)",
        wasm: include_bytes!("../apps/pricefeed.wasm"),
    },
];

/// The names, for messages: `hello, pi, wordcount, pricefeed`.
pub fn names() -> String {
    EXAMPLES
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The example called `name`.
pub fn find(name: &str) -> eyre::Result<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name).ok_or_else(|| {
        let list: Vec<String> = EXAMPLES
            .iter()
            .map(|e| format!("{} ({})", e.name, e.about))
            .collect();
        Fail::usage(format!(
            "there is no example app `{name}`; the examples are {}",
            list.join(", ")
        ))
    })
}

/// Write the example `name` to `<dir>/<name>.wasm` (an identical file is left as it is; a
/// different one is never overwritten) and return its path.
pub fn write(name: &str, dir: &Path) -> eyre::Result<PathBuf> {
    let example = find(name)?;
    let path = dir.join(format!("{}.wasm", example.name));
    match std::fs::read(&path) {
        Ok(existing) if existing == example.wasm => return Ok(path),
        Ok(_) => {
            return Err(Fail::refused(format!(
                "{} exists and is not the example `{name}`: move it away, or give it with --wasm",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Fail::usage(format!("cannot read {}: {e}", path.display())));
        }
    }
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, example.wasm))
        .map_err(|e| Fail::usage(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The copies in `crates/cli/apps/` are what `make apps` builds from `apps/` (clang's
    /// output is reproducible: same compiler, same flags, same bytes).
    #[test]
    fn the_shipped_examples_are_the_apps_built_from_source() {
        let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps/build");
        if !built.is_dir() {
            eprintln!(
                "SKIPPED: {} is missing (`make apps` builds it; `make test` does it first)",
                built.display()
            );
            return;
        }
        for example in EXAMPLES {
            let fresh = std::fs::read(built.join(format!("{}.wasm", example.name))).unwrap();
            assert!(
                fresh == example.wasm,
                "crates/cli/apps/{}.wasm differs from apps/build: run `make examples` and commit",
                example.name
            );
        }
    }

    #[test]
    fn an_example_is_written_once_and_never_over_another_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write("hello", dir.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), find("hello").unwrap().wasm);
        assert_eq!(write("hello", dir.path()).unwrap(), path, "identical: kept");
        std::fs::write(&path, b"mine").unwrap();
        let refused = write("hello", dir.path()).unwrap_err().to_string();
        assert!(refused.contains("is not the example"), "{refused}");
        let unknown = find("nope").unwrap_err().to_string();
        assert!(
            unknown.contains("hello (writes") && unknown.contains("wordcount ("),
            "{unknown}"
        );
    }
}
