//! Test images built from scratch (no internet) and pushed to a [`Registry`].
//!
//! Every fixture returns an [`Image`] that says what was pushed: reference, the digest the tag
//! points to (docker's RepoDigests entry), manifest and config digests (the config digest is the
//! image ID), diff IDs, layer descriptors and the final file tree the layers stack up to.
//! Layers are reproducible ([`crate::layer`]), so digests are stable for a given host busybox.
//!
//! | function | repository | what |
//! |---|---|---|
//! | [`busybox`] | `fixtures/busybox:latest` | host busybox-static + applet symlinks, Docker schema2 |
//! | [`whiteouts`] | `fixtures/whiteouts:latest` | 3 OCI layers with `.wh.` files and an opaque dir |
//! | [`schema2`] / [`oci`] | `fixtures/schema2`, `fixtures/oci` | the same image in both formats |
//! | [`multiarch`] | `fixtures/multiarch-oci`, `fixtures/multiarch-docker` | index of linux/amd64 + linux/arm64 |
//! | [`compressed`] | `fixtures/gzip`, `fixtures/zstd`, `fixtures/plain` | one layer per compression |
//! | [`large`] | `fixtures/large` | busybox + a layer of N MiB of pseudo-random bytes |

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::layer::{stack, Compression, Entry, Layer, LayerBuilder};
use crate::registry::Registry;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The `created` time of every fixture config.
pub const CREATED: &str = "2024-01-01T00:00:00Z";
/// The PATH every fixture sets.
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Manifest flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Docker schema2 (`application/vnd.docker.distribution.manifest.v2+json`).
    Docker,
    /// OCI image manifest / index.
    Oci,
}

/// A layer as the manifest lists it.
#[derive(Debug, Clone)]
pub struct LayerInfo {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    pub diff_id: String,
    /// Size of the uncompressed tar.
    pub tar_size: u64,
}

/// What a fixture pushed. See the module docs.
#[derive(Debug, Clone)]
pub struct Image {
    /// "127.0.0.1:PORT"
    pub registry: String,
    /// "fixtures/busybox"
    pub repo: String,
    pub tag: String,
    /// Digest of what the tag points to (the index for multi-platform images).
    pub digest: String,
    /// Media type of what the tag points to.
    pub media_type: String,
    /// Digest of the (host platform's) image manifest.
    pub manifest_digest: String,
    /// Size in bytes of the (host platform's) image manifest.
    pub manifest_size: u64,
    /// Digest of the config blob: the image ID.
    pub config_digest: String,
    pub config: Value,
    pub diff_ids: Vec<String>,
    pub layers: Vec<LayerInfo>,
    pub architecture: String,
    pub os: String,
    pub variant: Option<String>,
    /// The final file tree (layers stacked, whiteouts applied); paths relative, no leading "/".
    pub files: BTreeMap<String, Entry>,
    /// For an index: every platform's image (each with its own manifest digest); else empty.
    pub platforms: Vec<Image>,
}

impl Image {
    /// "127.0.0.1:PORT/fixtures/busybox"
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repo)
    }
    /// "127.0.0.1:PORT/fixtures/busybox:latest"
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name(), self.tag)
    }
    /// "127.0.0.1:PORT/fixtures/busybox@sha256:…" — docker's RepoDigests entry.
    pub fn repo_digest(&self) -> String {
        format!("{}@{}", self.name(), self.digest)
    }
    /// The image ID ("sha256:…", the config digest).
    pub fn id(&self) -> &str {
        &self.config_digest
    }
    /// The platform image for this architecture ("amd64", "arm64").
    pub fn platform(&self, arch: &str) -> Option<&Image> {
        self.platforms.iter().find(|p| p.architecture == arch)
    }
}

/// The host architecture in Go's words ("amd64", "arm64", ...).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// The platform a multi-platform test should ask for explicitly (not the host's).
pub fn other_arch() -> &'static str {
    if host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    }
}

