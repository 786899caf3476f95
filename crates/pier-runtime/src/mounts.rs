//! The container's filesystem view, built inside its new mount namespace: root propagation,
//! the rootfs bind-mounted on itself, each spec mount in order (bind/rbind, proc, sysfs, tmpfs,
//! devpts, mqueue, cgroup, anything else by type) with its flags, data and propagation, the
//! default device nodes and /dev symlinks, then `pivot_root` (or `MS_MOVE` + chroot with
//! `--no-pivot`), and finally sysctls, read-only and masked paths and the read-only root.
//! A spec with no mount namespace at all gets the same mounts in the caller's namespace (its `/`
//! made rslave first, as runc does) and a plain chroot ([`chroot_root`]).
//!
//! Security: every destination is resolved inside the rootfs ([`secure_join`], symlinks are
//! followed as if the rootfs were `/`) and the mount is then made on an `O_PATH` fd opened with
//! `RESOLVE_IN_ROOT`, so a symlink swapped in between cannot redirect the mount to the host.

use crate::cgroups::CgroupPaths;
use crate::error::{Context, Result, RuntimeError};
use crate::sys::open_in_root;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};
use std::os::fd::AsRawFd;
use std::path::{Component, Path, PathBuf};

/// Parsed mount options.
#[derive(Debug, Clone)]
pub struct MountOptions {
    pub flags: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub data: Vec<String>,
    /// Recursive attributes ("rro", "rnosuid", …) as MOUNT_ATTR_* bits for mount_setattr.
    pub rec_set: u64,
    pub rec_clr: u64,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            data: Vec::new(),
            rec_set: 0,
            rec_clr: 0,
        }
    }
}

/// Split OCI/fstab-style options into mount flags, propagation changes and fs data.
pub fn parse_options(opts: &[String]) -> Result<MountOptions> {
    let mut o = MountOptions::default();
    for opt in opts {
        const RDONLY: u64 = 0x1;
        const NOSUID: u64 = 0x2;
        const NODEV: u64 = 0x4;
        const NOEXEC: u64 = 0x8;
        const ATIME_MASK: u64 = 0x70;
        const NOATIME: u64 = 0x10;
        const STRICTATIME: u64 = 0x20;
        const NODIRATIME: u64 = 0x80;
        const NOSYMFOLLOW: u64 = 0x20_0000;
        let rec: Option<(u64, u64)> = match opt.as_str() {
            "rro" => Some((RDONLY, 0)),
            "rrw" => Some((0, RDONLY)),
            "rnosuid" => Some((NOSUID, 0)),
            "rsuid" => Some((0, NOSUID)),
            "rnodev" => Some((NODEV, 0)),
            "rdev" => Some((0, NODEV)),
            "rnoexec" => Some((NOEXEC, 0)),
            "rexec" => Some((0, NOEXEC)),
            "rnoatime" => Some((NOATIME, ATIME_MASK)),
            "rstrictatime" => Some((STRICTATIME, ATIME_MASK)),
            "rrelatime" => Some((0, ATIME_MASK)),
            "ratime" => Some((0, ATIME_MASK)),
            "rnodiratime" => Some((NODIRATIME, 0)),
            "rdiratime" => Some((0, NODIRATIME)),
            "rnosymfollow" => Some((NOSYMFOLLOW, 0)),
            "rsymfollow" => Some((0, NOSYMFOLLOW)),
            _ => None,
        };
        if let Some((set, clr)) = rec {
            o.rec_set = (o.rec_set & !clr) | set;
            o.rec_clr = (o.rec_clr & !set) | clr;
            continue;
        }
        let (set, clear): (MsFlags, MsFlags) = match opt.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" | "rro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" | "rrw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nosuid" | "rnosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "nodev" | "rnodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noexec" | "rnoexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" | "rnoatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" | "rnodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" | "rrelatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" | "rstrictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                o.propagation.push(propagation_flag(opt).expect("listed"));
                continue;
            }
            "tmpcopyup" | "nosymfollow" => continue,
            "idmap" | "ridmap" => {
                return Err(RuntimeError::Unsupported(
                    "idmapped mounts are not supported by pier-runc".into(),
                ))
            }
            _ => {
                o.data.push(opt.clone());
                continue;
            }
        };
        o.flags.insert(set);
        o.flags.remove(clear);
    }
    Ok(o)
}

