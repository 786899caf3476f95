//! The OCI runtime behind the shim, one trait with two implementations:
//! [`Library`] — pier-runtime in-process (the fast path: no exec of a runtime binary; the
//! container's processes are forked from the shim with our pipes as their stdio, see
//! [`crate::stdio::in_child_context`]) — and
//! [`Binary`] — a runc-compatible binary (`BIN [ARGS] --root R --log F --log-format json create
//! --bundle B --pid-file P [--console-socket S] ID`, `start`, `kill [--all] ID SIG`, `pause`,
//! `resume`, `exec -d --process J --pid-file P [--console-socket S] ID`, `delete ID`), whose
//! error is the last `error` entry of its json log.
//!
//! Both return the host pid of the process they started; it becomes a child of the shim (the
//! shim is a subreaper), which reaps it. With a terminal, both return the pty master received over
//! the console socket. The integration tests run the same suite against both.

use crate::error::{Context, Result, ShimError};
use crate::stdio::{in_child_context, ChildStdio};
use oci_spec::runtime::Process;
use pier_runtime::container;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What the shim asks of an OCI runtime for its one container.
pub trait Runtime {
    /// Create the container (its init waits for `start`); returns the init pid and, with a
    /// terminal, the pty master.
    fn create(&self, stdio: ChildStdio, tty: bool) -> Result<(i32, Option<File>)>;
    fn start(&self) -> Result<()>;
    fn kill(&self, signal: i32, all: bool) -> Result<()>;
    fn pause(&self) -> Result<()>;
    fn resume(&self) -> Result<()>;
    /// Start a process in the running container; returns its pid and, with
    /// `process.terminal`, the pty master.
    fn exec(
        &self,
        exec_id: &str,
        process: &Process,
        stdio: ChildStdio,
    ) -> Result<(i32, Option<File>)>;
    /// Remove the stopped container (cgroup, runtime state).
    fn delete(&self) -> Result<()>;
}

/// Where a runtime keeps the container and where the shim may put temporary files.
#[derive(Debug, Clone)]
pub struct Target {
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
}

/// pier-runtime, in-process.
pub struct Library {
    pub target: Target,
}

fn console_pair(tty: bool) -> Result<(Option<UnixStream>, Option<OwnedFd>)> {
    if !tty {
        return Ok((None, None));
    }
    let (ours, theirs) = UnixStream::pair().ctx(|| "console socketpair".into())?;
    ours.set_read_timeout(Some(Duration::from_secs(10)))
        .ctx(|| "console socket timeout".into())?;
    Ok((Some(ours), Some(OwnedFd::from(theirs))))
}

fn receive_master(sock: Option<UnixStream>) -> Result<Option<File>> {
    let Some(sock) = sock else { return Ok(None) };
    use std::os::fd::AsRawFd;
    let (fd, _) = pier_runtime::sys::recv_fd(sock.as_raw_fd())?;
    crate::stdio::set_nonblocking(&fd)?;
    Ok(Some(File::from(fd)))
}

fn signal(n: i32) -> Result<nix::sys::signal::Signal> {
    nix::sys::signal::Signal::try_from(n)
        .map_err(|_| ShimError::BadRequest(format!("invalid signal {n}")))
}

impl Runtime for Library {
    fn create(&self, stdio: ChildStdio, tty: bool) -> Result<(i32, Option<File>)> {
        let t = &self.target;
        let (ours, theirs) = console_pair(tty)?;
        let st = in_child_context(|| {
            container::create(container::CreateOptions {
                root: t.root.clone(),
                id: t.id.clone(),
                bundle: t.bundle.clone(),
                console: theirs,
                stdio: Some([stdio.stdin, stdio.stdout, stdio.stderr]),
                subreaper: true,
                ..Default::default()
            })
        })?;
        match receive_master(ours) {
            Ok(m) => Ok((st.pid, m)),
            Err(e) => {
                let _ = container::delete(&t.root, &t.id, true);
                Err(e)
            }
        }
    }

    fn start(&self) -> Result<()> {
        let t = &self.target;
        // Poststart hooks run here: they get /dev/null as stdio, which the shim holds anyway.
        container::start(&t.root, &t.id)?;
        Ok(())
    }

