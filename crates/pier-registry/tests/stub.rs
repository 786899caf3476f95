//! Client behaviour a real registry cannot be made to show: a token server (distribution's token
//! auth needs a separate server, so the Bearer flow is a unit test of the client against a small
//! local stub), lying digests, garbage answers, redirects, schema 1.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use common::{json_error, respond, Seen, Stub};
use pier_image::digest::Digest;
use pier_image::reference::{parse_normalized, Reference};
use pier_registry::manifest::{OCI_CONFIG, OCI_MANIFEST};
use pier_registry::{AuthConfig, Client, ClientOptions, Descriptor, Platform, RegistryError};

fn r(s: &str) -> Reference {
    parse_normalized(s).unwrap()
}

fn client() -> Client {
    Client::new(ClientOptions::default()).unwrap()
}

fn amd64() -> Platform {
    "linux/amd64".parse().unwrap()
}

const CONFIG: &[u8] =
    br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;

fn manifest() -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":{}}},"layers":[]}}"#,
        Digest::sha256(CONFIG),
        CONFIG.len()
    )
    .into_bytes()
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// A registry behind a token server: "alice:secret" or identity token "refresh-1" get token T1
/// (the only one the registry accepts); anyone else gets an anonymous token that is refused with
/// insufficient_scope, as Docker Hub does for missing or private repositories.
fn token_registry(
    token_field: &'static str,
) -> impl Fn(&Seen, &str) -> axum::response::Response + Send + Sync {
    move |req: &Seen, addr: &str| {
        let challenge = format!(r#"Bearer realm="http://{addr}/token",service="stub-registry""#);
        let path = req.uri.path();
        if path == "/token" {
            let q = req.uri.query().unwrap_or("");
            let good = match req.method.as_str() {
                "GET" => {
                    assert!(q.contains("service=stub-registry"), "{q}");
                    assert!(q.contains("scope=repository%3Aapp%3Apull"), "{q}");
                    req.header("authorization") == Some(basic("alice", "secret").as_str())
                }
                "POST" => {
                    let form = String::from_utf8_lossy(&req.body).to_string();
                    form.contains("grant_type=refresh_token")
                        && form.contains("service=stub-registry")
                        && form.contains("client_id=docker")
                        && form.contains("refresh_token=refresh-1")
                        && form.contains("scope=repository%3Aapp%3Apull")
                }
                _ => false,
            };
            let tok = if good { "T1" } else { "ANON" };
            return respond(
                200,
                &[("Content-Type", "application/json")],
                format!(r#"{{"{token_field}":"{tok}","expires_in":300}}"#),
            );
        }
        if req.header("authorization") != Some("Bearer T1") {
            let mut resp = json_error(401, "UNAUTHORIZED", "authentication required");
            let c = if req.header("authorization").is_some() {
                format!(r#"{challenge},scope="repository:app:pull",error="insufficient_scope""#)
            } else {
                challenge
            };
            resp.headers_mut()
                .insert("www-authenticate", c.parse().unwrap());
            return resp;
        }
        let m = manifest();
        match path {
            "/v2/" => respond(200, &[], ""),
            "/v2/app/manifests/latest" => respond(
                200,
                &[
                    ("Content-Type", OCI_MANIFEST),
                    ("Docker-Content-Digest", Digest::sha256(&m).as_str()),
                ],
                m,
            ),
            _ => json_error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
        }
    }
}

#[tokio::test]
async fn bearer_token_flow_with_password_and_cache() {
    let stub = Stub::start(token_registry("token")).await;
    let c = client();
    let reference = r(&format!("{}/app", stub.addr));
    let alice = AuthConfig {
        username: "alice".into(),
        password: "secret".into(),
        ..Default::default()
    };
    let res = c.resolve(&reference, &amd64(), &alice).await.unwrap();
    assert_eq!(res.manifest_digest, Digest::sha256(&manifest()));
    c.resolve(&reference, &amd64(), &alice).await.unwrap();
    assert_eq!(
        stub.count("/token"),
        1,
        "token cached per scope and credentials"
    );

    // Other credentials do not reuse alice's token.
    let err = c
        .resolve(&reference, &amd64(), &AuthConfig::anonymous())
        .await
        .unwrap_err();
    assert_eq!(stub.count("/token"), 2);
    assert_eq!(
        err.to_string(),
        format!(
            "pull access denied for {}/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
            stub.addr
        )
    );
}

#[tokio::test]
async fn bearer_accepts_access_token_identity_and_registry_tokens() {
    let stub = Stub::start(token_registry("access_token")).await;
    let c = client();
    let reference = r(&format!("{}/app", stub.addr));
    let alice = AuthConfig {
        auth: base64::engine::general_purpose::STANDARD.encode("alice:secret"),
        ..Default::default()
    };
    let alice = AuthConfig::from_header(&alice.to_header()).unwrap();
    c.resolve(&reference, &amd64(), &alice).await.unwrap();

    let refresh = AuthConfig {
        identity_token: "refresh-1".into(),
        ..Default::default()
    };
    c.resolve(&reference, &amd64(), &refresh).await.unwrap();
    assert!(stub
        .requests()
        .iter()
        .any(|s| s.method == "POST" && s.uri.path() == "/token"));

    let before = stub.count("/token");
    let direct = AuthConfig {
        registry_token: "T1".into(),
        ..Default::default()
    };
    c.resolve(&reference, &amd64(), &direct).await.unwrap();
    assert_eq!(
        stub.count("/token"),
        before,
        "a registry token is used as is"
    );
}

#[tokio::test]
async fn challenge_on_the_request_rather_than_the_ping() {
    // /v2/ is open; the repository asks for a token only when touched.
    let counter = Arc::new(AtomicUsize::new(0));
    let inner = token_registry("token");
    let stub = Stub::start(move |req, addr| {
        if req.uri.path() == "/v2/" {
            counter.fetch_add(1, Ordering::SeqCst);
            return respond(200, &[], "{}");
        }
        inner(req, addr)
    })
    .await;
    let c = client();
    let alice = AuthConfig {
        username: "alice".into(),
        password: "secret".into(),
        ..Default::default()
    };
    let res = c
        .resolve(&r(&format!("{}/app", stub.addr)), &amd64(), &alice)
        .await
        .unwrap();
    assert_eq!(res.config.digest, Digest::sha256(CONFIG));
    assert_eq!(stub.count("/token"), 1);
}

/// A registry without auth that serves `manifest_bytes` under any tag with `digest_header`.
fn lying(
    manifest_bytes: Vec<u8>,
    digest_header: Option<String>,
) -> impl Fn(&Seen, &str) -> axum::response::Response + Send + Sync {
    move |req: &Seen, _addr: &str| {
        if req.uri.path() == "/v2/" {
            return respond(200, &[], "");
        }
        let mut headers = vec![("Content-Type", OCI_MANIFEST)];
        if let Some(d) = &digest_header {
            headers.push(("Docker-Content-Digest", d.as_str()));
        }
        respond(200, &headers, manifest_bytes.clone())
    }
}

#[tokio::test]
async fn digest_mismatches_are_caught() {
    let m = manifest();
    let wrong = Digest::sha256(b"something else");
    let stub = Stub::start(lying(m.clone(), Some(wrong.to_string()))).await;
    let c = client();
    let anon = AuthConfig::anonymous();
    let err = c
        .resolve(&r(&format!("{}/app:latest", stub.addr)), &amd64(), &anon)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::DigestMismatch { expected, .. } if *expected == wrong),
        "{err:?}"
    );

    // By digest: the bytes served are not the ones asked for (no header to help).
    let stub = Stub::start(lying(m.clone(), None)).await;
    let err = c
        .resolve(&r(&format!("{}/app@{wrong}", stub.addr)), &amd64(), &anon)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "manifest verification failed for digest {wrong}: content has digest {}",
            Digest::sha256(&m)
        )
    );
    // ...and when they are, it works.
    let right = Digest::sha256(&m);
    c.resolve(&r(&format!("{}/app@{right}", stub.addr)), &amd64(), &anon)
        .await
        .unwrap();
}

