//! Layer export: an overlayfs-form directory back to an OCI layer tar (the inverse of
//! [`apply_layer`](super::apply_layer)), for `docker save`, `docker commit` and builds.
//!
//! [`write_layer`] walks `dir` in a fixed order (names sorted bytewise, a directory before its
//! contents), so the same tree always gives the same bytes and diff ID. Overlay whiteouts
//! become OCI whiteouts: a 0:0 character device `NAME` is written as an empty regular file
//! `.wh.NAME`, and a directory with `trusted.overlay.opaque=y` is followed by an empty
//! `.wh..wh..opq` entry (as docker's overlay2 driver does). Files with several links inside the
//! tree become one regular entry plus hardlink entries. Kept: type, permission bits incl.
//! setuid, numeric uid/gid, mtime (seconds), symlink targets, device numbers, and the
//! `security.capability` xattr (the only one docker exports). Sockets are skipped. Names that do
//! not fit the header use GNU long-name records, or PAX `path`/`linkpath` when a PAX record is
//! written anyway. The tree must not change while it is read (pause the container); files are
//! opened with `O_NOFOLLOW`, so a symlink swapped in is never read through. A container's upper
//! dir is a plain diff only if its overlay was mounted with `redirect_dir=off` and
//! `metacopy=off` (renamed directories and metadata-only copies are not exported).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use rustix::fs as rfs;

use super::{Applied, LayerError};
use crate::digest::Sha256Writer;

const CAPABILITY_XATTR: &str = "security.capability";

/// Write the layer in `dir` as an uncompressed tar into `out`. Returns `out` (to finish a
/// compressor around it) and the tar's diff ID and size (sum of regular files).
pub fn write_layer<W: Write>(dir: &Path, out: W) -> Result<(W, Applied), LayerError> {
    let mut ex = Exporter {
        tar: tar::Builder::new(Sha256Writer::new(out)),
        links: HashMap::new(),
        size: 0,
    };
    ex.dir(dir, b"")?;
    let hashed = ex.tar.into_inner().map_err(write_err(""))?;
    let (out, diff_id, _) = hashed.finish();
    Ok((
        out,
        Applied {
            diff_id,
            size: ex.size,
        },
    ))
}

struct Exporter<W: Write> {
    tar: tar::Builder<Sha256Writer<W>>,
    /// (dev, ino) of files with several links → the archive path of the first one seen.
    links: HashMap<(u64, u64), Vec<u8>>,
    size: u64,
}

fn write_err(path: &str) -> impl FnOnce(io::Error) -> LayerError + '_ {
    move |source| LayerError::Fs {
        path: path.to_owned(),
        op: "write tar",
        source,
    }
}

fn read_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> LayerError + 'a {
    move |source| LayerError::Fs {
        path: path.display().to_string(),
        op,
        source,
    }
}

fn lgetxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 1024];
    match rfs::lgetxattr(path, name, &mut buf) {
        Ok(n) => {
            buf.truncate(n);
            Some(buf)
        }
        Err(_) => None,
    }
}

fn base_header(md: &fs::Metadata, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(u64::from(md.uid()));
    h.set_gid(u64::from(md.gid()));
    h.set_mtime(md.mtime().max(0) as u64);
    h.set_size(0);
    h
}

impl<W: Write> Exporter<W> {
    /// Append one entry. With PAX records, long names go into PAX `path`/`linkpath`;
    /// otherwise the tar crate emits GNU long-name records as needed.
    fn append(
        &mut self,
        mut h: tar::Header,
        path: &[u8],
        link: Option<&[u8]>,
        mut pax: Vec<(&str, Vec<u8>)>,
        data: impl io::Read,
    ) -> Result<(), LayerError> {
        let shown = String::from_utf8_lossy(path).into_owned();
        let path_os = Path::new(OsStr::from_bytes(path));
        if pax.is_empty() {
            return match link {
                Some(l) => self
                    .tar
                    .append_link(&mut h, path_os, Path::new(OsStr::from_bytes(l))),
                None => self.tar.append_data(&mut h, path_os, data),
            }
            .map_err(write_err(&shown));
        }
        let old = h.as_old_mut();
        if path.len() > old.name.len() {
            pax.push(("path", path.to_vec()));
        }
        let n = path.len().min(old.name.len());
        old.name = [0; 100];
        old.name[..n].copy_from_slice(&path[..n]);
        if let Some(l) = link {
            if l.len() > old.linkname.len() {
                pax.push(("linkpath", l.to_vec()));
            }
            let n = l.len().min(old.linkname.len());
            old.linkname = [0; 100];
            old.linkname[..n].copy_from_slice(&l[..n]);
        }
        h.set_cksum();
        self.tar
            .append_pax_extensions(pax.iter().map(|(k, v)| (*k, v.as_slice())))
            .map_err(write_err(&shown))?;
        self.tar.append(&h, data).map_err(write_err(&shown))
    }

