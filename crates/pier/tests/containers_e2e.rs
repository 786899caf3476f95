//! `pier`'s container commands against a real dockerd, side by side with the real `docker` CLI on the
//! same daemon: every case must print the same bytes (docker's "docker" spelled "pier" in usage
//! texts) and exit with the same status. Each test starts its own reference dockerd (testkit's
//! `RefDockerd`: own containerd, root, sockets, cgroup parent, no default bridge or iptables) which
//! cleans up on drop; networks the tests create are bridges on private 10.147.x.0/24 subnets and
//! published ports bind 127.0.0.1 only. Without root, `dockerd`, `containerd` or the docker CLI it
//! prints a SKIP line.

use pier_testkit::compare::{cli_run as run, Cmp};
use pier_testkit::RefDockerd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A reference dockerd (testkit's [`RefDockerd`]) with `busybox:latest` imported from the host's
/// static busybox; None (after a SKIP line) when it cannot run here.
fn start(tag: &str) -> Option<RefDockerd> {
    if let Some(why) = pier_testkit::refdockerd_skip_reason() {
        println!("SKIP: {why}");
        return None;
    }
    if !Path::new("/usr/bin/busybox").exists() {
        println!("SKIP: /usr/bin/busybox not installed");
        return None;
    }
    let d = RefDockerd::start(&format!("pier-{tag}-{}", std::process::id()), &[])
        .expect("reference dockerd");
    let rootfs = d.dir().join("bb");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/usr/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for l in [
        "sh", "echo", "cat", "sleep", "true", "false", "ls", "env", "id", "pwd", "hostname", "ps",
    ] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(l)).unwrap();
    }
    let tar = d.dir().join("bb.tar");
    assert!(Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap()
        .success());
    d.import(&tar, "busybox:latest").expect("import busybox");
    Some(d)
}

