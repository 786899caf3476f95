//! Facts about the host the daemon reports in `GET /info` and `GET /version`: kernel, operating
//! system, CPUs, memory, hostname, cgroup version, and the filesystem under the data root. Each
//! fact is read from procfs/sysfs/os-release by a small parser that is unit tested on text.

use std::path::Path;

/// `uname -r`.
pub fn kernel_version() -> String {
    read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default()
}

pub fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname").unwrap_or_default()
}

/// PRETTY_NAME of /etc/os-release (as dockerd shows it), "Linux" when unknown.
pub fn operating_system() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    os_release(&text)
}

/// (PRETTY_NAME, VERSION_ID) of an os-release text.
pub fn os_release(text: &str) -> (String, String) {
    let mut pretty = None;
    let mut version = String::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "PRETTY_NAME" => pretty = Some(v),
            "VERSION_ID" => version = v,
            _ => {}
        }
    }
    (pretty.unwrap_or_else(|| "Linux".to_string()), version)
}

pub fn ncpu() -> i64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1)
}

/// MemTotal in bytes.
pub fn mem_total() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| meminfo_total(&t))
        .unwrap_or(0)
}

pub fn meminfo_total(text: &str) -> Option<i64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// docker's architecture names: "x86_64", "aarch64" (GET /info shows the kernel's).
pub fn architecture() -> &'static str {
    std::env::consts::ARCH
}

/// Go's GOARCH for this machine ("amd64", "arm64"), as `GET /version` shows it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// One line of /proc/self/mountinfo: (mount point, filesystem type).
fn mountinfo_entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mount_point = pre.split_whitespace().nth(4)?;
            let fstype = post.split_whitespace().next()?;
            Some((unescape_octal(mount_point), fstype.to_string()))
        })
        .collect()
}

fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// "2" when /sys/fs/cgroup is a cgroup2 mount (unified), "1" otherwise (v1 or hybrid).
pub fn cgroup_version() -> String {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    cgroup_version_from(&text).to_string()
}

pub fn cgroup_version_from(mountinfo: &str) -> &'static str {
    let unified = mountinfo_entries(mountinfo)
        .into_iter()
        .rev()
        .find(|(mp, _)| mp == "/sys/fs/cgroup")
        .is_some_and(|(_, fs)| fs == "cgroup2");
    if unified {
        "2"
    } else {
        "1"
    }
}

/// The filesystem `path` lives on, named as dockerd's "Backing Filesystem" ("extfs", "xfs", …).
pub fn backing_filesystem(path: &Path) -> String {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    backing_filesystem_from(&text, path)
}

pub fn backing_filesystem_from(mountinfo: &str, path: &Path) -> String {
    let mut best: Option<(usize, String)> = None;
    for (mp, fs) in mountinfo_entries(mountinfo) {
        if path.starts_with(&mp) {
            let len = mp.len();
            // Later entries over the same mount point shadow earlier ones.
            if best.as_ref().is_none_or(|(l, _)| len >= *l) {
                best = Some((len, fs));
            }
        }
    }
    match best.map(|(_, fs)| fs).as_deref() {
        Some("ext2" | "ext3" | "ext4") => "extfs".into(),
        Some("overlay") => "overlayfs".into(),
        Some(other) => other.into(),
        None => "<unknown>".into(),
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
25 22 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
26 25 0:23 / /sys/fs/cgroup ro shared:8 - tmpfs tmpfs ro,mode=755
27 26 0:24 / /sys/fs/cgroup/unified rw shared:9 - cgroup2 cgroup2 rw
40 22 0:40 / /var/lib/with\\040space rw - xfs /dev/sdb rw
41 22 0:41 / /tmp rw - tmpfs tmpfs rw
";

    #[test]
    fn cgroup_version_detects_unified_only_at_the_root() {
        assert_eq!(cgroup_version_from(MOUNTINFO), "1");
        let v2 = "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup_version_from(v2), "2");
    }

    #[test]
    fn backing_filesystem_uses_longest_mount() {
        assert_eq!(
            backing_filesystem_from(MOUNTINFO, Path::new("/var/lib/pier")),
            "extfs"
        );
        assert_eq!(
            backing_filesystem_from(MOUNTINFO, Path::new("/tmp/x/data")),
            "tmpfs"
        );
        assert_eq!(
            backing_filesystem_from(MOUNTINFO, Path::new("/var/lib/with space/d")),
            "xfs"
        );
    }

    #[test]
    fn parses_os_release_and_meminfo() {
        let (p, v) =
            os_release("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n");
        assert_eq!(p, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(v, "12");
        assert_eq!(os_release("").0, "Linux");
        assert_eq!(
            meminfo_total("MemTotal:        8022136 kB\nMemFree: 1 kB\n"),
            Some(8022136 * 1024)
        );
    }
}