#[tokio::test]
async fn blobs_follow_redirects_and_are_verified() {
    let good = Digest::sha256(CONFIG);
    let good_hex = good.hex().to_string();
    let stub = Stub::start(move |req, addr| match req.uri.path() {
        "/v2/" => respond(200, &[], ""),
        p if p.starts_with("/v2/app/blobs/") => {
            let d = &p["/v2/app/blobs/".len()..];
            respond(
                307,
                &[("Location", &format!("http://{addr}/storage/{d}"))],
                "",
            )
        }
        p if p.starts_with("/storage/") => {
            // Serves the config for the right digest, same-size garbage for any other.
            if p.ends_with(&good_hex) {
                respond(200, &[], CONFIG)
            } else {
                respond(200, &[], vec![b'x'; CONFIG.len()])
            }
        }
        _ => json_error(404, "BLOB_UNKNOWN", "blob unknown to registry"),
    })
    .await;
    let c = client();
    let anon = AuthConfig::anonymous();
    let reference = r(&format!("{}/app", stub.addr));
    let d = Descriptor::new(OCI_CONFIG, good.clone(), CONFIG.len() as u64);
    assert_eq!(
        c.fetch_blob_bytes(&reference, &d, &anon).await.unwrap(),
        CONFIG
    );
    let other = Descriptor::new(OCI_CONFIG, Digest::sha256(b"other"), CONFIG.len() as u64);
    let err = c
        .fetch_blob_bytes(&reference, &other, &anon)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("blob verification failed for digest"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_answers_give_clear_errors() {
    let stub = Stub::start(|req, _| match req.uri.path() {
        "/v2/" => respond(200, &[], ""),
        "/v2/boom/manifests/latest" => respond(500, &[], "oops"),
        "/v2/html/manifests/latest" => {
            respond(404, &[("Content-Type", "text/html")], "<html>nope</html>")
        }
        "/v2/s1/manifests/latest" => respond(
            200,
            &[(
                "Content-Type",
                "application/vnd.docker.distribution.manifest.v1+prettyjws",
            )],
            r#"{"schemaVersion":1,"name":"s1","tag":"latest","fsLayers":[]}"#,
        ),
        "/v2/junk/manifests/latest" => {
            respond(200, &[("Content-Type", OCI_MANIFEST)], "not json at all")
        }
        "/v2/private/manifests/latest" => {
            json_error(401, "UNAUTHORIZED", "authentication required")
        }
        _ => json_error(404, "NAME_UNKNOWN", "repository name not known to registry"),
    })
    .await;
    let c = client();
    let anon = AuthConfig::anonymous();
    let get = |repo: &str| {
        let c = c.clone();
        let reference = r(&format!("{}/{repo}", stub.addr));
        async move {
            c.resolve(&reference, &amd64(), &AuthConfig::anonymous())
                .await
                .unwrap_err()
        }
    };
    assert_eq!(
        get("boom").await.to_string(),
        "received unexpected HTTP status: 500 Internal Server Error"
    );
    let html = get("html").await.to_string();
    assert!(
        html.starts_with("error parsing HTTP 404 response body: "),
        "{html}"
    );
    assert!(html.contains("<html>nope</html>"), "{html}");
    let s1 = get("s1").await.to_string();
    assert!(
        s1.contains("manifest version 2, schema 1 support has been removed"),
        "{s1}"
    );
    assert!(s1.contains(&format!("{}/s1:latest", stub.addr)), "{s1}");
    let junk = get("junk").await;
    assert!(
        matches!(junk, RegistryError::InvalidManifest { .. }),
        "{junk:?}"
    );
    assert_eq!(
        get("private").await.to_string(),
        format!(
            "pull access denied for {}/private, repository does not exist or may require 'docker login': unauthorized: authentication required",
            stub.addr
        )
    );
    assert_eq!(
        get("gone").await.to_string(),
        format!(
            "repository {}/gone not found: name unknown: repository name not known to registry",
            stub.addr
        )
    );
    let _ = anon;
}

#[tokio::test]
async fn garbage_instead_of_http() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"SSH-2.0-OpenSSH_9.6 not a registry\r\n\r\n")
                .await;
        }
    });
    let err = client()
        .resolve(&r(&format!("{addr}/x")), &amd64(), &AuthConfig::anonymous())
        .await
        .unwrap_err();
    server.abort();
    let msg = err.to_string();
    assert!(matches!(err, RegistryError::Transport { .. }), "{err:?}");
    assert!(
        msg.starts_with(&format!("Get \"http://{addr}/v2/\": ")),
        "{msg}"
    );
    assert!(
        msg.len() > format!("Get \"http://{addr}/v2/\": ").len() + 5,
        "{msg}"
    );
    assert!(msg.contains("malformed HTTP response"), "{msg}");

    // A server that hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            drop(s);
        }
    });
    let err = client()
        .resolve(&r(&format!("{addr}/x")), &amd64(), &AuthConfig::anonymous())
        .await
        .unwrap_err();
    server.abort();
    assert_eq!(err.to_string(), format!("Get \"http://{addr}/v2/\": EOF"));
}

