//! Container options beyond the daily loop, with the real docker CLI against pierd: `--init`
//! (our static init at PID 1), `--runtime` (daemon-configured OCI runtime binaries), `rmi` of
//! an image containers use, detach keys, and stats' blkio/network figures.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use pier_e2e::{
    chain_ids, docker, env_with_busybox, env_with_busybox_opts, inspect_container as inspect, pier,
    skip_daemon, skip_docker, skip_pier, snapshot_chains, snapshot_problems, Env, V,
};
use pier_testkit::DaemonOpts;
use serde_json::{json, Value};

#[test]
fn init_is_pid_1_forwards_signals_reaps_and_passes_exit_codes() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    // PID 1 is the init, the command its child.
    let r = docker(
        &env.d,
        &["run", "--rm", "--init", "busybox", "ps", "-o", "pid,args"],
    );
    assert_eq!(r.code, Some(0), "{r}");
    let pid1 = r
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_default();
    assert!(pid1.contains("/sbin/docker-init -- ps"), "{r}");
    // Exit codes pass through; a signal death is 128+N.
    let r = docker(
        &env.d,
        &["run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"],
    );
    assert_eq!(r.code, Some(7), "{r}");
    let r = docker(
        &env.d,
        &[
            "run",
            "--rm",
            "--init",
            "busybox",
            "sh",
            "-c",
            "kill -USR1 $$",
        ],
    );
    assert_eq!(r.code, Some(138), "{r}");
    // A missing binary: the init's own message and 127.
    let r = docker(&env.d, &["run", "--rm", "--init", "busybox", "nonexistent"]);
    assert_eq!(r.code, Some(127), "{r}");
    assert!(r.stderr.contains("exec nonexistent failed"), "{r}");
    // Zombies: an orphan reparented to PID 1 is reaped (without an init, sh as PID 1 would
    // leave it a zombie while it sleeps).
    let r = docker(
        &env.d,
        &[
            "run",
            "--rm",
            "--init",
            "busybox",
            "sh",
            "-c",
            "sh -c 'sleep 0.2 &'; sleep 1; ps -o stat,args",
        ],
    );
    assert_eq!(r.code, Some(0), "{r}");
    assert!(
        !r.stdout.lines().skip(1).any(|l| l.starts_with('Z')),
        "zombie left: {r}"
    );
    // docker stop: SIGTERM reaches `sleep` through the init, which dies of it (143); had it
    // not, the stop would end with SIGKILL (137).
    docker(
        &env.d,
        &[
            "run", "-d", "--init", "--name", "sl", "busybox", "sleep", "1000",
        ],
    )
    .ok();
    let v = inspect(&env, "sl");
    assert_eq!(v["HostConfig"]["Init"], true, "{v}");
    assert_eq!(v["Path"], "sleep", "{v}");
    docker(&env.d, &["stop", "-t", "60", "sl"]).ok();
    let v = inspect(&env, "sl");
    assert_eq!(v["State"]["ExitCode"], 143, "{v}");
    docker(&env.d, &["rm", "sl"]).ok();
    // An interactive shell under the init, through a terminal: input reaches it, its exit
    // code comes back.
    if pier_testkit::cli::which("script").is_none() {
        println!("SKIP: script (util-linux) not installed");
        return;
    }
    let mut child = docker_in_pty(&env, "run -it --rm --init busybox sh");
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    stdin.write_all(b"echo in-$((20+22)); exit 3\n").unwrap();
    let mut status = None;
    for _ in 0..200 {
        if let Some(st) = child.try_wait().unwrap() {
            status = Some(st);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("docker run -it --init sh did not end");
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.contains("in-42"), "{out:?}");
    assert_eq!(status.code(), Some(3), "{out:?}");
}

