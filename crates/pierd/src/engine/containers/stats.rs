//! `GET /containers/{id}/stats`: docker's stats object read from the container's cgroup (v1
//! hierarchies or the v2 unified one): CPU (container usage and the host's, for the CLI's
//! percentage), memory (usage, limit, memory.stat), pids, block I/O (v2 `io.stat`, v1
//! `blkio.throttle.io_service_bytes_recursive` / `io_serviced_recursive`, as runc reads them),
//! and, for a container with a network interface besides loopback, its interfaces' counters from
//! `/proc/<init pid>/net/dev` (the container's netns) keyed by name. Each sample carries the previous
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

/// The entries of a v1 blkio file (`MAJ:MIN Op VALUE` lines; `Total` left out, as runc).
fn blkio_v1(p: &Path) -> Value {
    let entries: Vec<Value> = read(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let [dev, op, v] = f[..] else { return None };
            let (maj, min) = dev.split_once(':')?;
            Some(
                json!({"major": maj.parse::<u64>().ok()?, "minor": min.parse::<u64>().ok()?,
                "op": op, "value": v.parse::<u64>().ok()?}),
            )
        })
        .collect();
    if entries.is_empty() {
        Value::Null
    } else {
        Value::Array(entries)
    }
}

/// dockerd's `blkio_stats` from v2's `io.stat` (`MAJ:MIN rbytes=.. wbytes=.. …`): read and
/// write bytes per device; the other lists stay null.
fn blkio_v2(p: &Path) -> Value {
    let mut bytes = Vec::new();
    for l in read(p).unwrap_or_default().lines() {
        let mut f = l.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(maj), Ok(min)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        let kv: BTreeMap<&str, u64> = f
            .filter_map(|x| {
                let (k, v) = x.split_once('=')?;
                Some((k, v.parse().ok()?))
            })
            .collect();
        for (op, key) in [("read", "rbytes"), ("write", "wbytes")] {
            bytes.push(json!({"major": maj, "minor": min, "op": op,
                "value": kv.get(key).copied().unwrap_or(0)}));
        }
    }
    blkio_stats(
        if bytes.is_empty() {
            Value::Null
        } else {
            Value::Array(bytes)
        },
        Value::Null,
    )
}

fn blkio_stats(service_bytes: Value, serviced: Value) -> Value {
    json!({"io_service_bytes_recursive": service_bytes, "io_serviced_recursive": serviced,
        "io_queue_recursive": null, "io_service_time_recursive": null,
        "io_wait_time_recursive": null, "io_merged_recursive": null,
        "io_time_recursive": null, "sectors_recursive": null})
}

/// dockerd's `networks`: the counters of every interface but loopback in `/proc/<pid>/net/dev`;
/// None when there is none.
fn networks(pid: i64) -> Option<Value> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    let mut map = serde_json::Map::new();
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let n: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if n.len() < 16 {
            continue;
        }
        map.insert(
            name.to_string(),
            json!({"rx_bytes": n[0], "rx_packets": n[1], "rx_errors": n[2], "rx_dropped": n[3],
                "tx_bytes": n[8], "tx_packets": n[9], "tx_errors": n[10], "tx_dropped": n[11]}),
        );
    }
    (!map.is_empty()).then_some(Value::Object(map))
}

/// One sample: (cpu_stats, memory_stats, pids_stats, blkio_stats).
fn sample(rel: &str) -> (Value, Value, Value, Value) {
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
            blkio_v2(&d.join("io.stat")),
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
            blkio_stats(
                blkio_v1(&base("blkio").join("blkio.throttle.io_service_bytes_recursive")),
                blkio_v1(&base("blkio").join("blkio.throttle.io_serviced_recursive")),
            ),
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
        let (cpu, mem, pids, blkio) = sample(&rel);
        let (precpu, preread) = match prev {
            Some((p, t)) => (p.clone(), t.to_string()),
            None => (empty_cpu(), super::ZERO_TIME.to_string()),
        };
        let mut v = json!({
            "name": r.name, "id": r.id, "read": now, "preread": preread,
            "pids_stats": pids,
            "blkio_stats": blkio,
            "num_procs": 0, "storage_stats": {},
            "cpu_stats": cpu, "precpu_stats": precpu, "memory_stats": mem,
        });
        if r.host_config["NetworkMode"].as_str() != Some("host") {
            if let Some(n) = networks(r.state.pid) {
                v["networks"] = n;
            }
        }
        Ok(v)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkio_files_as_dockerd_shows_them() {
        let d = tempfile::tempdir().unwrap();
        let v1 = d.path().join("v1");
        std::fs::write(
            &v1,
            "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n",
        )
        .unwrap();
        assert_eq!(
            blkio_v1(&v1),
            json!([{"major": 8, "minor": 0, "op": "Read", "value": 4096},
                {"major": 8, "minor": 0, "op": "Write", "value": 8192},
                {"major": 8, "minor": 0, "op": "Total", "value": 12288}])
        );
        std::fs::write(&v1, "Total 0\n").unwrap();
        assert_eq!(blkio_v1(&v1), Value::Null);
        let v2 = d.path().join("v2");
        std::fs::write(
            &v2,
            "253:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
        )
        .unwrap();
        assert_eq!(
            blkio_v2(&v2)["io_service_bytes_recursive"],
            json!([{"major": 253, "minor": 0, "op": "read", "value": 100},
                {"major": 253, "minor": 0, "op": "write", "value": 200}])
        );
    }

    #[test]
    fn networks_skip_loopback() {
        // This process's own netns: the host's interfaces; only check the shape.
        if let Some(n) = networks(std::process::id() as i64) {
            assert!(n.get("lo").is_none());
            for v in n.as_object().unwrap().values() {
                assert!(v["rx_bytes"].is_u64() && v["tx_packets"].is_u64());
            }
        }
        assert!(networks(-1).is_none());
    }
}
