//! The content store: immutable blobs addressed by their sha256 digest.
//!
//! Layout: blobs live at `<root>/blobs/sha256/<hex>`; writes go to a random file under
//! `<root>/ingest/`, are hashed while written, fsynced, and renamed into place only when the
//! digest matches the expected one (if given). A crash or a mismatch therefore never leaves a
//! partial blob under a digest: a [`BlobWriter`] dropped before [`BlobWriter::commit`] removes its
//! temporary file, and [`ContentStore::clean_ingest`] removes leftovers of a crash at startup.
//! Committing a blob that already exists is a no-op returning its digest. The store is safe to
//! use from several threads and processes: the final rename is atomic.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::digest::{Digest, Sha256Writer};

/// Content store failures.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("blob not found: {0}")]
    NotFound(Digest),
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("content store: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ContentError {
    let context = context.into();
    move |source| ContentError::Io { context, source }
}

/// A directory of blobs by digest.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Open (creating if needed) a store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<ContentStore, ContentError> {
        let root = root.into();
        for dir in [root.join("blobs").join("sha256"), root.join("ingest")] {
            fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
        }
        Ok(ContentStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    fn ingest_dir(&self) -> PathBuf {
        self.root.join("ingest")
    }

    /// Where the blob `digest` lives (whether or not it exists).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    /// Start writing a blob. With `expected`, [`BlobWriter::commit`] refuses other content.
    pub fn ingest(&self, expected: Option<Digest>) -> Result<BlobWriter, ContentError> {
        let dir = self.ingest_dir();
        let temp = tempfile::Builder::new()
            .prefix("ingest-")
            .tempfile_in(&dir)
            .map_err(io_err(format!("create temp file in {}", dir.display())))?;
        Ok(BlobWriter {
            out: Some(Sha256Writer::new(temp)),
            expected,
            blobs_dir: self.blobs_dir(),
        })
    }

    /// Store `data`, returning its digest.
    pub fn put(&self, data: &[u8]) -> Result<Digest, ContentError> {
        let digest = Digest::sha256(data);
        if self.exists(&digest) {
            return Ok(digest);
        }
        let mut w = self.ingest(Some(digest))?;
        w.write_all(data).map_err(io_err("write blob"))?;
        w.commit()
    }

    pub fn exists(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// The blob's whole content.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, ContentError> {
        let mut f = self.open_blob(digest)?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(io_err(format!("read blob {digest}")))?;
        Ok(buf)
    }

    /// The blob opened for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File, ContentError> {
        File::open(self.path(digest)).map_err(|e| self.not_found_or(digest, e, "open"))
    }

    /// The blob's size in bytes.
    pub fn size(&self, digest: &Digest) -> Result<u64, ContentError> {
        fs::metadata(self.path(digest))
            .map(|m| m.len())
            .map_err(|e| self.not_found_or(digest, e, "stat"))
    }

    /// Remove the blob; a missing blob is [`ContentError::NotFound`].
    pub fn delete(&self, digest: &Digest) -> Result<(), ContentError> {
        fs::remove_file(self.path(digest)).map_err(|e| self.not_found_or(digest, e, "delete"))
    }

    /// Every blob in the store (for garbage collection), in no particular order.
    pub fn list(&self) -> Result<Vec<Digest>, ContentError> {
        let dir = self.blobs_dir();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(format!("list {}", dir.display())))? {
            let entry = entry.map_err(io_err(format!("list {}", dir.display())))?;
            if let Some(d) = entry
                .file_name()
                .to_str()
                .and_then(|h| Digest::from_hex(h).ok())
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Remove every leftover under `ingest/` (call at startup, before any writer exists).
    /// Returns how many entries were removed.
    pub fn clean_ingest(&self) -> Result<usize, ContentError> {
        let dir = self.ingest_dir();
        let mut n = 0;
        for entry in fs::read_dir(&dir).map_err(io_err(format!("list {}", dir.display())))? {
            let entry = entry.map_err(io_err(format!("list {}", dir.display())))?;
            if crate::remove_entry(&entry)
                .map_err(io_err(format!("remove {}", entry.path().display())))?
            {
                n += 1;
            }
        }
        Ok(n)
    }

    fn not_found_or(&self, digest: &Digest, e: io::Error, what: &str) -> ContentError {
        if e.kind() == io::ErrorKind::NotFound {
            ContentError::NotFound(digest.clone())
        } else {
            ContentError::Io {
                context: format!("{what} blob {digest}"),
                source: e,
            }
        }
    }
}

