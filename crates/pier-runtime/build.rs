//! Link `pier-runc` as a position-dependent executable: it is exec'd twice per container (once
//! more from its read-only image, see `exeseal`), and a PIE of this size spends ~0.3 ms per exec
//! in the dynamic loader applying ~14,000 relative relocations (and copy-on-write faulting the
//! pages they touch). The library (linked into pier-shim/pierd) is unaffected.
fn main() {
    println!("cargo:rustc-link-arg-bin=pier-runc=-no-pie");
}
