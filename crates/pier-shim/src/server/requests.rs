//! One handler per request of the socket protocol (docs/CONTRACTS.md).

use super::*;

impl Shim {
    pub(super) fn ok() -> Vec<u8> {
        proto::line(&serde_json::json!({"ok": true}))
    }

    pub(super) fn result(r: Result<()>) -> Vec<u8> {
        match r {
            Ok(()) => Self::ok(),
            Err(e) => proto::error_line(&e.to_string()),
        }
    }

    pub(super) fn state_line(&self) -> Vec<u8> {
        proto::line(&serde_json::json!({
            "status": self.status.name(),
            "init_pid": self.init.pid,
            "exit": self.exit,
        }))
    }

    pub(super) fn request(&mut self, id: u64, line: &[u8], rest: Vec<u8>) {
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

    pub(super) fn exec(
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

    pub(super) fn delete(&mut self, id: u64) {
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
}
