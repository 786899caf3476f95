//! Scheme policy with a non-loopback *name*: the host's own name, when /etc/hosts maps it to a
//! loopback address (it then is not "localhost" or an IP literal, so docker's rules apply to it
//! as to a remote registry). Skipped, with a line saying so, when the host name does not resolve
//! to loopback.

mod common;

use std::net::ToSocketAddrs;

use common::{respond, Stub};
use pier_image::reference::parse_normalized;
use pier_registry::{AuthConfig, Client, ClientOptions, RegistryError};

/// The host name and the loopback IP it resolves to, if it does.
fn loopback_hostname() -> Option<(String, std::net::IpAddr)> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_string();
    if name.is_empty() || name == "localhost" {
        return None;
    }
    let ip = (name.as_str(), 0).to_socket_addrs().ok()?.next()?.ip();
    ip.is_loopback().then_some((name, ip))
}

#[tokio::test]
async fn insecure_registry_falls_back_to_http_and_secure_one_does_not() {
    let Some((name, ip)) = loopback_hostname() else {
        println!("SKIP: the host name does not resolve to a loopback address");
        return;
    };
    if !ip.is_ipv4() || ip.to_string() != "127.0.0.1" {
        println!("SKIP: host name resolves to {ip}, the stub listens on 127.0.0.1");
        return;
    }
    let stub = Stub::start(|req, _| match req.uri.path() {
        "/v2/" => respond(200, &[], ""),
        _ => common::json_error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
    })
    .await;
    let port = stub.addr.rsplit(':').next().unwrap();
    let host = format!("{name}:{port}");
    let reference = parse_normalized(&format!("{host}/app")).unwrap();
    let linux: pier_registry::Platform = "linux/amd64".parse().unwrap();

    // Not in insecure_registries: https only, and Go's words for a plain-http server.
    let secure = Client::new(ClientOptions::default()).unwrap();
    let err = secure
        .resolve(&reference, &linux, &AuthConfig::anonymous())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Transport { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("Get \"https://{host}/v2/\": http: server gave HTTP response to HTTPS client")
    );

    // Listed as insecure: https fails, http answers.
    let insecure = Client::new(ClientOptions {
        insecure_registries: vec![host.clone()],
        ..Default::default()
    })
    .unwrap();
    let err = insecure
        .resolve(&reference, &linux, &AuthConfig::anonymous())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("manifest for {host}/app:latest not found: manifest unknown: manifest unknown")
    );
    assert!(
        stub.count("/v2/app/") >= 1,
        "reached the registry over http"
    );
}
