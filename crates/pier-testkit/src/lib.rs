//! pier-testkit: what the end-to-end tests and benchmarks need to drive a real pierd.
//!
//! - [`Registry`]: a throwaway docker-registry on a free loopback port, with a minimal pusher.
//! - [`fixtures`]: images built from scratch (busybox, whiteouts, schema2/OCI, multi-platform,
//!   gzip/zstd, large) pushed to a Registry, each described by an [`Image`].
//! - [`Daemon`]: a pierd with its own dirs and socket; [`docker`] / [`pier`] CLIs pointed at it.
//! - [`RefDockerd`]: the reference engine (real dockerd + containerd), confined, for comparisons.
//! - [`compare`]: docker-vs-pier side-by-side runs against one daemon ([`compare::Cmp`]).
//! - [`SlowProxy`]: a throttling TCP proxy, to interrupt transfers on purpose.
//! - [`http`]: a tiny blocking HTTP/1.1 client (TCP or unix socket) for raw API calls.
//! - [`bundle`]: busybox OCI bundles on disk for the runtime and shim tests.
//!
//! Everything here is synchronous std code and cleans up what it creates on drop (processes
//! by their PID only, directories it made).

pub mod bundle;
pub mod cli;
pub mod compare;
pub mod daemon;
pub mod fixtures;
pub mod http;
pub mod layer;
pub mod proxy;
pub mod refdockerd;
pub mod registry;

pub use cli::{docker, pier, run, Run, SKIP_DOCKER};
pub use daemon::{skip_reason, Daemon, DaemonOpts};
pub use fixtures::{busybox_rootfs_tar, Format, Image};
pub use layer::{Compression, Entry, LayerBuilder};
pub use proxy::SlowProxy;
pub use refdockerd::{refdockerd_skip_reason, RefDockerd};
pub use registry::{free_port, sha256_digest, Registry};
