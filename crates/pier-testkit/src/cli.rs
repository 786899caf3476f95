//! Commands for the CLIs under test, pointed at one [`Daemon`].
//!
//! [`docker`] is the real docker CLI with `DOCKER_HOST=unix://…` and a `DOCKER_CONFIG` private
//! to the daemon (never the user's ~/.docker); [`pier`] is our CLI from the release dir with
//! `-H`. Both are `None` when the binary is missing: the test prints the returned skip line
//! and returns. [`run`] runs a command and captures its output.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Run `cmd` with `args`, stdin closed, and capture its output; killed (by its PID) after
/// [`RUN_TIMEOUT`].
pub fn run<I, S>(cmd: Command, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_timeout(cmd, args, RUN_TIMEOUT)
}

/// How long [`run`] lets a command take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// [`run`] with an explicit timeout; a command that times out reports `code: None` and
/// "pier-testkit: timed out" appended to stderr.
pub fn run_timeout<I, S>(mut cmd: Command, args: I, timeout: Duration) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    let reader = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            timed_out = true;
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out.join().unwrap_or_default();
    let mut stderr = err.join().unwrap_or_default();
    if timed_out {
        stderr.push_str(&format!("\npier-testkit: timed out after {timeout:?}\n"));
    }
    Run {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_captures_and_times_out() {
        let r = run(Command::new("sh"), ["-c", "echo out; echo err >&2; exit 3"]);
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (Some(3), "out\n", "err\n")
        );
        let r = run_timeout(Command::new("sleep"), ["10"], Duration::from_millis(200));
        assert_eq!(r.code, None);
        assert!(r.stderr.contains("timed out"));
    }
}
