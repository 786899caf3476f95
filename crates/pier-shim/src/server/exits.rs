//! Reaping (the shim is a subreaper) and what follows an exit: for an exec, its stream closes
//! and `exec_wait` is answered; for the init, the log is flushed, attach streams close, the OOM
//! kill is read, exit.json is written and the `wait`s are answered.

use super::*;

impl Shim {
    pub(super) fn reap(&mut self) {
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

    pub(super) fn check_done(&mut self) {
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

    pub(super) fn finish_exec(&mut self, i: usize) {
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

    pub(super) fn finish_init(&mut self) {
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
