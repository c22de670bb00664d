//! The store's wire types: blob ids (sha256 digests), blob references, and blob URLs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use url::Url;

/// Default per-blob size limit of a store, and the client's default download cap: 256 MiB.
pub const DEFAULT_MAX_BLOB_SIZE: u64 = 256 << 20;

/// Most blobs in one `POST /blobs/batch`.
pub const BATCH_MAX_BLOBS: usize = 256;

/// Largest `POST /blobs/batch` body (blobs and their 8-byte length prefixes).
pub const BATCH_MAX_BYTES: usize = 16 << 20;

/// `POST /blobs/batch` answer: the stored blobs, in the order they were sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlobBatch {
    /// One per blob sent.
    pub blobs: Vec<BlobRef>,
}

/// The body of `POST /blobs/batch`: each blob as its length (8 bytes, big-endian) then its
/// bytes.
pub fn batch_body(blobs: &[bytes::Bytes]) -> Vec<u8> {
    let mut body = Vec::with_capacity(blobs.iter().map(|b| b.len() + 8).sum());
    for blob in blobs {
        body.extend_from_slice(&(blob.len() as u64).to_be_bytes());
        body.extend_from_slice(blob);
    }
    body
}

/// The blobs of a `POST /blobs/batch` body, or why it is malformed.
pub fn parse_batch_body(mut body: bytes::Bytes) -> Result<Vec<bytes::Bytes>, String> {
    let mut blobs = Vec::new();
    while !body.is_empty() {
        if body.len() < 8 {
            return Err(format!(
                "blob {} has a length prefix of {} bytes; 8 expected",
                blobs.len() + 1,
                body.len()
            ));
        }
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&body.split_to(8));
        let len = u64::from_be_bytes(prefix);
        if len > body.len() as u64 {
            return Err(format!(
                "blob {} announces {len} bytes; {} remain in the body",
                blobs.len() + 1,
                body.len()
            ));
        }
        blobs.push(body.split_to(len as usize));
    }
    Ok(blobs)
}

/// A string that is not a blob id (the input is kept, shortened, for the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a blob id: a blob id is the sha256 of the blob, 64 hexadecimal characters")]
pub struct InvalidBlobId(pub String);

/// The id of a blob: the sha256 digest of its bytes.
///
/// Displayed (and serialized) as 64 lowercase hexadecimal characters. Parsing also accepts
/// uppercase digits and a `0x` prefix, the form on-chain checksums (`bytes32`) are usually
/// written in, so an app's registered checksum can be used as its store id as is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId([u8; 32]);

impl BlobId {
    /// The id of `bytes` (their sha256 digest).
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Wraps a sha256 digest computed elsewhere (for example by a streaming [`Sha256`]).
    pub const fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The raw 32 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64-character lowercase hex form (what `Display` prints).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for BlobId {
    type Err = InvalidBlobId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        let mut out = [0u8; 32];
        if digits.len() != 64 || hex::decode_to_slice(digits, &mut out).is_err() {
            return Err(InvalidBlobId(truncate_for_message(s)));
        }
        Ok(Self(out))
    }
}

/// Keeps error messages short when someone sends a huge path segment.
fn truncate_for_message(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({self})")
    }
}

impl Serialize for BlobId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for BlobId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What `PUT /blobs` answers: where a stored blob can be fetched from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// The blob's id (sha256 of its bytes).
    pub id: BlobId,
    /// Its size in bytes.
    pub size: u64,
    /// Its public download URL: `<public base>/blobs/<id>`.
    pub url: Url,
}

/// `<base>/blobs/<id>`; `base` is a store's base URL as [`as_base`] makes it.
pub fn blob_url(base: &Url, id: &BlobId) -> Url {
    base.join(&format!("blobs/{id}"))
        .expect("a hex id joined to an http(s) base URL is a valid URL")
}

/// Makes `url` usable as a base for `join`: its path must end with `/`.
pub fn as_base(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn id_of_empty_input_is_the_known_sha256() {
        assert_eq!(BlobId::of(b"").to_string(), EMPTY);
    }

    #[test]
    fn parse_accepts_canonical_uppercase_and_0x_forms() {
        let id: BlobId = EMPTY.parse().unwrap();
        assert_eq!(id, BlobId::of(b""));
        assert_eq!(EMPTY.to_uppercase().parse::<BlobId>().unwrap(), id);
        assert_eq!(format!("0x{EMPTY}").parse::<BlobId>().unwrap(), id);
    }

    #[test]
    fn parse_rejects_wrong_length_and_non_hex() {
        for bad in [
            "",
            "abc",
            &EMPTY[1..],
            &format!("{EMPTY}0"),
            &EMPTY.replace('e', "g"),
        ] {
            let err = bad.parse::<BlobId>().unwrap_err();
            assert!(err.to_string().contains("is not a blob id"), "{bad}: {err}");
        }
    }

    #[test]
    fn invalid_id_message_is_bounded() {
        let long = "x".repeat(10_000);
        let msg = long.parse::<BlobId>().unwrap_err().to_string();
        assert!(msg.len() < 300, "{msg}");
    }

    #[test]
    fn serde_roundtrip_uses_hex_string() {
        let id = BlobId::of(b"hello");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<BlobId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<BlobId>("\"nope\"").is_err());
    }

    #[test]
    fn blob_urls_keep_the_base_path() {
        let id = BlobId::of(b"");
        let base = as_base(Url::parse("http://h:1/store").unwrap());
        assert_eq!(base.as_str(), "http://h:1/store/");
        assert_eq!(
            blob_url(&base, &id).as_str(),
            format!("http://h:1/store/blobs/{id}")
        );
        let root = as_base(Url::parse("http://h:1").unwrap());
        assert_eq!(
            blob_url(&root, &id).as_str(),
            format!("http://h:1/blobs/{id}")
        );
    }
}
