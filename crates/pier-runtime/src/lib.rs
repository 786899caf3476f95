//! pier-runtime: Pier's OCI runtime as a library.
//!
//! It turns an OCI bundle (`config.json` + rootfs) into an isolated, running process and manages its
//! life cycle with runc's verbs: [`container::create`], [`container::start`], [`container::kill`],
//! [`container::delete`], [`container::exec`], pause/resume, ps, stats. State lives under a root
//! directory (`<root>/<id>/state.json`, default `/run/pier-runc`) in runc's layout, so the
//! `pier-runc` binary (a thin CLI over this crate) and an in-process caller (pier-shim) can manage
//! the same containers.
//!
//! Process model (no re-exec between caller and container): the caller forks a helper that joins or creates the namespaces
//! (user first, with the id maps written by the caller), then forks the container's init, which
//! is pid 1 of a new pid namespace and a child of the caller (`CLONE_PARENT`-like via the
//! subreaper bit, see [`container::CreateOptions::subreaper`]). Parent and children talk over a
//! `SOCK_SEQPACKET` socketpair ([`sync`]). `create` leaves the init blocked opening
//! `<root>/<id>/exec.fifo` for writing; `start` opens it for reading, which releases the init into
//! `execve`.
//!
//! A binary that creates or execs containers must call [`exeseal::ensure_protected`] first thing
//! in `main` (CVE-2019-5736: the container's processes are forks of that binary).
//!
//! Limits: must be called from a process whose other threads do not hold locks across `fork`
//! (glibc's `fork` keeps malloc consistent; the children only make syscalls and exit with `_exit`).

pub mod capabilities;
pub mod cgroups;
pub mod console;
pub mod container;
pub mod error;
pub mod exeseal;
pub mod hooks;
pub mod mounts;
pub mod namespaces;
pub mod process;
pub mod seccomp;
pub mod seccomp_profile;
pub mod spec;
pub mod state;
pub mod sync;
pub mod sys;

pub use container::{CreateOptions, ExecOptions};

static DEBUG_LOG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// runc's `--debug`: the runtime's children write runc-style debug lines to their stderr (for
/// now the CPU affinity an exec's helper starts with: `execCPUAffinity.initial`).
pub fn set_debug_log(on: bool) {
    DEBUG_LOG.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn debug_log(msg: &str) {
    if DEBUG_LOG.load(std::sync::atomic::Ordering::Relaxed) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        eprintln!(
            "time={time:?} level=debug msg={:?}",
            format!("pier-runc[{}]: {msg}", std::process::id())
        );
    }
}
pub use error::{Result, RuntimeError};
pub use state::{ContainerState, Status};
