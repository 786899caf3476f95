//! Reproducible layer tarballs built in memory, and a model of what stacking them yields.
//!
//! A [`LayerBuilder`] collects entries by path; [`LayerBuilder::tar`] writes them sorted by
//! path, parents first (missing parent dirs are added, mode 0755), with a fixed mtime, uid/gid 0
//! and no user/group names, so the same entries always give the same bytes and digests.
//! Whiteouts use the OCI names: `.wh.<name>` hides `<name>` of lower layers and
//! `.wh..wh..opq` in a dir hides everything the lower layers had in it.

use std::collections::BTreeMap;
use std::io::Write;

use crate::registry::sha256_digest;

/// The mtime of every entry (2023-11-14T22:13:20Z).
pub const MTIME: u64 = 1_700_000_000;

/// One node of a filesystem tree (what a layer adds, or what a stack of layers shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Symlink { target: String },
}

/// Layer compression, as the manifest's media type names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// A layer as pushed: the uncompressed tar (its sha256 is the diff ID) and the compressed blob.
#[derive(Debug, Clone)]
pub struct Layer {
    pub tar: Vec<u8>,
    pub diff_id: String,
    pub blob: Vec<u8>,
    pub digest: String,
    pub compression: Compression,
}

/// Collects the entries of one layer. Paths are relative ("bin/sh"); a leading "/" is dropped.
#[derive(Debug, Clone, Default)]
pub struct LayerBuilder {
    entries: BTreeMap<String, Entry>,
}

fn clean(path: &str) -> String {
    path.trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

impl LayerBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        self.entries.insert(clean(path), Entry::Dir { mode });
        self
    }

    pub fn file(mut self, path: &str, mode: u32, data: impl Into<Vec<u8>>) -> Self {
        let data = data.into();
        self.entries.insert(clean(path), Entry::File { mode, data });
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let target = target.to_string();
        self.entries.insert(clean(path), Entry::Symlink { target });
        self
    }

    /// Hide `path` (file or whole dir) of the layers below.
    pub fn whiteout(self, path: &str) -> Self {
        let p = clean(path);
        let (dir, name) = match p.rsplit_once('/') {
            Some((d, n)) => (format!("{d}/"), n.to_string()),
            None => (String::new(), p),
        };
        self.file(&format!("{dir}.wh.{name}"), 0o644, Vec::new())
    }

    /// Make `dir` opaque: its contents from the layers below are hidden.
    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{}/.wh..wh..opq", clean(dir)), 0o644, Vec::new())
    }

    /// The entries including implied parent directories, sorted (parents before children).
    pub fn entries(&self) -> BTreeMap<String, Entry> {
        let mut all = self.entries.clone();
        for path in self.entries.keys() {
            let mut p = path.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                all.entry(parent.to_string())
                    .or_insert(Entry::Dir { mode: 0o755 });
                p = parent;
            }
        }
        all
    }

    /// The uncompressed, reproducible tar.
    pub fn tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, entry) in self.entries() {
            let mut h = tar::Header::new_gnu();
            h.set_mtime(MTIME);
            h.set_uid(0);
            h.set_gid(0);
            let res = match entry {
                Entry::Dir { mode } => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(mode);
                    h.set_size(0);
                    b.append_data(&mut h, format!("{path}/"), &[][..])
                }
                Entry::File { mode, data } => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(mode);
                    h.set_size(data.len() as u64);
                    b.append_data(&mut h, &path, data.as_slice())
                }
                Entry::Symlink { target } => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_mode(0o777);
                    h.set_size(0);
                    b.append_link(&mut h, &path, &target)
                }
            };
            res.expect("append to in-memory tar");
        }
        b.into_inner().expect("finish in-memory tar")
    }

    /// Build the layer with the given compression.
    pub fn build(&self, compression: Compression) -> Layer {
        let tar = self.tar();
        Layer::from_tar(tar, compression)
    }
}

