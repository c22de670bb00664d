//! [`BlobStore`]: content-addressed blobs on top of an [`ObjectStore`] (local directory or S3).
//!
//! Object layout inside the backend:
//! - `blobs/<first two hex digits>/<id>`: the blobs (the two-digit fan-out keeps local
//!   directories small);
//! - `tmp/<unique>`: large uploads in progress (their id is only known at the end);
//! - `quarantine/<id>.<unix nanos>`: blobs whose bytes failed verification, kept for inspection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};

use dexec_sdk::store::BlobId;

use crate::config::{Backend, Config};
use crate::{Error, Result};

/// Uploads up to this size are buffered and written with a single put; larger ones are
/// streamed to a temporary object in parts of this size, then moved under their id.
const SINGLE_PUT_LIMIT: usize = 8 << 20;
/// Parts of a large upload in flight at once.
const UPLOAD_CONCURRENCY: usize = 4;
/// Temporary objects older than this are removed when the store opens (left by crashes).
const STALE_TMP_AGE: Duration = Duration::from_secs(24 * 3600);

/// Content-addressed blob storage: the service logic behind the HTTP API, usable in-process.
#[derive(Clone, Debug)]
pub struct BlobStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    objects: Arc<dyn ObjectStore>,
    max_blob_size: u64,
    verify_buffer_size: u64,
}

/// Whether an upload created the blob or found it already stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The blob was stored by this upload.
    Created,
    /// The blob was already in the store (uploads are idempotent).
    Existed,
}

/// A blob being read, integrity-checked (see [`BlobStore::get`]).
pub enum BlobBody {
    /// A small blob, read whole and verified.
    Verified(Bytes),
    /// A large blob, verified while streaming: the stream holds back its last chunk until the
    /// digest has been checked and ends with an error instead if the bytes do not match.
    Streaming {
        /// Exact size in bytes.
        size: u64,
        /// The bytes.
        stream: BoxStream<'static, std::io::Result<Bytes>>,
    },
}

impl std::fmt::Debug for BlobBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Verified(b) => f.debug_tuple("Verified").field(&b.len()).finish(),
            Self::Streaming { size, .. } => {
                f.debug_struct("Streaming").field("size", size).finish()
            }
        }
    }
}

impl BlobBody {
    /// Size of the blob in bytes.
    pub fn size(&self) -> u64 {
        match self {
            Self::Verified(b) => b.len() as u64,
            Self::Streaming { size, .. } => *size,
        }
    }
}

impl BlobStore {
    /// Opens the backend `config` names (creating the local directory if needed) and removes
    /// stale temporary objects.
    pub async fn open(config: &Config) -> Result<Self> {
        let objects: Arc<dyn ObjectStore> = match &config.backend {
            Backend::Local(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                Arc::new(LocalFileSystem::new_with_prefix(dir)?.with_fsync(true))
            }
            Backend::S3(s3) => s3_store(s3)?,
        };
        let store =
            Self::with_object_store(objects, config.max_blob_size, config.verify_buffer_size);
        store.remove_stale_uploads().await;
        Ok(store)
    }

