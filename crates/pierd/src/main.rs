//! pierd: the Pier daemon. It reads its flags and config file, takes the data root's lock,
//! opens the engine, listens on the unix sockets (mode 0660) and TCP addresses it was given, and
//! serves the Docker Engine API until SIGTERM or SIGINT, then stops accepting, lets requests in
//! flight finish (for a bounded time), and removes its sockets and PID file.

mod api;
mod config;
mod engine;
mod store;

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use fs2::FileExt;
use tokio::sync::watch;

use config::{DaemonConfig, Flags, Listen};
use engine::{Engine, EngineOptions};

/// How long in-flight requests may run after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn main() {
    let flags = Flags::parse();
    let cfg = match DaemonConfig::load(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pierd: {e}");
            std::process::exit(1);
        }
    };
    init_tracing(&cfg.log_level);
    // glibc gives each thread that allocates its own arena (up to 8 per core), and freed
    // memory stays in the arena it came from: two arenas keep an idle pierd small, and on two
    // cores more would not remove contention that matters here.
    // SAFETY: mallopt before any other thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("pierd")
        // Idle blocking-pool threads (file and mount work) exit after 2 s instead of 10 s,
        // with their stacks.
        .thread_keep_alive(Duration::from_secs(2))
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(cfg, flags.cgroup_parent.clone())) {
        eprintln!("pierd: {e:#}");
        std::process::exit(1);
    }
}

/// Hands memory freed by bursts of work (a pull, a load, a build) back to the kernel, as Go's
/// scavenger does for dockerd: glibc keeps freed heap in each thread's arena, so without this an
/// idle pierd stays as large as its busiest moment. Every 2 s, when more than 1 MiB sits free in
/// the arenas, `malloc_trim` returns it (`mallinfo2` costs microseconds; an idle check is a
/// timer wake-up).
async fn return_free_memory() {
    const CHECK: Duration = Duration::from_secs(2);
    const SLACK: usize = 1 << 20;
    loop {
        tokio::time::sleep(CHECK).await;
        // SAFETY: mallinfo2 and malloc_trim only read and release the allocator's free lists;
        // both are thread safe.
        let free = unsafe { libc::mallinfo2() }.fordblks;
        if free > SLACK {
            let _ = tokio::task::spawn_blocking(|| unsafe { libc::malloc_trim(0) }).await;
        }
    }
}

fn init_tracing(level: &str) {
    let level = match level {
        "fatal" => "error",
        other => other,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PIERD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn run(cfg: DaemonConfig, cgroup_parent: String) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.data_root)
        .with_context(|| format!("create data root {}", cfg.data_root.display()))?;
    let _lock = lock_data_root(&cfg.data_root)?;
    std::fs::create_dir_all(&cfg.exec_root)
        .with_context(|| format!("create exec root {}", cfg.exec_root.display()))?;
    let _pidfile = PidFile::create(&cfg.pidfile)?;

    let engine = Arc::new(
        Engine::open(EngineOptions {
            data_root: cfg.data_root.clone(),
            exec_root: cfg.exec_root.clone(),
            insecure_registries: cfg.insecure_registries.clone(),
            debug: cfg.debug,
            cgroup_parent,
            runtimes: cfg.runtimes.clone(),
            net: net_options(&cfg.net)?,
        })
        .context("open the engine")?,
    );
    engine.init_networks().await.context("set up networking")?;
    engine.recover_containers();
    tokio::spawn(return_free_memory());

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = Vec::new();
    let mut sockets = Vec::new();
    for host in &cfg.hosts {
        let listen = Listen::parse(host)?;
        let svc = api::service(engine.clone());
        let make = axum::ServiceExt::<axum::extract::Request>::into_make_service(svc);
        let mut stop = stop_rx.clone();
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        match listen {
            Listen::Unix(path) => {
                let listener = bind_unix(&path)?;
                sockets.push(SocketFile(path.clone()));
                tracing::info!(socket = %path.display(), "API listening");
                servers.push(tokio::spawn(async move {
                    axum::serve(listener, make)
                        .with_graceful_shutdown(shutdown)
                        .await
                }));
            }
            Listen::Tcp(addr) => {
                let listener = tokio::net::TcpListener::bind(&addr)
                    .await
                    .with_context(|| format!("listen on tcp://{addr}"))?;
                tracing::warn!(%addr, "API listening on TCP without TLS: anyone who can reach it controls pierd");
                servers.push(tokio::spawn(async move {
                    axum::serve(listener, make)
                        .with_graceful_shutdown(shutdown)
                        .await
                }));
            }
        }
    }
    tracing::info!(data_root = %cfg.data_root.display(), version = engine::system::PIER_VERSION, "pierd started");

    wait_for_signal().await?;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let all = futures::future::join_all(servers);
    if tokio::time::timeout(SHUTDOWN_GRACE, all).await.is_err() {
        tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}; stopping anyway");
    }
    drop(sockets);
    tracing::info!("pierd stopped");
    Ok(())
}

/// The engine's network options from the daemon's settings.
fn net_options(c: &config::NetConfig) -> anyhow::Result<engine::networks::NetOptions> {
    let bip = match &c.bip {
        Some(b) => Some(
            b.parse::<pier_network::Ipv4Net>()
                .with_context(|| format!("invalid --bip {b:?}"))?,
        ),
        None => None,
    };
    let pools = if c.pools.is_empty() {
        engine::networks::default_pools()
    } else {
        c.pools
            .iter()
            .map(|(b, s)| {
                b.parse::<pier_network::Ipv4Net>()
                    .map(|n| (n, *s))
                    .with_context(|| format!("invalid default address pool {b:?}"))
            })
            .collect::<anyhow::Result<_>>()?
    };
    if !c.userland_proxy {
        tracing::debug!("--userland-proxy=false: pier never runs a proxy process anyway");
    }
    Ok(engine::networks::NetOptions {
        enabled: true,
        bridge: c.bridge.clone(),
        bip,
        pools,
        iptables: c.iptables,
        firewall: c.firewall_backend,
        ip_forward: c.ip_forward,
        mtu: c.mtu,
    })
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// One pierd per data root: an exclusive flock on `<data-root>/lock`, held for the process's life.
fn lock_data_root(root: &Path) -> anyhow::Result<File> {
    let path = root.join("lock");
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("open {}", path.display()))?;
    if f.try_lock_exclusive().is_err() {
        bail!(
            "another pierd is already using the data root {} (its lock {} is held); stop it or choose another --data-root",
            root.display(),
            path.display()
        );
    }
    Ok(f)
}

/// The PID file, removed on drop.
struct PidFile(PathBuf);

impl PidFile {
    fn create(path: &Path) -> anyhow::Result<PidFile> {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse::<u32>() {
                if pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists() {
                    bail!(
                        "pid file found, ensure pierd is not running or delete {}",
                        path.display()
                    );
                }
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, format!("{}", std::process::id()))
            .with_context(|| format!("write pid file {}", path.display()))?;
        Ok(PidFile(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A unix socket file we created, removed on drop.
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn bind_unix(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!(
                "socket {} is in use by another daemon; stop it or choose another -H",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("remove stale socket {}", path.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("listen on unix://{}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", path.display()))?;
    Ok(listener)
}
