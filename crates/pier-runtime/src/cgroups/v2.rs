//! cgroup v2 (unified): one directory; controllers enabled in every ancestor's
//! `cgroup.subtree_control`; memory.max / memory.swap.max / memory.low, cpu.weight (converted from
//! shares) / cpu.max, cpuset, pids.max, io.weight / io.max, hugetlb, `unified` keys written as is,
//! freeze via cgroup.freeze, kill via cgroup.kill, the device allowlist as an eBPF program
//! ([`super::devices`]) replacing the one attached before.

use super::{read, read_kv, read_procs, read_u64, remove_dir, write, CgroupManager, Stats};
use crate::error::{Result, RuntimeError};
use oci_spec::runtime::{LinuxDevice, LinuxResources};
use std::path::PathBuf;

pub struct V2Manager {
    /// The cgroup2 mount the path is below (`/sys/fs/cgroup` on a pure v2 host).
    root: PathBuf,
    path: PathBuf,
}

impl V2Manager {
    pub fn new(path: PathBuf) -> Self {
        Self::new_in(PathBuf::from(super::CGROUP_ROOT), path)
    }

    /// A cgroup below another cgroup2 mount (the `unified` one of a hybrid host).
    pub fn new_in(root: PathBuf, path: PathBuf) -> Self {
        V2Manager { root, path }
    }
}

/// runc's shares → weight conversion.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + ((shares.max(2) - 2) * 9999) / 262142
}

impl CgroupManager for V2Manager {
    fn create(&self) -> Result<()> {
        let root = self.root.as_path();
        let rel = self.path.strip_prefix(root).unwrap_or(&self.path);
        let mut cur = root.to_path_buf();
        for comp in rel.components() {
            let available = read(&cur, "cgroup.controllers").unwrap_or_default();
            for c in available.split_whitespace() {
                let _ = write(&cur, "cgroup.subtree_control", &format!("+{c}"));
            }
            cur.push(comp);
            if !cur.exists() {
                std::fs::create_dir(&cur)
                    .map_err(|e| RuntimeError::Cgroup(format!("create {}: {e}", cur.display())))?;
            }
        }
        Ok(())
    }