/// Applets linked into /bin when `busybox --list` cannot be run.
pub(crate) const APPLETS: &[&str] = &[
    "[",
    "awk",
    "base64",
    "basename",
    "cat",
    "chmod",
    "chown",
    "cp",
    "cut",
    "date",
    "dd",
    "df",
    "dirname",
    "dmesg",
    "du",
    "echo",
    "env",
    "false",
    "find",
    "free",
    "grep",
    "head",
    "hostname",
    "httpd",
    "id",
    "ifconfig",
    "ip",
    "kill",
    "ln",
    "ls",
    "md5sum",
    "mkdir",
    "mount",
    "mv",
    "nc",
    "netstat",
    "nslookup",
    "ping",
    "printf",
    "ps",
    "pwd",
    "readlink",
    "rm",
    "route",
    "sed",
    "seq",
    "sh",
    "sha256sum",
    "sleep",
    "sort",
    "stat",
    "tail",
    "tar",
    "tee",
    "test",
    "timeout",
    "top",
    "touch",
    "tr",
    "true",
    "umount",
    "uname",
    "uniq",
    "uptime",
    "wc",
    "wget",
    "whoami",
    "xargs",
    "yes",
];

/// Path of the static busybox the fixtures copy (`PIER_BUSYBOX` overrides).
pub fn busybox_bin() -> std::path::PathBuf {
    std::env::var_os("PIER_BUSYBOX")
        .map(Into::into)
        .unwrap_or_else(|| "/usr/bin/busybox".into())
}

/// The busybox rootfs: dirs of a minimal Linux tree, /bin/busybox, a symlink per applet,
/// /etc/passwd and /etc/group.
pub fn busybox_layer() -> &'static LayerBuilder {
    static L: OnceLock<LayerBuilder> = OnceLock::new();
    L.get_or_init(|| {
        let bin = busybox_bin();
        let data = std::fs::read(&bin)
            .unwrap_or_else(|e| panic!("read {} (busybox-static): {e}", bin.display()));
        let applets = crate::bundle::busybox_applets();
        let mut l = LayerBuilder::new();
        for d in [
            "dev", "etc", "home", "proc", "root", "sys", "usr/bin", "var",
        ] {
            l = l.dir(d, 0o755);
        }
        l = l
            .dir("root", 0o700)
            .dir("tmp", 0o1777)
            .file("bin/busybox", 0o755, data)
            .file(
                "etc/passwd",
                0o644,
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
            )
            .file("etc/group", 0o644, "root:x:0:\nnogroup:x:65534:\n");
        for a in applets {
            l = l.symlink(&format!("bin/{a}"), "busybox");
        }
        l
    })
}

/// The uncompressed busybox rootfs tar (for `docker import`).
pub fn busybox_rootfs_tar() -> Vec<u8> {
    busybox_layer().tar()
}

fn busybox_built() -> &'static Layer {
    static L: OnceLock<Layer> = OnceLock::new();
    L.get_or_init(|| busybox_layer().build(Compression::Gzip))
}

/// A config JSON for the given layers (history one entry per layer).
pub fn config_json(arch: &str, variant: Option<&str>, diff_ids: &[String], cmd: &[&str]) -> Value {
    let history: Vec<Value> = (0..diff_ids.len())
        .map(|i| json!({"created": CREATED, "created_by": format!("pier-testkit layer {i}")}))
        .collect();
    let mut c = json!({
        "architecture": arch,
        "os": "linux",
        "created": CREATED,
        "config": {"Env": [PATH_ENV], "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    if let Some(v) = variant {
        c["variant"] = json!(v);
    }
    c
}

fn layer_media_type(format: Format, c: Compression) -> &'static str {
    match (format, c) {
        (Format::Docker, Compression::Gzip) => DOCKER_LAYER_GZIP,
        (Format::Docker, Compression::None) => "application/vnd.docker.image.rootfs.diff.tar",
        (Format::Docker, Compression::Zstd) => OCI_LAYER_ZSTD, // what docker itself pushes
        (Format::Oci, Compression::Gzip) => OCI_LAYER_GZIP,
        (Format::Oci, Compression::None) => OCI_LAYER,
        (Format::Oci, Compression::Zstd) => OCI_LAYER_ZSTD,
    }
}

/// One platform image to push: its layers (bottom first) and what they were built from.
struct Spec<'a> {
    arch: &'a str,
    variant: Option<&'a str>,
    layers: Vec<(&'a LayerBuilder, Layer)>,
    cmd: &'a [&'a str],
}

