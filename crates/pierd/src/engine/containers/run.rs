//! The run path: start (rootfs overlay, container files, config.json, pier-shim), the monitor
//! that waits on the shim and records the exit (then cleans up, applies the restart policy and
//! AutoRemove), stop/kill/restart/pause/unpause, wait, attach (including attaches made before
//! the start, as `docker run` does), remove, and recovery of running containers after a pierd
//! restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use super::{now_rfc3339, spec, Ctr, Record, State};
use crate::engine::{blocking, Engine, EngineError, Result};

/// An attach waiting for the container's shim: the start hands it the shim socket and waits
/// for the acknowledgement that the attach op was accepted.
pub type PendingAttach = oneshot::Sender<(PathBuf, oneshot::Sender<()>)>;

/// One request to a shim, its one-line JSON reply, and the connection (for streams).
pub async fn shim_call(sock: &Path, req: &Value) -> Result<(Value, UnixStream)> {
    let mut s = UnixStream::connect(sock)
        .await
        .map_err(|e| EngineError::system(&format!("connect to shim {}", sock.display()), e))?;
    let mut line = serde_json::to_vec(req).expect("json");
    line.push(b'\n');
    s.write_all(&line)
        .await
        .map_err(|e| EngineError::system("write to shim", e))?;
    // Read exactly one line (byte by byte: what follows is the raw stream).
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    loop {
        let n = s
            .read(&mut b)
            .await
            .map_err(|e| EngineError::system("read from shim", e))?;
        if n == 0 || b[0] == b'\n' {
            break;
        }
        buf.push(b[0]);
    }
    let v: Value = serde_json::from_slice(&buf).map_err(|e| {
        EngineError::System(format!(
            "shim reply {:?}: {e}",
            String::from_utf8_lossy(&buf)
        ))
    })?;
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        return Err(EngineError::System(e.to_string()));
    }
    Ok((v, s))
}

fn shim_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("pier-shim")))
        .unwrap_or_else(|| PathBuf::from("pier-shim"))
}

/// What to execute for a shim: the shim binary through a detached read-only mount of it, made
/// once. The shim forks containers, so it must not run from a writable file (CVE-2019-5736);
/// started from this view it is protected from its first instruction and skips re-executing
/// itself (~1.5 ms per container). Where the kernel refuses the mount, the plain path (the shim
/// then protects itself).
fn shim_command() -> std::process::Command {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    static VIEW: std::sync::OnceLock<Option<std::os::fd::OwnedFd>> = std::sync::OnceLock::new();
    let bin = shim_bin();
    match VIEW.get_or_init(|| pier_runtime::exeseal::read_only_view(&bin).ok()) {
        Some(fd) => {
            // The path resolves in the child before exec closes the (close-on-exec) fd.
            let mut cmd = std::process::Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            cmd.arg0(&bin);
            cmd
        }
        None => std::process::Command::new(bin),
    }
}

fn sys(ctx: &str) -> impl Fn(std::io::Error) -> EngineError + '_ {
    move |e| EngineError::system(ctx, e)
}

impl Engine {
    pub(crate) fn shim_sock(&self, id: &str) -> PathBuf {
        self.state_dir(id).join("shim.sock")
    }

    /// The shim's state dir: short (`<exec-root>/s/<16 hex>`) so its socket path fits a
    /// sockaddr_un.
    pub(crate) fn state_dir(&self, id: &str) -> PathBuf {
        self.opts.exec_root.join("s").join(&id[..16.min(id.len())])
    }

    fn rootfs(&self, id: &str) -> PathBuf {
        self.container_run_dir(id).join("bundle/rootfs")
    }