    /// A store over any [`ObjectStore`] (e.g. `object_store::memory::InMemory` in tests).
    pub fn with_object_store(
        objects: Arc<dyn ObjectStore>,
        max_blob_size: u64,
        verify_buffer_size: u64,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                objects,
                max_blob_size,
                verify_buffer_size,
            }),
        }
    }

    /// The largest blob accepted, in bytes.
    pub fn max_blob_size(&self) -> u64 {
        self.inner.max_blob_size
    }

    /// Stores bytes arriving as a stream, hashing them on the way; memory stays bounded by a
    /// few 8 MiB parts whatever the blob size. `expected` (from `PUT /blobs/<id>`) must match
    /// the digest; `declared_len` (the Content-Length) lets an oversized upload fail before
    /// any byte is read.
    pub async fn put_stream<S, E>(
        &self,
        body: S,
        expected: Option<BlobId>,
        declared_len: Option<u64>,
    ) -> Result<(BlobId, u64, PutOutcome)>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let limit = self.inner.max_blob_size;
        if declared_len.is_some_and(|n| n > limit) {
            return Err(Error::TooLarge { limit });
        }
        let mut body = std::pin::pin!(body);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut pending: Vec<Bytes> = Vec::new();
        let mut pending_len = 0usize;
        let mut upload: Option<(Path, WriteMultipart)> = None;

        let read: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| Error::Body(e.to_string()))?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(Error::TooLarge { limit });
                }
                hasher.update(&chunk);
                match &mut upload {
                    Some((_, writer)) => {
                        writer.wait_for_capacity(UPLOAD_CONCURRENCY).await?;
                        writer.put(chunk);
                    }
                    None => {
                        pending_len += chunk.len();
                        pending.push(chunk);
                        if pending_len > SINGLE_PUT_LIMIT {
                            let tmp = tmp_path();
                            let parts = self.inner.objects.put_multipart(&tmp).await?;
                            let mut writer =
                                WriteMultipart::new_with_chunk_size(parts, SINGLE_PUT_LIMIT);
                            for c in pending.drain(..) {
                                writer.put(c);
                            }
                            upload = Some((tmp, writer));
                        }
                    }
                }
            }
            Ok(())
        }
        .await;

        if let Err(e) = read {
            if let Some((tmp, writer)) = upload {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(target: "store::blobs", path = %tmp, error = %abort, "aborting an upload failed");
                }
            }
            return Err(e);
        }

        let id = BlobId::from_digest(hasher.finalize().into());
        if let Some(expected) = expected.filter(|e| *e != id) {
            if let Some((tmp, writer)) = upload {
                let _ = writer.abort().await;
                tracing::debug!(target: "store::blobs", path = %tmp, "upload discarded (digest mismatch)");
            }
            return Err(Error::DigestMismatch {
                expected,
                actual: id,
            });
        }

        let outcome = match upload {
            None => self.put_small(id, size, pending).await?,
            Some((tmp, writer)) => {
                writer.finish().await?;
                self.commit(&tmp, id, size).await?
            }
        };
        tracing::info!(target: "store::blobs", blob = %id, size, ?outcome, "put");
        Ok((id, size, outcome))
    }

    /// Stores `bytes` (already in memory).
    pub async fn put_bytes(&self, bytes: Bytes) -> Result<(BlobId, u64, PutOutcome)> {
        self.put_stream(
            stream::iter([Ok::<_, std::convert::Infallible>(bytes)]),
            None,
            None,
        )
        .await
    }

    /// One atomic put straight under the final name, unless an intact-looking copy exists.
    async fn put_small(&self, id: BlobId, size: u64, chunks: Vec<Bytes>) -> Result<PutOutcome> {
        let path = blob_path(&id);
        if self.existing_size(&path).await? == Some(size) {
            return Ok(PutOutcome::Existed);
        }
        let payload = PutPayload::from_iter(chunks);
        let create = PutOptions::from(PutMode::Create);
        match self
            .inner
            .objects
            .put_opts(&path, payload.clone(), create)
            .await
        {
            Ok(_) => Ok(PutOutcome::Created),
            // Another upload of the same bytes won the race.
            Err(object_store::Error::AlreadyExists { .. }) => {
                if self.existing_size(&path).await? == Some(size) {
                    Ok(PutOutcome::Existed)
                } else {
                    self.repair_with(payload, &path, id).await
                }
            }
            Err(
                object_store::Error::NotImplemented { .. }
                | object_store::Error::NotSupported { .. },
            ) => {
                // Backends without create-only puts: overwriting with identical bytes is harmless.
                self.inner.objects.put(&path, payload).await?;
                Ok(PutOutcome::Created)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn repair_with(
        &self,
        payload: PutPayload,
        path: &Path,
        id: BlobId,
    ) -> Result<PutOutcome> {
        tracing::warn!(target: "store::blobs", blob = %id, "stored copy has the wrong size; replacing it with the upload");
        self.inner.objects.put(path, payload).await?;
        Ok(PutOutcome::Created)
    }

    /// Moves a finished temporary upload under its id.
    async fn commit(&self, tmp: &Path, id: BlobId, size: u64) -> Result<PutOutcome> {
        let path = blob_path(&id);
        let outcome = match self.existing_size(&path).await? {
            Some(existing) if existing == size => PutOutcome::Existed,
            Some(_) => {
                tracing::warn!(target: "store::blobs", blob = %id, "stored copy has the wrong size; replacing it with the upload");
                self.inner.objects.rename(tmp, &path).await?;
                return Ok(PutOutcome::Created);
            }
            None => match self.inner.objects.rename_if_not_exists(tmp, &path).await {
                Ok(()) => return Ok(PutOutcome::Created),
                Err(object_store::Error::AlreadyExists { .. }) => PutOutcome::Existed,
                Err(
                    object_store::Error::NotImplemented { .. }
                    | object_store::Error::NotSupported { .. },
                ) => {
                    // e.g. S3 without copy-if-not-exists: a concurrent identical upload may
                    // overwrite, which is harmless for content-addressed bytes.
                    self.inner.objects.rename(tmp, &path).await?;
                    return Ok(PutOutcome::Created);
                }
                Err(e) => {
                    self.delete_quietly(tmp).await;
                    return Err(e.into());
                }
            },
        };
        self.delete_quietly(tmp).await;
        Ok(outcome)
    }

    /// Size of the blob, or [`Error::NotFound`].
    pub async fn head(&self, id: &BlobId) -> Result<u64> {
        self.existing_size(&blob_path(id))
            .await?
            .ok_or(Error::NotFound(*id))
    }

    /// Reads a blob, checking that its bytes still hash to `id`.
    ///
    /// Blobs up to `verify_buffer_size` bytes are read whole and verified before anything is
    /// returned. Larger ones are verified while streaming; the stream holds back its last chunk
    /// until the digest is checked, so a receiver never gets a complete corrupt body (with the
    /// Content-Length set, a cut-short body is an error for any HTTP client). Either way a
    /// mismatch is logged and the object is moved to quarantine, after which the blob is
    /// unknown ([`Error::NotFound`]) until it is uploaded again.
    pub async fn get(&self, id: &BlobId) -> Result<BlobBody> {
        let path = blob_path(id);
        let result = match self.inner.objects.get(&path).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Err(Error::NotFound(*id)),
            Err(e) => return Err(e.into()),
        };
        let size = result.meta.size;
        if size <= self.inner.verify_buffer_size {
            let bytes = result.bytes().await?;
            let actual = BlobId::of(&bytes);
            if actual != *id {
                self.quarantine(id, actual).await;
                return Err(Error::Corrupt { id: *id, actual });
            }
            return Ok(BlobBody::Verified(bytes));
        }
        let stream = VerifyingStream {
            inner: result.into_stream(),
            hasher: Sha256::new(),
            held: None,
            done: false,
            id: *id,
            store: self.clone(),
        };
        Ok(BlobBody::Streaming {
            size,
            stream: stream.into_stream().boxed(),
        })
    }

    /// Reads a whole blob into memory, verified (any size up to the blob limit).
    pub async fn get_bytes(&self, id: &BlobId) -> Result<Bytes> {
        match self.get(id).await? {
            BlobBody::Verified(bytes) => Ok(bytes),
            BlobBody::Streaming { stream, .. } => {
                let chunks: Vec<Bytes> = stream.try_collect().await.map_err(|e| {
                    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
                        Some(Ok(err)) => *err,
                        Some(Err(other)) => Error::Io(std::io::Error::other(other)),
                        None => Error::Io(std::io::Error::other("read failed")),
                    }
                })?;
                Ok(chunks.concat().into())
            }
        }
    }

    /// Moves a corrupt blob out of the way (best effort; logged).
    async fn quarantine(&self, id: &BlobId, actual: BlobId) {
        let from = blob_path(id);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let to = Path::from(format!("quarantine/{id}.{nanos}"));
        tracing::error!(target: "store::integrity", blob = %id, %actual, quarantine = %to, "stored bytes do not match the blob id; blob withdrawn");
        if let Err(e) = self.inner.objects.rename(&from, &to).await {
            tracing::error!(target: "store::integrity", blob = %id, error = %e, "moving the corrupt blob to quarantine failed; deleting it");
            self.delete_quietly(&from).await;
        }
    }

    async fn existing_size(&self, path: &Path) -> Result<Option<u64>> {
        match self.inner.objects.head(path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_quietly(&self, path: &Path) {
        match self.inner.objects.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::warn!(target: "store::blobs", %path, error = %e, "deleting a temporary object failed")
            }
        }
    }

    /// Deletes temporary uploads older than [`STALE_TMP_AGE`] (left by crashed servers; recent
    /// ones may belong to another server sharing the bucket).
    async fn remove_stale_uploads(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let cutoff = now - STALE_TMP_AGE.as_secs() as i64;
        let prefix = Path::from("tmp");
        let mut listing = self.inner.objects.list(Some(&prefix));
        while let Some(item) = listing.next().await {
            match item {
                Ok(meta) if meta.last_modified.timestamp() < cutoff => {
                    tracing::info!(target: "store::blobs", path = %meta.location, "removing a stale temporary upload");
                    self.delete_quietly(&meta.location).await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "store::blobs", error = %e, "listing temporary uploads failed");
                    break;
                }
            }
        }
    }
}