    fn kill(&self, sig: i32, all: bool) -> Result<()> {
        container::kill(&self.target.root, &self.target.id, signal(sig)?, all)?;
        Ok(())
    }

    fn pause(&self) -> Result<()> {
        container::pause(&self.target.root, &self.target.id)?;
        Ok(())
    }

    fn resume(&self) -> Result<()> {
        container::resume(&self.target.root, &self.target.id)?;
        Ok(())
    }

    fn exec(
        &self,
        _exec_id: &str,
        process: &Process,
        stdio: ChildStdio,
    ) -> Result<(i32, Option<File>)> {
        let t = &self.target;
        let tty = process.terminal() == Some(true);
        let (ours, theirs) = console_pair(tty)?;
        let pid = in_child_context(|| {
            container::exec(container::ExecOptions {
                root: t.root.clone(),
                id: t.id.clone(),
                process: process.clone(),
                console: theirs,
                stdio: Some([stdio.stdin, stdio.stdout, stdio.stderr]),
                subreaper: true,
                ..Default::default()
            })
        })?;
        match receive_master(ours) {
            Ok(m) => Ok((pid, m)),
            Err(e) => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                Err(e)
            }
        }
    }

    fn delete(&self) -> Result<()> {
        container::delete(&self.target.root, &self.target.id, false)?;
        Ok(())
    }
}

/// A runc-compatible binary.
pub struct Binary {
    pub bin: PathBuf,
    /// Global options given before everything else (dockerd's `runtimeArgs`).
    pub args: Vec<String>,
    pub target: Target,
}

impl Binary {
    fn command(&self, log: &Path) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(&self.args)
            .arg("--root")
            .arg(&self.target.root)
            .arg("--log")
            .arg(log)
            .args(["--log-format", "json"]);
        c
    }

    fn file(&self, name: &str) -> PathBuf {
        self.target.state_dir.join(name)
    }

    /// Run a command with /dev/null (or the given stdio) and turn a failure into the runtime's
    /// message.
    fn run(
        &self,
        args: &[&str],
        stdio: Option<ChildStdio>,
        extra: impl FnOnce(&mut Command),
    ) -> Result<()> {
        let log = self.file("runtime-log.json");
        let _ = std::fs::remove_file(&log);
        let mut c = self.command(&log);
        extra(&mut c);
        c.args(args);
        match stdio {
            Some(s) => {
                c.stdin(s.stdin).stdout(s.stdout).stderr(s.stderr);
            }
            None => {
                c.stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null());
            }
        }
        let status = c.status().ctx(|| format!("run {}", self.bin.display()))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        if status.success() {
            return Ok(());
        }
        Err(ShimError::RuntimeBinary(last_error(&text).unwrap_or_else(
            || format!("{} {}: {status}", self.bin.display(), args[0]),
        )))
    }

    fn console_listener(&self, tty: bool, name: &str) -> Result<Option<(UnixListener, PathBuf)>> {
        if !tty {
            return Ok(None);
        }
        let p = self.file(name);
        let _ = std::fs::remove_file(&p);
        let l = UnixListener::bind(&p).ctx(|| format!("bind {}", p.display()))?;
        l.set_nonblocking(true).ctx(|| "console socket".into())?;
        Ok(Some((l, p)))
    }

    fn accept_master(l: Option<(UnixListener, PathBuf)>) -> Result<Option<File>> {
        let Some((l, p)) = l else { return Ok(None) };
        let _ = std::fs::remove_file(&p);
        let (s, _) = l
            .accept()
            .map_err(|e| ShimError::RuntimeBinary(format!("the runtime sent no console: {e}")))?;
        s.set_nonblocking(false).ctx(|| "console socket".into())?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .ctx(|| "console socket timeout".into())?;
        receive_master(Some(s))
    }

    fn read_pid(p: &Path) -> Result<i32> {
        let text = std::fs::read_to_string(p).ctx(|| format!("read {}", p.display()))?;
        let _ = std::fs::remove_file(p);
        text.trim().parse().map_err(|_| {
            ShimError::RuntimeBinary(format!("bad pid file {}: {text:?}", p.display()))
        })
    }
}

