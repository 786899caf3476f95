//! Engine API vocabulary shared by pierd and tools: the API versions pier speaks.

/// The newest Docker Engine API version pier implements.
pub const API_VERSION: &str = "1.50";
/// The oldest API version pier accepts in a versioned path (`/v1.24/...`).
pub const MIN_API_VERSION: &str = "1.24";
