//! The OCI `config.json` of a container, built as dockerd builds it: runc's default spec with
//! docker's capabilities, seccomp profile (its public default, embedded), masked and read-only
//! paths, the image's and the user's process settings (user resolved in the container's
//! `/etc/passwd` and `/etc/group`), the container's hostname/hosts/resolv.conf files bound in,
//! the HostConfig's resources, mounts and security options, and a cgroup under the daemon's
//! cgroup parent.

use std::path::Path;

use serde_json::{json, Value};

use super::Record;
use crate::engine::{EngineError, Result};

/// docker's public default seccomp profile.
const SECCOMP_DEFAULT: &str = include_str!("seccomp-default.json");

/// docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = pier_runtime::capabilities::DOCKER_DEFAULT;

const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Every capability the kernel knows, for `--privileged` and `--cap-add ALL`.
fn all_caps() -> Vec<String> {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    const NAMES: &[&str] = &[
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    NAMES
        .iter()
        .take(last as usize + 1)
        .map(|n| format!("CAP_{n}"))
        .collect()
}

fn cap_name(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// The capability set of a container (docker's defaults, `CapAdd`, `CapDrop`, `Privileged`).
pub fn capabilities(hc: &Value) -> Result<Vec<String>> {
    if hc["Privileged"].as_bool().unwrap_or(false) {
        return Ok(all_caps());
    }
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).map(cap_name).collect())
            .unwrap_or_default()
    };
    let add = strs(&hc["CapAdd"]);
    let drop = strs(&hc["CapDrop"]);
    let known = all_caps();
    for c in add.iter().chain(drop.iter()) {
        if c != "CAP_ALL" && !known.contains(c) {
            return Err(EngineError::InvalidParameter(format!(
                "unknown capability: {c:?}"
            )));
        }
    }
    let mut caps: Vec<String> = if drop.iter().any(|c| c == "CAP_ALL") {
        Vec::new()
    } else {
        DEFAULT_CAPS
            .iter()
            .map(|s| s.to_string())
            .filter(|c| !drop.contains(c))
            .collect()
    };
    if add.iter().any(|c| c == "CAP_ALL") {
        return Ok(known);
    }
    for c in add {
        if !caps.contains(&c) {
            caps.push(c);
        }
    }
    Ok(caps)
}

/// A user spec ("name", "uid", "uid:gid", "name:group") resolved in the container's rootfs:
/// (uid, gid, additional gids, home).
pub fn resolve_user(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
) -> Result<(u32, u32, Vec<u32>, String)> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let groups = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let entries: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 6)
        .collect();
    let (uid, mut gid, home) = if u.is_empty() {
        let home = entries
            .iter()
            .find(|f| f[2] == "0")
            .map_or("/root".to_string(), |f| f[5].to_string());
        (0, 0, home)
    } else if let Some(f) = entries.iter().find(|f| f[0] == u) {
        (
            f[2].parse().unwrap_or(0),
            f[3].parse().unwrap_or(0),
            f[5].to_string(),
        )
    } else if let Ok(n) = u.parse::<u32>() {
        match entries.iter().find(|f| f[2] == u) {
            Some(f) => (n, f[3].parse().unwrap_or(0), f[5].to_string()),
            None => (n, 0, "/".to_string()),
        }
    } else {
        return Err(EngineError::System(format!(
            "unable to find user {u}: no matching entries in passwd file"
        )));
    };
    let group_entries: Vec<Vec<&str>> = groups
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3)
        .collect();
    let find_group = |g: &str| -> Result<u32> {
        if let Some(f) = group_entries.iter().find(|f| f[0] == g) {
            return Ok(f[2].parse().unwrap_or(0));
        }
        g.parse::<u32>().map_err(|_| {
            EngineError::System(format!(
                "unable to find group {g}: no matching entries in group file"
            ))
        })
    };
    if let Some(g) = g {
        gid = find_group(g)?;
    }
    let mut additional = Vec::new();
    if !u.is_empty() {
        let name = entries
            .iter()
            .find(|f| f[2] == uid.to_string())
            .map(|f| f[0].to_string())
            .unwrap_or_default();
        for f in &group_entries {
            if !name.is_empty() && f.len() >= 4 && f[3].split(',').any(|m| m == name) {
                if let Ok(n) = f[2].parse::<u32>() {
                    if n != gid && !additional.contains(&n) {
                        additional.push(n);
                    }
                }
            }
        }
    }
    for g in group_add {
        let n = find_group(g)?;
        if !additional.contains(&n) {
            additional.push(n);
        }
    }
    Ok((uid, gid, additional, home))
}

