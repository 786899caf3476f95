//! Container options beyond the daily loop, with the real docker CLI against pierd: `--init`
//! (our static init at PID 1), `--runtime` (daemon-configured OCI runtime binaries), `rmi` of
//! an image containers use, detach keys, and stats' blkio/network figures.

use pier_e2e::{docker, env_with_busybox, inspect_container as inspect};

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
