//! Engine API client: host selection (`-H`, then `PIER_HOST`, then `DOCKER_HOST`, default
//! `unix:///run/pier/pier.sock`), HTTP/1.1 over a unix socket or TCP, API version negotiation the way
//! docker's CLI does it (`HEAD /_ping`, falling back to `GET`; the daemon's `API-Version` header caps
//! our maximum, [`MAX_API_VERSION`]; `DOCKER_API_VERSION` pins it), and error mapping to docker's
//! messages ([`CliError`]).
//!
//! Why not bollard: `inspect` must print the daemon's raw JSON re-indented (field order, unknown fields
//! and string escapes kept, as docker does), negotiation must use `/_ping` headers, and progress and
//! import need raw streaming bodies; bollard exposes typed models and negotiates through `/version`.
//! A request is one short-lived connection; that is what a CLI needs.

use crate::error::{CliError, Result};
use bytes::Bytes;
use futures::Stream;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Empty, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;

/// The newest API version pier speaks (docker 28's CLI default).
pub const MAX_API_VERSION: &str = "1.50";
/// What docker assumes when `/_ping` names no version.
const FALLBACK_API_VERSION: &str = "1.24";
pub const DEFAULT_HOST: &str = "unix:///run/pier/pier.sock";

pub type Body = BoxBody<Bytes, std::io::Error>;

#[derive(Debug, Clone)]
enum Endpoint {
    Unix(String),
    Tcp(String),
}

#[derive(Debug, Clone)]
pub struct Client {
    /// The host as the user named it, for messages.
    pub host: String,
    endpoint: Endpoint,
    /// Negotiated API version ("1.50"); empty until [`Client::negotiate`].
    pub version: String,
    pinned: bool,
}

/// The host to use: the flag, else `PIER_HOST`, else `DOCKER_HOST`, else the default.
pub fn select_host(flag: Option<&str>) -> String {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    flag.map(str::to_string)
        .or_else(|| env("PIER_HOST"))
        .or_else(|| env("DOCKER_HOST"))
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
}

fn parse_host(host: &str) -> Result<Endpoint> {
    if let Some(p) = host.strip_prefix("unix://") {
        if p.is_empty() {
            return Err(CliError::Usage(format!(
                "unable to parse docker host `{host}`"
            )));
        }
        return Ok(Endpoint::Unix(p.to_string()));
    }
    let rest = if let Some(r) = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))
    {
        r
    } else if host.starts_with('/') {
        return Ok(Endpoint::Unix(host.to_string()));
    } else if host.contains("://") {
        let scheme = host.split("://").next().unwrap_or("");
        return Err(CliError::Usage(format!(
            "unable to parse docker host `{host}`: pier does not support {scheme}:// hosts"
        )));
    } else {
        host
    };
    let rest = rest.trim_end_matches('/');
    let addr = if rest
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty())
    {
        rest.to_string()
    } else {
        format!("{rest}:2375")
    };
    Ok(Endpoint::Tcp(addr))
}

fn version_less(a: &str, b: &str) -> bool {
    let parse = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    parse(a) < parse(b)
}

pub fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

pub fn streaming<S>(s: S) -> Body
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + Sync + 'static,
{
    use futures::StreamExt;
    BodyExt::boxed(StreamBody::new(s.map(|r| r.map(Frame::data))))
}

/// Percent-encode a query value the way Go's `url.Values.Encode` does.
pub fn q(v: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(v, SET).to_string()
}

/// Encode a path segment that may hold a reference (`127.0.0.1:5000/x:1`): docker keeps `/` and `:`.
pub fn p(v: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/')
        .remove(b':')
        .remove(b'@');
    percent_encoding::utf8_percent_encode(v, SET).to_string()
}

impl Client {
    pub fn new(host: &str) -> Result<Client> {
        let endpoint = parse_host(host)?;
        let pinned = std::env::var("DOCKER_API_VERSION")
            .ok()
            .filter(|v| !v.is_empty());
        Ok(Client {
            host: host.to_string(),
            endpoint,
            version: pinned.clone().unwrap_or_default(),
            pinned: pinned.is_some(),
        })
    }

    /// Whether the negotiated API version is below `v` (negotiating first), for docker's
    /// version-dependent request shapes.
    pub async fn api_below(&mut self, v: &str) -> Result<bool> {
        self.negotiate().await?;
        Ok(version_less(&self.version, v))
    }

