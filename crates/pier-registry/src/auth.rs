//! Credentials and authentication challenges.
//!
//! [`AuthConfig`] is what the docker CLI sends in `X-Registry-Auth`: base64 (URL-safe or standard,
//! padded or not) of a JSON object with `username`, `password`, `auth` (base64 "user:pass"),
//! `identitytoken`, `registrytoken`, `serveraddress`. An empty header or `e30=` (`{}`) means
//! anonymous. [`parse_challenges`] reads `WWW-Authenticate` (RFC 7235 with quoted strings), the
//! input to the Bearer token flow in `client.rs`.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::RegistryError;

/// Registry credentials, as docker's `registry.AuthConfig`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    pub username: String,
    pub password: String,
    /// base64 of "username:password" (used when `username` is empty).
    pub auth: String,
    pub email: String,
    /// An OAuth refresh token (from `docker login` against a token server).
    #[serde(rename = "identitytoken")]
    pub identity_token: String,
    /// A bearer token to send as-is.
    #[serde(rename = "registrytoken")]
    pub registry_token: String,
    #[serde(rename = "serveraddress")]
    pub server_address: String,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("password", &(!self.password.is_empty()))
            .field("auth", &(!self.auth.is_empty()))
            .field("identity_token", &(!self.identity_token.is_empty()))
            .field("registry_token", &(!self.registry_token.is_empty()))
            .field("server_address", &self.server_address)
            .finish()
    }
}

/// Decode base64 in any of the four flavours docker clients produce.
fn decode_base64_any(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = s.trim();
    [URL_SAFE, URL_SAFE_NO_PAD, STANDARD, STANDARD_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

impl AuthConfig {
    /// Anonymous access.
    pub fn anonymous() -> AuthConfig {
        AuthConfig::default()
    }

    /// Decode an `X-Registry-Auth` header value. Empty → anonymous.
    pub fn from_header(value: &str) -> Result<AuthConfig, RegistryError> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(AuthConfig::default());
        }
        let bad = || RegistryError::InvalidArgument("invalid X-Registry-Auth header".to_string());
        let raw = decode_base64_any(value).ok_or_else(bad)?;
        let mut cfg: AuthConfig = serde_json::from_slice(&raw).map_err(|_| bad())?;
        cfg.normalize();
        Ok(cfg)
    }

    /// Encode as docker clients do (URL-safe base64 of the JSON).
    pub fn to_header(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE.encode(json)
    }

    /// Fill username/password from `auth` when only that is given.
    fn normalize(&mut self) {
        if self.username.is_empty() && self.password.is_empty() && !self.auth.is_empty() {
            if let Some(decoded) = decode_base64_any(&self.auth) {
                if let Ok(text) = String::from_utf8(decoded) {
                    if let Some((u, p)) = text.split_once(':') {
                        self.username = u.to_string();
                        self.password = p.trim_end_matches('\0').to_string();
                    }
                }
            }
        }
    }

    /// Username and password, when both are known (after decoding `auth`).
    pub fn basic(&self) -> Option<(&str, &str)> {
        if self.username.is_empty() {
            None
        } else {
            Some((&self.username, &self.password))
        }
    }

    /// True when nothing at all is set.
    pub fn is_anonymous(&self) -> bool {
        self.basic().is_none() && self.identity_token.is_empty() && self.registry_token.is_empty()
    }

    /// A key identifying these credentials in caches, without the secrets in clear.
    pub(crate) fn cache_key(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for part in [
            &self.username,
            &self.password,
            &self.identity_token,
            &self.registry_token,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }
}

/// One `WWW-Authenticate` challenge: scheme (lowercased) and parameters (keys lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse every challenge from the `WWW-Authenticate` header values.
pub fn parse_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for v in values {
        parse_one_header(v, &mut out);
    }
    out
}

