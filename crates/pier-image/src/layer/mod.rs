//! Layer application: a (compressed) tar stream becomes a directory in overlayfs form.
//!
//! [`apply_layer`] detects the compression from the first bytes (gzip `1f 8b`, zstd
//! `28 b5 2f fd`, otherwise plain tar; xz and bzip2 are refused with a clear error), hashes the
//! *uncompressed* stream to EOF (trailing tar padding included) to give the diff ID, and reads
//! the raw input to its end too, so a caller hashing the compressed bytes sees all of them. Entries are extracted into `target`, which
//! should be empty; nothing is ever written outside it (see [`root`] for how: `openat2` with
//! `RESOLVE_IN_ROOT`, lexical cleaning of `..`, no-follow operations on the last component).
//! Hardlinks may only point at entries inside the target.
//! Decompressing and hashing run on the calling thread, parsing and writing the entries on a
//! second one, with a few 256 KiB chunks in between: two cores share the work.
//!
//! Supported: regular files (old GNU sparse included; PAX sparse is refused), directories, symlinks, hardlinks,
//! character and block devices, fifos; permission bits incl. setuid/setgid/sticky; numeric
//! uid/gid (`lchown`); mtimes (directories' fixed up at the end); xattrs from PAX
//! `SCHILY.xattr.*` (EPERM/ENOTSUP when setting one is logged and skipped, as docker does;
//! `trusted.overlay.*` from the tar is ignored: only whiteouts may produce overlay metadata);
//! long names (GNU and PAX). An entry over an existing non-directory replaces it; a directory
//! over a directory merges; anything else over a directory removes the directory first. The
//! root entry (`./`) is ignored, and PAX global headers are skipped.
//!
//! Whiteouts are converted, not applied, because each layer is its own overlay lowerdir:
//! `.wh.NAME` becomes a 0:0 character device `NAME`, and `.wh..wh..opq` sets
//! `trusted.overlay.opaque=y` on its directory. Other `.wh..wh.*` (aufs metadata) are skipped.
//! `size` is the sum of the regular files' sizes.
//!
//! [`write_layer`] does the inverse: an overlayfs-form directory back to an OCI layer tar.

mod export;
pub(crate) mod root;

pub use export::write_layer;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::mpsc;

use rustix::fs::{
    self as rfs, AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags,
};
use rustix::io::Errno;

use crate::digest::{Digest, Sha256Writer};
use root::{clean, remove_existing, Components, Root};

