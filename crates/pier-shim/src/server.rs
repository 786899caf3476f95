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

    // ---- container output and input ----

    fn read_output(&mut self, o: Owner, w: Which) {
        let mut buf = std::mem::take(&mut self.buf);
        let p = self.proc_mut(o);
        let f = match w {
            Which::Stdout => &mut p.io.stdout,
            Which::Stderr => &mut p.io.stderr,
            Which::Master => &mut p.io.master,
        };
        let r = match f {
            Some(file) => file.read(&mut buf),
            None => {
                self.buf = buf;
                return;
            }
        };
        match r {
            Ok(0) => *f = None,
            Ok(n) => self.deliver(o, w, &buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
            // EIO: the pty's last slave closed.
            Err(_) => *f = None,
        }
        self.buf = buf;
    }

    fn deliver(&mut self, o: Owner, w: Which, data: &[u8]) {
        let stream = match w {
            Which::Stderr => Stream::Stderr,
            _ => Stream::Stdout,
        };
        let tty = w == Which::Master;
        let (frame_id, wanted): (u8, fn(&Kind, Owner) -> bool) = match stream {
            Stream::Stdout => (proto::STDOUT, |k, o| match (k, o) {
                (Kind::Attach { stdout, .. }, Owner::Init) => *stdout,
                (Kind::ExecStream { exec, .. }, Owner::Exec(i)) => *exec == i,
                _ => false,
            }),
            Stream::Stderr => (proto::STDERR, |k, o| match (k, o) {
                (Kind::Attach { stderr, .. }, Owner::Init) => *stderr,
                (Kind::ExecStream { exec, .. }, Owner::Exec(i)) => *exec == i,
                _ => false,
            }),
        };
        if o == Owner::Init {
            let time = crate::timefmt::now_rfc3339_nano();
            let idx = (stream == Stream::Stderr) as usize;
            let log = &mut self.log;
            self.splitters[idx].feed(data, &mut |line| log.push(line, stream, &time));
            self.log.flush();
        }
        let mut targets = Vec::new();
        for (id, c) in self.clients.iter_mut() {
            if c.dead || c.close_after_flush || !wanted(&c.kind, o) {
                continue;
            }
            if tty {
                c.outbuf.extend_from_slice(data);
            } else {
                proto::frame(&mut c.outbuf, frame_id, data);
            }
            targets.push(*id);
        }
        for id in targets {
            self.flush_client(id);
        }
    }

    fn write_input(&mut self, o: Owner) {
        let p = self.proc_mut(o);
        let target = p.io.stdin.as_mut().or(p.io.master.as_mut());
        let Some(f) = target else {
            p.stdin_buf.clear();
            return;
        };
        match f.write(&p.stdin_buf) {
            Ok(n) => {
                p.stdin_buf.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                // EPIPE: nobody reads the container's stdin any more.
                p.stdin_buf.clear();
                p.io.stdin = None;
                p.stdin_close = true;
            }
        }
        if p.stdin_buf.is_empty() {
            if p.stdin_close {
                p.io.stdin = None;
            }
            if p.stdin_buf.capacity() > STDIN_HIGH_WATER * 2 {
                p.stdin_buf = Vec::new();
            }
        }
    }

    fn queue_input(&mut self, o: Owner, data: &[u8]) {
        let p = self.proc_mut(o);
        if data.is_empty() || !p.accepts_input() {
            return;
        }
        p.stdin_buf.extend_from_slice(data);
        self.write_input(o);
    }

    // ---- clients ----

    fn read_client(&mut self, id: u64) {
        let mut buf = std::mem::take(&mut self.buf);
        let Some(c) = self.clients.get_mut(&id) else {
            self.buf = buf;
            return;
        };
        if c.read_closed || c.dead {
            self.buf = buf;
            return;
        }
        let r = c.sock.read(&mut buf);
        match r {
            Ok(0) => {
                c.read_closed = true;
                self.buf = buf;
                self.client_eof(id);
                return;
            }
            Ok(n) => {
                let kind = c.kind.clone();
                match kind {
                    Kind::Request => {
                        c.inbuf.extend_from_slice(&buf[..n]);
                        if let Some(pos) = c.inbuf.iter().position(|&b| b == b'\n') {
                            let rest = c.inbuf.split_off(pos + 1);
                            let line = std::mem::take(&mut c.inbuf);
                            self.buf = buf;
                            self.request(id, &line, rest);
                            return;
                        }
                        if c.inbuf.len() > MAX_REQUEST {
                            c.inbuf = Vec::new();
                            self.reply(id, proto::error_line("request too large"));
                        }
                    }
                    Kind::Attach { stdin: true, .. } => self.queue_input(Owner::Init, &buf[..n]),
                    Kind::ExecStream { exec, stdin: true } => {
                        self.queue_input(Owner::Exec(exec), &buf[..n])
                    }
                    _ => {}
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
            Err(_) => c.dead = true,
        }
        self.buf = buf;
    }

    /// The client will send nothing more.
    fn client_eof(&mut self, id: u64) {
        let Some(c) = self.clients.get(&id) else {
            return;
        };
        match c.kind {
            Kind::Request => self.clients.get_mut(&id).unwrap().dead = true,
            Kind::Attach { stdin: true, .. } if self.args.stdin_once => self.init.close_stdin(),
            Kind::ExecStream { exec, stdin: true } => self.execs[exec].proc.close_stdin(),
            _ => {}
        }
    }

    fn drop_client(&mut self, id: u64) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if c.dead {
            return;
        }
        c.dead = true;
        if !c.read_closed {
            c.read_closed = true;
            self.client_eof(id);
        }
        if let Some(Kind::ExecStream { exec, .. }) = self.clients.get(&id).map(|c| c.kind.clone()) {
            if self.execs[exec].client == Some(id) {
                self.execs[exec].client = None;
            }
        }
    }

    fn flush_client(&mut self, id: u64) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        while !c.outbuf.is_empty() {
            match c.sock.write(&c.outbuf) {
                Ok(0) => break,
                Ok(n) => {
                    c.outbuf.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    c.outbuf.clear();
                    c.dead = true;
                    break;
                }
            }
        }
        if c.outbuf.capacity() > CLIENT_HIGH_WATER && c.outbuf.is_empty() {
            c.outbuf = Vec::new();
        }
        if c.outbuf.is_empty() && c.close_after_flush && !c.dead {
            let _ = c.sock.shutdown(std::net::Shutdown::Both);
            self.drop_client(id);
        }
    }

    /// Queue a final reply and close after it.
    fn reply(&mut self, id: u64, line: Vec<u8>) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.outbuf.extend_from_slice(&line);
            c.kind = Kind::Reply;
            c.read_closed = true;
            c.close_after_flush = true;
        }
        self.flush_client(id);
    }

    /// Queue a reply and keep the connection as a stream of `kind`.
    fn reply_stream(&mut self, id: u64, line: Vec<u8>, kind: Kind) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.outbuf.extend_from_slice(&line);
            c.kind = kind;
        }
        self.flush_client(id);
    }

    fn ok() -> Vec<u8> {
        proto::line(&serde_json::json!({"ok": true}))
    }

    fn result(r: Result<()>) -> Vec<u8> {
        match r {
            Ok(()) => Self::ok(),
            Err(e) => proto::error_line(&e.to_string()),
        }
    }

    fn state_line(&self) -> Vec<u8> {
        proto::line(&serde_json::json!({
            "status": self.status.name(),
            "init_pid": self.init.pid,
            "exit": self.exit,
        }))
    }

    fn request(&mut self, id: u64, line: &[u8], rest: Vec<u8>) {
        let req: Request = match serde_json::from_slice(line) {
            Ok(r) => r,
            Err(e) => {
                self.reply(id, proto::error_line(&format!("bad request: {e}")));
                return;
            }
        };
        match req {
            Request::Start => {
                let r = if self.status != Status::Created {
                    Err(ShimError::State(format!(
                        "cannot start a container in state {}",
                        self.status.name()
                    )))
                } else {
                    self.runtime.start()
                };
                match &r {
                    Ok(()) => self.status = Status::Running,
                    Err(e) => self.start_error = e.to_string(),
                }
                self.reply(id, Self::result(r));
            }
            Request::State => {
                let l = self.state_line();
                self.reply(id, l);
            }
            Request::Kill { signal, all } => {
                let r = if self.init.done && !all {
                    Err(ShimError::State("container not running".into()))
                } else {
                    self.runtime.kill(signal, all)
                };
                self.reply(id, Self::result(r));
            }
            Request::Pause => {
                let r = self.runtime.pause();
                if r.is_ok() {
                    self.status = Status::Paused;
                }
                self.reply(id, Self::result(r));
            }
            Request::Resume => {
                let r = self.runtime.resume();
                if r.is_ok() && self.status == Status::Paused {
                    self.status = Status::Running;
                }
                self.reply(id, Self::result(r));
            }
            Request::Resize {
                height,
                width,
                exec_id,
            } => {
                let master = match &exec_id {
                    None => self.init.io.master.as_ref(),
                    Some(e) => self
                        .execs
                        .iter()
                        .find(|x| &x.id == e)
                        .and_then(|x| x.proc.io.master.as_ref()),
                };
                let r = match master {
                    Some(m) => {
                        use std::os::fd::AsRawFd;
                        pier_runtime::console::set_size(m.as_raw_fd(), height, width);
                        Ok(())
                    }
                    None => Err(ShimError::State(match exec_id {
                        Some(e) => format!("exec {e} has no terminal"),
                        None => "the container has no terminal".into(),
                    })),
                };
                self.reply(id, Self::result(r));
            }
            Request::Wait => {
                if let Some(e) = &self.exit {
                    let l = proto::line(&serde_json::to_value(e).expect("serializable"));
                    self.reply(id, l);
                } else {
                    self.waiters.push(id);
                    if let Some(c) = self.clients.get_mut(&id) {
                        c.kind = Kind::Wait;
                    }
                }
            }
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => {
                let stdin = stdin && self.init.accepts_input();
                if self.init.done {
                    self.reply(id, Self::ok());
                    return;
                }
                self.reply_stream(
                    id,
                    Self::ok(),
                    Kind::Attach {
                        stdin,
                        stdout,
                        stderr,
                    },
                );
                if stdin {
                    self.queue_input(Owner::Init, &rest);
                }
            }
            Request::Exec {
                exec_id,
                process,
                stdin,
            } => self.exec(id, exec_id, *process, stdin, rest),
            Request::ExecWait { exec_id } => {
                match self.execs.iter().position(|e| e.id == exec_id) {
                    None => self.reply(id, proto::error_line(&format!("no such exec: {exec_id}"))),
                    Some(i) if self.execs[i].proc.done => {
                        let code = self.execs[i].proc.exit.map_or(-1, |(c, _)| c);
                        self.reply(id, proto::line(&serde_json::json!({"exit_code": code})));
                    }
                    Some(i) => {
                        self.execs[i].waiters.push(id);
                        if let Some(c) = self.clients.get_mut(&id) {
                            c.kind = Kind::ExecWait(i);
                        }
                    }
                }
            }
            Request::Delete => self.delete(id),
        }
        self.reap();
        // Runtime calls parse the whole OCI spec: drop the code they faulted in again.
        crate::memory::release_startup_memory();
    }

    fn exec(
        &mut self,
        id: u64,
        exec_id: String,
        process: oci_spec::runtime::Process,
        stdin: bool,
        rest: Vec<u8>,
    ) {
        if !proto::valid_exec_id(&exec_id) {
            self.reply(
                id,
                proto::error_line(&format!("invalid exec id {exec_id:?}")),
            );
            return;
        }
        if self.execs.iter().any(|e| e.id == exec_id) {
            self.reply(
                id,
                proto::error_line(&format!("exec {exec_id} already exists")),
            );
            return;
        }
        if self.init.exit.is_some() {
            self.reply(id, proto::error_line("cannot exec in a stopped container"));
            return;
        }
        let tty = process.terminal() == Some(true);
        let started = Stdio::new(tty, stdin).and_then(|(io, child)| {
            let (pid, master) = self.runtime.exec(&exec_id, &process, child)?;
            Ok((io, pid, master))
        });
        let (mut io, pid, master) = match started {
            Ok(x) => x,
            Err(e) => {
                self.reply(id, proto::error_line(&e.to_string()));
                return;
            }
        };
        io.master = master;
        let idx = self.execs.len();
        self.execs.push(Exec {
            id: exec_id,
            proc: Proc {
                pid,
                io,
                takes_stdin: stdin,
                stdin_buf: Vec::new(),
                stdin_close: false,
                exit: None,
                done: false,
            },
            client: Some(id),
            waiters: Vec::new(),
        });
        self.reply_stream(
            id,
            proto::line(&serde_json::json!({"ok": true, "pid": pid})),
            Kind::ExecStream { exec: idx, stdin },
        );
        if stdin {
            self.queue_input(Owner::Exec(idx), &rest);
        }
    }

    fn delete(&mut self, id: u64) {
        if self.init.exit.is_some() && !self.init.done {
            self.finish_init();
        }
        if !self.init.done {
            let msg = format!(
                "cannot delete container {} that is not stopped: {}",
                self.args.id,
                self.status.name()
            );
            self.reply(id, proto::error_line(&msg));
            return;
        }
        if let Err(e) = self.runtime.delete() {
            self.reply(id, proto::error_line(&e.to_string()));
            return;
        }
        remove_own_files(&self.args.state_dir, true);
        if let Some(c) = self.clients.get_mut(&id) {
            let _ = c.sock.set_nonblocking(false);
            let _ = c.sock.write_all(&Self::ok());
        }
        self.quit = true;
    }

    // ---- exits ----

    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(st) => {
                    let Some((pid, code)) = exit_code(st) else {
                        continue;
                    };
                    let now = Instant::now();
                    if pid == self.init.pid && self.init.exit.is_none() {
                        self.init.exit = Some((code, now));
                    } else if let Some(e) = self
                        .execs
                        .iter_mut()
                        .find(|e| e.proc.pid == pid && e.proc.exit.is_none())
                    {
                        e.proc.exit = Some((code, now));
                    }
                }
            }
        }
    }

    fn check_done(&mut self) {
        let now = Instant::now();
        let due = |p: &Proc| {
            !p.done
                && p.exit
                    .is_some_and(|(_, t)| !p.outputs_open() || now >= t + DRAIN_GRACE)
        };
        for i in 0..self.execs.len() {
            if due(&self.execs[i].proc) {
                self.finish_exec(i);
            }
        }
        if due(&self.init) {
            self.finish_init();
        }
    }

    fn finish_exec(&mut self, i: usize) {
        let e = &mut self.execs[i];
        e.proc.done = true;
        e.proc.io = Stdio::default();
        e.proc.stdin_buf = Vec::new();
        let code = e.proc.exit.map_or(-1, |(c, _)| c);
        let waiters = std::mem::take(&mut e.waiters);
        let client = e.client.take();
        if let Some(c) = client.and_then(|c| self.clients.get_mut(&c)) {
            c.close_after_flush = true;
            c.read_closed = true;
        }
        if let Some(c) = client {
            self.flush_client(c);
        }
        let l = proto::line(&serde_json::json!({"exit_code": code}));
        for w in waiters {
            self.reply(w, l.clone());
        }
    }

    fn finish_init(&mut self) {
        let (code, _) = self.init.exit.expect("exited");
        self.init.done = true;
        let time = crate::timefmt::now_rfc3339_nano();
        let log = &mut self.log;
        self.splitters[0].flush(&mut |l| log.push(l, Stream::Stdout, &time));
        self.splitters[1].flush(&mut |l| log.push(l, Stream::Stderr, &time));
        self.log.flush();
        self.init.io = Stdio::default();
        self.init.stdin_buf = Vec::new();
        self.status = Status::Stopped;
        let info = ExitInfo {
            exit_code: code,
            oom_killed: self.oom.oom_killed(),
            finished_at: time,
            error: std::mem::take(&mut self.start_error),
        };
        if let Err(e) = info.write(&self.args.state_dir) {
            eprintln!("pier-shim: {e}");
        }
        let l = proto::line(&serde_json::to_value(&info).expect("serializable"));
        self.exit = Some(info);
        let attached: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, c)| matches!(c.kind, Kind::Attach { .. }))
            .map(|(id, _)| *id)
            .collect();
        for id in attached {
            if let Some(c) = self.clients.get_mut(&id) {
                c.close_after_flush = true;
                c.read_closed = true;
            }
            self.flush_client(id);
        }
        for w in std::mem::take(&mut self.waiters) {
            self.reply(w, l.clone());
        }
    }
}

fn libc_sigkill() -> i32 {
    nix::sys::signal::Signal::SIGKILL as i32
}
