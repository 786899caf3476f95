//! pier-shim end to end (root): a busybox bundle, the real binary, its socket. The life-cycle
//! cases run against both runtimes (in-process pier-runtime and the `pier-runc` binary through
//! `--runtime`).

mod common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn runtimes() -> Vec<Option<PathBuf>> {
    let mut v = vec![None];
    if let Some(p) = pier_runc() {
        v.push(Some(p));
    }
    v
}

fn rt_args(rt: &Option<PathBuf>) -> Vec<String> {
    match rt {
        Some(p) => vec!["--runtime".into(), p.display().to_string()],
        None => vec![],
    }
}

fn start(b: Bundle, rt: &Option<PathBuf>, extra: &[&str]) -> Guard {
    let mut args: Vec<String> = rt_args(rt);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let (hs, status, g) = b.start_shim(&refs);
    assert!(status.success(), "handshake {hs}");
    assert!(
        hs["pid"].as_i64().unwrap() > 0 && hs["init_pid"].as_i64().unwrap() > 0,
        "{hs}"
    );
    g
}

#[test]
fn output_logs_and_exit_code() {
    if !can_run() {
        return;
    }
    for rt in runtimes() {
        let b = Bundle::new(&[
            "sh",
            "-c",
            "echo hi; echo oops >&2; printf 'no newline'; exit 3",
        ]);
        let mut g = start(b, &rt, &[]);
        let st = g.req(json!({"op": "state"}));
        assert_eq!(st["status"], "created", "{st}");
        assert_eq!(st["exit"], serde_json::Value::Null);
        g.start();
        let w = g.wait();
        assert_eq!(w["exit_code"], 3, "{w} ({rt:?})");
        assert_eq!(w["oom_killed"], false);
        assert!(w["finished_at"].as_str().unwrap().ends_with('Z'));
        let exit: serde_json::Value =
            serde_json::from_slice(&std::fs::read(g.b.state_dir().join("exit.json")).unwrap())
                .unwrap();
        assert_eq!(exit, w);
        let log = g.log();
        let lines: Vec<(String, String)> = log
            .iter()
            .map(|e| {
                (
                    e["log"].as_str().unwrap().to_string(),
                    e["stream"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            lines.contains(&("hi\n".into(), "stdout".into())),
            "{lines:?}"
        );
        assert!(
            lines.contains(&("oops\n".into(), "stderr".into())),
            "{lines:?}"
        );
        assert!(
            lines.contains(&("no newline\n".into(), "stdout".into())),
            "{lines:?}"
        );
        assert!(log
            .iter()
            .all(|e| e["time"].as_str().unwrap().ends_with('Z')));
        // Still served after the exit, until delete.
        let st = g.req(json!({"op": "state"}));
        assert_eq!(st["status"], "stopped");
        assert_eq!(st["exit"]["exit_code"], 3);
        assert_eq!(g.wait()["exit_code"], 3);
        let k = g.req(json!({"op": "kill", "signal": 15, "all": false}));
        assert!(k["error"].as_str().is_some(), "{k}");
        g.delete_and_check();
    }
}

#[test]
fn sigterm_gives_143_and_sigkill_137() {
    if !can_run() {
        return;
    }
    for rt in runtimes() {
        let b = Bundle::new(&["sleep", "100"]).no_pid_ns();
        let mut g = start(b, &rt, &[]);
        g.start();
        assert_eq!(g.req(json!({"op": "state"}))["status"], "running");
        g.ok(json!({"op": "kill", "signal": 15, "all": false}));
        assert_eq!(g.wait()["exit_code"], 143, "{rt:?}");
        g.delete_and_check();

        // pid 1 of its own namespace ignores SIGTERM without a handler: SIGKILL ends it.
        let b = Bundle::new(&["sleep", "100"]);
        let mut g = start(b, &rt, &[]);
        g.start();
        g.ok(json!({"op": "kill", "signal": 9, "all": false}));
        assert_eq!(g.wait()["exit_code"], 137);
        g.delete_and_check();
    }
}

#[test]
fn delete_refused_while_running() {
    if !can_run() {
        return;
    }
    let g = start(Bundle::new(&["sleep", "100"]), &None, &[]);
    g.start();
    let r = g.req(json!({"op": "delete"}));
    assert!(r["error"].as_str().unwrap().contains("not stopped"), "{r}");
    assert_eq!(g.req(json!({"op": "state"}))["status"], "running");
}

#[test]
fn attach_live_output_and_stdin() {
    if !can_run() {
        return;
    }
    for rt in runtimes() {
        let b = Bundle::new(&["sh", "-c", "cat; echo done >&2"]);
        let mut g = start(b, &rt, &["--stdin", "--stdin-once"]);
        let (r, mut a) = stream(
            &g.sock(),
            &json!({"op": "attach", "stdin": true, "stdout": true, "stderr": true}),
        );
        assert_eq!(r["ok"], true, "{r}");
        let (r, mut watcher) = stream(&g.sock(), &json!({"op": "attach", "stdout": true}));
        assert_eq!(r["ok"], true);
        g.start();
        a.write_all(b"hello\n").unwrap();
        let (id, data) = read_frame(&mut a).unwrap();
        assert_eq!((id, data.as_slice()), (1, &b"hello\n"[..]));
        a.write_all(b"world\n").unwrap();
        a.shutdown(std::net::Shutdown::Write).unwrap();
        let (out, err) = demux_all(&mut a);
        assert_eq!(String::from_utf8_lossy(&out), "world\n");
        assert_eq!(String::from_utf8_lossy(&err), "done\n");
        let (out2, err2) = demux_all(&mut watcher);
        assert_eq!(String::from_utf8_lossy(&out2), "hello\nworld\n");
        assert!(err2.is_empty(), "stderr not asked for");
        assert_eq!(g.wait()["exit_code"], 0, "{rt:?}");
        let logged: String = g
            .log()
            .iter()
            .map(|e| e["log"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(logged, "hello\nworld\ndone\n");
        g.delete_and_check();
    }
}

#[test]
fn attach_detach_without_stdin_once_keeps_stdin_open() {
    if !can_run() {
        return;
    }
    let mut g = start(Bundle::new(&["cat"]), &None, &["--stdin"]);
    g.start();
    let (_, mut a) = stream(
        &g.sock(),
        &json!({"op": "attach", "stdin": true, "stdout": true}),
    );
    a.write_all(b"one\n").unwrap();
    assert_eq!(read_frame(&mut a).unwrap().1, b"one\n");
    drop(a);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(g.req(json!({"op": "state"}))["status"], "running");
    // A new client takes over.
    let (_, mut a) = stream(
        &g.sock(),
        &json!({"op": "attach", "stdin": true, "stdout": true}),
    );
    a.write_all(b"two\n").unwrap();
    assert_eq!(read_frame(&mut a).unwrap().1, b"two\n");
    g.ok(json!({"op": "kill", "signal": 9}));
    assert_eq!(g.wait()["exit_code"], 137);
    assert!(read_frame(&mut a).is_none(), "attach closed at exit");
    g.delete_and_check();
}

#[test]
fn tty_and_resize() {
    if !can_run() {
        return;
    }
    for rt in runtimes() {
        let b = Bundle::new(&["sh", "-c", "tty; stty size; read x; stty size; echo bye"]).tty();
        let mut g = start(b, &rt, &["--tty", "--stdin"]);
        let (r, mut a) = stream(
            &g.sock(),
            &json!({"op": "attach", "stdin": true, "stdout": true, "stderr": true}),
        );
        assert_eq!(r["ok"], true);
        g.ok(json!({"op": "resize", "height": 30, "width": 100}));
        g.start();
        let mut acc = Vec::new();
        read_until(&mut a, &mut acc, "30 100");
        assert!(
            String::from_utf8_lossy(&acc).contains("/dev/pts/0"),
            "{:?}",
            String::from_utf8_lossy(&acc)
        );
        g.ok(json!({"op": "resize", "height": 40, "width": 120}));
        a.write_all(b"\n").unwrap();
        read_until(&mut a, &mut acc, "40 120");
        read_until(&mut a, &mut acc, "bye");
        assert_eq!(g.wait()["exit_code"], 0, "{rt:?}");
        let log = g.log();
        assert!(log.iter().all(|e| e["stream"] == "stdout"));
        let text: String = log
            .iter()
            .map(|e| e["log"].as_str().unwrap().to_string())
            .collect();
        assert!(text.contains("/dev/pts/0\r\n"), "{text:?}");
        g.delete_and_check();
    }
}

#[test]
fn resize_without_tty_is_an_error() {
    if !can_run() {
        return;
    }
    let g = start(Bundle::new(&["true"]), &None, &[]);
    let r = g.req(json!({"op": "resize", "height": 1, "width": 1}));
    assert!(r["error"].as_str().unwrap().contains("terminal"), "{r}");
}

#[test]
fn exec_in_running_container() {
    if !can_run() {
        return;
    }
    for rt in runtimes() {
        let mut g = start(Bundle::new(&["sleep", "100"]), &rt, &[]);
        g.start();
        let (r, mut s) = stream(
            &g.sock(),
            &json!({"op": "exec", "exec_id": "e1", "process": process(&["sh", "-c", "echo x; echo y >&2; exit 5"], false), "stdin": false}),
        );
        assert_eq!(r["ok"], true, "{r}");
        assert!(r["pid"].as_i64().unwrap() > 0);
        let (out, err) = demux_all(&mut s);
        assert_eq!((out.as_slice(), err.as_slice()), (&b"x\n"[..], &b"y\n"[..]));
        assert_eq!(
            g.req(json!({"op": "exec_wait", "exec_id": "e1"}))["exit_code"],
            5
        );
        // Kept: asking again gives the same answer.
        assert_eq!(
            g.req(json!({"op": "exec_wait", "exec_id": "e1"}))["exit_code"],
            5
        );
        let dup =
            g.req(json!({"op": "exec", "exec_id": "e1", "process": process(&["true"], false)}));
        assert!(dup["error"].as_str().is_some(), "{dup}");

        // Stdin to an exec, EOF closes it.
        let (r, mut s) = stream(
            &g.sock(),
            &json!({"op": "exec", "exec_id": "e2", "process": process(&["cat"], false), "stdin": true}),
        );
        assert_eq!(r["ok"], true, "{r}");
        s.write_all(b"piped\n").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let (out, _) = demux_all(&mut s);
        assert_eq!(out, b"piped\n");
        assert_eq!(
            g.req(json!({"op": "exec_wait", "exec_id": "e2"}))["exit_code"],
            0
        );

        // With a terminal.
        let (r, mut s) = stream(
            &g.sock(),
            &json!({"op": "exec", "exec_id": "e3", "process": process(&["sh", "-c", "tty; read x; stty size"], true), "stdin": true}),
        );
        assert_eq!(r["ok"], true, "{r}");
        g.ok(json!({"op": "resize", "exec_id": "e3", "height": 33, "width": 99}));
        s.write_all(b"\n").unwrap();
        let mut acc = Vec::new();
        read_until(&mut s, &mut acc, "33 99");
        assert!(
            String::from_utf8_lossy(&acc).contains("/dev/pts/"),
            "{:?}",
            String::from_utf8_lossy(&acc)
        );
        assert_eq!(
            g.req(json!({"op": "exec_wait", "exec_id": "e3"}))["exit_code"],
            0
        );

        // A missing binary: an error, not a process.
        let r = g.req(
            json!({"op": "exec", "exec_id": "e4", "process": process(&["nope-missing"], false)}),
        );
        assert!(
            r["error"]
                .as_str()
                .unwrap()
                .contains("executable file not found"),
            "{r}"
        );
        let r = g.req(json!({"op": "exec_wait", "exec_id": "e4"}));
        assert!(r["error"].as_str().is_some(), "{r}");

        // Exec output is not the container's log.
        assert!(g.log().is_empty());
        g.ok(json!({"op": "kill", "signal": 9}));
        assert_eq!(g.wait()["exit_code"], 137);
        let r = g.req(json!({"op": "exec", "exec_id": "e5", "process": process(&["true"], false)}));
        assert!(r["error"].as_str().unwrap().contains("stopped"), "{r}");
        g.delete_and_check();
    }
}

#[test]
fn pause_and_resume() {
    if !can_run() {
        return;
    }
    for rt in runtimes() {
        let b = Bundle::new(&["sh", "-c", "while true; do echo tick; usleep 20000; done"]);
        let mut g = start(b, &rt, &[]);
        g.start();
        std::thread::sleep(Duration::from_millis(200));
        g.ok(json!({"op": "pause"}));
        assert_eq!(g.req(json!({"op": "state"}))["status"], "paused");
        std::thread::sleep(Duration::from_millis(200));
        let n = g.log().len();
        assert!(n > 0);
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(g.log().len(), n, "output while paused");
        g.ok(json!({"op": "resume"}));
        assert_eq!(g.req(json!({"op": "state"}))["status"], "running");
        let t = Instant::now();
        while g.log().len() == n {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "no output after resume"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        g.ok(json!({"op": "kill", "signal": 9, "all": true}));
        assert_eq!(g.wait()["exit_code"], 137, "{rt:?}");
        g.delete_and_check();
    }
}

#[test]
fn log_rotation() {
    if !can_run() {
        return;
    }
    let b = Bundle::new(&[
        "sh",
        "-c",
        "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done",
    ]);
    let mut g = start(b, &None, &["--log-max-size", "2000", "--log-max-file", "3"]);
    g.start();
    assert_eq!(g.wait()["exit_code"], 0);
    let p = g.b.log_path();
    let name = |i: u32| PathBuf::from(format!("{}.{i}", p.display()));
    assert!(name(1).exists() && name(2).exists());
    assert!(!name(3).exists());
    for f in [p.clone(), name(1), name(2)] {
        let len = std::fs::metadata(&f).unwrap().len();
        assert!(len < 2200, "{} is {len} bytes", f.display());
    }
    let last = read_log(&p);
    assert_eq!(last.last().unwrap()["log"], "line-299\n");
    // Entries are contiguous across the files.
    let mut all = read_log(&name(2));
    all.extend(read_log(&name(1)));
    all.extend(last);
    let nums: Vec<u32> = all
        .iter()
        .map(|e| {
            e["log"]
                .as_str()
                .unwrap()
                .trim()
                .trim_start_matches("line-")
                .parse()
                .unwrap()
        })
        .collect();
    assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "{nums:?}");
    g.delete_and_check();
}

#[test]
fn long_lines_are_split_like_docker() {
    if !can_run() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo"]);
    let mut g = start(b, &None, &[]);
    g.start();
    assert_eq!(g.wait()["exit_code"], 0);
    let log = g.log();
    let parts: Vec<&str> = log.iter().map(|e| e["log"].as_str().unwrap()).collect();
    assert_eq!(
        parts.len(),
        3,
        "{:?}",
        parts.iter().map(|p| p.len()).collect::<Vec<_>>()
    );
    assert_eq!(parts[0].len(), 16384);
    assert_eq!(parts[1].len(), 16384);
    assert_eq!(parts[2].len(), 40000 - 2 * 16384 + 1);
    assert!(parts[2].ends_with('\n'));
    g.delete_and_check();
}

#[test]
fn shim_is_detached_from_its_starter() {
    if !can_run() {
        return;
    }
    let mut g = start(
        Bundle::new(&["sh", "-c", "sleep 0.3; echo late; exit 7"]),
        &None,
        &[],
    );
    let shim = g.shim_pid.unwrap();
    assert_ne!(shim, g.starter);
    // The starter has exited and was reaped; the shim is in another session and not our child.
    assert!(!alive(g.starter));
    let stat = std::fs::read_to_string(format!("/proc/{shim}/stat")).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let (ppid, sid): (i32, i32) = (f[1].parse().unwrap(), f[3].parse().unwrap());
    assert_ne!(ppid, std::process::id() as i32);
    assert_ne!(sid, nix::unistd::getsid(None).unwrap().as_raw());
    assert_eq!(
        std::fs::read_to_string(g.b.state_dir().join("shim.pid")).unwrap(),
        shim.to_string()
    );
    g.start();
    // Nobody connected while it exits; a later connection still learns everything.
    std::thread::sleep(Duration::from_millis(800));
    let st = g.req(json!({"op": "state"}));
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["exit"]["exit_code"], 7);
    assert_eq!(g.log()[0]["log"], "late\n");
    g.delete_and_check();
}

#[test]
fn missing_binary_fails_the_handshake_and_leaves_nothing() {
    if !can_run() {
        return;
    }
    for rt in runtimes() {
        let b = Bundle::new(&["no-such-binary"]);
        let mut args = rt_args(&rt);
        args.push("--stdin".into());
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let (hs, status, g) = b.start_shim(&refs);
        assert!(!status.success());
        let err = hs["error"].as_str().unwrap_or_else(|| panic!("{hs}"));
        assert!(
            err.contains("exec: \"no-such-binary\": executable file not found in $PATH"),
            "{err} ({rt:?})"
        );
        assert!(!g.b.state_dir().exists(), "state dir left");
        assert!(!g.b.root().join(&g.b.id).exists(), "runtime state left");
        for d in g.b.cgroup_dirs() {
            assert!(!d.exists(), "cgroup {} left", d.display());
        }
    }
}

#[test]
fn bad_requests_get_errors() {
    if !can_run() {
        return;
    }
    let g = start(Bundle::new(&["true"]), &None, &[]);
    let r = g.req(json!({"op": "nope"}));
    assert!(
        r["error"].as_str().unwrap().starts_with("bad request"),
        "{r}"
    );
    let r = g.req(json!({"op": "exec_wait", "exec_id": "x"}));
    assert!(r["error"].as_str().is_some());
    let r = g.req(json!({"op": "exec", "exec_id": "../x", "process": process(&["true"], false)}));
    assert!(
        r["error"].as_str().unwrap().contains("invalid exec id"),
        "{r}"
    );
}

/// Proportional set size of idle shims (kB), printed for docs/BENCHMARKS.md: four idle
/// containers (their shims share the executable's pages, as a host's many shims do).
#[test]
fn idle_shim_memory() {
    if !can_run() {
        return;
    }
    let guards: Vec<Guard> = (0..4)
        .map(|_| {
            let g = start(Bundle::new(&["sleep", "100"]), &None, &[]);
            g.start();
            g
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for g in &guards {
        let pid = g.shim_pid.unwrap();
        let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
        let field = |name: &str| -> u64 {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap()
        };
        let (pss, anon, rss) = (field("Pss:"), field("Pss_Anon:"), field("Rss:"));
        eprintln!("idle pier-shim {pid}: Pss {pss} kB (anon {anon} kB), Rss {rss} kB");
        assert!(pss <= 1024, "idle shim PSS {pss} kB");
    }
}

#[test]
fn oom_kill_is_reported() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    let limit = 16 * 1024 * 1024;
    b.config["linux"]["resources"]["memory"] = json!({"limit": limit, "swap": limit});
    let mut g = start(b, &None, &[]);
    g.start();
    let w = g.wait();
    assert_eq!(w["oom_killed"], true, "{w}");
    let exit: serde_json::Value =
        serde_json::from_slice(&std::fs::read(g.b.state_dir().join("exit.json")).unwrap()).unwrap();
    assert_eq!(exit["oom_killed"], true);
    g.delete_and_check();

    // And not reported without an OOM kill.
    let mut g = start(Bundle::new(&["true"]), &None, &[]);
    g.start();
    assert_eq!(g.wait()["oom_killed"], false);
    g.delete_and_check();
}

/// Whether a /proc/<pid>/status text shows SIGPIPE ignored.
fn sigpipe_ignored(status: &str) -> bool {
    let line = status.lines().find(|l| l.starts_with("SigIgn:")).unwrap();
    let mask = u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap();
    mask & (1 << (libc_sigpipe() - 1)) != 0
}

fn libc_sigpipe() -> u32 {
    nix::sys::signal::Signal::SIGPIPE as u32
}

/// The shim blocks SIGCHLD and ignores SIGPIPE; its container's processes must not inherit that
/// (other dispositions pass through from whoever started the shim, as across any exec).
#[test]
fn processes_start_with_default_signal_state() {
    if !can_run() {
        return;
    }
    // In-process runtime only: what a `--runtime` binary passes on is that binary's business
    // (pier-runc currently leaks its own blocked SIGCHLD and ignored SIGPIPE to the container).
    let rt: Option<PathBuf> = None;
    let mut g = start(Bundle::new(&["cat", "/proc/self/status"]), &rt, &[]);
    g.start();
    assert_eq!(g.wait()["exit_code"], 0);
    let text: String = g
        .log()
        .iter()
        .map(|e| e["log"].as_str().unwrap().to_string())
        .collect();
    assert!(
        text.contains("SigBlk:\t0000000000000000\n"),
        "{rt:?} {text}"
    );
    assert!(!sigpipe_ignored(&text), "{rt:?} {text}");
    g.delete_and_check();

    let mut g = start(Bundle::new(&["sleep", "100"]), &rt, &[]);
    g.start();
    let (r, mut s) = stream(
        &g.sock(),
        &json!({"op": "exec", "exec_id": "sig", "process": process(&["cat", "/proc/self/status"], false)}),
    );
    assert_eq!(r["ok"], true, "{r}");
    let (out, _) = demux_all(&mut s);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("SigBlk:\t0000000000000000\n"),
        "{rt:?} {text}"
    );
    assert!(!sigpipe_ignored(&text), "{rt:?} {text}");
    g.ok(json!({"op": "kill", "signal": 9}));
    assert_eq!(g.wait()["exit_code"], 137);
    g.delete_and_check();
}

#[test]
fn high_volume_output_is_logged_completely() {
    if !can_run() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "seq 1 100000; seq 1 1000 >&2"]);
    let mut g = start(b, &None, &[]);
    let (_, mut watcher) = stream(
        &g.sock(),
        &json!({"op": "attach", "stdout": true, "stderr": true}),
    );
    g.start();
    let (out, err) = demux_all(&mut watcher);
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 100_000);
    assert_eq!(err.iter().filter(|&&b| b == b'\n').count(), 1000);
    assert_eq!(g.wait()["exit_code"], 0);
    let log = g.log();
    let stdout: Vec<&str> = log
        .iter()
        .filter(|e| e["stream"] == "stdout")
        .map(|e| e["log"].as_str().unwrap())
        .collect();
    assert_eq!(stdout.len(), 100_000);
    assert!(stdout
        .iter()
        .enumerate()
        .all(|(i, l)| *l == format!("{}\n", i + 1)));
    assert_eq!(log.len(), 101_000);
    g.delete_and_check();
}

/// A client that does not read holds the container's output back (as docker's attach does);
/// nothing is lost once it reads.
#[test]
fn slow_attach_client_applies_backpressure() {
    if !can_run() {
        return;
    }
    let b = Bundle::new(&[
        "sh",
        "-c",
        "head -c 4000000 /dev/zero | tr '\\0' a; echo done >&2",
    ]);
    let mut g = start(b, &None, &[]);
    let (_, mut slow) = stream(
        &g.sock(),
        &json!({"op": "attach", "stdout": true, "stderr": true}),
    );
    g.start();
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(g.req(json!({"op": "state"}))["status"], "running");
    let (out, err) = demux_all(&mut slow);
    assert_eq!(out.len(), 4_000_000);
    assert!(out.iter().all(|&b| b == b'a'));
    assert_eq!(err, b"done\n");
    assert_eq!(g.wait()["exit_code"], 0);
    let logged: usize = g
        .log()
        .iter()
        .filter(|e| e["stream"] == "stdout")
        .map(|e| e["log"].as_str().unwrap().trim_end_matches('\n').len())
        .sum();
    assert_eq!(logged, 4_000_000);
    g.delete_and_check();
}

/// CVE-2019-5736 on the in-process path: the shim forks the container's init from its own image,
/// so the shim (and thus a created init, still running that image) must run from a read-only
/// view of its binary that no container can reopen for writing. The attack itself is tried in
/// pier-runtime's tests/security.rs.
#[test]
fn shim_and_created_init_run_from_a_read_only_image() {
    use pier_runtime::exeseal::{protection_of, Protection};
    if !can_run() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    let g = start(b, &None, &[]);
    let shim = g.shim_pid.unwrap().to_string();
    let init = g.init_pid.unwrap().to_string();
    assert_eq!(protection_of(&shim), Protection::ReadOnlyMount);
    assert_eq!(protection_of(&init), Protection::ReadOnlyMount);
    // Through the init's exe link, writing is refused (busy while it runs, read-only anyway).
    let e = std::fs::OpenOptions::new()
        .append(true)
        .open(format!("/proc/{init}/exe"))
        .unwrap_err();
    assert!(
        matches!(e.raw_os_error(), Some(libc::EROFS) | Some(libc::ETXTBSY)),
        "{e}"
    );
}
