//! Exec: `POST /containers/{id}/exec` records an exec (its process settings), `POST
//! /exec/{id}/start` runs it through the container's shim (`exec` op: the connection becomes
//! its stream) and learns its exit code with `exec_wait`; `GET /exec/{id}/json` shows it.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::net::UnixStream;

use super::{run::shim_call, spec};
use crate::engine::{Engine, EngineError, Result};

#[derive(Debug, Clone, Default)]
pub struct ExecState {
    pub running: bool,
    pub exit_code: Option<i64>,
    pub pid: i64,
    pub started: bool,
}

pub struct Exec {
    pub id: String,
    pub container_id: String,
    /// The request body (Cmd, Env, User, WorkingDir, Tty, AttachStdin/out/err, Privileged).
    pub config: Value,
    pub state: Mutex<ExecState>,
    /// Set once the exit code is recorded: the CLI inspects the exec as soon as its stream
    /// ends, which may be a moment before the shim's `exec_wait` answer.
    pub exited: tokio::sync::watch::Sender<bool>,
}

impl Exec {
    fn st(&self) -> std::sync::MutexGuard<'_, ExecState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn not_running(id: &str) -> EngineError {
    EngineError::Conflict(format!("container {id} is not running"))
}

impl Engine {
    /// `POST /containers/{id}/exec`.
    pub fn create_exec(&self, name: &str, config: Value) -> Result<String> {
        let c = self.container(name)?;
        let mut r = c.rec();
        if !r.state.running {
            return Err(not_running(&r.id));
        }
        if r.state.paused {
            return Err(EngineError::Conflict(format!(
                "container {} is paused, unpause the container before exec",
                r.id
            )));
        }
        if config["Cmd"].as_array().is_none_or(|a| a.is_empty()) {
            return Err(EngineError::InvalidParameter(
                "No exec command specified".into(),
            ));
        }
        let id = hex::encode(rand::random::<[u8; 32]>());
        r.exec_ids.push(id.clone());
        let _ = self.save(&r);
        self.container_event(&r, "exec_create", &[("execID", id.clone())]);
        self.containers
            .execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                id.clone(),
                Arc::new(Exec {
                    id: id.clone(),
                    container_id: r.id.clone(),
                    config,
                    state: Mutex::new(ExecState::default()),
                    exited: tokio::sync::watch::Sender::new(false),
                }),
            );
        Ok(id)
    }

    pub fn exec(&self, id: &str) -> Result<Arc<Exec>> {
        self.containers
            .execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::NoSuchExec(id.to_string()))
    }

    /// Whether exec `id` was created with a tty (false for an unknown exec).
    pub fn exec_tty(&self, id: &str) -> bool {
        self.exec(id)
            .is_ok_and(|ex| ex.config["Tty"].as_bool().unwrap_or(false))
    }

    /// `POST /exec/{id}/start`: starts the process and returns its stream and, with a tty and
    /// stdin, the detach keys to watch for (`DetachKeys`; invalid ones fall back to the default,
    /// as dockerd); a task records its exit code.
    pub async fn start_exec(
        self: &Arc<Self>,
        id: &str,
    ) -> Result<(UnixStream, Option<super::detach_keys::Escape>)> {
        let ex = self.exec(id)?;
        {
            let mut st = ex.st();
            if st.started {
                return Err(EngineError::Conflict(format!(
                    "Error: Exec command {id} has already run"
                )));
            }
            st.started = true;
        }
        let c = self.container(&ex.container_id)?;
        let rec = c.snapshot();
        if !rec.state.running {
            return Err(not_running(&rec.id));
        }
        let cfg = &ex.config;
        let tty = cfg["Tty"].as_bool().unwrap_or(false);
        let strs = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let rootfs = self.container_run_dir(&rec.id).join("bundle/rootfs");
        let user = match cfg["User"].as_str().unwrap_or("") {
            "" => rec.config["User"].as_str().unwrap_or("").to_string(),
            u => u.to_string(),
        };
        let (uid, gid, additional, home) = spec::resolve_user(&rootfs, &user, &[])?;
        let mut env_in = strs(&rec.config["Env"]);
        for e in strs(&cfg["Env"]) {
            let k = e.split('=').next().unwrap_or("").to_string();
            env_in.retain(|x| x.split('=').next() != Some(k.as_str()));
            env_in.push(e);
        }
        let mut env = spec::process_env(&env_in, &home, tty);
        if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
            env.insert(
                1.min(env.len()),
                format!("HOSTNAME={}", rec.config["Hostname"].as_str().unwrap_or("")),
            );
        }
        let cwd = match cfg["WorkingDir"].as_str().unwrap_or("") {
            "" => match rec.config["WorkingDir"].as_str().unwrap_or("") {
                "" => "/".to_string(),
                w => w.to_string(),
            },
            w => w.to_string(),
        };
        let mut hc = rec.host_config.clone();
        if cfg["Privileged"].as_bool().unwrap_or(false) {
            hc["Privileged"] = json!(true);
        }
        let caps = spec::capabilities(&hc)?;
        let process = json!({
            "terminal": tty,
            "user": {"uid": uid, "gid": gid, "additionalGids": additional},
            "args": strs(&cfg["Cmd"]),
            "env": env,
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": rec.host_config["SecurityOpt"].as_array().is_some_and(|a| a.iter().any(|o| o.as_str().is_some_and(|s| s.starts_with("no-new-privileges")))),
        });
        let stdin = cfg["AttachStdin"].as_bool().unwrap_or(false);
        let escape = (stdin && tty).then(|| {
            super::detach_keys::Escape::new(
                super::detach_keys::parse(cfg["DetachKeys"].as_str().unwrap_or(""))
                    .unwrap_or_else(|_| super::detach_keys::DEFAULT.to_vec()),
            )
        });
        let sock = self.shim_sock(&rec.id);
        let r = shim_call(
            &sock,
            &json!({"op": "exec", "exec_id": id, "process": process, "stdin": stdin}),
        )
        .await;
        let (reply, stream) = match r {
            Ok(x) => x,
            Err(e) => {
                let mut st = ex.st();
                st.exit_code = Some(126);
                let msg = e.to_string();
                if msg.contains("executable file not found") || msg.contains("no such file") {
                    st.exit_code = Some(127);
                }
                // runc's wording: "exec failed: unable to start container process: exec: …".
                let detail = match msg.find("exec: ") {
                    Some(i) => format!(
                        "exec failed: unable to start container process: {}",
                        &msg[i..]
                    ),
                    None => msg,
                };
                return Err(EngineError::StartFailed(format!(
                    "OCI runtime exec failed: {detail}: unknown"
                )));
            }
        };
        {
            let mut st = ex.st();
            st.running = true;
            st.pid = reply["pid"].as_i64().unwrap_or(0);
        }
        self.container_event(&rec, "exec_start", &[("execID", id.to_string())]);
        let e = self.clone();
        let id2 = id.to_string();
        tokio::spawn(async move {
            let code = match shim_call(&sock, &json!({"op": "exec_wait", "exec_id": id2})).await {
                Ok((v, _)) => v["exit_code"].as_i64().unwrap_or(-1),
                Err(_) => -1,
            };
            {
                let mut st = ex.st();
                st.running = false;
                st.exit_code = Some(code);
            }
            ex.exited.send_replace(true);
            e.container_event(
                &rec,
                "exec_die",
                &[("execID", id2.clone()), ("exitCode", code.to_string())],
            );
        });
        Ok((stream, escape))
    }

    /// Waits (briefly) for a started exec's exit code to be recorded.
    pub async fn exec_settle(&self, id: &str) {
        let Ok(ex) = self.exec(id) else { return };
        let mut exited = ex.exited.subscribe();
        {
            let st = ex.st();
            if st.exit_code.is_some() || !st.running {
                return;
            }
        }
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(1), exited.wait_for(|e| *e)).await;
    }

    /// `GET /exec/{id}/json`.
    pub fn inspect_exec(&self, id: &str) -> Result<Value> {
        let ex = self.exec(id)?;
        let st = ex.st().clone();
        let cfg = &ex.config;
        let cmd: Vec<Value> = cfg["Cmd"].as_array().cloned().unwrap_or_default();
        Ok(json!({
            "CanRemove": false,
            "ContainerID": ex.container_id,
            "DetachKeys": cfg["DetachKeys"].as_str().unwrap_or(""),
            "ExitCode": st.exit_code,
            "ID": ex.id,
            "OpenStderr": cfg["AttachStderr"].as_bool().unwrap_or(false),
            "OpenStdin": cfg["AttachStdin"].as_bool().unwrap_or(false),
            "OpenStdout": cfg["AttachStdout"].as_bool().unwrap_or(false),
            "ProcessConfig": {
                "arguments": cmd.get(1..).map(|s| s.to_vec()).unwrap_or_default(),
                "entrypoint": cmd.first().cloned().unwrap_or(json!("")),
                "privileged": cfg["Privileged"].as_bool().unwrap_or(false),
                "tty": cfg["Tty"].as_bool().unwrap_or(false),
                "user": cfg["User"].as_str().unwrap_or(""),
            },
            "Running": st.running,
            "Pid": st.pid,
        }))
    }

    /// `POST /exec/{id}/resize`.
    pub async fn resize_exec(&self, id: &str, h: u16, w: u16) -> Result<()> {
        let ex = self.exec(id)?;
        shim_call(
            &self.shim_sock(&ex.container_id),
            &json!({"op": "resize", "exec_id": id, "height": h, "width": w}),
        )
        .await?;
        Ok(())
    }
}
