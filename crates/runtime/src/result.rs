//! `computed.json` and the result digest (DESIGN §4).
//!
//! The app writes `/iexec_out/computed.json`:
//! `{"deterministic-output-path": "/iexec_out/…", "callback-data": "0x…"}` (either key may be
//! missing, not both). The result digest, on which workers reach consensus, is:
//!
//! 1. `keccak256(callback-data bytes)` when `callback-data` is present and not empty (`0x`);
//! 2. else `sha256(file)` when `deterministic-output-path` names a regular file;
//! 3. else, for a directory, its [`tree_digest`].
//!
//! 1 and 2 are iExec's. For a directory iExec hashes only the top level
//! (`keccak256(sha256(entry)…)` over sorted names, sub-directories unhashed); dexec hashes the
//! whole tree, see [`tree_digest`].
//!
//! Links are never followed: the runtime does not let apps create them, and a link found
//! here (planted by other means) makes the result [`ResultError::Link`] rather than leading
//! the worker outside `/iexec_out`.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
// sha3 0.11 implements digest 0.11's `Digest`, sha2 0.10 digest 0.10's.
use sha3::{Digest as _, Keccak256};

/// The file the app describes its result in, relative to `/iexec_out`.
pub const COMPUTED_JSON: &str = "computed.json";

/// Prefix of every entry of a directory's tree digest (versions the algorithm).
pub const TREE_DIGEST_DOMAIN: &[u8] = b"dexec.tree.v1\0";

/// The largest `computed.json` read (1 MiB): callback data is meant to fit in a transaction.
pub const MAX_COMPUTED_JSON_BYTES: u64 = 1 << 20;

/// Why no result digest could be computed. All are deterministic app errors: the worker
/// contributes an error result for them.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// `/iexec_out/computed.json` does not exist.
    #[error("the app wrote no /iexec_out/computed.json")]
    MissingComputedJson,
    /// `computed.json` is not the expected JSON object (or too large).
    #[error("invalid computed.json: {0}")]
    InvalidComputedJson(String),
    /// `callback-data` is not `0x`-prefixed hex.
    #[error("invalid callback-data in computed.json: {0}")]
    InvalidCallbackData(String),
    /// Neither `callback-data` nor `deterministic-output-path` is set.
    #[error("computed.json has neither callback-data nor deterministic-output-path")]
    NoResult,
    /// `deterministic-output-path` is not under `/iexec_out` (or contains `..`).
    #[error("deterministic-output-path {0:?} is not under /iexec_out")]
    OutsideOutput(String),
    /// `deterministic-output-path` names nothing.
    #[error("deterministic-output-path {0:?} does not exist")]
    OutputNotFound(String),
    /// A symbolic link, fifo, socket or device in the result.
    #[error("{} is a link or special file, not a regular file or directory", .0.display())]
    Link(PathBuf),
    /// Reading the output failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// What could not be read.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// The parsed `computed.json` (unknown keys are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Computed {
    /// `deterministic-output-path`, as written (a path in the app's view, under `/iexec_out`).
    pub deterministic_output_path: Option<String>,
    /// `callback-data`, decoded from hex; `None` when absent or empty.
    pub callback_data: Option<Vec<u8>>,
}

#[derive(Deserialize)]
struct RawComputed {
    #[serde(rename = "deterministic-output-path")]
    deterministic_output_path: Option<String>,
    #[serde(rename = "callback-data")]
    callback_data: Option<String>,
}

impl Computed {
    /// Parse `computed.json` text.
    pub fn parse(json: &[u8]) -> Result<Self, ResultError> {
        let raw: RawComputed = serde_json::from_slice(json)
            .map_err(|e| ResultError::InvalidComputedJson(e.to_string()))?;
        let callback_data = match raw.callback_data.as_deref().map(str::trim) {
            None | Some("") | Some("0x") => None,
            Some(hex) => {
                let digits = hex.strip_prefix("0x").ok_or_else(|| {
                    ResultError::InvalidCallbackData("missing the 0x prefix".into())
                })?;
                Some(
                    hex::decode(digits)
                        .map_err(|e| ResultError::InvalidCallbackData(e.to_string()))?,
                )
            }
        };
        let deterministic_output_path = raw.deterministic_output_path.filter(|p| !p.is_empty());
        if callback_data.is_none() && deterministic_output_path.is_none() {
            return Err(ResultError::NoResult);
        }
        Ok(Self {
            deterministic_output_path,
            callback_data,
        })
    }

