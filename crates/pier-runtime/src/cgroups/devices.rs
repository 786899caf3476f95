//! The cgroup v2 device allowlist: an eBPF program (`BPF_PROG_TYPE_CGROUP_DEVICE`) built from the
//! spec's device rules, attached to the container's cgroup with `BPF_CGROUP_DEVICE`.
//!
//! Rules are those of the v1 `devices` controller, applied in order ([`Rules::apply`]): a rule for
//! every device (`a`, or `*:*` with all of `rwm`) resets the list and sets the default; a rule
//! with the opposite verdict adds an exception (merging access bits for the same node), one with
//! the default's verdict removes access bits from an exception. The program checks the
//! exceptions in order and returns the default otherwise. An exception to a *deny* default
//! matches only when it covers every bit asked (`open(O_RDWR)` needs both `r` and `w` granted);
//! an exception to an *allow* default matches when it covers any of them.
//!
//! [`install`] loads the program, attaches it (`BPF_F_ALLOW_MULTI`), then detaches the programs
//! attached before (an update replaces, never stacks); the kernel keeps attached programs alive
//! with the cgroup, no fd or pinning needed.

use crate::error::{Result, RuntimeError};
use crate::sys;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::AsRawFd;
use std::path::Path;

const ACC_MKNOD: u8 = 1;
const ACC_READ: u8 = 2;
const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = 7;

/// One device rule: type `a` (any), `b` or `c`; `None` = any major/minor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub typ: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: u8,
}

/// The effective allowlist: a default verdict and its exceptions, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub default_allow: bool,
    pub exceptions: Vec<Rule>,
}

fn access_bits(s: &str) -> u8 {
    let mut a = 0;
    for c in s.chars() {
        a |= match c {
            'm' => ACC_MKNOD,
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            _ => 0,
        };
    }
    if a == 0 {
        ACC_ALL
    } else {
        a
    }
}

impl Rule {
    /// A spec rule (`linux.resources.devices[]`) with its verdict.
    pub fn from_spec(r: &LinuxDeviceCgroup) -> (bool, Rule) {
        let typ = match r.typ() {
            Some(LinuxDeviceType::B) => 'b',
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
            _ => 'a',
        };
        let num = |n: Option<i64>| n.filter(|n| *n >= 0);
        (
            r.allow(),
            Rule {
                typ,
                major: num(r.major()),
                minor: num(r.minor()),
                access: access_bits(r.access().as_deref().unwrap_or("")),
            },
        )
    }

    /// v1 syntax as in `devices.allow`: `c 1:3 rwm`, `c *:* m`, `a`.
    pub fn parse(s: &str) -> Result<Rule> {
        let bad = || RuntimeError::Cgroup(format!("bad device rule {s:?}"));
        let mut it = s.split_whitespace();
        let typ = it.next().and_then(|t| t.chars().next()).ok_or_else(bad)?;
        if !matches!(typ, 'a' | 'b' | 'c') {
            return Err(bad());
        }
        let (major, minor) = match it.next() {
            None => (None, None),
            Some(mm) => {
                let (a, b) = mm.split_once(':').ok_or_else(bad)?;
                let n = |x: &str| -> Result<Option<i64>> {
                    if x == "*" {
                        Ok(None)
                    } else {
                        x.parse().map(Some).map_err(|_| bad())
                    }
                };
                (n(a)?, n(b)?)
            }
        };
        Ok(Rule {
            typ,
            major,
            minor,
            access: access_bits(it.next().unwrap_or("")),
        })
    }

    fn is_everything(&self) -> bool {
        self.typ == 'a' && self.major.is_none() && self.minor.is_none() && self.access == ACC_ALL
    }

    fn same_node(&self, o: &Rule) -> bool {
        self.typ == o.typ && self.major == o.major && self.minor == o.minor
    }
}

impl Default for Rules {
    /// Everything denied (what a container starts from).
    fn default() -> Self {
        Rules {
            default_allow: false,
            exceptions: Vec::new(),
        }
    }
}

