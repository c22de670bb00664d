//! Result digests of an output directory: reads `computed.json` and the files it names, and
//! computes the digest of DESIGN §4 with the rules of [`dexec_primitives::results`].
//!
//! The worker digests `/iexec_out` after a run with these functions, and `dexec result
//! download` recomputes the digest of what the store served before trusting it.
//!
//! Links are never followed: the runtime does not let apps create them, and a link found
//! here (planted by other means) makes the result [`ResultError::Link`] rather than leading
//! the reader outside `/iexec_out`.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use dexec_primitives::results::{
    dir_digest, Computed, ComputedError, EntryKind, FileHasher, TreeEntry, COMPUTED_JSON,
    ERROR_FILE, ERROR_PREFIX, MAX_COMPUTED_JSON_BYTES,
};

/// Why no result digest could be computed. All are deterministic app errors: the worker
/// contributes an error result for them.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// `/iexec_out/computed.json` does not exist.
    #[error("the app wrote no /iexec_out/computed.json")]
    MissingComputedJson,
    /// `computed.json` is invalid, too large, or names no result.
    #[error(transparent)]
    Computed(#[from] ComputedError),
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

/// Read `<output_dir>/computed.json` and compute the task's result digest.
pub fn result_digest(output_dir: &Path) -> Result<[u8; 32], ResultError> {
    output_digest(&read_computed(output_dir)?, output_dir)
}

/// The sentence of an error result in `output_dir` (`error.txt` named by `computed.json`,
/// beginning with `dexec error: `): the app produced no result, and workers said why. `None`
/// for any other result.
///
/// An app could write such a file itself; it would only mislead its own requester, and the
/// digest is verified either way.
pub fn app_error(output_dir: &Path) -> Option<String> {
    let computed = read_computed(output_dir).ok()?;
    if computed.deterministic_output_path.as_deref() != Some(&format!("/iexec_out/{ERROR_FILE}"))
        || computed.callback_data.is_some()
    {
        return None;
    }
    let text = fs::read_to_string(output_dir.join(ERROR_FILE)).ok()?;
    let sentence = text.strip_prefix(ERROR_PREFIX)?.trim();
    Some(sentence.to_owned())
}

/// Read and parse `<output_dir>/computed.json`.
pub fn read_computed(output_dir: &Path) -> Result<Computed, ResultError> {
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
        return Err(ComputedError::InvalidComputedJson(format!(
            "{} bytes, more than {MAX_COMPUTED_JSON_BYTES}",
            meta.len()
        ))
        .into());
    }
    let json = fs::read(&path).map_err(|source| ResultError::Io { path, source })?;
    Ok(Computed::parse(&json)?)
}

