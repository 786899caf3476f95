//! The command line (docs/CONTRACTS.md, "pier-shim"):
//! `--id ID --bundle DIR --runtime-root DIR --state-dir DIR --log-path FILE [--tty] [--stdin]
//! [--stdin-once] [--log-max-size BYTES] [--log-max-file N] [--runtime BIN [--runtime-arg ARG]...]`.
//! Paths are made absolute (the shim changes its directory to `/` when it detaches). A hand-written
//! parser: the surface is fixed and small, and the shim stays small.

use crate::error::ShimError;
use std::path::PathBuf;

/// Parsed command line.
#[derive(Debug, Clone, Default)]
pub struct Args {
    pub id: String,
    pub bundle: PathBuf,
    pub runtime_root: PathBuf,
    pub state_dir: PathBuf,
    pub log_path: PathBuf,
    pub tty: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    /// Rotate the log when it reaches this size (None: never).
    pub log_max_size: Option<u64>,
    /// Files kept in all, the live one included (docker's `max-file`, default 1).
    pub log_max_file: u32,
    /// A runc-compatible binary instead of the in-process runtime.
    pub runtime: Option<PathBuf>,
    /// Global options for that binary, before its command (daemon.json `runtimeArgs`).
    pub runtime_args: Vec<String>,
}

impl Args {
    /// Parse `argv[1..]`.
    pub fn parse<I: IntoIterator<Item = String>>(argv: I) -> Result<Args, ShimError> {
        let mut a = Args {
            log_max_file: 1,
            ..Default::default()
        };
        let mut it = argv.into_iter();
        let bad = |m: String| ShimError::Usage(m);
        while let Some(flag) = it.next() {
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
                _ => (flag.clone(), None),
            };
            let value = |it: &mut dyn Iterator<Item = String>| -> Result<String, ShimError> {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| bad(format!("flag {name} needs a value")))
            };
            match name.as_str() {
                "--id" => a.id = value(&mut it)?,
                "--bundle" => a.bundle = absolute(value(&mut it)?),
                "--runtime-root" => a.runtime_root = absolute(value(&mut it)?),
                "--state-dir" => a.state_dir = absolute(value(&mut it)?),
                "--log-path" => a.log_path = absolute(value(&mut it)?),
                "--runtime" => a.runtime = Some(PathBuf::from(value(&mut it)?)),
                "--runtime-arg" => a.runtime_args.push(value(&mut it)?),
                "--log-max-size" => {
                    let v = value(&mut it)?;
                    let n: u64 = v
                        .parse()
                        .map_err(|_| bad(format!("invalid --log-max-size {v:?}")))?;
                    a.log_max_size = (n > 0).then_some(n);
                }
                "--log-max-file" => {
                    let v = value(&mut it)?;
                    a.log_max_file = v
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad(format!("invalid --log-max-file {v:?}")))?;
                }
                "--tty" => a.tty = true,
                "--stdin" => a.stdin = true,
                "--stdin-once" => a.stdin_once = true,
                other => return Err(bad(format!("unknown flag {other:?}"))),
            }
        }
        for (v, n) in [
            (a.bundle.as_os_str().is_empty(), "--bundle"),
            (a.runtime_root.as_os_str().is_empty(), "--runtime-root"),
            (a.state_dir.as_os_str().is_empty(), "--state-dir"),
            (a.log_path.as_os_str().is_empty(), "--log-path"),
            (a.id.is_empty(), "--id"),
        ] {
            if v {
                return Err(bad(format!("missing {n}")));
            }
        }
        pier_runtime::state::check_id(&a.id).map_err(|e| bad(e.to_string()))?;
        Ok(a)
    }
}

fn absolute(p: String) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        return p;
    }
    std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, ShimError> {
        Args::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn full_line() {
        let a = parse("--id c1 --bundle /b --runtime-root /r --state-dir /s --log-path /l.log --tty --stdin --stdin-once --log-max-size=1000 --log-max-file 3 --runtime /usr/bin/runc --runtime-arg=--systemd-cgroup=false --runtime-arg --debug").unwrap();
        assert_eq!(a.runtime_args, ["--systemd-cgroup=false", "--debug"]);
        assert_eq!(a.id, "c1");
        assert_eq!(a.bundle, PathBuf::from("/b"));
        assert!(a.tty && a.stdin && a.stdin_once);
        assert_eq!(a.log_max_size, Some(1000));
        assert_eq!(a.log_max_file, 3);
        assert_eq!(a.runtime, Some(PathBuf::from("/usr/bin/runc")));
    }

    #[test]
    fn defaults_and_errors() {
        let a = parse("--id c1 --bundle b --runtime-root /r --state-dir /s --log-path /l").unwrap();
        assert!(a.bundle.is_absolute());
        assert_eq!(a.log_max_file, 1);
        assert_eq!(a.log_max_size, None);
        assert!(parse("--id c1 --bundle /b").is_err());
        assert!(
            parse("--id ../x --bundle /b --runtime-root /r --state-dir /s --log-path /l").is_err()
        );
        assert!(
            parse("--id c --bundle /b --runtime-root /r --state-dir /s --log-path /l --nope")
                .is_err()
        );
        assert!(parse(
            "--id c --bundle /b --runtime-root /r --state-dir /s --log-path /l --log-max-file 0"
        )
        .is_err());
    }
}