/// Push blobs, config and manifest of one image; `tag` None pushes by digest only.
fn push_image(reg: &Registry, repo: &str, tag: Option<&str>, format: Format, spec: Spec) -> Image {
    let diff_ids: Vec<String> = spec.layers.iter().map(|(_, l)| l.diff_id.clone()).collect();
    let config = config_json(spec.arch, spec.variant, &diff_ids, spec.cmd);
    let config_bytes = serde_json::to_vec(&config).expect("config JSON");
    let config_digest = reg.push_blob(repo, &config_bytes);
    let mut layers = Vec::new();
    for (_, l) in &spec.layers {
        reg.push_blob(repo, &l.blob);
        layers.push(LayerInfo {
            digest: l.digest.clone(),
            size: l.blob.len() as u64,
            media_type: layer_media_type(format, l.compression).to_string(),
            diff_id: l.diff_id.clone(),
            tar_size: l.tar.len() as u64,
        });
    }
    let (mt, config_mt) = match format {
        Format::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG),
        Format::Oci => (OCI_MANIFEST, OCI_CONFIG),
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": mt,
        "config": {"mediaType": config_mt, "digest": config_digest, "size": config_bytes.len()},
        "layers": layers.iter().map(|l| json!({
            "mediaType": l.media_type, "digest": l.digest, "size": l.size,
        })).collect::<Vec<_>>(),
    });
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("manifest JSON");
    let digest = crate::registry::sha256_digest(&manifest_bytes);
    let pushed = reg.push_manifest(repo, tag.unwrap_or(&digest), mt, &manifest_bytes);
    let builders: Vec<&LayerBuilder> = spec.layers.iter().map(|(b, _)| *b).collect();
    Image {
        registry: reg.addr().to_string(),
        repo: repo.to_string(),
        tag: tag.unwrap_or("").to_string(),
        digest: pushed.clone(),
        media_type: mt.to_string(),
        manifest_digest: pushed,
        manifest_size: manifest_bytes.len() as u64,
        config_digest,
        config,
        diff_ids,
        layers,
        architecture: spec.arch.to_string(),
        os: "linux".to_string(),
        variant: spec.variant.map(String::from),
        files: stack(&builders),
        platforms: Vec::new(),
    }
}

/// `fixtures/busybox:latest`: one gzip layer (host busybox-static), Cmd ["sh"], Docker schema2.
pub fn busybox(reg: &Registry) -> Image {
    busybox_as(reg, "fixtures/busybox", "latest")
}

/// The busybox image pushed under another repository and tag.
pub fn busybox_as(reg: &Registry, repo: &str, tag: &str) -> Image {
    let spec = Spec {
        arch: host_arch(),
        variant: None,
        layers: vec![(busybox_layer(), busybox_built().clone())],
        cmd: &["sh"],
    };
    push_image(reg, repo, Some(tag), Format::Docker, spec)
}

