//! `pier-runc`: runc's command line over the pier-runtime library. Errors go to stderr and, with
//! `--log`, to the log file in runc's format (`--log-format json` is what containerd reads).

use clap::{Args, Parser, Subcommand};
use pier_runtime::container::{self, CreateOptions, ExecOptions};
use pier_runtime::state::DEFAULT_ROOT;
use pier_runtime::RuntimeError;
use std::io::Write;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "pier-runc",
    version,
    about = "Pier's OCI runtime (runc-compatible command line)"
)]
struct Cli {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = DEFAULT_ROOT)]
    root: PathBuf,
    /// Log file (errors are written there too).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, default_value = "text")]
    log_format: String,
    #[arg(long, global = true)]
    debug: bool,
    /// Accept systemd's slice:prefix:name cgroup paths (mapped onto cgroupfs).
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Accepted for compatibility; ignored.
    #[arg(long, global = true, hide = true)]
    criu: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Debug)]
struct CreateArgs {
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    id: String,
}

#[derive(Subcommand, Debug)]
// Each verb's arguments are built only when it is the one given (clap would build the whole
// tree at every start).
#[command(defer = true)]
enum Cmd {
    /// Create a container (its init waits for `start`).
    Create(CreateArgs),
    /// Start a created container.
    Start { id: String },
    /// Create and start a container, then wait for it (unless --detach).
    Run {
        #[command(flatten)]
        c: CreateArgs,
        #[arg(short, long)]
        detach: bool,
        #[arg(long)]
        keep: bool,
    },
    /// Print the OCI state of a container.
    State { id: String },
    /// Send a signal (default SIGTERM) to the container's init.
    Kill {
        #[arg(short, long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// Delete a container.
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Run a new process in a container.
    Exec {
        #[arg(short, long)]
        process: Option<PathBuf>,
        #[arg(short, long)]
        tty: bool,
        #[arg(long = "console-socket")]
        console_socket: Option<PathBuf>,
        #[arg(long)]
        cwd: Option<PathBuf>,
        #[arg(short, long)]
        env: Vec<String>,
        #[arg(short, long)]
        user: Option<String>,
        #[arg(long = "additional-gids", short = 'g')]
        additional_gids: Vec<u32>,
        #[arg(short, long)]
        detach: bool,
        #[arg(long = "pid-file")]
        pid_file: Option<PathBuf>,
        #[arg(short, long)]
        cap: Vec<String>,
        #[arg(long = "no-new-privs")]
        no_new_privs: bool,
        #[arg(long = "preserve-fds", default_value_t = 0)]
        preserve_fds: u32,
        #[arg(long = "process-label")]
        process_label: Option<String>,
        #[arg(long = "apparmor")]
        apparmor: Option<String>,
        #[arg(long = "ignore-paused")]
        ignore_paused: bool,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// List the processes of a container.
    Ps {
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze all processes of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List containers.
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Write runc's default config.json.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
    /// Print what this runtime supports (OCI features document).
    Features,
    /// Print container events; with --stats one stats snapshot.
    Events {
        #[arg(long)]
        stats: bool,
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Update a container's resource limits (runc's flags, or an OCI resources JSON with -r).
    Update {
        #[arg(short = 'r', long)]
        resources: Option<String>,
        #[arg(long)]
        memory: Option<String>,
        #[arg(long = "memory-swap")]
        memory_swap: Option<String>,
        #[arg(long = "memory-reservation")]
        memory_reservation: Option<String>,
        #[arg(long = "kernel-memory", hide = true)]
        kernel_memory: Option<String>,
        #[arg(long = "kernel-memory-tcp", hide = true)]
        kernel_memory_tcp: Option<String>,
        #[arg(long = "pids-limit")]
        pids_limit: Option<i64>,
        #[arg(long = "cpu-shares")]
        cpu_shares: Option<u64>,
        #[arg(long = "cpu-quota")]
        cpu_quota: Option<i64>,
        #[arg(long = "cpu-period")]
        cpu_period: Option<u64>,
        #[arg(long = "cpu-rt-period")]
        cpu_rt_period: Option<u64>,
        #[arg(long = "cpu-rt-runtime")]
        cpu_rt_runtime: Option<i64>,
        #[arg(long = "cpuset-cpus")]
        cpuset_cpus: Option<String>,
        #[arg(long = "cpuset-mems")]
        cpuset_mems: Option<String>,
        #[arg(long = "blkio-weight")]
        blkio_weight: Option<u16>,
        id: String,
    },
}

struct Logger {
    file: Option<PathBuf>,
    json: bool,
}

impl Logger {
    /// runc's way: without --log, a logrus line on stderr (`time=… level=error msg=…`, which
    /// tools such as youki's contest look for); with --log, the plain message on stderr and the
    /// formatted line in the log file (containerd reads the json one).
    fn error(&self, msg: &str) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        if self.file.is_none() {
            eprintln!("time={time:?} level=error msg={msg:?}");
        } else {
            eprintln!("{msg}");
        }
        if let Some(f) = &self.file {
            if let Ok(mut fh) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
            {
                let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
                let line = if self.json {
                    serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
                } else {
                    format!("time={time:?} level=error msg={msg:?}")
                };
                let _ = writeln!(fh, "{line}");
            }
        }
    }
}

fn main() {
    let cli = Cli::parse();
    // CVE-2019-5736: the processes that enter a container must never run the host's binary.
    // `create`/`run` go through the exec trampoline where the bundle's seccomp profile allows
    // it; otherwise, and for `exec`, the runtime re-executes itself from a read-only image
    // first — before it connects the console socket or touches any state. Failing that, it
    // refuses to go on.
    // The bundle is loaded once, here, and handed to create (a bad one is reported there).
    let loaded = match &cli.cmd {
        Cmd::Create(c) | Cmd::Run { c, .. } => pier_runtime::spec::load_bundle(&c.bundle).ok(),
        _ => None,
    };
    let protect = match &cli.cmd {
        Cmd::Create(_) | Cmd::Run { .. } => loaded.as_ref().is_some_and(|l| !trampoline_serves(l)),
        Cmd::Exec { .. } => true,
        _ => false,
    };
    if protect {
        if let Err(e) = pier_runtime::exeseal::ensure_protected() {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
    pier_runtime::set_debug_log(cli.debug);
    let log = Logger {
        file: cli.log.clone(),
        json: cli.log_format == "json",
    };
    match run(cli, loaded) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            log.error(&e.to_string());
            std::process::exit(1);
        }
    }
}

/// Whether the trampoline can carry the bundle's container into its program: its seccomp
/// profile allows it and a memfd can be executed here.
fn trampoline_serves(loaded: &pier_runtime::spec::LoadedSpec) -> bool {
    let seccomp = loaded
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref());
    pier_runtime::exeseal::trampoline_allowed(seccomp)
        && pier_runtime::exeseal::trampoline().is_ok()
}

fn connect(p: &Option<PathBuf>) -> Result<Option<std::os::fd::OwnedFd>, RuntimeError> {
    p.as_deref().map(pier_runtime::console::connect).transpose()
}

fn print_json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

fn run(cli: Cli, loaded: Option<pier_runtime::spec::LoadedSpec>) -> Result<i32, RuntimeError> {
    let root = cli.root.clone();
    match cli.cmd {
        Cmd::Create(c) => {
            container::create(CreateOptions {
                root,
                id: c.id,
                bundle: c.bundle,
                console: connect(&c.console_socket)?,
                pid_file: c.pid_file,
                preserve_fds: c.preserve_fds,
                no_pivot: c.no_pivot,
                no_new_keyring: c.no_new_keyring,
                systemd_cgroup: cli.systemd_cgroup,
                subreaper: false,
                stdio: None,
                loaded,
            })?;
            Ok(0)
        }
        Cmd::Start { id } => {
            container::start(&root, &id)?;
            Ok(0)
        }
        Cmd::Run { c, detach, keep } => {
            run_container(root, c, loaded, detach, keep, cli.systemd_cgroup)
        }
        Cmd::State { id } => {
            print_json(&container::state(&root, &id)?);
            Ok(0)
        }
        Cmd::Kill { all, id, signal } => {
            let sig = container::parse_signal(signal.as_deref().unwrap_or("SIGTERM"))?;
            container::kill(&root, &id, sig, all)?;
            Ok(0)
        }
        Cmd::Delete { force, id } => {
            container::delete(&root, &id, force)?;
            Ok(0)
        }
        Cmd::Exec {
            process,
            tty,
            console_socket,
            cwd,
            env,
            user,
            additional_gids,
            detach,
            pid_file,
            cap,
            no_new_privs,
            preserve_fds,
            id,
            command,
            ..
        } => {
            let st = pier_runtime::state::ContainerState::load(&root, &id)?;
            let mut proc_: oci_spec::runtime::Process = match &process {
                Some(p) => {
                    let text =
                        std::fs::read_to_string(p).map_err(|source| RuntimeError::ReadConfig {
                            path: p.clone(),
                            source,
                        })?;
                    serde_json::from_str(&text)
                        .map_err(|e| RuntimeError::InvalidConfig(format!("{}: {e}", p.display())))?
                }
                None => {
                    if command.is_empty() {
                        return Err(RuntimeError::InvalidConfig(
                            "exec: process args cannot be empty".into(),
                        ));
                    }
                    let mut p = st.config.process().clone().unwrap_or_default();
                    p.set_args(Some(command.clone()));
                    p.set_terminal(Some(tty));
                    p.set_console_size(None);
                    p
                }
            };
            if process.is_none() {
                if let Some(cwd) = cwd {
                    proc_.set_cwd(cwd);
                }
                let mut e = proc_.env().clone().unwrap_or_default();
                // --env overrides a variable of the same name (first match wins in getenv).
                for kv in env {
                    let key = kv.split('=').next().unwrap_or("").to_string();
                    e.retain(|x| x.split('=').next() != Some(key.as_str()));
                    e.push(kv);
                }
                proc_.set_env(Some(e));
                if let Some(u) = user {
                    let (uid, gid) = u.split_once(':').unwrap_or((&u, "0"));
                    let uid = uid
                        .parse()
                        .map_err(|_| RuntimeError::InvalidConfig(format!("invalid user {u:?}")))?;
                    let gid = gid
                        .parse()
                        .map_err(|_| RuntimeError::InvalidConfig(format!("invalid user {u:?}")))?;
                    proc_.user_mut().set_uid(uid);
                    proc_.user_mut().set_gid(gid);
                }
                if !additional_gids.is_empty() {
                    proc_.user_mut().set_additional_gids(Some(additional_gids));
                }
                if no_new_privs {
                    proc_.set_no_new_privileges(Some(true));
                }
                if !cap.is_empty() {
                    let mut caps = proc_.capabilities().clone().unwrap_or_default();
                    let extra: oci_spec::runtime::Capabilities = cap
                        .iter()
                        .map(|c| {
                            let name = if c.starts_with("CAP_") {
                                c.clone()
                            } else {
                                format!("CAP_{c}")
                            };
                            serde_json::from_value(serde_json::Value::String(name)).map_err(|_| {
                                RuntimeError::InvalidConfig(format!("unknown capability {c:?}"))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                    let add = |s: &Option<oci_spec::runtime::Capabilities>| {
                        let mut s = s.clone().unwrap_or_default();
                        s.extend(extra.iter().copied());
                        Some(s)
                    };
                    caps.set_bounding(add(caps.bounding()));
                    caps.set_effective(add(caps.effective()));
                    caps.set_permitted(add(caps.permitted()));
                    caps.set_inheritable(add(caps.inheritable()));
                    caps.set_ambient(add(caps.ambient()));
                    proc_.set_capabilities(Some(caps));
                }
            }
            let terminal = proc_.terminal() == Some(true);
            let (console, local_tty) = if terminal && console_socket.is_none() && !detach {
                let (a, b) = std::os::unix::net::UnixStream::pair()
                    .map_err(|e| RuntimeError::Other(format!("socketpair: {e}")))?;
                (Some(std::os::fd::OwnedFd::from(b)), Some(a))
            } else {
                (connect(&console_socket)?, None)
            };
            let pid = container::exec(ExecOptions {
                root,
                id,
                process: proc_,
                console,
                pid_file,
                preserve_fds,
                subreaper: !detach,
                stdio: None,
            })?;
            if detach {
                return Ok(0);
            }
            pier_runtime::sys::forward_signals(pid)?;
            let proxy = match local_tty {
                Some(sock) => {
                    use std::os::fd::AsRawFd;
                    let (master, _) = pier_runtime::sys::recv_fd(sock.as_raw_fd())?;
                    Some(std::thread::spawn(move || {
                        pier_runtime::console::proxy(master)
                    }))
                }
                None => None,
            };
            let code = container::wait_exit(pid)?;
            drain(proxy);
            Ok(code)
        }
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => {
            let pids = container::ps_pids(&root, &id)?;
            if format == "json" {
                println!("{}", serde_json::to_string(&pids).expect("json"));
                return Ok(0);
            }
            let args = if ps_args.is_empty() {
                vec!["-ef".to_string()]
            } else {
                ps_args
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| RuntimeError::Other(format!("ps: {e}")))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or("");
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .ok_or_else(|| {
                    RuntimeError::Other("couldn't find PID field in ps output".into())
                })?;
            println!("{header}");
            for l in lines {
                if let Some(p) = l
                    .split_whitespace()
                    .nth(col)
                    .and_then(|s| s.parse::<i32>().ok())
                {
                    if pids.contains(&p) {
                        println!("{l}");
                    }
                }
            }
            Ok(0)
        }
        Cmd::Pause { id } => {
            container::pause(&root, &id)?;
            Ok(0)
        }
        Cmd::Resume { id } => {
            container::resume(&root, &id)?;
            Ok(0)
        }
        Cmd::List { format, quiet } => {
            let list = container::list(&root)?;
            if quiet {
                for s in &list {
                    println!("{}", s.id);
                }
            } else if format == "json" {
                println!("{}", serde_json::to_string(&list).expect("json"));
            } else {
                let rows: Vec<[String; 6]> = list
                    .iter()
                    .map(|s| {
                        [
                            s.id.clone(),
                            s.pid.to_string(),
                            s.status.to_string(),
                            s.bundle.display().to_string(),
                            s.created.clone(),
                            if s.owner.is_empty() {
                                "root".into()
                            } else {
                                s.owner.clone()
                            },
                        ]
                    })
                    .collect();
                let header =
                    ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
                let mut widths = header.clone().map(|h| h.len());
                for r in &rows {
                    for (i, c) in r.iter().enumerate() {
                        widths[i] = widths[i].max(c.len());
                    }
                }
                for r in std::iter::once(&header).chain(rows.iter()) {
                    let line: Vec<String> = r
                        .iter()
                        .enumerate()
                        .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
                        .collect();
                    println!("{}", line.join("   ").trim_end());
                }
            }
            Ok(0)
        }
        Cmd::Spec { bundle, rootless } => {
            let path = bundle.join("config.json");
            if path.exists() {
                return Err(RuntimeError::Other(format!(
                    "File {} exists. Remove it first",
                    path.display()
                )));
            }
            let text = serde_json::to_string_pretty(&pier_runtime::spec::default_spec(rootless))
                .expect("json");
            std::fs::write(&path, text + "\n")
                .map_err(|e| RuntimeError::Other(format!("write {}: {e}", path.display())))?;
            Ok(0)
        }
        Cmd::Features => {
            print_json(&pier_runtime::spec::features());
            Ok(0)
        }
        Cmd::Events { stats, id, .. } => {
            if !stats {
                return Err(RuntimeError::Unsupported(
                    "events streaming is not supported by pier-runc; use --stats".into(),
                ));
            }
            let data = container::stats(&root, &id)?;
            println!(
                "{}",
                serde_json::json!({"type": "stats", "id": id, "data": data})
            );
            Ok(0)
        }
        Cmd::Update {
            resources,
            memory,
            memory_swap,
            memory_reservation,
            pids_limit,
            cpu_shares,
            cpu_quota,
            cpu_period,
            cpu_rt_period,
            cpu_rt_runtime,
            cpuset_cpus,
            cpuset_mems,
            blkio_weight,
            id,
            ..
        } => {
            let mut v = match resources.as_deref() {
                Some("-") => {
                    let text = std::io::read_to_string(std::io::stdin())
                        .map_err(|e| RuntimeError::Other(format!("read resources: {e}")))?;
                    serde_json::from_str(&text)
                        .map_err(|e| RuntimeError::InvalidConfig(format!("resources: {e}")))?
                }
                Some(f) => {
                    let text = std::fs::read_to_string(f)
                        .map_err(|e| RuntimeError::Other(format!("read {f}: {e}")))?;
                    serde_json::from_str(&text)
                        .map_err(|e| RuntimeError::InvalidConfig(format!("resources: {e}")))?
                }
                None => serde_json::json!({}),
            };
            let size = |s: &Option<String>| -> Result<Option<i64>, RuntimeError> {
                s.as_deref().map(parse_size).transpose()
            };
            let mut set = |section: &str, key: &str, val: serde_json::Value| {
                if v.get(section).is_none() {
                    v[section] = serde_json::json!({});
                }
                v[section][key] = val;
            };
            if let Some(m) = size(&memory)? {
                set("memory", "limit", m.into());
            }
            if let Some(m) = size(&memory_swap)? {
                set("memory", "swap", m.into());
            }
            if let Some(m) = size(&memory_reservation)? {
                set("memory", "reservation", m.into());
            }
            if let Some(p) = pids_limit {
                set("pids", "limit", p.into());
            }
            if let Some(x) = cpu_shares {
                set("cpu", "shares", x.into());
            }
            if let Some(x) = cpu_quota {
                set("cpu", "quota", x.into());
            }
            if let Some(x) = cpu_period {
                set("cpu", "period", x.into());
            }
            if let Some(x) = cpu_rt_period {
                set("cpu", "realtimePeriod", x.into());
            }
            if let Some(x) = cpu_rt_runtime {
                set("cpu", "realtimeRuntime", x.into());
            }
            if let Some(x) = cpuset_cpus {
                set("cpu", "cpus", x.into());
            }
            if let Some(x) = cpuset_mems {
                set("cpu", "mems", x.into());
            }
            if let Some(x) = blkio_weight {
                set("blockIO", "weight", x.into());
            }
            let mut res: oci_spec::runtime::LinuxResources = serde_json::from_value(v)
                .map_err(|e| RuntimeError::InvalidConfig(format!("resources: {e}")))?;
            let st = pier_runtime::state::ContainerState::load(&root, &id)?;
            if st.status(&root) == pier_runtime::Status::Stopped {
                return Err(RuntimeError::Other("container not running".into()));
            }
            // Device rules not given stay those of the config (v2 replaces its eBPF program).
            let linux = st.config.linux().clone().unwrap_or_default();
            if res.devices().is_none() {
                res.set_devices(linux.resources().as_ref().and_then(|r| r.devices().clone()));
            }
            let devices = linux.devices().clone().unwrap_or_default();
            pier_runtime::cgroups::manager(&st.cgroup).apply(&res, &devices)?;
            Ok(0)
        }
    }
}

fn run_container(
    root: PathBuf,
    c: CreateArgs,
    loaded: Option<pier_runtime::spec::LoadedSpec>,
    detach: bool,
    keep: bool,
    systemd_cgroup: bool,
) -> Result<i32, RuntimeError> {
    // The loaded spec's bundle is already canonical; create takes the spec as is.
    let bundle = match &loaded {
        Some(l) => l.bundle.clone(),
        None => std::fs::canonicalize(&c.bundle).unwrap_or(c.bundle.clone()),
    };
    let terminal = loaded
        .as_ref()
        .and_then(|ls| ls.spec.process().as_ref().and_then(|p| p.terminal()))
        .unwrap_or(false);
    let (console, local_tty) = if terminal && c.console_socket.is_none() && !detach {
        let (a, b) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| RuntimeError::Other(format!("socketpair: {e}")))?;
        (Some(std::os::fd::OwnedFd::from(b)), Some(a))
    } else {
        (connect(&c.console_socket)?, None)
    };
    let id = c.id.clone();
    let st = container::create(CreateOptions {
        root: root.clone(),
        id: c.id,
        bundle,
        console,
        pid_file: c.pid_file,
        preserve_fds: c.preserve_fds,
        no_pivot: c.no_pivot,
        no_new_keyring: c.no_new_keyring,
        systemd_cgroup,
        subreaper: !detach,
        stdio: None,
        loaded,
    })?;
    if let Err(e) = container::start_state(&root, &st) {
        let _ = container::delete(&root, &id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    pier_runtime::sys::forward_signals(st.pid)?;
    let proxy = match local_tty {
        Some(sock) => {
            use std::os::fd::AsRawFd;
            let (master, _) = pier_runtime::sys::recv_fd(sock.as_raw_fd())?;
            Some(std::thread::spawn(move || {
                pier_runtime::console::proxy(master)
            }))
        }
        None => None,
    };
    let code = container::wait_exit(st.pid)?;
    drain(proxy);
    if !keep {
        container::delete_state(&root, &st, true)?;
    }
    Ok(code)
}

/// Let the tty proxy copy the last output (it ends when the pty hangs up), without hanging on a
/// descendant that keeps the terminal open.
fn drain(proxy: Option<std::thread::JoinHandle<()>>) {
    if let Some(h) = proxy {
        for _ in 0..200 {
            if h.is_finished() {
                let _ = h.join();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// runc's size syntax: a plain number of bytes, or with a binary unit suffix (k, m, g, t, with
/// optional "b"/"ib"), or -1 for unlimited.
fn parse_size(s: &str) -> Result<i64, RuntimeError> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let digits: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let unit = t[digits.len()..]
        .trim_end_matches('b')
        .trim_end_matches('i');
    let n: f64 = digits
        .parse()
        .map_err(|_| RuntimeError::InvalidConfig(format!("invalid size {s:?}")))?;
    let mul: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0f64.powi(4),
        _ => return Err(RuntimeError::InvalidConfig(format!("invalid size {s:?}"))),
    };
    Ok((n * mul) as i64)
}

#[cfg(test)]
mod tests {
    use super::{parse_size, trampoline_serves};

    #[test]
    fn sizes() {
        assert_eq!(parse_size("67108864").unwrap(), 67108864);
        assert_eq!(parse_size("50M").unwrap(), 50 * 1024 * 1024);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("512KiB").unwrap(), 512 * 1024);
        assert_eq!(parse_size("-1").unwrap(), -1);
        assert!(parse_size("12x").is_err());
    }

    #[test]
    fn trampoline_or_protected_image_by_the_bundles_seccomp_profile() {
        let loaded = |seccomp: Option<serde_json::Value>| {
            let mut v = pier_runtime::spec::default_spec(false);
            if let Some(s) = seccomp {
                v["linux"]["seccomp"] = s;
            }
            pier_runtime::spec::LoadedSpec {
                spec: serde_json::from_value(v).unwrap(),
                bundle: "/b".into(),
                rootfs: "/b/rootfs".into(),
            }
        };
        let allow = |names: &[&str]| {
            Some(serde_json::json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}))
        };
        // No profile, a profile allowing the trampoline.
        assert!(trampoline_serves(&loaded(None)));
        let all = [
            "execve",
            "execveat",
            "fcntl",
            "sendmsg",
            "exit_group",
            "read",
        ];
        assert!(trampoline_serves(&loaded(allow(&all))));
        // Without execveat: the runtime must re-execute from a read-only image.
        assert!(!trampoline_serves(&loaded(allow(&all[..1]))));
        assert!(!trampoline_serves(&loaded(allow(&[
            "execve",
            "fcntl",
            "sendmsg",
            "exit_group"
        ]))));
    }
}
