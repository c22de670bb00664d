//! `computed.json` and the result digest (DESIGN §4): the protocol rules, without I/O.
//!
//! The app writes `/iexec_out/computed.json`:
//! `{"deterministic-output-path": "/iexec_out/…", "callback-data": "0x…"}` (either key may be
//! missing, not both). The result digest, on which workers reach consensus, is:
//!
//! 1. `keccak256(callback-data bytes)` when `callback-data` is present and not empty (`0x`);
//! 2. else `sha256(file)` when `deterministic-output-path` names a regular file;
//! 3. else, for a directory, its tree digest (one directory's step is [`dir_digest`]).
//!
//! 1 and 2 are iExec's. For a directory iExec hashes only the top level
//! (`keccak256(sha256(entry)…)` over sorted names, sub-directories unhashed); dexec hashes the
//! whole tree, see [`dir_digest`].
//!
//! Everything here works on bytes: [`Computed::parse`] the file's text, [`dir_digest`] the
//! entries of one directory. Reading `/iexec_out` (and refusing links) is
//! `dexec_sdk::results`, which the worker and `dexec result download` share.

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The file the app describes its result in, relative to `/iexec_out`.
pub const COMPUTED_JSON: &str = "computed.json";

/// The file an error result consists of (`/iexec_out/error.txt`): the worker replaces an app's
/// output with it when the app produced no result, naming it in `computed.json`.
pub const ERROR_FILE: &str = "error.txt";

/// Beside `error.txt`, what the worker saw of the failure (the runtime's full error, fuel,
/// time, the app's stderr and stdout): for people, not part of the result's digest, and it
/// may differ between workers.
pub const ERROR_DETAIL_FILE: &str = "error-detail.txt";

/// How `error.txt` begins: `dexec error: <one-line sentence>\n`.
pub const ERROR_PREFIX: &str = "dexec error: ";

/// Prefix of every entry of a directory's tree digest (versions the algorithm).
pub const TREE_DIGEST_DOMAIN: &[u8] = b"dexec.tree.v1\0";

/// The largest `computed.json` read (1 MiB): callback data is meant to fit in a transaction.
pub const MAX_COMPUTED_JSON_BYTES: u64 = 1 << 20;

/// Why `computed.json` gives no result digest. All are deterministic app errors: the worker
/// contributes an error result for them.
#[derive(Debug, thiserror::Error)]
pub enum ComputedError {
    /// `computed.json` is not the expected JSON object (or too large).
    #[error("invalid computed.json: {0}")]
    InvalidComputedJson(String),
    /// `callback-data` is not `0x`-prefixed hex.
    #[error("invalid callback-data in computed.json: {0}")]
    InvalidCallbackData(String),
    /// Neither `callback-data` nor `deterministic-output-path` is set.
    #[error("computed.json has neither callback-data nor deterministic-output-path")]
    NoResult,
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
    pub fn parse(json: &[u8]) -> Result<Self, ComputedError> {
        let raw: RawComputed = serde_json::from_slice(json)
            .map_err(|e| ComputedError::InvalidComputedJson(e.to_string()))?;
        let callback_data = match raw.callback_data.as_deref().map(str::trim) {
            None | Some("") | Some("0x") => None,
            Some(hex) => {
                let digits = hex.strip_prefix("0x").ok_or_else(|| {
                    ComputedError::InvalidCallbackData("missing the 0x prefix".into())
                })?;
                Some(
                    hex::decode(digits)
                        .map_err(|e| ComputedError::InvalidCallbackData(e.to_string()))?,
                )
            }
        };
        let deterministic_output_path = raw.deterministic_output_path.filter(|p| !p.is_empty());
        if callback_data.is_none() && deterministic_output_path.is_none() {
            return Err(ComputedError::NoResult);
        }
        Ok(Self {
            deterministic_output_path,
            callback_data,
        })
    }

    /// The result digest when it is the callback data's (rule 1): `keccak256(callback-data)`.
    /// `None` when the digest is that of the output file or directory.
    pub fn callback_digest(&self) -> Option<[u8; 32]> {
        self.callback_data.as_deref().map(keccak256)
    }
}

/// keccak256 of `data` (Ethereum's, as the hub and callback contracts compute it).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    alloy::primitives::keccak256(data).0
}

/// The digest of a regular file (rule 2, and a file's entry in a tree): `sha256(contents)`.
pub fn file_digest(contents: &[u8]) -> [u8; 32] {
    Sha256::digest(contents).into()
}

/// [`file_digest`] fed in pieces, for files read in chunks.
#[derive(Debug, Clone, Default)]
pub struct FileHasher(Sha256);

