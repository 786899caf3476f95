//! A throwaway OCI registry for tests: Debian's `/usr/bin/docker-registry` (distribution 2.8)
//! serving plain HTTP on a free `127.0.0.1` port, with filesystem storage in its own temp dir,
//! no auth and deletes enabled. [`Registry::start`] returns once `GET /v2/` answers 200;
//! dropping the value kills that process (by its PID only) and removes its directory.
//!
//! It also carries the minimal pusher the fixtures use: monolithic blob upload (POST then PUT
//! with `?digest=`) and manifest PUT.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use crate::http::{tcp_request, Response};

/// Path of the registry binary (`PIER_REGISTRY_BIN` overrides).
pub fn registry_bin() -> PathBuf {
    std::env::var_os("PIER_REGISTRY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"))
}

/// "sha256:<hex>" of some bytes.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A running docker-registry. See the module docs.
pub struct Registry {
    child: Child,
    dir: PathBuf,
    addr: String,
}

/// A port that was free a moment ago on 127.0.0.1 (nothing listens on it once this returns).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

impl Registry {
    /// Start a registry; panics (with its log) if it does not come up within 20 s.
    pub fn start() -> Registry {
        let mut last_log = String::new();
        // The port is picked before the registry binds it, so another process may win the
        // race: retry with a new port a few times.
        for _ in 0..5 {
            match Self::try_start() {
                Ok(r) => return r,
                Err(log) => last_log = log,
            }
        }
        panic!("docker-registry did not start; last log:\n{last_log}");
    }

    fn try_start() -> Result<Registry, String> {
        let dir = tempfile::Builder::new()
            .prefix("pier-reg-")
            .tempdir_in("/tmp")
            .expect("create registry temp dir")
            .keep();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n  \
             maintenance:\n    uploadpurging:\n      enabled: false\n\
             http:\n  addr: {addr}\n",
            data = dir.join("data").display()
        );
        fs::write(dir.join("config.yml"), config).expect("write registry config");
        let log = fs::File::create(dir.join("registry.log")).expect("create registry log");
        let child = Command::new(registry_bin())
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", registry_bin().display()));
        let mut reg = Registry { child, dir, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = reg.child.try_wait() {
                return Err(reg.log()); // exited (port taken?): Drop cleans up
            }
            if let Ok(r) = tcp_request(&reg.addr, "GET", "/v2/", &[], None) {
                if r.status == 200 {
                    return Ok(reg);
                }
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        Err(reg.log())
    }

    /// "127.0.0.1:PORT"
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The registry's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The registry's own directory (config, log, storage); removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Root of the filesystem storage driver.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The file holding a blob's bytes inside the storage dir (to corrupt it in tests).
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// What the registry wrote to stdout/stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// One request to the registry.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        tcp_request(&self.addr, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path} to registry {}: {e}", self.addr))
    }

    /// Upload a blob to `repo` (monolithic POST + PUT); returns its digest. Skips the upload
    /// when the registry already has it.
    pub fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256_digest(data);
        let head = self.request("HEAD", &format!("/v2/{repo}/blobs/{digest}"), &[], None);
        if head.status == 200 {
            return digest;
        }
        let start = self.request(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            Some(b""),
        );
        assert_eq!(start.status, 202, "start upload: {}", start.text());
        let location = start.header("location").expect("upload Location header");
        // Location may be absolute ("http://host/v2/...") or a path.
        let path = match location.find("/v2/") {
            Some(i) => &location[i..],
            None => location,
        };
        let sep = if path.contains('?') { '&' } else { '?' };
        let put = self.request(
            "PUT",
            &format!("{path}{sep}digest={digest}"),
            &[("Content-Type", "application/octet-stream")],
            Some(data),
        );
        assert_eq!(put.status, 201, "finish upload of {digest}: {}", put.text());
        digest
    }

    /// PUT a manifest (or index) under `reference` (tag or digest); returns its digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        data: &[u8],
    ) -> String {
        let r = self.request(
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Content-Type", media_type)],
            Some(data),
        );
        assert_eq!(
            r.status,
            201,
            "push manifest {repo}:{reference}: {}",
            r.text()
        );
        let digest = sha256_digest(data);
        if let Some(d) = r.header("docker-content-digest") {
            assert_eq!(d, digest, "registry computed another manifest digest");
        }
        digest
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill(); // SIGKILL to our own child, by PID
        let _ = self.child.wait();
        if !std::thread::panicking() || std::env::var_os("PIER_KEEP_DIRS").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_pushes_and_cleans_up() {
        if !registry_bin().exists() {
            println!("SKIP: {} not installed", registry_bin().display());
            return;
        }
        let reg = Registry::start();
        let dir = reg.dir.clone();
        let pid = reg.pid();
        let d = reg.push_blob("t/x", b"hello");
        assert_eq!(d, sha256_digest(b"hello"));
        assert_eq!(reg.push_blob("t/x", b"hello"), d); // second push is a no-op
        assert!(reg.blob_data_path(&d).is_file());
        let got = reg.request("GET", &format!("/v2/t/x/blobs/{d}"), &[], None);
        assert_eq!(got.body, b"hello");
        drop(reg);
        assert!(!dir.exists());
        assert!(
            !Path::new(&format!("/proc/{pid}/status")).exists() || {
                // a zombie would have been reaped by wait(); the pid may be reused, so just check state
                let s = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                !s.contains("docker-registry")
            }
        );
    }
}