/// The message of the last `"level":"error"` entry of a runc json log (or its last line).
fn last_error(text: &str) -> Option<String> {
    let mut last = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v["level"] == "error" => last = v["msg"].as_str().map(String::from),
            Ok(_) => {}
            Err(_) => last = Some(line.trim().to_string()),
        }
    }
    last
}

impl Runtime for Binary {
    fn create(&self, stdio: ChildStdio, tty: bool) -> Result<(i32, Option<File>)> {
        let t = &self.target;
        let pid_file = self.file("init.pid");
        let console = self.console_listener(tty, "console.sock")?;
        let bundle = t.bundle.to_string_lossy().into_owned();
        let pid_s = pid_file.to_string_lossy().into_owned();
        let mut args = vec!["create", "--bundle", &bundle, "--pid-file", &pid_s];
        let sock_s = console
            .as_ref()
            .map(|(_, p)| p.to_string_lossy().into_owned());
        if let Some(s) = &sock_s {
            args.extend(["--console-socket", s]);
        }
        args.push(&t.id);
        self.run(&args, Some(stdio), |_| {})?;
        let r = Self::read_pid(&pid_file).and_then(|pid| Ok((pid, Self::accept_master(console)?)));
        if r.is_err() {
            let _ = self.run(&["delete", "--force", &t.id], None, |_| {});
        }
        r
    }

    fn start(&self) -> Result<()> {
        self.run(&["start", &self.target.id], None, |_| {})
    }

    fn kill(&self, sig: i32, all: bool) -> Result<()> {
        signal(sig)?;
        let s = sig.to_string();
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([self.target.id.as_str(), s.as_str()]);
        self.run(&args, None, |_| {})
    }

    fn pause(&self) -> Result<()> {
        self.run(&["pause", &self.target.id], None, |_| {})
    }

    fn resume(&self) -> Result<()> {
        self.run(&["resume", &self.target.id], None, |_| {})
    }

    fn exec(
        &self,
        exec_id: &str,
        process: &Process,
        stdio: ChildStdio,
    ) -> Result<(i32, Option<File>)> {
        let tty = process.terminal() == Some(true);
        let json = self.file(&format!("exec-{exec_id}.json"));
        let pid_file = self.file(&format!("exec-{exec_id}.pid"));
        let data = serde_json::to_vec(process).map_err(|e| ShimError::BadRequest(e.to_string()))?;
        std::fs::write(&json, data).ctx(|| format!("write {}", json.display()))?;
        let console = self.console_listener(tty, &format!("exec-{exec_id}.sock"))?;
        let (json_s, pid_s) = (
            json.to_string_lossy().into_owned(),
            pid_file.to_string_lossy().into_owned(),
        );
        let mut args = vec!["exec", "-d", "--process", &json_s, "--pid-file", &pid_s];
        let sock_s = console
            .as_ref()
            .map(|(_, p)| p.to_string_lossy().into_owned());
        if let Some(s) = &sock_s {
            args.extend(["--console-socket", s]);
        }
        args.push(&self.target.id);
        let r = self.run(&args, Some(stdio), |_| {});
        let _ = std::fs::remove_file(&json);
        if let Err(e) = r {
            if let Some((_, p)) = &console {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
        let pid = Self::read_pid(&pid_file)?;
        match Self::accept_master(console) {
            Ok(m) => Ok((pid, m)),
            Err(e) => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                Err(e)
            }
        }
    }

    fn delete(&self) -> Result<()> {
        self.run(&["delete", &self.target.id], None, |_| {})
    }
}

#[cfg(test)]
mod tests {
    use super::last_error;

    #[test]
    fn runc_log_error() {
        let log = "{\"level\":\"warning\",\"msg\":\"w\"}\n{\"level\":\"error\",\"msg\":\"exec: \\\"x\\\": executable file not found in $PATH\",\"time\":\"t\"}\n";
        assert_eq!(
            last_error(log).unwrap(),
            "exec: \"x\": executable file not found in $PATH"
        );
        assert_eq!(last_error("plain failure\n").unwrap(), "plain failure");
        assert_eq!(last_error(""), None);
    }
}