/// Runs the container loop (output and exit code, detached with logs/exec/stop) on `runtime`,
/// checking the runtime's own state dir under `<exec-root>/runtimes/<name>` while it runs.
fn loop_on_runtime(env: &Env, runtime: &str) {
    let r = docker(
        &env.d,
        &[
            "run",
            "--rm",
            "--runtime",
            runtime,
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    assert_eq!((r.code, r.stdout.as_str()), (Some(3), "out\n"), "{r}");
    assert_eq!(r.stderr, "err\n", "{r}");
    let name = format!("on-{runtime}");
    let id = docker(
        &env.d,
        &[
            "run",
            "-d",
            "--runtime",
            runtime,
            "--name",
            &name,
            "busybox",
            "sh",
            "-c",
            "trap 'exit 5' TERM; echo started; while :; do sleep 0.1; done",
        ],
    )
    .ok()
    .trim()
    .to_string();
    let v = inspect(env, &name);
    assert_eq!(v["HostConfig"]["Runtime"], runtime, "{v}");
    assert_eq!(v["State"]["Running"], true, "{v}");
    let state = env.d.exec_root().join("runtimes").join(runtime).join(&id);
    assert!(
        state.is_dir(),
        "{} missing: not run by {runtime}",
        state.display()
    );
    let r = docker(&env.d, &["exec", &name, "sh", "-c", "echo in; exit 4"]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(4), "in\n"), "{r}");
    // The stop signal reaches the trap (a SIGKILL after the timeout would give 137).
    docker(&env.d, &["stop", "-t", "30", &name]).ok();
    let v = inspect(env, &name);
    assert_eq!(v["State"]["ExitCode"], 5, "{v}");
    assert_eq!(docker(&env.d, &["logs", &name]).ok(), "started\n");
    docker(&env.d, &["rm", &name]).ok();
    assert!(!state.exists(), "{} left behind", state.display());
}

#[test]
fn runtimes_from_daemon_json() {
    if skip_docker() || skip_daemon() {
        return;
    }
    let runc = pier_testkit::cli::which("runc");
    let dir = tempfile::tempdir().unwrap();
    let pier_runc = pier_testkit::daemon::bin_dir().join("pier-runc");
    let mut runtimes = serde_json::json!({
        "pierrunc": {"path": pier_runc},
    });
    match &runc {
        Some(p) => {
            runtimes["deb-runc"] = serde_json::json!({"path": p, "runtimeArgs": ["--debug"]})
        }
        None => {
            println!("SKIP: runc not installed; only pier-runc is tested as an external runtime")
        }
    }
    let file = dir.path().join("daemon.json");
    std::fs::write(
        &file,
        serde_json::json!({ "runtimes": runtimes }).to_string(),
    )
    .unwrap();
    let Some(env) = env_with_busybox_opts(
        DaemonOpts::default()
            .arg("--config-file")
            .arg(file.display().to_string()),
    ) else {
        return;
    };
    let info: Value =
        serde_json::from_str(docker(&env.d, &["info", "--format", "{{json .Runtimes}}"]).ok())
            .unwrap();
    assert_eq!(
        info["pierrunc"]["path"],
        pier_runc.display().to_string(),
        "{info}"
    );
    assert!(info["runc"].is_object(), "{info}");
    loop_on_runtime(&env, "pierrunc");
    if runc.is_some() {
        assert_eq!(info["deb-runc"]["runtimeArgs"][0], "--debug", "{info}");
        loop_on_runtime(&env, "deb-runc");
    }
    // The built-in one by its stock name, and an unknown name: docker's 400, nothing created.
    let r = docker(
        &env.d,
        &["run", "--rm", "--runtime", "runc", "busybox", "true"],
    );
    assert_eq!(r.code, Some(0), "{r}");
    let r = docker(
        &env.d,
        &["run", "--rm", "--runtime", "nope", "busybox", "true"],
    );
    assert_eq!(r.code, Some(125), "{r}");
    assert!(
        r.stderr
            .contains("Error response from daemon: unknown or invalid runtime name: nope"),
        "{r}"
    );
    assert_eq!(docker(&env.d, &["ps", "-aq"]).ok(), "");
}

#[test]
fn rmi_of_an_image_containers_use() {
    let Some(mut env) = env_with_busybox() else {
        return;
    };
    let short = |id: &str| id.trim_start_matches("sha256:")[..12].to_string();
    // The subject: busybox plus one layer of its own, named `two` and by its registry reference;
    // its bottom layer is busybox's, which stays tagged throughout.
    let fixture = pier_testkit::fixtures::schema2(&env.reg);
    docker(&env.d, &["pull", &fixture.reference()]).ok();
    docker(&env.d, &["tag", &fixture.reference(), "two"]).ok();
    let cid = docker(
        &env.d,
        &["create", "--name", "stopped", "two", "cat", "/etc/fixture"],
    )
    .ok()
    .trim()
    .to_string();
    docker(&env.d, &["create", "--name", "pruned", "two", "true"]).ok();
    let img = inspect(&env, "stopped")["Image"]
        .as_str()
        .unwrap()
        .to_string();
    let diff_ids: Vec<String> = serde_json::from_str(
        docker(
            &env.d,
            &[
                "image",
                "inspect",
                "two",
                "--format",
                "{{json .RootFS.Layers}}",
            ],
        )
        .ok(),
    )
    .unwrap();
    let chains = chain_ids(&diff_ids);
    assert_eq!(chains.len(), 2);
    let busybox_id = docker(&env.d, &["image", "inspect", "busybox", "-f", "{{.Id}}"])
        .ok()
        .trim()
        .to_string();
    let reference = docker(&env.d, &["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok()
        .lines()
        .find(|l| l.contains("schema2"))
        .unwrap()
        .to_string();
    // Another name remains: only an untag.
    let r = docker(&env.d, &["rmi", "two"]);
    assert_eq!(r.stdout, "Untagged: two:latest\n", "{r}");
    // The last name of an image a container uses.
    let r = docker(&env.d, &["rmi", &reference]);
    assert_eq!(r.code, Some(1), "{r}");
    assert_eq!(
        r.stderr.trim(),
        format!(
            "Error response from daemon: conflict: unable to remove repository reference \"{reference}\" (must force) - container {} is using its referenced image {}",
            short(&cid),
            short(&img)
        )
    );
    // By ID: a stopped container is a soft conflict.
    let r = docker(&env.d, &["rmi", &short(&img)]);
    assert_eq!(
        r.stderr.trim(),
        format!(
            "Error response from daemon: conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
            short(&img),
            short(&cid)
        ),
        "{r}"
    );
    // A running container: cannot be forced.
    let rid = docker(
        &env.d,
        &[
            "run", "-d", "--name", "running", &reference, "sleep", "1000",
        ],
    )
    .ok()
    .trim()
    .to_string();
    let r = docker(&env.d, &["rmi", "-f", &short(&img)]);
    assert_eq!(
        r.stderr.trim(),
        format!(
            "Error response from daemon: conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
            short(&img),
            short(&rid)
        ),
        "{r}"
    );
    assert!(docker(&env.d, &["image", "inspect", &reference]).success());
    docker(&env.d, &["rm", "-f", "running"]).ok();
    // Forced past the stopped ones: untagged and deleted, but the layers they stand on stay.
    let before = snapshot_chains(&env.d);
    assert!(chains.iter().all(|c| before.contains(c)), "{before:?}");
    let r = docker(&env.d, &["rmi", "-f", &reference]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(
        r.stdout.starts_with(&format!("Untagged: {reference}\n"))
            && r.stdout.ends_with(&format!("Deleted: {img}\n")),
        "{r}"
    );
    assert!(chains.iter().all(|c| !r.stdout.contains(c.as_str())), "{r}");
    let left = docker(&env.d, &["images", "-q"]).ok().to_string();
    assert!(
        !left.is_empty() && left.lines().all(|l| l == short(&busybox_id)),
        "{left}"
    );
    assert_eq!(snapshot_chains(&env.d), before);
    // A restart's clean-up of unused layers counts the containers' too.
    env.d.restart();
    assert_eq!(snapshot_chains(&env.d), before);
    // The container still starts, runs its image's files, and keeps the old image ID.
    let r = docker(&env.d, &["start", "-a", "stopped"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "pier fixture\n"),
        "{r}"
    );
    assert_eq!(inspect(&env, "stopped")["Image"], json!(img));
    assert_eq!(inspect(&env, "stopped")["State"]["ExitCode"], json!(0));
    // Removing one user keeps the layers for the other; the last (by prune) frees the
    // image's own layer, and only it: busybox's layer below is still busybox's.
    docker(&env.d, &["rm", "stopped"]).ok();
    assert_eq!(snapshot_chains(&env.d), before);
    docker(&env.d, &["container", "prune", "-f"]).ok();
    let mut expected = before.clone();
    expected.remove(&chains[1]);
    assert_eq!(snapshot_chains(&env.d), expected);
    assert!(snapshot_problems(&env.d).is_empty());
    let r = docker(&env.d, &["run", "--rm", "busybox", "echo", "ok"]);
    assert_eq!(r.stdout, "ok\n", "{r}");
    assert_eq!(snapshot_chains(&env.d), expected);
}

/// `docker ARGS` run by `script` in a pty, its stdin and stdout piped to the test.
fn docker_in_pty(env: &Env, args: &str) -> std::process::Child {
    let cmd = pier_testkit::docker(&env.d).expect("docker CLI");
    let envs: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_str()?)))
        .collect();
    let line = format!(
        "env {} {} {args}",
        envs.join(" "),
        cmd.get_program().to_string_lossy()
    );
    Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A hijacked `POST path` on the daemon's socket, past its `101` answer.
fn hijack(env: &Env, path: &str) -> UnixStream {
    let mut s = UnixStream::connect(env.d.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: pier\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut b).unwrap(),
            1,
            "connection closed in the headers"
        );
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    s
}

/// Reads until `needle` appears (panics at EOF or after the read timeout).
fn read_until(s: &mut UnixStream, needle: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(needle) {
        let n = s.read(&mut buf).unwrap_or_else(|e| {
            panic!(
                "waiting for {needle:?}: {e}; got {:?}",
                String::from_utf8_lossy(&got)
            )
        });
        assert_ne!(
            n,
            0,
            "EOF before {needle:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Types `keys` one keystroke at a time, then expects the daemon to end the attach.
fn type_keys_and_expect_eof(s: &mut UnixStream, keys: &[u8]) {
    for k in keys {
        s.write_all(&[*k]).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) => panic!("the attach did not end after the detach keys: {e}"),
        }
    }
}

#[test]
fn detach_keys_on_the_daemon_side_and_through_a_pty() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    docker(&env.d, &["run", "-dit", "--name", "dk", "busybox", "sh"]).ok();
    // Custom keys: the attach ends, the shell keeps running with its input open.
    let mut s = hijack(
        &env,
        &format!("{V}/containers/dk/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-a,x"),
    );
    s.write_all(b"echo one-$((1+2))\n").unwrap();
    read_until(&mut s, "one-3");
    type_keys_and_expect_eof(&mut s, &[1, b'x']);
    assert_eq!(inspect(&env, "dk")["State"]["Running"], true);
    // The default ctrl-p ctrl-q; a key not followed by the rest of the sequence is passed on.
    let mut s = hijack(
        &env,
        &format!("{V}/containers/dk/attach?stream=1&stdin=1&stdout=1&stderr=1"),
    );
    s.write_all(b"echo two-$((2+2))\n").unwrap();
    read_until(&mut s, "two-4");
    type_keys_and_expect_eof(&mut s, &[0x10, 0x11]);
    assert_eq!(inspect(&env, "dk")["State"]["Running"], true);
    // Bad keys: dockerd's 400.
    let r = env.d.api(
        "POST",
        &format!("{V}/containers/dk/attach?stream=1&stdin=1&detachKeys=ctrl-foo"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "Invalid detach keys (ctrl-foo) provided"
    );
    // exec -it with DetachKeys.
    let r = env.d.api(
        "POST",
        &format!("{V}/containers/dk/exec"),
        Some(
            json!({"AttachStdin": true, "AttachStdout": true, "Tty": true, "DetachKeys": "ctrl-b,y", "Cmd": ["sh"]})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let eid = r.json()["Id"].as_str().unwrap().to_string();
    let mut s = UnixStream::connect(env.d.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = r#"{"Detach":false,"Tty":true}"#;
    write!(
        s,
        "POST {V}/exec/{eid}/start HTTP/1.1\r\nHost: pier\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_until(&mut s, "HTTP/1.1 101");
    s.write_all(b"echo three-$((3+3))\n").unwrap();
    read_until(&mut s, "three-6");
    type_keys_and_expect_eof(&mut s, &[2, b'y']);
    let r = env.d.api("GET", &format!("{V}/exec/{eid}/json"), None);
    assert_eq!(r.json()["Running"], true, "{}", r.text());

    // The docker CLI in a terminal: `docker attach --detach-keys ctrl-a,x`.
    if pier_testkit::cli::which("script").is_none() {
        println!("SKIP: script (util-linux) not installed");
        return;
    }
    let mut child = docker_in_pty(&env, "attach --detach-keys ctrl-a,x dk");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    stdin.write_all(b"echo four-$((2+2+4))\n").unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("four-8") {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(b) => seen.extend(b),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no echo through the pty: {:?}",
                    String::from_utf8_lossy(&seen)
                );
            }
        }
    }
    for k in [1u8, b'x'] {
        stdin.write_all(&[k]).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    let mut status = None;
    for _ in 0..200 {
        if let Some(st) = child.try_wait().unwrap() {
            status = Some(st);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("docker attach did not detach");
    };
    // The CLI reports the detach its own way (as against dockerd); the container runs on.
    while let Ok(b) = rx.recv_timeout(Duration::from_secs(2)) {
        seen.extend(b);
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("read escape sequence"), "{status}: {text:?}");
    assert_eq!(inspect(&env, "dk")["State"]["Running"], true);
    docker(&env.d, &["rm", "-f", "dk"]).ok();
}

/// "MAJ:MIN" of the whole disk holding `p` (None when it is not on a block device).
fn disk_of(p: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(p).ok()?.dev();
    let (maj, min) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let sys = Path::new("/sys/dev/block").join(format!("{maj}:{min}"));
    if !sys.exists() {
        return None;
    }
    if sys.join("partition").exists() {
        return std::fs::read_to_string(sys.join("../dev"))
            .ok()
            .map(|s| s.trim().to_string());
    }
    Some(format!("{maj}:{min}"))
}

fn stats_once(env: &Env, name: &str) -> Value {
    let r = env.d.api(
        "GET",
        &format!("{V}/containers/{name}/stats?stream=false"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[test]
fn stats_block_io_and_network() {
    let Some(env) = env_with_busybox() else {
        return;
    };
    docker(
        &env.d,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "st",
            "busybox",
            "sleep",
            "1000",
        ],
    )
    .ok();
    let id = inspect(&env, "st")["Id"].as_str().unwrap().to_string();
    // cgroup v1 counts a container's block I/O only once its blkio group has a throttle rule
    // (the kernel creates the group's counters then): give it a rule that never throttles,
    // on the disk under the data root. cgroup v2's io.stat always counts.
    let blkio = Path::new("/sys/fs/cgroup/blkio")
        .join(env.d.cgroup_parent().trim_matches('/'))
        .join(&id);
    if blkio.is_dir() {
        let Some(disk) = disk_of(&env.d.data_root()) else {
            println!("SKIP: the data root is not on a block device: no block I/O to count");
            return;
        };
        std::fs::write(
            blkio.join("blkio.throttle.write_bps_device"),
            format!("{disk} 100000000000"),
        )
        .unwrap();
    }
    docker(
        &env.d,
        &[
            "exec",
            "st",
            "dd",
            "if=/dev/zero",
            "of=/big",
            "bs=1M",
            "count=8",
            "oflag=direct",
            "conv=fsync",
        ],
    )
    .ok();
    // The writes reach the disk from the container's own process (O_DIRECT: no page cache the
    // kernel's flusher could write back first — v1 charges writeback to the root group, which
    // made this flaky while a build kept the flusher busy): charged to its cgroup.
    let written = |v: &Value| -> u64 {
        v["blkio_stats"]["io_service_bytes_recursive"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| {
                        e["op"]
                            .as_str()
                            .is_some_and(|o| o.eq_ignore_ascii_case("write"))
                    })
                    .filter_map(|e| e["value"].as_u64())
                    .sum()
            })
            .unwrap_or(0)
    };
    let v = stats_once(&env, "st");
    assert!(written(&v) >= 8 << 20, "{}", v["blkio_stats"]);
    let r = docker(
        &env.d,
        &["stats", "--no-stream", "--format", "{{.BlockIO}}", "st"],
    );
    assert!(!r.ok().trim().ends_with("/ 0B"), "{r}");
    // `--network none`, loopback only: no `networks`, as dockerd.
    assert!(v.get("networks").is_none(), "{v}");
    let (Some(nsenter), Some(ip)) = (
        pier_testkit::cli::which("nsenter"),
        pier_testkit::cli::which("ip"),
    ) else {
        println!("SKIP: nsenter or ip not installed: network stats not tested");
        return;
    };
    // A veth pair of our own, both ends inside the container's netns (it goes with the
    // container); the ping's ARP requests leave through eth0 into its peer.
    let pid = inspect(&env, "st")["State"]["Pid"]
        .as_i64()
        .unwrap()
        .to_string();
    for args in [
        vec![
            "link", "add", "eth0", "type", "veth", "peer", "name", "peer0",
        ],
        vec!["addr", "add", "10.213.250.1/24", "dev", "eth0"],
        vec!["link", "set", "peer0", "up"],
        vec!["link", "set", "eth0", "up"],
    ] {
        let st = Command::new(&nsenter)
            .args(["-t", &pid, "-n"])
            .arg(&ip)
            .args(&args)
            .status()
            .unwrap();
        assert!(st.success(), "ip {args:?}");
    }
    docker(
        &env.d,
        &["exec", "st", "ping", "-c", "3", "-W", "1", "10.213.250.2"],
    );
    let v = stats_once(&env, "st");
    let eth0 = &v["networks"]["eth0"];
    assert!(eth0["tx_packets"].as_u64().unwrap_or(0) >= 1, "{v}");
    assert!(eth0["tx_bytes"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(
        v["networks"]["peer0"]["rx_packets"].as_u64().unwrap_or(0) >= 1,
        "{v}"
    );
    assert!(v["networks"].get("lo").is_none(), "{v}");
    let r = docker(
        &env.d,
        &["stats", "--no-stream", "--format", "{{.NetIO}}", "st"],
    );
    assert!(!r.ok().trim().ends_with("/ 0B"), "{r}");
    docker(&env.d, &["rm", "-f", "st"]).ok();
    // On the default bridge network: its eth0.
    docker(
        &env.d,
        &["run", "-d", "--name", "br", "busybox", "sleep", "1000"],
    )
    .ok();
    let v = stats_once(&env, "br");
    assert!(v["networks"]["eth0"]["rx_bytes"].is_u64(), "{v}");
    docker(&env.d, &["rm", "-f", "br"]).ok();
}

#[test]
fn pier_cli_init_runtime_and_rmi_conflict() {
    if skip_pier() {
        return;
    }
    let Some(env) = env_with_busybox_opts(DaemonOpts::default().arg("--add-runtime").arg(format!(
        "pierrunc={}",
        pier_testkit::daemon::bin_dir().join("pier-runc").display()
    ))) else {
        return;
    };
    let r = pier(
        &env.d,
        &["run", "--rm", "--init", "busybox", "ps", "-o", "pid,args"],
    );
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains("1 /sbin/docker-init -- ps"), "{r}");
    let r = pier(
        &env.d,
        &[
            "run",
            "--rm",
            "--runtime",
            "pierrunc",
            "busybox",
            "sh",
            "-c",
            "exit 6",
        ],
    );
    assert_eq!(r.code, Some(6), "{r}");
    let r = pier(
        &env.d,
        &["run", "--rm", "--runtime", "nope", "busybox", "true"],
    );
    assert_eq!(r.code, Some(125), "{r}");
    assert!(
        r.stderr.contains("unknown or invalid runtime name: nope"),
        "{r}"
    );
    // The same conflict text as docker's CLI shows (from the daemon).
    pier(&env.d, &["create", "--name", "cc", "busybox", "true"]).ok();
    let img = inspect(&env, "cc")["Image"].as_str().unwrap().to_string();
    // With two names the first conflict is the names (dockerd's order); with one, the container.
    let r = pier(&env.d, &["rmi", &img[7..19]]);
    assert!(
        r.stderr
            .contains("image is referenced in multiple repositories"),
        "{r}"
    );
    pier(&env.d, &["rmi", "busybox"]).ok();
    let r = pier(&env.d, &["rmi", &img[7..19]]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(
        r.stderr
            .contains("(must be forced) - image is being used by stopped container"),
        "{r}"
    );
}