fn chrono_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn container_commands_match_docker() {
    let Some(d) = start("ctr-e2e") else { return };
    let pier = env!("CARGO_BIN_EXE_pier");
    let host = d.host();
    let mut c = Cmp::new(host.clone(), pier);
    let since = (chrono_secs() - 1).to_string();

    // run: output, streams, exit codes, errors (each CLI makes its own container)
    c.same(&["run", "--rm", "busybox", "echo", "hello"]);
    c.same(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    c.same(&["run", "--rm", "busybox", "nonexist"]);
    c.same(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/bin",
        "-u",
        "1:2",
        "busybox",
        "sh",
        "-c",
        "echo $A; pwd; id -u; id -g",
    ]);
    c.same(&[
        "run",
        "--rm",
        "--entrypoint",
        "echo",
        "busybox",
        "via",
        "entrypoint",
    ]);
    c.same(&["run", "--rm", "-m", "x", "busybox", "true"]);
    c.same(&[
        "run",
        "--rm",
        "--restart",
        "on-failure:x",
        "busybox",
        "true",
    ]);
    c.same(&["run", "--rm", "--cpus", "abc", "busybox", "true"]);
    c.same(&["run", "-d", "-a", "stdout", "busybox"]);
    c.same(&["run", "--rm", "nosuch/image:tag", "true"]);
    c.pair(
        &["run", "-i", "--rm", "busybox", "cat"],
        &["run", "-i", "--rm", "busybox", "cat"],
        Some("piped\n"),
    );

    // create / start -a / lifecycle on named containers, one per CLI, compared through their names
    for (bin, n) in [("docker", "d"), (pier, "p")] {
        let name = format!("{n}1");
        let (code, out, err) = run(
            bin,
            &host,
            &[
                "run",
                "-d",
                "--name",
                &name,
                "-l",
                "k=v",
                "busybox",
                "sh",
                "-c",
                "echo l0; echo l1; echo l2; sleep 1000",
            ],
            None,
        );
        assert_eq!(code, Some(0), "{bin} run -d: {err}");
        assert_eq!(
            out.trim().len(),
            64,
            "{bin} run -d prints the full id: {out}"
        );
        let (code, out, err) = run(
            bin,
            &host,
            &[
                "create",
                "--name",
                &format!("{n}2"),
                "busybox",
                "sh",
                "-c",
                "echo created; echo to-stderr >&2; exit 7",
            ],
            None,
        );
        assert_eq!(code, Some(0), "{bin} create: {err}");
        assert_eq!(out.trim().len(), 64);
    }
    std::thread::sleep(Duration::from_millis(500));
    for (dn, pn) in [("d1", "p1"), ("d2", "p2")] {
        c.pair(&["logs", dn], &["logs", pn], None);
        c.pair(
            &["logs", "--tail", "1", dn],
            &["logs", "--tail", "1", pn],
            None,
        );
        c.pair(
            &["inspect", "-f", "{{.State.Status}} {{.Config.Labels}}", dn],
            &["inspect", "-f", "{{.State.Status}} {{.Config.Labels}}", pn],
            None,
        );
    }
    c.pair(&["start", "-a", "d2"], &["start", "-a", "p2"], None);
    c.pair(&["wait", "d2"], &["wait", "p2"], None);
    c.pair(
        &["exec", "d1", "echo", "in"],
        &["exec", "p1", "echo", "in"],
        None,
    );
    c.pair(
        &["exec", "d1", "sh", "-c", "exit 4"],
        &["exec", "p1", "sh", "-c", "exit 4"],
        None,
    );
    c.pair(
        &["exec", "d1", "nonexist"],
        &["exec", "p1", "nonexist"],
        None,
    );
    c.pair(&["exec", "d2", "true"], &["exec", "p2", "true"], None);
    c.pair(&["top", "d1"], &["top", "p1"], None);
    c.pair(&["port", "d1"], &["port", "p1"], None);
    c.pair(&["port", "d1", "80"], &["port", "p1", "80"], None);
    c.pair(&["pause", "d1"], &["pause", "p1"], None);
    c.pair(&["unpause", "d1"], &["unpause", "p1"], None);
    c.pair(
        &["update", "--memory", "64m", "d1"],
        &["update", "--memory", "64m", "p1"],
        None,
    );
    c.pair(
        &["update", "--memory", "x", "d1"],
        &["update", "--memory", "x", "p1"],
        None,
    );
    c.pair(&["rename", "d2", "d3"], &["rename", "p2", "p3"], None);
    // listings see both CLIs' containers; compare columns that do not depend on timing
    let stable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Ports}}\t{{.Names}}\t{{.Labels}}";
    c.same(&["ps", "-a", "--format", stable]);
    c.same(&["ps", "-aq"]);
    c.same(&[
        "ps",
        "-a",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Command}} {{.State}}",
    ]);
    c.same(&[
        "ps",
        "-a",
        "--filter",
        "label=k=v",
        "--format",
        "{{.Names}}",
    ]);
    c.same(&["ps", "-n", "2", "--format", "{{.Names}}"]);
    c.same(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}"]);
    // the default table, retried: CREATED/STATUS may tick between the two runs
    for args in [
        &["ps", "-a"][..],
        &["ps", "-a", "--format", "json"],
        &["ps", "-s"],
    ] {
        let mut last = None;
        for _ in 0..3 {
            let d1 = run("docker", &host, args, None);
            let p1 = run(pier, &host, args, None);
            if d1 == p1 {
                last = None;
                break;
            }
            last = Some((d1, p1));
        }
        assert!(last.is_none(), "{args:?} differs: {last:?}");
    }
    c.pair(&["stop", "-t", "1", "d1"], &["stop", "-t", "1", "p1"], None);
    c.pair(
        &["restart", "-t", "1", "d1"],
        &["restart", "-t", "1", "p1"],
        None,
    );
    c.pair(&["kill", "d1"], &["kill", "p1"], None);
    c.pair(&["kill", "d1"], &["kill", "p1"], None);
    c.pair(&["rm", "d1", "d3"], &["rm", "p1", "p3"], None);
    // sig-proxy: without a tty a TERM to the CLI reaches the container
    {
        let mut child = Command::new(pier)
            .env_remove("DOCKER_HOST")
            .args(["-H", &host, "run", "--rm", "busybox", "sh", "-c"])
            .arg("trap 'echo got TERM; exit 9' TERM; echo ready; while true; do sleep 0.1; done")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = [0u8; 6];
        use std::io::Read;
        out.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ready\n");
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "got TERM\n");
        assert_eq!(child.wait().unwrap().code(), Some(9));
    }
    // events over the whole test so far, pretty and templated
    let until = (chrono_secs() + 1).to_string();
    std::thread::sleep(Duration::from_millis(1100));
    c.same(&["events", "--since", &since, "--until", &until]);
    c.same(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=die",
        "--format",
        "{{.Action}} {{.Actor.Attributes.exitCode}}",
    ]);
    c.same(&[
        "events", "--since", &since, "--until", &until, "--format", "json",
    ]);
    // errors
    for args in [
        &["stop", "nope"][..],
        &["rm", "nope", "nope2"],
        &["kill", "nope"],
        &["logs", "nope"],
        &["wait", "nope"],
        &["rename", "nope", "x"],
        &["exec", "nope", "true"],
        &["start", "nope"],
        &["container", "inspect", "nope"],
        &["pause", "nope"],
        &["top", "nope"],
        &["port", "nope"],
    ] {
        c.same(args);
    }
    let rest = c.failures.join("\n");
    drop(c);
    drop(d);
    assert!(rest.is_empty(), "pier and docker differ:\n{rest}");
}

#[test]
fn network_commands_match_docker() {
    let Some(d) = start("net-e2e") else { return };
    let pier = env!("CARGO_BIN_EXE_pier");
    let host = d.host();
    let mut c = Cmp::new(host.clone(), pier);
    let x = std::process::id() % 250;
    // Below the ephemeral range (32768+), where a client connection could already hold the port.
    let base = 26000 + (std::process::id() % 500) * 8;
    pier_testkit::compare::network_scenario(
        &mut c,
        &format!("10.147.{x}"),
        &format!("10.148.{x}"),
        base,
    );
    let rest = c.failures.join("\n");
    drop(c);
    drop(d);
    assert!(rest.is_empty(), "pier and docker differ:\n{rest}");
}