/// A propagation keyword as mount flags.
pub fn propagation_flag(s: &str) -> Option<MsFlags> {
    Some(match s {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Resolve `unsafe_path` as if `root` were `/`: `..` stops at the root and symlinks (absolute or
/// relative) are followed inside it. Missing components are kept literally.
pub fn secure_join(root: &Path, unsafe_path: &Path) -> Result<PathBuf> {
    secure_join_in(&open_root(root)?, root, unsafe_path)
}

/// An `O_PATH` fd of a rootfs for [`secure_join_in`].
pub fn open_root(root: &Path) -> Result<std::os::fd::OwnedFd> {
    nix::fcntl::open(
        root,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("open {}", root.display()))
}

/// [`secure_join`] with the root's fd already open (`root_fd` is `root`): components are looked
/// up relative to it, so each lookup walks only the part inside the rootfs, not the rootfs's
/// host path again.
pub fn secure_join_in(
    root_fd: &std::os::fd::OwnedFd,
    root: &Path,
    unsafe_path: &Path,
) -> Result<PathBuf> {
    let mut resolved: Vec<std::ffi::OsString> = Vec::new();
    let mut pending: std::collections::VecDeque<std::ffi::OsString> = unsafe_path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut links = 0;
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            resolved.pop();
            continue;
        }
        let mut candidate = PathBuf::from(".");
        candidate.extend(&resolved);
        candidate.push(&c);
        let stat = nix::sys::stat::fstatat(
            root_fd,
            &candidate,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        );
        match stat {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                links += 1;
                if links > 255 {
                    return Err(RuntimeError::Other(format!(
                        "too many symlinks resolving {}",
                        unsafe_path.display()
                    )));
                }
                let target = PathBuf::from(
                    nix::fcntl::readlinkat(root_fd, &candidate)
                        .ctx(|| format!("readlink {}", root.join(&candidate).display()))?,
                );
                if target.is_absolute() {
                    resolved.clear();
                }
                let mut front: Vec<std::ffi::OsString> = target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_os_string()),
                        Component::ParentDir => Some("..".into()),
                        _ => None,
                    })
                    .collect();
                while let Some(x) = front.pop() {
                    pending.push_front(x);
                }
            }
            _ => resolved.push(c),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&resolved);
    Ok(out)
}

/// What the rootfs setup needs besides the spec.
#[derive(Clone, Copy)]
pub struct RootfsContext<'a> {
    pub rootfs: &'a Path,
    /// `rootfs` opened once ([`open_root`]) for every [`secure_join_in`]: set by
    /// [`prepare_rootfs`] once the rootfs is bind-mounted onto itself (an fd opened before
    /// would not see the mounts made on it).
    pub root_fd: Option<&'a std::os::fd::OwnedFd>,
    pub bundle: &'a Path,
    pub cgroup: &'a CgroupPaths,
    pub cgroupns: bool,
    pub userns: bool,
}

impl RootfsContext<'_> {
    /// [`secure_join`] inside this rootfs.
    fn join(&self, path: &Path) -> Result<PathBuf> {
        match self.root_fd {
            Some(fd) => secure_join_in(fd, self.rootfs, path),
            None => secure_join(self.rootfs, path),
        }
    }
}

fn do_mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> std::result::Result<(), nix::errno::Errno> {
    mount(src, target, fstype, flags, data)
}

fn fd_path(fd: &std::os::fd::OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Flags of an existing mount the kernel may refuse to clear in a user namespace.
fn locked_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (a, b) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(a) {
            out |= b;
        }
    }
    out
}

/// Bind-remount `target` with `flags` (retrying with the flags the kernel locks).
fn bind_remount(target: &Path, flags: MsFlags) -> Result<()> {
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match do_mount(None, target, None, flags | base, None) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EPERM) => do_mount(
            None,
            target,
            None,
            flags | base | locked_flags(target),
            None,
        )
        .ctx(|| format!("remount {}", target.display())),
        Err(e) => Err(e).ctx(|| format!("remount {}", target.display())),
    }
}

fn create_file(path: &Path) -> Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).ctx(|| format!("mkdir {}", p.display()))?;
    }
    if std::fs::symlink_metadata(path).is_err() {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .ctx(|| format!("create {}", path.display()))?;
    }
    Ok(())
}

fn ensure_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).ctx(|| format!("mkdir {}", path.display()))
}

