//! Client connections: reading requests and stdin, writing replies and streams, closing.

use super::*;

impl Shim {
    pub(super) fn read_client(&mut self, id: u64) {
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
    pub(super) fn client_eof(&mut self, id: u64) {
        let Some(c) = self.clients.get(&id) else {
            return;
        };
        match c.kind {
            Kind::Request => self.clients.get_mut(&id).unwrap().dead = true,
            // As dockerd: a terminal's input is never closed by a client leaving (it may
            // have detached and come back); pipes close at the (first) client's EOF.
            Kind::Attach { stdin: true, .. } if self.args.stdin_once && !self.args.tty => {
                self.init.close_stdin()
            }
            Kind::ExecStream { exec, stdin: true } if self.execs[exec].proc.io.master.is_none() => {
                self.execs[exec].proc.close_stdin()
            }
            _ => {}
        }
    }

    pub(super) fn drop_client(&mut self, id: u64) {
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

    pub(super) fn flush_client(&mut self, id: u64) {
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
    pub(super) fn reply(&mut self, id: u64, line: Vec<u8>) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.outbuf.extend_from_slice(&line);
            c.kind = Kind::Reply;
            c.read_closed = true;
            c.close_after_flush = true;
        }
        self.flush_client(id);
    }

    /// Queue a reply and keep the connection as a stream of `kind`.
    pub(super) fn reply_stream(&mut self, id: u64, line: Vec<u8>, kind: Kind) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.outbuf.extend_from_slice(&line);
            c.kind = kind;
        }
        self.flush_client(id);
    }
}