    /// Read and parse `<output_dir>/computed.json`.
    pub fn read(output_dir: &Path) -> Result<Self, ResultError> {
        let path = output_dir.join(COMPUTED_JSON);
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ResultError::MissingComputedJson)
            }
            Err(source) => return Err(ResultError::Io { path, source }),
        };
        if !meta.is_file() {
            return Err(ResultError::Link(path));
        }
        if meta.len() > MAX_COMPUTED_JSON_BYTES {
            return Err(ResultError::InvalidComputedJson(format!(
                "{} bytes, more than {MAX_COMPUTED_JSON_BYTES}",
                meta.len()
            )));
        }
        let json = fs::read(&path).map_err(|source| ResultError::Io { path, source })?;
        Self::parse(&json)
    }

    /// The result digest of this `computed.json` for the outputs in `output_dir` (the host
    /// directory that was `/iexec_out`).
    pub fn digest(&self, output_dir: &Path) -> Result<[u8; 32], ResultError> {
        if let Some(data) = &self.callback_data {
            return Ok(keccak256(data));
        }
        let Some(guest_path) = &self.deterministic_output_path else {
            return Err(ResultError::NoResult);
        };
        let host_path = resolve(output_dir, guest_path)?;
        let meta = fs::symlink_metadata(&host_path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                ResultError::OutputNotFound(guest_path.clone())
            } else {
                ResultError::Io {
                    path: host_path.clone(),
                    source,
                }
            }
        })?;
        if meta.is_dir() {
            tree_digest(&host_path)
        } else if meta.is_file() {
            file_sha256(&host_path)
        } else {
            Err(ResultError::Link(host_path))
        }
    }
}

/// keccak256 of `data` (Ethereum's, as the hub and callback contracts compute it).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Keccak256::digest(data));
    out
}

/// Read `<output_dir>/computed.json` and compute the task's result digest.
pub fn result_digest(output_dir: &Path) -> Result<[u8; 32], ResultError> {
    Computed::read(output_dir)?.digest(output_dir)
}

/// Map a path of the app's view (`/iexec_out/…`) to the host, refusing `..` and any link on
/// the way.
fn resolve(output_dir: &Path, guest_path: &str) -> Result<PathBuf, ResultError> {
    let outside = || ResultError::OutsideOutput(guest_path.to_owned());
    let rest = Path::new(guest_path)
        .strip_prefix("/iexec_out")
        .map_err(|_| outside())?;
    let mut host = output_dir.to_owned();
    for component in rest.components() {
        match component {
            Component::Normal(name) => {
                host.push(name);
                // every intermediate component must be a real directory, not a link
                if let Ok(meta) = fs::symlink_metadata(&host) {
                    if meta.file_type().is_symlink() {
                        return Err(ResultError::Link(host));
                    }
                }
            }
            Component::CurDir => {}
            _ => return Err(outside()),
        }
    }
    Ok(host)
}

/// sha256 of a file's bytes.
pub fn file_sha256(path: &Path) -> Result<[u8; 32], ResultError> {
    let io = |source| ResultError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// The recursive digest of a directory tree.
///
/// ```text
/// digest(file) = sha256(contents)
/// digest(dir)  = sha256(entry(e1) ‖ entry(e2) ‖ …)     entries sorted by name (bytewise)
/// entry(e)     = "dexec.tree.v1\0" ‖ kind ‖ u32_be(len(name)) ‖ name ‖ digest(e)
/// kind         = 0x66 ('f') for a regular file, 0x64 ('d') for a directory
/// ```
///
/// Names are the raw bytes of the file names; the empty directory's digest is
/// `sha256("")`. The kind byte keeps a file apart from a directory with the same digest, the
/// length prefix keeps names from running into each other, and the domain string versions
/// the algorithm. Links and special files make it fail ([`ResultError::Link`]).
pub fn tree_digest(dir: &Path) -> Result<[u8; 32], ResultError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ResultError::Io { path, source }
    };
    let mut entries = fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io(dir))?;
    entries.sort_by(|a, b| name_bytes(a).cmp(name_bytes(b)));

    let mut hasher = Sha256::new();
    for name in entries {
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path).map_err(io(&path))?;
        let (kind, digest) = if meta.is_dir() {
            (b'd', tree_digest(&path)?)
        } else if meta.is_file() {
            (b'f', file_sha256(&path)?)
        } else {
            return Err(ResultError::Link(path));
        };
        let name = name_bytes(&name);
        // names are at most a few hundred bytes (file systems cap them)
        let len = u32::try_from(name.len()).unwrap_or(u32::MAX);
        hasher.update(TREE_DIGEST_DOMAIN);
        hasher.update([kind]);
        hasher.update(len.to_be_bytes());
        hasher.update(name);
        hasher.update(digest);
    }
    Ok(hasher.finalize().into())
}

#[cfg(unix)]
fn name_bytes(name: &std::ffi::OsStr) -> &[u8] {
    std::os::unix::ffi::OsStrExt::as_bytes(name)
}

