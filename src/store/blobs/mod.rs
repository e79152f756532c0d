//! Attachment bytes, in a local folder ([`local`]) or an S3-compatible bucket ([`s3`]), behind
//! one API. A write streams through a bounded queue into a writer task that also computes the
//! sha256, so memory does not grow with the file; it only becomes visible under its key on
//! [`BlobWriter::commit`], after the caller has checked it, and an abandoned write leaves
//! nothing behind (a temporary file is removed, a multipart upload aborted). Keys are made
//! from the attachment id, never from the client's file name.

mod local;
mod s3;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::StorageSettings;

/// Chunks queued between the request and the writer task: bounds the memory of an upload.
const WRITE_QUEUE: usize = 8;

/// Why the bytes could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the attachment's bytes are not in storage")]
    NotFound,
    /// The object store did not answer, or answered with an error: the request may work later.
    /// The detail (which may name the endpoint) goes to the log, not to the client.
    #[error("attachment storage is unavailable; try again later")]
    Unavailable(String),
    #[error("the upload was abandoned")]
    Abandoned,
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl BlobError {
    /// A local file error, with a missing file told apart.
    fn local(error: io::Error) -> BlobError {
        match error.kind() {
            io::ErrorKind::NotFound => BlobError::NotFound,
            _ => BlobError::Io(error),
        }
    }
}

/// Where attachments are kept: a handle that is cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobStore {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Local(local::LocalBlobs),
    S3(s3::S3Blobs),
}

/// What a finished write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub size: u64,
    /// Lower-case hex sha256 of the bytes.
    pub sha256: String,
}

/// Stored bytes, opened for serving.
pub enum Blob {
    /// A local file: served with ranges and conditional requests.
    File { file: std::fs::File, path: PathBuf },
    /// An object's bytes as they arrive from the store.
    Stream {
        size: u64,
        bytes: BoxStream<'static, Result<Bytes, BlobError>>,
    },
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blob::File { path, .. } => f.debug_struct("File").field("path", path).finish(),
            Blob::Stream { size, .. } => f.debug_struct("Stream").field("size", size).finish(),
        }
    }
}

impl BlobStore {
    /// Opens a local storage folder (creating it if needed). Blocking: call it at startup.
    pub fn open(root: &Path) -> io::Result<BlobStore> {
        Ok(BlobStore {
            backend: Backend::Local(local::LocalBlobs::open(root)?),
        })
    }

    /// Opens the configured storage. Blocking for a folder: call it at startup. A bucket is
    /// not contacted yet: while it is unreachable, only requests that need it fail.
    pub fn from_settings(settings: &StorageSettings) -> Result<BlobStore, BlobError> {
        let backend = match settings {
            StorageSettings::Local(root) => Backend::Local(local::LocalBlobs::open(root)?),
            StorageSettings::S3(s3) => Backend::S3(s3::S3Blobs::connect(s3)?),
        };
        Ok(BlobStore { backend })
    }

    /// The key of an attachment's bytes: `<2 hex digits>/<id>`, so no folder grows too large.
    /// Ids are ours (`atc_` + hex), but anything outside `[A-Za-z0-9_-]` is dropped anyway so
    /// that a key can never leave the storage folder.
    pub fn key_for(id: &str) -> String {
        let safe: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            .collect();
        let random = safe.rsplit('_').next().unwrap_or_default();
        let shard: String = random.chars().take(2).collect();
        let shard = if shard.len() == 2 { shard } else { "00".into() };
        format!("{shard}/{safe}")
    }

    /// Starts writing the bytes of `key`; nothing is visible there before
    /// [`BlobWriter::commit`].
    pub async fn begin(&self, key: &str) -> Result<BlobWriter, BlobError> {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let (task, temp) = match &self.backend {
            Backend::Local(local) => {
                let (task, temp) = local.begin(key, rx).await?;
                (task, Some(temp))
            }
            Backend::S3(s3) => (s3.begin(key, rx), None),
        };
        Ok(BlobWriter {
            tx: Some(tx),
            task: Some(task),
            temp,
            written: 0,
            head: Vec::new(),
        })
    }

    /// Opens the bytes of `key` for serving.
    pub async fn fetch(&self, key: &str) -> Result<Blob, BlobError> {
        match &self.backend {
            Backend::Local(local) => local.fetch(key).await,
            Backend::S3(s3) => s3.fetch(key).await,
        }
    }

    /// Removes the bytes of `key`; missing bytes are not an error.
    pub async fn remove(&self, key: &str) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Local(local) => local.remove(key).await,
            Backend::S3(s3) => s3.remove(key).await,
        }
    }

    /// Up to `limit` bytes from the start of `key`.
    pub async fn read(&self, key: &str, limit: u64) -> Result<Vec<u8>, BlobError> {
        match &self.backend {
            Backend::Local(local) => local.read(key, limit).await,
            Backend::S3(s3) => s3.read(key, limit).await,
        }
    }

    /// Removes temporary files older than `age`, left by writes a crash interrupted. A bucket
    /// has none: its unfinished multipart uploads are never visible, and a lifecycle rule
    /// (`AbortIncompleteMultipartUpload`) reclaims what a crash left.
    pub async fn remove_stale_temp_files(&self, age: Duration) -> Result<usize, BlobError> {
        match &self.backend {
            Backend::Local(local) => local.remove_stale_temp_files(age).await,
            Backend::S3(_) => Ok(0),
        }
    }
}

/// What the request sends the writer task.
enum Message {
    Chunk(Bytes),
    /// All bytes were sent and checked: make them visible under the key.
    Finish,
}

/// The writer task's end: the blob once its bytes are in place under the key.
type WriteTask = JoinHandle<Result<StoredBlob, BlobError>>;

/// Bytes being written. Drop it without [`BlobWriter::commit`] to abandon the write.
pub struct BlobWriter {
    tx: Option<mpsc::Sender<Message>>,
    task: Option<WriteTask>,
    /// A local write's temporary file, removed if the write does not commit.
    temp: Option<PathBuf>,
    written: u64,
    head: Vec<u8>,
}

impl BlobWriter {
    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The first bytes of the file (up to 16), for checking its signature.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Queues a chunk; waits while the writer is behind.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        if self.head.len() < 16 {
            let take = (16 - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.written += chunk.len() as u64;
        let sent = match &self.tx {
            Some(tx) => tx.send(Message::Chunk(chunk)).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            // The writer stopped: its error says why.
            Err(self.join().await.err().unwrap_or_else(|| {
                BlobError::Io(io::Error::other("the attachment writer stopped"))
            }))
        }
    }

    async fn join(&mut self) -> Result<StoredBlob, BlobError> {
        self.tx = None;
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Err(BlobError::Io(io::Error::other(
                "the attachment writer already finished",
            ))),
        }
    }

    /// Makes the bytes visible under their key, all of them or none: a local file is synced
    /// and renamed into place, a multipart upload completed (a small file is sent in one
    /// request).
    pub async fn commit(mut self) -> Result<StoredBlob, BlobError> {
        if let Some(tx) = &self.tx {
            tx.send(Message::Finish)
                .await
                .map_err(|_| io::Error::other("the attachment writer stopped"))?;
        }
        let blob = self.join().await?;
        self.temp = None;
        Ok(blob)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // Closing the queue stops the writer, which aborts an upload itself; a temporary file
        // goes once the writer has stopped writing it.
        self.tx = None;
        let Some(temp) = self.temp.take() else {
            return;
        };
        let task = self.task.take();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(task) = task {
                    let _ = task.await;
                }
                let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(&temp)).await;
            });
        } else {
            let _ = std::fs::remove_file(&temp);
        }
    }
}
