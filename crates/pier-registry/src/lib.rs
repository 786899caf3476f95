//! pier-registry — an async client for the OCI distribution protocol (pull, and push primitives).
//!
//! [`Client::resolve`] turns a reference into the image manifest for a platform (through an index
//! or manifest list when there is one), keeping raw bytes and verifying digests;
//! [`Client::fetch_blob`] streams blobs so the caller can hash and unpack while bytes arrive;
//! `blob_exists`, `push_blob`, `mount_blob` and `push_manifest` are what `docker push` needs.
//! Errors ([`RegistryError`]) print as docker prints them, because the CLI shows them to users.
//!
//! Modules: `client` (scheme policy, ping, auth and retries), `auth` (X-Registry-Auth, challenges),
//! `pull` (resolve, blobs), `push`, `manifest` (media types, parsing), `platform` (matching),
//! `error` (docker's wording).
//!
//! Why reqwest directly and not the `oci-client` crate: we need docker's exact error wording (Go
//! `url.Error` transport messages, errcode translation to "pull access denied" / "manifest for X not
//! found"), docker's scheme policy (loopback = plain http, insecure registries = https without
//! verification then http), credentials from `X-Registry-Auth` including identity and registry
//! tokens, and a token cache keyed by credentials. `oci-client` has its own reference, auth and
//! error types and would pull a second reqwest major version; the protocol itself is small.

pub mod auth;
pub mod client;
pub mod error;
pub mod manifest;
pub mod platform;
pub mod pull;
pub mod push;

pub use auth::AuthConfig;
pub use client::{Client, ClientOptions};
pub use error::{ErrorCode, ErrorList, RegistryError};
pub use manifest::Descriptor;
pub use platform::Platform;
pub use pull::{BlobStream, Resolved};
