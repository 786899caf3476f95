//! Errors of the registry client, worded as docker words them.
//!
//! A registry answers failures with an "errcode" body (`{"errors":[{"code","message","detail"}]}`);
//! [`ErrorList`] keeps those and prints them as docker's `errcode.Errors` do
//! (`manifest unknown: manifest unknown`). A `WWW-Authenticate: Bearer error="insufficient_scope"`
//! on a 4xx becomes a leading `denied: requested access to the resource is denied`, as the
//! distribution client does, which is what makes docker say "pull access denied". Transport failures
//! print like Go's `*url.Error`: `Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect:
//! connection refused`.

use std::fmt;

use pier_image::digest::Digest;

/// One registry error code with its message (`code` is the wire form, e.g. `MANIFEST_UNKNOWN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: String,
    pub message: String,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // docker: strings.ToLower(strings.ReplaceAll(code, "_", " ")) + ": " + message
        let code = self.code.replace('_', " ").to_lowercase();
        if self.message.is_empty() {
            write!(f, "{code}")
        } else {
            write!(f, "{code}: {}", self.message)
        }
    }
}

/// What a registry said when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorList {
    /// HTTP status of the answer.
    pub status: u16,
    /// The errcodes (may be empty when the body was not an errcode document).
    pub errors: Vec<ErrorCode>,
    /// Set when the body could not be understood: docker's "error parsing HTTP ... response body".
    pub unparsed: Option<String>,
}

impl ErrorList {
    /// The first error code, if any (docker decides on the first one).
    pub fn first_code(&self) -> Option<&str> {
        self.errors.first().map(|e| e.code.as_str())
    }
}

impl fmt::Display for ErrorList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.as_slice() {
            [] => match &self.unparsed {
                Some(text) => f.write_str(text),
                None => write!(
                    f,
                    "received unexpected HTTP status: {}",
                    status_line(self.status)
                ),
            },
            [one] => write!(f, "{one}"),
            many => {
                f.write_str("errors:\n")?;
                for e in many {
                    writeln!(f, "{e}")?;
                }
                Ok(())
            }
        }
    }
}

/// "404 Not Found", as Go's `resp.Status`.
pub(crate) fn status_line(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The tag or digest does not exist in the repository.
    #[error("manifest for {reference} not found: {cause}")]
    ManifestNotFound { reference: String, cause: ErrorList },
    /// The registry does not know the repository (NAME_UNKNOWN).
    #[error("repository {name} not found: {cause}")]
    RepositoryNotFound { name: String, cause: ErrorList },
    /// Access denied (or no credentials given where some are needed).
    #[error("pull access denied for {name}, repository does not exist or may require 'docker login': {cause}")]
    PullAccessDenied { name: String, cause: ErrorList },
    /// Any other refusal by the registry, printed as docker prints errcodes.
    #[error("{cause}")]
    Registry { cause: ErrorList },
    /// The request did not get an HTTP answer (connection refused, TLS, garbage, ...).
    #[error("{method} \"{url}\": {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
    },
    /// The manifest list / index has no entry for the wanted platform.
    #[error("no matching manifest for {platform} in the manifest list entries")]
    NoMatchingManifest { platform: String },
    /// Content does not hash to the digest it was asked for / announced with.
    #[error("{what} verification failed for digest {expected}: content has digest {actual}")]
    DigestMismatch {
        what: &'static str,
        expected: Digest,
        actual: Digest,
    },
    /// A blob stream ended early or ran past its announced size.
    #[error("blob {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    /// Docker schema 1 manifests are not supported (docker removed them too).
    #[error("Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of {reference} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/")]
    Schema1 { reference: String },
    /// A manifest media type we do not know.
    #[error("unsupported manifest media type: {0}")]
    UnsupportedMediaType(String),
    /// The manifest (or index) does not parse or lacks what it must have.
    #[error("invalid manifest for {reference}: {reason}")]
    InvalidManifest { reference: String, reason: String },
    /// The registry answered something the protocol does not allow.
    #[error("{0}")]
    Protocol(String),
    /// Bad input from our caller (auth header, platform string, ...).
    #[error("{0}")]
    InvalidArgument(String),
}

impl RegistryError {
    /// The HTTP status the registry answered with, when this is a refusal by the registry.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::ManifestNotFound { cause, .. }
            | RegistryError::RepositoryNotFound { cause, .. }
            | RegistryError::PullAccessDenied { cause, .. }
            | RegistryError::Registry { cause } => Some(cause.status),
            _ => None,
        }
    }

    /// True for "does not exist" answers (docker maps these to 404).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            RegistryError::ManifestNotFound { .. }
                | RegistryError::RepositoryNotFound { .. }
                | RegistryError::PullAccessDenied { .. }
                | RegistryError::NoMatchingManifest { .. }
        )
    }

    pub(crate) fn transport(method: &reqwest::Method, url: &str, err: &reqwest::Error) -> Self {
        RegistryError::Transport {
            method: go_method(method),
            url: url.to_string(),
            message: describe_transport(url, err),
        }
    }
}

/// Go prints `Get`, `Head`, `Post`, `Put` in url.Error.
fn go_method(m: &reqwest::Method) -> String {
    let s = m.as_str();
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        if i == 0 {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Render a reqwest failure the way Go's net/http would.
fn describe_transport(url: &str, err: &reqwest::Error) -> String {
    let addr = reqwest::Url::parse(url)
        .ok()
        .map(|u| {
            let host = u.host_str().unwrap_or_default().to_string();
            let port = u.port_or_known_default().unwrap_or(0);
            if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        })
        .unwrap_or_default();
    // Walk the source chain for the io::Error that tells what happened.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut chain = Vec::new();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            let what = match io.kind() {
                ConnectionRefused => Some("connect: connection refused"),
                ConnectionReset => Some("read: connection reset by peer"),
                TimedOut => Some("i/o timeout"),
                HostUnreachable => Some("connect: no route to host"),
                NetworkUnreachable => Some("connect: network is unreachable"),
                _ => None,
            };
            if let Some(what) = what {
                return format!("dial tcp {addr}: {what}");
            }
        }
        let text = e.to_string();
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        source = e.source();
    }
    if err.is_timeout() {
        return format!("dial tcp {addr}: i/o timeout");
    }
    // reqwest's own "error sending request for url (...)" repeats the URL, and hyper-util's
    // "client error (SendRequest)" says nothing: keep what lies below them.
    let joined = chain
        .iter()
        .skip(1)
        .filter(|t| !t.starts_with("client error ("))
        .cloned()
        .collect::<Vec<_>>()
        .join(": ");
    let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(&addr);
    if joined.contains("dns error") {
        return format!("dial tcp: lookup {host}: no such host");
    }
    if joined.contains("UnknownIssuer") {
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
            .to_string();
    }
    if joined.contains("NotValidForName") {
        return format!(
            "tls: failed to verify certificate: x509: certificate is not valid for {host}"
        );
    }
    if joined.contains("Expired") || joined.contains("NotValidYet") {
        return "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"
            .to_string();
    }
    if joined.contains("connection closed before message completed") {
        return "EOF".to_string();
    }
    if joined.contains(" parsed") || joined.contains("invalid HTTP") {
        return format!(
            "net/http: HTTP/1.x transport connection broken: malformed HTTP response ({joined})"
        );
    }
    if joined.contains("InvalidContentType") || joined.contains("received corrupt message") {
        return "http: server gave HTTP response to HTTPS client".to_string();
    }
    if joined.is_empty() {
        chain.join(": ")
    } else {
        joined
    }
}
