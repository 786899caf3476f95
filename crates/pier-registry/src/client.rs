//! The HTTP side: which scheme a registry speaks, pinging `/v2/`, and authenticating requests.
//!
//! Scheme policy (docker's): loopback registries (127.0.0.0/8, ::1, `localhost`) speak plain http;
//! registries in `insecure_registries` (`host`, `host:port` or a CIDR) are tried over https without
//! certificate checks, then over plain http; all others use https only. The answer of the first
//! `GET /v2/` that gets an HTTP response is kept per host, with its `WWW-Authenticate` challenges.
//!
//! Auth: a `Bearer` challenge sends us to its realm for a token (`GET realm?service=&scope=`, with
//! basic credentials when we have them, or an OAuth `POST` with the identity token); tokens are
//! cached per (realm, service, scopes, credentials) until they expire. A `Basic` challenge gets the
//! username/password. A 401 on a real request (a registry that challenges per repository, or a
//! token that lacks a scope) refreshes auth from that response's challenge and retries once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, Request, Response, StatusCode};

use crate::auth::{parse_challenges, AuthConfig, Challenge};
use crate::error::{ErrorCode, ErrorList, RegistryError};

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Registries reachable without TLS verification (and with plain http fallback):
    /// "host", "host:port" or a CIDR such as "10.0.0.0/8". Loopback is always insecure.
    pub insecure_registries: Vec<String>,
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            user_agent: format!("pier/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A registry client. Cheap to clone; clones share connections and caches.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    http: reqwest::Client,
    http_no_verify: reqwest::Client,
    opts: ClientOptions,
    endpoints: Mutex<HashMap<String, Arc<Endpoint>>>,
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

/// A registry we have pinged: where it is and how it wants to be authenticated.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// "http://127.0.0.1:5000"
    pub base: String,
    no_verify: bool,
    challenges: Mutex<Vec<Challenge>>,
}

/// Docker Hub's API host for the "docker.io" domain.
pub fn registry_host(domain: &str) -> &str {
    match domain {
        "docker.io" | "index.docker.io" | "registry.hub.docker.com" => "registry-1.docker.io",
        other => other,
    }
}

/// Split "host:port", "[v6]:port", "host" into (host, port).
fn split_host_port(hostport: &str) -> (&str, Option<&str>) {
    if let Some(rest) = hostport.strip_prefix('[') {
        if let Some((h, tail)) = rest.split_once(']') {
            return (h, tail.strip_prefix(':'));
        }
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (hostport, None),
    }
}

