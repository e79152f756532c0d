//! Attachment bytes in a local folder. A file is streamed into a temporary file under `tmp/`
//! by a blocking writer task (which also computes its sha256), so neither the bytes nor the
//! hashing sit on the async executor; on commit it is synced and renamed into place, so
//! readers see all of it or none.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Blob, BlobError, Message, StoredBlob, WriteTask};

const TEMP_DIR: &str = "tmp";

/// The folder attachments are kept in.
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    /// Opens (creating if needed) the storage folder. Blocking: call it at startup.
    pub fn open(root: &Path) -> io::Result<LocalBlobs> {
        std::fs::create_dir_all(root.join(TEMP_DIR))?;
        Ok(LocalBlobs {
            root: root.to_path_buf(),
        })
    }

    /// Starts the writer task on a new temporary file; returns the task and the file.
    pub async fn begin(
        &self,
        key: &str,
        rx: mpsc::Receiver<Message>,
    ) -> Result<(WriteTask, PathBuf), BlobError> {
        let temp = self
            .root
            .join(TEMP_DIR)
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let path = temp.clone();
        let file = blocking(move || File::create(&path)).await?;
        let (from, to) = (temp.clone(), self.root.join(key));
        let task = tokio::task::spawn_blocking(move || write_all(file, rx, &from, &to));
        Ok((task, temp))
    }

    /// The file of `key`, opened.
    pub async fn fetch(&self, key: &str) -> Result<Blob, BlobError> {
        let path = self.root.join(key);
        let opening = path.clone();
        let file = blocking(move || File::open(opening))
            .await
            .map_err(BlobError::local)?;
        Ok(Blob::File { file, path })
    }

    pub async fn remove(&self, key: &str) -> Result<(), BlobError> {
        let path = self.root.join(key);
        blocking(move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await
        .map_err(BlobError::local)
    }

    pub async fn read(&self, key: &str, limit: u64) -> Result<Vec<u8>, BlobError> {
        let path = self.root.join(key);
        blocking(move || {
            let mut bytes = Vec::new();
            File::open(&path)?.take(limit).read_to_end(&mut bytes)?;
            Ok(bytes)
        })
        .await
        .map_err(BlobError::local)
    }

    pub async fn remove_stale_temp_files(&self, age: Duration) -> Result<usize, BlobError> {
        let dir = self.root.join(TEMP_DIR);
        let removed = blocking(move || {
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
        .await?;
        Ok(removed)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

/// The writer task: writes and hashes each chunk until told to finish, then syncs the file
/// and renames it to `target`. A closed queue means the write was abandoned; the writer's
/// `Drop` then removes the file.
fn write_all(
    mut file: File,
    mut rx: mpsc::Receiver<Message>,
    temp: &Path,
    target: &Path,
) -> Result<StoredBlob, BlobError> {
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
                drop(file);
                if let Some(dir) = target.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::rename(temp, target)?;
                let sha256 = hex::encode(hasher.finalize());
                return Ok(StoredBlob { size, sha256 });
            }
        }
    }
    Err(BlobError::Abandoned)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::BlobStore;
    use super::*;

    #[tokio::test]
    async fn writes_hash_and_rename_or_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let key = BlobStore::key_for("atc_9f86d081884c7d65");
        assert_eq!(key, "9f/atc_9f86d081884c7d65");
        let mut writer = blobs.begin(&key).await.unwrap();
        writer.write(Bytes::from_static(b"hello ")).await.unwrap();
        writer.write(Bytes::from_static(b"world")).await.unwrap();
        assert_eq!(writer.head(), b"hello world");
        assert!(!dir.path().join(&key).exists(), "nothing visible yet");
        let blob = writer.commit().await.unwrap();
        assert_eq!(blob.size, 11);
        assert_eq!(
            blob.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(blobs.read(&key, 5).await.unwrap(), b"hello");
        assert!(matches!(
            blobs.fetch(&key).await.unwrap(),
            Blob::File { path, .. } if path == dir.path().join(&key)
        ));

        let other = BlobStore::key_for("atc_00");
        let mut abandoned = blobs.begin(&other).await.unwrap();
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
        assert!(matches!(
            blobs.fetch(&other).await,
            Err(BlobError::NotFound)
        ));

        blobs.remove(&key).await.unwrap();
        blobs.remove(&key).await.unwrap();
        assert!(matches!(
            blobs.read(&key, 1).await,
            Err(BlobError::NotFound)
        ));
        assert_eq!(BlobStore::key_for("../../x"), "00/x");
    }
}