    /// docker's `NewVersionError`: `what` needs API `v` and the daemon speaks an older one.
    pub async fn require_api(&mut self, v: &str, what: &str) -> Result<()> {
        if self.api_below(v).await? {
            return Err(CliError::Usage(format!(
                "{what:?} requires API version {v}, but the Docker daemon API version is {}",
                self.version
            )));
        }
        Ok(())
    }

    /// Negotiate the API version with `/_ping` (docker's `NegotiateAPIVersion`).
    pub async fn negotiate(&mut self) -> Result<()> {
        if self.pinned || !self.version.is_empty() {
            return Ok(());
        }
        let mut resp = self.send(Method::HEAD, "/_ping", &[], empty()).await;
        let ok = matches!(&resp, Ok(r) if r.status() == StatusCode::OK || r.status() == StatusCode::INTERNAL_SERVER_ERROR);
        if !ok {
            if let Err(e @ (CliError::Connect(_) | CliError::Permission(..))) = resp {
                return Err(e);
            }
            resp = self.send(Method::GET, "/_ping", &[], empty()).await;
        }
        let resp = resp?;
        let server = resp
            .headers()
            .get("api-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(FALLBACK_API_VERSION)
            .to_string();
        let server = if server.is_empty() {
            FALLBACK_API_VERSION.to_string()
        } else {
            server
        };
        self.version = if version_less(&server, MAX_API_VERSION) {
            server
        } else {
            MAX_API_VERSION.to_string()
        };
        if resp.status().is_client_error() || resp.status().is_server_error() {
            // docker records the version and still reports the ping's error.
            check(resp, "/_ping").await?;
        }
        Ok(())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Body,
    ) -> Result<Response<Incoming>> {
        let conn_err = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                CliError::Permission(self.host.clone(), e.to_string())
            }
            _ => CliError::Connect(self.host.clone()),
        };
        let (host_header, mut sender) = match &self.endpoint {
            Endpoint::Unix(path) => {
                let s = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(conn_err)?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
                    .await
                    .map_err(|e| CliError::Protocol(e.to_string()))?;
                tokio::spawn(conn.with_upgrades());
                ("api.moby.localhost".to_string(), sender)
            }
            Endpoint::Tcp(addr) => {
                let s = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(conn_err)?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
                    .await
                    .map_err(|e| CliError::Protocol(e.to_string()))?;
                tokio::spawn(conn.with_upgrades());
                (addr.clone(), sender)
            }
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("Host", host_header)
            .header(
                "User-Agent",
                concat!("pier/", env!("CARGO_PKG_VERSION"), " (linux)"),
            );
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req
            .body(body)
            .map_err(|e| CliError::Protocol(e.to_string()))?;
        sender
            .send_request(req)
            .await
            .map_err(|e| CliError::Protocol(format!("error during connect: {e}")))
    }

    fn versioned(&self, path: &str) -> String {
        if self.version.is_empty() {
            path.to_string()
        } else {
            format!("/v{}{}", self.version, path)
        }
    }