#[tokio::test]
async fn an_invalid_token_is_fetched_again() {
    // The token server first hands out a token the registry then calls invalid (revoked early).
    let issued = Arc::new(AtomicUsize::new(0));
    let stub = Stub::start(move |req, addr| {
        let challenge = format!(r#"Bearer realm="http://{addr}/token",service="svc""#);
        if req.uri.path() == "/token" {
            let n = issued.fetch_add(1, Ordering::SeqCst);
            let tok = if n == 0 { "OLD" } else { "NEW" };
            return respond(200, &[], format!(r#"{{"token":"{tok}"}}"#));
        }
        match req.header("authorization") {
            Some("Bearer NEW") => {}
            Some(_) => {
                let mut resp = json_error(401, "UNAUTHORIZED", "token expired");
                let c = format!(r#"{challenge},scope="repository:app:pull",error="invalid_token""#);
                resp.headers_mut()
                    .insert("www-authenticate", c.parse().unwrap());
                return resp;
            }
            None => {
                let mut resp = json_error(401, "UNAUTHORIZED", "authentication required");
                resp.headers_mut()
                    .insert("www-authenticate", challenge.parse().unwrap());
                return resp;
            }
        }
        let m = manifest();
        match req.uri.path() {
            "/v2/" => respond(200, &[], ""),
            _ => respond(200, &[("Content-Type", OCI_MANIFEST)], m),
        }
    })
    .await;
    let c = client();
    let res = c
        .resolve(
            &r(&format!("{}/app", stub.addr)),
            &amd64(),
            &AuthConfig::anonymous(),
        )
        .await
        .unwrap();
    assert_eq!(res.manifest_digest, Digest::sha256(&manifest()));
    assert_eq!(stub.count("/token"), 2);
}

#[tokio::test]
async fn resume_works_when_the_registry_ignores_range() {
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::sha256(&data);
    let body = data.clone();
    let stub = Stub::start(move |req, _| match req.uri.path() {
        "/v2/" => respond(200, &[], ""),
        _ => respond(200, &[], body.clone()), // always the whole blob, status 200
    })
    .await;
    let c = client();
    let desc = Descriptor::new("application/octet-stream", d, data.len() as u64);
    let reference = r(&format!("{}/app", stub.addr));
    let mut s = c
        .fetch_blob_from(&reference, &desc, 12_345, &AuthConfig::anonymous())
        .await
        .unwrap();
    assert_eq!(s.size, data.len() as u64 - 12_345);
    let mut got = Vec::new();
    while let Some(chunk) = futures::StreamExt::next(&mut s).await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, data[12_345..]);
    assert_eq!(
        stub.requests().last().unwrap().header("range"),
        Some("bytes=12345-")
    );
}

#[tokio::test]
async fn index_entries_without_platform_are_a_last_resort() {
    let m = manifest();
    let md = Digest::sha256(&m);
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{md}","size":{}}}]}}"#,
        pier_registry::manifest::OCI_INDEX,
        m.len()
    );
    let stub = Stub::start(move |req, _| match req.uri.path() {
        "/v2/" => respond(200, &[], ""),
        "/v2/app/manifests/latest" => respond(
            200,
            &[("Content-Type", pier_registry::manifest::OCI_INDEX)],
            index.clone(),
        ),
        p if p == format!("/v2/app/manifests/{md}") => {
            respond(200, &[("Content-Type", OCI_MANIFEST)], m.clone())
        }
        _ => json_error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
    })
    .await;
    let res = client()
        .resolve(
            &r(&format!("{}/app", stub.addr)),
            &amd64(),
            &AuthConfig::anonymous(),
        )
        .await
        .unwrap();
    assert_eq!(res.manifest_digest, Digest::sha256(&manifest()));
    assert!(res.index.is_some());
}

#[tokio::test]
async fn mount_asks_for_pull_on_the_source_repository() {
    // The token grants exactly the scopes requested; the registry mounts only when the token
    // covers both repositories.
    let stub = Stub::start(|req, addr| {
        let challenge = format!(r#"Bearer realm="http://{addr}/token",service="svc""#);
        if req.uri.path() == "/token" {
            let scopes: Vec<String> =
                url::form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
                    .filter(|(k, _)| k == "scope")
                    .map(|(_, v)| v.into_owned())
                    .collect();
            let tok = scopes.join("+").replace([' ', ':', ','], "_");
            return respond(200, &[], format!(r#"{{"token":"{tok}"}}"#));
        }
        let Some(auth) = req.header("authorization") else {
            let mut resp = json_error(401, "UNAUTHORIZED", "authentication required");
            resp.headers_mut()
                .insert("www-authenticate", challenge.parse().unwrap());
            return resp;
        };
        match req.uri.path() {
            "/v2/" => respond(200, &[], ""),
            "/v2/dst/blobs/uploads/" => {
                let both = auth.contains("repository_dst_pull_push")
                    && auth.contains("repository_src_pull");
                if both {
                    respond(201, &[("Location", "/v2/dst/blobs/x")], "")
                } else {
                    respond(202, &[("Location", "/v2/dst/blobs/uploads/abc")], "")
                }
            }
            "/v2/dst/blobs/uploads/abc" => respond(204, &[], ""),
            _ => json_error(404, "NAME_UNKNOWN", "repository name not known to registry"),
        }
    })
    .await;
    let c = client();
    let dst = r(&format!("{}/dst", stub.addr));
    let mounted = c
        .mount_blob(&dst, &Digest::sha256(b"l"), "src", &AuthConfig::anonymous())
        .await
        .unwrap();
    assert!(
        mounted,
        "requests: {:?}",
        stub.requests()
            .iter()
            .map(|s| s.uri.to_string())
            .collect::<Vec<_>>()
    );
}
