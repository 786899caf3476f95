//! OCI hooks: each hook is run with its own args and env (nothing inherited; startContainer hooks
//! without an `env` get the container process's, as runc's init has it), the container's
//! state JSON on stdin, and an optional timeout (seconds) after which it is killed. A hook that
//! fails (non-zero exit, timeout, cannot start) is an error carrying its stderr, as runc reports
//! it. Which hooks run where (runtime namespace vs container namespace) is decided by the callers.

use crate::error::{Result, RuntimeError};
use oci_spec::runtime::Hook;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run `hooks` in order, stopping at the first failure.
pub fn run(hooks: &[Hook], state: &serde_json::Value) -> Result<()> {
    run_with_env(hooks, state, &[])
}

/// Like [`run`]; hooks without an `env` of their own get `default_env`.
pub fn run_with_env(
    hooks: &[Hook],
    state: &serde_json::Value,
    default_env: &[String],
) -> Result<()> {
    for h in hooks {
        run_one(h, state, default_env)?;
    }
    Ok(())
}

fn run_one(h: &Hook, state: &serde_json::Value, default_env: &[String]) -> Result<()> {
    let path = h.path().display().to_string();
    let fail = |msg: String| RuntimeError::Hook {
        path: path.clone(),
        msg,
    };
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_clear();
    for kv in h.env().as_deref().unwrap_or(default_env) {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading stdin: a broken pipe is not an error.
        let _ = stdin.write_all(state.to_string().as_bytes());
    }
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(fail(format!("wait: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "timed out after {}s",
                h.timeout().unwrap_or(0)
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if !status.success() {
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut o) = child.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        return Err(fail(format!(
            "error running hook: {status}, stdout: {}, stderr: {}",
            out.trim(),
            err.trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(args: &[&str]) -> Hook {
        serde_json::from_value(serde_json::json!({"path": "/bin/sh", "args": args})).unwrap()
    }

    #[test]
    fn state_on_stdin_and_failure() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(&["sh", "-c", &format!("cat > {}", out.display())]);
        run(&[h], &serde_json::json!({"id": "x"})).unwrap();
        assert!(std::fs::read_to_string(&out)
            .unwrap()
            .contains("\"id\":\"x\""));
        let e = run(
            &[hook(&["sh", "-c", "echo boom >&2; exit 3"])],
            &serde_json::json!({}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("boom"), "{e}");
    }
}
