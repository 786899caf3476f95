//! Layer application tests. They run as root (device nodes, chown, trusted xattrs, overlay).

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::*;

/// Builds tars entry by entry, writing raw header names so `..` and absolute paths survive
/// (tar::Builder's path setters refuse them).
pub(crate) struct TarBuilder {
    b: tar::Builder<Vec<u8>>,
}

impl TarBuilder {
    pub(crate) fn new() -> Self {
        TarBuilder {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, name: &str, link: &str, mode: u32, size: u64) -> tar::Header {
        assert!(
            name.len() < 100 && link.len() < 100,
            "raw names must fit the header"
        );
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        h
    }

    pub(crate) fn entry(&mut self, h: tar::Header, data: &[u8]) -> &mut Self {
        self.b.append(&h, data).unwrap();
        self
    }

    pub(crate) fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.file_mode(name, data, 0o644)
    }

    pub(crate) fn file_mode(&mut self, name: &str, data: &[u8], mode: u32) -> &mut Self {
        let h = Self::header(tar::EntryType::Regular, name, "", mode, data.len() as u64);
        self.entry(h, data)
    }

    pub(crate) fn dir(&mut self, name: &str) -> &mut Self {
        let h = Self::header(tar::EntryType::Directory, name, "", 0o755, 0);
        self.entry(h, &[])
    }

    pub(crate) fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let h = Self::header(tar::EntryType::Symlink, name, target, 0o777, 0);
        self.entry(h, &[])
    }

    pub(crate) fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let h = Self::header(tar::EntryType::Link, name, target, 0o644, 0);
        self.entry(h, &[])
    }

    pub(crate) fn pax(&mut self, exts: &[(&str, &[u8])]) -> &mut Self {
        self.b
            .append_pax_extensions(exts.iter().map(|(k, v)| (*k, *v)))
            .unwrap();
        self
    }

    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.b, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

/// A temp dir holding `target/` (where layers go) and `sentinel/` beside it, which must stay
/// empty whatever a tar says.
struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("target")).unwrap();
        fs::create_dir(dir.path().join("sentinel")).unwrap();
        Scene { dir }
    }

    fn target(&self) -> PathBuf {
        self.dir.path().join("target")
    }

    fn sentinel(&self) -> PathBuf {
        self.dir.path().join("sentinel")
    }

    fn apply(&self, tar: &[u8]) -> Result<Applied, LayerError> {
        apply_layer(tar, &self.target())
    }

    /// Nothing may have appeared beside the target or in the sentinel.
    fn assert_contained(&self) {
        let sentinel: Vec<_> = fs::read_dir(self.sentinel())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            sentinel.is_empty(),
            "sentinel dir was written: {sentinel:?}"
        );
        let mut beside: Vec<_> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        beside.sort();
        assert_eq!(
            beside,
            ["sentinel", "target"],
            "something appeared beside the target"
        );
    }
}

fn meta(p: &Path) -> fs::Metadata {
    fs::symlink_metadata(p).unwrap()
}

fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    match rfs::lgetxattr(p, name, &mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

#[test]
fn detects_compression() {
    assert_eq!(Compression::detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
    assert_eq!(
        Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
        Compression::Zstd
    );
    assert_eq!(Compression::detect(b"etc/"), Compression::None);
    assert_eq!(Compression::detect(&[0x1f]), Compression::None);
    assert_eq!(Compression::detect(&[]), Compression::None);
}

#[test]
fn unpacks_every_entry_kind_with_metadata() {
    let s = Scene::new();
    let long_name = format!("deep/{}/{}", "d".repeat(120), "f".repeat(200));
    let mut t = TarBuilder::new();
    t.dir("etc/")
        .file("etc/hostname", b"pier\n")
        .file_mode("bin/su", b"#!setuid", 0o4755);
    // Owned by 1000:1001 with a PAX mtime with nanoseconds and two xattrs.
    t.pax(&[
        ("SCHILY.xattr.user.note", b"hello"),
        (
            "SCHILY.xattr.security.capability",
            &[1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        ("SCHILY.xattr.trusted.overlay.redirect", b"/evil"),
        ("mtime", b"1234567890.5"),
    ]);
    let mut h = TarBuilder::header(tar::EntryType::Regular, "home/user/file", "", 0o600, 3);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_cksum();
    t.entry(h, b"abc");
    t.symlink("etc/link", "hostname")
        .symlink("abs", "/etc/hostname")
        .hardlink("etc/hard", "etc/hostname");
    let mut h = TarBuilder::header(tar::EntryType::Char, "dev/null", "", 0o666, 0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_cksum();
    t.entry(h, &[]);
    let mut h = TarBuilder::header(tar::EntryType::Block, "dev/loop9", "", 0o660, 0);
    h.set_device_major(7).unwrap();
    h.set_device_minor(9).unwrap();
    h.set_cksum();
    t.entry(h, &[]);
    t.entry(
        TarBuilder::header(tar::EntryType::Fifo, "run/fifo", "", 0o620, 0),
        &[],
    );
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(4);
    t.b.append_data(&mut h, &long_name, &b"long"[..]).unwrap();
    // A directory entry after its contents, with a mode and an old mtime to keep.
    let mut h = TarBuilder::header(tar::EntryType::Directory, "etc/", "", 0o700, 0);
    h.set_mtime(1_000_000_000);
    h.set_cksum();
    t.entry(h, &[]);
    let tar = t.finish();

    let applied = s.apply(&tar).unwrap();
    let root = s.target();
    assert_eq!(applied.diff_id, Digest::sha256(&tar));
    assert_eq!(applied.size, 5 + 8 + 3 + 4, "sum of regular file sizes");

    assert_eq!(fs::read(root.join("etc/hostname")).unwrap(), b"pier\n");
    let su = meta(&root.join("bin/su"));
    assert_eq!(su.mode() & 0o7777, 0o4755, "setuid kept");
    assert_eq!(
        meta(&root.join("bin")).mode() & 0o777,
        0o755,
        "implicit parent is 0755"
    );

    let f = root.join("home/user/file");
    let m = meta(&f);
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (1000, 1001, 0o600));
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_234_567_890, 500_000_000));
    assert_eq!(xattr(&f, "user.note").as_deref(), Some(&b"hello"[..]));
    assert!(
        xattr(&f, "security.capability").is_some(),
        "file capabilities kept"
    );
    assert_eq!(
        xattr(&f, "trusted.overlay.redirect"),
        None,
        "overlay xattrs from the tar are ignored"
    );

    assert_eq!(
        fs::read_link(root.join("etc/link")).unwrap(),
        Path::new("hostname")
    );
    assert_eq!(
        fs::read_link(root.join("abs")).unwrap(),
        Path::new("/etc/hostname")
    );
    assert_eq!(
        meta(&root.join("etc/link")).mtime(),
        1_600_000_000,
        "symlink mtime"
    );
    assert_eq!(
        meta(&root.join("etc/hard")).ino(),
        meta(&root.join("etc/hostname")).ino()
    );

    let null = meta(&root.join("dev/null"));
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rfs::makedev(1, 3));
    assert_eq!(
        null.mode() & 0o777,
        0o666,
        "device mode not narrowed by umask"
    );
    let lp = meta(&root.join("dev/loop9"));
    assert!(lp.file_type().is_block_device());
    assert_eq!(lp.rdev(), rfs::makedev(7, 9));
    let fifo = meta(&root.join("run/fifo"));
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o777, 0o620);

    assert_eq!(fs::read(root.join(&long_name)).unwrap(), b"long");

    let etc = meta(&root.join("etc"));
    assert_eq!(etc.mode() & 0o777, 0o700);
    assert_eq!(
        etc.mtime(),
        1_000_000_000,
        "directory mtimes are fixed up after its contents"
    );
    s.assert_contained();
}

#[test]
fn dot_dot_and_absolute_paths_stay_inside() {
    let s = Scene::new();
    let tar = TarBuilder::new()
        .file("../sentinel/escape1", b"x")
        .file("/../../sentinel/escape2", b"x")
        .file("a/../../../sentinel/escape3", b"x")
        .file("/abs", b"x")
        .finish();
    s.apply(&tar).unwrap();
    s.assert_contained();
    let root = s.target();
    // `..` is clamped at the root, as filepath.Clean("/" + name) does.
    for f in [
        "sentinel/escape1",
        "sentinel/escape2",
        "sentinel/escape3",
        "abs",
    ] {
        assert!(root.join(f).is_file(), "{f} inside the target");
    }
}