/// Mount everything of the spec under the rootfs (call in the new mount namespace, before
/// [`pivot_root`]).
pub fn prepare_rootfs(spec: &Spec, ctx: &RootfsContext) -> Result<()> {
    let linux = spec.linux().as_ref();
    let prop = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .filter(|s| !s.is_empty())
        .map(|s| {
            propagation_flag(s).ok_or_else(|| {
                RuntimeError::InvalidConfig(format!("invalid rootfsPropagation {s:?}"))
            })
        })
        .transpose()?
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    // Never let our mounts propagate back to the host: slave (or private) first.
    let first = if prop.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE) {
        MsFlags::MS_PRIVATE | MsFlags::MS_REC
    } else {
        prop | MsFlags::MS_REC
    };
    do_mount(None, Path::new("/"), None, first, None).ctx(|| "make / private/slave".into())?;
    do_mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .ctx(|| format!("bind mount rootfs {}", ctx.rootfs.display()))?;
    let root_fd = open_root(ctx.rootfs)?;
    let ctx = &RootfsContext {
        root_fd: Some(&root_fd),
        ..*ctx
    };

    let mut dev_is_mount = false;
    for m in spec.mounts().as_deref().unwrap_or_default() {
        if m.destination() == Path::new("/dev") {
            dev_is_mount = true;
        }
        mount_one(m, ctx)?;
    }
    let old = sys_umask(0);
    let r = create_devices(spec, ctx, dev_is_mount);
    sys_umask(old);
    r
}

fn sys_umask(m: u32) -> u32 {
    crate::sys::umask(m)
}

fn mount_one(m: &Mount, ctx: &RootfsContext) -> Result<()> {
    let opts = parse_options(m.options().as_deref().unwrap_or_default())?;
    let mut typ = m.typ().clone().unwrap_or_default();
    if opts.flags.contains(MsFlags::MS_BIND) || typ == "bind" {
        typ = "bind".into();
    }
    if typ == "proc" || typ == "sysfs" {
        // Never mount these through a symlink (or onto a file): the path as written must be a
        // directory or not exist yet (runc's check and message).
        let literal = ctx
            .rootfs
            .join(m.destination().strip_prefix("/").unwrap_or(m.destination()));
        if let Ok(meta) = std::fs::symlink_metadata(&literal) {
            if !meta.is_dir() {
                return Err(RuntimeError::InvalidConfig(format!(
                    "filesystem {typ:?} must be mounted on ordinary directory"
                )));
            }
        }
    }
    let dest = ctx.join(m.destination())?;
    let rel = dest.strip_prefix(ctx.rootfs).unwrap_or(&dest).to_path_buf();
    let data = opts.data.join(",");
    let data = (!data.is_empty()).then_some(data);
    match typ.as_str() {
        "bind" => {
            let src = m.source().clone().ok_or_else(|| {
                RuntimeError::InvalidConfig(format!(
                    "bind mount {} has no source",
                    m.destination().display()
                ))
            })?;
            let src = if src.is_absolute() {
                src
            } else {
                ctx.bundle.join(src)
            };
            let meta =
                std::fs::metadata(&src).ctx(|| format!("bind mount source {}", src.display()))?;
            if meta.is_dir() {
                ensure_dir(&dest)?;
            } else {
                create_file(&dest)?;
            }
            let fd = open_in_root(ctx.rootfs, &rel)?;
            let target = fd_path(&fd);
            let bflags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
            do_mount(Some(&src), &target, None, bflags, None).ctx(|| {
                format!(
                    "bind mount {} to {}",
                    src.display(),
                    m.destination().display()
                )
            })?;
            let rest = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
            if !rest.is_empty() {
                // Re-open: the fd now points below the new mount.
                let fd = open_in_root(ctx.rootfs, &rel)?;
                bind_remount(&fd_path(&fd), rest)?;
            }
        }
        "cgroup" | "cgroup2" => mount_cgroup(&dest, &rel, &opts, ctx)?,
        _ => {
            ensure_dir(&dest)?;
            let fd = open_in_root(ctx.rootfs, &rel)?;
            let target = fd_path(&fd);
            let src = m.source().clone().unwrap_or_else(|| PathBuf::from(&typ));
            let r = do_mount(Some(&src), &target, Some(&typ), opts.flags, data.as_deref());
            match r {
                Ok(()) => {}
                Err(nix::errno::Errno::EPERM) if typ == "sysfs" || typ == "mqueue" => {
                    // In a user namespace without its own network namespace the kernel refuses a
                    // new sysfs (and mqueue without an ipc namespace): bind the host's, as runc.
                    let host = if typ == "sysfs" {
                        "/sys"
                    } else {
                        "/dev/mqueue"
                    };
                    do_mount(
                        Some(Path::new(host)),
                        &target,
                        None,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        None,
                    )
                    .ctx(|| format!("bind mount {host}"))?;
                    let rest = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
                    if !rest.is_empty() {
                        let fd = open_in_root(ctx.rootfs, &rel)?;
                        bind_remount(&fd_path(&fd), rest)?;
                    }
                }
                Err(e) => {
                    return Err(e).ctx(|| {
                        format!(
                            "mount {} ({typ}) on {}",
                            src.display(),
                            m.destination().display()
                        )
                    })
                }
            }
        }
    }
    for p in &opts.propagation {
        let fd = open_in_root(ctx.rootfs, &rel)?;
        do_mount(None, &fd_path(&fd), None, *p, None)
            .ctx(|| format!("set propagation of {}", m.destination().display()))?;
    }
    if opts.rec_set != 0 || opts.rec_clr != 0 {
        let fd = open_in_root(ctx.rootfs, &rel)?;
        crate::sys::mount_setattr_recursive(&fd, opts.rec_set, opts.rec_clr).map_err(|e| {
            RuntimeError::Other(format!(
                "recursive mount options on {}: {e}",
                m.destination().display()
            ))
        })?;
    }
    Ok(())
}

