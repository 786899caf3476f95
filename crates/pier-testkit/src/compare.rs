//! Side-by-side runs of the real docker CLI and our `pier` against one daemon (pierd or a
//! reference dockerd), for tests that demand the same bytes and exit status from both.
//!
//! [`cli_run`] runs one CLI (docker via `DOCKER_HOST`, pier via `-H`) and spells "docker" as
//! "pier" in what it printed, so usage texts compare. [`Cmp`] runs a docker command and its pier
//! counterpart (often the same arguments; for commands that create objects, pier's own names),
//! masks 64-hex ids (and with `top`, every number), maps docker's differing arguments onto pier's
//! in docker's output, and records every difference; [`Cmp::finish`] fails with all of them.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Run `bin` (`"docker"` or a pier binary) against `host` with `args` and optional stdin; returns
/// (exit code, stdout, stderr) with "docker" replaced by "pier".
pub fn cli_run(
    bin: &str,
    host: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> (Option<i32>, String, String) {
    let mut c = Command::new(bin);
    if bin == "docker" {
        c.env("DOCKER_HOST", host).env("DOCKER_CLI_HINTS", "false");
    } else {
        c.env_remove("DOCKER_HOST").arg("-H").arg(host);
    }
    c.args(args)
        .env_remove("DOCKER_API_VERSION")
        .env_remove("DOCKER_CONTEXT");
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn CLI");
    if let Some(s) = stdin {
        use std::io::Write;
        let mut i = child.stdin.take().expect("stdin");
        i.write_all(s.as_bytes()).expect("write stdin");
    }
    let o = child.wait_with_output().expect("wait CLI");
    let norm = |b: &[u8]| String::from_utf8_lossy(b).replace("docker", "pier");
    (o.status.code(), norm(&o.stdout), norm(&o.stderr))
}

/// Replace 64-hex ids with `<id>`; with `digits`, every run of digits with `N`.
pub fn mask(s: &str, digits: bool) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let hex = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        if hex == 64 {
            out.push_str("<id>");
            i += 64;
            continue;
        }
        if digits && chars[i].is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            out.push('N');
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// A docker-vs-pier comparison session against one daemon.
pub struct Cmp {
    pub host: String,
    pub pier: PathBuf,
    pub failures: Vec<String>,
}

impl Cmp {
    pub fn new(host: impl Into<String>, pier: impl Into<PathBuf>) -> Cmp {
        Cmp {
            host: host.into(),
            pier: pier.into(),
            failures: Vec::new(),
        }
    }

    /// Run `args` with pier only.
    pub fn pier(&self, args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
        cli_run(&self.pier.to_string_lossy(), &self.host, args, stdin)
    }

    /// Run `args` with docker only.
    pub fn docker(&self, args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
        cli_run("docker", &self.host, args, stdin)
    }

    /// Run `docker_args` with docker and `pier_args` with pier; record any difference. Returns
    /// pier's exit code and stdout.
    pub fn pair(
        &mut self,
        docker_args: &[&str],
        pier_args: &[&str],
        stdin: Option<&str>,
    ) -> (Option<i32>, String) {
        let mut d = self.docker(docker_args, stdin);
        let mut p = self.pier(pier_args, stdin);
        let digits = docker_args.first() == Some(&"top");
        for o in [&mut d.1, &mut d.2, &mut p.1, &mut p.2] {
            *o = mask(o, digits);
        }
        for (da, pa) in docker_args.iter().zip(pier_args) {
            if da != pa {
                d.1 = d.1.replace(da, pa);
                d.2 = d.2.replace(da, pa);
            }
        }
        if d != p {
            self.failures
                .push(format!("{pier_args:?}:\n  docker: {d:?}\n  pier:   {p:?}"));
        }
        (p.0, p.1)
    }

    /// [`Cmp::pair`] with the same arguments for both.
    pub fn same(&mut self, args: &[&str]) -> (Option<i32>, String) {
        self.pair(args, args, None)
    }

    /// Record a difference found some other way.
    pub fn check(&mut self, what: &str, docker: &str, pier: &str) {
        if docker != pier {
            self.failures
                .push(format!("{what}:\n  docker: {docker:?}\n  pier:   {pier:?}"));
        }
    }

    /// The differences recorded so far, one block each ("" when none).
    pub fn report(&self) -> String {
        self.failures.join("\n")
    }
}
