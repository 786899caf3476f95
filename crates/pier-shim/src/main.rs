//! pier-shim: one small process per container, the parent (subreaper) of its init. It detaches
//! from pierd ([`detach`]), creates the container through the OCI runtime ([`runtime`]), prints
//! the handshake line, then serves the container's socket ([`server`]): logs ([`log`]), attach,
//! resize, exec, signals, and the exit status ([`exit`]) until pierd deletes it. The command line,
//! files and protocol are fixed in docs/CONTRACTS.md ("pier-shim").

mod args;
mod detach;
mod error;
mod exit;
mod log;
mod memory;
mod proto;
mod runtime;
mod server;
mod stdio;
mod timefmt;

fn main() {
    // The container's processes are forks of this binary: run from a read-only image of it
    // (CVE-2019-5736).
    if let Err(e) = pier_runtime::exeseal::ensure_protected() {
        eprintln!("warning: {e}");
    }
    // Started through pierd's read-only view of the binary (`/proc/self/fd/N`), the kernel
    // named us after that fd number; `ps`, `top` and `pgrep` should show the shim's own name.
    // SAFETY: PR_SET_NAME with a NUL-terminated name of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"pier-shim".as_ptr()) };
    let args = match args::Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            println!("{}", serde_json::json!({ "error": e.to_string() }));
            std::process::exit(2);
        }
    };
    let mut handshake = match detach::detach() {
        Ok(h) => h,
        // In the detached grandchild: the first process reports that it died silently.
        Err(_) => std::process::exit(1),
    };
    match server::Shim::new(args) {
        Ok(shim) => {
            handshake.send(&serde_json::json!({
                "pid": std::process::id(),
                "init_pid": shim.init_pid(),
            }));
            drop(handshake);
            memory::release_startup_memory();
            shim.run();
        }
        Err(e) => {
            handshake.send(&serde_json::json!({ "error": e.to_string() }));
            std::process::exit(1);
        }
    }
}