fn mount_cgroup(dest: &Path, rel: &Path, opts: &MountOptions, ctx: &RootfsContext) -> Result<()> {
    ensure_dir(dest)?;
    let flags = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
    match ctx.cgroup {
        CgroupPaths::V2 { path } => {
            let fd = open_in_root(ctx.rootfs, rel)?;
            let target = fd_path(&fd);
            if ctx.cgroupns {
                do_mount(
                    Some(Path::new("cgroup2")),
                    &target,
                    Some("cgroup2"),
                    flags,
                    None,
                )
                .ctx(|| "mount cgroup2".into())?;
            } else {
                do_mount(
                    Some(path),
                    &target,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                )
                .ctx(|| "bind mount cgroup2".into())?;
                if !flags.is_empty() {
                    let fd = open_in_root(ctx.rootfs, rel)?;
                    bind_remount(&fd_path(&fd), flags)?;
                }
            }
        }
        CgroupPaths::V1 { paths } => {
            let fd = open_in_root(ctx.rootfs, rel)?;
            let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            do_mount(
                Some(Path::new("tmpfs")),
                &fd_path(&fd),
                Some("tmpfs"),
                tmpfs_flags,
                Some("mode=755"),
            )
            .ctx(|| "mount tmpfs for cgroups".into())?;
            for (ctl, host) in paths {
                let sub = dest.join(ctl);
                ensure_dir(&sub)?;
                let srel = rel.join(ctl);
                let fd = open_in_root(ctx.rootfs, &srel)?;
                let target = fd_path(&fd);
                if ctx.cgroupns {
                    do_mount(
                        Some(Path::new("cgroup")),
                        &target,
                        Some("cgroup"),
                        flags,
                        Some(ctl),
                    )
                    .ctx(|| format!("mount cgroup {ctl}"))?;
                } else {
                    do_mount(
                        Some(host),
                        &target,
                        None,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        None,
                    )
                    .ctx(|| format!("bind mount cgroup {ctl}"))?;
                    if !flags.is_empty() {
                        let fd = open_in_root(ctx.rootfs, &srel)?;
                        bind_remount(&fd_path(&fd), flags)?;
                    }
                }
                if ctl.contains(',') {
                    for single in ctl.split(',') {
                        let _ = std::os::unix::fs::symlink(ctl, dest.join(single));
                    }
                }
            }
            if flags.contains(MsFlags::MS_RDONLY) {
                let fd = open_in_root(ctx.rootfs, rel)?;
                do_mount(
                    None,
                    &fd_path(&fd),
                    None,
                    MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | tmpfs_flags,
                    Some("mode=755"),
                )
                .ctx(|| "remount cgroup tmpfs read-only".into())?;
            }
        }
    }
    Ok(())
}

