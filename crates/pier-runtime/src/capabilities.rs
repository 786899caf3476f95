//! Linux capabilities of the container process: the five OCI sets (bounding, effective,
//! permitted, inheritable, ambient). The bounding set is reduced while the process is still
//! root (it needs CAP_SETPCAP); the other sets are applied after the uid switch (done with
//! PR_SET_KEEPCAPS so permitted survives it). Capabilities outside the runtime's own bounding
//! set cannot be granted; [`unavailable`] names them so the caller can warn before starting.

use crate::error::{Result, RuntimeError};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};
use std::str::FromStr;

/// docker's default capability set (moby `oci/caps.DefaultCapabilities`), for engines building a
/// spec and for tests.
pub const DOCKER_DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Convert an OCI capability set to the `caps` crate's, dropping those the kernel does not know.
pub fn convert(set: Option<&Capabilities>) -> Result<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for c in set.into_iter().flatten() {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| RuntimeError::InvalidConfig(format!("bad capability {c:?}")))?;
        match Capability::from_str(&name) {
            Ok(cap) => {
                out.insert(cap);
            }
            Err(_) => {
                return Err(RuntimeError::InvalidConfig(format!(
                    "unknown capability {name:?}"
                )))
            }
        }
    }
    Ok(out)
}

/// The runtime's own bounding set, read once per process (one `prctl` per capability; it is
/// read before anything forks, when it cannot have changed).
fn own_bounding() -> Option<&'static CapsHashSet> {
    static BOUND: std::sync::OnceLock<Option<CapsHashSet>> = std::sync::OnceLock::new();
    BOUND
        .get_or_init(|| caps::read(None, CapSet::Bounding).ok())
        .as_ref()
}

/// Capabilities asked for by the spec that the runtime's own bounding set lacks.
pub fn unavailable(c: &LinuxCapabilities) -> Vec<Capability> {
    let Some(bound) = own_bounding() else {
        return vec![];
    };
    let mut out = Vec::new();
    for set in [
        c.bounding(),
        c.effective(),
        c.permitted(),
        c.inheritable(),
        c.ambient(),
    ] {
        if let Ok(s) = convert(set.as_ref()) {
            for cap in s {
                if !bound.contains(&cap) && !out.contains(&cap) {
                    out.push(cap);
                }
            }
        }
    }
    out.sort_by_key(|c| c.index());
    out
}

/// The sets to apply, each limited to what the current bounding set holds.
#[derive(Debug, Clone, Default)]
pub struct CapSets {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

impl CapSets {
    pub fn from_spec(c: &LinuxCapabilities) -> Result<Self> {
        let all = caps::all();
        let bound = own_bounding().unwrap_or(&all);
        let lim = |s: CapsHashSet| -> CapsHashSet { s.intersection(bound).copied().collect() };
        Ok(CapSets {
            bounding: lim(convert(c.bounding().as_ref())?),
            effective: lim(convert(c.effective().as_ref())?),
            permitted: lim(convert(c.permitted().as_ref())?),
            inheritable: lim(convert(c.inheritable().as_ref())?),
            ambient: lim(convert(c.ambient().as_ref())?),
        })
    }

    /// Drop from the bounding set everything not kept (call while still privileged).
    pub fn drop_bounding(&self) -> Result<()> {
        for cap in caps::all() {
            if !self.bounding.contains(&cap) {
                match caps::drop(None, CapSet::Bounding, cap) {
                    Ok(()) => {}
                    Err(e) => {
                        // Capabilities newer than the running kernel report EINVAL: nothing to drop.
                        if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
                            return Err(RuntimeError::Other(format!(
                                "drop {cap} from the bounding set: {e}"
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Set effective, permitted, inheritable and ambient (after the uid switch).
    pub fn apply(&self) -> Result<()> {
        let err = |what: &str, e: caps::errors::CapsError| {
            RuntimeError::Other(format!("unable to apply {what} capabilities: {e}"))
        };
        // Effective must stay within permitted at every step.
        let cur_perm = caps::read(None, CapSet::Permitted).unwrap_or_default();
        let eff_now: CapsHashSet = self.effective.intersection(&cur_perm).copied().collect();
        caps::set(None, CapSet::Effective, &eff_now).map_err(|e| err("effective", e))?;
        caps::set(None, CapSet::Inheritable, &self.inheritable)
            .map_err(|e| err("inheritable", e))?;
        caps::set(None, CapSet::Permitted, &self.permitted).map_err(|e| err("permitted", e))?;
        caps::set(None, CapSet::Effective, &self.effective).map_err(|e| err("effective", e))?;
        caps::clear(None, CapSet::Ambient).ok();
        for cap in &self.ambient {
            // The kernel refuses ambient caps not in permitted+inheritable; runc ignores those.
            if self.permitted.contains(cap) && self.inheritable.contains(cap) {
                caps::raise(None, CapSet::Ambient, *cap).map_err(|e| err("ambient", e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_default_caps() {
        let c = LinuxCapabilities::default();
        let s = CapSets::from_spec(&c).unwrap();
        assert!(s.bounding.contains(&Capability::CAP_KILL));
        assert!(s.bounding.contains(&Capability::CAP_AUDIT_WRITE));
        assert_eq!(s.bounding.len(), 3);
    }
}