    fn dir(&mut self, abs: &Path, rel: &[u8]) -> Result<(), LayerError> {
        let mut names: Vec<OsString> = fs::read_dir(abs)
            .map_err(read_err(abs, "list"))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(read_err(abs, "list"))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let child = abs.join(&name);
            let mut child_rel = rel.to_vec();
            if !child_rel.is_empty() {
                child_rel.push(b'/');
            }
            child_rel.extend_from_slice(name.as_bytes());
            self.entry(&child, &child_rel, rel, name.as_bytes())?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        abs: &Path,
        rel: &[u8],
        parent_rel: &[u8],
        name: &[u8],
    ) -> Result<(), LayerError> {
        use tar::EntryType as T;
        let md = fs::symlink_metadata(abs).map_err(read_err(abs, "stat"))?;
        let ft = md.file_type();
        if ft.is_dir() {
            let mut path = rel.to_vec();
            path.push(b'/');
            self.append(
                base_header(&md, T::Directory),
                &path,
                None,
                Vec::new(),
                io::empty(),
            )?;
            if lgetxattr(abs, super::OVERLAY_OPAQUE_XATTR).as_deref() == Some(b"y") {
                let mut h = base_header(&md, T::Regular);
                h.set_mode(md.mode() & 0o777);
                path.extend_from_slice(super::WHITEOUT_OPAQUE);
                self.append(h, &path, None, Vec::new(), io::empty())?;
            }
            return self.dir(abs, rel);
        }
        if ft.is_char_device() && md.rdev() == 0 {
            let mut path = parent_rel.to_vec();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(super::WHITEOUT_PREFIX);
            path.extend_from_slice(name);
            let mut h = base_header(&md, T::Regular);
            h.set_mode(0o600);
            return self.append(h, &path, None, Vec::new(), io::empty());
        }
        if ft.is_file() {
            if md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = self.links.get(&key).cloned() {
                    let h = base_header(&md, T::Link);
                    return self.append(h, rel, Some(&first), Vec::new(), io::empty());
                }
                self.links.insert(key, rel.to_vec());
            }
            let file = File::options()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(abs)
                .map_err(read_err(abs, "open"))?;
            let mut h = base_header(&md, T::Regular);
            h.set_size(md.len());
            let pax = match lgetxattr(abs, CAPABILITY_XATTR) {
                Some(v) => vec![("SCHILY.xattr.security.capability", v)],
                None => Vec::new(),
            };
            self.size += md.len();
            // Exactly `len` bytes: a file that changed size would corrupt the archive.
            return self.append(h, rel, None, pax, FixedLen::new(file, md.len()));
        }
        if ft.is_symlink() {
            let target = fs::read_link(abs).map_err(read_err(abs, "readlink"))?;
            let h = base_header(&md, T::Symlink);
            return self.append(
                h,
                rel,
                Some(target.as_os_str().as_bytes()),
                Vec::new(),
                io::empty(),
            );
        }
        if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let kind = if ft.is_char_device() {
                T::Char
            } else if ft.is_block_device() {
                T::Block
            } else {
                T::Fifo
            };
            let mut h = base_header(&md, kind);
            if kind != T::Fifo {
                let dev = md.rdev();
                h.set_device_major(rfs::major(dev)).map_err(write_err(""))?;
                h.set_device_minor(rfs::minor(dev)).map_err(write_err(""))?;
            }
            return self.append(h, rel, None, Vec::new(), io::empty());
        }
        tracing::debug!(path = %abs.display(), "socket or unknown file type not exported");
        Ok(())
    }
}

/// Reads exactly `len` bytes from a file: fails if it is shorter, stops if it grew.
struct FixedLen {
    file: io::Take<File>,
    left: u64,
}

impl FixedLen {
    fn new(file: File, len: u64) -> Self {
        FixedLen {
            file: io::Read::take(file, len),
            left: len,
        }
    }
}

impl io::Read for FixedLen {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being archived",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
