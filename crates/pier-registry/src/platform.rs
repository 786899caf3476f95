//! Platforms (`os/architecture[/variant]`) and the matcher that picks an entry from a manifest
//! list or OCI index.
//!
//! Normalization follows containerd's `platforms` package: `x86_64`→`amd64`, `aarch64`→`arm64`
//! (variant `v8` is the default and compares equal to none), `arm` defaults to `v7`, `armhf`→`arm/v7`,
//! `armel`→`arm/v6`, `i386`→`386`. Selection is containerd's `platforms.Only`: the exact platform
//! first, then the ones it can also run (arm64/v8 runs arm/v7, v6, v5; arm/v7 runs v6, v5;
//! amd64/v3 runs v2 and v1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::RegistryError;

/// A target platform. `variant` is `None` when not specified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_string),
        }
    }

    /// The platform this process runs on (as Go names it: linux/amd64, linux/arm64/v8, ...).
    pub fn host() -> Platform {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
            "powerpc64" => ("ppc64", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            "loongarch64" => ("loong64", None),
            "mips64" => ("mips64", None),
            other => (other, None),
        };
        Platform::new(std::env::consts::OS, arch, variant)
    }

    /// containerd's `platforms.Normalize`.
    pub fn normalize(&self) -> Platform {
        let os = match self.os.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_string(),
            other => other.to_string(),
        };
        let arch = self.architecture.to_ascii_lowercase();
        let variant = self
            .variant
            .clone()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let (arch, variant) = match arch.as_str() {
            "i386" => ("386".to_string(), variant),
            "x86_64" | "x86-64" | "amd64" => {
                let v = if variant == "v1" {
                    String::new()
                } else {
                    variant
                };
                ("amd64".to_string(), v)
            }
            "aarch64" | "arm64" => {
                let v = match variant.as_str() {
                    "8" | "v8" | "v8.0" => String::new(),
                    "9" | "9.0" | "v9.0" => "v9".to_string(),
                    _ => variant,
                };
                ("arm64".to_string(), v)
            }
            "armhf" => ("arm".to_string(), "v7".to_string()),
            "armel" => ("arm".to_string(), "v6".to_string()),
            "arm" => {
                let v = match variant.as_str() {
                    "" | "7" => "v7".to_string(),
                    "5" | "6" | "8" => format!("v{variant}"),
                    _ => variant,
                };
                ("arm".to_string(), v)
            }
            _ => (arch, variant),
        };
        Platform {
            os,
            architecture: arch,
            variant: if variant.is_empty() {
                None
            } else {
                Some(variant)
            },
        }
    }

    /// The platforms an image may have for this one to run it, best first (containerd's `Only`).
    pub fn compatible(&self) -> Vec<Platform> {
        let p = self.normalize();
        let mut out = vec![p.clone()];
        let variant = p.variant.as_deref().unwrap_or("");
        let push = |out: &mut Vec<Platform>, arch: &str, v: &str| {
            out.push(Platform::new(&p.os, arch, Some(v)).normalize());
        };
        match p.architecture.as_str() {
            "arm64" if variant.is_empty() => {
                for v in ["v7", "v6", "v5"] {
                    push(&mut out, "arm", v);
                }
            }
            "arm" => {
                let lower: &[&str] = match variant {
                    "v8" => &["v7", "v6", "v5"],
                    "v7" => &["v6", "v5"],
                    "v6" => &["v5"],
                    _ => &[],
                };
                for v in lower {
                    push(&mut out, "arm", v);
                }
            }
            "amd64" => {
                let lower: &[&str] = match variant {
                    "v4" => &["v3", "v2", "v1"],
                    "v3" => &["v2", "v1"],
                    "v2" => &["v1"],
                    _ => &[],
                };
                for v in lower {
                    push(&mut out, "amd64", v);
                }
            }
            _ => {}
        }
        out
    }

    /// Whether an image for `other` is exactly this platform (after normalization).
    pub fn matches(&self, other: &Platform) -> bool {
        self.normalize() == other.normalize()
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = RegistryError;

    /// "linux", "linux/arm64", "linux/arm/v7" (os may be omitted: "arm64" means host os).
    /// The result is normalized (see [`Platform::normalize`]).
    fn from_str(s: &str) -> Result<Platform, RegistryError> {
        let bad = || {
            RegistryError::InvalidArgument(format!(
                "\"{s}\": unknown operating system or architecture: invalid argument"
            ))
        };
        let parts: Vec<&str> = s.split('/').collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || p.contains(char::is_whitespace))
        {
            return Err(bad());
        }
        let host = Platform::host();
        let p = match parts.as_slice() {
            [one] => {
                let known_os = ["linux", "windows", "darwin", "freebsd", "netbsd", "openbsd"];
                if known_os.contains(&one.to_ascii_lowercase().as_str()) {
                    Platform::new(one, &host.architecture, host.variant.as_deref())
                } else {
                    Platform::new(&host.os, one, None)
                }
            }
            [os, arch] => Platform::new(os, arch, None),
            [os, arch, variant] => Platform::new(os, arch, Some(variant)),
            _ => return Err(bad()),
        };
        // Normalized, as containerd's platforms.Parse: "linux/aarch64" is "linux/arm64", and
        // error messages show it that way.
        Ok(p.normalize())
    }
}

