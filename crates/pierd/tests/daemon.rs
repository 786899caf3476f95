//! The pierd process itself: listeners, socket mode, the data-root lock, the config file rules,
//! and graceful shutdown. Each test runs its own pierd in a temp dir (killed by PID on drop).

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Pierd {
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Pierd {
    fn sock(&self) -> PathBuf {
        self.dir.path().join("pier.sock")
    }
    fn pidfile(&self) -> PathBuf {
        self.dir.path().join("exec/pierd.pid")
    }
    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }
}

impl Drop for Pierd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn config_file(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("daemon.json");
    std::fs::write(&p, text).unwrap();
    p
}

fn base_args(dir: &Path) -> Vec<String> {
    vec![
        "--data-root".into(),
        dir.join("data").display().to_string(),
        "--exec-root".into(),
        dir.join("exec").display().to_string(),
        "--config-file".into(),
        config_file(dir, "{}").display().to_string(),
        // No default bridge, no nft table: these tests are about the process, not networking.
        "--bridge".into(),
        "none".into(),
        "--iptables=false".into(),
    ]
}

fn start(extra: &[&str]) -> Pierd {
    let dir = tempfile::tempdir().unwrap();
    let mut args = base_args(dir.path());
    args.push("-H".into());
    args.push(format!("unix://{}", dir.path().join("pier.sock").display()));
    args.extend(extra.iter().map(|s| s.to_string()));
    let child = Command::new(env!("CARGO_BIN_EXE_pierd"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let d = Pierd {
        child: Some(child),
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(d.sock()).is_err() {
        assert!(Instant::now() < deadline, "pierd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    d
}

fn run(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pierd"))
        .args(args)
        .output()
        .unwrap()
}

fn http(mut s: impl Read + Write, req: &str) -> String {
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

const PING: &str = "GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n";

#[test]
fn serves_ping_on_a_0660_socket_and_cleans_up_on_sigterm() {
    let mut d = start(&[]);
    let mode = std::fs::metadata(d.sock()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let resp = http(UnixStream::connect(d.sock()).unwrap(), PING);
    assert!(resp.starts_with("HTTP/1.1 200 OK"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("api-version: 1.50"),
        "{resp}"
    );
    assert!(resp.ends_with("OK"), "{resp}");
    let pid: u32 = std::fs::read_to_string(d.pidfile())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, d.pid());

    let st = Command::new("kill")
        .args(["-TERM", &d.pid().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = d.child.take().unwrap().wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!d.sock().exists(), "socket left behind");
    assert!(!d.pidfile().exists(), "pid file left behind");
}

#[test]
fn a_second_pierd_on_the_same_data_root_refuses() {
    let d = start(&[]);
    let mut args = base_args(d.dir.path());
    args.push("-H".into());
    args.push(format!(
        "unix://{}",
        d.dir.path().join("other.sock").display()
    ));
    args.push("--pidfile".into());
    args.push(d.dir.path().join("other.pid").display().to_string());
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another pierd is already using the data root"),
        "{err}"
    );
    // The first one still answers.
    let resp = http(UnixStream::connect(d.sock()).unwrap(), PING);
    assert!(resp.starts_with("HTTP/1.1 200 OK"), "{resp}");
}

#[test]
fn listens_on_tcp_when_asked() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("tcp://127.0.0.1:{port}");
    let _d = start(&["-H", &addr]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let s = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "no tcp listener: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    let resp = http(
        s,
        "GET /v1.50/version HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
    );
    assert!(resp.starts_with("HTTP/1.1 200 OK"), "{resp}");
    assert!(resp.contains("\"ApiVersion\":\"1.50\""), "{resp}");
}

#[test]
fn config_file_errors_are_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let conf = config_file(dir.path(), r#"{"data-root": "/elsewhere"}"#);
    let out = run(&[
        "--data-root".into(),
        dir.path().join("data").display().to_string(),
        "--config-file".into(),
        conf.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("specified both as a flag and in the configuration file: data-root"),
        "{err}"
    );

    let out = run(&[
        "--config-file".into(),
        dir.path().join("missing.json").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));

    let bad = config_file(dir.path(), "{not json");
    let out = run(&["--config-file".into(), bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !dir.path().join("data").exists(),
        "nothing created on a config error"
    );
}
