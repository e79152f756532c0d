//! Attachment bytes on disk. A file is streamed into a temporary file under `tmp/` by a
//! blocking writer task (which also computes its sha256), so neither the bytes nor the hashing
//! sit on the async executor; on commit it is synced and renamed into place under a key made
//! from the attachment id, never from the client's file name. An abandoned write removes its
//! temporary file.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Chunks queued between the request and the writer task: bounds the memory of an upload.
const WRITE_QUEUE: usize = 8;
const TEMP_DIR: &str = "tmp";

/// The folder attachments are kept in.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// What a finished write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub size: u64,
    /// Lower-case hex sha256 of the bytes.
    pub sha256: String,
}

impl BlobStore {
    /// Opens (creating if needed) the storage folder. Blocking: call it at startup.
    pub fn open(root: &Path) -> io::Result<BlobStore> {
        std::fs::create_dir_all(root.join(TEMP_DIR))?;
        Ok(BlobStore {
            root: root.to_path_buf(),
        })
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

    /// Where the bytes of `key` are.
    pub fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// Starts writing a new file.
    pub async fn begin(&self) -> io::Result<BlobWriter> {
        let temp = self
            .root
            .join(TEMP_DIR)
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let path = temp.clone();
        let file = blocking(move || File::create(&path)).await?;
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let task = tokio::task::spawn_blocking(move || write_all(file, rx));
        Ok(BlobWriter {
            tx: Some(tx),
            task: Some(task),
            temp,
            root: self.root.clone(),
            written: 0,
            head: Vec::new(),
        })
    }

    /// Removes the bytes of `key`; a missing file is not an error.
    pub async fn remove(&self, key: &str) -> io::Result<()> {
        let path = self.path(key);
        blocking(move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await
    }

    /// Up to `limit` bytes from the start of `key`.
    pub async fn read(&self, key: &str, limit: u64) -> io::Result<Vec<u8>> {
        let path = self.path(key);
        blocking(move || {
            let mut bytes = Vec::new();
            File::open(&path)?.take(limit).read_to_end(&mut bytes)?;
            Ok(bytes)
        })
        .await
    }

    /// Removes temporary files older than `age`, left by writes a crash interrupted.
    pub async fn remove_stale_temp_files(&self, age: Duration) -> io::Result<usize> {
        let dir = self.root.join(TEMP_DIR);
        blocking(move || {
            let mut removed = 0;
            let now = SystemTime::now();
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let modified = entry.metadata()?.modified()?;
                if now.duration_since(modified).unwrap_or_default() > age
                    && std::fs::remove_file(entry.path()).is_ok()
                {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

enum Message {
    Chunk(Bytes),
    /// All bytes were sent: flush and sync.
    Finish,
}

/// The writer task: writes and hashes each chunk until told to finish. A closed queue means
/// the write was abandoned; the writer's `Drop` then removes the file.
fn write_all(mut file: File, mut rx: mpsc::Receiver<Message>) -> io::Result<(File, StoredBlob)> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(message) = rx.blocking_recv() {
        match message {
            Message::Chunk(chunk) => {
                file.write_all(&chunk)?;
                hasher.update(&chunk);
                size += chunk.len() as u64;
            }
            Message::Finish => {
                file.sync_data()?;
                let sha256 = hex::encode(hasher.finalize());
                return Ok((file, StoredBlob { size, sha256 }));
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::Interrupted,
        "the upload was abandoned",
    ))
}

/// A file being written. Drop it without [`BlobWriter::commit`] to abandon the write.
pub struct BlobWriter {
    tx: Option<mpsc::Sender<Message>>,
    task: Option<JoinHandle<io::Result<(File, StoredBlob)>>>,
    temp: PathBuf,
    root: PathBuf,
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
    pub async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
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
            Err(self
                .join()
                .await
                .err()
                .unwrap_or_else(|| io::Error::other("the attachment writer stopped")))
        }
    }

    async fn join(&mut self) -> io::Result<(File, StoredBlob)> {
        self.tx = None;
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Err(io::Error::other("the attachment writer already finished")),
        }
    }

    /// Syncs the file and moves it to `key` in one rename, so readers see all of it or none.
    pub async fn commit(mut self, key: &str) -> io::Result<StoredBlob> {
        if let Some(tx) = &self.tx {
            tx.send(Message::Finish)
                .await
                .map_err(|_| io::Error::other("the attachment writer stopped"))?;
        }
        let (file, blob) = self.join().await?;
        drop(file);
        let (temp, target) = (self.temp.clone(), self.root.join(key));
        blocking(move || {
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::rename(&temp, &target)
        })
        .await?;
        self.temp = PathBuf::new();
        Ok(blob)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.temp.as_os_str().is_empty() {
            return;
        }
        // Closing the queue stops the writer; the file goes once it has stopped writing.
        self.tx = None;
        let temp = std::mem::take(&mut self.temp);
        let task = self.task.take();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(task) = task {
                    let _ = task.await;
                }
                let _ = blocking(move || std::fs::remove_file(&temp)).await;
            });
        } else {
            let _ = std::fs::remove_file(&temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_hash_and_rename_or_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let mut writer = blobs.begin().await.unwrap();
        writer.write(Bytes::from_static(b"hello ")).await.unwrap();
        writer.write(Bytes::from_static(b"world")).await.unwrap();
        assert_eq!(writer.head(), b"hello world");
        let key = BlobStore::key_for("atc_9f86d081884c7d65");
        assert_eq!(key, "9f/atc_9f86d081884c7d65");
        let blob = writer.commit(&key).await.unwrap();
        assert_eq!(blob.size, 11);
        assert_eq!(
            blob.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(blobs.read(&key, 5).await.unwrap(), b"hello");

        let mut abandoned = blobs.begin().await.unwrap();
        abandoned.write(Bytes::from_static(b"x")).await.unwrap();
        drop(abandoned);
        let temp = dir.path().join(TEMP_DIR);
        for _ in 0..200 {
            if std::fs::read_dir(&temp).unwrap().next().is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(std::fs::read_dir(&temp).unwrap().next().is_none());

        blobs.remove(&key).await.unwrap();
        blobs.remove(&key).await.unwrap();
        assert_eq!(BlobStore::key_for("../../x"), "00/x");
    }
}
