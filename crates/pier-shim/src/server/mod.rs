//! The shim proper: set up (socket, container, log) and then one single-threaded `poll` loop over
//! the listening socket, a signalfd for SIGCHLD, the container's output and input fds and the
//! connected clients, until `delete`.
//!
//! - Output of the init goes to the json-file log and to every attach client that asked for that
//!   stream (live only: pierd serves history from the log). A slow client holds back the reading
//!   of the container's output (as docker's attach does) instead of growing without bound.
//! - Input: bytes from clients attached with stdin (or the exec connection) are queued and
//!   written when the pipe / pty accepts them.
//! - Exits: the shim is a subreaper; SIGCHLD → `waitpid(-1, WNOHANG)` until nothing is left. When
//!   the init has exited, the loop waits for its output to reach EOF (at most [`DRAIN_GRACE`]:
//!   a daemonized child may keep a pipe open), then flushes the log, closes attach streams,
//!   records the OOM kill, writes exit.json and answers the `wait`s. It keeps serving until
//!   `delete`.

use crate::args::Args;
use crate::error::{Context, Result, ShimError};
use crate::exit::{exit_code, ExitInfo, OomSource, EXIT_FILE};
use crate::log::{JsonLog, LineSplitter, Stream};
use crate::proto::{self, Request};
use crate::runtime::{Binary, Library, Runtime, Target};
use crate::stdio::{self, Stdio};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

mod clients;
mod exits;
mod output;
mod requests;

/// How long output may stay open after its process exited.
pub const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// Above this much queued output for one client, the container's output is not read.
const CLIENT_HIGH_WATER: usize = 1 << 20;
/// Above this much queued input, clients' input is not read.
const STDIN_HIGH_WATER: usize = 64 * 1024;
/// Largest request line (an exec's OCI process included).
const MAX_REQUEST: usize = 4 << 20;
const READ_CHUNK: usize = 32 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// A process of the container (the init or an exec) as the shim holds it.
struct Proc {
    pid: i32,
    io: Stdio,
    /// Whether input is accepted at all (pipes: a stdin pipe; tty: `--stdin` / exec stdin).
    takes_stdin: bool,
    stdin_buf: Vec<u8>,
    /// Close stdin once `stdin_buf` is written.
    stdin_close: bool,
    exit: Option<(i32, Instant)>,
    done: bool,
}

impl Proc {
    fn outputs_open(&self) -> bool {
        self.io.stdout.is_some() || self.io.stderr.is_some() || self.io.master.is_some()
    }

    fn accepts_input(&self) -> bool {
        self.takes_stdin
            && !self.stdin_close
            && (self.io.stdin.is_some() || self.io.master.is_some())
    }

    fn close_stdin(&mut self) {
        self.stdin_close = true;
        if self.stdin_buf.is_empty() {
            self.io.stdin = None;
        }
    }
}

struct Exec {
    id: String,
    proc: Proc,
    /// The connection that asked for it (its stream).
    client: Option<u64>,
    waiters: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Init,
    Exec(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Stdout,
    Stderr,
    Master,
}

#[derive(Debug, Clone, Copy)]
enum Token {
    Listener,
    Signal,
    Out(Owner, Which),
    In(Owner),
    Client(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Request,
    Wait,
    ExecWait(usize),
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    ExecStream {
        exec: usize,
        stdin: bool,
    },
    /// A reply is queued; close once it is written.
    Reply,
}

struct Client {
    sock: UnixStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    kind: Kind,
    /// Its input reached EOF.
    read_closed: bool,
    close_after_flush: bool,
    dead: bool,
}

/// The running shim.
pub struct Shim {
    args: Args,
    runtime: Box<dyn Runtime>,
    listener: UnixListener,
    sigfd: SignalFd,
    status: Status,
    init: Proc,
    splitters: [LineSplitter; 2],
    log: JsonLog,
    oom: OomSource,
    exit: Option<ExitInfo>,
    start_error: String,
    waiters: Vec<u64>,
    execs: Vec<Exec>,
    clients: HashMap<u64, Client>,
    next_client: u64,
    buf: Vec<u8>,
    quit: bool,
}

/// Files the shim owns in the state dir, removed on failure and on delete.
fn remove_own_files(dir: &std::path::Path, keep_exit: bool) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if keep_exit && e.file_name() == EXIT_FILE {
                continue;
            }
            let _ = std::fs::remove_file(e.path());
        }
    }
}

