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
