//! Containers through pierd with the real docker CLI: run (output, exit codes, --rm), the
//! detached loop (logs, exec, stop, rm), ps, inspect, name conflicts, a missing binary, and a
//! `kill -9` of pierd with a running container.

use std::time::{Duration, Instant};

use pier_e2e::{docker, env_with_busybox, inspect_container as inspect};

#[test]
fn run_prints_and_returns_exit_codes() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let r = docker(&env.d, &["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(r.code, Some(0), "{r}");
    assert_eq!(r.stdout, "hi\n", "{r}");
    let r = docker(
        &env.d,
        &[
            "run",
            "--name",
            "three",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    assert_eq!(r.code, Some(3), "{r}");
    assert_eq!(r.stdout, "out\n");
    assert_eq!(r.stderr, "err\n");
    let v = inspect(&env, "three");
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 3);
    assert_eq!(v["Name"], "/three");
    assert_eq!(v["Config"]["Cmd"][0], "sh");
    let ps = docker(&env.d, &["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .ok()
        .to_string();
    assert!(ps.starts_with("three Exited (3) "), "{ps}");
    // --rm removed the first one.
    assert_eq!(ps.lines().count(), 1, "{ps}");
    // Name conflict: docker's 409 message.
    let r = docker(&env.d, &["create", "--name", "three", "busybox", "true"]);
    assert_ne!(r.code, Some(0));
    assert!(
        r.stderr
            .contains("Conflict. The container name \"/three\" is already in use by container"),
        "{r}"
    );
    docker(&env.d, &["rm", "three"]).ok();
    let r = docker(&env.d, &["container", "inspect", "three"]);
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr.trim(),
        "Error response from daemon: No such container: three",
        "{r}"
    );
}

#[test]
fn missing_binary_exits_127() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let r = docker(&env.d, &["run", "--rm", "busybox", "nonexistent-binary"]);
    assert_eq!(r.code, Some(127), "{r}");
    assert!(
        r.stderr.contains("executable file not found in $PATH"),
        "{r}"
    );
    // exec of a missing binary: as dockerd, the stream carries the runtime's error and the
    // exit code is 127 (126 when the file is not executable); the container keeps running.
    docker(
        &env.d,
        &["run", "-d", "--name", "host", "busybox", "sleep", "60"],
    )
    .ok();
    let r = docker(&env.d, &["exec", "host", "nonexistent-binary"]);
    assert_eq!(r.code, Some(127), "{r}");
    assert!(
        r.stdout.contains("OCI runtime exec failed")
            && r.stdout
                .contains("exec: \"nonexistent-binary\": executable file not found in $PATH"),
        "{r}"
    );
    let r = docker(&env.d, &["exec", "host", "/etc/hostname"]);
    assert_eq!(r.code, Some(126), "{r}");
    let r = docker(&env.d, &["exec", "host", "true"]);
    assert_eq!(r.code, Some(0), "{r}");
    docker(&env.d, &["rm", "-f", "host"]).ok();
}

#[test]
fn detached_logs_exec_stop_rm() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let id = docker(
        &env.d,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "busybox",
            "sh",
            "-c",
            "echo started; while true; do sleep 0.2; done",
        ],
    )
    .ok()
    .trim()
    .to_string();
    assert_eq!(id.len(), 64);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = docker(&env.d, &["logs", "web"]);
        if logs.stdout == "started\n" {
            break;
        }
        assert!(Instant::now() < deadline, "{logs}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let v = inspect(&env, "web");
    assert_eq!(v["State"]["Running"], true);
    assert!(v["State"]["Pid"].as_i64().unwrap() > 0);
    let r = docker(
        &env.d,
        &["exec", "web", "sh", "-c", "echo $HOSTNAME; exit 4"],
    );
    assert_eq!(r.code, Some(4), "{r}");
    assert_eq!(r.stdout.trim(), &id[..12]);
    let r = docker(&env.d, &["rm", "web"]);
    assert!(
        r.stderr
            .contains("container is running: stop the container before removing or force remove"),
        "{r}"
    );
    let ps = docker(&env.d, &["ps", "--format", "{{.Names}} {{.Status}}"])
        .ok()
        .to_string();
    assert!(ps.starts_with("web Up "), "{ps}");
    let t = Instant::now();
    docker(&env.d, &["stop", "-t", "1", "web"]).ok();
    assert!(t.elapsed() < Duration::from_secs(8));
    let v = inspect(&env, "web");
    assert_eq!(v["State"]["Running"], false);
    assert_eq!(v["State"]["ExitCode"], 137);
    let r = docker(&env.d, &["exec", "web", "true"]);
    assert!(r.stderr.contains("is not running"), "{r}");
    docker(&env.d, &["start", "web"]).ok();
    assert_eq!(inspect(&env, "web")["State"]["Running"], true);
    docker(&env.d, &["rm", "-f", "web"]).ok();
    assert_eq!(docker(&env.d, &["ps", "-aq"]).ok(), "");
}

#[test]
fn survives_kill_9_of_pierd() {
    let Some(mut env) = env_with_busybox() else {
        return;
    };
    docker(
        &env.d,
        &[
            "run",
            "-d",
            "--name",
            "tick",
            "busybox",
            "sh",
            "-c",
            "i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done",
        ],
    )
    .ok();
    std::thread::sleep(Duration::from_millis(500));
    env.d.kill9();
    std::thread::sleep(Duration::from_millis(500));
    env.d.start_again();
    let v = inspect(&env, "tick");
    assert_eq!(v["State"]["Running"], true, "{v}");
    let n1 = docker(&env.d, &["logs", "tick"]).ok().lines().count();
    std::thread::sleep(Duration::from_millis(500));
    let logs = docker(&env.d, &["logs", "tick"]).ok().to_string();
    assert!(logs.lines().count() > n1, "logs did not continue");
    // No gap: the numbers are consecutive.
    for (i, l) in logs.lines().enumerate() {
        assert_eq!(l, i.to_string(), "gap in the log");
    }
    let r = docker(&env.d, &["exec", "tick", "echo", "in"]);
    assert_eq!(r.stdout, "in\n", "{r}");
    docker(&env.d, &["stop", "-t", "1", "tick"]).ok();
    assert_eq!(inspect(&env, "tick")["State"]["Running"], false);
}

#[test]
fn lifecycle_verbs_and_restart_policy() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    // on-failure:2 restarts twice, then stays exited.
    docker(
        &env.d,
        &[
            "run",
            "-d",
            "--name",
            "flaky",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "exit 5",
        ],
    )
    .ok();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = inspect(&env, "flaky");
        if v["RestartCount"] == 2
            && v["State"]["Running"] == false
            && v["State"]["Restarting"] == false
        {
            assert_eq!(v["State"]["ExitCode"], 5);
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // kill + wait.
    docker(
        &env.d,
        &["run", "-d", "--name", "sleeper", "busybox", "sleep", "100"],
    )
    .ok();
    docker(&env.d, &["kill", "sleeper"]).ok();
    assert_eq!(docker(&env.d, &["wait", "sleeper"]).ok(), "137\n");
    let r = docker(&env.d, &["kill", "sleeper"]);
    assert!(r.stderr.contains("is not running"), "{r}");
    // restart, pause/unpause, rename, top.
    docker(&env.d, &["restart", "-t", "0", "sleeper"]).ok();
    assert_eq!(inspect(&env, "sleeper")["State"]["Running"], true);
    docker(&env.d, &["pause", "sleeper"]).ok();
    assert_eq!(inspect(&env, "sleeper")["State"]["Status"], "paused");
    docker(&env.d, &["unpause", "sleeper"]).ok();
    assert_eq!(inspect(&env, "sleeper")["State"]["Status"], "running");
    docker(&env.d, &["rename", "sleeper", "napper"]).ok();
    let top = docker(&env.d, &["top", "napper"]).ok().to_string();
    assert!(top.contains("sleep 100"), "{top}");
    let info = docker(
        &env.d,
        &["info", "--format", "{{.Containers}} {{.ContainersRunning}}"],
    )
    .ok()
    .to_string();
    assert_eq!(info, "2 1\n");
    docker(&env.d, &["rm", "-f", "napper"]).ok();
    let r = docker(&env.d, &["container", "prune", "-f"]);
    assert!(r.ok().contains("Deleted Containers:"), "{r}");
    assert_eq!(docker(&env.d, &["ps", "-aq"]).ok(), "");
}

#[test]
fn memory_limit_oom_kill() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    // A shell that grows a string until the 16 MiB limit stops it.
    let r = docker(
        &env.d,
        &[
            "run",
            "--name",
            "oom",
            "-m",
            "16m",
            "--memory-swap",
            "16m",
            "busybox",
            "sh",
            "-c",
            "x=a; while true; do x=$x$x; done",
        ],
    );
    if r.code != Some(137) {
        println!("SKIP: the host did not OOM-kill under the memory limit ({r})");
        return;
    }
    let v = inspect(&env, "oom");
    assert_eq!(v["State"]["OOMKilled"], true, "{v}");
    assert_eq!(v["State"]["ExitCode"], 137);
    assert_eq!(v["HostConfig"]["Memory"], 16 * 1024 * 1024);
}

