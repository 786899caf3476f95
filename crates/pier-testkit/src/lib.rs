//! pier-testkit: what the end-to-end tests and benchmarks need to drive a real pierd.
//!
//! - [`Registry`]: a throwaway docker-registry on a free loopback port, with a minimal pusher.
//! - [`http`]: a tiny blocking HTTP/1.1 client (TCP or unix socket) for raw API calls.
//!
//! Everything here is synchronous std code and cleans up what it creates on drop (processes
//! by their PID only, directories it made).

pub mod http;
pub mod registry;

pub use registry::{free_port, sha256_digest, Registry};