#[test]
fn writing_through_symlinks_never_leaves_the_target() {
    let s = Scene::new();
    let sentinel = s.sentinel();
    let abs = sentinel.to_str().unwrap();
    // Each case alone, since an error stops a layer.
    let cases: Vec<Vec<u8>> = vec![
        // Relative symlink climbing out, then a file through it.
        TarBuilder::new()
            .symlink("evil", "../sentinel")
            .file("evil/pwned", b"x")
            .finish(),
        TarBuilder::new()
            .symlink("evil", "../../../../../../..")
            .file("evil/pwned", b"x")
            .finish(),
        // Absolute symlink to the sentinel's host path.
        TarBuilder::new()
            .symlink("evil", abs)
            .file("evil/pwned", b"x")
            .finish(),
        // A symlink as the file itself: the new entry replaces the link, never writes through it.
        TarBuilder::new()
            .symlink("f", &format!("{abs}/pwned"))
            .file("f", b"x")
            .finish(),
        TarBuilder::new()
            .symlink("f", "../sentinel/pwned")
            .file("f", b"x")
            .finish(),
        // A directory replaced by a symlink, then a file below it.
        TarBuilder::new()
            .dir("d/")
            .file("d/ok", b"x")
            .symlink("d", abs)
            .file("d/pwned", b"x")
            .finish(),
        // Chains of symlinks.
        TarBuilder::new()
            .symlink("a", "b")
            .symlink("b", "../sentinel")
            .file("a/pwned", b"x")
            .finish(),
        // Whiteout and opaque markers through a symlinked parent.
        TarBuilder::new()
            .symlink("w", abs)
            .file("w/.wh.pwned", b"")
            .file("w/.wh..wh..opq", b"")
            .finish(),
        // A device through a symlink.
        {
            let mut t = TarBuilder::new();
            t.symlink("dev", abs);
            t.entry(
                TarBuilder::header(tar::EntryType::Fifo, "dev/pwned", "", 0o644, 0),
                &[],
            );
            t.finish()
        },
    ];
    for (i, tar) in cases.iter().enumerate() {
        let s = Scene::new();
        let r = s.apply(tar);
        s.assert_contained();
        // Where it did not fail, whatever was written is inside.
        if r.is_ok() {
            let root = s.target();
            let found = walk(&root);
            assert!(
                found.iter().all(|p| p.starts_with(&root)),
                "case {i}: {found:?}"
            );
        }
    }
    // The symlink-to-root case resolves inside the target.
    let s = Scene::new();
    let tar = TarBuilder::new()
        .symlink("r", "/")
        .file("r/etc/inside", b"x")
        .finish();
    s.apply(&tar).unwrap();
    assert!(s.target().join("etc/inside").is_file());
    s.assert_contained();
    // And the replaced-link cases leave a regular file in place of the link.
    let s = Scene::new();
    s.apply(
        &TarBuilder::new()
            .symlink("f", "../sentinel/pwned")
            .file("f", b"x")
            .finish(),
    )
    .unwrap();
    assert!(meta(&s.target().join("f")).file_type().is_file());
    s.assert_contained();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if meta(&p).is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn hardlinks_cannot_reach_outside() {
    let outside = Scene::new();
    let secret = outside.dir.path().join("secret");
    fs::write(&secret, b"secret").unwrap();
    let abs = secret.to_str().unwrap().to_owned();
    let dir_abs = outside.dir.path().to_str().unwrap().to_owned();
    let cases = [
        TarBuilder::new().hardlink("h", "../secret").finish(),
        TarBuilder::new().hardlink("h", &abs).finish(),
        TarBuilder::new()
            .hardlink("h", "../../../../../../../../etc/passwd")
            .finish(),
        TarBuilder::new()
            .symlink("s", &dir_abs)
            .hardlink("h", "s/secret")
            .finish(),
        TarBuilder::new()
            .symlink("s", "..")
            .hardlink("h", "s/secret")
            .finish(),
    ];
    for (i, tar) in cases.iter().enumerate() {
        let r = apply_layer(&tar[..], &outside.target());
        assert!(
            r.is_err(),
            "case {i}: a hardlink to an outside file must fail"
        );
        assert_eq!(
            meta(&secret).nlink(),
            1,
            "case {i}: the outside file gained a link"
        );
        fs::remove_dir_all(outside.target()).unwrap();
        fs::create_dir(outside.target()).unwrap();
    }
    // A hardlink to a symlink inside links the symlink itself (never what it points to).
    let s = Scene::new();
    let tar = TarBuilder::new()
        .symlink("s", &abs)
        .hardlink("h", "s")
        .finish();
    s.apply(&tar).unwrap();
    assert!(meta(&s.target().join("h")).file_type().is_symlink());
    assert_eq!(meta(&secret).nlink(), 1);
    s.assert_contained();
}

#[test]
fn replacing_entries() {
    let s = Scene::new();
    let tar = TarBuilder::new()
        .dir("d/")
        .file("d/old", b"1")
        .dir("d/")
        .file("d/new", b"2") // dir over dir merges
        .dir("x/")
        .file("x/inner", b"1")
        .file("x", b"now a file") // file over dir removes the dir
        .file("y", b"a file")
        .dir("y/") // dir over file
        .file("z", b"first")
        .file("z", b"second") // file over file
        .symlink("l", "z")
        .file("l", b"over link")
        .finish();
    s.apply(&tar).unwrap();
    let root = s.target();
    assert!(root.join("d/old").is_file() && root.join("d/new").is_file());
    assert_eq!(fs::read(root.join("x")).unwrap(), b"now a file");
    assert!(meta(&root.join("y")).is_dir());
    assert_eq!(fs::read(root.join("z")).unwrap(), b"second");
    assert_eq!(fs::read(root.join("l")).unwrap(), b"over link");
    assert_eq!(
        fs::read(root.join("z")).unwrap(),
        b"second",
        "not written through the link"
    );
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let s = Scene::new();
    let tar = TarBuilder::new()
        .dir("a/")
        .file("a/.wh.gone", b"")
        .dir("b/")
        .file("b/.wh..wh..opq", b"")
        .file("b/new", b"n")
        .file("c/.wh..wh..opq", b"") // parent not in the tar: created, then marked
        .file(".wh.topfile", b"")
        .file("a/.wh..wh.plnk", b"") // aufs metadata: skipped
        .dir("e/")
        .file("e/x", b"")
        .file(".wh.e", b"") // whiteout replacing a dir of this layer
        .finish();
    let applied = s.apply(&tar).unwrap();
    assert_eq!(applied.size, 1);
    let root = s.target();
    for w in ["a/gone", "topfile", "e"] {
        let m = meta(&root.join(w));
        assert!(m.file_type().is_char_device(), "{w} is a char device");
        assert_eq!(m.rdev(), 0, "{w} is 0:0");
    }
    assert!(!root.join("a/.wh.gone").exists());
    assert!(!root.join("a/.wh..wh.plnk").exists());
    assert!(!root.join("b/.wh..wh..opq").exists());
    assert_eq!(
        xattr(&root.join("b"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(
        xattr(&root.join("c"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(xattr(&root.join("a"), "trusted.overlay.opaque"), None);
    assert!(root.join("b/new").is_file());
    for bad in [".wh.", "x/.wh..", "x/.wh..."] {
        let s = Scene::new();
        assert!(
            matches!(
                s.apply(&TarBuilder::new().file(bad, b"").finish()),
                Err(LayerError::Invalid { .. })
            ),
            "{bad}"
        );
        s.assert_contained();
    }
}

fn sample_tar() -> Vec<u8> {
    TarBuilder::new()
        .dir("etc/")
        .file("etc/os-release", b"NAME=pier\n")
        .file("bin/tool", &vec![0x5a; 100_000])
        .finish()
}

#[test]
fn gzip_zstd_and_plain_give_the_same_diff_id() {
    let plain = sample_tar();
    let want = Digest::sha256(&plain);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    for (what, blob) in [("plain", &plain), ("gzip", &gz), ("zstd", &zst)] {
        let s = Scene::new();
        let applied = s.apply(blob).unwrap();
        assert_eq!(applied.diff_id, want, "{what}");
        assert_eq!(applied.size, 10 + 100_000, "{what}");
        assert_eq!(
            fs::read(s.target().join("etc/os-release")).unwrap(),
            b"NAME=pier\n",
            "{what}"
        );
    }
}

/// Counts the bytes read from it (the whole compressed blob must be consumed), handing them out
/// in small reads as a network stream might.
struct Counting<'a>(&'a [u8], usize, usize);

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0[self.1..].len().min(buf.len()).min(self.2);
        buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
        self.1 += n;
        Ok(n)
    }
}

#[test]
fn diff_id_covers_trailing_padding_and_all_input_is_read() {
    let mut plain = sample_tar();
    plain.extend_from_slice(&[0u8; 10 * 512]); // extra zero blocks after the end marker
    let s = Scene::new();
    let mut r = Counting(&plain, 0, 777);
    let applied = apply_layer(&mut r, &s.target()).unwrap();
    assert_eq!(applied.diff_id, Digest::sha256(&plain));
    assert_eq!(r.1, plain.len());

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let s = Scene::new();
    let mut r = Counting(&gz, 0, 777);
    assert_eq!(
        apply_layer(&mut r, &s.target()).unwrap().diff_id,
        Digest::sha256(&plain)
    );
    assert_eq!(r.1, gz.len());
}

#[test]
fn compression_is_detected_from_one_byte_reads() {
    let plain = sample_tar();
    let zst = zstd::encode_all(&plain[..], 1).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    for blob in [&zst, &gz] {
        let s = Scene::new();
        let mut r = Counting(blob, 0, 1);
        assert_eq!(
            apply_layer(&mut r, &s.target()).unwrap().diff_id,
            Digest::sha256(&plain)
        );
        assert_eq!(r.1, blob.len());
    }
}

#[test]
fn corrupt_and_unsupported_input_is_an_error() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&sample_tar()).unwrap();
    let mut gz = gz.finish().unwrap();
    let n = gz.len();
    gz[n - 6] ^= 0xff; // corrupt the CRC/size trailer
    assert!(matches!(
        apply_layer(&gz[..], &Scene::new().target()),
        Err(LayerError::Read(_))
    ));

    let mut t = TarBuilder::new();
    t.entry(
        TarBuilder::header(tar::EntryType::new(b'Z'), "weird", "", 0o644, 0),
        &[],
    );
    let err = apply_layer(&t.finish()[..], &Scene::new().target()).unwrap_err();
    assert!(
        matches!(err, LayerError::Unsupported { kind: 'Z', .. }),
        "{err}"
    );

    let mut t = TarBuilder::new();
    t.pax(&[("GNU.sparse.major", b"1"), ("GNU.sparse.minor", b"0")])
        .file("sparse", b"map");
    let err = apply_layer(&t.finish()[..], &Scene::new().target()).unwrap_err();
    assert!(
        err.to_string().contains("sparse files are not supported"),
        "{err}"
    );

    assert!(matches!(
        apply_layer(&sample_tar()[..], Path::new("/nonexistent/pier/target")),
        Err(LayerError::Target { .. })
    ));
}

#[test]
fn xz_and_bzip2_are_refused_clearly() {
    let xz = [0xfd, b'7', b'z', b'X', b'Z', 0x00, 0, 4];
    let err = apply_layer(&xz[..], &Scene::new().target()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "xz-compressed layers are not supported (use gzip, zstd or an uncompressed tar)"
    );
    let bz2 = b"BZh91AY&SY\x00\x00";
    assert!(matches!(
        apply_layer(&bz2[..], &Scene::new().target()),
        Err(LayerError::UnsupportedCompression("bzip2"))
    ));
    // A plain tar whose first file merely starts with "BZh" is still a tar.
    let s = Scene::new();
    s.apply(&TarBuilder::new().file("BZh9-notes", b"x").finish())
        .unwrap();
    assert!(s.target().join("BZh9-notes").is_file());
}

#[test]
fn empty_stream_is_an_empty_layer() {
    let s = Scene::new();
    let applied = s.apply(&[]).unwrap();
    assert_eq!(
        applied,
        Applied {
            diff_id: Digest::sha256(b""),
            size: 0
        }
    );
}

/// Unmounts and removes on drop.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
    }
}

