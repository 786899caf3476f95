//! Push primitives: what `docker push` is made of.
//!
//! [`Client::blob_exists`] (HEAD), [`Client::push_blob`] (monolithic: `POST /blobs/uploads/` then
//! `PUT <location>?digest=`), [`Client::push_blob_streamed`] (docker's way: `POST`, one streamed
//! `PATCH`, then `PUT ?digest=`), [`Client::mount_blob`] (cross-repository mount, `POST
//! /blobs/uploads/?mount=&from=`; a 202 means the registry would not mount, so the upload session it
//! opened is cancelled and `false` returned: the caller then uploads) and [`Client::push_manifest`].
//! All ask for `pull,push` on the target repository (plus `pull` on the mount source).
//! Refusals print as docker prints them (`denied: requested access to the resource is denied`).

use bytes::Bytes;
use pier_image::digest::Digest;
use pier_image::reference::Reference;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};

use crate::auth::AuthConfig;
use crate::client::{error_list, Client, Endpoint};
use crate::error::RegistryError;

fn push_scope(r: &Reference) -> Vec<String> {
    vec![format!("repository:{}:pull,push", r.path())]
}

fn build(rb: reqwest::RequestBuilder) -> Result<reqwest::Request, RegistryError> {
    rb.build()
        .map_err(|e| RegistryError::InvalidArgument(format!("request: {e}")))
}

/// The upload URL from a 202's Location (may be relative to the request URL).
fn upload_location(resp: &reqwest::Response) -> Result<reqwest::Url, RegistryError> {
    let loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            RegistryError::Protocol("registry started an upload without a Location".into())
        })?;
    resp.url()
        .join(loc)
        .map_err(|e| RegistryError::Protocol(format!("invalid upload Location {loc:?}: {e}")))
}

impl Client {
    /// Size of the blob if the repository has it, `None` if not.
    pub async fn blob_exists(
        &self,
        r: &Reference,
        digest: &Digest,
        auth: &AuthConfig,
    ) -> Result<Option<u64>, RegistryError> {
        let ep = self.repo_endpoint(r).await?;
        let path = format!("/v2/{}/blobs/{digest}", r.path());
        let req = build(self.request(&ep, Method::HEAD, &path)?)?;
        let resp = self.send(&ep, &push_scope(r), auth, req).await?;
        match resp.status() {
            s if s.is_success() => Ok(Some(
                resp.headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(RegistryError::Registry {
                cause: error_list(resp).await,
            }),
        }
    }

    /// Open an upload session; returns its URL.
    async fn start_upload(
        &self,
        ep: &Endpoint,
        r: &Reference,
        auth: &AuthConfig,
    ) -> Result<reqwest::Url, RegistryError> {
        let path = format!("/v2/{}/blobs/uploads/", r.path());
        let req = build(
            self.request(ep, Method::POST, &path)?
                .header(CONTENT_LENGTH, "0"),
        )?;
        let resp = self.send(ep, &push_scope(r), auth, req).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(RegistryError::Registry {
                cause: error_list(resp).await,
            });
        }
        upload_location(&resp)
    }

    /// Upload a blob in one PUT. `body` must be exactly `size` bytes hashing to `digest`
    /// (the registry checks; a mismatch is its `DIGEST_INVALID` error).
    pub async fn push_blob(
        &self,
        r: &Reference,
        digest: &Digest,
        size: u64,
        body: reqwest::Body,
        auth: &AuthConfig,
    ) -> Result<(), RegistryError> {
        let ep = self.repo_endpoint(r).await?;
        let mut url = self.start_upload(&ep, r, auth).await?;
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let req = build(
            self.request(&ep, Method::PUT, url.as_str())?
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, size)
                .body(body),
        )?;
        self.close_upload(&ep, r, digest, req, auth).await
    }

    /// Upload a blob as docker does: the body in one `PATCH` to the upload session (streamed, size
    /// not needed up front), then `PUT ?digest=` to close it. For registries that refuse
    /// monolithic PUTs, and for bodies whose size is not known in advance.
    pub async fn push_blob_streamed(
        &self,
        r: &Reference,
        digest: &Digest,
        body: reqwest::Body,
        auth: &AuthConfig,
    ) -> Result<(), RegistryError> {
        let ep = self.repo_endpoint(r).await?;
        let url = self.start_upload(&ep, r, auth).await?;
        let req = build(
            self.request(&ep, Method::PATCH, url.as_str())?
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(body),
        )?;
        let resp = self.send(&ep, &push_scope(r), auth, req).await?;
        if resp.status() != StatusCode::ACCEPTED && resp.status() != StatusCode::NO_CONTENT {
            return Err(RegistryError::Registry {
                cause: error_list(resp).await,
            });
        }
        let mut url = upload_location(&resp).unwrap_or(url);
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let req = build(
            self.request(&ep, Method::PUT, url.as_str())?
                .header(CONTENT_LENGTH, "0"),
        )?;
        self.close_upload(&ep, r, digest, req, auth).await
    }