/// Where blob `id` lives in the backend.
fn blob_path(id: &BlobId) -> Path {
    let hex = id.to_hex();
    Path::from(format!("blobs/{}/{hex}", &hex[..2]))
}

/// A name no other upload of this process or of another server uses.
fn tmp_path() -> Path {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Path::from(format!("tmp/{nanos}-{}-{n}", std::process::id()))
}

#[cfg(feature = "s3")]
fn s3_store(s3: &crate::config::S3Config) -> Result<Arc<dyn ObjectStore>> {
    use object_store::aws::AmazonS3Builder;
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&s3.bucket)
        .with_allow_http(s3.allow_http);
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &s3.region {
        builder = builder.with_region(region);
    }
    if let Some(key) = &s3.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &s3.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    let bucket: Arc<dyn ObjectStore> = Arc::new(builder.build()?);
    Ok(match &s3.prefix {
        Some(prefix) => Arc::new(object_store::prefix::PrefixStore::new(
            bucket,
            prefix.as_str(),
        )),
        None => bucket,
    })
}

#[cfg(not(feature = "s3"))]
fn s3_store(_: &crate::config::S3Config) -> Result<Arc<dyn ObjectStore>> {
    Err(Error::Config(
        "this build has no S3 support (dexec-store was built without its `s3` feature)".into(),
    ))
}