#[test]
fn overlay_mount_of_two_layers_honors_whiteouts() {
    let base = tempfile::tempdir().unwrap();
    let (l1, l2, mnt) = (
        base.path().join("l1"),
        base.path().join("l2"),
        base.path().join("mnt"),
    );
    for d in [&l1, &l2, &mnt] {
        fs::create_dir(d).unwrap();
    }
    let lower = TarBuilder::new()
        .dir("a/")
        .file("a/keep", b"k")
        .file("a/gone", b"g")
        .dir("b/")
        .file("b/x", b"x")
        .file("b/y", b"y")
        .file("top", b"t")
        .finish();
    let upper = TarBuilder::new()
        .dir("a/")
        .file("a/.wh.gone", b"")
        .dir("b/")
        .file("b/.wh..wh..opq", b"")
        .file("b/new", b"n")
        .file(".wh.top", b"")
        .finish();
    apply_layer(&lower[..], &l1).unwrap();
    apply_layer(&upper[..], &l2).unwrap();
    let opts = CString::new(format!("lowerdir={}:{}", l2.display(), l1.display())).unwrap();
    let flags = rustix::mount::MountFlags::RDONLY;
    if let Err(e) = rustix::mount::mount("overlay", &mnt, "overlay", flags, Some(opts.as_c_str())) {
        panic!("mounting overlay failed (root and overlayfs are required): {e}");
    }
    let _guard = Mounted(mnt.clone());
    assert!(mnt.join("a/keep").is_file(), "lower file visible");
    assert!(
        !mnt.join("a/gone").exists(),
        "whiteout hides the lower file"
    );
    assert!(!mnt.join("top").exists(), "whiteout at the root");
    assert!(mnt.join("b/new").is_file(), "upper file in the opaque dir");
    assert!(
        !mnt.join("b/x").exists() && !mnt.join("b/y").exists(),
        "opaque dir hides lower contents"
    );
    let mut names: Vec<_> = fs::read_dir(mnt.join("b"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["new"]);
}

/// A small deterministic xorshift generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// Fuzz-style: random sequences of entries drawn from names, link targets and kinds that
/// combine into escapes (`..`, absolute paths, symlinks out, hardlinks out, dirs replaced by
/// links, whiteouts through links). Whatever happens, nothing outside the target changes and
/// nothing panics.
#[test]
fn generated_tars_never_escape() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for iteration in 0..400 {
        let s = Scene::new();
        let secret = s.dir.path().join("secret");
        fs::write(&secret, b"secret").unwrap();
        let sentinel = s.sentinel().to_str().unwrap().to_owned();
        let sentinel_file = format!("{sentinel}/f");
        let secret_abs = secret.to_str().unwrap().to_owned();
        let names = [
            "a",
            "a/b",
            "a/b/c",
            "../x",
            "/abs",
            "l",
            "l/x",
            "l/a/b",
            "d",
            "d/e",
            ".wh.a",
            "a/.wh..wh..opq",
            "a/.wh.b",
            "l/.wh.z",
            "l/.wh..wh..opq",
            "..",
            "./",
            "m/../../n",
            "h",
        ];
        let sym_targets = [
            "../sentinel",
            "/",
            "..",
            "a",
            sentinel.as_str(),
            sentinel_file.as_str(),
            "l",
            "d/e",
            "../../..",
            "../secret",
        ];
        let link_targets = [
            "a",
            "a/b",
            "l",
            "l/secret",
            "../secret",
            secret_abs.as_str(),
            "missing",
            "h",
        ];
        let mut t = TarBuilder::new();
        let n = 1 + rng.next() % 12;
        for _ in 0..n {
            let name = rng.pick(&names);
            match rng.next() % 5 {
                0 => t.file(name, b"data"),
                1 => t.dir(name),
                2 => t.symlink(name, rng.pick(&sym_targets)),
                3 => t.hardlink(name, rng.pick(&link_targets)),
                _ => t.entry(
                    TarBuilder::header(tar::EntryType::Fifo, name, "", 0o644, 0),
                    &[],
                ),
            };
        }
        let tar = t.finish();
        let _ = s.apply(&tar);
        let in_sentinel: Vec<_> = fs::read_dir(s.sentinel())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            in_sentinel.is_empty(),
            "iteration {iteration}: sentinel written: {in_sentinel:?}"
        );
        let mut beside: Vec<_> = fs::read_dir(s.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        beside.sort();
        assert_eq!(
            beside,
            ["secret", "sentinel", "target"],
            "iteration {iteration}"
        );
        let m = meta(&secret);
        assert_eq!(
            (m.nlink(), fs::read(&secret).unwrap()),
            (1, b"secret".to_vec()),
            "iteration {iteration}"
        );
    }
}

