//! pier-image: everything about images that needs no network and no async.
//!
//! - [`digest`]: sha256 digests and hashing adapters.
//! - [`reference`]: docker's image reference grammar and normalization (`busybox` →
//!   `docker.io/library/busybox`), with docker's error messages.
//! - [`content`]: the content store, blobs by digest, written ingest-then-commit.
//! - [`layer`]: safe application of (compressed) layer tars into overlayfs-form directories.
//! - [`snapshot`]: layers unpacked once each, keyed by chain ID, as overlay lowerdirs.
//!
//! Everything here is synchronous; the daemon calls it from `spawn_blocking`.

pub mod content;
pub mod digest;
pub mod layer;
pub mod reference;
pub mod snapshot;

/// Removes a directory entry, a tree or a file alike. `Ok(false)` when it was already gone (a
/// concurrent cleaner got there first), so crash-leftover sweeps count only what they removed.
pub(crate) fn remove_entry(entry: &std::fs::DirEntry) -> std::io::Result<bool> {
    let path = entry.path();
    let res = if entry.file_type().is_ok_and(|t| t.is_dir()) {
        std::fs::remove_dir_all(&path)
    } else {
        std::fs::remove_file(&path)
    };
    match res {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

pub use content::{BlobWriter, ContentError, ContentStore};
pub use digest::{Digest, DigestError, Sha256Reader, Sha256Writer};
pub use layer::{apply_layer, write_layer, Applied, Compression, LayerError};
pub use reference::{parse_normalized, Reference, ReferenceError};
pub use snapshot::{chain_ids, SnapshotError, Snapshots};

/// Any pier-image error, for callers that do not need to tell the modules apart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Content(#[from] ContentError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}
