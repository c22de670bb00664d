//! [`StoreClient`]: HTTP client of the blob store (`dexec store`, `docs/store.md`).

use std::path::Path;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::{header, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use url::Url;

use super::types::{as_base, blob_url, BlobId, BlobRef, InvalidBlobId, DEFAULT_MAX_BLOB_SIZE};
use crate::ErrorBody;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A blob id that is not 64 hexadecimal characters.
    #[error(transparent)]
    InvalidId(#[from] InvalidBlobId),
    /// A blob larger than the client's download cap.
    #[error("the blob is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Downloaded bytes that do not hash to the requested id, or an upload answered under
    /// another id.
    #[error("the bytes hash to {actual}, not to the expected blob id {expected}")]
    DigestMismatch {
        /// The id the bytes were supposed to have.
        expected: BlobId,
        /// The sha256 of the bytes actually received.
        actual: BlobId,
    },
    /// No blob with this id in the store.
    #[error("there is no blob {0} in the store")]
    NotFound(BlobId),
    /// A base URL that is not an http(s) URL.
    #[error("`{0}` is not an http(s) URL of a store")]
    InvalidUrl(String),
    /// A local I/O error (reading a file to upload, writing a download).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTP request could not be made or its response not read.
    #[error("request to the store failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The store answered with an error status; `message` is its `error` sentence.
    #[error("the store answered {status}: {message}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The server's explanation.
        message: String,
    },
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Client of a store server. Uploads announce their digest (`PUT /blobs/<id>`) so the server
/// checks it end to end; downloads are size-capped and verified against the requested id.
///
/// Cheap to clone (the HTTP connection pool is shared).
#[derive(Clone, Debug)]
pub struct StoreClient {
    base: Url,
    http: reqwest::Client,
    max_download: u64,
}

impl StoreClient {
    /// A client of the store at `base_url` (e.g. `http://127.0.0.1:8701`) with a 10 s connect
    /// timeout, a store silent for 60 s failing the request (however long a large transfer
    /// takes while bytes flow) and a download cap of [`DEFAULT_MAX_BLOB_SIZE`].
    pub fn new(base_url: &str) -> Result<Self> {
        Self::with_silence_limit(base_url, Duration::from_secs(60))
    }

    /// [`new`](Self::new) with a store silent for `silence` (no answer, no bytes) failing the
    /// request.
    pub fn with_silence_limit(base_url: &str, silence: Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(silence))
            .read_timeout(silence)
            .build()?;
        Self::with_http_client(base_url, http)
    }

    /// A client using a preconfigured `reqwest::Client` (timeouts, proxies, TLS roots).
    pub fn with_http_client(base_url: &str, http: reqwest::Client) -> Result<Self> {
        let base = Url::parse(base_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| StoreError::InvalidUrl(base_url.to_owned()))?;
        Ok(Self {
            base: as_base(base),
            http,
            max_download: DEFAULT_MAX_BLOB_SIZE,
        })
    }

    /// Sets the largest blob [`get`](Self::get) and [`download`](Self::download) accept.
    pub fn with_max_download(mut self, bytes: u64) -> Self {
        self.max_download = bytes;
        self
    }

    /// The store's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The URL of blob `id` on this store.
    pub fn blob_url(&self, id: &BlobId) -> Url {
        blob_url(&self.base, id)
    }

    /// Uploads `bytes`; the server checks they hash to the id computed here.
    pub async fn put(&self, bytes: impl Into<Bytes>) -> Result<BlobRef> {
        let bytes = bytes.into();
        let id = BlobId::of(&bytes);
        let response = self
            .http
            .put(self.blob_url(&id))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await?;
        self.blob_ref(response, id).await
    }

    /// Uploads several small blobs in one request (`POST /blobs/batch`: at most
    /// [`BATCH_MAX_BLOBS`](super::BATCH_MAX_BLOBS), [`BATCH_MAX_BYTES`](super::BATCH_MAX_BYTES)
    /// with an 8-byte prefix each); their references in the same order, each checked against
    /// the bytes sent. All are stored or the call fails (sending them again is harmless: a
    /// blob's id is its content's hash).
    pub async fn put_many(&self, blobs: &[Bytes]) -> Result<Vec<BlobRef>> {
        let url = self
            .base
            .join("blobs/batch")
            .map_err(|_| StoreError::InvalidUrl(self.base.to_string()))?;
        let response = self
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(super::batch_body(blobs))
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(status_error(response).await);
        }
        let batch: super::BlobBatch = response.json().await?;
        if batch.blobs.len() != blobs.len() {
            return Err(StoreError::Status {
                status: status.as_u16(),
                message: format!(
                    "the store answered {} blob references for {} blobs",
                    batch.blobs.len(),
                    blobs.len()
                ),
            });
        }
        for (blob, bytes) in batch.blobs.iter().zip(blobs) {
            let id = BlobId::of(bytes);
            if blob.id != id {
                return Err(StoreError::DigestMismatch {
                    expected: id,
                    actual: blob.id,
                });
            }
        }
        Ok(batch.blobs)
    }

    /// Uploads a file, streamed from disk (hashed first, off the async runtime).
    pub async fn put_file(&self, path: impl AsRef<Path>) -> Result<BlobRef> {
        let path = path.as_ref().to_owned();
        let hashed = path.clone();
        let (id, size) = tokio::task::spawn_blocking(move || hash_file(&hashed))
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        let file = tokio::fs::File::open(&path).await?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            file,
            256 << 10,
        ));
        let response = self
            .http
            .put(self.blob_url(&id))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, size)
            .body(body)
            .send()
            .await?;
        self.blob_ref(response, id).await
    }

    async fn blob_ref(&self, response: reqwest::Response, id: BlobId) -> Result<BlobRef> {
        let response = check_status(response, &id).await?;
        let blob: BlobRef = response.json().await?;
        if blob.id != id {
            return Err(StoreError::DigestMismatch {
                expected: id,
                actual: blob.id,
            });
        }
        Ok(blob)
    }

    /// Downloads blob `id` into memory, verifying its sha256 and the size cap.
    pub async fn get(&self, id: &BlobId) -> Result<Bytes> {
        let mut response = self.get_response(id).await?;
        let mut hasher = Sha256::new();
        let mut buffer = BytesMut::with_capacity(
            response
                .content_length()
                .unwrap_or(0)
                .min(self.max_download) as usize,
        );
        while let Some(chunk) = response.chunk().await? {
            if (buffer.len() + chunk.len()) as u64 > self.max_download {
                return Err(StoreError::TooLarge {
                    limit: self.max_download,
                });
            }
            hasher.update(&chunk);
            buffer.extend_from_slice(&chunk);
        }
        verify(id, hasher)?;
        Ok(buffer.freeze())
    }

    /// Downloads blob `id` to `dest`, streaming to `<dest>.part` and renaming it once the
    /// sha256 matched (a failed download leaves no file at `dest`). Returns the size.
    pub async fn download(&self, id: &BlobId, dest: impl AsRef<Path>) -> Result<u64> {
        let dest = dest.as_ref();
        let mut part_name = dest.as_os_str().to_owned();
        part_name.push(".part");
        let part = std::path::PathBuf::from(part_name);
        let result = async {
            let mut response = self.get_response(id).await?;
            let mut file = tokio::fs::File::create(&part).await?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = response.chunk().await? {
                size += chunk.len() as u64;
                if size > self.max_download {
                    return Err(StoreError::TooLarge {
                        limit: self.max_download,
                    });
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            verify(id, hasher)?;
            file.sync_all().await?;
            Ok(size)
        }
        .await;
        match result {
            Ok(size) => {
                tokio::fs::rename(&part, dest).await?;
                Ok(size)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&part).await;
                Err(e)
            }
        }
    }

    async fn get_response(&self, id: &BlobId) -> Result<reqwest::Response> {
        let response = self.http.get(self.blob_url(id)).send().await?;
        let response = check_status(response, id).await?;
        if response
            .content_length()
            .is_some_and(|n| n > self.max_download)
        {
            return Err(StoreError::TooLarge {
                limit: self.max_download,
            });
        }
        Ok(response)
    }

    /// The size of blob `id`, or `None` if the store does not have it.
    pub async fn head(&self, id: &BlobId) -> Result<Option<u64>> {
        let response = self.http.head(self.blob_url(id)).send().await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = check_status(response, id).await?;
        let size = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Status {
                status: response.status().as_u16(),
                message: "the answer to HEAD has no Content-Length".into(),
            })?;
        Ok(Some(size))
    }

    /// Checks that the store answers `GET /health`.
    pub async fn health(&self) -> Result<()> {
        let url = self
            .base
            .join("health")
            .expect("`health` is a valid relative URL");
        let response = self.http.get(url).send().await?;
        check_status(response, &BlobId::from_digest([0; 32]))
            .await
            .map(drop)
    }
}