/// Recompute the checksum of every block that looks like a tar header, so mutated headers get
/// past the checksum and exercise the parser and the extractor.
fn fix_checksums(tar: &mut [u8]) {
    for block in tar.chunks_mut(512) {
        if block.len() == 512 && &block[257..262] == b"ustar" {
            block[148..156].fill(b' ');
            let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
            let field = format!("{sum:06o}\0 ");
            block[148..156].copy_from_slice(field.as_bytes());
        }
    }
}

/// Fuzz-style: valid tars (GNU long names, PAX records, links, devices, whiteouts) with random
/// header bytes changed. Errors are fine; panics and writes outside the target are not.
#[test]
fn mutated_headers_never_panic_or_escape() {
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let mut base = TarBuilder::new();
    base.dir("a/")
        .file("a/f", b"0123456789")
        .symlink("a/l", "../..")
        .hardlink("a/h", "a/f");
    base.pax(&[("SCHILY.xattr.user.k", b"v"), ("path", b"a/pax-name")])
        .file("x", b"pax");
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(2);
    base.b
        .append_data(&mut h, "a/".to_owned() + &"n".repeat(150), &b"ln"[..])
        .unwrap();
    base.file("a/.wh.f", b"").file("a/.wh..wh..opq", b"");
    base.entry(
        TarBuilder::header(tar::EntryType::Char, "a/c", "", 0o600, 0),
        &[],
    );
    let base = base.finish();
    // Bytes worth mutating: name, mode, size, typeflag, linkname fields of the first blocks.
    let hot: Vec<usize> = (0..base.len().min(512 * 12))
        .filter(|i| matches!(i % 512, 0..=135 | 156..=256 | 345..=400))
        .collect();
    for iteration in 0..600 {
        let mut tar = base.clone();
        for _ in 0..1 + rng.next() % 3 {
            let i = hot[(rng.next() % hot.len() as u64) as usize];
            tar[i] = match rng.next() % 4 {
                0 => b'/',
                1 => b'.',
                2 => 0,
                _ => rng.next() as u8,
            };
        }
        fix_checksums(&mut tar);
        let s = Scene::new();
        let _ = s.apply(&tar);
        let in_sentinel = fs::read_dir(s.sentinel()).unwrap().count();
        let beside = fs::read_dir(s.dir.path()).unwrap().count();
        assert_eq!(
            (in_sentinel, beside),
            (0, 2),
            "iteration {iteration} wrote outside the target"
        );
    }
}