/// Hashes a large blob while passing it on, holding back the last chunk until the digest is
/// checked.
struct VerifyingStream {
    inner: BoxStream<'static, object_store::Result<Bytes>>,
    hasher: Sha256,
    held: Option<Bytes>,
    done: bool,
    id: BlobId,
    store: BlobStore,
}

impl VerifyingStream {
    fn into_stream(self) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        stream::unfold(self, |mut s| async move {
            if s.done {
                return None;
            }
            loop {
                match s.inner.next().await {
                    Some(Ok(chunk)) => {
                        s.hasher.update(&chunk);
                        if let Some(previous) = s.held.replace(chunk) {
                            return Some((Ok(previous), s));
                        }
                    }
                    Some(Err(e)) => {
                        s.done = true;
                        tracing::error!(target: "store::blobs", blob = %s.id, error = %e, "reading a blob failed mid-stream");
                        return Some((Err(std::io::Error::other(Error::Backend(e))), s));
                    }
                    None => {
                        s.done = true;
                        let actual =
                            BlobId::from_digest(std::mem::take(&mut s.hasher).finalize().into());
                        if actual != s.id {
                            s.store.quarantine(&s.id, actual).await;
                            let err = Error::Corrupt { id: s.id, actual };
                            return Some((Err(std::io::Error::other(err)), s));
                        }
                        let last = s.held.take()?;
                        return Some((Ok(last), s));
                    }
                }
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use object_store::memory::InMemory;

    use super::*;

    fn store(max: u64, verify_buffer: u64) -> (BlobStore, Arc<InMemory>) {
        let mem = Arc::new(InMemory::new());
        (
            BlobStore::with_object_store(mem.clone(), max, verify_buffer),
            mem,
        )
    }

    fn chunks(
        data: &[u8],
        size: usize,
    ) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
        let parts: Vec<_> = data
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        stream::iter(parts)
    }

    #[tokio::test]
    async fn small_and_large_uploads_land_under_their_digest() {
        let (store, mem) = store(64 << 20, 1 << 20);
        for len in [0usize, 1, 1000, SINGLE_PUT_LIMIT + 12345] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let (id, size, outcome) = store
                .put_stream(chunks(&data, 64 << 10), None, None)
                .await
                .unwrap();
            assert_eq!(id, BlobId::of(&data));
            assert_eq!(size, len as u64);
            assert_eq!(outcome, PutOutcome::Created);
            assert_eq!(store.get_bytes(&id).await.unwrap(), data);
            let (_, _, again) = store
                .put_stream(chunks(&data, 1 << 20), Some(id), None)
                .await
                .unwrap();
            assert_eq!(again, PutOutcome::Existed);
        }
        // No temporary object survives.
        let tmp: Vec<_> = mem
            .list(Some(&Path::from("tmp")))
            .try_collect()
            .await
            .unwrap();
        assert!(tmp.is_empty(), "{tmp:?}");
    }

    #[tokio::test]
    async fn limit_is_enforced_while_streaming_and_from_the_declared_length() {
        let (store, mem) = store(SINGLE_PUT_LIMIT as u64 + 10, 1 << 20);
        let data = vec![7u8; SINGLE_PUT_LIMIT + 11];
        let err = store
            .put_stream(chunks(&data, 1 << 20), None, None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        let err = store
            .put_stream(chunks(b"x", 1), None, Some(u64::MAX))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        let all: Vec<_> = mem.list(None).try_collect().await.unwrap();
        assert!(all.is_empty(), "{all:?}");
    }

    #[tokio::test]
    async fn streamed_read_of_a_corrupt_blob_fails_and_quarantines() {
        let (store, mem) = store(64 << 20, 16);
        let data = vec![1u8; 100_000];
        let (id, _, _) = store.put_bytes(data.clone().into()).await.unwrap();
        let mut bad = data.clone();
        bad[99_999] ^= 1;
        mem.put(&blob_path(&id), bad.into()).await.unwrap();

        let BlobBody::Streaming { stream, size } = store.get(&id).await.unwrap() else {
            panic!("expected a streamed body above the verify buffer size")
        };
        assert_eq!(size, 100_000);
        let results: Vec<_> = stream.collect().await;
        let received: usize = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(Bytes::len)
            .sum();
        assert!(received < 100_000, "the whole corrupt body was released");
        assert!(results.last().unwrap().is_err());
        assert!(matches!(store.head(&id).await, Err(Error::NotFound(_))));
        let quarantined: Vec<_> = mem
            .list(Some(&Path::from("quarantine")))
            .try_collect()
            .await
            .unwrap();
        assert_eq!(quarantined.len(), 1);
    }

    #[tokio::test]
    async fn wrong_expected_id_is_rejected_and_nothing_is_stored() {
        let (store, mem) = store(64 << 20, 1 << 20);
        let expected = BlobId::of(b"something else");
        let err = store
            .put_stream(chunks(b"hello", 2), Some(expected), None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        let all: Vec<_> = mem.list(None).try_collect().await.unwrap();
        assert!(all.is_empty(), "{all:?}");
    }
}
