//! Issue #4, both clients: the container loop through pierd with the `pier` CLI, side by side with
//! the real docker CLI on the same pierd. Commands that create containers run once per CLI on
//! containers of their own (docker's `dX`, pier's `pX`) and must print the same bytes (ids masked,
//! names mapped) with the same exit status; read-only commands (logs, inspect, top, port, wait,
//! ps, stats) run with both CLIs over the same containers. An `-it` session runs pier on a pty.

use std::time::Duration;

use pier_e2e::{docker, setup, skip_docker, skip_pier, Env};
use pier_testkit::compare::Cmp;
use pier_testkit::fixtures;

/// A pierd with the busybox fixture pulled and tagged `busybox`, or None after a SKIP line.
fn env_with_busybox() -> Option<Env> {
    if skip_docker() || skip_pier() {
        return None;
    }
    let env = setup()?;
    let img = fixtures::busybox(&env.reg);
    docker(&env.d, &["pull", &img.reference()]).ok();
    docker(&env.d, &["tag", &img.reference(), "busybox"]).ok();
    Some(env)
}

/// The same command for docker's container `d…` and pier's `p…`.
fn both<'a>(args: &[&'a str], d: &'a str, p: &'a str) -> (Vec<&'a str>, Vec<&'a str>) {
    let on = |n: &'a str| args.iter().map(|a| if *a == "@" { n } else { a }).collect();
    (on(d), on(p))
}

