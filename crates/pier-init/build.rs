//! Compiles `init/main.rs` into a statically linked executable (glibc's `libc.a`,
//! `crt-static`, `panic=abort`) in `OUT_DIR`, for `src/lib.rs` to embed. The init runs inside
//! images that have no libc at all (busybox), so it cannot be an ordinary binary of this
//! workspace, whose binaries link glibc dynamically; cargo has no per-binary `crt-static`,
//! hence one direct `rustc` call with the same compiler and target cargo uses.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "init/main.rs";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("pier-init");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = std::env::var("TARGET").expect("TARGET");
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "bin",
            "--crate-name",
            "pier_init",
        ])
        .args(["--target", &target])
        .args(["-C", "target-feature=+crt-static"])
        .args(["-C", "panic=abort"])
        .args(["-C", "opt-level=s"])
        .args(["-C", "strip=symbols"])
        .args(["-D", "warnings"])
        .arg(src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run rustc for the static init");
    assert!(status.success(), "building the static pier-init failed");
}
