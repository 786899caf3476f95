//! cgroup v1: one directory per mounted hierarchy (found in /proc/self/mountinfo). Controllers:
//! memory (limit, swap via memsw, reservation, swappiness, OOM killer), cpu (shares, CFS quota and
//! period, burst, idle, RT), cpuset (initialised from the parent, as the kernel requires), pids,
//! blkio (weights and throttles), hugetlb, devices (allowlist), freezer (pause), net_cls/net_prio.
//! A limit for a controller that is not mounted is an error, never silently dropped.

use super::{read, read_kv, read_procs, read_u64, remove_dir, write, CgroupManager, Stats};
use crate::error::{Result, RuntimeError};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxResources};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A mounted v1 hierarchy.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// Its controllers, comma-joined as in /proc/self/cgroup ("cpu,cpuacct").
    pub controllers: String,
    pub mountpoint: PathBuf,
    /// The cgroup at the mount's root (mountinfo field 4).
    pub root: PathBuf,
}

const KNOWN: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
];

/// The v1 hierarchies mounted in this mount namespace (named ones such as name=systemd skipped).
pub fn hierarchies() -> Result<Vec<Hierarchy>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| RuntimeError::Cgroup(format!("read mountinfo: {e}")))?;
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let post: Vec<&str> = post.split_whitespace().collect();
        if post.first() != Some(&"cgroup") {
            continue;
        }
        let pre: Vec<&str> = pre.split_whitespace().collect();
        if pre.len() < 5 {
            continue;
        }
        let opts = post.get(2).copied().unwrap_or("");
        let ctls: Vec<&str> = opts.split(',').filter(|o| KNOWN.contains(o)).collect();
        if ctls.is_empty() {
            continue;
        }
        let controllers = ctls.join(",");
        if out.iter().any(|h| h.controllers == controllers) {
            continue;
        }
        out.push(Hierarchy {
            controllers,
            mountpoint: PathBuf::from(unescape(pre[4])),
            root: PathBuf::from(unescape(pre[3])),
        });
    }
    Ok(out)
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\134", "\\")
}

/// cgroup v1 manager.
pub struct V1Manager {
    paths: BTreeMap<String, PathBuf>,
}

impl V1Manager {
    pub fn new(paths: BTreeMap<String, PathBuf>) -> Self {
        V1Manager { paths }
    }

    /// The directory of the hierarchy holding `controller`.
    fn dir(&self, controller: &str) -> Option<&Path> {
        self.paths
            .iter()
            .find(|(k, _)| k.split(',').any(|c| c == controller))
            .map(|(_, v)| v.as_path())
    }

    fn need(&self, controller: &str) -> Result<&Path> {
        self.dir(controller).ok_or_else(|| {
            RuntimeError::Cgroup(format!(
                "the {controller} cgroup controller is not mounted on this host"
            ))
        })
    }

