//! Scheduling knobs of a container process, parsed and checked in the parent (bad input fails
//! before anything exists, with runc's checks) and applied in the child before it drops its
//! privileges: `process.scheduler` (`sched_setattr`), `linux.memoryPolicy` (`set_mempolicy`,
//! container-wide: the init and every exec) and `process.execCPUAffinity` (exec only: the
//! `initial` CPUs from the helper's fork on, before it joins the cgroup; the `final` ones once
//! it is in it).

use crate::error::{Result, RuntimeError};
use nix::sched::CpuSet;
use oci_spec::runtime::{ExecCPUAffinity, LinuxMemoryPolicy, Scheduler};

/// Highest NUMA node number accepted (the kernel's MAX_NUMNODES is at most 1024).
const MAX_NODES: usize = 1024;

fn bad(msg: String) -> RuntimeError {
    RuntimeError::InvalidConfig(msg)
}

/// The OCI enum's wire name ("SCHED_BATCH", "MPOL_BIND"...).
fn wire_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A cpu/node list as in cpuset files: "0-3,5". Every id must be below `limit`.
pub fn parse_id_list(s: &str, limit: usize) -> Result<Vec<usize>> {
    let mut ids = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |n: &str| -> Result<usize> {
            n.trim()
                .parse::<usize>()
                .ok()
                .filter(|v| *v < limit)
                .ok_or_else(|| bad(format!("invalid id {n:?} in list {s:?} (limit {limit})")))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(bad(format!("invalid range {part:?} in list {s:?}")));
                }
                ids.extend(a..=b);
            }
            None => ids.push(num(part)?),
        }
    }
    Ok(ids)
}

fn cpu_set(s: &str) -> Result<CpuSet> {
    let mut set = CpuSet::new();
    for cpu in parse_id_list(s, CpuSet::count())? {
        set.set(cpu)
            .map_err(|_| bad(format!("invalid cpu {cpu} in {s:?}")))?;
    }
    Ok(set)
}

/// `sched_attr` (the fields of SCHED_ATTR_SIZE_VER0).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

impl SchedAttr {
    /// `process.scheduler`, with runc's checks.
    pub fn from_spec(s: &Scheduler) -> Result<SchedAttr> {
        let name = wire_name(s.policy());
        let policy = match name.as_str() {
            "SCHED_OTHER" => 0,
            "SCHED_FIFO" => 1,
            "SCHED_RR" => 2,
            "SCHED_BATCH" => 3,
            "SCHED_ISO" => 4,
            "SCHED_IDLE" => 5,
            "SCHED_DEADLINE" => 6,
            _ => return Err(bad(format!("invalid scheduler policy {name:?}"))),
        };
        let nice = s.nice().unwrap_or(0);
        if (policy == 0 || policy == 3) && !(-20..=19).contains(&nice) {
            return Err(bad(format!(
                "invalid scheduler.nice: {nice} when scheduler.policy is {name}"
            )));
        }
        let priority = s.priority().unwrap_or(0);
        if priority != 0 && policy != 1 && policy != 2 {
            return Err(bad(
                "scheduler.priority can only be specified for SchedFIFO or SchedRR policy".into(),
            ));
        }
        let (runtime, deadline, period) = (
            s.runtime().unwrap_or(0),
            s.deadline().unwrap_or(0),
            s.period().unwrap_or(0),
        );
        if policy != 6 && (runtime != 0 || deadline != 0 || period != 0) {
            return Err(bad(
                "scheduler runtime/deadline/period can only be specified for SchedDeadline policy"
                    .into(),
            ));
        }
        let mut flags = 0u64;
        for f in s.flags().as_deref().unwrap_or_default() {
            flags |= match wire_name(f).as_str() {
                "SCHED_FLAG_RESET_ON_FORK" => 0x01,
                "SCHED_FLAG_RECLAIM" => 0x02,
                "SCHED_FLAG_DL_OVERRUN" => 0x04,
                "SCHED_FLAG_KEEP_POLICY" => 0x08,
                "SCHED_FLAG_KEEP_PARAMS" => 0x10,
                "SCHED_FLAG_UTIL_CLAMP_MIN" => 0x20,
                "SCHED_FLAG_UTIL_CLAMP_MAX" => 0x40,
                other => return Err(bad(format!("invalid scheduler flag {other:?}"))),
            };
        }
        Ok(SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy,
            flags,
            nice,
            priority: priority.max(0) as u32,
            runtime,
            deadline,
            period,
        })
    }

    /// `sched_setattr` on the calling thread.
    pub fn apply(&self) -> Result<()> {
        // SAFETY: sched_setattr reads a repr(C) struct we own, whose size field is its size.
        let r =
            unsafe { libc::syscall(libc::SYS_sched_setattr, 0, self as *const SchedAttr, 0u32) };
        if r < 0 {
            return Err(RuntimeError::Sys {
                op: "error setting scheduler: sched_setattr".into(),
                source: nix::errno::Errno::last(),
            });
        }
        Ok(())
    }
}

/// `linux.memoryPolicy`: mode with its flags, and the node mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemPolicy {
    pub mode: i32,
    pub mask: Vec<libc::c_ulong>,
}