#[test]
fn pier_and_docker_print_the_same_through_pierd() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let mut c = Cmp::new(env.d.host(), pier_testkit::daemon::pier_bin());
    let missing = format!("{}/nosuch/image:tag", env.reg.addr());

    // run: output, streams, exit codes, errors
    for args in [
        &["run", "--rm", "busybox", "echo", "hello"][..],
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
        &["run", "--rm", "busybox", "nonexist"],
        &[
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
        ],
        &[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "busybox",
            "via",
            "entrypoint",
        ],
        &["run", "--rm", "-m", "x", "busybox", "true"],
        &["run", "--rm", "--restart", "bogus", "busybox", "true"],
        &["run", "-d", "--restart", "bogus", "busybox", "true"],
        &["create", "--restart", "always:x", "busybox", "true"],
        &[
            "run",
            "--rm",
            "--restart",
            "on-failure:x",
            "busybox",
            "true",
        ],
        &["run", "--rm", "--cpus", "abc", "busybox", "true"],
        &["run", "--rm", "-p", "x", "busybox", "true"],
        &["run", "--rm", &missing, "true"],
        &["create", &missing],
    ] {
        c.same(args);
    }
    c.pair(
        &["run", "-i", "--rm", "busybox", "cat"],
        &["run", "-i", "--rm", "busybox", "cat"],
        Some("piped\n"),
    );

    // named containers: one per CLI
    for n in ["d", "p"] {
        let (d1, d2) = (format!("{n}1"), format!("{n}2"));
        let (pd, pp) = both(
            &[
                "run",
                "-d",
                "--name",
                "@",
                "-l",
                "k=v",
                "busybox",
                "sh",
                "-c",
                "echo l0; echo l1 >&2; echo l2; sleep 1000",
            ],
            &d1,
            &d1,
        );
        let _ = pp;
        let (code, out, err) = if n == "d" {
            c.docker(&pd, None)
        } else {
            c.pier(&pd, None)
        };
        assert_eq!(code, Some(0), "{n} run -d: {err}");
        assert_eq!(out.trim().len(), 64, "run -d prints the full id: {out}");
        let (code, out, err) = if n == "d" {
            c.docker(
                &[
                    "create",
                    "--name",
                    &d2,
                    "busybox",
                    "sh",
                    "-c",
                    "echo created; exit 7",
                ],
                None,
            )
        } else {
            c.pier(
                &[
                    "create",
                    "--name",
                    &d2,
                    "busybox",
                    "sh",
                    "-c",
                    "echo created; exit 7",
                ],
                None,
            )
        };
        assert_eq!(code, Some(0), "{n} create: {err}");
        assert_eq!(out.trim().len(), 64);
    }
    // the name is taken: docker's 409 message, exit 125
    c.pair(
        &["run", "--name", "d1", "busybox", "true"],
        &["run", "--name", "p1", "busybox", "true"],
        None,
    );
    c.pair(
        &["create", "--name", "d1", "busybox", "true"],
        &["create", "--name", "p1", "busybox", "true"],
        None,
    );
    c.pair(&["start", "-a", "d2"], &["start", "-a", "p2"], None);
    std::thread::sleep(Duration::from_millis(300));
    // read-only commands over the same containers, with both CLIs
    for n in ["d1", "p1", "d2", "p2"] {
        for args in [
            &["logs", "@"][..],
            &["logs", "--tail", "1", "@"],
            &["logs", "-t", "@"],
            &["logs", "--tail", "2", "-t", "@"],
            &[
                "inspect",
                "-f",
                "{{.State.Status}} {{.Config.Labels}} {{.Name}} {{.State.ExitCode}}",
                "@",
            ],
            &[
                "container",
                "inspect",
                "--format",
                "{{json .Config.Cmd}}",
                "@",
            ],
            &["port", "@"],
        ] {
            let (a, _) = both(args, n, n);
            c.same(&a);
        }
    }
    c.same(&["wait", "d2", "p2"]);
    c.same(&["top", "d1"]);
    c.same(&["logs", "-f", "d2"]);
    // exec: output, stdin, exit codes
    for n in ["d1", "p1"] {
        c.same(&["exec", n, "echo", "in"]);
        c.same(&["exec", n, "sh", "-c", "exit 4"]);
        c.same(&["exec", n, "nonexist"]);
        c.same(&[
            "exec",
            "-w",
            "/bin",
            "-e",
            "X=y",
            n,
            "sh",
            "-c",
            "pwd; echo $X",
        ]);
        c.pair(
            &["exec", "-i", n, "cat"],
            &["exec", "-i", n, "cat"],
            Some("through exec\n"),
        );
    }
    c.same(&["exec", "d2", "true"]);
    // listings see both CLIs' containers; columns that do not depend on timing
    for args in [
        &[
            "ps",
            "-a",
            "--format",
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Ports}}\t{{.Names}}\t{{.Labels}}",
        ][..],
        &["ps", "-aq"],
        &["ps", "-q"],
        &[
            "ps",
            "-a",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.Command}} {{.State}}",
        ],
        &[
            "ps",
            "-a",
            "--filter",
            "label=k=v",
            "--format",
            "{{.Names}}",
        ],
        &[
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}}",
        ],
        &[
            "ps",
            "-a",
            "--filter",
            "name=1",
            "--format",
            "{{.Names}} {{.Networks}}",
        ],
        &["ps", "-n", "2", "--format", "{{.Names}}"],
        &["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}"],
    ] {
        c.same(args);
    }
    // state changes, each CLI on its own containers
    for args in [
        &["pause", "@"][..],
        &["unpause", "@"],
        &["update", "--memory", "64m", "@"],
        &["update", "--memory", "x", "@"],
        &["stop", "-t", "1", "@"],
        &["start", "@"],
        &["restart", "-t", "1", "@"],
        &["kill", "@"],
        &["wait", "@"],
        &["kill", "@"],
    ] {
        let (a, b) = both(args, "d1", "p1");
        c.pair(&a, &b, None);
    }
    c.pair(&["rename", "d2", "d3"], &["rename", "p2", "p3"], None);
    c.pair(&["rm", "d1", "d3"], &["rm", "p1", "p3"], None);
    c.pair(
        &["run", "-d", "--name", "d4", "busybox", "sleep", "1000"],
        &["run", "-d", "--name", "p4", "busybox", "sleep", "1000"],
        None,
    );
    c.pair(&["rm", "d4"], &["rm", "p4"], None);
    c.pair(&["rm", "-f", "d4"], &["rm", "-f", "p4"], None);
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
        &["stats", "--no-stream", "nope"],
    ] {
        c.same(args);
    }
    let rest = c.report();
    drop(env);
    assert!(rest.is_empty(), "pier and docker differ on pierd:\n{rest}");
}