    /// Sends the `PUT ?digest=` that closes an upload session: the registry must answer 201 and
    /// name the digest we sent.
    async fn close_upload(
        &self,
        ep: &Endpoint,
        r: &Reference,
        digest: &Digest,
        req: reqwest::Request,
        auth: &AuthConfig,
    ) -> Result<(), RegistryError> {
        let resp = self.send(ep, &push_scope(r), auth, req).await?;
        if resp.status() != StatusCode::CREATED {
            return Err(RegistryError::Registry {
                cause: error_list(resp).await,
            });
        }
        check_digest_header(&resp, digest, "blob")
    }

    /// Upload an in-memory blob; returns its digest.
    pub async fn push_blob_bytes(
        &self,
        r: &Reference,
        data: impl Into<Bytes>,
        auth: &AuthConfig,
    ) -> Result<Digest, RegistryError> {
        let data: Bytes = data.into();
        let digest = Digest::sha256(&data);
        let size = data.len() as u64;
        self.push_blob(r, &digest, size, reqwest::Body::from(data), auth)
            .await?;
        Ok(digest)
    }

    /// Mount `digest` from repository `from` (a path in the same registry, e.g. "library/busybox").
    /// `true`: mounted. `false`: the registry would not (it opened an upload instead, which is
    /// cancelled here); upload the blob with [`Client::push_blob`].
    pub async fn mount_blob(
        &self,
        r: &Reference,
        digest: &Digest,
        from: &str,
        auth: &AuthConfig,
    ) -> Result<bool, RegistryError> {
        let ep = self.repo_endpoint(r).await?;
        let mut url = reqwest::Url::parse(&format!("{}/v2/{}/blobs/uploads/", ep.base, r.path()))
            .map_err(|e| RegistryError::InvalidArgument(format!("invalid URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("mount", digest.as_str())
            .append_pair("from", from);
        let req = build(
            self.request(&ep, Method::POST, url.as_str())?
                .header(CONTENT_LENGTH, "0"),
        )?;
        let mut scopes = push_scope(r);
        if from != r.path() {
            scopes.push(format!("repository:{from}:pull"));
        }
        let resp = self.send(&ep, &scopes, auth, req).await?;
        match resp.status() {
            StatusCode::CREATED => {
                check_digest_header(&resp, digest, "blob")?;
                Ok(true)
            }
            StatusCode::ACCEPTED => {
                // Best effort: drop the session the registry opened instead of mounting.
                if let Ok(loc) = upload_location(&resp) {
                    if let Ok(req) = build(self.request(&ep, Method::DELETE, loc.as_str())?) {
                        let _ = self.send(&ep, &scopes, auth, req).await;
                    }
                }
                Ok(false)
            }
            _ => Err(RegistryError::Registry {
                cause: error_list(resp).await,
            }),
        }
    }

    /// PUT a manifest under `r`'s tag (or digest). Returns the digest of `bytes`.
    pub async fn push_manifest(
        &self,
        r: &Reference,
        media_type: &str,
        bytes: impl Into<Bytes>,
        auth: &AuthConfig,
    ) -> Result<Digest, RegistryError> {
        let bytes: Bytes = bytes.into();
        let digest = Digest::sha256(&bytes);
        if let Some(d) = r.digest() {
            if *d != digest {
                return Err(RegistryError::DigestMismatch {
                    what: "manifest",
                    expected: d.clone(),
                    actual: digest,
                });
            }
        }
        let target = match (r.tag(), r.digest()) {
            (Some(t), _) => t.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => pier_image::reference::DEFAULT_TAG.to_string(),
        };
        let ep = self.repo_endpoint(r).await?;
        let path = format!("/v2/{}/manifests/{target}", r.path());
        let req = build(
            self.request(&ep, Method::PUT, &path)?
                .header(CONTENT_TYPE, media_type)
                .body(bytes),
        )?;
        let resp = self.send(&ep, &push_scope(r), auth, req).await?;
        if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
            return Err(RegistryError::Registry {
                cause: error_list(resp).await,
            });
        }
        check_digest_header(&resp, &digest, "manifest")?;
        Ok(digest)
    }
}

/// When the registry states a digest for what we sent, it must be ours.
fn check_digest_header(
    resp: &reqwest::Response,
    digest: &Digest,
    what: &'static str,
) -> Result<(), RegistryError> {
    let announced = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<Digest>().ok());
    match announced {
        Some(a) if a != *digest => Err(RegistryError::DigestMismatch {
            what,
            expected: digest.clone(),
            actual: a,
        }),
        _ => Ok(()),
    }
}