    /// Mounts the overlay and writes the bundle; blocking.
    fn prepare(&self, rec: &Record) -> Result<()> {
        let id = &rec.id;
        // The layers recorded at create time: they outlive a forced rmi of the image.
        let mut layers = Vec::new();
        for (chain, _) in self.store.container_layers(id)? {
            let chain: pier_image::Digest = chain
                .parse()
                .map_err(|e| EngineError::system("stored chain id", e))?;
            if !self.snapshots.has_layer(&chain) {
                return Err(EngineError::System(format!(
                    "layer {chain} of the container's image {} is missing from the data root",
                    rec.image
                )));
            }
            layers.push(chain);
        }
        if layers.is_empty() && self.store.image(&rec.image)?.is_none() {
            // No layers recorded (the image went away while the container was being created,
            // or before this store recorded containers' layers) and no image to take them from.
            return Err(EngineError::System(format!(
                "the container's image {} was removed (docker rmi -f); pier cannot start it",
                rec.image
            )));
        }
        let dir = self.container_dir(id);
        let run = self.container_run_dir(id);
        let rootfs = self.rootfs(id);
        for d in [dir.join("upper"), dir.join("work"), rootfs.clone()] {
            std::fs::create_dir_all(&d).map_err(sys("create container dirs"))?;
        }
        let _ = std::fs::remove_dir_all(self.state_dir(id));
        let mut lower: Vec<String> = layers
            .iter()
            .rev()
            .map(|d| self.snapshots.layer_dir(d).display().to_string())
            .collect();
        if lower.is_empty() {
            let empty = dir.join("empty");
            std::fs::create_dir_all(&empty).map_err(sys("create empty layer"))?;
            lower.push(empty.display().to_string());
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.join(":"),
            dir.join("upper").display(),
            dir.join("work").display()
        );
        if !is_mounted(&rootfs) {
            let mount = |opts: &str| {
                nix::mount::mount(
                    Some("overlay"),
                    &rootfs,
                    Some("overlay"),
                    nix::mount::MsFlags::empty(),
                    Some(opts),
                )
            };
            // Unmounting an overlay syncs its whole upper filesystem (2-40 ms on the host's
            // root fs, on every container exit). A `--rm` container's upper layer is deleted
            // when it exits, so it is mounted `volatile` (Linux 5.10+): no sync, and after a
            // host crash — the one case volatile loses writes — it is removed anyway. As
            // podman does for --rm. Kept containers keep the durable mount.
            let auto_remove = rec.host_config["AutoRemove"].as_bool().unwrap_or(false);
            let mounted = match auto_remove {
                true => mount(&format!("{opts},volatile")).or_else(|e| match e {
                    // an older kernel without the option
                    nix::errno::Errno::EINVAL => mount(&opts),
                    e => Err(e),
                }),
                false => mount(&opts),
            };
            mounted
                .map_err(|e| EngineError::system("mount the container's rootfs (overlay)", e))?;
        }
        let result = (|| {
            let cfg = &rec.config;
            let hostname = cfg["Hostname"].as_str().unwrap_or("").to_string();
            let host_net = rec.host_config["NetworkMode"].as_str() == Some("host");
            let hn = if host_net {
                nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or(hostname.clone())
            } else {
                hostname.clone()
            };
            std::fs::write(dir.join("hostname"), format!("{hn}\n"))
                .map_err(sys("write hostname"))?;
            let net_files = self.net_files(rec, &hn);
            let hosts = if let Some((h, _)) = &net_files {
                h.clone()
            } else if host_net {
                std::fs::read_to_string("/etc/hosts").unwrap_or_default()
            } else {
                format!(
                    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t{hn}\n"
                )
            };
            std::fs::write(dir.join("hosts"), hosts).map_err(sys("write hosts"))?;
            let resolv = match net_files {
                Some((_, r)) => r,
                None => std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            };
            std::fs::write(dir.join("resolv.conf"), resolv).map_err(sys("write resolv.conf"))?;
            // WorkingDir is created when missing, as docker does.
            if let Some(w) = cfg["WorkingDir"]
                .as_str()
                .filter(|w| !w.is_empty() && *w != "/")
            {
                let _ = std::fs::create_dir_all(rootfs.join(w.trim_start_matches('/')));
            }
            let mut spec = spec::build(
                rec,
                &spec::SpecInput {
                    rootfs: &rootfs,
                    container_dir: &dir,
                    cgroup_parent: &self.opts.cgroup_parent,
                    init: &self.init_path(),
                },
            )?;
            self.net_spec(rec, &mut spec)?;
            std::fs::write(
                run.join("bundle/config.json"),
                serde_json::to_vec(&spec).expect("json"),
            )
            .map_err(sys("write config.json"))?;
            Ok(())
        })();
        if result.is_err() {
            self.cleanup_run(id);
        }
        result
    }

