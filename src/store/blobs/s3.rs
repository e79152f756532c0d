//! Attachment bytes in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, Ceph, GCS's S3
//! API), through `object_store`. A write buffers up to [`PART_SIZE`] bytes: a smaller file is
//! sent in one `PUT` on commit; a larger one becomes a multipart upload with at most
//! [`PARTS_IN_FLIGHT`] parts being sent at once, completed only on commit and aborted when the
//! write is abandoned, so an object appears whole or not at all. Memory per upload is thus
//! bounded by about `PART_SIZE x (PARTS_IN_FLIGHT + 1)`, whatever the file's size.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{BackoffConfig, GetOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Blob, BlobError, Message, StoredBlob, WriteTask};
use crate::config::S3Settings;

/// Bytes per part of a multipart upload (S3's minimum is 5 MiB), and the most a small file
/// is buffered before it is sent in one request.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one upload sent at the same time.
const PARTS_IN_FLIGHT: usize = 2;

/// A bucket, and the folder in it.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl BlobError {
    fn s3(error: object_store::Error) -> BlobError {
        match error {
            object_store::Error::NotFound { .. } => BlobError::NotFound,
            other => BlobError::Unavailable(other.to_string()),
        }
    }
}

impl S3Blobs {
    /// The client of the configured bucket, from explicit settings only (nothing is read from
    /// the environment here). A few quick retries, so that an outage is told to the request
    /// in seconds rather than minutes.
    pub fn connect(settings: &S3Settings) -> Result<S3Blobs, BlobError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_allow_http(settings.allow_http)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: Duration::from_secs(15),
            });
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret.expose());
        }
        if let Some(token) = &settings.session_token {
            builder = builder.with_token(token.expose());
        }
        let store = builder
            .build()
            .map_err(|e| BlobError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
        Ok(S3Blobs {
            store: Arc::new(store),
            prefix: settings.prefix.clone(),
        })
    }

    /// The object of `key`, inside the prefix.
    fn path(&self, key: &str) -> Path {
        self.prefix
            .split('/')
            .chain(key.split('/'))
            .filter(|part| !part.is_empty())
            .collect()
    }

    /// Starts the writer task; nothing is sent before the first part is full.
    pub fn begin(&self, key: &str, rx: mpsc::Receiver<Message>) -> WriteTask {
        let writer = BufWriter::with_capacity(Arc::clone(&self.store), self.path(key), PART_SIZE)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        tokio::spawn(upload(writer, rx))
    }

    /// The object's bytes as a stream.
    pub async fn fetch(&self, key: &str) -> Result<Blob, BlobError> {
        let got = self
            .store
            .get_opts(&self.path(key), GetOptions::default())
            .await
            .map_err(BlobError::s3)?;
        let size = got.meta.size;
        Ok(Blob::Stream {
            size,
            bytes: got.into_stream().map(|r| r.map_err(BlobError::s3)).boxed(),
        })
    }

    pub async fn remove(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::s3(e)),
        }
    }

    /// Reads the object's stream up to `limit` and drops the rest (a ranged request would
    /// refuse an empty object).
    pub async fn read(&self, key: &str, limit: u64) -> Result<Vec<u8>, BlobError> {
        let Blob::Stream { mut bytes, .. } = self.fetch(key).await? else {
            return Err(BlobError::NotFound);
        };
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        while out.len() < limit
            && let Some(chunk) = bytes.next().await
        {
            let chunk = chunk?;
            let take = (limit - out.len()).min(chunk.len());
            out.extend_from_slice(&chunk[..take]);
        }
        Ok(out)
    }
}

/// The writer task: hashes each chunk and hands it to the buffered writer (which waits while
/// [`PARTS_IN_FLIGHT`] parts are being sent). On `Finish` it completes the object; when the
/// queue closes first, or the store fails, it aborts the multipart upload.
async fn upload(
    mut writer: BufWriter,
    mut rx: mpsc::Receiver<Message>,
) -> Result<StoredBlob, BlobError> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(message) = rx.recv().await {
        match message {
            Message::Chunk(chunk) => {
                hasher.update(&chunk);
                size += chunk.len() as u64;
                if let Err(e) = writer.put(chunk).await {
                    abort(&mut writer).await;
                    // Even a 404 (no such bucket) is the store's fault, not the upload's.
                    return Err(BlobError::Unavailable(e.to_string()));
                }
            }
            Message::Finish => {
                // `BufWriter` completes a multipart upload, or sends a small file, on
                // shutdown; on failure the upload is aborted.
                let mut pinned = std::pin::Pin::new(&mut writer);
                let finished = std::future::poll_fn(|cx| {
                    tokio::io::AsyncWrite::poll_shutdown(pinned.as_mut(), cx)
                })
                .await;
                return match finished {
                    Ok(()) => Ok(StoredBlob {
                        size,
                        sha256: hex::encode(hasher.finalize()),
                    }),
                    Err(e) => Err(BlobError::Unavailable(e.to_string())),
                };
            }
        }
    }
    abort(&mut writer).await;
    Err(BlobError::Abandoned)
}

/// Aborts a multipart upload so that its parts do not linger (best effort: a store that is
/// down cannot be told, and its lifecycle rule reclaims them).
async fn abort(writer: &mut BufWriter) {
    if let Err(e) = writer.abort().await {
        log::warn!("cannot abort an unfinished attachment upload: {e}");
    }
}