#[test]
fn pier_run_it_through_a_pty() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    if pier_testkit::cli::which("script").is_none() {
        println!("SKIP: script (util-linux) not installed");
        return;
    }
    let host = env.d.host();
    let pier = pier_testkit::daemon::pier_bin();
    let on_pty = |cmd: String| {
        std::process::Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env_remove("DOCKER_HOST")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let p = |args: &str| format!("{} -H {host} {args}", pier.display());
    let d = |args: &str| format!("env DOCKER_HOST={host} DOCKER_CLI_HINTS=false docker {args}");
    // -t: the container sees a tty, the exit status comes back, both CLIs print the same
    let cmd = "run -t --rm busybox sh -c 'tty; stty size; exit 2'";
    let (po, dout) = (on_pty(p(cmd)), on_pty(d(cmd)));
    let text = String::from_utf8_lossy(&po.stdout).to_string();
    assert!(text.starts_with("/dev/pts/"), "{text:?}");
    assert_eq!(po.status.code(), Some(2), "{text:?}");
    assert_eq!(po.status.code(), dout.status.code());
    let size = |s: &str| s.lines().nth(1).map(str::to_string);
    assert_eq!(size(&text), size(&String::from_utf8_lossy(&dout.stdout)));
    // -it: an interactive shell typed into through the pty
    let cmd = "run -it --rm busybox sh -c 'read line; echo got:$line; exit 5'";
    let po = std::process::Command::new("script")
        .args(["-qec", &p(cmd), "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut po = po;
    {
        use std::io::Write;
        let mut i = po.stdin.take().unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        i.write_all(b"hello\r").unwrap();
        std::thread::sleep(Duration::from_millis(1500));
    }
    let o = po.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("got:hello"), "{text:?}");
    assert_eq!(o.status.code(), Some(5), "{text:?}");
    // exec -t into a detached container
    docker(
        &env.d,
        &["run", "-d", "-t", "--name", "tt", "busybox", "sleep", "100"],
    )
    .ok();
    let (po, dout) = (
        on_pty(p("exec -t tt echo hi")),
        on_pty(d("exec -t tt echo hi")),
    );
    assert!(
        String::from_utf8_lossy(&po.stdout).starts_with("hi\r"),
        "{po:?}"
    );
    assert_eq!(po.stdout, dout.stdout);
    assert_eq!(po.status.code(), Some(0));
    let (po, dout) = (
        on_pty(p("exec -it tt sh -c 'exit 3'")),
        on_pty(d("exec -it tt sh -c 'exit 3'")),
    );
    assert_eq!(po.status.code(), Some(3), "{po:?}");
    assert_eq!(po.status.code(), dout.status.code(), "{dout:?}");
    docker(&env.d, &["rm", "-f", "tt"]).ok();
}

/// The network scenario (testkit's `network_scenario`, also run against a reference dockerd in
/// crates/pier/tests/containers_e2e.rs) through pierd: user networks with IPAM options, `-p` on
/// 127.0.0.1, `port`/`ps`, connect/disconnect, errors and prune, pier and docker side by side.
#[test]
fn pier_and_docker_networks_through_pierd() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let mut c = Cmp::new(env.d.host(), pier_testkit::daemon::pier_bin());
    let x = std::process::id() % 250;
    // Below the ephemeral range (32768+), where a client connection could already hold the port.
    let base = 20000 + (std::process::id() % 500) * 8;
    pier_testkit::compare::network_scenario(
        &mut c,
        &format!("10.151.{x}"),
        &format!("10.152.{x}"),
        base,
    );
    // the default bridge: a published port, then port and ps by both CLIs over the same container
    let port = (base + 5).to_string();
    c.pair(
        &[
            "run",
            "-d",
            "--name",
            "dbr",
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "busybox",
            "sleep",
            "100",
        ],
        &[
            "run",
            "-d",
            "--name",
            "pbr",
            "-p",
            &format!("127.0.0.1:{}:80", base + 6),
            "busybox",
            "sleep",
            "100",
        ],
        None,
    );
    for args in [
        &["port", "dbr"][..],
        &["port", "pbr", "80"],
        &["ps", "--format", "{{.Names}} {{.Ports}} {{.Networks}}"],
        &[
            "ps",
            "--format",
            "table {{.Names}}\t{{.Ports}}\t{{.Networks}}",
        ],
    ] {
        c.same(args);
    }
    let rest = c.report();
    drop(env);
    assert!(rest.is_empty(), "pier and docker differ on pierd:\n{rest}");
}