/// A blob being written. `io::Write`; nothing is visible in the store until [`commit`].
///
/// [`commit`]: BlobWriter::commit
pub struct BlobWriter {
    // `None` only after commit; NamedTempFile removes the file when dropped.
    out: Option<Sha256Writer<NamedTempFile>>,
    expected: Option<Digest>,
    blobs_dir: PathBuf,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.out.as_ref().map_or(0, |w| w.written())
    }

    /// Verify and publish the blob. On a digest mismatch the temporary file is removed and
    /// [`ContentError::DigestMismatch`] returned; nothing is kept.
    pub fn commit(mut self) -> Result<Digest, ContentError> {
        let out = self.out.take().expect("BlobWriter used after commit");
        let (mut temp, actual, _size) = out.finish();
        if let Some(expected) = &self.expected {
            if *expected != actual {
                // `temp` is dropped here: the file is removed.
                return Err(ContentError::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        let dest = self.blobs_dir.join(actual.hex());
        if dest.is_file() {
            return Ok(actual);
        }
        temp.flush().map_err(io_err("flush blob"))?;
        temp.as_file().sync_all().map_err(io_err("fsync blob"))?;
        temp.persist(&dest)
            .map_err(|e| io_err(format!("rename blob into {}", dest.display()))(e.error))?;
        if let Ok(dir) = File::open(&self.blobs_dir) {
            // Make the rename durable; failure here loses nothing already verified.
            let _ = dir.sync_all();
        }
        Ok(actual)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.out {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("blob writer already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ContentStore) {
        let dir = tempfile::tempdir().unwrap();
        let cs = ContentStore::open(dir.path().join("content")).unwrap();
        (dir, cs)
    }

    fn ingest_entries(cs: &ContentStore) -> usize {
        fs::read_dir(cs.root().join("ingest")).unwrap().count()
    }

    #[test]
    fn put_read_size_delete() {
        let (_dir, cs) = store();
        let d = cs.put(b"hello").unwrap();
        assert_eq!(d, Digest::sha256(b"hello"));
        assert!(cs.exists(&d));
        assert_eq!(cs.read(&d).unwrap(), b"hello");
        assert_eq!(cs.size(&d).unwrap(), 5);
        assert_eq!(cs.path(&d), cs.root().join("blobs/sha256").join(d.hex()));
        let mut s = String::new();
        cs.open_blob(&d).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        assert_eq!(cs.list().unwrap(), vec![d.clone()]);
        // Idempotent.
        assert_eq!(cs.put(b"hello").unwrap(), d);
        cs.delete(&d).unwrap();
        assert!(!cs.exists(&d));
        assert!(matches!(cs.read(&d), Err(ContentError::NotFound(_))));
        assert!(matches!(cs.delete(&d), Err(ContentError::NotFound(_))));
        assert!(matches!(cs.size(&d), Err(ContentError::NotFound(_))));
        assert_eq!(ingest_entries(&cs), 0);
    }

    #[test]
    fn streaming_writer_verifies_expected_digest() {
        let (_dir, cs) = store();
        let want = Digest::sha256(b"abcdef");
        let mut w = cs.ingest(Some(want.clone())).unwrap();
        w.write_all(b"abc").unwrap();
        w.write_all(b"def").unwrap();
        assert_eq!(w.written(), 6);
        assert_eq!(w.commit().unwrap(), want);
        assert_eq!(cs.read(&want).unwrap(), b"abcdef");
        assert_eq!(ingest_entries(&cs), 0);
    }

    #[test]
    fn digest_mismatch_keeps_nothing() {
        let (_dir, cs) = store();
        let expected = Digest::sha256(b"the real thing");
        let mut w = cs.ingest(Some(expected.clone())).unwrap();
        w.write_all(b"something else").unwrap();
        match w.commit() {
            Err(ContentError::DigestMismatch {
                expected: e,
                actual,
            }) => {
                assert_eq!(e, expected);
                assert_eq!(actual, Digest::sha256(b"something else"));
            }
            other => panic!("expected a mismatch, got {other:?}"),
        }
        assert!(!cs.exists(&expected));
        assert!(!cs.exists(&Digest::sha256(b"something else")));
        assert_eq!(
            fs::read_dir(cs.root().join("blobs/sha256"))
                .unwrap()
                .count(),
            0
        );
        assert_eq!(ingest_entries(&cs), 0);
    }

    #[test]
    fn dropped_writer_removes_temp_and_clean_ingest_removes_leftovers() {
        let (_dir, cs) = store();
        let mut w = cs.ingest(None).unwrap();
        w.write_all(b"partial").unwrap();
        assert_eq!(ingest_entries(&cs), 1);
        drop(w);
        assert_eq!(ingest_entries(&cs), 0);

        // A crash leaves files and dirs behind.
        fs::write(cs.root().join("ingest/leftover"), b"x").unwrap();
        fs::create_dir(cs.root().join("ingest/dir")).unwrap();
        fs::write(cs.root().join("ingest/dir/f"), b"x").unwrap();
        assert_eq!(cs.clean_ingest().unwrap(), 2);
        assert_eq!(ingest_entries(&cs), 0);
    }

    #[test]
    fn commit_without_expected_and_of_existing_blob() {
        let (_dir, cs) = store();
        let mut w = cs.ingest(None).unwrap();
        w.write_all(b"data").unwrap();
        let d = w.commit().unwrap();
        assert_eq!(d, Digest::sha256(b"data"));
        let mut w = cs.ingest(None).unwrap();
        w.write_all(b"data").unwrap();
        assert_eq!(w.commit().unwrap(), d);
        assert_eq!(ingest_entries(&cs), 0);
        assert_eq!(cs.list().unwrap().len(), 1);
    }

    #[test]
    fn concurrent_writers_of_the_same_blob() {
        let (_dir, cs) = store();
        let data = vec![7u8; 1 << 20];
        let want = Digest::sha256(&data);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let mut w = cs.ingest(Some(want.clone())).unwrap();
                    for chunk in data.chunks(4096) {
                        w.write_all(chunk).unwrap();
                    }
                    assert_eq!(w.commit().unwrap(), want);
                });
            }
        });
        assert_eq!(cs.read(&want).unwrap(), data);
        assert_eq!(ingest_entries(&cs), 0);
    }
}