/// The nodes every container gets when /dev is a fresh mount.
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

fn create_devices(spec: &Spec, ctx: &RootfsContext, dev_is_mount: bool) -> Result<()> {
    let devices: Vec<LinuxDevice> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    if dev_is_mount {
        for (path, major, minor) in DEFAULT_DEVICES {
            if devices.iter().any(|d| d.path() == Path::new(path)) {
                continue;
            }
            make_node(ctx, Path::new(path), 'c', *major, *minor, 0o666, 0, 0)?;
        }
        let links = [
            ("/proc/self/fd", "/dev/fd"),
            ("/proc/self/fd/0", "/dev/stdin"),
            ("/proc/self/fd/1", "/dev/stdout"),
            ("/proc/self/fd/2", "/dev/stderr"),
            ("pts/ptmx", "/dev/ptmx"),
        ];
        for (target, link) in links {
            let at = ctx.join(Path::new(link))?;
            if std::fs::symlink_metadata(&at).is_err() {
                std::os::unix::fs::symlink(target, &at).ctx(|| format!("symlink {link}"))?;
            }
        }
        if Path::new("/proc/kcore").exists() {
            let at = ctx.join(Path::new("/dev/core"))?;
            let _ = std::os::unix::fs::symlink("/proc/kcore", at);
        }
    }
    for d in &devices {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::P => 'p',
            LinuxDeviceType::A => {
                return Err(RuntimeError::InvalidConfig(format!(
                    "device {} has type a, which is only valid in cgroup rules",
                    d.path().display()
                )))
            }
        };
        make_node(
            ctx,
            d.path(),
            kind,
            d.major() as u64,
            d.minor() as u64,
            d.file_mode().unwrap_or(0o666),
            d.uid().unwrap_or(0),
            d.gid().unwrap_or(0),
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn make_node(
    ctx: &RootfsContext,
    path: &Path,
    kind: char,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
) -> Result<()> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    if !path.starts_with("/dev") {
        return Err(RuntimeError::InvalidConfig(format!(
            "device path {} is not under /dev",
            path.display()
        )));
    }
    let dest = ctx.join(path)?;
    if let Some(p) = dest.parent() {
        ensure_dir(p)?;
    }
    if ctx.userns {
        // mknod is not allowed in a user namespace: bind the host's node instead.
        create_file(&dest)?;
        let rel = dest.strip_prefix(ctx.rootfs).unwrap_or(&dest);
        let fd = open_in_root(ctx.rootfs, rel)?;
        return do_mount(Some(path), &fd_path(&fd), None, MsFlags::MS_BIND, None)
            .ctx(|| format!("bind device {}", path.display()));
    }
    let sflag = match kind {
        'b' => SFlag::S_IFBLK,
        'p' => SFlag::S_IFIFO,
        _ => SFlag::S_IFCHR,
    };
    let _ = std::fs::remove_file(&dest);
    mknod(
        &dest,
        sflag,
        Mode::from_bits_truncate(mode),
        makedev(major, minor),
    )
    .ctx(|| format!("mknod {}", path.display()))?;
    nix::unistd::chown(
        &dest,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    )
    .ctx(|| format!("chown {}", path.display()))
}

/// Make `rootfs` the root: `pivot_root` and detach the old root.
pub fn pivot_root(rootfs: &Path) -> Result<()> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    let oldroot = open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "open /".into())?;
    let newroot = open(
        rootfs,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open {}", rootfs.display()))?;
    nix::unistd::fchdir(&newroot).ctx(|| "fchdir rootfs".into())?;
    nix::unistd::pivot_root(".", ".").ctx(|| format!("pivot_root {}", rootfs.display()))?;
    nix::unistd::fchdir(&oldroot).ctx(|| "fchdir old root".into())?;
    do_mount(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )
    .ctx(|| "make old root slave".into())?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "unmount old root".into())?;
    nix::unistd::chdir("/").ctx(|| "chdir /".into())
}

/// After pivot_root: a shared or unbindable `rootfsPropagation` (pivot_root refuses a shared
/// new root, so it is applied only now).
pub fn apply_root_propagation(spec: &Spec) -> Result<()> {
    let p = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(propagation_flag);
    if let Some(p) = p {
        if p.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE) {
            do_mount(None, Path::new("/"), None, p | MsFlags::MS_REC, None)
                .ctx(|| "set rootfs propagation".into())?;
        }
    }
    Ok(())
}

