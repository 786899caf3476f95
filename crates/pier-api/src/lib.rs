//! Engine API vocabulary shared by pierd and its clients: the API versions pier speaks and how a
//! client's version is checked ([`version`]), the classification of errors into HTTP statuses
//! ([`errors`]), the JSON progress messages of pull/import/push streams ([`progress`]) and the
//! response bodies whose exact JSON shape the docker CLI relies on ([`models`]), and docker's
//! wording of durations ([`units`]).
//!
//! Everything here is plain data: no I/O, no async.

pub mod errors;
pub mod models;
pub mod progress;
pub mod units;
pub mod version;

pub use errors::{ErrorKind, ErrorResponse};
pub use version::{ApiVersion, API_VERSION, MIN_API_VERSION};
