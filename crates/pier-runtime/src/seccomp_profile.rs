//! Docker's seccomp profile format (`reference/seccomp-default.json`: `archMap`, per-rule
//! `includes`/`excludes` by arch, capability and minimum kernel) translated into the OCI
//! `linux.seccomp` section, as dockerd does before handing a spec to a runtime. Used by the
//! engine for containers' default profile and by tests of the runtime.

use crate::error::{Result, RuntimeError};
use serde_json::{json, Value};

/// Docker arch name ("amd64") → seccomp arch ("SCMP_ARCH_X86_64").
fn seccomp_arch(goarch: &str) -> &'static str {
    match goarch {
        "amd64" => "SCMP_ARCH_X86_64",
        "386" => "SCMP_ARCH_X86",
        "arm64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "s390x" => "SCMP_ARCH_S390X",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "mips64" => "SCMP_ARCH_MIPS64",
        "loong64" => "SCMP_ARCH_LOONGARCH64",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// The host's architecture in docker's naming.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

fn kernel_version() -> (u32, u32) {
    let uts = nix::sys::utsname::uname().ok();
    let rel = uts
        .as_ref()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut it = rel
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    let major = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (major, minor)
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Translate a docker profile for `goarch` and a container holding `caps` (e.g. "CAP_SYS_ADMIN").
pub fn docker_to_oci(profile: &str, goarch: &str, caps: &[String]) -> Result<Value> {
    let p: Value = serde_json::from_str(profile)
        .map_err(|e| RuntimeError::Seccomp(format!("invalid seccomp profile: {e}")))?;
    let native = seccomp_arch(goarch);
    let mut arches = Vec::new();
    if let Some(map) = p["archMap"].as_array() {
        for m in map {
            if m["architecture"] == native {
                arches.push(native.to_string());
                arches.extend(strs(&m["subArchitectures"]));
            }
        }
    } else {
        arches = strs(&p["architectures"]);
    }
    let (kmaj, kmin) = kernel_version();
    let mut out_rules = Vec::new();
    for r in p["syscalls"].as_array().into_iter().flatten() {
        let inc = &r["includes"];
        let exc = &r["excludes"];
        let inc_arches = strs(&inc["arches"]);
        if !inc_arches.is_empty() && !inc_arches.iter().any(|a| a == goarch) {
            continue;
        }
        if strs(&exc["arches"]).iter().any(|a| a == goarch) {
            continue;
        }
        let inc_caps = strs(&inc["caps"]);
        if !inc_caps.is_empty() && !inc_caps.iter().all(|c| caps.contains(c)) {
            continue;
        }
        if strs(&exc["caps"]).iter().any(|c| caps.contains(c)) {
            continue;
        }
        if let Some(min) = inc["minKernel"].as_str() {
            let mut it = min.split('.');
            let maj: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let mi: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            if (kmaj, kmin) < (maj, mi) {
                continue;
            }
        }
        let mut names = strs(&r["names"]);
        if let Some(n) = r["name"].as_str() {
            names.push(n.to_string());
        }
        let mut rule = json!({"names": names, "action": r["action"]});
        if !r["errnoRet"].is_null() {
            rule["errnoRet"] = r["errnoRet"].clone();
        }
        if let Some(args) = r["args"].as_array() {
            if !args.is_empty() {
                rule["args"] = Value::Array(
                    args.iter()
                        .map(|a| {
                            let mut o =
                                json!({"index": a["index"], "value": a["value"], "op": a["op"]});
                            if a["valueTwo"].as_u64().unwrap_or(0) != 0 {
                                o["valueTwo"] = a["valueTwo"].clone();
                            }
                            o
                        })
                        .collect(),
                );
            }
        }
        out_rules.push(rule);
    }
    let mut out = json!({
        "defaultAction": p["defaultAction"],
        "architectures": arches,
        "syscalls": out_rules,
    });
    if !p["defaultErrnoRet"].is_null() {
        out["defaultErrnoRet"] = p["defaultErrnoRet"].clone();
    }
    if let Some(f) = p["flags"].as_array() {
        out["flags"] = Value::Array(f.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_caps_and_arch() {
        let prof = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
          "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],
          "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
                      {"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
                      {"names":["arm_fadvise64_64"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm"]}}]}"#;
        let v = docker_to_oci(prof, "amd64", &[]).unwrap();
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
        );
        assert_eq!(v["syscalls"].as_array().unwrap().len(), 1);
        let v = docker_to_oci(prof, "amd64", &["CAP_SYS_ADMIN".into()]).unwrap();
        assert_eq!(v["syscalls"].as_array().unwrap().len(), 2);
    }
}