/// The process's environment: the container's (`Config.Env`), with docker's default PATH when
/// none is set, HOME from the user's entry, and TERM with a tty.
pub fn process_env(env: &[String], home: &str, tty: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        out.push(DEFAULT_PATH.to_string());
    }
    out.extend(env.iter().cloned());
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        out.push(format!("HOME={home}"));
    }
    if tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        out.push("TERM=xterm".into());
    }
    out
}

fn parse_size(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// The host's hard limit for open files (a container cannot be given more).
fn host_nofile_hard() -> u64 {
    let mut r = libc_rlimit();
    if r.1 == 0 {
        r.1 = 1024;
    }
    r.1
}

fn libc_rlimit() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    for l in text.lines() {
        if l.starts_with("Max open files") {
            let f: Vec<&str> = l.split_whitespace().collect();
            let n = f.len();
            if n >= 5 {
                let p = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
                return (p(f[n - 3]), p(f[n - 2]));
            }
        }
    }
    (1024, 1024)
}

/// Everything [`build`] needs besides the record.
pub struct SpecInput<'a> {
    pub rootfs: &'a Path,
    pub container_dir: &'a Path,
    pub cgroup_parent: &'a str,
    /// The static init bound at `/sbin/docker-init` when HostConfig.Init is set.
    pub init: &'a Path,
}