#[test]
fn stats_no_stream() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    docker(
        &env.d,
        &[
            "run", "-d", "--name", "busy", "-m", "64m", "busybox", "sleep", "100",
        ],
    )
    .ok();
    let out = docker(
        &env.d,
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.MemUsage}} {{.PIDs}}",
            "busy",
        ],
    )
    .ok()
    .to_string();
    assert!(out.starts_with("busy "), "{out}");
    assert!(out.contains("/ 64MiB 1\n"), "{out}");
    docker(&env.d, &["rm", "-f", "busy"]).ok();
}

#[test]
fn stdin_events_and_a_killed_shim() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    // docker run -i: stdin reaches the container and its EOF ends it.
    let mut cmd = pier_testkit::docker(&env.d).expect("docker CLI");
    cmd.args(["run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\ndone\n");
    assert_eq!(out.status.code(), Some(0));

    // docker's container events (`--until 0s` is "now" in whole seconds: let one pass).
    std::thread::sleep(Duration::from_millis(1100));
    let r = docker(
        &env.d,
        &[
            "events",
            "--since",
            "0",
            "--until",
            "0s",
            "--filter",
            "type=container",
            "--format",
            "{{.Action}}",
        ],
    );
    let actions: Vec<&str> = r.ok().lines().collect();
    for a in ["create", "attach", "start", "die", "destroy"] {
        assert!(actions.contains(&a), "{a} missing: {actions:?}");
    }

    // A shim killed under a running container: pierd marks it exited with an error and
    // cleans up.
    docker(
        &env.d,
        &["run", "-d", "--name", "orphan", "busybox", "sleep", "100"],
    )
    .ok();
    let mut killed = 0;
    for e in std::fs::read_dir(env.d.exec_root().join("s"))
        .unwrap()
        .flatten()
    {
        let pid: i32 = std::fs::read_to_string(e.path().join("shim.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        killed += 1;
    }
    assert_eq!(killed, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = inspect(&env, "orphan");
        if v["State"]["Running"] == false {
            assert!(!v["State"]["Error"].as_str().unwrap().is_empty(), "{v}");
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    docker(&env.d, &["rm", "orphan"]).ok();
    assert!(pier_testkit::daemon::mounts_under(env.d.dir()).is_empty());
}

#[test]
fn tty_run_and_exec_through_a_pty() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    if pier_testkit::cli::which("script").is_none() {
        println!("SKIP: script (util-linux) not installed");
        return;
    }
    let docker_cmd = |args: &str| {
        let cmd = pier_testkit::docker(&env.d).expect("docker CLI");
        let envs: Vec<String> = cmd
            .get_envs()
            .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_str()?)))
            .collect();
        format!(
            "env {} {} {args}",
            envs.join(" "),
            cmd.get_program().to_string_lossy()
        )
    };
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &docker_cmd("run -t --rm busybox sh -c 'tty; exit 2'"),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("/dev/pts/"), "{text:?}");
    assert_eq!(out.status.code(), Some(2));
    docker(
        &env.d,
        &[
            "run",
            "-d",
            "-t",
            "--name",
            "tt",
            "busybox",
            "sh",
            "-c",
            "echo x; sleep 100",
        ],
    )
    .ok();
    let r = docker(&env.d, &["exec", "-t", "tt", "echo", "hi"]);
    assert_eq!(r.stdout, "hi\r\n", "{r}");
    docker(&env.d, &["rm", "-f", "tt"]).ok();
}

