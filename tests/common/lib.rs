//! Helpers shared by the end-to-end test targets: per-test environments (a registry and a pierd
//! of their own), skip checks that print a `SKIP:` line, CLI shorthands, raw API pulls and
//! inspections, and checks of the daemon's on-disk stores.
//!
//! Every helper that needs something missing (root, `target/release/pierd`, the docker CLI, the
//! pier CLI, docker-registry) reports it with a `SKIP: …` line and lets the test return early,
//! so the suite stays green on machines without them and says why.

use std::path::{Path, PathBuf};

use pier_testkit::cli::{run, which, Run};
use pier_testkit::daemon::{pier_bin, skip_reason};
use pier_testkit::registry::registry_bin;
use pier_testkit::{Daemon, DaemonOpts, Registry};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The API version prefix the tests call.
pub const V: &str = "/v1.50";

/// A registry and a daemon for one test.
pub struct Env {
    pub reg: Registry,
    pub d: Daemon,
}

/// Why a test needing a daemon and a registry cannot run, printed as `SKIP: …`.
pub fn skip_daemon() -> bool {
    if let Some(r) = skip_reason() {
        println!("SKIP: {r}");
        return true;
    }
    if !registry_bin().is_file() {
        println!("SKIP: {} not installed", registry_bin().display());
        return true;
    }
    if !pier_testkit::fixtures::busybox_bin().is_file() {
        println!("SKIP: busybox-static not installed");
        return true;
    }
    false
}

/// A registry and a daemon, or None after printing a SKIP line.
pub fn setup() -> Option<Env> {
    setup_with(DaemonOpts::default())
}

/// [`setup`] with daemon options.
pub fn setup_with(opts: DaemonOpts) -> Option<Env> {
    if skip_daemon() {
        return None;
    }
    let reg = Registry::start();
    let d = Daemon::start(opts);
    Some(Env { reg, d })
}

/// True (after printing the SKIP line) when the docker CLI is not installed.
pub fn skip_docker() -> bool {
    if which("docker").is_none() {
        println!("{}", pier_testkit::SKIP_DOCKER);
        return true;
    }
    false
}

/// True (after printing the SKIP line) when the pier CLI is not built.
pub fn skip_pier() -> bool {
    if !pier_bin().is_file() {
        println!("{}", pier_testkit::cli::skip_pier());
        return true;
    }
    false
}

/// Run the docker CLI against `d` (call [`skip_docker`] first).
pub fn docker(d: &Daemon, args: &[&str]) -> Run {
    run(pier_testkit::docker(d).expect("docker CLI"), args)
}

/// Run the pier CLI against `d` (call [`skip_pier`] first).
pub fn pier(d: &Daemon, args: &[&str]) -> Run {
    run(pier_testkit::pier(d).expect("pier CLI"), args)
}

/// A daemon with the busybox fixture pulled and tagged `busybox` (None after a SKIP line when
/// the docker CLI or the daemon's prerequisites are missing).
pub fn env_with_busybox() -> Option<Env> {
    env_with_busybox_opts(DaemonOpts::default())
}

/// [`env_with_busybox`] with daemon options.
pub fn env_with_busybox_opts(opts: DaemonOpts) -> Option<Env> {
    if skip_docker() {
        return None;
    }
    let env = setup_with(opts)?;
    let img = pier_testkit::fixtures::busybox(&env.reg);
    docker(&env.d, &["pull", &img.reference()]).ok();
    docker(&env.d, &["tag", &img.reference(), "busybox"]).ok();
    Some(env)
}

/// `docker inspect NAME` of one container.
pub fn inspect_container(env: &Env, name: &str) -> Value {
    let out = docker(&env.d, &["inspect", name]).ok().to_string();
    let v: Value = serde_json::from_str(&out).expect("inspect JSON");
    v[0].clone()
}

/// Percent-encode a query value (everything but unreserved characters).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `POST /images/create` as the docker CLI sends it; Ok(progress messages) when the pull
/// succeeded, Err(message) on an HTTP error or an error message in the stream.
pub fn api_pull(
    d: &Daemon,
    name: &str,
    tag: &str,
    platform: Option<&str>,
) -> Result<Vec<Value>, String> {
    let mut path = format!("{V}/images/create?fromImage={}&tag={}", enc(name), enc(tag));
    if let Some(p) = platform {
        path.push_str(&format!("&platform={}", enc(p)));
    }
    let r = d
        .try_api("POST", &path, None)
        .map_err(|e| format!("I/O: {e}"))?;
    if r.status != 200 {
        return Err(format!("HTTP {}: {}", r.status, r.text()));
    }
    let msgs = r.json_stream();
    for m in &msgs {
        if let Some(e) = m.get("error").or_else(|| m.pointer("/errorDetail/message")) {
            return Err(e.as_str().unwrap_or_default().to_string());
        }
    }
    Ok(msgs)
}

/// `GET /images/{name}/json`: Some(the image) on 200, None on 404, panics otherwise.
pub fn api_inspect(d: &Daemon, name: &str) -> Option<Value> {
    let r = d.api("GET", &format!("{V}/images/{name}/json"), None);
    match r.status {
        200 => Some(r.json()),
        404 => None,
        s => panic!("image inspect {name}: HTTP {s}: {}", r.text()),
    }
}