/// Turns error statuses into errors: 404 into [`StoreError::NotFound`], others into
/// [`StoreError::Status`] carrying the server's sentence.
async fn check_status(response: reqwest::Response, id: &BlobId) -> Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == StatusCode::NOT_FOUND && response.url().path().contains("/blobs/") {
        return Err(StoreError::NotFound(*id));
    }
    Err(status_error(response).await)
}

/// The error of a failed answer: its status and the store's sentence (its
/// `{"error": …}`, else the start of the body).
async fn status_error(response: reqwest::Response) -> StoreError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorBody>(&text)
        .map(|body| body.error)
        .unwrap_or_else(|_| {
            let mut t = text.trim().to_owned();
            t.truncate(500);
            if t.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                t
            }
        });
    StoreError::Status {
        status: status.as_u16(),
        message,
    }
}

fn verify(id: &BlobId, hasher: Sha256) -> Result<()> {
    let actual = BlobId::from_digest(hasher.finalize().into());
    if actual != *id {
        tracing::warn!(target: "store::client", blob = %id, %actual, "downloaded bytes do not match the blob id");
        return Err(StoreError::DigestMismatch {
            expected: *id,
            actual,
        });
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<(BlobId, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher)?;
    Ok((BlobId::from_digest(hasher.finalize().into()), size))
}
