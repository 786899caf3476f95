//! The container's output (to the log and the attached clients) and input (queued from
//! clients, written when the pipe or pty takes it).

use super::*;

impl Shim {
    pub(super) fn read_output(&mut self, o: Owner, w: Which) {
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

    pub(super) fn deliver(&mut self, o: Owner, w: Which, data: &[u8]) {
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

    pub(super) fn write_input(&mut self, o: Owner) {
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

    pub(super) fn queue_input(&mut self, o: Owner, data: &[u8]) {
        let p = self.proc_mut(o);
        if data.is_empty() || !p.accepts_input() {
            return;
        }
        p.stdin_buf.extend_from_slice(data);
        self.write_input(o);
    }
}
