//! End-to-end image tests: pierd from target/release, fixtures pushed to a docker-registry on
//! loopback, and the docker CLI, the pier CLI and raw API calls as clients. Each test starts
//! its own registry and daemon, so they run in parallel; missing prerequisites print `SKIP:`.
//!
//! - `docker_cli`: what `docker pull/images/image inspect/tag/rmi/import/version/info` show.
//! - `pier_cli`: the same through `pier`, compared with docker's output.
//! - `formats`: whiteouts stacked by overlay, schema2 vs OCI, manifest lists, zstd.
//! - `failures`: bad references, unknown images, registry down, corrupt blobs, kill -9 mid-pull.

mod docker_cli;
mod failures;
mod formats;
mod pier_cli;
