//! Namespaces: OCI types ↔ clone flags and /proc names, joining by path (`setns`, user
//! namespace first), and the uid/gid maps the parent writes for a child's new user namespace.

use crate::error::{Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespace, LinuxNamespaceType};

pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// Name of the namespace file under /proc/<pid>/ns.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Join the namespace at `path`.
pub fn join(path: &std::path::Path, t: LinuxNamespaceType) -> Result<()> {
    let f = std::fs::File::open(path).ctx(|| format!("open namespace {}", path.display()))?;
    nix::sched::setns(&f, flag(t)).ctx(|| format!("setns {} ({})", path.display(), proc_name(t)))
}

/// Order in which namespaces are joined: user first (it grants the rights for the others),
/// mount last (after it, host paths are no longer visible).
pub fn join_order(list: &[LinuxNamespace]) -> Vec<LinuxNamespace> {
    let rank = |t: LinuxNamespaceType| match t {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 9,
        _ => 5,
    };
    let mut v = list.to_vec();
    v.sort_by_key(|n| rank(n.typ()));
    v
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Write uid and gid maps of the user namespace of `pid` (done by the parent, which holds the
/// privileges in the parent namespace).
pub fn write_id_maps(pid: i32, uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<()> {
    if !uids.is_empty() {
        std::fs::write(format!("/proc/{pid}/uid_map"), map_text(uids))
            .ctx(|| format!("write uid_map of {pid}"))?;
    }
    if !gids.is_empty() {
        std::fs::write(format!("/proc/{pid}/gid_map"), map_text(gids))
            .ctx(|| format!("write gid_map of {pid}"))?;
    }
    Ok(())
}
