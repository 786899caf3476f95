//! The container configuration: runc's default `config.json` (for `pier-runc spec`), loading a
//! bundle's config with clear errors, and the checks done before anything is created, so that bad
//! input fails early and leaves nothing behind.

use crate::error::{Result, RuntimeError};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

/// runc 1.1's `runc spec` output, byte for byte in content (ours names the host "runc" too, so
/// tools comparing with runc see the same defaults).
pub const DEFAULT_SPEC: &str = r#"{
	"ociVersion": "1.0.2-dev",
	"process": {
		"terminal": true,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			"sh"
		],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"effective": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"permitted": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"ambient": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "runc",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [
				"nosuid",
				"strictatime",
				"mode=755",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [
				"nosuid",
				"noexec",
				"newinstance",
				"ptmxmode=0666",
				"mode=0620",
				"gid=5"
			]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"mode=1777",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [
				"nosuid",
				"noexec",
				"nodev"
			]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"ro"
			]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"relatime",
				"ro"
			]
		}
	],
	"linux": {
		"resources": {
			"devices": [
				{
					"allow": false,
					"access": "rwm"
				}
			]
		},
		"namespaces": [
			{
				"type": "pid"
			},
			{
				"type": "network"
			},
			{
				"type": "ipc"
			},
			{
				"type": "uts"
			},
			{
				"type": "mount"
			},
			{
				"type": "cgroup"
			}
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}
"#;

/// The default spec, optionally adapted for a rootless container (user namespace mapping the
/// caller's uid/gid to root, no network namespace, no cgroup limits), as `runc spec --rootless`.
pub fn default_spec(rootless: bool) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT_SPEC).expect("valid default spec");
    if rootless {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let linux = &mut v["linux"];
        linux["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        linux["namespaces"] = serde_json::json!([
            {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
            {"type": "cgroup"}, {"type": "user"}
        ]);
        linux.as_object_mut().unwrap().remove("resources");
        let mounts = v["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = serde_json::json!({"destination": "/sys", "type": "none", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            if m["destination"] == "/dev/pts" {
                m["options"] = serde_json::json!([
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620"
                ]);
            }
        }
    }
    v
}

/// A bundle's config, checked, with the rootfs made absolute.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub spec: Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
}

/// Read `<bundle>/config.json`, parse it, and check what must hold before creating anything.
pub fn load_bundle(bundle: &Path) -> Result<LoadedSpec> {
    let bundle = std::fs::canonicalize(bundle).map_err(|source| RuntimeError::ReadConfig {
        path: bundle.to_path_buf(),
        source,
    })?;
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| RuntimeError::ReadConfig {
        path: path.clone(),
        source,
    })?;
    let spec: Spec = serde_json::from_str(&text)
        .map_err(|e| RuntimeError::InvalidConfig(format!("{}: {e}", path.display())))?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| RuntimeError::InvalidConfig("root must be set".into()))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let rootfs = std::fs::canonicalize(&rootfs).map_err(|_| RuntimeError::MissingRootfs(rootfs))?;
    if !rootfs.is_dir() {
        return Err(RuntimeError::MissingRootfs(rootfs));
    }
    validate(&spec)?;
    Ok(LoadedSpec {
        spec,
        bundle,
        rootfs,
    })
}