    fn memory(&self, res: &LinuxResources) -> Result<()> {
        let Some(m) = res.memory() else { return Ok(()) };
        let has_any = m.limit().is_some()
            || m.swap().is_some()
            || m.reservation().is_some()
            || m.swappiness().is_some()
            || m.disable_oom_killer().is_some()
            || m.kernel_tcp().is_some();
        if !has_any {
            return Ok(());
        }
        let dir = self.need("memory")?;
        let limit = m.limit();
        let swap = m.swap();
        if let Some(swap) = swap {
            if !dir.join("memory.memsw.limit_in_bytes").exists() {
                return Err(RuntimeError::Cgroup(
                    "memory swap limit requested but swap accounting (memory.memsw.*) is not enabled"
                        .into(),
                ));
            }
            // The kernel checks memory <= memsw at every write: order the two writes.
            let cur_memsw: i64 = read(dir, "memory.memsw.limit_in_bytes")?
                .parse()
                .unwrap_or(-1);
            let grow = swap == -1 || (cur_memsw != -1 && swap > cur_memsw);
            if grow {
                write(dir, "memory.memsw.limit_in_bytes", &swap.to_string())?;
                if let Some(l) = limit {
                    write(dir, "memory.limit_in_bytes", &l.to_string())?;
                }
            } else {
                if let Some(l) = limit {
                    write(dir, "memory.limit_in_bytes", &l.to_string())?;
                }
                write(dir, "memory.memsw.limit_in_bytes", &swap.to_string())?;
            }
        } else if let Some(l) = limit {
            write(dir, "memory.limit_in_bytes", &l.to_string())?;
        }
        if let Some(r) = m.reservation() {
            write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(RuntimeError::Cgroup(format!(
                    "invalid memory swappiness {s}: must be 0..100"
                )));
            }
            write(dir, "memory.swappiness", &s.to_string())?;
        }
        if m.disable_oom_killer() == Some(true) {
            write(dir, "memory.oom_control", "1")?;
        }
        if let Some(t) = m.kernel_tcp() {
            write(dir, "memory.kmem.tcp.limit_in_bytes", &t.to_string())?;
        }
        Ok(())
    }

    fn cpu(&self, res: &LinuxResources) -> Result<()> {
        let Some(c) = res.cpu() else { return Ok(()) };
        if c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.realtime_period().is_some()
            || c.realtime_runtime().is_some()
            || c.burst().is_some()
            || c.idle().is_some()
        {
            let dir = self.need("cpu")?;
            if let Some(s) = c.shares() {
                write(dir, "cpu.shares", &s.to_string())?;
            }
            if let Some(p) = c.period() {
                write(dir, "cpu.cfs_period_us", &p.to_string())?;
            }
            if let Some(q) = c.quota() {
                write(dir, "cpu.cfs_quota_us", &q.to_string())?;
            }
            if let Some(b) = c.burst() {
                write(dir, "cpu.cfs_burst_us", &b.to_string())?;
            }
            if let Some(p) = c.realtime_period() {
                write(dir, "cpu.rt_period_us", &p.to_string())?;
            }
            if let Some(r) = c.realtime_runtime() {
                write(dir, "cpu.rt_runtime_us", &r.to_string())?;
            }
            if let Some(i) = c.idle() {
                write(dir, "cpu.idle", &i.to_string())?;
            }
        }
        if c.cpus().is_some() || c.mems().is_some() {
            let dir = self.need("cpuset")?;
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                write(dir, "cpuset.cpus", cpus)?;
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                write(dir, "cpuset.mems", mems)?;
            }
        }
        Ok(())
    }

    fn blkio(&self, res: &LinuxResources) -> Result<()> {
        let Some(b) = res.block_io() else {
            return Ok(());
        };
        let dir = || self.need("blkio");
        // 0 means "unset" (dockerd always sends blockIO.weight 0): skipped, as runc does.
        // Proportional weights exist only with the CFQ/BFQ I/O schedulers; without their files
        // the weight is not applied (runc does the same).
        let pick = |names: &[&'static str]| -> Result<Option<&'static str>> {
            let d = dir()?;
            Ok(names.iter().copied().find(|n| d.join(n).exists()))
        };
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            if let Some(f) = pick(&["blkio.weight", "blkio.bfq.weight"])? {
                write(dir()?, f, &w.to_string())?;
            }
        }
        if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
            if let Some(f) = pick(&["blkio.leaf_weight"])? {
                write(dir()?, f, &w.to_string())?;
            }
        }
        for wd in b.weight_device().as_deref().unwrap_or_default() {
            if let Some(w) = wd.weight().filter(|w| *w != 0) {
                if let Some(f) = pick(&["blkio.weight_device", "blkio.bfq.weight_device"])? {
                    write(dir()?, f, &format!("{}:{} {}", wd.major(), wd.minor(), w))?;
                }
            }
        }
        let throttles = [
            (
                "blkio.throttle.read_bps_device",
                b.throttle_read_bps_device(),
            ),
            (
                "blkio.throttle.write_bps_device",
                b.throttle_write_bps_device(),
            ),
            (
                "blkio.throttle.read_iops_device",
                b.throttle_read_iops_device(),
            ),
            (
                "blkio.throttle.write_iops_device",
                b.throttle_write_iops_device(),
            ),
        ];
        for (file, list) in throttles {
            for t in list.as_deref().unwrap_or_default() {
                write(
                    dir()?,
                    file,
                    &format!("{}:{} {}", t.major(), t.minor(), t.rate()),
                )?;
            }
        }
        Ok(())
    }

    fn devices(&self, res: &LinuxResources, devices: &[LinuxDevice]) -> Result<()> {
        let rules = res.devices().as_deref().unwrap_or_default();
        let Some(dir) = self.dir("devices") else {
            if rules.is_empty() {
                return Ok(());
            }
            return Err(RuntimeError::Cgroup(
                "device rules given but the devices cgroup controller is not mounted".into(),
            ));
        };
        // One open of each file for the whole list: the kernel takes one rule per write().
        let mut files = RuleFiles::new(dir);
        for r in rules {
            files.rule(r)?;
        }
        for d in devices {
            // FIFOs are not device nodes: the devices controller has no rule type for them.
            if d.typ() != oci_spec::runtime::LinuxDeviceType::P {
                files.rule(&LinuxDeviceCgroup::from(d))?;
            }
        }
        for r in super::DEFAULT_ALLOWED_DEVICES {
            files.write(true, r)?;
        }
        Ok(())
    }
}

