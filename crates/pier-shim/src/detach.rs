//! Leaving pierd: the process pierd started forks; the child starts a new session and forks
//! again; the grandchild — no longer anyone's child but init's, in its own session, with /dev/null
//! as stdio — is the shim. The first process waits for the grandchild's handshake line on an
//! internal pipe, prints it on the stdout pierd reads, and exits 0 after `{"pid":..}` or 1 after
//! `{"error":".."}` (also when the grandchild dies without a word). So pierd's pipe closes with
//! the process it started, whatever the container does with inherited descriptors.

use crate::error::{Context, Result};
use pier_runtime::sys::{exit_now, fork, Fork};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

/// The grandchild's end of the handshake pipe.
pub struct Handshake {
    pipe: Option<File>,
}

impl Handshake {
    /// Send the one handshake line (`{"pid":..,"init_pid":..}` or `{"error":".."}`).
    pub fn send(&mut self, v: &serde_json::Value) {
        if let Some(mut p) = self.pipe.take() {
            let mut line = v.to_string();
            line.push('\n');
            let _ = p.write_all(line.as_bytes());
        }
    }
}

/// Detach; returns in the grandchild only.
pub fn detach() -> Result<Handshake> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
    match fork()? {
        Fork::Parent(child) => {
            drop(w);
            let line = read_line(r);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
            let (line, code) = judge(&line);
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
            std::process::exit(code)
        }
        Fork::Child => {
            drop(r);
            let _ = nix::unistd::setsid();
            match fork() {
                Ok(Fork::Parent(_)) => exit_now(0),
                Ok(Fork::Child) => {}
                Err(_) => exit_now(1),
            }
            let null = crate::stdio::dev_null()?;
            crate::stdio::stdio_to([&null, &null, &null])?;
            let _ = std::env::set_current_dir("/");
            Ok(Handshake {
                pipe: Some(File::from(w)),
            })
        }
    }
}

fn read_line(r: OwnedFd) -> Vec<u8> {
    let mut f = File::from(r);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.contains(&b'\n') {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    out
}

/// The line pierd gets and the exit code.
fn judge(line: &[u8]) -> (String, i32) {
    let first = line.split(|&b| b == b'\n').next().unwrap_or_default();
    match serde_json::from_slice::<serde_json::Value>(first) {
        Ok(v) if v.get("pid").is_some() => (format!("{v}\n"), 0),
        Ok(v) if v.get("error").is_some() => (format!("{v}\n"), 1),
        _ => (
            format!(
                "{}\n",
                serde_json::json!({"error": "pier-shim exited before the container was created"})
            ),
            1,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::judge;

    #[test]
    fn handshake_lines() {
        assert_eq!(judge(b"{\"pid\":1,\"init_pid\":2}\n").1, 0);
        assert_eq!(
            judge(b"{\"error\":\"x\"}\n"),
            ("{\"error\":\"x\"}\n".into(), 1)
        );
        assert_eq!(judge(b"").1, 1);
        assert!(judge(b"garbage").0.contains("exited before"));
    }
}