/// The three layers of the whiteout fixture (bottom first).
pub fn whiteout_layers() -> [LayerBuilder; 3] {
    let l1 = LayerBuilder::new()
        .file("a/keep.txt", 0o644, "keep\n")
        .file("a/gone.txt", 0o644, "gone\n")
        .file("b/old1.txt", 0o644, "old1\n")
        .file("b/sub/old2.txt", 0o644, "old2\n")
        .file("c.txt", 0o644, "c1\n")
        .file("d/x.txt", 0o644, "x\n");
    let l2 = LayerBuilder::new()
        .whiteout("a/gone.txt")
        .opaque("b")
        .file("b/new.txt", 0o644, "new\n")
        .file("c.txt", 0o644, "c2\n")
        .file("e.txt", 0o600, "e\n");
    let l3 = LayerBuilder::new()
        .whiteout("d")
        .file("a/added.txt", 0o644, "added\n")
        .symlink("link", "c.txt");
    [l1, l2, l3]
}

/// `fixtures/whiteouts:latest`: 3 OCI gzip layers with whiteouts and an opaque dir. The final
/// tree is exactly: a/, a/keep.txt, a/added.txt, b/, b/new.txt, c.txt ("c2\n"), e.txt, link -> c.txt.
pub fn whiteouts(reg: &Registry) -> Image {
    static L: OnceLock<[LayerBuilder; 3]> = OnceLock::new();
    let ls = L.get_or_init(whiteout_layers);
    let spec = Spec {
        arch: host_arch(),
        variant: None,
        layers: ls.iter().map(|b| (b, b.build(Compression::Gzip))).collect(),
        cmd: &["sh"],
    };
    push_image(reg, "fixtures/whiteouts", Some("latest"), Format::Oci, spec)
}

fn extra_layer() -> &'static LayerBuilder {
    static L: OnceLock<LayerBuilder> = OnceLock::new();
    L.get_or_init(|| {
        LayerBuilder::new()
            .file("etc/fixture", 0o644, "pier fixture\n")
            .file(
                "usr/share/doc/readme",
                0o644,
                "same content, two manifest formats\n",
            )
    })
}

fn two_layer(reg: &Registry, repo: &str, format: Format) -> Image {
    let spec = Spec {
        arch: host_arch(),
        variant: None,
        layers: vec![
            (busybox_layer(), busybox_built().clone()),
            (extra_layer(), extra_layer().build(Compression::Gzip)),
        ],
        cmd: &["sh"],
    };
    push_image(reg, repo, Some("latest"), format, spec)
}

/// `fixtures/schema2:latest`: busybox + a small layer, Docker schema2 media types.
pub fn schema2(reg: &Registry) -> Image {
    two_layer(reg, "fixtures/schema2", Format::Docker)
}

/// `fixtures/oci:latest`: the same layers and config as [`schema2`], OCI media types (so the
/// image ID is the same, the manifest digest differs).
pub fn oci(reg: &Registry) -> Image {
    two_layer(reg, "fixtures/oci", Format::Oci)
}

fn marker_layer(arch: &str) -> LayerBuilder {
    LayerBuilder::new().file("etc/arch", 0o644, format!("{arch}\n"))
}

