//! `GET /containers/{id}/stats`: docker's stats object read from the container's cgroup (v1
//! hierarchies or the v2 unified one): CPU (container usage and the host's, for the CLI's
//! percentage), memory (usage, limit, memory.stat), pids. Each sample carries the previous
//! one as `precpu_stats`, as dockerd's. Also `POST /containers/{id}/update`, which writes new limits
//! to the same cgroup files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::engine::{Engine, Result};

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

fn read_u64(p: &Path) -> Option<u64> {
    read(p).and_then(|s| s.parse().ok())
}

fn kv(p: &Path) -> BTreeMap<String, u64> {
    read(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// The host's CPU time in nanoseconds (all CPUs, from /proc/stat), and the online CPU count.
fn system_cpu() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let mut total = 0u64;
    let mut cpus = 0u64;
    for l in text.lines() {
        if l.starts_with("cpu ") {
            total = l
                .split_whitespace()
                .skip(1)
                .take(7)
                .filter_map(|x| x.parse::<u64>().ok())
                .sum::<u64>()
                * (1_000_000_000 / 100);
        } else if l.starts_with("cpu") {
            cpus += 1;
        }
    }
    (total, cpus.max(1))
}

/// One sample: (cpu_stats, memory_stats, pids_stats).
fn sample(rel: &str) -> (Value, Value, Value) {
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let (sys, ncpu) = system_cpu();
    let base = |ctl: &str| -> PathBuf {
        if v2 {
            Path::new("/sys/fs/cgroup").join(rel)
        } else {
            Path::new("/sys/fs/cgroup").join(ctl).join(rel)
        }
    };
    if v2 {
        let d = base("");
        let cpu = kv(&d.join("cpu.stat"));
        let mem = kv(&d.join("memory.stat"));
        let limit = read(&d.join("memory.max"))
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(host_memory);
        (
            json!({
                "cpu_usage": {
                    "total_usage": cpu.get("usage_usec").copied().unwrap_or(0) * 1000,
                    "usage_in_kernelmode": cpu.get("system_usec").copied().unwrap_or(0) * 1000,
                    "usage_in_usermode": cpu.get("user_usec").copied().unwrap_or(0) * 1000,
                },
                "system_cpu_usage": sys,
                "online_cpus": ncpu,
                "throttling_data": {
                    "periods": cpu.get("nr_periods").copied().unwrap_or(0),
                    "throttled_periods": cpu.get("nr_throttled").copied().unwrap_or(0),
                    "throttled_time": cpu.get("throttled_usec").copied().unwrap_or(0) * 1000,
                },
            }),
            json!({
                "usage": read_u64(&d.join("memory.current")).unwrap_or(0),
                "stats": mem,
                "limit": limit,
            }),
            json!({
                "current": read_u64(&d.join("pids.current")).unwrap_or(0),
                "limit": read(&d.join("pids.max")).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
            }),
        )
    } else {
        let cpu_dir = base("cpuacct");
        let percpu: Vec<u64> = read(&cpu_dir.join("cpuacct.usage_percpu"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let acct = kv(&cpu_dir.join("cpuacct.stat"));
        let throttle = kv(&base("cpu").join("cpu.stat"));
        let mem_dir = base("memory");
        let host = host_memory();
        let limit = read_u64(&mem_dir.join("memory.limit_in_bytes"))
            .unwrap_or(host)
            .min(host);
        let pids_dir = base("pids");
        (
            json!({
                "cpu_usage": {
                    "total_usage": read_u64(&cpu_dir.join("cpuacct.usage")).unwrap_or(0),
                    "percpu_usage": percpu,
                    "usage_in_kernelmode": acct.get("system").copied().unwrap_or(0) * 10_000_000,
                    "usage_in_usermode": acct.get("user").copied().unwrap_or(0) * 10_000_000,
                },
                "system_cpu_usage": sys,
                "online_cpus": ncpu,
                "throttling_data": {
                    "periods": throttle.get("nr_periods").copied().unwrap_or(0),
                    "throttled_periods": throttle.get("nr_throttled").copied().unwrap_or(0),
                    "throttled_time": throttle.get("throttled_time").copied().unwrap_or(0),
                },
            }),
            json!({
                "usage": read_u64(&mem_dir.join("memory.usage_in_bytes")).unwrap_or(0),
                "max_usage": read_u64(&mem_dir.join("memory.max_usage_in_bytes")).unwrap_or(0),
                "failcnt": read_u64(&mem_dir.join("memory.failcnt")).unwrap_or(0),
                "stats": kv(&mem_dir.join("memory.stat")),
                "limit": limit,
            }),
            json!({
                "current": read_u64(&pids_dir.join("pids.current")).unwrap_or(0),
                "limit": read(&pids_dir.join("pids.max")).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
            }),
        )
    }
}

fn host_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn empty_cpu() -> Value {
    json!({"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}})
}

impl Engine {
    /// One stats object; `prev` is the previous sample's `cpu_stats` (or None) and its time.
    pub fn container_stats(&self, name: &str, prev: Option<(&Value, &str)>) -> Result<Value> {
        let c = self.container(name)?;
        let r = c.snapshot();
        let now = super::now_rfc3339();
        if !r.state.running {
            return Ok(json!({
                "name": r.name, "id": r.id, "read": super::ZERO_TIME, "preread": super::ZERO_TIME,
                "pids_stats": {}, "blkio_stats": {"io_service_bytes_recursive": null,
                "io_serviced_recursive": null, "io_queue_recursive": null,
                "io_service_time_recursive": null, "io_wait_time_recursive": null,
                "io_merged_recursive": null, "io_time_recursive": null, "sectors_recursive": null},
                "num_procs": 0, "storage_stats": {}, "cpu_stats": empty_cpu(),
                "precpu_stats": empty_cpu(), "memory_stats": {},
            }));
        }
        let rel = format!("{}/{}", self.opts.cgroup_parent.trim_matches('/'), r.id);
        let (cpu, mem, pids) = sample(&rel);
        let (precpu, preread) = match prev {
            Some((p, t)) => (p.clone(), t.to_string()),
            None => (empty_cpu(), super::ZERO_TIME.to_string()),
        };
        Ok(json!({
            "name": r.name, "id": r.id, "read": now, "preread": preread,
            "pids_stats": pids,
            "blkio_stats": {"io_service_bytes_recursive": null, "io_serviced_recursive": null,
                "io_queue_recursive": null, "io_service_time_recursive": null,
                "io_wait_time_recursive": null, "io_merged_recursive": null,
                "io_time_recursive": null, "sectors_recursive": null},
            "num_procs": 0, "storage_stats": {},
            "cpu_stats": cpu, "precpu_stats": precpu, "memory_stats": mem,
        }))
    }
}

impl Engine {
    /// `POST /containers/{id}/update`: resources (written to the running container's cgroup)
    /// and the restart policy, recorded in its HostConfig.
    pub fn update_container(&self, name: &str, body: &Value) -> Result<Vec<String>> {
        let c = self.container(name)?;
        let mut r = c.rec();
        if let Some(rp) = body.get("RestartPolicy").filter(|v| v.is_object()) {
            let mut hc = r.host_config.clone();
            hc["RestartPolicy"] = rp.clone();
            super::validate_host_config(&hc)?;
            if r.host_config["AutoRemove"].as_bool().unwrap_or(false)
                && !matches!(rp["Name"].as_str().unwrap_or(""), "" | "no")
            {
                return Err(crate::engine::EngineError::InvalidParameter(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container".into(),
                ));
            }
        }
        const KEYS: &[&str] = &[
            "Memory",
            "MemorySwap",
            "MemoryReservation",
            "NanoCpus",
            "CpuShares",
            "CpuQuota",
            "CpuPeriod",
            "CpusetCpus",
            "PidsLimit",
            "RestartPolicy",
        ];
        let mut hc = r.host_config.clone();
        for k in KEYS {
            if let Some(v) = body.get(*k).filter(|v| !v.is_null()) {
                let zero = v.as_i64() == Some(0) || v.as_str() == Some("");
                if !zero || *k == "RestartPolicy" {
                    hc[*k] = v.clone();
                }
            }
        }
        super::validate_host_config(&hc)?;
        if r.state.running {
            let rel = format!("{}/{}", self.opts.cgroup_parent.trim_matches('/'), r.id);
            apply_resources(&rel, &hc)?;
        }
        r.host_config = hc;
        self.save(&r)?;
        self.container_event(&r, "update", &[]);
        Ok(Vec::new())
    }
}

fn write(p: PathBuf, v: String) -> Result<()> {
    std::fs::write(&p, &v).map_err(|e| {
        crate::engine::EngineError::System(format!(
            "Cannot update container: write {v} to {}: {e}",
            p.display()
        ))
    })
}

fn apply_resources(rel: &str, hc: &Value) -> Result<()> {
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let n = |k: &str| hc[k].as_i64().unwrap_or(0);
    let root = Path::new("/sys/fs/cgroup");
    if v2 {
        let d = root.join(rel);
        if n("Memory") > 0 {
            write(d.join("memory.max"), n("Memory").to_string())?;
        }
        if n("NanoCpus") > 0 {
            write(
                d.join("cpu.max"),
                format!("{} 100000", n("NanoCpus") * 100_000 / 1_000_000_000),
            )?;
        }
        if n("PidsLimit") > 0 {
            write(d.join("pids.max"), n("PidsLimit").to_string())?;
        }
        return Ok(());
    }
    if n("Memory") > 0 {
        let mem = root.join("memory").join(rel);
        let swap_file = mem.join("memory.memsw.limit_in_bytes");
        let swap = match n("MemorySwap") {
            0 => n("Memory") * 2,
            s => s,
        };
        // Raise the combined limit first when growing, the memory limit first when shrinking.
        if swap_file.exists() && swap > 0 {
            let _ = std::fs::write(&swap_file, swap.to_string());
            write(mem.join("memory.limit_in_bytes"), n("Memory").to_string())?;
            write(swap_file, swap.to_string())?;
        } else {
            write(mem.join("memory.limit_in_bytes"), n("Memory").to_string())?;
        }
    }
    if n("NanoCpus") > 0 {
        let cpu = root.join("cpu").join(rel);
        write(cpu.join("cpu.cfs_period_us"), "100000".into())?;
        write(
            cpu.join("cpu.cfs_quota_us"),
            (n("NanoCpus") * 100_000 / 1_000_000_000).to_string(),
        )?;
    }
    if n("CpuShares") > 0 {
        write(
            root.join("cpu").join(rel).join("cpu.shares"),
            n("CpuShares").to_string(),
        )?;
    }
    if n("PidsLimit") > 0 {
        write(
            root.join("pids").join(rel).join("pids.max"),
            n("PidsLimit").to_string(),
        )?;
    }
    Ok(())
}