    /// A request to a versioned API path; error statuses become [`CliError`]s.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Body,
    ) -> Result<Response<Incoming>> {
        self.negotiate().await?;
        let full = self.versioned(path);
        let resp = self.send(method, &full, headers, body).await?;
        check(resp, &full).await
    }

    /// Hijack a connection as docker's CLI does for attach/exec start: `Connection: Upgrade`,
    /// `Upgrade: tcp`; the daemon answers 101 and the socket becomes a raw byte stream in both
    /// directions. Any other status is docker's "unable to upgrade to tcp, received N".
    pub async fn hijack(
        &mut self,
        path: &str,
        body: Option<String>,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>> {
        self.negotiate().await?;
        let full = self.versioned(path);
        let mut headers = vec![
            ("Connection", "Upgrade".to_string()),
            ("Upgrade", "tcp".to_string()),
        ];
        let body = match body {
            Some(b) => {
                headers.push(("Content-Type", "application/json".to_string()));
                http_body_util::Full::new(Bytes::from(b))
                    .map_err(|never| match never {})
                    .boxed()
            }
            None => empty(),
        };
        let resp = self.send(Method::POST, &full, &headers, body).await?;
        // docker's client takes only a 101 and reports anything else by its status alone.
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(CliError::Protocol(format!(
                "unable to upgrade to tcp, received {}",
                resp.status().as_u16()
            )));
        }
        let upgraded = hyper::upgrade::on(resp)
            .await
            .map_err(|e| CliError::Protocol(format!("error during hijack: {e}")))?;
        Ok(TokioIo::new(upgraded))
    }

    /// POST a JSON body; error statuses become [`CliError`]s.
    pub async fn post_body(&mut self, path: &str, json: String) -> Result<Response<Incoming>> {
        let body = http_body_util::Full::new(Bytes::from(json))
            .map_err(|never| match never {})
            .boxed();
        self.request(
            Method::POST,
            path,
            &[("Content-Type", "application/json".to_string())],
            body,
        )
        .await
    }

    pub async fn get_bytes(&mut self, path: &str) -> Result<Bytes> {
        let resp = self.request(Method::GET, path, &[], empty()).await?;
        read_body(resp).await
    }

    pub async fn get_json<T: DeserializeOwned>(&mut self, path: &str) -> Result<T> {
        let b = self.get_bytes(path).await?;
        serde_json::from_slice(&b)
            .map_err(|e| CliError::Protocol(format!("Error reading JSON: {e}")))
    }

    pub async fn post_json<T: DeserializeOwned>(&mut self, path: &str, body: Body) -> Result<T> {
        let resp = self.request(Method::POST, path, &[], body).await?;
        let b = read_body(resp).await?;
        serde_json::from_slice(&b)
            .map_err(|e| CliError::Protocol(format!("Error reading JSON: {e}")))
    }
}

pub async fn read_body(resp: Response<Incoming>) -> Result<Bytes> {
    resp.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| CliError::Protocol(format!("error reading response: {e}")))
}

/// docker's `checkResponseErr`.
async fn check(resp: Response<Incoming>, path: &str) -> Result<Response<Incoming>> {
    let status = resp.status();
    if status.as_u16() >= 200 && status.as_u16() < 400 {
        return Ok(resp);
    }
    let is_json = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    let body = read_body(resp).await.unwrap_or_default();
    if body.is_empty() {
        return Err(CliError::EmptyError {
            status: status.as_u16(),
            status_text: status.canonical_reason().unwrap_or("").to_string(),
            url: format!("http://api.moby.localhost{path}"),
        });
    }
    let message = if is_json {
        #[derive(serde::Deserialize)]
        struct E {
            #[serde(default)]
            message: String,
        }
        match serde_json::from_slice::<E>(&body) {
            Ok(e) => e.message.trim().to_string(),
            Err(e) => return Err(CliError::Protocol(format!("Error reading JSON: {e}"))),
        }
    } else {
        String::from_utf8_lossy(&body).trim().to_string()
    };
    Err(CliError::Daemon {
        status: status.as_u16(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(
            matches!(parse_host("unix:///run/pier/pier.sock").unwrap(), Endpoint::Unix(p) if p == "/run/pier/pier.sock")
        );
        assert!(
            matches!(parse_host("tcp://127.0.0.1:2375").unwrap(), Endpoint::Tcp(a) if a == "127.0.0.1:2375")
        );
        assert!(
            matches!(parse_host("tcp://localhost").unwrap(), Endpoint::Tcp(a) if a == "localhost:2375")
        );
        assert!(parse_host("ssh://x").is_err());
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_less("1.9", "1.41"));
        assert!(version_less("1.41", "1.50"));
        assert!(!version_less("1.50", "1.50"));
    }

    #[test]
    fn query_encoding_like_go() {
        assert_eq!(
            q("127.0.0.1:5000/library/busybox"),
            "127.0.0.1%3A5000%2Flibrary%2Fbusybox"
        );
        assert_eq!(p("127.0.0.1:5000/x:1"), "127.0.0.1:5000/x:1");
    }

    #[tokio::test]
    async fn connection_failure_reads_like_docker() {
        let dir = std::env::temp_dir().join(format!("pier-client-test-{}", std::process::id()));
        let host = format!("unix://{}/none.sock", dir.display());
        let mut c = Client::new(&host).unwrap();
        let e = c.get_bytes("/version").await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("Cannot connect to the Docker daemon at {host}. Is the docker daemon running?")
        );
    }
}
