//! File operations confined to one directory, whatever names and symlinks they meet.
//!
//! The scheme: the target directory is opened once; every entry path is first cleaned lexically
//! (`..` cannot climb above the root, absolute paths are made relative), then its *parent* is
//! opened with `openat2(root_fd, parent, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so the kernel
//! resolves every component, symlinks included, as if the target were `/`: a symlink to
//! `/etc` or `../../..` lands inside the target, and `/proc` magic links are refused. The final
//! component is then created or changed with an `*at` call on that parent fd using flags that
//! never follow a symlink in the last position (`O_NOFOLLOW | O_EXCL`, `AT_SYMLINK_NOFOLLOW`,
//! `mknodat`, `symlinkat`, `linkat` without `AT_SYMLINK_FOLLOW`, `unlinkat`). No path is ever
//! resolved against the host root, so no sequence of entries can reach outside the target.
//! `openat2` needs Linux 5.6; it is retried on `EAGAIN` (a concurrent rename elsewhere).

use std::ffi::{CStr, OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// A cleaned, root-relative path: its components, never empty strings, `.` or `..`.
pub(crate) type Components = Vec<OsString>;

/// Clean a tar path lexically, as `filepath.Clean("/" + p)` would: empty and `.` components
/// vanish, `..` removes the previous component and stops at the root.
pub(crate) fn clean(path: &[u8]) -> Components {
    let mut out: Components = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            other => out.push(OsStr::from_bytes(other).to_owned()),
        }
    }
    out
}

pub(crate) fn join(comps: &[OsString]) -> PathBuf {
    if comps.is_empty() {
        return PathBuf::from(".");
    }
    let mut p = PathBuf::new();
    for c in comps {
        p.push(c);
    }
    p
}

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

fn openat2_retry(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    resolve: ResolveFlags,
) -> io::Result<OwnedFd> {
    let mut tries = 0;
    loop {
        match rfs::openat2(dir, path, flags, Mode::empty(), resolve) {
            Err(Errno::AGAIN) if tries < 128 => tries += 1,
            Err(Errno::NOSYS) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "openat2 is not available (Linux 5.6 or later is required to unpack layers)",
                ))
            }
            other => return other.map_err(io::Error::from),
        }
    }
}

/// The directory entries are confined to.
pub(crate) struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Open `path` (trusted: chosen by pier, not by the tar) as the confinement root.
    pub(crate) fn open(path: &Path) -> io::Result<Root> {
        let fd = rfs::open(path, DIR_FLAGS, Mode::empty())?;
        Ok(Root { fd })
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Open the directory at `comps`, resolved inside the root.
    pub(crate) fn open_dir(&self, comps: &[OsString]) -> io::Result<OwnedFd> {
        openat2_retry(self.fd(), &join(comps), DIR_FLAGS, RESOLVE)
    }

    /// Open the directory at `comps` without following any symlink at all (for fixing up
    /// directory times at the end: a dir since replaced by a symlink is left alone).
    pub(crate) fn open_dir_no_symlinks(&self, comps: &[OsString]) -> io::Result<OwnedFd> {
        openat2_retry(
            self.fd(),
            &join(comps),
            DIR_FLAGS | OFlags::NOFOLLOW,
            RESOLVE | ResolveFlags::NO_SYMLINKS,
        )
    }

    /// Open the directory at `comps`, creating missing components (mode 0755, owned by us), as
    /// tar extractors do for entries whose parents are not in the archive.
    pub(crate) fn open_dir_create(&self, comps: &[OsString]) -> io::Result<OwnedFd> {
        match self.open_dir(comps) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            other => return other,
        }
        let mut cur = self.open_dir(&[])?;
        for i in 0..comps.len() {
            cur = match self.open_dir(&comps[..=i]) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    match rfs::mkdirat(&cur, &comps[i], Mode::from_raw_mode(0o755)) {
                        Ok(()) => {
                            // umask may have narrowed it.
                            rfs::chmodat(
                                &cur,
                                &comps[i],
                                Mode::from_raw_mode(0o755),
                                AtFlags::empty(),
                            )?;
                        }
                        // A dangling symlink has that name: reopening below reports ENOENT.
                        Err(Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    self.open_dir(&comps[..=i])?
                }
                Err(e) => return Err(e),
            };
        }
        Ok(cur)
    }
}

/// Remove whatever `name` is in `parent` (a directory recursively); absent is fine.
/// With `keep_dir`, an existing directory is kept (tar's "directory over directory merges").
/// Returns whether a directory was kept.
pub(crate) fn remove_existing(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    keep_dir: bool,
) -> io::Result<bool> {
    let st = match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory {
        if keep_dir {
            return Ok(true);
        }
        remove_all(parent, name)?;
    } else {
        rfs::unlinkat(parent, name, AtFlags::empty())?;
    }
    Ok(false)
}

/// Remove the directory `name` in `parent` and everything below it, never following symlinks.
pub(crate) fn remove_all(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let fd = rfs::openat(parent, name, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())?;
    let mut children = Vec::new();
    let mut dir = rfs::Dir::read_from(&fd)?;
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let n: &CStr = entry.file_name();
        if n.to_bytes() != b"." && n.to_bytes() != b".." {
            children.push(OsStr::from_bytes(n.to_bytes()).to_owned());
        }
    }
    for child in children {
        match rfs::unlinkat(&fd, &child, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(Errno::ISDIR) => remove_all(fd.as_fd(), &child)?,
            Err(e) => return Err(e.into()),
        }
    }
    rfs::unlinkat(parent, name, AtFlags::REMOVEDIR)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(c: &Components) -> Vec<&str> {
        c.iter().map(|x| x.to_str().unwrap()).collect()
    }

    #[test]
    fn clean_confines_lexically() {
        assert_eq!(s(&clean(b"a/b/c")), ["a", "b", "c"]);
        assert_eq!(s(&clean(b"./a//b/")), ["a", "b"]);
        assert_eq!(s(&clean(b"/etc/passwd")), ["etc", "passwd"]);
        assert_eq!(s(&clean(b"../../etc/passwd")), ["etc", "passwd"]);
        assert_eq!(s(&clean(b"a/../../b")), ["b"]);
        assert!(clean(b"./").is_empty());
        assert!(clean(b"..").is_empty());
        assert_eq!(join(&clean(b"a/b")), PathBuf::from("a/b"));
        assert_eq!(join(&[]), PathBuf::from("."));
    }
}