/// `fixtures/multiarch-oci:latest` (OCI index) or `fixtures/multiarch-docker:latest` (Docker
/// manifest list) with linux/amd64 (busybox + /etc/arch) and linux/arm64/v8 (only /etc/arch,
/// which holds the architecture name). `Image` fields describe the host platform's entry;
/// `platforms` holds both.
pub fn multiarch(reg: &Registry, format: Format) -> Image {
    let repo = match format {
        Format::Oci => "fixtures/multiarch-oci",
        Format::Docker => "fixtures/multiarch-docker",
    };
    let amd = marker_layer("amd64");
    let arm = marker_layer("arm64");
    let mut platforms = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let marker = if arch == "amd64" { &amd } else { &arm };
        let mut layers = Vec::new();
        if arch == "amd64" {
            layers.push((busybox_layer(), busybox_built().clone()));
        }
        layers.push((marker, marker.build(Compression::Gzip)));
        let spec = Spec {
            arch,
            variant,
            layers,
            cmd: &["sh"],
        };
        platforms.push(push_image(reg, repo, None, format, spec));
    }
    let (mt, manifest_mt) = match format {
        Format::Oci => (OCI_INDEX, OCI_MANIFEST),
        Format::Docker => (DOCKER_LIST, DOCKER_MANIFEST),
    };
    let manifests: Vec<Value> = platforms
        .iter()
        .map(|p| {
            let size = p.manifest_size;
            let mut platform = json!({"architecture": p.architecture, "os": "linux"});
            if let Some(v) = &p.variant {
                platform["variant"] = json!(v);
            }
            json!({"mediaType": manifest_mt, "digest": p.digest, "size": size, "platform": platform})
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": mt, "manifests": manifests});
    let bytes = serde_json::to_vec_pretty(&index).expect("index JSON");
    let digest = reg.push_manifest(repo, "latest", mt, &bytes);
    let mut host = platforms
        .iter()
        .find(|p| p.architecture == host_arch())
        .unwrap_or(&platforms[0])
        .clone();
    for p in &mut platforms {
        p.tag = "latest".into();
    }
    host.tag = "latest".into();
    host.digest = digest;
    host.media_type = mt.into();
    host.platforms = platforms;
    host
}

fn compressed_layer() -> &'static LayerBuilder {
    static L: OnceLock<LayerBuilder> = OnceLock::new();
    L.get_or_init(|| {
        let text: String = (0..2000)
            .map(|i| format!("line {i} of a compressible file\n"))
            .collect();
        LayerBuilder::new()
            .file("data/text.txt", 0o644, text)
            .file("data/small", 0o600, "small\n")
            .symlink("data/link", "text.txt")
    })
}

/// `fixtures/gzip`, `fixtures/zstd` or `fixtures/plain` (tag latest): OCI image with busybox
/// (gzip) below one layer of the given compression; all three share the top layer's diff ID.
pub fn compressed(reg: &Registry, c: Compression) -> Image {
    let repo = match c {
        Compression::Gzip => "fixtures/gzip",
        Compression::Zstd => "fixtures/zstd",
        Compression::None => "fixtures/plain",
    };
    let spec = Spec {
        arch: host_arch(),
        variant: None,
        layers: vec![
            (busybox_layer(), busybox_built().clone()),
            (compressed_layer(), compressed_layer().build(c)),
        ],
        cmd: &["sh"],
    };
    push_image(reg, repo, Some("latest"), Format::Oci, spec)
}

/// Deterministic pseudo-random bytes (xorshift64*), incompressible enough for size tests.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `fixtures/large:latest`: busybox plus a gzip layer holding `/data.bin`, `mib` MiB of
/// pseudo-random bytes (for interrupted-pull tests).
pub fn large(reg: &Registry, mib: usize) -> Image {
    let data = LayerBuilder::new().file("data.bin", 0o644, pseudo_random(mib << 20, 42));
    let built = data.build(Compression::Gzip);
    let spec = Spec {
        arch: host_arch(),
        variant: None,
        layers: vec![(busybox_layer(), busybox_built().clone()), (&data, built)],
        cmd: &["sh"],
    };
    push_image(reg, "fixtures/large", Some("latest"), Format::Oci, spec)
}

/// Compare a directory tree on disk with an expected tree; returns the differences (empty when
/// equal). Regular-file contents, symlink targets and the set of paths are compared; modes only
/// for the permission bits.
pub fn diff_tree(root: &Path, expected: &BTreeMap<String, Entry>) -> Vec<String> {
    let mut actual = BTreeMap::new();
    walk(root, root, &mut actual);
    let mut diffs = Vec::new();
    for (p, e) in expected {
        match actual.get(p) {
            None => diffs.push(format!("missing {p}")),
            Some(a) if !same(a, e) => diffs.push(format!("{p}: expected {e:?}, found {a:?}")),
            _ => {}
        }
    }
    for p in actual.keys() {
        if !expected.contains_key(p) {
            diffs.push(format!("unexpected {p}"));
        }
    }
    diffs
}