impl MemPolicy {
    /// With runc's checks: DEFAULT and LOCAL take no nodes; BIND, INTERLEAVE, PREFERRED_MANY and
    /// WEIGHTED_INTERLEAVE at least one.
    pub fn from_spec(p: &LinuxMemoryPolicy) -> Result<MemPolicy> {
        let name = wire_name(&p.mode());
        let mode = match name.as_str() {
            "MPOL_DEFAULT" => 0,
            "MPOL_PREFERRED" => 1,
            "MPOL_BIND" => 2,
            "MPOL_INTERLEAVE" => 3,
            "MPOL_LOCAL" => 4,
            "MPOL_PREFERRED_MANY" => 5,
            "MPOL_WEIGHTED_INTERLEAVE" => 6,
            _ => return Err(bad(format!("invalid memory policy mode {name:?}"))),
        };
        let nodes = p.nodes().as_deref().unwrap_or("");
        let ids = parse_id_list(nodes, MAX_NODES)
            .map_err(|e| bad(format!("invalid memory policy nodes {nodes:?}: {e}")))?;
        match mode {
            0 | 4 if !ids.is_empty() => {
                return Err(bad(format!(
                    "memory policy mode requires 0 nodes but got {}",
                    ids.len()
                )))
            }
            2 | 3 | 5 | 6 if ids.is_empty() => {
                return Err(bad(
                    "memory policy mode requires at least one node but got 0".into(),
                ))
            }
            _ => {}
        }
        let mut flags = 0;
        for f in p.flags().as_deref().unwrap_or_default() {
            flags |= match wire_name(f).as_str() {
                "MPOL_F_NUMA_BALANCING" => 1 << 13,
                "MPOL_F_RELATIVE_NODES" => 1 << 14,
                "MPOL_F_STATIC_NODES" => 1 << 15,
                other => return Err(bad(format!("invalid memory policy flag {other:?}"))),
            };
        }
        let bits = libc::c_ulong::BITS as usize;
        let mut mask = vec![0; ids.iter().max().map_or(0, |m| m / bits + 1)];
        for id in ids {
            mask[id / bits] |= 1 << (id % bits);
        }
        Ok(MemPolicy {
            mode: mode | flags,
            mask,
        })
    }

    /// `set_mempolicy` for the calling thread (inherited by its children and across execve).
    pub fn apply(&self) -> Result<()> {
        let (ptr, maxnode) = if self.mask.is_empty() {
            (std::ptr::null(), 0)
        } else {
            // The kernel reads maxnode - 1 bits.
            (
                self.mask.as_ptr(),
                (self.mask.len() * libc::c_ulong::BITS as usize + 1) as libc::c_ulong,
            )
        };
        // SAFETY: set_mempolicy reads `maxnode - 1` bits from a live Vec of that many bits.
        let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, self.mode, ptr, maxnode) };
        if r < 0 {
            return Err(RuntimeError::Sys {
                op: "set_mempolicy".into(),
                source: nix::errno::Errno::last(),
            });
        }
        Ok(())
    }
}

/// `process.execCPUAffinity`, parsed.
#[derive(Debug, Clone, Default)]
pub struct ExecAffinity {
    pub initial: Option<CpuSet>,
    pub last: Option<CpuSet>,
}

impl ExecAffinity {
    pub fn from_spec(a: &ExecCPUAffinity) -> Result<ExecAffinity> {
        let parse = |s: &Option<String>| {
            s.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(cpu_set)
                .transpose()
        };
        Ok(ExecAffinity {
            initial: parse(a.initial())?,
            last: parse(a.cpu_affinity_final())?,
        })
    }
}

/// Pin the calling thread to `set`.
pub fn set_affinity(set: &CpuSet) -> Result<()> {
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), set).map_err(|source| {
        RuntimeError::Sys {
            op: "sched_setaffinity".into(),
            source,
        }
    })
}

/// The first 64 CPUs of the calling thread's affinity as a bit mask (what runc's debug log
/// prints as "affinity: 0x…").
pub fn affinity_mask() -> u64 {
    let Ok(set) = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
        return 0;
    };
    (0..64)
        .filter(|i| set.is_set(*i).unwrap_or(false))
        .fold(0, |m, i| m | 1 << i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxMemoryPolicyBuilder, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType,
        SchedulerBuilder,
    };

    #[test]
    fn id_lists() {
        assert_eq!(parse_id_list("0-2,5", 8).unwrap(), vec![0, 1, 2, 5]);
        assert_eq!(parse_id_list("", 8).unwrap(), Vec::<usize>::new());
        assert!(parse_id_list("0-9876543210", MAX_NODES).is_err());
        assert!(parse_id_list("3-1", 8).is_err());
        assert!(parse_id_list("x", 8).is_err());
    }

    #[test]
    fn scheduler_checks() {
        let s = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedBatch)
            .nice(1)
            .build()
            .unwrap();
        let a = SchedAttr::from_spec(&s).unwrap();
        assert_eq!((a.policy, a.nice, a.size), (3, 1, 48));
        let s = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedOther)
            .priority(5)
            .build()
            .unwrap();
        assert!(SchedAttr::from_spec(&s).is_err());
        let s = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedOther)
            .nice(40)
            .build()
            .unwrap();
        assert!(SchedAttr::from_spec(&s).is_err());
    }

    #[test]
    fn memory_policy_checks() {
        let p = |mode, nodes: &str, flags| {
            MemPolicy::from_spec(
                &LinuxMemoryPolicyBuilder::default()
                    .mode(mode)
                    .nodes(nodes.to_string())
                    .flags(flags)
                    .build()
                    .unwrap(),
            )
        };
        let m = p(
            MemoryPolicyModeType::MpolBind,
            "0,65",
            vec![MemoryPolicyFlagType::MpolFStaticNodes],
        )
        .unwrap();
        assert_eq!(m.mode, 2 | 1 << 15);
        assert_eq!(m.mask, vec![1, 2]);
        assert!(p(MemoryPolicyModeType::MpolDefault, "0", vec![]).is_err());
        assert!(p(MemoryPolicyModeType::MpolInterleave, "", vec![]).is_err());
        assert!(p(MemoryPolicyModeType::MpolBind, "0-9876543210", vec![]).is_err());
        assert!(p(MemoryPolicyModeType::MpolPreferred, "", vec![]).is_ok());
    }
}