/// The result digest `computed` describes, for the outputs in `output_dir` (the host
/// directory that was `/iexec_out`).
pub fn output_digest(computed: &Computed, output_dir: &Path) -> Result<[u8; 32], ResultError> {
    if let Some(digest) = computed.callback_digest() {
        return Ok(digest);
    }
    let Some(guest_path) = &computed.deterministic_output_path else {
        return Err(ComputedError::NoResult.into());
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

/// sha256 of a file's bytes ([`dexec_primitives::results::file_digest`], read in chunks).
pub fn file_sha256(path: &Path) -> Result<[u8; 32], ResultError> {
    let io = |source| ResultError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut hasher = FileHasher::default();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize())
}

/// The recursive digest of the directory tree at `dir` (the algorithm is [`dir_digest`]).
/// Links and special files make it fail ([`ResultError::Link`]).
pub fn tree_digest(dir: &Path) -> Result<[u8; 32], ResultError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ResultError::Io { path, source }
    };
    let mut names = fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io(dir))?;
    // In name order, so that of several links or unreadable entries every worker reports the
    // same one (the error message is part of an error result).
    names.sort_by(|a, b| name_bytes(a).cmp(name_bytes(b)));

    let mut entries = Vec::with_capacity(names.len());
    for name in names {
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path).map_err(io(&path))?;
        let (kind, digest) = if meta.is_dir() {
            (EntryKind::Dir, tree_digest(&path)?)
        } else if meta.is_file() {
            (EntryKind::File, file_sha256(&path)?)
        } else {
            return Err(ResultError::Link(path));
        };
        entries.push(TreeEntry {
            name: name_bytes(&name).to_vec(),
            kind,
            digest,
        });
    }
    Ok(dir_digest(entries))
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
    use dexec_primitives::results::{file_digest as sha256, keccak256};

    use super::*;

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

    /// The walk feeds every directory's entries to [`dir_digest`], whose bytes
    /// `dexec_primitives::results` checks against the documented algorithm.
    #[test]
    fn tree_digest_walks_the_tree_into_dir_digests() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "out/b.txt", b"B");
        write(dir.path(), "out/a/x", b"X");
        fs::create_dir(dir.path().join("out/empty")).expect("mkdir");

        let entry = |kind, name: &str, digest| TreeEntry {
            name: name.as_bytes().to_vec(),
            kind,
            digest,
        };
        let a = dir_digest(vec![entry(EntryKind::File, "x", sha256(b"X"))]);
        let top = dir_digest(vec![
            entry(EntryKind::Dir, "a", a),
            entry(EntryKind::File, "b.txt", sha256(b"B")),
            entry(EntryKind::Dir, "empty", dir_digest(Vec::new())),
        ]);
        assert_eq!(tree_digest(&dir.path().join("out")).expect("tree"), top);

        write(
            dir.path(),
            COMPUTED_JSON,
            br#"{"deterministic-output-path":"/iexec_out/out/"}"#,
        );
        assert_eq!(result_digest(dir.path()).expect("digest"), top);
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

    /// What `computed.json` itself gets wrong is checked where it is parsed
    /// (`dexec_primitives::results`); here, what needs the directory.
    #[test]
    fn errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            result_digest(dir.path()),
            Err(ResultError::MissingComputedJson)
        ));
        type Expect = fn(&ResultError) -> bool;
        let cases: [(&[u8], Expect); 4] = [
            (b"not json", |e| {
                matches!(
                    e,
                    ResultError::Computed(ComputedError::InvalidComputedJson(_))
                )
            }),
            (br#"{"deterministic-output-path":"/etc/passwd"}"#, |e| {
                matches!(e, ResultError::OutsideOutput(_))
            }),
            (br#"{"deterministic-output-path":"/iexec_out/../x"}"#, |e| {
                matches!(e, ResultError::OutsideOutput(_))
            }),
            (
                br#"{"deterministic-output-path":"/iexec_out/missing"}"#,
                |e| matches!(e, ResultError::OutputNotFound(_)),
            ),
        ];
        for (json, expected) in cases {
            write(dir.path(), COMPUTED_JSON, json);
            let err = result_digest(dir.path()).expect_err("must fail");
            assert!(expected(&err), "{}: {err}", String::from_utf8_lossy(json));
        }
        let too_large = vec![b' '; MAX_COMPUTED_JSON_BYTES as usize + 1];
        write(dir.path(), COMPUTED_JSON, &too_large);
        assert!(matches!(
            result_digest(dir.path()),
            Err(ResultError::Computed(ComputedError::InvalidComputedJson(_)))
        ));
    }

    /// Error messages end up in error results, which workers vote on: their wording is
    /// protocol, and moving the code here must not have changed it.
    #[test]
    fn error_messages_are_unchanged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let message = |json: &[u8]| {
            write(dir.path(), COMPUTED_JSON, json);
            result_digest(dir.path())
                .expect_err("must fail")
                .to_string()
        };
        assert_eq!(
            message(b"{}"),
            "computed.json has neither callback-data nor deterministic-output-path"
        );
        assert_eq!(
            message(br#"{"callback-data":"0xzz"}"#),
            "invalid callback-data in computed.json: Invalid character 'z' at position 0"
        );
        assert_eq!(
            message(br#"{"deterministic-output-path":"/etc/passwd"}"#),
            "deterministic-output-path \"/etc/passwd\" is not under /iexec_out"
        );
        assert_eq!(
            message(br#"{"deterministic-output-path":"/iexec_out/missing"}"#),
            "deterministic-output-path \"/iexec_out/missing\" does not exist"
        );
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
