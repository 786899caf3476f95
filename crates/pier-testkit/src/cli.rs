//! Commands for the CLIs under test, pointed at one [`Daemon`].
//!
//! [`docker`] is the real docker CLI with `DOCKER_HOST=unix://…` and a `DOCKER_CONFIG` private
//! to the daemon (never the user's ~/.docker); [`pier`] is our CLI from the release dir with
//! `-H`. Both are `None` when the binary is missing: the test prints the returned skip line
//! and returns. [`run`] runs a command and captures its output.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::daemon::{pier_bin, Daemon};

/// Finds `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn clean_env(cmd: &mut Command) {
    for v in [
        "DOCKER_CONTEXT",
        "DOCKER_TLS_VERIFY",
        "DOCKER_CERT_PATH",
        "DOCKER_API_VERSION",
        "DOCKER_DEFAULT_PLATFORM",
        "DOCKER_BUILDKIT",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("DOCKER_CLI_HINTS", "false");
}

/// The real docker CLI talking to `d`, or None (print [`SKIP_DOCKER`]) when not installed.
pub fn docker(d: &Daemon) -> Option<Command> {
    let bin = which("docker")?;
    let mut cmd = Command::new(bin);
    clean_env(&mut cmd);
    cmd.env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.docker_config());
    Some(cmd)
}

/// The line a test prints when the docker CLI is missing.
pub const SKIP_DOCKER: &str = "SKIP: docker CLI not installed";

/// Our `pier` CLI with `-H unix://…`, or None when `target/release/pier` is not built.
pub fn pier(d: &Daemon) -> Option<Command> {
    let bin = pier_bin();
    if !bin.is_file() {
        return None;
    }
    let mut cmd = Command::new(bin);
    clean_env(&mut cmd);
    cmd.env("DOCKER_CONFIG", d.docker_config())
        .env_remove("DOCKER_HOST")
        .arg("-H")
        .arg(d.host());
    Some(cmd)
}

/// The line a test prints when the pier CLI is missing.
pub fn skip_pier() -> String {
    format!(
        "SKIP: {} not built (cargo build --release -p pier)",
        pier_bin().display()
    )
}

/// What a finished CLI command produced.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
    /// Panics with both streams unless the command exited 0; returns stdout.
    pub fn ok(&self) -> &str {
        assert!(self.success(), "command failed: {self}");
        &self.stdout
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Run `cmd` with `args`, stdin closed, and capture its output.
pub fn run<I, S>(mut cmd: Command, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    cmd.args(args).stdin(std::process::Stdio::null());
    let out: Output = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