/// True for 127.0.0.0/8, ::1 and localhost (docker treats them as insecure by default).
pub fn is_loopback(hostport: &str) -> bool {
    let (host, _) = split_host_port(hostport);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Client, RegistryError> {
        let build = |no_verify: bool| {
            reqwest::Client::builder()
                .user_agent(opts.user_agent.clone())
                .connect_timeout(Duration::from_secs(30))
                // A registry that stops sending mid-body must not hang a pull forever.
                .read_timeout(Duration::from_secs(300))
                .tls_danger_accept_invalid_certs(no_verify)
                .build()
                .map_err(|e| RegistryError::InvalidArgument(format!("http client: {e}")))
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http: build(false)?,
                http_no_verify: build(true)?,
                opts,
                endpoints: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Whether `hostport` is treated as insecure (plain http allowed).
    pub fn is_insecure(&self, hostport: &str) -> bool {
        if is_loopback(hostport) {
            return true;
        }
        let (host, _) = split_host_port(hostport);
        let ip = host.parse::<IpAddr>().ok();
        self.inner.opts.insecure_registries.iter().any(|entry| {
            let entry = entry.trim();
            entry.eq_ignore_ascii_case(hostport)
                || entry.eq_ignore_ascii_case(host)
                || ip.is_some_and(|ip| in_cidr(ip, entry))
        })
    }

    fn http_for(&self, ep: &Endpoint) -> &reqwest::Client {
        if ep.no_verify {
            &self.inner.http_no_verify
        } else {
            &self.inner.http
        }
    }

    /// The (scheme, skip TLS verification) pairs to try for `host`, in order.
    pub fn schemes(&self, host: &str) -> Vec<(&'static str, bool)> {
        if is_loopback(host) {
            vec![("http", false)]
        } else if self.is_insecure(host) {
            vec![("https", true), ("http", false)]
        } else {
            vec![("https", false)]
        }
    }

    /// Ping the registry (once per host per client) and remember its scheme and challenges.
    pub(crate) async fn endpoint(&self, host: &str) -> Result<Arc<Endpoint>, RegistryError> {
        if let Some(ep) = self.inner.endpoints.lock().unwrap().get(host) {
            return Ok(ep.clone());
        }
        let mut last_err = None;
        for (scheme, no_verify) in self.schemes(host) {
            let base = format!("{scheme}://{host}");
            let url = format!("{base}/v2/");
            let client = if no_verify {
                &self.inner.http_no_verify
            } else {
                &self.inner.http
            };
            match client.get(&url).send().await {
                Ok(resp) => {
                    let challenges = if resp.status() == StatusCode::UNAUTHORIZED {
                        challenges_of(resp.headers())
                    } else {
                        Vec::new()
                    };
                    tracing::debug!(%url, status = %resp.status(), ?challenges, "registry ping");
                    let ep = Arc::new(Endpoint {
                        base,
                        no_verify,
                        challenges: Mutex::new(challenges),
                    });
                    self.inner
                        .endpoints
                        .lock()
                        .unwrap()
                        .insert(host.to_string(), ep.clone());
                    return Ok(ep);
                }
                Err(e) => last_err = Some(RegistryError::transport(&Method::GET, &url, &e)),
            }
        }
        Err(last_err.expect("at least one scheme is tried"))
    }

    /// Send a request to `ep` with the credentials the registry wants for `scopes`.
    /// Returns the response whatever its status (callers map errors).
    pub(crate) async fn send(
        &self,
        ep: &Endpoint,
        scopes: &[String],
        auth: &AuthConfig,
        mut req: Request,
    ) -> Result<Response, RegistryError> {
        let challenges = ep.challenges.lock().unwrap().clone();
        if let Some(value) = self.authorization(&challenges, scopes, auth, false).await? {
            req.headers_mut().insert(AUTHORIZATION, value);
        }
        let retry = req.try_clone();
        let resp = self.execute(ep, req).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let Some(mut retry) = retry else {
            return Ok(resp);
        };
        // The registry wants something else: learn from its challenge and retry once.
        let fresh = challenges_of(resp.headers());
        if fresh.is_empty() {
            return Ok(resp);
        }
        let mut wanted: Vec<String> = scopes.to_vec();
        for c in &fresh {
            if let Some(scope) = c.param("scope") {
                for s in scope.split(' ') {
                    if !s.is_empty() && !wanted.iter().any(|w| w == s) {
                        wanted.push(s.to_string());
                    }
                }
            }
        }
        let error = fresh.iter().find_map(|c| c.param("error"));
        // A token the registry calls invalid (expired early, revoked) is fetched anew; one that
        // lacks a scope is worth retrying only when the registry asks for scopes we did not.
        let refresh = error == Some("invalid_token");
        if error.is_some() && !refresh && wanted.len() == scopes.len() {
            return Ok(resp);
        }
        let value = self.authorization(&fresh, &wanted, auth, refresh).await?;
        let Some(value) = value else {
            return Ok(resp);
        };
        if retry.headers().get(AUTHORIZATION) == Some(&value) {
            return Ok(resp);
        }
        *ep.challenges.lock().unwrap() = fresh;
        retry.headers_mut().insert(AUTHORIZATION, value);
        self.execute(ep, retry).await
    }

    async fn execute(&self, ep: &Endpoint, req: Request) -> Result<Response, RegistryError> {
        let method = req.method().clone();
        let url = req.url().to_string();
        self.http_for(ep)
            .execute(req)
            .await
            .map_err(|e| RegistryError::transport(&method, &url, &e))
    }

    /// The Authorization header value for `scopes`, if the challenges call for one we can give.
    async fn authorization(
        &self,
        challenges: &[Challenge],
        scopes: &[String],
        auth: &AuthConfig,
        refresh: bool,
    ) -> Result<Option<HeaderValue>, RegistryError> {
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            let token = if !auth.registry_token.is_empty() {
                auth.registry_token.clone()
            } else {
                self.token(bearer, scopes, auth, refresh).await?
            };
            return Ok(HeaderValue::from_str(&format!("Bearer {token}")).ok());
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            if let Some((u, p)) = auth.basic() {
                return Ok(Some(basic_header(u, p)));
            }
        }
        Ok(None)
    }

    /// Get (or reuse) a bearer token from the challenge's realm.
    async fn token(
        &self,
        challenge: &Challenge,
        scopes: &[String],
        auth: &AuthConfig,
        refresh: bool,
    ) -> Result<String, RegistryError> {
        let realm = challenge
            .param("realm")
            .ok_or_else(|| RegistryError::Protocol("bearer auth challenge has no realm".into()))?;
        let mut realm_url = reqwest::Url::parse(realm).map_err(|e| {
            RegistryError::Protocol(format!("invalid bearer auth realm {realm:?}: {e}"))
        })?;
        if !matches!(realm_url.scheme(), "http" | "https") {
            return Err(RegistryError::Protocol(format!(
                "unsupported bearer auth realm {realm:?}"
            )));
        }
        let service = challenge.param("service").unwrap_or("");
        let key = format!(
            "{realm}\n{service}\n{}\n{}",
            scopes.join(" "),
            auth.cache_key()
        );
        if let Some((tok, until)) = self.inner.tokens.lock().unwrap().get(&key) {
            if Instant::now() < *until && !refresh {
                return Ok(tok.clone());
            }
        }
        let client = if realm_url.host_str().is_some_and(|h| self.is_insecure(h)) {
            &self.inner.http_no_verify
        } else {
            &self.inner.http
        };
        let (method, req) = if !auth.identity_token.is_empty() {
            // OAuth2 refresh-token grant, as docker does for identity tokens.
            let mut form: Vec<(&str, String)> = vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", auth.identity_token.clone()),
                ("client_id", "docker".into()),
                ("service", service.into()),
            ];
            if !scopes.is_empty() {
                form.push(("scope", scopes.join(" ")));
            }
            let body = serde_urlencode(&form);
            (
                Method::POST,
                client
                    .post(realm_url.clone())
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body),
            )
        } else {
            {
                let mut q = realm_url.query_pairs_mut();
                if !service.is_empty() {
                    q.append_pair("service", service);
                }
                if let Some((user, _)) = auth.basic() {
                    q.append_pair("account", user); // as docker sends it
                }
                for s in scopes {
                    q.append_pair("scope", s);
                }
            }
            if realm_url.query() == Some("") {
                realm_url.set_query(None);
            }
            let mut req = client.get(realm_url.clone());
            if let Some((u, p)) = auth.basic() {
                req = req.header(AUTHORIZATION, basic_header(u, p));
            }
            (Method::GET, req)
        };
        let url = realm_url.to_string();
        let resp = req
            .send()
            .await
            .map_err(|e| RegistryError::transport(&method, &url, &e))?;
        if !resp.status().is_success() {
            return Err(RegistryError::Registry {
                cause: error_list(resp).await,
            });
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
            #[serde(default)]
            expires_in: u64,
        }
        let body = read_limited(resp, 1 << 20, &method, &url).await?;
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            RegistryError::Protocol(format!("unable to decode token response: {e}"))
        })?;
        let tok = if !parsed.access_token.is_empty() {
            parsed.access_token
        } else {
            parsed.token
        };
        if tok.is_empty() {
            return Err(RegistryError::Protocol(
                "authorization server did not include a token in the response".into(),
            ));
        }
        // The spec's default lifetime is 60 s; keep a margin so a token never expires in flight.
        let lifetime = Duration::from_secs(parsed.expires_in.max(60));
        let until = Instant::now() + lifetime.saturating_sub(Duration::from_secs(10));
        let mut tokens = self.inner.tokens.lock().unwrap();
        let now = Instant::now();
        tokens.retain(|_, (_, until)| *until > now);
        tokens.insert(key, (tok.clone(), until));
        Ok(tok)
    }

    /// Build a request for `ep` (a path such as "/v2/x/manifests/latest" or an absolute URL).
    pub(crate) fn request(
        &self,
        ep: &Endpoint,
        method: Method,
        path_or_url: &str,
    ) -> Result<reqwest::RequestBuilder, RegistryError> {
        let url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", ep.base, path_or_url)
        };
        let url = reqwest::Url::parse(&url)
            .map_err(|e| RegistryError::InvalidArgument(format!("invalid URL {url:?}: {e}")))?;
        Ok(self.http_for(ep).request(method, url))
    }

    /// Check credentials against a registry (`docker login`): ping, then authenticate once.
    pub async fn login(&self, domain: &str, auth: &AuthConfig) -> Result<(), RegistryError> {
        let host = registry_host(domain).to_string();
        let ep = self.endpoint(&host).await?;
        let req = self
            .request(&ep, Method::GET, "/v2/")?
            .build()
            .map_err(|e| RegistryError::InvalidArgument(format!("request: {e}")))?;
        let resp = self.send(&ep, &[], auth, req).await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(RegistryError::Registry {
                cause: error_list(resp).await,
            })
        }
    }
}