/// Pick the index among `candidates` that best matches `want`; `None` when nothing runs.
pub fn select<'a>(
    want: &Platform,
    candidates: impl IntoIterator<Item = &'a Platform>,
) -> Option<usize> {
    let normalized: Vec<Platform> = candidates.into_iter().map(Platform::normalize).collect();
    for wanted in want.compatible() {
        if let Some(i) = normalized.iter().position(|c| *c == wanted) {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(p("linux/arm64/v8").to_string(), "linux/arm64");
        assert_eq!(p("linux/aarch64").to_string(), "linux/arm64");
        assert_eq!(p("linux/arm").to_string(), "linux/arm/v7");
        assert_eq!(
            Platform::new("linux", "arm64", Some("v8")).to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(p("linux/amd64").variant, None);
        assert_eq!(p("Linux/AMD64").to_string(), "linux/amd64");
        assert_eq!(p("linux").os, "linux");
        assert!("linux//v7".parse::<Platform>().is_err());
        assert!("a/b/c/d".parse::<Platform>().is_err());
    }

    #[test]
    fn normalization_like_containerd() {
        // Unnormalized input, as an index entry may carry it.
        let raw = |s: &str| {
            let parts: Vec<&str> = s.split('/').collect();
            Platform::new(parts[0], parts[1], parts.get(2).copied())
        };
        assert_eq!(raw("linux/x86_64").normalize(), p("linux/amd64"));
        assert_eq!(raw("linux/aarch64").normalize(), p("linux/arm64"));
        assert_eq!(raw("linux/arm64/v8").normalize(), p("linux/arm64"));
        assert_eq!(raw("linux/arm").normalize(), raw("linux/arm/v7"));
        assert_eq!(raw("linux/armhf").normalize(), raw("linux/arm/v7"));
        assert_eq!(raw("linux/armel").normalize(), raw("linux/arm/v6"));
        assert_eq!(raw("linux/i386").normalize(), raw("linux/386"));
        assert_eq!(raw("linux/amd64/v1").normalize(), raw("linux/amd64"));
        assert!(raw("linux/arm64/v8").matches(&raw("linux/arm64")));
        assert!(!raw("linux/arm/v7").matches(&raw("linux/arm/v6")));
    }

    #[test]
    fn selection_prefers_exact_then_compatible() {
        let list = [p("linux/arm/v6"), p("linux/arm64"), p("linux/amd64")];
        assert_eq!(select(&p("linux/amd64"), &list), Some(2));
        assert_eq!(select(&p("linux/arm64/v8"), &list), Some(1));
        assert_eq!(select(&p("linux/arm/v7"), &list), Some(0)); // v7 runs v6
        assert_eq!(select(&p("linux/s390x"), &list), None);
        assert_eq!(select(&p("windows/amd64"), &list), None);
        let only32 = [p("linux/arm/v7")];
        assert_eq!(select(&p("linux/arm64"), &only32), Some(0));
        let v1 = [p("linux/amd64/v2"), p("linux/amd64")];
        assert_eq!(select(&p("linux/amd64"), &v1), Some(1));
    }

    #[test]
    fn host_is_sane() {
        let h = Platform::host();
        assert_eq!(h.os, "linux");
        assert!(!h.architecture.is_empty());
    }
}
