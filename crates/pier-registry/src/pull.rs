//! Pull: resolve a reference to an image manifest for one platform, and fetch blobs.
//!
//! [`Client::resolve`] GETs the manifest with an Accept header for the four supported kinds, keeps
//! the raw bytes, and checks them against the digest asked for (by-digest references) and against
//! `Docker-Content-Digest`. An index or manifest list is narrowed to the requested platform (see
//! `platform.rs`) and that child is fetched by digest and verified the same way. Schema 1 is refused.
//! [`Client::fetch_blob`] streams a blob (redirects followed) and checks its length; the caller
//! hashes while writing. [`Client::fetch_blob_bytes`] is for small blobs (configs) and verifies.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use pier_image::digest::Digest;
use pier_image::reference::Reference;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::{Method, StatusCode};

use crate::auth::AuthConfig;
use crate::client::{error_list, read_limited, registry_host, Client, Endpoint};
use crate::error::{ErrorList, RegistryError};
use crate::manifest::{self, Descriptor, Kind};
use crate::platform::{self, Platform};

/// Manifests larger than this are refused (containerd uses the same bound).
const MAX_MANIFEST: usize = 4 << 20;
/// `fetch_blob_bytes` is for configs; refuse anything bigger than this.
const MAX_SMALL_BLOB: u64 = 64 << 20;

/// What a reference resolved to for one platform.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Digest of what the tag points to (the index if there is one): docker's RepoDigests entry.
    pub digest: Digest,
    /// Digest of the platform's image manifest.
    pub manifest_digest: Digest,
    /// The image manifest, byte for byte as served.
    pub manifest: Vec<u8>,
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    /// The index / manifest list (media type, bytes) when the tag pointed to one.
    pub index: Option<(String, Vec<u8>)>,
}

/// A blob being downloaded: a stream of chunks plus the size it must have.
pub struct BlobStream {
    /// The expected size (from the descriptor).
    pub size: u64,
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, RegistryError>> + Send>>,
}

impl BlobStream {
    /// `size`: bytes the body must have; the first `skip` of them are dropped.
    fn new(
        digest: Digest,
        size: u64,
        skip: u64,
        method: Method,
        url: String,
        resp: reqwest::Response,
    ) -> Self {
        let mut seen: u64 = 0;
        let mut done = false;
        let mut body = resp.bytes_stream();
        let stream = futures::stream::poll_fn(move |cx| {
            if done {
                return Poll::Ready(None);
            }
            match body.poll_next_unpin(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    seen += chunk.len() as u64;
                    if seen > size {
                        done = true;
                        return Poll::Ready(Some(Err(RegistryError::SizeMismatch {
                            digest: digest.clone(),
                            expected: size,
                            actual: seen,
                        })));
                    }
                    let before = seen - chunk.len() as u64;
                    if before < skip {
                        let drop = (skip - before).min(chunk.len() as u64) as usize;
                        let rest = chunk.slice(drop..);
                        if rest.is_empty() {
                            cx.waker().wake_by_ref();
                            return Poll::Pending;
                        }
                        return Poll::Ready(Some(Ok(rest)));
                    }
                    Poll::Ready(Some(Ok(chunk)))
                }
                Poll::Ready(Some(Err(e))) => {
                    done = true;
                    Poll::Ready(Some(Err(RegistryError::transport(&method, &url, &e))))
                }
                Poll::Ready(None) => {
                    done = true;
                    if seen != size {
                        return Poll::Ready(Some(Err(RegistryError::SizeMismatch {
                            digest: digest.clone(),
                            expected: size,
                            actual: seen,
                        })));
                    }
                    Poll::Ready(None)
                }
            }
        });
        BlobStream {
            size: size - skip,
            inner: Box::pin(stream),
        }
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes, RegistryError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("size", &self.size)
            .finish()
    }
}

/// The tag or digest string used in URLs.
fn target(r: &Reference) -> String {
    match (r.digest(), r.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => pier_image::reference::DEFAULT_TAG.to_string(),
    }
}

pub(crate) fn pull_scope(r: &Reference) -> Vec<String> {
    vec![format!("repository:{}:pull", r.path())]
}

/// Map a refused pull request to docker's words.
fn translate_pull(r: &Reference, mut cause: ErrorList, auth: &AuthConfig) -> RegistryError {
    let code = cause.first_code().map(str::to_string);
    if matches!(
        code.as_deref(),
        Some("DENIED" | "UNAUTHORIZED" | "MANIFEST_UNKNOWN" | "NAME_UNKNOWN")
    ) {
        // docker decides on, and prints, the first error only.
        cause.errors.truncate(1);
    }
    match code.as_deref() {
        Some("DENIED") => RegistryError::PullAccessDenied {
            name: r.familiar_name(),
            cause,
        },
        Some("UNAUTHORIZED") if auth.is_anonymous() => RegistryError::PullAccessDenied {
            name: r.familiar_name(),
            cause,
        },
        Some("MANIFEST_UNKNOWN") => RegistryError::ManifestNotFound {
            reference: r.with_default_tag().familiar_string(),
            cause,
        },
        Some("NAME_UNKNOWN") => RegistryError::RepositoryNotFound {
            name: r.familiar_name(),
            cause,
        },
        _ => RegistryError::Registry { cause },
    }
}