fn same(a: &Entry, e: &Entry) -> bool {
    match (a, e) {
        (Entry::Dir { .. }, Entry::Dir { .. }) => true,
        (Entry::File { mode: m1, data: d1 }, Entry::File { mode: m2, data: d2 }) => {
            m1 & 0o7777 == m2 & 0o7777 && d1 == d2
        }
        (Entry::Symlink { target: t1 }, Entry::Symlink { target: t2 }) => t1 == t2,
        _ => false,
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let path = e.path();
        let rel = path
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        let Ok(md) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let mode = md.permissions().mode() & 0o7777;
        if md.file_type().is_symlink() {
            let target = std::fs::read_link(&path)
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.insert(rel, Entry::Symlink { target });
        } else if md.is_dir() {
            out.insert(rel, Entry::Dir { mode });
            walk(root, &path, out);
        } else {
            let data = std::fs::read(&path).unwrap_or_default();
            out.insert(rel, Entry::File { mode, data });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip() -> bool {
        if !crate::registry::registry_bin().exists() || !busybox_bin().exists() {
            println!("SKIP: docker-registry or busybox-static not installed");
            return true;
        }
        false
    }

    #[test]
    fn fixtures_push_and_are_stable() {
        if skip() {
            return;
        }
        let reg = Registry::start();
        let b = busybox(&reg);
        let b2 = busybox(&reg);
        assert_eq!(b.digest, b2.digest);
        assert_eq!(b.config_digest, b2.config_digest);
        assert_eq!(b.diff_ids.len(), 1);
        assert!(matches!(b.files.get("bin/sh"), Some(Entry::Symlink { .. })));
        let got = reg.request(
            "GET",
            &format!("/v2/{}/manifests/latest", b.repo),
            &[("Accept", DOCKER_MANIFEST)],
            None,
        );
        assert_eq!(got.status, 200);
        assert_eq!(got.header("docker-content-digest"), Some(b.digest.as_str()));

        let w = whiteouts(&reg);
        let keys: Vec<&str> = w.files.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "a",
                "a/added.txt",
                "a/keep.txt",
                "b",
                "b/new.txt",
                "c.txt",
                "e.txt",
                "link"
            ]
        );

        let (s, o) = (schema2(&reg), oci(&reg));
        assert_eq!(s.config_digest, o.config_digest);
        assert_ne!(s.digest, o.digest);

        for f in [Format::Oci, Format::Docker] {
            let m = multiarch(&reg, f);
            assert_eq!(m.platforms.len(), 2);
            assert_ne!(m.digest, m.manifest_digest);
            let idx = reg.request(
                "GET",
                &format!("/v2/{}/manifests/latest", m.repo),
                &[("Accept", &format!("{OCI_INDEX}, {DOCKER_LIST}"))],
                None,
            );
            assert_eq!(idx.status, 200, "{}", idx.text());
            assert_eq!(idx.json()["manifests"].as_array().unwrap().len(), 2);
            assert_eq!(m.platform("arm64").unwrap().files.len(), 2); // etc, etc/arch
        }

        let (g, z) = (
            compressed(&reg, Compression::Gzip),
            compressed(&reg, Compression::Zstd),
        );
        assert_eq!(g.diff_ids, z.diff_ids);
        assert_eq!(z.layers[1].media_type, OCI_LAYER_ZSTD);
        assert_ne!(g.layers[1].digest, z.layers[1].digest);
    }

    #[test]
    fn diff_tree_reports_differences() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/f"), "x").unwrap();
        let mut exp = BTreeMap::new();
        exp.insert("a".to_string(), Entry::Dir { mode: 0o755 });
        exp.insert("a/g".to_string(), Entry::Dir { mode: 0o755 });
        let d = diff_tree(dir.path(), &exp);
        assert_eq!(d, ["missing a/g", "unexpected a/f"]);
    }
}