    fn apply(&self, res: &LinuxResources, devices: &[LinuxDevice]) -> Result<()> {
        let d = &self.path;
        if let Some(m) = res.memory() {
            if let Some(l) = m.limit() {
                write(d, "memory.max", &max_or(l))?;
            }
            if let Some(s) = m.swap() {
                let v = match (s, m.limit()) {
                    (-1, _) => "max".to_string(),
                    (s, Some(l)) if l > 0 => (s - l).max(0).to_string(),
                    (s, _) => s.to_string(),
                };
                write(d, "memory.swap.max", &v)?;
            }
            if let Some(r) = m.reservation() {
                write(d, "memory.low", &max_or(r))?;
            }
            if m.swappiness().is_some() || m.disable_oom_killer() == Some(true) {
                return Err(RuntimeError::Cgroup(
                    "memory swappiness and disableOOMKiller are not supported on cgroup v2".into(),
                ));
            }
        }
        if let Some(c) = res.cpu() {
            if let Some(s) = c.shares() {
                write(d, "cpu.weight", &shares_to_weight(s).to_string())?;
            }
            if c.quota().is_some() || c.period().is_some() {
                let q = match c.quota() {
                    Some(q) if q > 0 => q.to_string(),
                    _ => "max".into(),
                };
                let p = c.period().unwrap_or(100_000);
                write(d, "cpu.max", &format!("{q} {p}"))?;
            }
            if let Some(b) = c.burst() {
                write(d, "cpu.max.burst", &b.to_string())?;
            }
            if let Some(i) = c.idle() {
                write(d, "cpu.idle", &i.to_string())?;
            }
            if c.realtime_period().is_some() || c.realtime_runtime().is_some() {
                return Err(RuntimeError::Cgroup(
                    "realtime cpu limits are not supported on cgroup v2".into(),
                ));
            }
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                write(d, "cpuset.cpus", cpus)?;
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                write(d, "cpuset.mems", mems)?;
            }
        }
        if let Some(p) = res.pids() {
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            };
            write(d, "pids.max", &v)?;
        }
        if let Some(b) = res.block_io() {
            if let Some(w) = b.weight().filter(|w| *w != 0) {
                let w = 1 + (u64::from(w).saturating_sub(10) * 9999) / 990;
                write(d, "io.weight", &w.to_string())?;
            }
            let throttles = [
                ("rbps", b.throttle_read_bps_device()),
                ("wbps", b.throttle_write_bps_device()),
                ("riops", b.throttle_read_iops_device()),
                ("wiops", b.throttle_write_iops_device()),
            ];
            for (key, list) in throttles {
                for t in list.as_deref().unwrap_or_default() {
                    write(
                        d,
                        "io.max",
                        &format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()),
                    )?;
                }
            }
        }
        for h in res.hugepage_limits().as_deref().unwrap_or_default() {
            write(
                d,
                &format!("hugetlb.{}.max", h.page_size()),
                &h.limit().to_string(),
            )?;
        }
        if let Some(u) = res.unified() {
            for (k, v) in u {
                if k.contains('/') || k.contains("..") {
                    return Err(RuntimeError::Cgroup(format!("invalid unified key {k:?}")));
                }
                write(d, k, v)?;
            }
        }
        let rules = super::devices::Rules::for_container(
            res.devices().as_deref().unwrap_or_default(),
            devices,
        );
        super::devices::install(d, &rules)?;
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        write(&self.path, "cgroup.procs", &pid.to_string())
    }

    fn freeze(&self) -> Result<()> {
        write(&self.path, "cgroup.freeze", "1")?;
        for _ in 0..1000 {
            if self.is_frozen()? {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Err(RuntimeError::Cgroup(
            "timed out freezing the container".into(),
        ))
    }

    fn thaw(&self) -> Result<()> {
        write(&self.path, "cgroup.freeze", "0")
    }

    fn is_frozen(&self) -> Result<bool> {
        Ok(read_kv(&self.path, "cgroup.events").get("frozen") == Some(&1))
    }

    fn pids(&self) -> Result<Vec<i32>> {
        read_procs(&self.path)
    }

    fn stats(&self) -> Result<Stats> {
        let d = &self.path;
        let cpu = read_kv(d, "cpu.stat");
        let mem = read_kv(d, "memory.stat");
        let g =
            |m: &std::collections::BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
        let limit = |f: &str| {
            read(d, f)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(u64::MAX)
        };
        Ok(serde_json::json!({
            "cpu": {"usage": {"total": g(&cpu, "usage_usec") * 1000,
                               "kernel": g(&cpu, "system_usec") * 1000,
                               "user": g(&cpu, "user_usec") * 1000},
                    "throttling": {"periods": g(&cpu, "nr_periods"),
                                   "throttledPeriods": g(&cpu, "nr_throttled"),
                                   "throttledTime": g(&cpu, "throttled_usec") * 1000}},
            "memory": {"cache": g(&mem, "file"),
                       "usage": {"usage": read_u64(d, "memory.current"), "limit": limit("memory.max"),
                                 "max": read_u64(d, "memory.peak")},
                       "swap": {"usage": read_u64(d, "memory.swap.current"), "limit": limit("memory.swap.max")},
                       "raw": mem},
            "pids": {"current": read_u64(d, "pids.current"),
                     "limit": read(d, "pids.max").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)}
        }))
    }

    fn destroy(&self) -> Result<()> {
        if self.path.join("cgroup.kill").exists() && self.path.exists() {
            let _ = write(&self.path, "cgroup.kill", "1");
        }
        remove_dir(&self.path)
    }

    fn exists(&self) -> bool {
        self.path.exists()
    }
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn weight_conversion() {
        assert_eq!(super::shares_to_weight(2), 1);
        assert_eq!(super::shares_to_weight(1024), 39);
        assert_eq!(super::shares_to_weight(262144), 10000);
    }
}