impl Rules {
    /// Apply one rule with the v1 controller's semantics.
    pub fn apply(&mut self, allow: bool, rule: Rule) {
        if rule.is_everything() {
            self.default_allow = allow;
            self.exceptions.clear();
            return;
        }
        if allow != self.default_allow {
            if let Some(e) = self.exceptions.iter_mut().find(|e| e.same_node(&rule)) {
                e.access |= rule.access;
            } else {
                self.exceptions.push(rule);
            }
        } else {
            for e in self.exceptions.iter_mut().filter(|e| e.same_node(&rule)) {
                e.access &= !rule.access;
            }
            self.exceptions.retain(|e| e.access != 0);
        }
    }

    /// The rules a container gets: its spec rules, its `linux.devices` nodes, then runc's
    /// default allowlist (the same order as the v1 controller is written).
    pub fn for_container(spec_rules: &[LinuxDeviceCgroup], devices: &[LinuxDevice]) -> Rules {
        let mut rules = Rules::default();
        for r in spec_rules {
            let (allow, rule) = Rule::from_spec(r);
            rules.apply(allow, rule);
        }
        for d in devices {
            if d.typ() != LinuxDeviceType::P {
                let (allow, rule) = Rule::from_spec(&LinuxDeviceCgroup::from(d));
                rules.apply(allow, rule);
            }
        }
        for r in super::DEFAULT_ALLOWED_DEVICES {
            rules.apply(true, Rule::parse(r).expect("valid default rule"));
        }
        rules
    }

    /// The eBPF program (64-bit instructions as the kernel takes them).
    pub fn program(&self) -> Vec<u64> {
        let mut p = Prog::default();
        // r2 = access << 16 | type; r3 = type; r2 = access; r4 = major; r5 = minor
        p.ins(0x61, 2, 1, 0, 0);
        p.ins(0xbf, 3, 2, 0, 0);
        p.ins(0x57, 3, 0, 0, 0xffff);
        p.ins(0x77, 2, 0, 0, 16);
        p.ins(0x61, 4, 1, 4, 0);
        p.ins(0x61, 5, 1, 8, 0);
        let verdict = !self.default_allow as i32;
        for e in &self.exceptions {
            // Each test jumps over the rest of this block when it fails.
            let mut tests: Vec<[i64; 4]> = Vec::new(); // code, dst, src, imm (off patched)
            match e.typ {
                'b' => tests.push([0x55, 3, 0, 1]),
                'c' => tests.push([0x55, 3, 0, 2]),
                _ => {}
            }
            if e.access != ACC_ALL {
                if self.default_allow {
                    // Deny exception: any asked bit in the rule → match.
                    tests.push([0xbf, 6, 2, 0]);
                    tests.push([0x57, 6, 0, e.access as i64]);
                    tests.push([0x15, 6, 0, 0]);
                } else {
                    // Allow exception: every asked bit in the rule → match.
                    tests.push([0xbf, 6, 2, 0]);
                    tests.push([0x57, 6, 0, (!e.access & ACC_ALL) as i64]);
                    tests.push([0x55, 6, 0, 0]);
                }
            }
            if let Some(m) = e.major {
                tests.push([0x55, 4, 0, m]);
            }
            if let Some(m) = e.minor {
                tests.push([0x55, 5, 0, m]);
            }
            let len = tests.len() as i16 + 2;
            for (i, t) in tests.iter().enumerate() {
                let is_jump = t[0] == 0x55 || t[0] == 0x15;
                let off = if is_jump { len - i as i16 - 1 } else { 0 };
                p.ins(t[0] as u8, t[1] as u8, t[2] as u8, off, t[3] as i32);
            }
            p.ins(0xb7, 0, 0, 0, verdict);
            p.ins(0x95, 0, 0, 0, 0);
        }
        p.ins(0xb7, 0, 0, 0, self.default_allow as i32);
        p.ins(0x95, 0, 0, 0, 0);
        p.0
    }
}

#[derive(Default)]
struct Prog(Vec<u64>);

impl Prog {
    /// struct bpf_insn { u8 code; u8 dst:4, src:4; s16 off; s32 imm } (little endian).
    fn ins(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) {
        let v = code as u64
            | ((dst as u64 & 0xf) << 8)
            | ((src as u64 & 0xf) << 12)
            | ((off as u16 as u64) << 16)
            | ((imm as u32 as u64) << 32);
        self.0.push(v);
    }
}