#[cfg(not(unix))]
fn name_bytes(name: &std::ffi::OsStr) -> &[u8] {
    name.as_encoded_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn write(dir: &Path, path: &str, data: &[u8]) {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, data).expect("write");
    }

    #[test]
    fn callback_data_wins_and_is_keccak() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            COMPUTED_JSON,
            br#"{"deterministic-output-path":"/iexec_out/r","callback-data":"0x0102"}"#,
        );
        let digest = result_digest(dir.path()).expect("digest");
        assert_eq!(digest, keccak256(&[1, 2]));
        // keccak256("") is the well-known c5d246…
        assert_eq!(
            hex::encode(keccak256(&[])),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn file_output_is_plain_sha256() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            COMPUTED_JSON,
            br#"{"deterministic-output-path":"/iexec_out/result.txt","callback-data":"0x"}"#,
        );
        write(dir.path(), "result.txt", b"hello");
        assert_eq!(result_digest(dir.path()).expect("digest"), sha256(b"hello"));
    }

    #[test]
    fn tree_digest_matches_the_documented_algorithm() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "out/b.txt", b"B");
        write(dir.path(), "out/a/x", b"X");
        fs::create_dir(dir.path().join("out/empty")).expect("mkdir");

        let entry = |kind: u8, name: &str, digest: [u8; 32]| {
            let mut e = TREE_DIGEST_DOMAIN.to_vec();
            e.push(kind);
            e.extend((name.len() as u32).to_be_bytes());
            e.extend(name.as_bytes());
            e.extend(digest);
            e
        };
        let a = sha256(&entry(b'f', "x", sha256(b"X")));
        let empty = sha256(b"");
        let mut top = entry(b'd', "a", a);
        top.extend(entry(b'f', "b.txt", sha256(b"B")));
        top.extend(entry(b'd', "empty", empty));
        assert_eq!(
            tree_digest(&dir.path().join("out")).expect("tree"),
            sha256(&top)
        );

        write(
            dir.path(),
            COMPUTED_JSON,
            br#"{"deterministic-output-path":"/iexec_out/out/"}"#,
        );
        assert_eq!(result_digest(dir.path()).expect("digest"), sha256(&top));
    }

    #[test]
    fn tree_digest_sees_deep_changes_and_renames() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a/b/c", b"1");
        let before = tree_digest(dir.path()).expect("tree");
        write(dir.path(), "a/b/c", b"2");
        let changed = tree_digest(dir.path()).expect("tree");
        fs::rename(dir.path().join("a/b/c"), dir.path().join("a/b/d")).expect("rename");
        let renamed = tree_digest(dir.path()).expect("tree");
        assert_ne!(before, changed);
        assert_ne!(changed, renamed);
    }

    #[test]
    fn errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            result_digest(dir.path()),
            Err(ResultError::MissingComputedJson)
        ));
        type Expect = fn(&ResultError) -> bool;
        let cases: [(&[u8], Expect); 6] = [
            (b"not json", |e| {
                matches!(e, ResultError::InvalidComputedJson(_))
            }),
            (b"{}", |e| matches!(e, ResultError::NoResult)),
            (br#"{"callback-data":"0102"}"#, |e| {
                matches!(e, ResultError::InvalidCallbackData(_))
            }),
            (br#"{"callback-data":"0xzz"}"#, |e| {
                matches!(e, ResultError::InvalidCallbackData(_))
            }),
            (br#"{"deterministic-output-path":"/etc/passwd"}"#, |e| {
                matches!(e, ResultError::OutsideOutput(_))
            }),
            (br#"{"deterministic-output-path":"/iexec_out/../x"}"#, |e| {
                matches!(e, ResultError::OutsideOutput(_))
            }),
        ];
        for (json, expected) in cases {
            write(dir.path(), COMPUTED_JSON, json);
            let err = result_digest(dir.path()).expect_err("must fail");
            assert!(expected(&err), "{}: {err}", String::from_utf8_lossy(json));
        }
        write(
            dir.path(),
            COMPUTED_JSON,
            br#"{"deterministic-output-path":"/iexec_out/missing"}"#,
        );
        assert!(matches!(
            result_digest(dir.path()),
            Err(ResultError::OutputNotFound(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn links_are_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("leak")).expect("symlink");
        write(
            dir.path(),
            COMPUTED_JSON,
            br#"{"deterministic-output-path":"/iexec_out/leak"}"#,
        );
        assert!(matches!(
            result_digest(dir.path()),
            Err(ResultError::Link(_))
        ));
        assert!(matches!(tree_digest(dir.path()), Err(ResultError::Link(_))));
    }
}