/// Checks of the parts of the spec the init cannot report cheaply once it runs.
pub fn validate(spec: &Spec) -> Result<()> {
    let bad = |m: &str| Err(RuntimeError::InvalidConfig(m.to_string()));
    let v = spec.version();
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
        || parts[0] != "1"
    {
        return Err(RuntimeError::InvalidConfig(format!(
            "unsupported ociVersion {v:?}: expected 1.x.y"
        )));
    }
    let process = match spec.process() {
        Some(p) => p,
        None => return bad("process must be set"),
    };
    match process.args() {
        Some(a) if !a.is_empty() && !a[0].is_empty() => {}
        _ => return bad("args must not be empty"),
    }
    if !process.cwd().is_absolute() {
        return bad("cwd must be an absolute path");
    }
    let linux = match spec.linux() {
        Some(l) => l,
        None => return bad("linux section must be set"),
    };
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    let mut seen = Vec::new();
    for ns in &namespaces {
        if seen.contains(&ns.typ()) {
            return Err(RuntimeError::InvalidConfig(format!(
                "duplicate namespace type {}",
                ns.typ()
            )));
        }
        seen.push(ns.typ());
        if let Some(p) = ns.path() {
            if !p.exists() {
                return Err(RuntimeError::InvalidConfig(format!(
                    "namespace path {} of type {} does not exist",
                    p.display(),
                    ns.typ()
                )));
            }
        }
    }
    let has = |t: LinuxNamespaceType| seen.contains(&t);
    // Without a mount namespace the rootfs is prepared in the caller's (runc does the same);
    // masking or read-only paths there would hide the host's own /proc and /sys.
    if !has(LinuxNamespaceType::Mount)
        && (linux.masked_paths().as_ref().is_some_and(|p| !p.is_empty())
            || linux
                .readonly_paths()
                .as_ref()
                .is_some_and(|p| !p.is_empty()))
    {
        return bad("unable to restrict sys entries without a private MNT namespace");
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return bad("unable to set hostname without a private UTS namespace");
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts)
    {
        return bad("unable to set domainname without a private UTS namespace");
    }
    let user = has(LinuxNamespaceType::User);
    let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if user
        && !maps
        && namespaces
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())
    {
        return bad("user namespace requires uidMappings and gidMappings");
    }
    if !user && maps {
        return bad("uidMappings given without a user namespace");
    }
    if let Some(sysctl) = linux.sysctl() {
        for key in sysctl.keys() {
            if key.starts_with("net.") && !has(LinuxNamespaceType::Network) {
                return Err(RuntimeError::InvalidConfig(format!(
                    "sysctl {key:?} is not allowed in the host's network namespace"
                )));
            }
            if (key.starts_with("kernel.")
                && !key.starts_with("kernel.msg")
                && !key.starts_with("kernel.sem")
                && !key.starts_with("kernel.shm")
                && key != "kernel.domainname"
                && key != "kernel.hostname")
                || key.contains("..")
                || key.contains('/')
            {
                return Err(RuntimeError::InvalidConfig(format!(
                    "sysctl {key:?} is not in a separate kernel namespace"
                )));
            }
        }
    }
    for m in spec.mounts().as_deref().unwrap_or_default() {
        if !m.destination().is_absolute() {
            return Err(RuntimeError::InvalidConfig(format!(
                "mount destination {} is not absolute",
                m.destination().display()
            )));
        }
    }
    Ok(())
}

/// Whether the spec asks for a namespace of this type (new or joined).
pub fn has_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|ns| ns.typ() == typ))
}

/// The OCI features document (`pier-runc features`).
pub fn features() -> serde_json::Value {
    let caps: Vec<String> = {
        let mut v: Vec<_> = caps::all().into_iter().collect();
        v.sort_by_key(|c| c.index());
        v.into_iter().map(|c| c.to_string()).collect()
    };
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
            "mand", "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime",
            "nosuid", "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave",
            "runbindable", "rw", "shared", "slave", "strictatime", "suid", "sync", "unbindable"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {"org.opencontainers.runc.version": "pier-runc 0.1.0"}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_and_validates() {
        let spec: Spec = serde_json::from_str(DEFAULT_SPEC).unwrap();
        validate(&spec).unwrap();
        let rl: Spec = serde_json::from_value(default_spec(true)).unwrap();
        validate(&rl).unwrap();
    }

    #[test]
    fn unknown_namespace_is_rejected() {
        let mut v = default_spec(false);
        v["linux"]["namespaces"] = serde_json::json!([{"type": "bogus"}, {"type": "mount"}]);
        assert!(serde_json::from_value::<Spec>(v).is_err());
    }

    #[test]
    fn hostname_needs_uts() {
        let mut v = default_spec(false);
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
        let spec: Spec = serde_json::from_value(v).unwrap();
        assert!(validate(&spec).unwrap_err().to_string().contains("UTS"));
    }

    #[test]
    fn empty_args_rejected() {
        let mut v = default_spec(false);
        v["process"]["args"] = serde_json::json!([]);
        let spec: Spec = serde_json::from_value(v).unwrap();
        assert!(validate(&spec).is_err());
    }
}