impl Client {
    /// The endpoint of `r`'s registry (pull and push); a reference without a domain is refused.
    pub(crate) async fn repo_endpoint(
        &self,
        r: &Reference,
    ) -> Result<std::sync::Arc<Endpoint>, RegistryError> {
        if r.domain().is_empty() {
            return Err(RegistryError::InvalidArgument(format!(
                "reference {r} has no registry domain"
            )));
        }
        self.endpoint(registry_host(r.domain())).await
    }

    /// GET a manifest by tag or digest; returns (bytes, media type header, digest header).
    async fn get_manifest(
        &self,
        ep: &Endpoint,
        r: &Reference,
        reference: &str,
        auth: &AuthConfig,
    ) -> Result<(Vec<u8>, Option<String>, Option<String>), RegistryError> {
        let path = format!("/v2/{}/manifests/{}", r.path(), reference);
        let req = self
            .request(ep, Method::GET, &path)?
            .header(ACCEPT, manifest::ACCEPT)
            .build()
            .map_err(|e| RegistryError::InvalidArgument(format!("request: {e}")))?;
        let url = req.url().to_string();
        let resp = self.send(ep, &pull_scope(r), auth, req).await?;
        if !resp.status().is_success() {
            return Err(translate_pull(r, error_list(resp).await, auth));
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let media_type = header(CONTENT_TYPE.as_str());
        let digest = header("docker-content-digest");
        let bytes = read_limited(resp, MAX_MANIFEST, &Method::GET, &url).await?;
        Ok((bytes, media_type, digest))
    }

    /// Fetch a manifest and check its bytes against `expected` and the registry's digest header.
    async fn get_verified(
        &self,
        ep: &Endpoint,
        r: &Reference,
        reference: &str,
        expected: Option<&Digest>,
        auth: &AuthConfig,
    ) -> Result<(Vec<u8>, Option<String>, Digest), RegistryError> {
        let (bytes, media_type, header_digest) = self.get_manifest(ep, r, reference, auth).await?;
        let actual = Digest::sha256(&bytes);
        if let Some(expected) = expected {
            if *expected != actual {
                return Err(RegistryError::DigestMismatch {
                    what: "manifest",
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        if let Some(h) = header_digest {
            // Only a sha256 header can be checked; other algorithms are ignored as docker does.
            if let Ok(announced) = h.trim().parse::<Digest>() {
                if announced != actual {
                    return Err(RegistryError::DigestMismatch {
                        what: "manifest",
                        expected: announced,
                        actual,
                    });
                }
            }
        }
        Ok((bytes, media_type, actual))
    }

    /// Resolve `r` (tag or digest) to the image manifest for `platform`.
    pub async fn resolve(
        &self,
        r: &Reference,
        platform: &Platform,
        auth: &AuthConfig,
    ) -> Result<Resolved, RegistryError> {
        let ep = self.repo_endpoint(r).await?;
        let reference = target(r);
        let shown = r.with_default_tag().familiar_string();
        let invalid = |reason: String| RegistryError::InvalidManifest {
            reference: shown.clone(),
            reason,
        };
        let (bytes, media_type, digest) = self
            .get_verified(&ep, r, &reference, r.digest(), auth)
            .await?;
        let (kind, mt) = manifest::kind_of(media_type.as_deref(), &bytes).map_err(invalid)?;
        let (index, manifest_bytes, manifest_mt, manifest_digest) = match kind {
            Kind::Schema1 => return Err(RegistryError::Schema1 { reference: shown }),
            Kind::Image => (None, bytes, mt, digest.clone()),
            Kind::Index => {
                let idx = manifest::parse_index(&bytes).map_err(invalid)?;
                let platforms: Vec<Platform> = idx
                    .manifests
                    .iter()
                    .map(|m| {
                        m.platform
                            .clone()
                            .unwrap_or_else(|| Platform::new("unknown", "unknown", None))
                    })
                    .collect();
                // containerd also takes entries without a platform; use them only as a last
                // resort, and only when they are image manifests.
                let fallback = || {
                    idx.manifests.iter().position(|m| {
                        m.platform.is_none()
                            && matches!(
                                m.media_type.as_str(),
                                manifest::OCI_MANIFEST | manifest::DOCKER_MANIFEST
                            )
                    })
                };
                let Some(i) = platform::select(platform, &platforms).or_else(fallback) else {
                    return Err(RegistryError::NoMatchingManifest {
                        platform: platform.to_string(),
                    });
                };
                let entry = &idx.manifests[i];
                let child_ref = r.with_digest(entry.digest.clone());
                let (child, child_mt, child_digest) = self
                    .get_verified(
                        &ep,
                        &child_ref,
                        entry.digest.as_str(),
                        Some(&entry.digest),
                        auth,
                    )
                    .await?;
                if child.len() as u64 != entry.size {
                    return Err(invalid(format!(
                        "manifest {} is {} bytes, the index says {}",
                        entry.digest,
                        child.len(),
                        entry.size
                    )));
                }
                let header_mt = child_mt.or_else(|| Some(entry.media_type.clone()));
                let (child_kind, child_mt) =
                    manifest::kind_of(header_mt.as_deref(), &child).map_err(invalid)?;
                match child_kind {
                    Kind::Image => {}
                    Kind::Schema1 => return Err(RegistryError::Schema1 { reference: shown }),
                    Kind::Index => {
                        return Err(invalid(format!(
                            "{} is a nested index, not an image manifest",
                            entry.digest
                        )))
                    }
                }
                (Some((mt, bytes)), child, child_mt, child_digest)
            }
        };
        let image = manifest::parse_image(&manifest_bytes).map_err(invalid)?;
        Ok(Resolved {
            digest,
            manifest_digest,
            manifest: manifest_bytes,
            media_type: manifest_mt,
            config: image.config,
            layers: image.layers,
            index,
        })
    }

    /// Start downloading a blob. The stream yields an error if the blob is not `d.size` bytes;
    /// the caller verifies the digest while it writes.
    pub async fn fetch_blob(
        &self,
        r: &Reference,
        d: &Descriptor,
        auth: &AuthConfig,
    ) -> Result<BlobStream, RegistryError> {
        self.fetch_blob_from(r, d, 0, auth).await
    }

    /// Resume a download: the stream yields the blob's bytes from `offset` on (asked for with a
    /// `Range` header; when the registry ignores it, the first `offset` bytes are skipped here).
    /// `BlobStream::size` is then `d.size - offset`.
    pub async fn fetch_blob_from(
        &self,
        r: &Reference,
        d: &Descriptor,
        offset: u64,
        auth: &AuthConfig,
    ) -> Result<BlobStream, RegistryError> {
        if offset > d.size {
            return Err(RegistryError::InvalidArgument(format!(
                "offset {offset} is past the end of blob {} ({} bytes)",
                d.digest, d.size
            )));
        }
        if offset == d.size && offset > 0 {
            // Nothing left; a Range starting at the end would be unsatisfiable (416).
            return Ok(BlobStream {
                size: 0,
                inner: Box::pin(futures::stream::empty()),
            });
        }
        let ep = self.repo_endpoint(r).await?;
        let path = format!("/v2/{}/blobs/{}", r.path(), d.digest);
        let mut rb = self.request(&ep, Method::GET, &path)?;
        if offset > 0 {
            rb = rb.header(RANGE, format!("bytes={offset}-"));
        }
        let req = rb
            .build()
            .map_err(|e| RegistryError::InvalidArgument(format!("request: {e}")))?;
        let url = req.url().to_string();
        let resp = self.send(&ep, &pull_scope(r), auth, req).await?;
        let skip = match resp.status() {
            StatusCode::OK => offset,
            StatusCode::PARTIAL_CONTENT if offset > 0 => {
                let start = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.parse::<u64>().ok());
                if start != Some(offset) {
                    return Err(RegistryError::Protocol(format!(
                        "blob {}: asked for bytes from {offset}, got Content-Range {:?}",
                        d.digest,
                        resp.headers().get(CONTENT_RANGE)
                    )));
                }
                0
            }
            _ => {
                let cause = error_list(resp).await;
                return Err(match cause.first_code() {
                    Some("DENIED") | Some("NAME_UNKNOWN") => translate_pull(r, cause, auth),
                    Some("UNAUTHORIZED") if auth.is_anonymous() => translate_pull(r, cause, auth),
                    _ => RegistryError::Registry { cause },
                });
            }
        };
        // What the body must hold: the whole blob (200) or its tail (206).
        let body_len = d.size - offset + skip;
        if let Some(len) = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            if len != body_len {
                return Err(RegistryError::SizeMismatch {
                    digest: d.digest.clone(),
                    expected: body_len,
                    actual: len,
                });
            }
        }
        Ok(BlobStream::new(
            d.digest.clone(),
            body_len,
            skip,
            Method::GET,
            url,
            resp,
        ))
    }

    /// Fetch a small blob (a config) whole, and verify its digest.
    pub async fn fetch_blob_bytes(
        &self,
        r: &Reference,
        d: &Descriptor,
        auth: &AuthConfig,
    ) -> Result<Vec<u8>, RegistryError> {
        if d.size > MAX_SMALL_BLOB {
            return Err(RegistryError::InvalidArgument(format!(
                "blob {} is {} bytes, too big to fetch into memory",
                d.digest, d.size
            )));
        }
        let mut stream = self.fetch_blob(r, d, auth).await?;
        let mut out = Vec::with_capacity(d.size as usize);
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        let actual = Digest::sha256(&out);
        if actual != d.digest {
            return Err(RegistryError::DigestMismatch {
                what: "blob",
                expected: d.digest.clone(),
                actual,
            });
        }
        Ok(out)
    }
}