/// The `docker image inspect` JSON of one image.
pub fn docker_inspect(d: &Daemon, name: &str) -> Value {
    let r = docker(d, &["image", "inspect", name]);
    let v: Value = serde_json::from_str(r.ok()).expect("inspect JSON");
    v[0].clone()
}

/// `<data-root>/content`
pub fn content_root(d: &Daemon) -> PathBuf {
    d.data_root().join("content")
}

/// Files under `<content>/blobs/sha256` as (name, path).
pub fn blob_files(d: &Daemon) -> Vec<(String, PathBuf)> {
    let dir = content_root(d).join("blobs/sha256");
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
        }
    }
    out.sort();
    out
}

/// Every regular file anywhere under `dir` (recursively).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => out.extend(files_under(&p)),
            Ok(_) => out.push(p),
            Err(_) => {}
        }
    }
    out
}

/// The content store holds no temp files (nothing under ingest/, nothing in blobs/sha256 that is
/// not a 64-hex name) and every blob's sha256 equals its name. Returns the problems found.
pub fn content_store_problems(d: &Daemon) -> Vec<String> {
    let mut problems = Vec::new();
    for f in files_under(&content_root(d).join("ingest")) {
        problems.push(format!("ingest leftover {}", f.display()));
    }
    for (name, path) in blob_files(d) {
        let is_hex = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex {
            problems.push(format!("stray file in blobs: {}", path.display()));
            continue;
        }
        match std::fs::read(&path) {
            Ok(data) => {
                let got = hex::encode(Sha256::digest(&data));
                if got != name {
                    problems.push(format!("blob {name} has sha256 {got}"));
                }
            }
            Err(e) => problems.push(format!("read {}: {e}", path.display())),
        }
    }
    problems
}

/// The snapshot store holds no temp dirs: every entry of `<data-root>/snapshots/layers` is a
/// 64-hex chain ID with an `fs` dir. Returns the problems found.
pub fn snapshot_problems(d: &Daemon) -> Vec<String> {
    let mut problems = Vec::new();
    let Ok(rd) = std::fs::read_dir(d.data_root().join("snapshots/layers")) else {
        return problems;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let is_hex = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex {
            problems.push(format!("stray snapshot entry {name}"));
        } else if !e.path().join("fs").is_dir() {
            problems.push(format!("snapshot {name} has no fs dir"));
        }
    }
    problems
}

/// The chain IDs ("sha256:…") of the unpacked layers under `<data-root>/snapshots/layers`.
pub fn snapshot_chains(d: &Daemon) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(d.data_root().join("snapshots/layers"))
        .map(|rd| {
            rd.flatten()
                .map(|e| format!("sha256:{}", e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default()
}

/// A read-only overlay of some dirs (bottom first) on a fresh temp dir, detached on drop.
pub struct Overlay {
    target: tempfile::TempDir,
}

impl Overlay {
    /// Mount `lowerdir=<top>:…:<bottom>` read-only (needs root and at least two dirs).
    pub fn mount(lower_bottom_first: &[PathBuf]) -> nix::Result<Overlay> {
        let target = tempfile::Builder::new()
            .prefix("pier-ovl-")
            .tempdir_in("/tmp")
            .expect("overlay mount point");
        let lowers: Vec<String> = lower_bottom_first
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect();
        nix::mount::mount(
            Some("overlay"),
            target.path(),
            Some("overlay"),
            nix::mount::MsFlags::MS_RDONLY,
            Some(format!("lowerdir={}", lowers.join(":")).as_str()),
        )?;
        Ok(Overlay { target })
    }

    /// Where the overlay is mounted.
    pub fn path(&self) -> &Path {
        self.target.path()
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.target.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Chain IDs of a list of diff IDs ("sha256:…"), as the OCI image spec defines them.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => format!(
                "sha256:{}",
                hex::encode(Sha256::digest(format!("{prev} {d}").as_bytes()))
            ),
        };
        out.push(next);
    }
    out
}

/// Non-empty lines of a CLI's stdout.
pub fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// Split a table line into its cells (docker separates columns by 2+ spaces or 3 with padding).
pub fn cells(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut spaces = 0;
    for c in line.chars() {
        if c == ' ' {
            spaces += 1;
            continue;
        }
        if spaces >= 2 && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        } else if spaces == 1 {
            cur.push(' ');
        }
        spaces = 0;
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The short image ID docker shows: 12 hex chars of the config digest.
pub fn short_id(digest: &str) -> String {
    digest.trim_start_matches("sha256:")[..12].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells() {
        assert_eq!(
            cells("REPOSITORY   TAG       IMAGE ID       CREATED       SIZE"),
            ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
        );
        assert_eq!(
            cells("127.0.0.1:5/fixtures/busybox   latest    0123456789ab   2 years ago   2.03MB"),
            [
                "127.0.0.1:5/fixtures/busybox",
                "latest",
                "0123456789ab",
                "2 years ago",
                "2.03MB"
            ]
        );
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let d = vec!["sha256:a".to_string(), "sha256:b".to_string()];
        let c = chain_ids(&d);
        assert_eq!(c[0], "sha256:a");
        assert_eq!(
            c[1],
            format!(
                "sha256:{}",
                hex::encode(Sha256::digest(b"sha256:a sha256:b"))
            )
        );
        assert_eq!(enc("127.0.0.1:5/x"), "127.0.0.1%3A5%2Fx");
    }
}