impl Layer {
    /// Compress an uncompressed tar (deterministically: gzip header mtime 0, fixed levels).
    pub fn from_tar(tar: Vec<u8>, compression: Compression) -> Layer {
        let blob = compress(&tar, compression);
        Layer {
            diff_id: sha256_digest(&tar),
            digest: sha256_digest(&blob),
            tar,
            blob,
            compression,
        }
    }
}

/// Compress bytes the way layers are (gzip level 6 / zstd level 3 / as is).
pub fn compress(data: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let level = if data.len() > 16 << 20 {
                flate2::Compression::fast()
            } else {
                flate2::Compression::default()
            };
            let mut e = flate2::GzBuilder::new().mtime(0).write(Vec::new(), level);
            e.write_all(data).expect("gzip in memory");
            e.finish().expect("gzip in memory")
        }
        Compression::Zstd => zstd::encode_all(data, 3).expect("zstd in memory"),
    }
}

/// What a stack of layers (bottom first) shows, whiteouts applied as overlayfs would.
pub fn stack(layers: &[&LayerBuilder]) -> BTreeMap<String, Entry> {
    let mut fs: BTreeMap<String, Entry> = BTreeMap::new();
    let remove_under = |fs: &mut BTreeMap<String, Entry>, dir: &str, keep_self: bool| {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        fs.retain(|k, _| !(k.starts_with(&prefix) && (!prefix.is_empty() || !k.is_empty())));
        if !keep_self {
            fs.remove(dir);
        }
    };
    for layer in layers {
        let entries = layer.entries();
        for path in entries.keys() {
            let (dir, name) = match path.rsplit_once('/') {
                Some((d, n)) => (d.to_string(), n),
                None => (String::new(), path.as_str()),
            };
            if name == ".wh..wh..opq" {
                remove_under(&mut fs, &dir, true);
            } else if let Some(hidden) = name.strip_prefix(".wh.") {
                let target = if dir.is_empty() {
                    hidden.to_string()
                } else {
                    format!("{dir}/{hidden}")
                };
                remove_under(&mut fs, &target, false);
            }
        }
        for (path, entry) in entries {
            let name = path.rsplit('/').next().unwrap_or(&path);
            if name.starts_with(".wh.") {
                continue;
            }
            // A non-dir replacing a dir hides the dir's lower contents.
            if !matches!(entry, Entry::Dir { .. })
                && matches!(fs.get(&path), Some(Entry::Dir { .. }))
            {
                remove_under(&mut fs, &path, false);
            }
            fs.insert(path, entry);
        }
    }
    fs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_is_reproducible_and_sorted_with_parents() {
        let l = LayerBuilder::new()
            .file("z/y/x.txt", 0o644, "x")
            .file("a.txt", 0o600, "a")
            .symlink("bin/sh", "busybox");
        assert_eq!(l.tar(), l.clone().tar());
        let bytes = l.tar();
        let mut ar = tar::Archive::new(&bytes[..]);
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            ["a.txt", "bin/", "bin/sh", "z/", "z/y/", "z/y/x.txt"]
        );
        let g1 = l.build(Compression::Gzip);
        let g2 = l.build(Compression::Gzip);
        assert_eq!(g1.digest, g2.digest);
        let z = l.build(Compression::Zstd);
        assert_eq!(z.diff_id, g1.diff_id);
        assert_ne!(z.digest, g1.digest);
        assert_eq!(zstd::decode_all(&z.blob[..]).unwrap(), l.tar());
    }

    #[test]
    fn stack_applies_whiteouts_and_opaque_dirs() {
        let l1 = LayerBuilder::new()
            .file("a/keep", 0o644, "k")
            .file("a/gone", 0o644, "g")
            .file("b/old", 0o644, "o")
            .file("d/x", 0o644, "x");
        let l2 = LayerBuilder::new()
            .whiteout("a/gone")
            .opaque("b")
            .file("b/new", 0o644, "n")
            .whiteout("d");
        let fs = stack(&[&l1, &l2]);
        let keys: Vec<&str> = fs.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "a/keep", "b", "b/new"]);
    }
}
