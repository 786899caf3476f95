//! Container options beyond the daily loop, with the real docker CLI against pierd: `--init`
//! (our static init at PID 1), `--runtime` (daemon-configured OCI runtime binaries), `rmi` of
//! an image containers use, detach keys, and stats' blkio/network figures.

use pier_e2e::{
    docker, env_with_busybox, env_with_busybox_opts, inspect_container as inspect, skip_daemon,
    skip_docker, Env,
};
use pier_testkit::DaemonOpts;
use serde_json::Value;

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
    let Some(env) = env_with_busybox() else {
        return;
    };
    let short = |id: &str| id.trim_start_matches("sha256:")[..12].to_string();
    let cid = docker(&env.d, &["create", "--name", "stopped", "busybox", "true"])
        .ok()
        .trim()
        .to_string();
    let img = inspect(&env, "stopped")["Image"]
        .as_str()
        .unwrap()
        .to_string();
    let reference = docker(&env.d, &["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok()
        .lines()
        .find(|l| !l.starts_with("busybox:"))
        .unwrap()
        .to_string();
    // Another name remains: only an untag.
    let r = docker(&env.d, &["rmi", "busybox"]);
    assert_eq!(r.stdout, "Untagged: busybox:latest\n", "{r}");
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
    // Forced past the stopped one: untagged and deleted.
    let r = docker(&env.d, &["rmi", "-f", &reference]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(
        r.stdout.starts_with(&format!("Untagged: {reference}\n")),
        "{r}"
    );
    assert!(r.stdout.contains(&format!("Deleted: {img}\n")), "{r}");
    assert_eq!(docker(&env.d, &["images", "-q"]).ok(), "");
    let r = docker(&env.d, &["start", "stopped"]);
    assert_ne!(r.code, Some(0), "{r}");
    assert!(r.stderr.contains("was removed"), "{r}");
    docker(&env.d, &["rm", "stopped"]).ok();
}