fn parse_one_header(s: &str, out: &mut Vec<Challenge>) {
    let b = s.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t' || b[*i] == b',') {
            *i += 1;
        }
    };
    let token = |i: &mut usize| -> String {
        let start = *i;
        while *i < b.len() && !matches!(b[*i], b' ' | b'\t' | b',' | b'=' | b'"') {
            *i += 1;
        }
        s[start..*i].to_string()
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            return;
        }
        let scheme = token(&mut i);
        if scheme.is_empty() {
            i += 1;
            continue;
        }
        let mut ch = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: Vec::new(),
        };
        // params: key=value or key="quoted", separated by commas; a bare token that is not
        // followed by '=' starts the next challenge.
        loop {
            let save = i;
            skip_ws(&mut i);
            if i >= b.len() {
                break;
            }
            let key = token(&mut i);
            let mut j = i;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            if key.is_empty() || j >= b.len() || b[j] != b'=' {
                i = save;
                break;
            }
            i = j + 1;
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            let value = if i < b.len() && b[i] == b'"' {
                i += 1;
                let mut v = String::new();
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    let c = s[i..].chars().next().unwrap_or('\0');
                    v.push(c);
                    i += c.len_utf8();
                }
                i += 1; // closing quote
                v
            } else {
                token(&mut i)
            };
            ch.params.push((key.to_ascii_lowercase(), value));
        }
        out.push(ch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_e30_are_anonymous() {
        assert!(AuthConfig::from_header("").unwrap().is_anonymous());
        assert!(AuthConfig::from_header("e30=").unwrap().is_anonymous());
        assert!(AuthConfig::from_header("e30").unwrap().is_anonymous());
    }

    #[test]
    fn decodes_all_base64_flavours() {
        let json = r#"{"username":"u?>","password":"p~~","serveraddress":"127.0.0.1:5000"}"#;
        use base64::engine::general_purpose::*;
        for enc in [
            URL_SAFE.encode(json),
            URL_SAFE_NO_PAD.encode(json),
            STANDARD.encode(json),
            STANDARD_NO_PAD.encode(json),
        ] {
            let a = AuthConfig::from_header(&enc).unwrap();
            assert_eq!(a.basic(), Some(("u?>", "p~~")), "{enc}");
            assert_eq!(a.server_address, "127.0.0.1:5000");
        }
    }

    #[test]
    fn auth_field_gives_user_and_password() {
        let inner = base64::engine::general_purpose::STANDARD.encode("alice:s3:cret");
        let json = format!(r#"{{"auth":"{inner}"}}"#);
        let a = AuthConfig::from_header(&base64::engine::general_purpose::URL_SAFE.encode(json))
            .unwrap();
        assert_eq!(a.basic(), Some(("alice", "s3:cret")));
    }

    #[test]
    fn tokens_are_kept() {
        let json = r#"{"identitytoken":"refresh","registrytoken":"bearer"}"#;
        let a = AuthConfig::from_header(&base64::engine::general_purpose::STANDARD.encode(json))
            .unwrap();
        assert_eq!(a.identity_token, "refresh");
        assert_eq!(a.registry_token, "bearer");
        assert!(!a.is_anonymous());
        let back = AuthConfig::from_header(&a.to_header()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn garbage_header_is_an_error() {
        assert!(AuthConfig::from_header("!!!").is_err());
        let not_json = base64::engine::general_purpose::STANDARD.encode("nope");
        assert!(AuthConfig::from_header(&not_json).is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let a = AuthConfig {
            username: "bob".into(),
            password: "hunter2".into(),
            ..Default::default()
        };
        assert!(!format!("{a:?}").contains("hunter2"));
    }

    #[test]
    fn parses_bearer_challenge() {
        let c = parse_challenges([
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        ]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(c[0].param("scope"), Some("repository:library/busybox:pull"));
    }

    #[test]
    fn parses_several_challenges_and_escapes() {
        let c = parse_challenges([
            r#"Basic realm="basic-realm", Bearer realm="http://x/t",error="insufficient_scope",error_description="a \"q\"""#,
        ]);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some("basic-realm"));
        assert_eq!(c[1].param("error"), Some("insufficient_scope"));
        assert_eq!(c[1].param("error_description"), Some("a \"q\""));
    }

    /// Deterministic garbage: the parsers of outside input must never panic or loop.
    fn garbage(seed: u64, n: usize) -> Vec<String> {
        let alphabet = b"Bearer Basic realm=\"\\,= \t\x7fa\xc3\xa9:/";
        let mut x = seed;
        (0..n)
            .map(|_| {
                let len = (x % 60) as usize;
                let mut bytes = Vec::with_capacity(len);
                for _ in 0..len {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    bytes.push(alphabet[(x % alphabet.len() as u64) as usize]);
                }
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .collect()
    }

    #[test]
    fn challenge_parser_survives_garbage() {
        for s in garbage(0x9e3779b97f4a7c15, 20_000) {
            let _ = parse_challenges([s.as_str()]);
            let _ = AuthConfig::from_header(&s);
        }
    }

    #[test]
    fn parses_unquoted_values() {
        let c = parse_challenges(["Bearer realm=http://x/t, service=svc"]);
        assert_eq!(c[0].param("realm"), Some("http://x/t"));
        assert_eq!(c[0].param("service"), Some("svc"));
    }
}