const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// Load the program for `rules` and make it the only device program of the cgroup `dir`.
pub fn install(dir: &Path, rules: &Rules) -> Result<()> {
    let cg = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| RuntimeError::Cgroup(format!("open {}: {e}", dir.display())))?;
    let prog = sys::bpf_prog_load_cgroup_device(&rules.program())
        .map_err(|e| RuntimeError::Cgroup(format!("load device eBPF program: {e}")))?;
    let (old, flags) = sys::bpf_prog_query(cg.as_raw_fd(), BPF_CGROUP_DEVICE)
        .map_err(|e| RuntimeError::Cgroup(format!("query device programs: {e}")))?;
    if old.is_empty() || flags & BPF_F_ALLOW_MULTI != 0 {
        sys::bpf_prog_attach(
            cg.as_raw_fd(),
            prog.as_raw_fd(),
            BPF_CGROUP_DEVICE,
            BPF_F_ALLOW_MULTI,
        )
        .map_err(|e| RuntimeError::Cgroup(format!("attach device eBPF program: {e}")))?;
        for id in old {
            // Gone already (a concurrent update) is fine.
            if let Ok(fd) = sys::bpf_prog_get_fd_by_id(id) {
                let _ = sys::bpf_prog_detach(cg.as_raw_fd(), fd.as_raw_fd(), BPF_CGROUP_DEVICE);
            }
        }
    } else {
        // Someone attached in single-program mode: attaching with the same flags replaces it.
        sys::bpf_prog_attach(cg.as_raw_fd(), prog.as_raw_fd(), BPF_CGROUP_DEVICE, flags)
            .map_err(|e| RuntimeError::Cgroup(format!("attach device eBPF program: {e}")))?;
    }
    Ok(())
}

/// Ids of the device programs attached to the cgroup `dir`.
pub fn attached(dir: &Path) -> Result<Vec<u32>> {
    let cg = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| RuntimeError::Cgroup(format!("open {}: {e}", dir.display())))?;
    sys::bpf_prog_query(cg.as_raw_fd(), BPF_CGROUP_DEVICE)
        .map(|(ids, _)| ids)
        .map_err(|e| RuntimeError::Cgroup(format!("query device programs: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[(bool, &str)]) -> Rules {
        let mut r = Rules::default();
        for (allow, s) in list {
            r.apply(*allow, Rule::parse(s).unwrap());
        }
        r
    }

    #[test]
    fn v1_semantics() {
        let r = rules(&[(true, "c 1:3 r"), (true, "c 1:3 w"), (true, "b 8:* rwm")]);
        assert!(!r.default_allow);
        assert_eq!(r.exceptions.len(), 2);
        assert_eq!(r.exceptions[0].access, ACC_READ | ACC_WRITE);
        // Denying a bit of an allowed node removes it; the whole node, the exception.
        let r2 = {
            let mut r2 = r.clone();
            r2.apply(false, Rule::parse("c 1:3 w").unwrap());
            r2.apply(false, Rule::parse("b 8:* rwm").unwrap());
            r2
        };
        assert_eq!(r2.exceptions, vec![Rule::parse("c 1:3 r").unwrap()]);
        // "a" resets everything.
        let r3 = rules(&[(true, "c 1:3 r"), (true, "a"), (false, "c 5:1 rwm")]);
        assert!(r3.default_allow);
        assert_eq!(r3.exceptions, vec![Rule::parse("c 5:1 rwm").unwrap()]);
    }

    #[test]
    fn container_defaults_and_program_shape() {
        let r = Rules::for_container(&[], &[]);
        assert!(!r.default_allow);
        assert!(r.exceptions.contains(&Rule::parse("c 1:3 rwm").unwrap()));
        assert!(r.exceptions.contains(&Rule::parse("c 136:* rwm").unwrap()));
        let p = r.program();
        // Prologue (6) + per rule 2..7 + epilogue (2); ends with exit.
        assert!(p.len() > 6 + 2 * r.exceptions.len());
        assert_eq!(p.last().unwrap() & 0xff, 0x95);
        assert!(Rule::parse("x 1:2").is_err());
        assert!(Rule::parse("c 1").is_err());
    }
}
