//! Basic auth against a real registry: docker-registry with an htpasswd file (user "pier",
//! password "pierpass"), started here because pier-testkit's Registry runs without auth.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pier_image::digest::Digest;
use pier_image::reference::parse_normalized;
use pier_registry::manifest::{OCI_CONFIG, OCI_MANIFEST};
use pier_registry::{AuthConfig, Client, ClientOptions, RegistryError};
use pier_testkit::http::tcp_request;
use pier_testkit::registry::{free_port, registry_bin};

/// bcrypt("pierpass"), cost 5 (cheap for tests).
const HTPASSWD: &str = "pier:$2b$05$vvkNPE1qdbNXRo8eFc0mx.M4QVkwsSkzyjA5Y3M1mOS0XWMzqwHMS\n";

struct AuthRegistry {
    child: Child,
    dir: PathBuf,
    addr: String,
}

impl AuthRegistry {
    fn start() -> AuthRegistry {
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("pier-reg-auth-")
                .tempdir_in("/tmp")
                .unwrap()
                .keep();
            let addr = format!("127.0.0.1:{}", free_port());
            fs::write(dir.join("htpasswd"), HTPASSWD).unwrap();
            let config = format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {data}\n\
                 http:\n  addr: {addr}\n\
                 auth:\n  htpasswd:\n    realm: pier-realm\n    path: {htpasswd}\n",
                data = dir.join("data").display(),
                htpasswd = dir.join("htpasswd").display(),
            );
            fs::write(dir.join("config.yml"), config).unwrap();
            let log = fs::File::create(dir.join("registry.log")).unwrap();
            let child = Command::new(registry_bin())
                .arg("serve")
                .arg(dir.join("config.yml"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut reg = AuthRegistry { child, dir, addr };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = reg.child.try_wait() {
                    break;
                }
                if let Ok(r) = tcp_request(&reg.addr, "GET", "/v2/", &[], None) {
                    if r.status == 401 {
                        return reg;
                    }
                }
                std::thread::sleep(Duration::from_millis(30));
            }
            drop(reg); // port lost to a race, or never came up: try again
        }
        panic!("docker-registry with htpasswd did not start");
    }
}

impl Drop for AuthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill(); // our own child, by PID
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn basic_auth_push_and_pull() {
    let reg = AuthRegistry::start();
    let c = Client::new(ClientOptions::default()).unwrap();
    let reference = parse_normalized(&format!("{}/secure/app:1", reg.addr)).unwrap();
    let pier = AuthConfig {
        username: "pier".into(),
        password: "pierpass".into(),
        server_address: reg.addr.clone(),
        ..Default::default()
    };
    c.login(&reg.addr, &pier).await.unwrap();

    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = c
        .push_blob_bytes(&reference, &config[..], &pier)
        .await
        .unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
        config.len()
    );
    let digest = c
        .push_manifest(
            &reference,
            OCI_MANIFEST,
            manifest.clone().into_bytes(),
            &pier,
        )
        .await
        .unwrap();
    let res = c
        .resolve(&reference, &"linux/amd64".parse().unwrap(), &pier)
        .await
        .unwrap();
    assert_eq!(res.digest, digest);
    assert_eq!(res.manifest_digest, Digest::sha256(manifest.as_bytes()));
    let got = c
        .fetch_blob_bytes(&reference, &res.config, &pier)
        .await
        .unwrap();
    assert_eq!(got, config);

    // Without credentials: docker's "pull access denied".
    let err = c
        .resolve(
            &reference,
            &"linux/amd64".parse().unwrap(),
            &AuthConfig::anonymous(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "pull access denied for {}/secure/app, repository does not exist or may require 'docker login': unauthorized: authentication required",
            reg.addr
        )
    );
    // With a wrong password: the registry's refusal, and login fails.
    let wrong = AuthConfig {
        username: "pier".into(),
        password: "nope".into(),
        ..Default::default()
    };
    let err = c
        .resolve(&reference, &"linux/amd64".parse().unwrap(), &wrong)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Registry { .. }), "{err:?}");
    assert_eq!(err.to_string(), "unauthorized: authentication required");
    let err = c.login(&reg.addr, &wrong).await.unwrap_err();
    assert_eq!(err.to_string(), "unauthorized: authentication required");
}