    /// Unmounts the container's rootfs if it is mounted; blocking.
    fn unmount_rootfs(&self, id: &str) {
        let rootfs = self.rootfs(id);
        if is_mounted(&rootfs) {
            if let Err(e) = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH) {
                tracing::warn!(%id, error = %e, "unmount rootfs");
            }
        }
    }

    /// Unmounts the rootfs and removes the run dir (keeps the state dir's exit.json out of
    /// the way); blocking.
    pub(crate) fn cleanup_run(&self, id: &str) {
        self.unmount_rootfs(id);
        let _ = std::fs::remove_dir_all(self.container_run_dir(id));
        let _ = std::fs::remove_dir_all(self.state_dir(id));
        // The container's cgroup, left if the runtime could not remove it.
        let rel = format!("{}/{}", self.opts.cgroup_parent.trim_matches('/'), id);
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&rel));
            for e in rd.flatten() {
                let _ = std::fs::remove_dir(e.path().join(&rel));
            }
        }
    }

    /// `POST /containers/{id}/start`.
    pub async fn start_container(self: &Arc<Self>, name: &str) -> Result<()> {
        let c = self.container(name)?;
        let _op = c.op.lock().await;
        {
            let rec = c.rec();
            if rec.state.running {
                return Err(EngineError::NotModified);
            }
            if rec.state.dead {
                return Err(EngineError::Conflict(format!(
                    "container {} is marked for removal and cannot be started",
                    rec.id
                )));
            }
        }
        self.start_locked(&c).await
    }

    /// Records a start that failed before the process ran (`msg`, exit `code`), wakes the
    /// waiters and removes an AutoRemove container in the background.
    fn start_failed(self: &Arc<Self>, c: &Arc<Ctr>, rec: &Record, msg: &str, code: i64) {
        {
            let mut r = c.rec();
            r.state.error = msg.to_string();
            r.state.exit_code = code;
            if r.has_been_started {
                r.state.status = "exited".into();
            }
            let _ = self.save(&r);
        }
        c.notice.send_modify(|n| {
            n.exits += 1;
            n.exit_code = code;
            n.error = None;
        });
        if rec.host_config["AutoRemove"].as_bool().unwrap_or(false) {
            let e = self.clone();
            let c2 = c.clone();
            tokio::spawn(async move {
                let _ = e.remove_ctr(&c2, true).await;
            });
        }
    }

    async fn start_locked(self: &Arc<Self>, c: &Arc<Ctr>) -> Result<()> {
        let rec = c.snapshot();
        let id = rec.id.clone();
        if let Err(err) = self.net_prepare(&rec).await {
            // docker's failed start: the error and exit code 128 recorded, waiters told, an
            // AutoRemove container removed (`run --rm` waits for that before it exits).
            self.start_failed(c, &rec, &err.to_string(), 128);
            return Err(err);
        }
        let e = self.clone();
        let r2 = rec.clone();
        let handshake = blocking(move || {
            e.prepare(&r2)?;
            let hs = e.spawn_shim(&r2);
            if hs.is_err() {
                e.cleanup_run(&r2.id);
            }
            hs
        })
        .await;
        let handshake = match handshake {
            Ok(pid) => match self.net_attach(&rec, pid).await {
                Ok(()) => Ok(pid),
                Err(err) => {
                    let sock = self.shim_sock(&id);
                    let _ =
                        shim_call(&sock, &json!({"op": "kill", "signal": 9, "all": true})).await;
                    let _ = shim_call(&sock, &json!({"op": "delete"})).await;
                    let e = self.clone();
                    let id2 = id.clone();
                    let _ = blocking(move || {
                        e.cleanup_run(&id2);
                        Ok(())
                    })
                    .await;
                    Err(err)
                }
            },
            Err(err) => Err(err),
        };
        let init_pid = match handshake {
            Ok(pid) => pid,
            Err(err) => {
                self.net_release(&id).await;
                let text = err.to_string();
                let detail = match text.find("exec: ") {
                    Some(i) => format!(
                        "runc create failed: unable to start container process: error during container init: {}",
                        &text[i..]
                    ),
                    None => text,
                };
                let msg = format!(
                    "failed to create task for container: failed to create shim task: OCI runtime create failed: {detail}: unknown"
                );
                let code = if msg.contains("executable file not found")
                    || msg.contains("no such file or directory")
                {
                    127
                } else if msg.contains("permission denied") {
                    126
                } else {
                    128
                };
                self.start_failed(c, &rec, &msg, code);
                return Err(EngineError::StartFailed(msg));
            }
        };
        let sock = self.shim_sock(&id);
        // Connect the attaches made before the start.
        let pending: Vec<PendingAttach> =
            std::mem::take(&mut *c.pending_attach.lock().unwrap_or_else(|p| p.into_inner()));
        for p in pending {
            let (ack_tx, ack_rx) = oneshot::channel();
            if p.send((sock.clone(), ack_tx)).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(5), ack_rx).await;
            }
        }
        if let Err(err) = shim_call(&sock, &json!({"op": "start"})).await {
            self.net_release(&id).await;
            let _ = shim_call(&sock, &json!({"op": "kill", "signal": 9, "all": true})).await;
            let _ = shim_call(&sock, &json!({"op": "delete"})).await;
            let e = self.clone();
            let id2 = id.clone();
            let _ = blocking(move || {
                e.cleanup_run(&id2);
                Ok(())
            })
            .await;
            let msg = format!("failed to start container: {err}");
            {
                let mut r = c.rec();
                r.state.error = msg.clone();
                let _ = self.save(&r);
            }
            return Err(EngineError::StartFailed(msg));
        }
        {
            let mut r = c.rec();
            r.state = State {
                status: "running".into(),
                running: true,
                pid: init_pid,
                started_at: now_rfc3339(),
                ..State::default()
            };
            r.has_been_started = true;
            r.manually_stopped = false;
            self.save(&r)?;
            self.container_event(&r, "start", &[]);
        }
        c.notice.send_modify(|n| n.starts += 1);
        self.spawn_monitor(c.clone());
        Ok(())
    }

    /// Runs pier-shim for `rec` and returns the init's PID; blocking.
    fn spawn_shim(&self, rec: &Record) -> Result<i64> {
        let id = &rec.id;
        let run = self.container_run_dir(id);
        let tty = rec.config["Tty"].as_bool().unwrap_or(false);
        let stdin = rec.config["OpenStdin"].as_bool().unwrap_or(false);
        let stdin_once = rec.config["StdinOnce"].as_bool().unwrap_or(false);
        let runtime = self.oci_runtime(rec.host_config["Runtime"].as_str().unwrap_or(""))?;
        let mut cmd = shim_command();
        cmd.arg("--id")
            .arg(id)
            .arg("--bundle")
            .arg(run.join("bundle"))
            .arg("--runtime-root")
            .arg(match runtime {
                // Each external runtime keeps its state under a root of its own.
                Some(_) => self
                    .opts
                    .exec_root
                    .join("runtimes")
                    .join(rec.host_config["Runtime"].as_str().unwrap_or("")),
                None => self.runtime_root(),
            })
            .arg("--state-dir")
            .arg(self.state_dir(id))
            .arg("--log-path")
            .arg(self.log_path(id));
        if let Some(rt) = runtime {
            cmd.arg("--runtime").arg(&rt.path);
            for a in &rt.args {
                cmd.arg(format!("--runtime-arg={a}"));
            }
        }
        if tty {
            cmd.arg("--tty");
        }
        if stdin {
            cmd.arg("--stdin");
        }
        if stdin_once {
            cmd.arg("--stdin-once");
        }
        let lc = &rec.host_config["LogConfig"]["Config"];
        if let Some(s) = lc["max-size"].as_str() {
            if let Some(b) = parse_bytes(s) {
                cmd.arg("--log-max-size").arg(b.to_string());
            }
        }
        if let Some(n) = lc["max-file"].as_str() {
            cmd.arg("--log-max-file").arg(n);
        }
        let out = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| EngineError::system(&format!("run {}", shim_bin().display()), e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(text.trim()).map_err(|_| {
            EngineError::System(format!(
                "pier-shim failed ({}): {}",
                out.status,
                text.trim()
            ))
        })?;
        if let Some(e) = v["error"].as_str() {
            return Err(EngineError::System(e.to_string()));
        }
        Ok(v["init_pid"].as_i64().unwrap_or(0))
    }

    /// Waits on the shim for the exit, then records it.
    pub(crate) fn spawn_monitor(self: &Arc<Self>, c: Arc<Ctr>) {
        let e = self.clone();
        tokio::spawn(async move {
            let sock = e.shim_sock(&c.id);
            let exit = match shim_call(&sock, &json!({"op": "wait"})).await {
                Ok((v, _)) => v,
                Err(err) => {
                    // The shim is gone: its exit.json, if it wrote one, says how it ended.
                    let p = e.state_dir(&c.id).join("exit.json");
                    match std::fs::read(&p)
                        .ok()
                        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    {
                        Some(v) => v,
                        None => {
                            json!({"exit_code": 255, "oom_killed": false, "finished_at": now_rfc3339(),
                            "error": format!("container's shim is gone: {err}")})
                        }
                    }
                }
            };
            e.handle_exit(&c, exit).await;
        });
    }

    async fn handle_exit(self: &Arc<Self>, c: &Arc<Ctr>, exit: Value) {
        let sock = self.shim_sock(&c.id);
        // The shim's delete (the runtime's cgroups and state) and the rootfs' unmount are
        // independent; the rest of the cleanup (the state dir holds the shim's socket) follows.
        let e = self.clone();
        let id = c.id.clone();
        let unmount = blocking(move || {
            e.unmount_rootfs(&id);
            Ok(())
        });
        let delete = json!({"op": "delete"});
        let _ = tokio::join!(shim_call(&sock, &delete), unmount);
        let e = self.clone();
        let id = c.id.clone();
        let _ = blocking(move || {
            e.cleanup_run(&id);
            Ok(())
        })
        .await;
        self.net_release(&c.id).await;
        let auto_remove = c.rec().host_config["AutoRemove"].as_bool().unwrap_or(false);
        let code = exit["exit_code"].as_i64().unwrap_or(255);
        let oom = exit["oom_killed"].as_bool().unwrap_or(false);
        let (policy, max, manually, auto_remove, count) = {
            let mut r = c.rec();
            r.state.running = false;
            r.state.paused = false;
            r.state.restarting = false;
            r.state.pid = 0;
            r.state.status = "exited".into();
            r.state.exit_code = code;
            r.state.oom_killed = oom;
            r.state.error = exit["error"].as_str().unwrap_or("").to_string();
            r.state.finished_at = exit["finished_at"]
                .as_str()
                .map_or_else(now_rfc3339, str::to_string);
            // A --rm container's record is deleted next (--rm excludes restart policies);
            // should pierd die in between, the restart finds its shim gone and removes it.
            if !auto_remove {
                let _ = self.save(&r);
            }
            if oom {
                self.container_event(&r, "oom", &[]);
            }
            self.container_event(&r, "die", &[("exitCode", code.to_string())]);
            let rp = &r.host_config["RestartPolicy"];
            (
                rp["Name"].as_str().unwrap_or("no").to_string(),
                rp["MaximumRetryCount"].as_i64().unwrap_or(0),
                r.manually_stopped,
                auto_remove,
                r.restart_count,
            )
        };
        let restart = !manually
            && match policy.as_str() {
                "always" | "unless-stopped" => true,
                "on-failure" => code != 0 && (max == 0 || count < max),
                _ => false,
            };
        if restart {
            {
                let mut r = c.rec();
                r.state.restarting = true;
                r.restart_count += 1;
                let _ = self.save(&r);
            }
            c.notice.send_modify(|n| {
                n.exits += 1;
                n.exit_code = code;
                n.error = None;
            });
            // docker's backoff: 100 ms doubling, reset after 10 s of running.
            let ran_long = {
                let r = c.rec();
                crate::engine::time::parse(&r.state.started_at).is_some_and(|t| {
                    chrono::Utc::now().signed_duration_since(t) > chrono::Duration::seconds(10)
                })
            };
            let step = if ran_long { 0 } else { count.clamp(0, 10) };
            let delay = 100u64 << step;
            let delay = Duration::from_millis(delay.min(60_000));
            let e = self.clone();
            let c2 = c.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _op = c2.op.lock().await;
                let still = {
                    let r = c2.rec();
                    r.state.restarting && !r.manually_stopped && !r.state.dead
                };
                if still {
                    if let Err(err) = e.start_locked(&c2).await {
                        tracing::warn!(id = %c2.id, error = %err, "restart failed");
                        let mut r = c2.rec();
                        r.state.restarting = false;
                        let _ = e.save(&r);
                    }
                }
            });
            return;
        }
        c.notice.send_modify(|n| {
            n.exits += 1;
            n.exit_code = code;
            n.error = None;
        });
        if auto_remove {
            let _ = self.remove_ctr(c, true).await;
        }
    }

    /// Reconnects to the shims of the containers the store says are running (at startup).
    pub fn recover_containers(self: &Arc<Self>) {
        let all: Vec<Arc<Ctr>> = self
            .containers
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for c in all {
            let (running, restarting) = {
                let r = c.rec();
                (r.state.running, r.state.restarting)
            };
            if running {
                self.net_recover(&c.snapshot());
                self.spawn_monitor(c);
            } else if restarting {
                let e = self.clone();
                tokio::spawn(async move {
                    let _op = c.op.lock().await;
                    let _ = e.start_locked(&c).await;
                });
            }
        }
    }

    /// Signals the init through its shim.
    async fn signal(&self, c: &Ctr, sig: i32, all: bool) -> Result<()> {
        shim_call(
            &self.shim_sock(&c.id),
            &json!({"op": "kill", "signal": sig, "all": all}),
        )
        .await
        .map(|_| ())
    }

    /// Waits until the container's exit count passes `exits`, up to `timeout`.
    async fn wait_exit_after(c: &Ctr, exits: u64, timeout: Option<Duration>) -> bool {
        let mut rx = c.notice.subscribe();
        let fut = rx.wait_for(|n| n.exits > exits || n.removed);
        match timeout {
            Some(t) => tokio::time::timeout(t, fut).await.is_ok(),
            None => fut.await.is_ok(),
        }
    }

    /// `POST /containers/{id}/stop`.
    pub async fn stop_container(
        &self,
        name: &str,
        timeout: Option<i64>,
        signal: Option<String>,
    ) -> Result<()> {
        let c = self.container(name)?;
        let _op = c.op.lock().await;
        self.stop_locked(&c, timeout, signal).await
    }

    async fn stop_locked(
        &self,
        c: &Ctr,
        timeout: Option<i64>,
        signal: Option<String>,
    ) -> Result<()> {
        let (running, restarting, stop_sig, stop_timeout) = {
            let mut r = c.rec();
            r.manually_stopped = true;
            if r.state.restarting {
                r.state.restarting = false;
            }
            let _ = self.save(&r);
            (
                r.state.running,
                r.state.restarting,
                r.config["StopSignal"].as_str().unwrap_or("").to_string(),
                r.config["StopTimeout"].as_i64(),
            )
        };
        if !running {
            let _ = restarting;
            return Err(EngineError::NotModified);
        }
        let sig_name = signal.filter(|s| !s.is_empty()).unwrap_or(stop_sig);
        let sig = if sig_name.is_empty() {
            15
        } else {
            parse_signal(&sig_name)?
        };
        let t = timeout.or(stop_timeout).unwrap_or(10);
        let exits = c.notice.borrow().exits;
        {
            let r = c.rec();
            self.container_event(&r, "kill", &[("signal", sig.to_string())]);
        }
        if c.rec().state.paused {
            let _ = shim_call(&self.shim_sock(&c.id), &json!({"op": "resume"})).await;
        }
        let _ = self.signal(c, sig, false).await;
        let done = if t < 0 {
            Self::wait_exit_after(c, exits, None).await
        } else {
            Self::wait_exit_after(c, exits, Some(Duration::from_secs(t as u64))).await
        };
        if !done {
            let _ = self.signal(c, 9, true).await;
            Self::wait_exit_after(c, exits, Some(Duration::from_secs(30))).await;
        }
        let r = c.rec();
        self.container_event(&r, "stop", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill_container(&self, name: &str, signal: &str) -> Result<()> {
        let c = self.container(name)?;
        let sig = if signal.is_empty() {
            9
        } else {
            parse_signal(signal)?
        };
        let (running, id) = {
            let r = c.rec();
            (r.state.running, r.id.clone())
        };
        if !running {
            return Err(EngineError::Conflict(format!(
                "cannot kill container: {name}: container {id} is not running"
            )));
        }
        if sig == 9 || sig == 15 || sig == 2 {
            let mut r = c.rec();
            r.manually_stopped = r.host_config["RestartPolicy"]["Name"] != "always" || sig == 9;
            let _ = self.save(&r);
        }
        {
            let r = c.rec();
            self.container_event(&r, "kill", &[("signal", sig.to_string())]);
        }
        let exits = c.notice.borrow().exits;
        match self.signal(&c, sig, false).await {
            Ok(()) => Ok(()),
            // The container exited between the state check and the signal (its shim is gone or
            // going, e.g. a second kill right after a first): once the exit is recorded this is
            // docker's "is not running", not a shim error.
            Err(err) => {
                if Self::wait_exit_after(&c, exits, Some(Duration::from_secs(2))).await
                    || !c.rec().state.running
                {
                    return Err(EngineError::Conflict(format!(
                        "cannot kill container: {name}: container {id} is not running"
                    )));
                }
                Err(err)
            }
        }
    }

    /// `POST /containers/{id}/restart`.
    pub async fn restart_container(
        self: &Arc<Self>,
        name: &str,
        timeout: Option<i64>,
        signal: Option<String>,
    ) -> Result<()> {
        let c = self.container(name)?;
        let _op = c.op.lock().await;
        match self.stop_locked(&c, timeout, signal).await {
            Ok(()) | Err(EngineError::NotModified) => {}
            Err(e) => return Err(e),
        }
        self.start_locked(&c).await?;
        let r = c.rec();
        self.container_event(&r, "restart", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/pause` and `unpause`.
    pub async fn pause_container(&self, name: &str, pause: bool) -> Result<()> {
        let c = self.container(name)?;
        let (running, paused, id) = {
            let r = c.rec();
            (r.state.running, r.state.paused, r.id.clone())
        };
        if !running {
            return Err(EngineError::Conflict(format!(
                "Container {id} is not running"
            )));
        }
        if pause && paused {
            return Err(EngineError::Conflict(format!(
                "Container {id} is already paused"
            )));
        }
        if !pause && !paused {
            return Err(EngineError::Conflict(format!(
                "Container {id} is not paused"
            )));
        }
        let op = if pause { "pause" } else { "resume" };
        shim_call(&self.shim_sock(&id), &json!({"op": op})).await?;
        let mut r = c.rec();
        r.state.paused = pause;
        r.state.status = if pause { "paused" } else { "running" }.into();
        self.save(&r)?;
        self.container_event(&r, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    /// `POST /containers/{id}/wait`: the exit code and error message.
    pub async fn wait_container(
        &self,
        name: &str,
        condition: &str,
    ) -> Result<(i64, Option<String>)> {
        let c = self.container(name)?;
        let mut rx = c.notice.subscribe();
        let start = rx.borrow().clone();
        let running = {
            let r = c.rec();
            r.state.running || r.state.restarting
        };
        let result = match condition {
            "" | "not-running" => {
                if !running {
                    let r = c.rec();
                    return Ok((r.state.exit_code, None));
                }
                rx.wait_for(|n| n.exits > start.exits || n.removed)
                    .await
                    .map(|n| n.clone())
            }
            "next-exit" => rx
                .wait_for(|n| n.exits > start.exits || n.removed)
                .await
                .map(|n| n.clone()),
            "removed" => rx.wait_for(|n| n.removed).await.map(|n| n.clone()),
            other => {
                return Err(EngineError::InvalidParameter(format!(
                    "invalid condition: {other:?}"
                )))
            }
        };
        match result {
            Ok(n) => Ok((n.exit_code, n.error)),
            // The sender is gone: the container was removed.
            Err(_) => Ok((c.rec().state.exit_code, None)),
        }
    }

    /// `DELETE /containers/{id}`.
    pub async fn remove_container(self: &Arc<Self>, name: &str, force: bool) -> Result<()> {
        let c = self.container(name)?;
        self.remove_ctr(&c, force).await
    }

    pub(crate) async fn remove_ctr(self: &Arc<Self>, c: &Arc<Ctr>, force: bool) -> Result<()> {
        let (running, paused, name) = {
            let r = c.rec();
            (r.state.running, r.state.paused, r.name.clone())
        };
        if running && !force {
            let what = if paused {
                "container is paused and must be unpaused first"
            } else {
                "container is running: stop the container before removing or force remove"
            };
            return Err(EngineError::Conflict(format!(
                "cannot remove container \"{name}\": {what}"
            )));
        }
        if running {
            let exits = c.notice.borrow().exits;
            {
                let mut r = c.rec();
                r.manually_stopped = true;
                r.state.dead = true;
            }
            if paused {
                let _ = shim_call(&self.shim_sock(&c.id), &json!({"op": "resume"})).await;
            }
            let _ = self.signal(c, 9, true).await;
            Self::wait_exit_after(c, exits, Some(Duration::from_secs(30))).await;
        }
        {
            let mut r = c.rec();
            if r.state.dead && r.state.status == "removing" {
                return Ok(());
            }
            r.state.dead = true;
            r.state.status = "removing".into();
        }
        let removed = self
            .containers
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&c.id)
            .is_some();
        if !removed {
            return Ok(());
        }
        let unused_layers = self.store.delete_container(&c.id)?;
        self.net_forget(&c.id).await;
        let dir = self.container_dir(&c.id);
        let run = self.container_run_dir(&c.id);
        let trash = self.containers_trash().join(&c.id);
        let _ = tokio::task::spawn_blocking(move || {
            if is_mounted(&run.join("bundle/rootfs")) {
                let _ = nix::mount::umount2(
                    &run.join("bundle/rootfs"),
                    nix::mount::MntFlags::MNT_DETACH,
                );
            }
            let _ = std::fs::remove_dir_all(&run);
            // Out of the way at once, deleted after the answer: an upper layer can hold many
            // files, and neither `rm` nor `run --rm` need wait for them. Startup empties the
            // trash a crash left.
            let moved = trash
                .parent()
                .is_some_and(|t| std::fs::create_dir_all(t).is_ok())
                && std::fs::rename(&dir, &trash).is_ok();
            if moved {
                tokio::runtime::Handle::current()
                    .spawn_blocking(move || std::fs::remove_dir_all(&trash));
            } else {
                let _ = std::fs::remove_dir_all(&dir);
            }
        })
        .await;
        if !unused_layers.is_empty() {
            self.release_layers(unused_layers).await;
        }
        self.containers
            .execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, x| x.container_id != c.id);
        {
            let r = c.rec();
            self.container_event(&r, "destroy", &[]);
        }
        c.notice.send_modify(|n| n.removed = true);
        Ok(())
    }

    /// `POST /containers/{id}/rename`.
    pub fn rename_container(&self, name: &str, new_name: &str) -> Result<()> {
        let c = self.container(name)?;
        let new = format!("/{}", new_name.trim_start_matches('/'));
        if !super::valid_name(new.trim_start_matches('/')) {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let mut r = c.rec();
        if r.name == new {
            return Err(EngineError::InvalidParameter(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        let old = r.name.clone();
        let mut changed = r.clone();
        changed.name = new.clone();
        let text = serde_json::to_string(&changed).expect("json");
        if !self.store.update_container(&r.id, &new, &text)? {
            let other = self.store.container_by_name(&new)?.unwrap_or_default();
            return Err(EngineError::Conflict(format!(
                "Conflict. The container name \"{new}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        r.name = new;
        self.container_event(&r, "rename", &[("oldName", old)]);
        Ok(())
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize_container(&self, name: &str, h: u16, w: u16) -> Result<()> {
        let c = self.container(name)?;
        if !c.rec().state.running {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        shim_call(
            &self.shim_sock(&c.id),
            &json!({"op": "resize", "height": h, "width": w}),
        )
        .await?;
        Ok(())
    }

    /// `POST /containers/prune`: removes stopped containers; returns their IDs.
    pub async fn prune_containers(self: &Arc<Self>) -> Result<Vec<String>> {
        let all: Vec<Arc<Ctr>> = self
            .containers
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut out = Vec::new();
        for c in all {
            let stopped = {
                let r = c.rec();
                !r.state.running && !r.state.restarting
            };
            if stopped && self.remove_ctr(&c, false).await.is_ok() {
                out.push(c.id.clone());
            }
        }
        Ok(out)
    }

    /// `POST /containers/{id}/attach`: the shim stream to proxy, once the container runs.
    /// Before the start, the attach is held until the start connects it.
    pub async fn attach_container(
        &self,
        name: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        detach_keys: &str,
    ) -> Result<AttachTarget> {
        let c = self.container(name)?;
        let r = c.snapshot();
        let keys = super::detach_keys::parse(detach_keys)?;
        let tty = r.config["Tty"].as_bool().unwrap_or(false);
        let escape = (stdin && tty).then(|| super::detach_keys::Escape::new(keys));
        let req = json!({"op": "attach", "stdin": stdin, "stdout": stdout, "stderr": stderr});
        self.container_event(&r, "attach", &[]);
        if r.state.running {
            let (_, s) = shim_call(&self.shim_sock(&r.id), &req).await?;
            return Ok(AttachTarget {
                stream: Some(s),
                pending: None,
                req,
                escape,
            });
        }
        let (tx, rx) = oneshot::channel();
        c.pending_attach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        Ok(AttachTarget {
            stream: None,
            pending: Some(rx),
            req,
            escape,
        })
    }
}

impl Engine {
    /// A client detached from the container with the detach keys: docker's `detach` event.
    pub fn detached(&self, name: &str) {
        if let Ok(c) = self.container(name) {
            self.container_event(&c.snapshot(), "detach", &[]);
        }
    }
}

/// Where an attach's bytes go: a shim stream now, or one the start will provide.
pub struct AttachTarget {
    pub stream: Option<UnixStream>,
    pub pending: Option<oneshot::Receiver<(PathBuf, oneshot::Sender<()>)>>,
    pub req: Value,
    /// The detach keys to watch for (attached stdin with a tty).
    pub escape: Option<super::detach_keys::Escape>,
}

impl AttachTarget {
    /// The shim stream (waiting for the start when needed); None if the container was
    /// removed before it started.
    pub async fn connect(&mut self) -> Option<UnixStream> {
        if let Some(s) = self.stream.take() {
            return Some(s);
        }
        let (sock, ack) = self.pending.take()?.await.ok()?;
        let r = shim_call(&sock, &self.req).await;
        let _ = ack.send(());
        r.ok().map(|(_, s)| s)
    }
}

/// Copies between a client connection and a shim stream until the shim closes its side, or,
/// with `escape`, until the client typed the detach keys (the container's stdin stays open
/// then). Returns true when the client detached.
pub async fn proxy<C>(
    client: C,
    shim: UnixStream,
    escape: Option<super::detach_keys::Escape>,
) -> bool
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = shim.into_split();
    let (detached_tx, detached_rx) = oneshot::channel::<()>();
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let mut detached_tx = Some(detached_tx);
    let input = tokio::spawn(async move {
        let copy = async {
            let mut escape = escape;
            let mut buf = vec![0u8; 32 * 1024];
            let mut out = Vec::new();
            loop {
                let n = match cr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                out.clear();
                let detached = match escape.as_mut() {
                    Some(e) => e.feed(&buf[..n], &mut out),
                    None => {
                        out.extend_from_slice(&buf[..n]);
                        false
                    }
                };
                if !out.is_empty() && sw.write_all(&out).await.is_err() {
                    break;
                }
                if detached {
                    if let Some(tx) = detached_tx.take() {
                        let _ = tx.send(());
                    }
                    // Keep the shim's side open until the proxy ends: a half-close would be
                    // the client's EOF on the container's stdin.
                    std::future::pending::<()>().await;
                }
            }
            let _ = sw.shutdown().await;
            // The client's input has ended; what is left is to wait for the output to end.
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = copy => {}
            _ = done_rx => {}
        }
        cr
    });
    let detached = {
        let output = tokio::io::copy(&mut sr, &mut cw);
        tokio::pin!(output);
        tokio::select! {
            _ = &mut output => false,
            r = detached_rx => match r {
                Ok(()) => true,
                Err(_) => {
                    let _ = (&mut output).await;
                    false
                }
            },
        }
    };
    let _ = cw.flush().await;
    let _ = cw.shutdown().await;
    let _ = done_tx.send(());
    if let Ok(cr) = input.await {
        tokio::spawn(drain_then_close(cr.unsplit(cw)));
    }
    detached
}

/// Reads and discards what the client still sends, until it closes (or briefly, at most), then
/// closes. Closing a unix socket with unread input resets the connection, and the client's
/// final read — the docker CLI's, after the output it was sent — fails with "connection reset
/// by peer" instead of ending cleanly; dockerd never shows this because its stdin copier
/// reads until the client closes.
pub async fn drain_then_close<C: tokio::io::AsyncRead + Unpin>(mut client: C) {
    let mut buf = vec![0u8; 8 * 1024];
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Ok(n) = client.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// docker's signal names and numbers ("SIGTERM", "TERM", "15").
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let n = match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        _ => {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid signal: {s}"
            )))
        }
    };
    Ok(n)
}

/// docker's byte sizes ("10m", "1g", "512k", "100").
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.trim_end_matches('b');
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1024),
        'm' => (&s[..s.len() - 1], 1024 * 1024),
        'g' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<f64>().ok().map(|n| (n * mult as f64) as u64)
}

fn is_mounted(p: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let target = p.display().to_string();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(target.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_and_sizes() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("kill").unwrap(), 9);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert!(parse_signal("NOPE").is_err());
        assert_eq!(parse_bytes("10m"), Some(10 * 1024 * 1024));
        assert_eq!(parse_bytes("100"), Some(100));
    }
}