#[test]
fn logs_tail_timestamps_streams_and_follow() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    let r = docker(
        &env.d,
        &[
            "run",
            "--name",
            "lg",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo out$i; echo err$i >&2; done",
        ],
    );
    assert_eq!(r.code, Some(0), "{r}");
    let r = docker(&env.d, &["logs", "lg"]);
    assert_eq!(r.stdout, "out1\nout2\nout3\n");
    assert_eq!(r.stderr, "err1\nerr2\nerr3\n");
    // The two pipes are read independently, so only the total of the tail is fixed.
    let r = docker(&env.d, &["logs", "--tail", "2", "lg"]);
    assert_eq!(
        r.stdout.lines().count() + r.stderr.lines().count(),
        2,
        "{r}"
    );
    let r = docker(&env.d, &["logs", "--tail", "0", "lg"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""), "{r}");
    let r = docker(&env.d, &["logs", "-t", "lg"]);
    let first = r.stdout.lines().next().unwrap().to_string();
    assert!(first.ends_with("Z out1") && first.contains('T'), "{first}");
    let r = docker(&env.d, &["logs", "--until", "2000-01-01T00:00:00Z", "lg"]);
    assert_eq!(r.stdout, "");
    // -f on a running container ends when it exits.
    docker(
        &env.d,
        &[
            "run",
            "-d",
            "--name",
            "fl",
            "busybox",
            "sh",
            "-c",
            "echo a; sleep 1; echo b",
        ],
    )
    .ok();
    let r = docker(&env.d, &["logs", "-f", "fl"]);
    assert_eq!(r.stdout, "a\nb\n", "{r}");
}

#[test]
fn update_resources_and_restart_policy() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    docker(
        &env.d,
        &[
            "run", "-d", "--name", "up", "-m", "32m", "busybox", "sleep", "100",
        ],
    )
    .ok();
    docker(
        &env.d,
        &[
            "update",
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "--restart",
            "on-failure:3",
            "up",
        ],
    )
    .ok();
    let v = inspect(&env, "up");
    assert_eq!(v["HostConfig"]["Memory"], 64 * 1024 * 1024);
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(v["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
    let out = docker(
        &env.d,
        &["stats", "--no-stream", "--format", "{{.MemUsage}}", "up"],
    )
    .ok()
    .to_string();
    assert!(out.trim_end().ends_with("/ 64MiB"), "{out}");
    docker(&env.d, &["rm", "-f", "up"]).ok();
}