/// The `config.json` for `rec`.
pub fn build(rec: &Record, input: &SpecInput<'_>) -> Result<Value> {
    let cfg = &rec.config;
    let hc = &rec.host_config;
    let mut spec = pier_runtime::spec::default_spec(false);
    let tty = cfg["Tty"].as_bool().unwrap_or(false);
    let privileged = hc["Privileged"].as_bool().unwrap_or(false);
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };

    // Process.
    let group_add = strs(&hc["GroupAdd"]);
    let (uid, gid, additional, home) =
        resolve_user(input.rootfs, cfg["User"].as_str().unwrap_or(""), &group_add)?;
    let init = hc["Init"].as_bool().unwrap_or(false);
    let mut args = Vec::new();
    if init {
        args.extend([pier_init::CONTAINER_PATH.to_string(), "--".to_string()]);
    }
    args.push(rec.path.clone());
    args.extend(rec.args.iter().cloned());
    let mut env = process_env(&strs(&cfg["Env"]), &home, tty);
    let hostname = cfg["Hostname"].as_str().unwrap_or("").to_string();
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.insert(1.min(env.len()), format!("HOSTNAME={hostname}"));
    }
    let cwd = match cfg["WorkingDir"].as_str().unwrap_or("") {
        "" => "/".to_string(),
        w => w.to_string(),
    };
    let caps = capabilities(hc)?;
    let p = &mut spec["process"];
    p["terminal"] = json!(tty);
    p["args"] = json!(args);
    p["env"] = json!(env);
    p["cwd"] = json!(cwd);
    p["user"] = json!({"uid": uid, "gid": gid, "additionalGids": additional});
    p["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps,
    });
    let sec_opts = strs(&hc["SecurityOpt"]);
    let no_new_privs = sec_opts.iter().any(|o| {
        o == "no-new-privileges" || o == "no-new-privileges:true" || o == "no-new-privileges=true"
    });
    p["noNewPrivileges"] = json!(no_new_privs);
    let hard = host_nofile_hard().min(1_048_576);
    let mut rlimits = vec![json!({"type": "RLIMIT_NOFILE", "hard": hard, "soft": hard})];
    if let Some(ul) = hc["Ulimits"].as_array() {
        for u in ul {
            let name = u["Name"].as_str().unwrap_or("");
            let ty = format!("RLIMIT_{}", name.to_ascii_uppercase());
            rlimits.retain(|r| r["type"] != ty.as_str());
            rlimits.push(json!({"type": ty, "hard": u["Hard"].as_i64().unwrap_or(0), "soft": u["Soft"].as_i64().unwrap_or(0)}));
        }
    }
    p["rlimits"] = json!(rlimits);
    if let Some(o) = p.as_object_mut() {
        o.remove("apparmorProfile");
    }

    // Root and hostname.
    spec["root"] = json!({
        "path": input.rootfs.display().to_string(),
        "readonly": hc["ReadonlyRootfs"].as_bool().unwrap_or(false),
    });
    let network = hc["NetworkMode"].as_str().unwrap_or("default");
    let host_net = network == "host";
    if host_net {
        spec.as_object_mut().map(|o| o.remove("hostname"));
    } else {
        spec["hostname"] = json!(hostname);
    }

    // Mounts.
    let mounts = spec["mounts"].as_array_mut().expect("default mounts");
    if privileged {
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                m["options"] = json!(["nosuid", "noexec", "nodev", "rw"]);
            }
        }
    }
    let shm = parse_size(&hc["ShmSize"]);
    let shm = if shm > 0 { shm } else { 64 * 1024 * 1024 };
    for m in mounts.iter_mut() {
        if m["destination"] == "/dev/shm" {
            m["options"] = json!([
                "nosuid",
                "noexec",
                "nodev",
                "mode=1777",
                format!("size={shm}")
            ]);
        }
    }
    for (file, dest) in [
        ("resolv.conf", "/etc/resolv.conf"),
        ("hostname", "/etc/hostname"),
        ("hosts", "/etc/hosts"),
    ] {
        mounts.push(json!({
            "destination": dest, "type": "bind",
            "source": input.container_dir.join(file).display().to_string(),
            "options": ["rbind", "rprivate"],
        }));
    }
    if init {
        mounts.push(json!({
            "destination": pier_init::CONTAINER_PATH, "type": "bind",
            "source": input.init.display().to_string(), "options": ["bind", "ro"],
        }));
    }
    if let Some(t) = hc["Tmpfs"].as_object() {
        for (dest, opts) in t {
            let mut o = vec![
                "nosuid".to_string(),
                "nodev".to_string(),
                "noexec".to_string(),
            ];
            o.extend(
                opts.as_str()
                    .unwrap_or("")
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
            mounts.push(
                json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": o}),
            );
        }
    }
    for b in strs(&hc["Binds"]) {
        let parts: Vec<&str> = b.split(':').collect();
        if parts.len() < 2 || !parts[0].starts_with('/') {
            return Err(EngineError::NotImplemented(format!(
                "pier does not implement named volumes yet ({b:?}); use a bind mount with an absolute host path"
            )));
        }
        let ro = parts
            .get(2)
            .is_some_and(|o| o.split(',').any(|x| x == "ro"));
        let src = Path::new(parts[0]);
        if !src.exists() {
            std::fs::create_dir_all(src).map_err(|e| {
                EngineError::system(&format!("create bind source {}", src.display()), e)
            })?;
        }
        let mut o = vec!["rbind", "rprivate"];
        if ro {
            o.push("ro");
        }
        mounts.push(
            json!({"destination": parts[1], "type": "bind", "source": parts[0], "options": o}),
        );
    }

    // Linux.
    let linux = &mut spec["linux"];
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        if host_net {
            ns.retain(|n| n["type"] != "network" && n["type"] != "uts");
        }
        if hc["PidMode"].as_str() == Some("host") {
            ns.retain(|n| n["type"] != "pid");
        }
        if hc["IpcMode"].as_str() == Some("host") {
            ns.retain(|n| n["type"] != "ipc");
        }
    }
    linux["cgroupsPath"] = json!(format!(
        "{}/{}",
        input.cgroup_parent.trim_end_matches('/'),
        rec.id
    ));
    if privileged {
        linux["maskedPaths"] = json!([]);
        linux["readonlyPaths"] = json!([]);
    } else {
        linux["maskedPaths"] = json!(MASKED);
        linux["readonlyPaths"] = json!(READONLY);
    }
    if let Some(s) = hc["Sysctls"].as_object() {
        linux["sysctl"] = Value::Object(s.clone());
    }
    let mut res = json!({"devices": [{"allow": false, "access": "rwm"}]});
    let mem = parse_size(&hc["Memory"]);
    let swap = parse_size(&hc["MemorySwap"]);
    let reservation = parse_size(&hc["MemoryReservation"]);
    let mut memory = serde_json::Map::new();
    if mem > 0 {
        memory.insert("limit".into(), json!(mem));
        let swap = if swap == 0 { mem * 2 } else { swap };
        memory.insert("swap".into(), json!(swap));
    }
    if reservation > 0 {
        memory.insert("reservation".into(), json!(reservation));
    }
    if hc["OomKillDisable"].as_bool().unwrap_or(false) {
        memory.insert("disableOOMKiller".into(), json!(true));
    }
    if !memory.is_empty() {
        res["memory"] = Value::Object(memory);
    }
    let mut cpu = serde_json::Map::new();
    let nano = parse_size(&hc["NanoCpus"]);
    if nano > 0 {
        cpu.insert("period".into(), json!(100_000));
        cpu.insert("quota".into(), json!(nano * 100_000 / 1_000_000_000));
    }
    if parse_size(&hc["CpuQuota"]) > 0 {
        cpu.insert("quota".into(), json!(parse_size(&hc["CpuQuota"])));
    }
    if parse_size(&hc["CpuPeriod"]) > 0 {
        cpu.insert("period".into(), json!(parse_size(&hc["CpuPeriod"])));
    }
    if parse_size(&hc["CpuShares"]) > 0 {
        cpu.insert("shares".into(), json!(parse_size(&hc["CpuShares"])));
    }
    if let Some(c) = hc["CpusetCpus"].as_str().filter(|s| !s.is_empty()) {
        cpu.insert("cpus".into(), json!(c));
    }
    if !cpu.is_empty() {
        res["cpu"] = Value::Object(cpu);
    }
    if parse_size(&hc["PidsLimit"]) > 0 {
        res["pids"] = json!({"limit": parse_size(&hc["PidsLimit"])});
    }
    linux["resources"] = res;

    // Seccomp.
    let seccomp_opt = sec_opts.iter().find_map(|o| {
        o.strip_prefix("seccomp=")
            .or_else(|| o.strip_prefix("seccomp:"))
    });
    let profile = match seccomp_opt {
        Some("unconfined") => None,
        Some(p) => Some(p.to_string()),
        None if privileged => None,
        None => Some(SECCOMP_DEFAULT.to_string()),
    };
    if let Some(profile) = profile {
        let s = pier_runtime::seccomp_profile::docker_to_oci(
            &profile,
            pier_runtime::seccomp_profile::host_arch(),
            &caps,
        )
        .map_err(|e| EngineError::InvalidParameter(format!("seccomp profile: {e}")))?;
        linux["seccomp"] = s;
    } else if let Some(o) = linux.as_object_mut() {
        o.remove("seccomp");
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_follow_docker_rules() {
        let c = capabilities(&json!({})).unwrap();
        assert_eq!(c.len(), DEFAULT_CAPS.len());
        let c = capabilities(&json!({"CapAdd": ["NET_ADMIN"], "CapDrop": ["chown"]})).unwrap();
        assert!(c.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!c.contains(&"CAP_CHOWN".to_string()));
        assert!(capabilities(&json!({"CapDrop": ["ALL"]}))
            .unwrap()
            .is_empty());
        assert!(capabilities(&json!({"CapAdd": ["BOGUS"]})).is_err());
        assert!(capabilities(&json!({"Privileged": true})).unwrap().len() > 30);
    }

    #[test]
    fn users_resolve_in_the_rootfs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\nwww:x:33:\nstaff:x:50:www\n",
        )
        .unwrap();
        assert_eq!(
            resolve_user(d.path(), "", &[]).unwrap(),
            (0, 0, vec![], "/root".into())
        );
        assert_eq!(
            resolve_user(d.path(), "www", &[]).unwrap(),
            (33, 33, vec![50], "/var/www".into())
        );
        assert_eq!(
            resolve_user(d.path(), "1000:staff", &[]).unwrap(),
            (1000, 50, vec![], "/".into())
        );
        assert!(resolve_user(d.path(), "nobody", &[]).is_err());
        let env = process_env(&["A=1".into()], "/root", true);
        assert_eq!(
            env,
            vec![
                DEFAULT_PATH.to_string(),
                "A=1".into(),
                "HOME=/root".into(),
                "TERM=xterm".into()
            ]
        );
    }
}
