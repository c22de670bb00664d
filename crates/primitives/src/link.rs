//! The results link: what a task's on-chain `results` field holds, JSON
//! `{"storage": "dexec-store", "location": "<store>/blobs/<sha256>"}` (iExec's format). The
//! scheduler or worker writes it; the CLI and SDK read it back to download and verify.

use serde::{Deserialize, Serialize};

use crate::params::DEFAULT_STORAGE_PROVIDER;

/// A task's results link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultsLink {
    /// The storage provider (`dexec-store`).
    pub storage: String,
    /// Where the zipped results are.
    pub location: String,
}

/// Why bytes are not a results link we can follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not the JSON of a link.
    #[error("the task's results are not a results link: {0}")]
    Invalid(String),
    /// A storage this version cannot fetch from.
    #[error("results are in `{0}` storage, which dexec cannot fetch from")]
    UnknownStorage(String),
    /// A location that is not a store blob URL.
    #[error("results location `{0}` is not a dexec store blob URL")]
    NotABlob(String),
}

impl ResultsLink {
    /// A link to `location` in a dexec store.
    pub fn store(location: impl Into<String>) -> Self {
        Self {
            storage: DEFAULT_STORAGE_PROVIDER.to_owned(),
            location: location.into(),
        }
    }

    /// Parse the on-chain bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, LinkError> {
        serde_json::from_slice(bytes).map_err(|e| LinkError::Invalid(e.to_string()))
    }

    /// The on-chain text: `{"storage":"…","location":"…"}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "storage": self.storage, "location": self.location }).to_string()
    }

    /// For a dexec store link: the store's base URL and the blob id (hex sha256).
    pub fn store_blob(&self) -> Result<(&str, &str), LinkError> {
        if self.storage != DEFAULT_STORAGE_PROVIDER {
            return Err(LinkError::UnknownStorage(self.storage.clone()));
        }
        self.location
            .rsplit_once("/blobs/")
            .filter(|(_, id)| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| LinkError::NotABlob(self.location.clone()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn written_and_read_the_same_way() {
        let id = "ab".repeat(32);
        let link = ResultsLink::store(format!("http://127.0.0.1:8548/blobs/{id}"));
        let text = link.to_json();
        assert_eq!(
            text,
            format!(r#"{{"location":"http://127.0.0.1:8548/blobs/{id}","storage":"dexec-store"}}"#)
        );
        let back = ResultsLink::parse(text.as_bytes()).unwrap();
        assert_eq!(back, link);
        assert_eq!(
            back.store_blob().unwrap(),
            ("http://127.0.0.1:8548", id.as_str())
        );
        assert!(matches!(
            ResultsLink::store("http://x/other").store_blob(),
            Err(LinkError::NotABlob(_))
        ));
        assert!(matches!(
            ResultsLink::parse(br#"{"storage":"ipfs","location":"Qm"}"#)
                .unwrap()
                .store_blob(),
            Err(LinkError::UnknownStorage(_))
        ));
        assert!(ResultsLink::parse(b"not json").is_err());
    }
}