/// `devices.allow` and `devices.deny` of one cgroup, each opened at its first rule.
struct RuleFiles<'a> {
    dir: &'a Path,
    allow: Option<std::fs::File>,
    deny: Option<std::fs::File>,
}

impl<'a> RuleFiles<'a> {
    fn new(dir: &'a Path) -> Self {
        RuleFiles {
            dir,
            allow: None,
            deny: None,
        }
    }

    fn rule(&mut self, r: &LinuxDeviceCgroup) -> Result<()> {
        self.write(r.allow(), &device_rule(r))
    }

    fn write(&mut self, allow: bool, text: &str) -> Result<()> {
        use std::io::Write;
        let (slot, name) = if allow {
            (&mut self.allow, "devices.allow")
        } else {
            (&mut self.deny, "devices.deny")
        };
        let p = self.dir.join(name);
        let err = |e: std::io::Error| {
            RuntimeError::Cgroup(format!("failed to write {text:?} to {}: {e}", p.display()))
        };
        if slot.is_none() {
            *slot = Some(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .map_err(err)?,
            );
        }
        let f = slot.as_mut().expect("opened above");
        f.write_all(text.as_bytes()).map_err(err)
    }
}

/// A rule as the devices controller reads it.
fn device_rule(r: &LinuxDeviceCgroup) -> String {
    let mut rule = r.clone();
    if rule.access().as_deref().unwrap_or("").is_empty() {
        rule.set_access(Some("rwm".into()));
    }
    // "a *:* rwm" is the whole-list form; the kernel wants plain "a" for it.
    let text = rule.to_string();
    if text.starts_with("a ") {
        "a".to_string()
    } else {
        text
    }
}

impl CgroupManager for V1Manager {
    fn create(&self) -> Result<()> {
        for (ctl, path) in &self.paths {
            if ctl.split(',').any(|c| c == "cpuset") {
                create_cpuset(path)?;
            } else {
                std::fs::create_dir_all(path)
                    .map_err(|e| RuntimeError::Cgroup(format!("create {}: {e}", path.display())))?;
            }
        }
        Ok(())
    }

