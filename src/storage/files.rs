//! Uploaded files on disk under the data directory, by content hash:
//! `files/ab/ab12…` (SHA-256, hex). A file is written to a temporary file
//! while it is hashed and counted, chunk by chunk as it arrives (never held
//! whole in memory), synced, then renamed into place: the same bytes are
//! stored once, and a file in place is always complete.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::domain::attachment::SNIFF_BYTES;

/// Bytes one upload may have on their way to the disk at a time.
const WRITE_BUF: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the upload broke off: {0}")]
    Body(String),
    /// `accept` said no to its first bytes (a type this server does not take).
    #[error("this type of file is not accepted")]
    Refused,
    #[error("the file is empty")]
    Empty,
    #[error("file storage failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A file written and in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub sha256: String,
    pub size: u64,
    /// Its first bytes, to tell what it is.
    pub head: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// The store under `data_dir/files` (created when missing).
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let root = data_dir.join("files");
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Self { root })
    }

    /// Where the file with this hash is, if the hash is one (64 hex digits:
    /// nothing else can name a path here).
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        let ok = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| {
            let hex = sha256.to_ascii_lowercase();
            self.root.join(&hex[..2]).join(&hex)
        })
    }

    /// Writes what `body` yields, refusing it once it passes `max` bytes or
    /// when `accept` says no to its first bytes ([`SNIFF_BYTES`], or all of a
    /// smaller file), as soon as they are in; what was written is removed.
    pub async fn write<S, E>(
        &self,
        body: S,
        max: u64,
        accept: &dyn Fn(&[u8]) -> bool,
    ) -> Result<Written, FileError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{:032x}", rand::random::<u128>()));
        let result = self.write_to(&tmp, body, max, accept).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn write_to<S, E>(
        &self,
        tmp: &Path,
        body: S,
        max: u64,
        accept: &dyn Fn(&[u8]) -> bool,
    ) -> Result<Written, FileError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let mut file = tokio::fs::File::create(tmp).await?;
        // Each write is handed to a blocking thread with a copy of its bytes;
        // capped, an upload holds at most this much (tokio's default is 2 MiB).
        file.set_max_buf_size(WRITE_BUF);
        let (mut hash, mut size, mut head) = (Sha256::new(), 0u64, Vec::new());
        let mut checked = false;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| FileError::Body(e.to_string()))?;
            size += chunk.len() as u64;
            if size > max {
                return Err(FileError::TooLarge(max));
            }
            if head.len() < SNIFF_BYTES {
                let take = (SNIFF_BYTES - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            if !checked && head.len() == SNIFF_BYTES {
                checked = true;
                if !accept(&head) {
                    return Err(FileError::Refused);
                }
            }
            hash.update(&chunk);
            file.write_all(&chunk).await?;
        }
        if size == 0 {
            return Err(FileError::Empty);
        }
        if !checked && !accept(&head) {
            return Err(FileError::Refused);
        }
        file.sync_all().await?;
        drop(file);
        let sha256 = hex::encode(hash.finalize());
        let dest = self.path(&sha256).expect("a SHA-256 in hex");
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        if tokio::fs::try_exists(&dest).await? {
            // The same bytes are here already.
            tokio::fs::remove_file(tmp).await?;
        } else {
            tokio::fs::rename(tmp, &dest).await?;
        }
        Ok(Written { sha256, size, head })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> {
        let v: Vec<Result<Bytes, String>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        futures_util::stream::iter(v)
    }

    fn leftovers(store: &FileStore) -> usize {
        std::fs::read_dir(store.root.join("tmp")).unwrap().count()
    }

    #[tokio::test]
    async fn files_are_stored_once_by_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let a = store
            .write(chunks(&[b"hello ", b"world"]), 100, &|_| true)
            .await
            .unwrap();
        assert_eq!(
            a.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!((a.size, a.head.as_slice()), (11, &b"hello world"[..]));
        let again = store
            .write(chunks(&[b"hello world"]), 100, &|_| true)
            .await
            .unwrap();
        assert_eq!(again, a);
        let path = store.path(&a.sha256).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");
        assert_eq!(leftovers(&store), 0);
    }

    #[tokio::test]
    async fn too_large_or_broken_uploads_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        let e = store
            .write(chunks(&[b"12345", b"6"]), 5, &|_| true)
            .await
            .unwrap_err();
        assert!(matches!(e, FileError::TooLarge(5)), "{e}");
        let broken = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"part")),
            Err("connection reset".to_owned()),
        ]);
        assert!(matches!(
            store.write(broken, 100, &|_| true).await,
            Err(FileError::Body(_))
        ));
        // Refused by its first bytes: before the rest is read.
        let big = vec![b'x'; SNIFF_BYTES];
        let rest =
            futures_util::stream::iter(vec![Ok(Bytes::from(big)), Err("never read".to_owned())]);
        assert!(matches!(
            store.write(rest, 1 << 20, &|h| h[0] != b'x').await,
            Err(FileError::Refused)
        ));
        let small = store.write(chunks(&[b"tiny"]), 100, &|h| h != b"tiny");
        assert!(matches!(small.await, Err(FileError::Refused)));
        assert_eq!(leftovers(&store), 0);
        assert_eq!(
            std::fs::read_dir(&store.root).unwrap().count(),
            1,
            "tmp only"
        );
    }

    #[test]
    fn only_hashes_name_paths() {
        let store = FileStore {
            root: PathBuf::from("/d/files"),
        };
        assert!(store.path("../../etc/passwd").is_none());
        assert!(store.path(&"g".repeat(64)).is_none());
        assert_eq!(
            store.path(&"AB".repeat(32)).unwrap(),
            PathBuf::from(format!("/d/files/ab/{}", "ab".repeat(32)))
        );
    }
}