/// Everything a layer tree says, path by path, to compare two trees.
fn describe_tree(root: &Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for p in walk(root) {
        let m = meta(&p);
        let ft = m.file_type();
        let what = if ft.is_dir() {
            format!("dir opaque={:?}", xattr(&p, "trusted.overlay.opaque"))
        } else if ft.is_file() {
            let cap = xattr(&p, "security.capability");
            format!(
                "file {:?} cap={cap:?} nlink={}",
                Digest::sha256(&fs::read(&p).unwrap()),
                m.nlink()
            )
        } else if ft.is_symlink() {
            format!("symlink {:?}", fs::read_link(&p).unwrap())
        } else if ft.is_char_device() {
            format!("char {}", m.rdev())
        } else if ft.is_block_device() {
            format!("block {}", m.rdev())
        } else {
            "fifo".to_owned()
        };
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let mtime = if ft.is_symlink() { 0 } else { m.mtime() };
        out.insert(
            rel,
            format!(
                "{what} mode={:o} {}:{} mtime={mtime}",
                m.mode() & 0o7777,
                m.uid(),
                m.gid()
            ),
        );
    }
    out
}

fn rich_tar() -> Vec<u8> {
    let long = format!("deep/{}/{}", "d".repeat(120), "f".repeat(140));
    let mut t = TarBuilder::new();
    t.dir("etc/")
        .file("etc/hostname", b"pier\n")
        .file_mode("bin/su", b"#!setuid", 0o4755);
    t.hardlink("bin/su-again", "bin/su");
    let mut h = TarBuilder::header(tar::EntryType::Regular, "home/user/file", "", 0o640, 3);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_cksum();
    t.entry(h, b"abc");
    t.symlink("etc/link", "hostname");
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    t.b.append_link(&mut h, "etc/longlink", "t".repeat(150))
        .unwrap();
    let mut h = TarBuilder::header(tar::EntryType::Char, "dev/null", "", 0o666, 0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_cksum();
    t.entry(h, &[]);
    t.entry(
        TarBuilder::header(tar::EntryType::Fifo, "run/fifo", "", 0o620, 0),
        &[],
    );
    // A capability on a file whose name needs PAX `path` too.
    let cap: &[u8] = &[1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    t.pax(&[
        ("SCHILY.xattr.security.capability", cap),
        ("path", long.as_bytes()),
    ]);
    t.file_mode("placeholder", b"ping", 0o755);
    t.dir("opq/")
        .file("opq/.wh..wh..opq", b"")
        .file("opq/kept", b"k");
    t.file("etc/.wh.gone", b"").file(".wh.top", b"");
    t.finish()
}

#[test]
fn write_layer_round_trips_through_apply() {
    let s1 = Scene::new();
    s1.apply(&rich_tar()).unwrap();
    let (tar2, exported) = write_layer(&s1.target(), Vec::new()).unwrap();
    assert_eq!(exported.diff_id, Digest::sha256(&tar2));

    // OCI whiteouts in the exported tar, not devices.
    let mut names = Vec::new();
    for e in tar::Archive::new(&tar2[..]).entries().unwrap() {
        let e = e.unwrap();
        names.push((
            String::from_utf8_lossy(&e.path_bytes()).into_owned(),
            e.header().entry_type(),
        ));
    }
    for (name, kind) in [
        ("etc/.wh.gone", tar::EntryType::Regular),
        (".wh.top", tar::EntryType::Regular),
        ("opq/.wh..wh..opq", tar::EntryType::Regular),
        ("bin/su-again", tar::EntryType::Link),
        ("dev/null", tar::EntryType::Char),
    ] {
        assert!(
            names.contains(&(name.to_owned(), kind)),
            "{name} as {kind:?} in {names:?}"
        );
    }

    let s2 = Scene::new();
    let applied = s2.apply(&tar2).unwrap();
    assert_eq!(applied, exported, "same diff ID and size either way");
    let tree = describe_tree(&s2.target());
    assert_eq!(describe_tree(&s1.target()), tree);
    let long = tree
        .iter()
        .find(|(k, _)| k.starts_with("deep/d") && k.ends_with("fff"))
        .expect("long name kept");
    assert!(
        long.1.contains("cap=Some") && long.1.contains("mode=755"),
        "{long:?}"
    );
    assert!(tree["etc/longlink"].contains(&"t".repeat(150)));
    assert!(tree["bin/su"].contains("mode=4755"));
    assert!(tree["home/user/file"].contains("1000:1001"));
    assert_eq!(
        meta(&s2.target().join("bin/su")).ino(),
        meta(&s2.target().join("bin/su-again")).ino()
    );

    // GNU tar reads it too (an independent check of the PAX and long-name records).
    if Path::new("/usr/bin/tar").exists() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("layer.tar");
        fs::write(&file, &tar2).unwrap();
        let out = std::process::Command::new("/usr/bin/tar")
            .arg("-tf")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listing = String::from_utf8(out.stdout).unwrap();
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with("deep/d") && l.ends_with("fff")),
            "{listing}"
        );
        assert!(
            listing.lines().any(|l| l == "opq/.wh..wh..opq"),
            "{listing}"
        );
    }

    // Deterministic: the same tree gives the same bytes.
    let (again, _) = write_layer(&s2.target(), Vec::new()).unwrap();
    assert_eq!(again, tar2);
}

#[test]
fn write_layer_into_a_compressor() {
    let s = Scene::new();
    s.apply(&sample_tar()).unwrap();
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let (gz, exported) = write_layer(&s.target(), gz).unwrap();
    let blob = gz.finish().unwrap();
    assert_eq!(Compression::detect(&blob), Compression::Gzip);
    let s2 = Scene::new();
    assert_eq!(apply_layer(&blob[..], &s2.target()).unwrap(), exported);
    assert_eq!(describe_tree(&s.target()), describe_tree(&s2.target()));
}