impl FileHasher {
    /// Append the next bytes of the file.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest of everything appended.
    pub fn finalize(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// What a directory entry is, as its tree digest entry records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file: its digest is `sha256(contents)`.
    File,
    /// A directory: its digest is its own [`dir_digest`].
    Dir,
}

impl EntryKind {
    /// The kind byte: `'f'` (0x66) or `'d'` (0x64).
    pub const fn byte(self) -> u8 {
        match self {
            Self::File => b'f',
            Self::Dir => b'd',
        }
    }
}

/// One entry of a directory, with the digest of what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// The raw bytes of the entry's name (no path).
    pub name: Vec<u8>,
    /// Regular file or directory (links and special files have no digest).
    pub kind: EntryKind,
    /// `sha256(contents)` for a file, the [`dir_digest`] of a directory.
    pub digest: [u8; 32],
}

/// The tree digest of one directory from its entries (in any order).
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
/// the algorithm. A tree has no digest if it holds a link or a special file.
pub fn dir_digest(mut entries: Vec<TreeEntry>) -> [u8; 32] {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = Sha256::new();
    for entry in entries {
        // names are at most a few hundred bytes (file systems cap them)
        let len = u32::try_from(entry.name.len()).unwrap_or(u32::MAX);
        hasher.update(TREE_DIGEST_DOMAIN);
        hasher.update([entry.kind.byte()]);
        hasher.update(len.to_be_bytes());
        hasher.update(&entry.name);
        hasher.update(entry.digest);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    #[test]
    fn file_digest_is_sha256_in_one_piece_or_many() {
        assert_eq!(file_digest(b"hello"), sha256(b"hello"));
        let mut hasher = FileHasher::default();
        hasher.update(b"he");
        hasher.update(b"");
        hasher.update(b"llo");
        assert_eq!(hasher.finalize(), sha256(b"hello"));
    }

    #[test]
    fn keccak256_is_ethereums() {
        // keccak256("") is the well-known c5d246…
        assert_eq!(
            alloy::hex::encode(keccak256(&[])),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn parse_reads_both_keys_and_callback_data_wins() {
        let computed = Computed::parse(
            br#"{"deterministic-output-path":"/iexec_out/r","callback-data":"0x0102"}"#,
        )
        .expect("parse");
        assert_eq!(
            computed.deterministic_output_path.as_deref(),
            Some("/iexec_out/r")
        );
        assert_eq!(computed.callback_data, Some(vec![1, 2]));
        assert_eq!(computed.callback_digest(), Some(keccak256(&[1, 2])));

        let computed = Computed::parse(
            br#"{"deterministic-output-path":"/iexec_out/result.txt","callback-data":"0x"}"#,
        )
        .expect("parse");
        assert_eq!(computed.callback_data, None);
        assert_eq!(computed.callback_digest(), None);
    }

    #[test]
    fn parse_errors() {
        type Expect = fn(&ComputedError) -> bool;
        let cases: [(&[u8], Expect); 5] = [
            (b"not json", |e| {
                matches!(e, ComputedError::InvalidComputedJson(_))
            }),
            (b"{}", |e| matches!(e, ComputedError::NoResult)),
            (br#"{"deterministic-output-path":""}"#, |e| {
                matches!(e, ComputedError::NoResult)
            }),
            (br#"{"callback-data":"0102"}"#, |e| {
                matches!(e, ComputedError::InvalidCallbackData(_))
            }),
            (br#"{"callback-data":"0xzz"}"#, |e| {
                matches!(e, ComputedError::InvalidCallbackData(_))
            }),
        ];
        for (json, expected) in cases {
            let err = Computed::parse(json).expect_err("must fail");
            assert!(expected(&err), "{}: {err}", String::from_utf8_lossy(json));
        }
    }

    #[test]
    fn dir_digest_matches_the_documented_algorithm() {
        let entry = |kind: u8, name: &str, digest: [u8; 32]| {
            let mut e = TREE_DIGEST_DOMAIN.to_vec();
            e.push(kind);
            e.extend((name.len() as u32).to_be_bytes());
            e.extend(name.as_bytes());
            e.extend(digest);
            e
        };
        let tree = |kind, name: &str, digest| TreeEntry {
            name: name.as_bytes().to_vec(),
            kind,
            digest,
        };
        assert_eq!(dir_digest(Vec::new()), sha256(b""));
        let a = dir_digest(vec![tree(EntryKind::File, "x", sha256(b"X"))]);
        assert_eq!(a, sha256(&entry(b'f', "x", sha256(b"X"))));

        // given out of order: the digest sorts by name
        let top = dir_digest(vec![
            tree(EntryKind::Dir, "empty", sha256(b"")),
            tree(EntryKind::File, "b.txt", sha256(b"B")),
            tree(EntryKind::Dir, "a", a),
        ]);
        let mut expected = entry(b'd', "a", a);
        expected.extend(entry(b'f', "b.txt", sha256(b"B")));
        expected.extend(entry(b'd', "empty", sha256(b"")));
        assert_eq!(top, sha256(&expected));

        // the kind byte keeps a file apart from a directory with the same digest
        let as_file = dir_digest(vec![tree(EntryKind::File, "a", a)]);
        let as_dir = dir_digest(vec![tree(EntryKind::Dir, "a", a)]);
        assert_ne!(as_file, as_dir);
    }
}
