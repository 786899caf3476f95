//! Image references, parsed exactly as docker's `distribution/reference` does.
//!
//! [`parse_normalized`] is `ParseNormalizedNamed`: a familiar name such as `busybox` becomes
//! `docker.io/library/busybox` (no tag is added; [`Reference::with_default_tag`] does that).
//! The first path component is a registry domain when it contains `.` or `:`, is `localhost`, or
//! has upper-case letters; otherwise the domain is `docker.io`, and a single-component name on
//! Docker Hub gets `library/`. `index.docker.io` is canonicalized to `docker.io`. Error messages
//! are docker's, word for word, because the CLI shows them to users.
//!
//! The grammar (from `regexp.go`):
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [domain-and-port "/"] path-component ["/" path-component]*
//! path-comp  := [a-z0-9]+ ((?:[._]|__|[-]+) [a-z0-9]+)*
//! tag        := [\w][\w.-]{0,127}
//! digest     := algorithm ":" [[:xdigit:]]{32,}   (then validated: only sha256 is supported)
//! ```

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::digest::{Digest, DigestError};

/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag docker assumes when none is given.
pub const DEFAULT_TAG: &str = "latest";
/// Longest allowed repository path (without the domain).
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a string is not a valid reference; Display is docker's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    NotLowercase(String),
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    #[error("repository name must have at least one component")]
    NameEmpty,
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    IdentifierAsName(String),
    #[error("invalid tag format")]
    InvalidTag,
    #[error(transparent)]
    Digest(#[from] DigestError),
}

// The building blocks of regexp.go. `\w` is spelled out: Rust's is Unicode-aware, Go's is ASCII.
const ALNUM: &str = "[a-z0-9]+";
const SEPARATOR: &str = "(?:[._]|__|[-]+)";
const DOMAIN_NAME_COMPONENT: &str = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const OPTIONAL_PORT: &str = "(?::[0-9]+)?";
const TAG: &str = "[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
const DIGEST: &str = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}";
const IPV6: &str = r"\[(?:[a-fA-F0-9:]+)\]";

fn domain_and_port() -> String {
    let domain_name = format!("{DOMAIN_NAME_COMPONENT}(?:\\.{DOMAIN_NAME_COMPONENT})*");
    format!("(?:{domain_name}|{IPV6}){OPTIONAL_PORT}")
}

fn remote_name() -> String {
    let path_component = format!("{ALNUM}(?:{SEPARATOR}{ALNUM})*");
    format!("{path_component}(?:/{path_component})*")
}

/// `^(name)(?::(tag))?(?:@(digest))?$`
static REFERENCE_RE: LazyLock<Regex> = LazyLock::new(|| {
    let name = format!("(?:{}/)?{}", domain_and_port(), remote_name());
    Regex::new(&format!("^({name})(?::({TAG}))?(?:@({DIGEST}))?$")).expect("reference regexp")
});

/// `^(?:(domain)/)?(remote)$`
static ANCHORED_NAME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        "^(?:({})/)?({})$",
        domain_and_port(),
        remote_name()
    ))
    .expect("name regexp")
});

static TAG_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^{TAG}$")).expect("tag regexp"));

fn is_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A parsed image reference: registry domain, repository path, optional tag and digest.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// docker's `ParseNormalizedNamed`: `busybox` → `docker.io/library/busybox`.
pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
    if is_identifier(s) {
        return Err(ReferenceError::IdentifierAsName(s.to_owned()));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote = match remainder.find(':') {
        Some(i) => &remainder[..i],
        None => &remainder[..],
    };
    if remote.to_lowercase() != remote {
        return Err(ReferenceError::NotLowercase(remote.to_owned()));
    }
    parse(&format!("{domain}/{remainder}"))
}

/// docker's `ParseDockerRef`: normalized, `latest` added when there is neither tag nor digest,
/// and the tag dropped when both a tag and a digest are given (the digest wins).
pub fn parse_docker_ref(s: &str) -> Result<Reference, ReferenceError> {
    let mut r = parse_normalized(s)?;
    if r.digest.is_some() {
        r.tag = None;
        Ok(r)
    } else {
        Ok(r.with_default_tag())
    }
}

/// docker's `Parse`: the grammar only, no normalization (the domain may be empty).
pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
    if s.is_empty() {
        return Err(ReferenceError::NameEmpty);
    }
    let Some(caps) = REFERENCE_RE.captures(s) else {
        let lower = s.to_lowercase();
        if lower != s && REFERENCE_RE.is_match(&lower) {
            return Err(ReferenceError::NameContainsUppercase);
        }
        return Err(ReferenceError::InvalidFormat);
    };
    let name = caps.get(1).map_or("", |m| m.as_str());
    let (domain, path) = match ANCHORED_NAME_RE.captures(name) {
        Some(n) => (
            n.get(1).map_or("", |m| m.as_str()).to_owned(),
            n.get(2).map_or("", |m| m.as_str()).to_owned(),
        ),
        None => (String::new(), name.to_owned()),
    };
    if path.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::NameTooLong);
    }
    let tag = caps.get(2).map(|m| m.as_str().to_owned());
    let digest = match caps.get(3) {
        Some(m) => Some(m.as_str().parse::<Digest>()?),
        None => None,
    };
    Ok(Reference {
        domain,
        path,
        tag,
        digest,
    })
}

/// Split a familiar name into domain and remainder (path plus tag/digest), docker's way.
fn split_docker_domain(name: &str) -> (String, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        return (
            DEFAULT_DOMAIN.to_owned(),
            format!("{OFFICIAL_REPO_PREFIX}{name}"),
        );
    };
    let (domain, mut remote) = if maybe_domain == "localhost" {
        (maybe_domain, maybe_remote.to_owned())
    } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, maybe_remote.to_owned())
    } else if maybe_domain.contains(['.', ':']) || maybe_domain.to_lowercase() != maybe_domain {
        (maybe_domain, maybe_remote.to_owned())
    } else {
        (DEFAULT_DOMAIN, name.to_owned())
    };
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        remote = format!("{OFFICIAL_REPO_PREFIX}{remote}");
    }
    (domain.to_owned(), remote)
}

impl Reference {
    /// The registry domain ("docker.io", "localhost:5000"); empty only from [`parse`].
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry ("library/busybox").
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The full repository name: "docker.io/library/busybox".
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The name as docker shows it: "busybox", "user/app", "localhost:5000/app".
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_owned(),
            _ => self.path.clone(),
        }
    }

    /// This reference with tag "latest" when it has neither a tag nor a digest.
    pub fn with_default_tag(&self) -> Reference {
        let mut r = self.clone();
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_owned());
        }
        r
    }

    /// This reference with `tag` instead of its tag (validated against the tag grammar).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !TAG_RE.is_match(tag) {
            return Err(ReferenceError::InvalidTag);
        }
        let mut r = self.clone();
        r.tag = Some(tag.to_owned());
        Ok(r)
    }

    /// This reference with `digest` instead of its digest.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        let mut r = self.clone();
        r.digest = Some(digest);
        r
    }

    /// The bare repository (no tag, no digest).
    pub fn repository(&self) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    /// "busybox:latest", "user/app@sha256:…" — docker's `FamiliarString`.
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        self.push_suffix(&mut s);
        s
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_str());
        }
    }
}

impl fmt::Display for Reference {
    /// The full form: "docker.io/library/busybox:latest".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;

    /// Same as [`parse_normalized`].
    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        parse_normalized(s)
    }
}

#[cfg(test)]
mod tests;