    fn apply(&self, res: &LinuxResources, devices: &[LinuxDevice]) -> Result<()> {
        if res.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(RuntimeError::Cgroup(
                "unified resources require cgroup v2, this host uses cgroup v1".into(),
            ));
        }
        self.memory(res)?;
        self.cpu(res)?;
        if let Some(p) = res.pids() {
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            };
            write(self.need("pids")?, "pids.max", &v)?;
        }
        self.blkio(res)?;
        for h in res.hugepage_limits().as_deref().unwrap_or_default() {
            write(
                self.need("hugetlb")?,
                &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                &h.limit().to_string(),
            )?;
        }
        if let Some(n) = res.network() {
            if let Some(id) = n.class_id() {
                write(self.need("net_cls")?, "net_cls.classid", &id.to_string())?;
            }
            for p in n.priorities().as_deref().unwrap_or_default() {
                write(
                    self.need("net_prio")?,
                    "net_prio.ifpriomap",
                    &format!("{} {}", p.name(), p.priority()),
                )?;
            }
        }
        self.devices(res, devices)
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        // For the calling (single-threaded) helper, `tasks` moves just this thread and skips
        // the kernel's threadgroup rwsem, whose RCU grace period costs ~10 ms per start.
        let file = if pid == 0 { "tasks" } else { "cgroup.procs" };
        for path in self.paths.values() {
            write(path, file, &pid.to_string())?;
        }
        Ok(())
    }

    fn freeze(&self) -> Result<()> {
        let dir = self.need("freezer")?;
        write(dir, "freezer.state", "FROZEN")?;
        for _ in 0..1000 {
            if read(dir, "freezer.state")? == "FROZEN" {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
            write(dir, "freezer.state", "FROZEN")?;
        }
        Err(RuntimeError::Cgroup(
            "timed out freezing the container".into(),
        ))
    }

    fn thaw(&self) -> Result<()> {
        write(self.need("freezer")?, "freezer.state", "THAWED")
    }

    fn is_frozen(&self) -> Result<bool> {
        match self.dir("freezer") {
            Some(d) => Ok(read(d, "freezer.state")
                .map(|s| s == "FROZEN")
                .unwrap_or(false)),
            None => Ok(false),
        }
    }

    fn pids(&self) -> Result<Vec<i32>> {
        let dir = self
            .dir("pids")
            .or_else(|| self.dir("memory"))
            .or_else(|| self.dir("freezer"))
            .or_else(|| self.paths.values().next().map(|p| p.as_path()))
            .ok_or_else(|| RuntimeError::Cgroup("no cgroup".into()))?;
        read_procs(dir)
    }

    fn stats(&self) -> Result<Stats> {
        let mut out = serde_json::Map::new();
        if let Some(d) = self.dir("cpuacct") {
            let percpu: Vec<u64> = read(d, "cpuacct.usage_percpu")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
            let st = read_kv(d, "cpuacct.stat");
            // cpuacct.stat is in USER_HZ ticks; runc reports nanoseconds.
            let tick = 1_000_000_000 / 100;
            let thr = self
                .dir("cpu")
                .map(|c| read_kv(c, "cpu.stat"))
                .unwrap_or_default();
            out.insert(
                "cpu".into(),
                serde_json::json!({
                    "usage": {"total": read_u64(d, "cpuacct.usage"), "percpu": percpu,
                              "kernel": st.get("system").copied().unwrap_or(0) * tick,
                              "user": st.get("user").copied().unwrap_or(0) * tick},
                    "throttling": {"periods": thr.get("nr_periods").copied().unwrap_or(0),
                                   "throttledPeriods": thr.get("nr_throttled").copied().unwrap_or(0),
                                   "throttledTime": thr.get("throttled_time").copied().unwrap_or(0)}
                }),
            );
        }
        if let Some(d) = self.dir("memory") {
            let raw = read_kv(d, "memory.stat");
            out.insert(
                "memory".into(),
                serde_json::json!({
                    "cache": raw.get("total_cache").or(raw.get("cache")).copied().unwrap_or(0),
                    "usage": {"usage": read_u64(d, "memory.usage_in_bytes"),
                              "max": read_u64(d, "memory.max_usage_in_bytes"),
                              "limit": read_u64(d, "memory.limit_in_bytes"),
                              "failcnt": read_u64(d, "memory.failcnt")},
                    "swap": {"usage": read_u64(d, "memory.memsw.usage_in_bytes"),
                             "max": read_u64(d, "memory.memsw.max_usage_in_bytes"),
                             "limit": read_u64(d, "memory.memsw.limit_in_bytes"),
                             "failcnt": read_u64(d, "memory.memsw.failcnt")},
                    "raw": raw,
                }),
            );
        }
        if let Some(d) = self.dir("pids") {
            let limit = read(d, "pids.max")
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            out.insert(
                "pids".into(),
                serde_json::json!({"current": read_u64(d, "pids.current"), "limit": limit}),
            );
        }
        Ok(serde_json::Value::Object(out))
    }

    fn destroy(&self) -> Result<()> {
        let mut first_err = None;
        for path in self.paths.values() {
            if let Err(e) = remove_dir(path) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn exists(&self) -> bool {
        self.paths.values().any(|p| p.exists())
    }
}

/// Create a cpuset directory chain, copying cpus/mems from the parent into every level that has
/// none yet (a cpuset cgroup with empty cpus cannot hold tasks). A level that exists is not
/// taken as ready: a concurrent create may have made the directory and not yet filled it, and
/// copying its empty values down would leave the new cgroup unable to take tasks (ENOSPC).
fn create_cpuset(path: &Path) -> Result<()> {
    // (cpus, mems) of a level, when both are filled.
    let values = |p: &Path| {
        let get = |f| read(p, f).ok().filter(|v| !v.trim().is_empty());
        Some((get("cpuset.cpus")?, get("cpuset.mems")?))
    };
    if path.exists() && values(path).is_some() {
        return Ok(());
    }
    let parent = path
        .parent()
        .ok_or_else(|| RuntimeError::Cgroup("bad cpuset path".into()))?;
    let (cpus, mems) = match values(parent) {
        Some(v) => v,
        None => {
            create_cpuset(parent)?;
            values(parent).ok_or_else(|| {
                RuntimeError::Cgroup(format!("{} has no cpus or mems", parent.display()))
            })?
        }
    };
    std::fs::create_dir(path)
        .or_else(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(|e| RuntimeError::Cgroup(format!("create {}: {e}", path.display())))?;
    for (f, v) in [("cpuset.cpus", &cpus), ("cpuset.mems", &mems)] {
        if read(path, f).unwrap_or_default().trim().is_empty() {
            write(path, f, v)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Removes the test's cpuset directories, deepest first, even when the test fails.
    struct Cleanup(Vec<PathBuf>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for d in &self.0 {
                let _ = std::fs::remove_dir(d);
            }
        }
    }

    #[test]
    fn cpuset_under_a_parent_made_but_not_yet_filled_gets_cpus() {
        let root = Path::new("/sys/fs/cgroup/cpuset");
        if !nix::unistd::geteuid().is_root() || read(root, "cpuset.cpus").is_err() {
            eprintln!("skip: needs root and the cgroup v1 cpuset hierarchy");
            return;
        }
        // A concurrent create has made the parent and not filled it yet: its cpus are empty.
        let parent = root.join(format!("pier-cpuset-race-{}", std::process::id()));
        let child = parent.join("c");
        let _guard = Cleanup(vec![child.clone(), parent.clone()]);
        std::fs::create_dir(&parent).unwrap();
        assert_eq!(read(&parent, "cpuset.cpus").unwrap().trim(), "");
        create_cpuset(&child).unwrap();
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let want = read(root, f).unwrap();
            assert_eq!(read(&parent, f).unwrap(), want, "{f} of the parent");
            assert_eq!(read(&child, f).unwrap(), want, "{f} of the child");
        }
        // The child can hold a task now (it could not with empty cpus: ENOSPC): this thread,
        // moved there and back to its own cpuset.
        let own = std::fs::read_to_string("/proc/thread-self/cgroup").unwrap();
        let own = own
            .lines()
            .find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, ctl, p) = (f.next()?, f.next()?, f.next()?);
                ctl.split(',').any(|c| c == "cpuset").then(|| p.to_string())
            })
            .unwrap();
        write(&child, "tasks", "0").unwrap();
        write(&root.join(own.trim_start_matches('/')), "tasks", "0").unwrap();
    }
}