/// `--no-pivot`: move the rootfs over / and chroot into it (weaker: the old root stays reachable
/// for a process with CAP_SYS_CHROOT).
pub fn move_root(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).ctx(|| "chdir rootfs".into())?;
    do_mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
        .ctx(|| "move rootfs to /".into())?;
    nix::unistd::chroot(".").ctx(|| "chroot".into())?;
    nix::unistd::chdir("/").ctx(|| "chdir /".into())
}

/// No mount namespace: chroot into the rootfs (its mounts stay in the caller's namespace, as
/// with runc; they go when the bundle's rootfs is unmounted).
pub fn chroot_root(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).ctx(|| format!("chdir {}", rootfs.display()))?;
    nix::unistd::chroot(".").ctx(|| "chroot".into())?;
    nix::unistd::chdir("/").ctx(|| "chdir /".into())
}

/// Write `linux.sysctl` (after pivot_root, before /proc/sys turns read-only).
pub fn write_sysctls(spec: &Spec) -> Result<()> {
    if let Some(s) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        for (k, v) in s {
            let p = PathBuf::from("/proc/sys").join(k.replace('.', "/"));
            std::fs::write(&p, v).ctx(|| format!("sysctl {k}={v}"))?;
        }
    }
    Ok(())
}

/// Read-only paths, then masked paths, then the read-only root (after pivot_root).
pub fn finalize(spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.readonly_paths().as_deref())
        .unwrap_or_default()
    {
        let path = Path::new(p);
        match do_mount(
            Some(path),
            path,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        ) {
            Ok(()) => bind_remount(
                path,
                MsFlags::MS_RDONLY
                    | MsFlags::MS_REC
                    | MsFlags::MS_NOSUID
                    | MsFlags::MS_NODEV
                    | MsFlags::MS_NOEXEC,
            )?,
            Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(e).ctx(|| format!("make {p} read-only")),
        }
    }
    for p in linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or_default()
    {
        let path = Path::new(p);
        // Directories get an empty read-only tmpfs, anything else /dev/null. Look first: a
        // failed bind mount is not free (the kernel undoes the clone and waits for an RCU grace
        // period, milliseconds per path).
        let r = match std::fs::symlink_metadata(path) {
            Err(_) => continue,
            Ok(m) if m.is_dir() => do_mount(
                Some(Path::new("tmpfs")),
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            ),
            Ok(_) => do_mount(
                Some(Path::new("/dev/null")),
                path,
                None,
                MsFlags::MS_BIND,
                None,
            ),
        };
        match r {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(e).ctx(|| format!("mask {p}")),
        }
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        bind_remount(Path::new("/"), MsFlags::MS_RDONLY)?;
    }
    Ok(())
}

/// Bind the terminal's slave over /dev/console (after pivot_root).
pub fn mount_console(slave: &Path) -> Result<()> {
    create_file(Path::new("/dev/console"))?;
    do_mount(
        Some(slave),
        Path::new("/dev/console"),
        None,
        MsFlags::MS_BIND,
        None,
    )
    .ctx(|| "bind mount /dev/console".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = parse_options(&[
            "nosuid".into(),
            "ro".into(),
            "mode=755".into(),
            "rslave".into(),
        ])
        .unwrap();
        assert!(o.flags.contains(MsFlags::MS_NOSUID | MsFlags::MS_RDONLY));
        assert_eq!(o.data, vec!["mode=755"]);
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        let o = parse_options(&["ro".into(), "rw".into()]).unwrap();
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        let o = parse_options(&["rro".into(), "rnoatime".into(), "rnosuid".into()]).unwrap();
        assert_eq!(o.rec_set, 0x1 | 0x10 | 0x2);
        assert_eq!(o.rec_clr, 0x70);
    }

    #[test]
    fn secure_join_stays_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("a/b/up")).unwrap();
        std::os::unix::fs::symlink("loop2", root.join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", root.join("loop2")).unwrap();
        assert_eq!(
            secure_join(root, Path::new("/abs/passwd")).unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(
            secure_join(root, Path::new("/a/b/up/x")).unwrap(),
            root.join("x")
        );
        assert_eq!(
            secure_join(root, Path::new("../../x")).unwrap(),
            root.join("x")
        );
        assert!(secure_join(root, Path::new("/loop1")).is_err());
    }
}