impl Shim {
    /// Everything up to a created container: signal handling, state dir, socket, the
    /// container, the log. On failure nothing of it is left.
    pub fn new(args: Args) -> Result<Shim> {
        let mask = stdio::shim_sigmask();
        nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&mask), None)
            .ctx(|| "block SIGCHLD".into())?;
        let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .ctx(|| "signalfd".into())?;
        pier_runtime::sys::set_child_subreaper()?;

        let dir = args.state_dir.clone();
        let created_dir = !dir.exists();
        std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let fail = |e: ShimError| {
            if created_dir {
                let _ = std::fs::remove_dir_all(&dir);
            } else {
                remove_own_files(&dir, false);
            }
            e
        };
        // A previous run's leftovers would contradict this one.
        remove_own_files(&dir, false);
        let sock = dir.join("shim.sock");
        let listener = UnixListener::bind(&sock)
            .ctx(|| format!("listen on {}", sock.display()))
            .map_err(fail)?;
        listener
            .set_nonblocking(true)
            .ctx(|| "socket".into())
            .map_err(fail)?;
        std::fs::write(dir.join("shim.pid"), std::process::id().to_string())
            .ctx(|| "write shim.pid".into())
            .map_err(fail)?;

        let target = Target {
            root: args.runtime_root.clone(),
            id: args.id.clone(),
            bundle: args.bundle.clone(),
            state_dir: dir.clone(),
        };
        let runtime: Box<dyn Runtime> = match &args.runtime {
            Some(bin) => Box::new(Binary {
                bin: bin.clone(),
                args: args.runtime_args.clone(),
                target,
            }),
            None => Box::new(Library { target }),
        };
        let (mut io, child) = Stdio::new(args.tty, args.stdin).map_err(fail)?;
        let (pid, master) = runtime.create(child, args.tty).map_err(fail)?;
        io.master = master;
        let log = match JsonLog::open(&args.log_path, args.log_max_size, args.log_max_file) {
            Ok(l) => l,
            Err(e) => {
                let _ = runtime.kill(libc_sigkill(), false);
                let _ = waitpid(nix::unistd::Pid::from_raw(pid), None);
                let _ = runtime.delete();
                return Err(fail(ShimError::Io {
                    op: format!("open log {}", args.log_path.display()),
                    source: e,
                }));
            }
        };
        let oom = OomSource::find(&args.runtime_root, &args.id);
        let init = Proc {
            pid,
            io,
            takes_stdin: args.stdin,
            stdin_buf: Vec::new(),
            stdin_close: false,
            exit: None,
            done: false,
        };
        Ok(Shim {
            args,
            runtime,
            listener,
            sigfd,
            status: Status::Created,
            init,
            splitters: Default::default(),
            log,
            oom,
            exit: None,
            start_error: String::new(),
            waiters: Vec::new(),
            execs: Vec::new(),
            clients: HashMap::new(),
            next_client: 0,
            buf: Vec::new(),
            quit: false,
        })
    }

    pub fn init_pid(&self) -> i32 {
        self.init.pid
    }

    /// Serve until `delete`.
    pub fn run(mut self) {
        self.buf = vec![0u8; READ_CHUNK];
        // The init may have died already (a failed create leaves nothing, but a kill can come
        // before the loop starts).
        self.reap();
        while !self.quit {
            let ready = match self.poll_once() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("pier-shim: poll: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            for (tok, rev) in ready {
                self.handle(tok, rev);
                if self.quit {
                    break;
                }
            }
            self.reap();
            self.check_done();
            self.clients.retain(|_, c| !c.dead);
        }
    }

    fn poll_once(&self) -> Result<Vec<(Token, PollFlags)>> {
        let mut fds: Vec<PollFd> = Vec::with_capacity(8 + self.clients.len());
        let mut toks: Vec<Token> = Vec::with_capacity(8 + self.clients.len());
        fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
        toks.push(Token::Listener);
        fds.push(PollFd::new(self.sigfd.as_fd(), PollFlags::POLLIN));
        toks.push(Token::Signal);
        let procs = std::iter::once((Owner::Init, &self.init)).chain(
            self.execs
                .iter()
                .enumerate()
                .map(|(i, e)| (Owner::Exec(i), &e.proc)),
        );
        for (owner, p) in procs {
            if !self.output_blocked(owner) {
                for (which, f) in [
                    (Which::Stdout, &p.io.stdout),
                    (Which::Stderr, &p.io.stderr),
                    (Which::Master, &p.io.master),
                ] {
                    if let Some(f) = f {
                        fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                        toks.push(Token::Out(owner, which));
                    }
                }
            }
            if !p.stdin_buf.is_empty() {
                if let Some(f) = p.io.stdin.as_ref().or(p.io.master.as_ref()) {
                    fds.push(PollFd::new(f.as_fd(), PollFlags::POLLOUT));
                    toks.push(Token::In(owner));
                }
            }
        }
        for (id, c) in &self.clients {
            let mut ev = PollFlags::empty();
            if !c.read_closed && self.client_may_read(c) {
                ev |= PollFlags::POLLIN;
            }
            if !c.outbuf.is_empty() {
                ev |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(c.sock.as_fd(), ev));
            toks.push(Token::Client(*id));
        }
        let timeout = self.next_deadline().map_or(PollTimeout::NONE, |d| {
            let ms = d.saturating_duration_since(Instant::now()).as_millis() + 1;
            PollTimeout::try_from(ms.min(60_000) as i32).unwrap_or(PollTimeout::NONE)
        });
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(Vec::new()),
            Err(e) => {
                return Err(ShimError::Sys {
                    op: "poll".into(),
                    source: e,
                })
            }
        }
        Ok(fds
            .iter()
            .zip(toks)
            .filter_map(|(f, t)| f.revents().filter(|r| !r.is_empty()).map(|r| (t, r)))
            .collect())
    }

    fn proc_mut(&mut self, o: Owner) -> &mut Proc {
        match o {
            Owner::Init => &mut self.init,
            Owner::Exec(i) => &mut self.execs[i].proc,
        }
    }

    fn proc_ref(&self, o: Owner) -> &Proc {
        match o {
            Owner::Init => &self.init,
            Owner::Exec(i) => &self.execs[i].proc,
        }
    }

    /// Does a client hold back this process's output?
    fn output_blocked(&self, o: Owner) -> bool {
        self.clients.values().any(|c| {
            c.outbuf.len() > CLIENT_HIGH_WATER
                && match (&c.kind, o) {
                    (Kind::Attach { .. }, Owner::Init) => true,
                    (Kind::ExecStream { exec, .. }, Owner::Exec(i)) => *exec == i,
                    _ => false,
                }
        })
    }

    fn client_may_read(&self, c: &Client) -> bool {
        let target = match c.kind {
            Kind::Attach { stdin: true, .. } => Owner::Init,
            Kind::ExecStream { exec, stdin: true } => Owner::Exec(exec),
            _ => return true,
        };
        self.proc_ref(target).stdin_buf.len() < STDIN_HIGH_WATER
    }

    fn next_deadline(&self) -> Option<Instant> {
        std::iter::once(&self.init)
            .chain(self.execs.iter().map(|e| &e.proc))
            .filter(|p| !p.done)
            .filter_map(|p| p.exit.map(|(_, t)| t + DRAIN_GRACE))
            .min()
    }

    fn handle(&mut self, tok: Token, rev: PollFlags) {
        match tok {
            Token::Listener => self.accept(),
            Token::Signal => while let Ok(Some(_)) = self.sigfd.read_signal() {},
            Token::Out(o, w) => self.read_output(o, w),
            Token::In(o) => self.write_input(o),
            Token::Client(id) => {
                if rev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    self.read_client(id);
                }
                if rev.contains(PollFlags::POLLOUT) {
                    self.flush_client(id);
                }
                if rev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                    self.drop_client(id);
                }
            }
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((sock, _)) => {
                    if sock.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let id = self.next_client;
                    self.next_client += 1;
                    self.clients.insert(
                        id,
                        Client {
                            sock,
                            inbuf: Vec::new(),
                            outbuf: Vec::new(),
                            kind: Kind::Request,
                            read_closed: false,
                            close_after_flush: false,
                            dead: false,
                        },
                    );
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }
}

fn libc_sigkill() -> i32 {
    nix::sys::signal::Signal::SIGKILL as i32
}