fn serde_urlencode(form: &[(&str, String)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        ser.append_pair(k, v);
    }
    ser.finish()
}

fn basic_header(user: &str, pass: &str) -> HeaderValue {
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let mut v = HeaderValue::from_str(&format!("Basic {enc}")).expect("base64 is a valid header");
    v.set_sensitive(true);
    v
}

fn challenges_of(headers: &HeaderMap) -> Vec<Challenge> {
    parse_challenges(
        headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// Read a whole body, refusing more than `limit` bytes.
pub(crate) async fn read_limited(
    mut resp: Response,
    limit: usize,
    method: &Method,
    url: &str,
) -> Result<Vec<u8>, RegistryError> {
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > limit {
                    return Err(RegistryError::Protocol(format!(
                        "{method} {url}: response larger than {limit} bytes"
                    )));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(RegistryError::transport(method, url, &e)),
        }
    }
}

/// Turn a refusal into an [`ErrorList`], as distribution's `HandleErrorResponse` does.
pub(crate) async fn error_list(resp: Response) -> ErrorList {
    let status = resp.status().as_u16();
    let mut errors = Vec::new();
    if (400..500).contains(&status) {
        for c in challenges_of(resp.headers()) {
            if c.scheme != "bearer" {
                continue;
            }
            let (code, default) = match c.param("error") {
                Some("invalid_token") => ("UNAUTHORIZED", "authentication required"),
                Some("insufficient_scope") => {
                    ("DENIED", "requested access to the resource is denied")
                }
                _ => continue,
            };
            let message = c
                .param("error_description")
                .filter(|d| !d.is_empty())
                .unwrap_or(default);
            errors.push(ErrorCode {
                code: code.into(),
                message: message.into(),
            });
            break;
        }
    }
    let mut resp = resp;
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > 64 * 1024 {
            break;
        }
    }
    if !(400..500).contains(&status) {
        return ErrorList {
            status,
            errors,
            unparsed: None,
        };
    }
    #[derive(serde::Deserialize)]
    struct Wire {
        errors: Option<Vec<WireError>>,
        #[serde(default)]
        details: String,
    }
    #[derive(serde::Deserialize)]
    struct WireError {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let mut unparsed = None;
    match serde_json::from_slice::<Wire>(&body) {
        Ok(w) if w.errors.as_ref().is_some_and(|e| !e.is_empty()) => {
            for e in w.errors.unwrap_or_default() {
                errors.push(ErrorCode {
                    code: if e.code.is_empty() {
                        "UNKNOWN".into()
                    } else {
                        e.code
                    },
                    message: e.message,
                });
            }
        }
        Ok(w) if !w.details.is_empty() => errors.push(ErrorCode {
            code: match status {
                401 => "UNAUTHORIZED",
                429 => "TOOMANYREQUESTS",
                _ => "UNKNOWN",
            }
            .into(),
            message: w.details,
        }),
        other => {
            let why = match other {
                Err(e) => e.to_string(),
                Ok(_) => "no error details found in HTTP response body".to_string(),
            };
            if errors.is_empty() && status == 401 {
                errors.push(ErrorCode {
                    code: "UNAUTHORIZED".into(),
                    message: "authentication required".into(),
                });
            } else if errors.is_empty() {
                unparsed = Some(format!(
                    "error parsing HTTP {status} response body: {why}: {:?}",
                    String::from_utf8_lossy(&body)
                ));
            }
        }
    }
    ErrorList {
        status,
        errors,
        unparsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for h in [
            "127.0.0.1:5000",
            "127.1.2.3",
            "localhost:5000",
            "LOCALHOST",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "10.0.0.1:5000",
            "registry-1.docker.io",
            "[::2]:5000",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn insecure_list() {
        let c = Client::new(ClientOptions {
            insecure_registries: vec!["myreg:5000".into(), "other".into(), "10.1.0.0/16".into()],
            ..Default::default()
        })
        .unwrap();
        assert!(c.is_insecure("myreg:5000"));
        assert!(!c.is_insecure("myreg:5001"));
        assert!(c.is_insecure("other:443"));
        assert!(c.is_insecure("10.1.2.3:5000"));
        assert!(!c.is_insecure("10.2.0.1:5000"));
        assert!(c.is_insecure("127.0.0.1:1"));
        assert!(!c.is_insecure("registry-1.docker.io"));
        assert_eq!(c.schemes("127.0.0.1:5000"), vec![("http", false)]);
        assert_eq!(c.schemes("localhost:5000"), vec![("http", false)]);
        assert_eq!(
            c.schemes("myreg:5000"),
            vec![("https", true), ("http", false)]
        );
        assert_eq!(c.schemes("registry-1.docker.io"), vec![("https", false)]);
    }

    #[test]
    fn hub_host() {
        assert_eq!(registry_host("docker.io"), "registry-1.docker.io");
        assert_eq!(registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