/// Layer application failures.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The input could not be read, decompressed, or parsed as tar.
    #[error("reading layer: {0}")]
    Read(#[source] io::Error),
    /// A filesystem operation for one entry failed.
    #[error("unpacking {path:?}: {op}: {source}")]
    Fs {
        path: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// The entry is malformed or not allowed.
    #[error("unpacking {path:?}: {reason}")]
    Invalid { path: String, reason: String },
    /// A tar entry type pier cannot represent.
    #[error("unpacking {path:?}: unhandled tar header type {kind:?}")]
    Unsupported { path: String, kind: char },
    /// The stream is compressed in a format pier does not read.
    #[error("{0}-compressed layers are not supported (use gzip, zstd or an uncompressed tar)")]
    UnsupportedCompression(&'static str),
    /// The target directory could not be opened.
    #[error("opening layer target {path}: {source}")]
    Target {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// The compression of a layer blob, from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Detect from the first bytes of the stream (plain tar when unknown or too short).
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Compressions docker can read but pier does not (registries serve gzip and zstd only).
fn unsupported_compression(head: &[u8]) -> Option<&'static str> {
    const BZIP2_BLOCK: [u8; 6] = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const BZIP2_END: [u8; 6] = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some("xz")
    } else if head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && (head[4..10] == BZIP2_BLOCK || head[4..10] == BZIP2_END)
    {
        Some("bzip2")
    } else {
        None
    }
}

/// What applying a layer produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Sum of the regular files' sizes.
    pub size: u64,
}

/// Decompress (auto-detected), hash, and extract a layer into `target` (an existing, empty
/// directory). See the module docs for the exact semantics.
pub fn apply_layer<R: Read>(mut reader: R, target: &Path) -> Result<Applied, LayerError> {
    // Sniff enough bytes for every magic, however small the reads of a streaming source are.
    let mut head = Vec::with_capacity(16);
    reader
        .by_ref()
        .take(16)
        .read_to_end(&mut head)
        .map_err(LayerError::Read)?;
    if let Some(name) = unsupported_compression(&head) {
        return Err(LayerError::UnsupportedCompression(name));
    }
    let compression = Compression::detect(&head);
    let input = BufReader::with_capacity(256 * 1024, io::Cursor::new(head).chain(reader));
    let decoder = Decoder::new(compression, input).map_err(LayerError::Read)?;
    let root = Root::open(target).map_err(|source| LayerError::Target {
        path: target.display().to_string(),
        source,
    })?;
    let ex = Extractor {
        root,
        buf: vec![0; 128 * 1024],
        dir_times: Vec::new(),
        size: 0,
    };
    // Two stages on two cores: this thread reads the input, decompresses and hashes; a scoped
    // thread parses the tar and writes the files. Chunks go over a bounded channel and come
    // back empty over another, so at most CHUNKS_IN_FLIGHT × CHUNK bytes are in between. A
    // layer whose whole tar fits in the first chunk is extracted here, without a thread.
    let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
    let input = ChunkReader {
        full: full_rx,
        empty: empty_tx,
        cur: Vec::new(),
        pos: 0,
    };
    let mut producer = Producer {
        decoder,
        hasher: Sha256Writer::new(io::sink()),
        empty: empty_rx,
    };
    let first = producer.next_chunk().map_err(LayerError::Read)?;
    let whole = first.len() < CHUNK;
    if !first.is_empty() {
        full_tx.send(first).expect("the receiver is alive");
    }
    if whole {
        drop(full_tx);
        let size = extract(ex, input)?;
        let diff_id = producer.finish().map_err(LayerError::Read)?;
        return Ok(Applied { diff_id, size });
    }
    std::thread::scope(|scope| {
        let extractor = std::thread::Builder::new()
            .name("layer-extract".into())
            .spawn_scoped(scope, move || extract(ex, input))
            .map_err(LayerError::Read)?;
        let produced = producer.run(full_tx);
        let extracted = match extractor.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match produced {
            // The input could not be read or decompressed: that is the cause, whatever the
            // extractor made of the truncated stream.
            Err(Produce::Read(e)) => Err(LayerError::Read(e)),
            // The extractor stopped taking chunks: it failed, and says why.
            Err(Produce::ExtractorGone) => match extracted {
                Err(e) => Err(e),
                Ok(_) => Err(LayerError::Read(io::Error::other(
                    "layer extraction stopped before the end of the stream",
                ))),
            },
            Ok(diff_id) => extracted.map(|size| Applied { diff_id, size }),
        }
    })
}

/// Bytes per chunk between the decompressing and the extracting thread.
const CHUNK: usize = 256 * 1024;
/// Chunks queued between the two threads.
const CHUNKS_IN_FLIGHT: usize = 4;

enum Produce {
    Read(io::Error),
    ExtractorGone,
}

/// Decompresses in chunks for the extractor, hashing them: the diff ID covers the whole
/// uncompressed stream, tar end-of-archive padding included.
struct Producer<R: Read> {
    decoder: Decoder<R>,
    hasher: Sha256Writer<io::Sink>,
    /// Chunks the extractor is done with.
    empty: mpsc::Receiver<Vec<u8>>,
}

impl<R: Read> Producer<R> {
    /// The next chunk, full unless the stream ends in it (empty at the end).
    fn next_chunk(&mut self) -> io::Result<Vec<u8>> {
        let mut chunk = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        // A reused chunk is still full-length: nothing to zero.
        chunk.resize(CHUNK, 0);
        let mut len = 0;
        while len < CHUNK {
            match self.decoder.read(&mut chunk[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        chunk.truncate(len);
        self.hasher.write_all(&chunk)?;
        Ok(chunk)
    }

    /// Feeds the extractor to the end of the stream, then finishes.
    fn run(mut self, full: mpsc::SyncSender<Vec<u8>>) -> Result<Digest, Produce> {
        loop {
            let chunk = self.next_chunk().map_err(Produce::Read)?;
            let last = chunk.len() < CHUNK;
            if !chunk.is_empty() {
                full.send(chunk).map_err(|_| Produce::ExtractorGone)?;
            }
            if last {
                break;
            }
        }
        drop(full); // EOF for the extractor
        self.finish().map_err(Produce::Read)
    }

    /// Reads the rest of the raw input, so a caller hashing the compressed bytes sees all of
    /// them; returns the diff ID.
    fn finish(self) -> io::Result<Digest> {
        self.decoder.drain()?;
        let (_, diff_id, _) = self.hasher.finish();
        Ok(diff_id)
    }
}

/// Extracts every entry, then reads the stream to its end (the tar's trailing padding), so the
/// producer is never left blocked. Returns the layer's size.
fn extract(mut ex: Extractor, mut input: ChunkReader) -> Result<u64, LayerError> {
    {
        let mut archive = tar::Archive::new(&mut input);
        for entry in archive.entries().map_err(LayerError::Read)? {
            let mut entry = entry.map_err(LayerError::Read)?;
            ex.apply(&mut entry)?;
        }
    }
    io::copy(&mut input, &mut io::sink()).map_err(LayerError::Read)?;
    ex.fix_dir_times();
    Ok(ex.size)
}

/// The extractor's side of the chunk channel; spent chunks go back for reuse.
struct ChunkReader {
    full: mpsc::Receiver<Vec<u8>>,
    empty: mpsc::Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.full.recv() {
                Ok(next) => {
                    let spent = std::mem::replace(&mut self.cur, next);
                    self.pos = 0;
                    if spent.capacity() > 0 {
                        let _ = self.empty.send(spent);
                    }
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The decompressing reader; `drain` reads whatever raw input is left.
enum Decoder<R: Read> {
    Plain(BufReader<R>),
    Gzip(Box<flate2::bufread::MultiGzDecoder<BufReader<R>>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<R>>),
}

impl<R: Read> Decoder<R> {
    fn new(c: Compression, input: BufReader<R>) -> io::Result<Self> {
        Ok(match c {
            Compression::None => Decoder::Plain(input),
            Compression::Gzip => {
                Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(input)))
            }
            Compression::Zstd => Decoder::Zstd(zstd::stream::read::Decoder::with_buffer(input)?),
        })
    }

    fn drain(self) -> io::Result<()> {
        let mut raw = match self {
            Decoder::Plain(r) => r,
            Decoder::Gzip(d) => d.into_inner(),
            Decoder::Zstd(d) => d.finish(),
        };
        io::copy(&mut raw, &mut io::sink()).map(|_| ())
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
        }
    }
}

/// Ownership, permissions, time and xattrs of one entry (PAX overrides applied).
struct Meta {
    mode: u32,
    uid: Uid,
    gid: Gid,
    mtime: Timespec,
    xattrs: Vec<(OsString, Vec<u8>)>,
}

struct Extractor {
    root: Root,
    /// Copy buffer for file contents, reused across entries.
    buf: Vec<u8>,
    dir_times: Vec<(Components, Timespec)>,
    size: u64,
}

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";
const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

fn display(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

impl Extractor {
    fn apply<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), LayerError> {
        let raw_path = entry.path_bytes().into_owned();
        let p = display(&raw_path);
        let mut kind = entry.header().entry_type();
        if kind == tar::EntryType::XGlobalHeader {
            return Ok(());
        }
        // Old tars mark directories with a trailing slash on a regular entry.
        if kind == tar::EntryType::Regular && raw_path.ends_with(b"/") {
            kind = tar::EntryType::Directory;
        }
        let meta = read_meta(entry, &p)?;
        let comps = clean(&raw_path);
        let Some((name, parent)) = comps.split_last() else {
            tracing::debug!(path = %p, "layer entry resolves to the root; ignored");
            return Ok(());
        };
        let fs_err = |op: &'static str| {
            let path = p.clone();
            move |e: io::Error| LayerError::Fs {
                path,
                op,
                source: e,
            }
        };
        let errno = |op: &'static str| {
            let path = p.clone();
            move |e: Errno| LayerError::Fs {
                path,
                op,
                source: e.into(),
            }
        };

        let name_bytes = name.as_bytes();
        if let Some(hidden) = name_bytes.strip_prefix(WHITEOUT_PREFIX) {
            let pfd = self
                .root
                .open_dir_create(parent)
                .map_err(fs_err("open parent"))?;
            if name_bytes == WHITEOUT_OPAQUE {
                rfs::fsetxattr(&pfd, OVERLAY_OPAQUE_XATTR, b"y", XattrFlags::empty())
                    .map_err(errno("set opaque xattr"))?;
            } else if name_bytes.starts_with(WHITEOUT_META_PREFIX) {
                tracing::debug!(path = %p, "aufs metadata entry skipped");
            } else {
                if hidden.is_empty() || hidden == b"." || hidden == b".." {
                    return Err(LayerError::Invalid {
                        path: p,
                        reason: "whiteout of nothing".into(),
                    });
                }
                let hidden = OsStr::from_bytes(hidden);
                remove_existing(pfd.as_fd(), hidden, false)
                    .map_err(fs_err("remove before whiteout"))?;
                rfs::mknodat(
                    &pfd,
                    hidden,
                    FileType::CharacterDevice,
                    Mode::empty(),
                    rfs::makedev(0, 0),
                )
                .map_err(errno("mknod whiteout"))?;
                rfs::chownat(
                    &pfd,
                    hidden,
                    Some(meta.uid),
                    Some(meta.gid),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(errno("chown whiteout"))?;
                rfs::utimensat(&pfd, hidden, &times(meta.mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(errno("set whiteout times"))?;
            }
            return Ok(());
        }

        use tar::EntryType as T;
        match kind {
            T::Directory => {
                let pfd = self
                    .root
                    .open_dir_create(parent)
                    .map_err(fs_err("open parent"))?;
                let kept = remove_existing(pfd.as_fd(), name, true).map_err(fs_err("replace"))?;
                if !kept {
                    rfs::mkdirat(&pfd, name, Mode::from_raw_mode(0o700)).map_err(errno("mkdir"))?;
                }
                let dfd = rfs::openat(
                    &pfd,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(errno("open dir"))?;
                rfs::fchown(&dfd, Some(meta.uid), Some(meta.gid)).map_err(errno("chown"))?;
                rfs::fchmod(&dfd, Mode::from_raw_mode(meta.mode)).map_err(errno("chmod"))?;
                set_xattrs_fd(dfd.as_fd(), &meta, &p)?;
                self.dir_times.push((comps.clone(), meta.mtime));
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                let pfd = self
                    .root
                    .open_dir_create(parent)
                    .map_err(fs_err("open parent"))?;
                remove_existing(pfd.as_fd(), name, false).map_err(fs_err("replace"))?;
                let fd = rfs::openat(
                    &pfd,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(errno("create"))?;
                let mut file = File::from(fd);
                loop {
                    let n = match entry.read(&mut self.buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(LayerError::Read(e)),
                    };
                    file.write_all(&self.buf[..n]).map_err(fs_err("write"))?;
                    self.size += n as u64;
                }
                rfs::fchown(&file, Some(meta.uid), Some(meta.gid)).map_err(errno("chown"))?;
                rfs::fchmod(&file, Mode::from_raw_mode(meta.mode)).map_err(errno("chmod"))?;
                set_xattrs_fd(file.as_fd(), &meta, &p)?;
                rfs::futimens(&file, &times(meta.mtime)).map_err(errno("set times"))?;
            }
            T::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| LayerError::Invalid {
                        path: p.clone(),
                        reason: "symlink without target".into(),
                    })?
                    .into_owned();
                let pfd = self
                    .root
                    .open_dir_create(parent)
                    .map_err(fs_err("open parent"))?;
                remove_existing(pfd.as_fd(), name, false).map_err(fs_err("replace"))?;
                rfs::symlinkat(OsStr::from_bytes(&target), &pfd, name).map_err(errno("symlink"))?;
                rfs::chownat(
                    &pfd,
                    name,
                    Some(meta.uid),
                    Some(meta.gid),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(errno("lchown"))?;
                set_xattrs_at(pfd.as_fd(), name, &meta, &p)?;
                rfs::utimensat(&pfd, name, &times(meta.mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(errno("set times"))?;
            }
            T::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| LayerError::Invalid {
                        path: p.clone(),
                        reason: "hardlink without target".into(),
                    })?
                    .into_owned();
                let tcomps = clean(&target);
                let Some((tname, tparent)) = tcomps.split_last() else {
                    return Err(LayerError::Invalid {
                        path: p,
                        reason: "hardlink to the root".into(),
                    });
                };
                if tcomps == comps {
                    return Ok(());
                }
                let tpfd = self
                    .root
                    .open_dir(tparent)
                    .map_err(fs_err("open hardlink target's dir"))?;
                let pfd = self
                    .root
                    .open_dir_create(parent)
                    .map_err(fs_err("open parent"))?;
                remove_existing(pfd.as_fd(), name, false).map_err(fs_err("replace"))?;
                rfs::linkat(&tpfd, tname, &pfd, name, AtFlags::empty())
                    .map_err(errno("hardlink"))?;
            }
            T::Char | T::Block | T::Fifo => {
                let (ft, dev) = match kind {
                    T::Fifo => (FileType::Fifo, 0),
                    _ => {
                        let h = entry.header();
                        let major = h.device_major().ok().flatten().unwrap_or(0);
                        let minor = h.device_minor().ok().flatten().unwrap_or(0);
                        let ft = if kind == T::Char {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        };
                        (ft, rfs::makedev(major, minor))
                    }
                };
                let pfd = self
                    .root
                    .open_dir_create(parent)
                    .map_err(fs_err("open parent"))?;
                remove_existing(pfd.as_fd(), name, false).map_err(fs_err("replace"))?;
                rfs::mknodat(&pfd, name, ft, Mode::from_raw_mode(meta.mode & 0o777), dev)
                    .map_err(errno("mknod"))?;
                rfs::chownat(
                    &pfd,
                    name,
                    Some(meta.uid),
                    Some(meta.gid),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(errno("chown"))?;
                // `name` is the node just made, not a symlink, so this cannot follow one.
                rfs::chmodat(&pfd, name, Mode::from_raw_mode(meta.mode), AtFlags::empty())
                    .map_err(errno("chmod"))?;
                set_xattrs_at(pfd.as_fd(), name, &meta, &p)?;
                rfs::utimensat(&pfd, name, &times(meta.mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(errno("set times"))?;
            }
            other => {
                return Err(LayerError::Unsupported {
                    path: p,
                    kind: other.as_byte() as char,
                });
            }
        }
        Ok(())
    }

    /// Writing into directories changed their mtimes: set the archive's at the end (in entry
    /// order, so a directory listed twice gets its last entry's time; setting a directory's
    /// times does not touch its parent's).
    fn fix_dir_times(&self) {
        for (comps, mtime) in &self.dir_times {
            if let Ok(fd) = self.root.open_dir_no_symlinks(comps) {
                if let Err(e) = rfs::futimens(&fd, &times(*mtime)) {
                    tracing::debug!(error = %e, "setting a directory's mtime failed");
                }
            }
        }
    }
}

fn times(mtime: Timespec) -> Timestamps {
    Timestamps {
        last_access: mtime,
        last_modification: mtime,
    }
}

fn invalid(path: &str, what: &str, e: impl std::fmt::Display) -> LayerError {
    LayerError::Invalid {
        path: path.to_owned(),
        reason: format!("bad {what}: {e}"),
    }
}

fn to_id(v: u64, path: &str, what: &str) -> Result<u32, LayerError> {
    u32::try_from(v)
        .ok()
        .filter(|&v| v != u32::MAX)
        .ok_or_else(|| invalid(path, what, format!("{v} out of range")))
}

/// A header number; an empty field (all NULs or spaces) is 0, as Go's archive/tar reads it.
fn numeric(parsed: io::Result<u64>, raw: &[u8], path: &str, what: &str) -> Result<u64, LayerError> {
    match parsed {
        Ok(v) => Ok(v),
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        Err(e) => Err(invalid(path, what, e)),
    }
}

/// A PAX time: "seconds[.fraction]".
fn parse_pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec: i64 = sec.parse().ok()?;
    let mut nsec = 0i64;
    if !frac.is_empty() && !sec.starts_with('-') {
        let digits: String = frac.chars().take(9).collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nsec = format!("{digits:0<9}").parse().ok()?;
    }
    Some(Timespec {
        tv_sec,
        tv_nsec: nsec as _,
    })
}

fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>, p: &str) -> Result<Meta, LayerError> {
    let h = entry.header();
    let old = h.as_old();
    let mode = numeric(h.mode().map(u64::from), &old.mode, p, "mode")? as u32 & 0o7777;
    let mut uid = numeric(h.uid(), &old.uid, p, "uid")?;
    let mut gid = numeric(h.gid(), &old.gid, p, "gid")?;
    let mut mtime = Timespec {
        tv_sec: numeric(h.mtime(), &old.mtime, p, "mtime")? as i64,
        tv_nsec: 0,
    };
    let mut xattrs = Vec::new();
    if let Some(exts) = entry.pax_extensions().map_err(LayerError::Read)? {
        for ext in exts {
            let ext = ext.map_err(LayerError::Read)?;
            let (key, value) = (ext.key_bytes(), ext.value_bytes());
            let number = || {
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
            };
            match key {
                b"uid" => uid = number().ok_or_else(|| invalid(p, "PAX uid", display(value)))?,
                b"gid" => gid = number().ok_or_else(|| invalid(p, "PAX gid", display(value)))?,
                b"mtime" => {
                    mtime = parse_pax_time(value)
                        .ok_or_else(|| invalid(p, "PAX mtime", display(value)))?
                }
                _ if key.starts_with(b"GNU.sparse.") => {
                    return Err(LayerError::Invalid {
                        path: p.to_owned(),
                        reason: "PAX-format (GNU 1.x) sparse files are not supported".into(),
                    });
                }
                _ => {
                    if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                        if name.starts_with(b"trusted.overlay.") {
                            tracing::debug!(path = %p, "overlay xattr from the tar ignored");
                        } else {
                            xattrs.push((OsStr::from_bytes(name).to_owned(), value.to_vec()));
                        }
                    }
                }
            }
        }
    }
    Ok(Meta {
        mode,
        uid: Uid::from_raw(to_id(uid, p, "uid")?),
        gid: Gid::from_raw(to_id(gid, p, "gid")?),
        mtime,
        xattrs,
    })
}

/// Setting an xattr the filesystem refuses (EPERM, ENOTSUP) is logged and skipped, as docker does.
fn xattr_result(r: Result<(), Errno>, name: &OsStr, p: &str) -> Result<(), LayerError> {
    match r {
        Ok(()) => Ok(()),
        Err(e @ (Errno::PERM | Errno::OPNOTSUPP)) => {
            tracing::warn!(path = %p, xattr = ?name, error = %e, "xattr not set");
            Ok(())
        }
        Err(e) => Err(LayerError::Fs {
            path: p.to_owned(),
            op: "set xattr",
            source: e.into(),
        }),
    }
}

fn set_xattrs_fd(fd: BorrowedFd<'_>, meta: &Meta, p: &str) -> Result<(), LayerError> {
    for (name, value) in &meta.xattrs {
        xattr_result(
            rfs::fsetxattr(fd, name.as_os_str(), value, XattrFlags::empty()),
            name,
            p,
        )?;
    }
    Ok(())
}

/// Xattrs on a node that cannot be opened for writing (symlink, device, fifo): through
/// `/proc/self/fd/<parent>/<name>`, which resolves the parent by its fd, not by a path, and
/// does not follow `name` (lsetxattr).
fn set_xattrs_at(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    meta: &Meta,
    p: &str,
) -> Result<(), LayerError> {
    if meta.xattrs.is_empty() {
        return Ok(());
    }
    let mut path = std::path::PathBuf::from(format!("/proc/self/fd/{}", parent.as_raw_fd()));
    path.push(name);
    for (xname, value) in &meta.xattrs {
        xattr_result(
            rfs::lsetxattr(&path, xname.as_os_str(), value, XattrFlags::empty()),
            xname,
            p,
        )?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
