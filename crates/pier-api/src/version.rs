//! API versions: pier implements Engine API [`API_VERSION`] and accepts requests for any version
//! from [`MIN_API_VERSION`] up to it, in a `/vX.Y/` path prefix, as dockerd does. A request without a
//! prefix is served as the current version. A version outside that range is refused with dockerd's
//! words ([`VersionError`]).

use std::fmt;
use std::str::FromStr;

/// The newest Docker Engine API version pier implements.
pub const API_VERSION: &str = "1.50";
/// The oldest API version pier accepts in a versioned path (`/v1.24/...`).
pub const MIN_API_VERSION: &str = "1.24";

/// A `major.minor` Engine API version, ordered numerically (1.9 < 1.24 < 1.50).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

impl ApiVersion {
    pub const CURRENT: ApiVersion = ApiVersion {
        major: 1,
        minor: 50,
    };
    pub const MIN: ApiVersion = ApiVersion {
        major: 1,
        minor: 24,
    };

    pub const fn new(major: u32, minor: u32) -> Self {
        ApiVersion { major, minor }
    }

    /// Accepts `v` when pier serves it; otherwise dockerd's error for a too new or too old client.
    pub fn check(self) -> Result<ApiVersion, VersionError> {
        if self > Self::CURRENT {
            Err(VersionError::TooNew(self))
        } else if self < Self::MIN {
            Err(VersionError::TooOld(self))
        } else {
            Ok(self)
        }
    }

    /// The version both sides speak: the lower of the client's and pier's.
    pub fn negotiate(client: ApiVersion) -> ApiVersion {
        client.min(Self::CURRENT)
    }

    /// True when this version is older than `major.minor` (for version-dependent response shapes).
    pub fn less_than(self, major: u32, minor: u32) -> bool {
        self < ApiVersion::new(major, minor)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for ApiVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || VersionError::Malformed(s.to_string());
        let (major, minor) = s.split_once('.').ok_or_else(bad)?;
        let num = |p: &str| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                Err(bad())
            } else {
                p.parse::<u32>().map_err(|_| bad())
            }
        };
        Ok(ApiVersion {
            major: num(major)?,
            minor: num(minor)?,
        })
    }
}

/// Why a requested API version is refused (Display is dockerd's message; the status is 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("client version {0} is too new. Maximum supported API version is {API_VERSION}")]
    TooNew(ApiVersion),
    #[error("client version {0} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version")]
    TooOld(ApiVersion),
    #[error("invalid API version: {0}")]
    Malformed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_agree() {
        assert_eq!(ApiVersion::CURRENT.to_string(), API_VERSION);
        assert_eq!(ApiVersion::MIN.to_string(), MIN_API_VERSION);
    }

    #[test]
    fn parses_and_orders_numerically() {
        let v: ApiVersion = "1.9".parse().unwrap();
        assert!(v < "1.24".parse().unwrap());
        assert!("1.50".parse::<ApiVersion>().unwrap() > "1.41".parse().unwrap());
        assert!("1".parse::<ApiVersion>().is_err());
        assert!("1.x".parse::<ApiVersion>().is_err());
        assert!("".parse::<ApiVersion>().is_err());
    }

    #[test]
    fn check_uses_dockerd_words() {
        let e = "1.99".parse::<ApiVersion>().unwrap().check().unwrap_err();
        assert_eq!(
            e.to_string(),
            "client version 1.99 is too new. Maximum supported API version is 1.50"
        );
        let e = "1.12".parse::<ApiVersion>().unwrap().check().unwrap_err();
        assert!(e
            .to_string()
            .starts_with("client version 1.12 is too old. Minimum supported API version is 1.24"));
        assert!("1.41".parse::<ApiVersion>().unwrap().check().is_ok());
        assert!(ApiVersion::new(1, 41).less_than(1, 43));
        assert_eq!(
            ApiVersion::negotiate(ApiVersion::new(1, 51)),
            ApiVersion::CURRENT
        );
    }
}
