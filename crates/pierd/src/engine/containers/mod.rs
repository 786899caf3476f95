//! The container service: create, inspect, list, remove (this file), the run path — start,
//! stop, kill, wait, attach, restart policies, recovery after a pierd restart ([`run`]) — logs
//! ([`logs`]) and exec ([`exec`]). A container is a [`Record`] (docker's Config and HostConfig
//! as the client sent them merged with the image's, and its State) kept in memory and written
//! whole to the store on every change. Running containers are each held by a pier-shim
//! (docs/CONTRACTS.md); pierd talks to it over `<exec-root>/containers/<id>/state/shim.sock`.
//!
//! On disk: `<data-root>/containers/<id>/` holds the overlay upper/work dirs, the `hostname`,
//! `hosts` and `resolv.conf` files bound into the container and the json-file log;
//! `<exec-root>/containers/<id>/` the bundle (config.json, rootfs mount point) and the shim's
//! state dir.

pub mod detach_keys;
pub mod exec;
pub mod logs;
pub mod run;
pub mod spec;
pub mod stats;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::{Engine, EngineError, Result};

/// docker's zero time, shown for StartedAt/FinishedAt never set.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// docker's `State` object.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: "created".into(),
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
        }
    }
}

/// What pierd knows of one container (persisted as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// "/x"
    pub name: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    /// docker's Config (Image as the user wrote it).
    pub config: Value,
    pub host_config: Value,
    /// "sha256:…"
    pub image: String,
    pub state: State,
    #[serde(default)]
    pub restart_count: i64,
    /// Stopped by the user: `unless-stopped` and `always` do not restart it (until started).
    #[serde(default)]
    pub manually_stopped: bool,
    #[serde(default)]
    pub has_been_started: bool,
    #[serde(default)]
    pub exec_ids: Vec<String>,
}

/// What waiters watch: how many times the container exited, whether it is gone.
#[derive(Debug, Clone, Default)]
pub struct Notice {
    pub exits: u64,
    pub starts: u64,
    pub removed: bool,
    pub exit_code: i64,
    pub error: Option<String>,
}

/// A live container: its record and the channel its changes are announced on.
pub struct Ctr {
    pub id: String,
    pub rec: Mutex<Record>,
    pub notice: watch::Sender<Notice>,
    /// Serializes start/stop/remove of this container.
    pub op: tokio::sync::Mutex<()>,
    /// Attach requests made before the container started (`docker run`: attach, then start).
    pub pending_attach: Mutex<Vec<run::PendingAttach>>,
}

impl Ctr {
    pub fn rec(&self) -> std::sync::MutexGuard<'_, Record> {
        self.rec.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn snapshot(&self) -> Record {
        self.rec().clone()
    }
}

/// The containers the engine knows, by ID, plus the execs.
#[derive(Default)]
pub struct Containers {
    pub map: Mutex<HashMap<String, Arc<Ctr>>>,
    pub execs: Mutex<HashMap<String, Arc<exec::Exec>>>,
}

fn new_ctr(rec: Record) -> Arc<Ctr> {
    Arc::new(Ctr {
        id: rec.id.clone(),
        rec: Mutex::new(rec),
        notice: watch::channel(Notice::default()).0,
        op: tokio::sync::Mutex::new(()),
        pending_attach: Mutex::new(Vec::new()),
    })
}

/// `POST /containers/create`'s request, as far as the engine reads it.
pub struct CreateRequest {
    pub name: String,
    /// The body: docker's Config with `HostConfig` and `NetworkingConfig` inside.
    pub body: Value,
}

/// Options of `GET /containers/json`.
#[derive(Debug, Default)]
pub struct ListOptions {
    pub all: bool,
    pub limit: Option<usize>,
    pub size: bool,
    pub filters: BTreeMap<String, Vec<String>>,
}

const ADJECTIVES: &[&str] = &[
    "admiring",
    "brave",
    "clever",
    "dreamy",
    "eager",
    "focused",
    "gallant",
    "happy",
    "jolly",
    "keen",
    "lucid",
    "modest",
    "nifty",
    "optimistic",
    "quirky",
    "relaxed",
    "serene",
    "tender",
    "upbeat",
    "vibrant",
    "wizardly",
    "zealous",
    "bold",
    "calm",
    "elegant",
    "funny",
    "gifted",
];
const SURNAMES: &[&str] = &[
    "albattani",
    "babbage",
    "curie",
    "darwin",
    "einstein",
    "feynman",
    "galileo",
    "hopper",
    "jennings",
    "kepler",
    "lovelace",
    "meitner",
    "newton",
    "noether",
    "pasteur",
    "ritchie",
    "shannon",
    "thompson",
    "turing",
    "wozniak",
    "yalow",
    "zhukovsky",
    "bohr",
    "dijkstra",
];

fn random_name() -> String {
    let a = ADJECTIVES[rand::random_range(0..ADJECTIVES.len())];
    let s = SURNAMES[rand::random_range(0..SURNAMES.len())];
    format!("{a}_{s}")
}

fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn is_empty_list(v: &Value) -> bool {
    v.as_array().is_none_or(|a| a.is_empty())
}

/// docker's merge of the image's config into the container's (daemon `merge`).
pub fn merge_image_config(cfg: &mut Value, img: &Value) {
    if img.is_null() {
        return;
    }
    let obj = cfg.as_object_mut().expect("config object");
    for key in ["User", "WorkingDir", "StopSignal"] {
        let empty = obj
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty();
        if empty {
            if let Some(v) = img
                .get(key)
                .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            {
                obj.insert(key.into(), v.clone());
            }
        }
    }
    // Env: the image's, overridden by the user's (by key).
    let mut env = strs(&img["Env"]);
    for e in strs(obj.get("Env").unwrap_or(&Value::Null)) {
        let key = e.split('=').next().unwrap_or("").to_string();
        env.retain(|x| x.split('=').next() != Some(key.as_str()));
        env.push(e);
    }
    obj.insert("Env".into(), json!(env));
    for key in ["Labels", "ExposedPorts", "Volumes"] {
        if let Some(m) = img.get(key).and_then(Value::as_object) {
            let cur = obj.entry(key).or_insert_with(|| json!({}));
            if !cur.is_object() {
                *cur = json!({});
            }
            let cur = cur.as_object_mut().expect("object");
            for (k, v) in m {
                cur.entry(k.clone()).or_insert(v.clone());
            }
        }
    }
    let ep_empty = is_empty_list(obj.get("Entrypoint").unwrap_or(&Value::Null));
    if ep_empty {
        if is_empty_list(obj.get("Cmd").unwrap_or(&Value::Null)) {
            obj.insert("Cmd".into(), img.get("Cmd").cloned().unwrap_or(Value::Null));
        }
        if obj.get("Entrypoint").is_none_or(Value::is_null) {
            obj.insert(
                "Entrypoint".into(),
                img.get("Entrypoint").cloned().unwrap_or(Value::Null),
            );
        }
    }
    if obj.get("Healthcheck").is_none_or(Value::is_null) {
        if let Some(h) = img.get("Healthcheck") {
            obj.insert("Healthcheck".into(), h.clone());
        }
    }
}

impl Engine {
    pub(crate) fn container_dir(&self, id: &str) -> PathBuf {
        self.opts.data_root.join("containers").join(id)
    }
    /// Removed containers' directories, deleted in the background (no id starts with a dot).
    pub(crate) fn containers_trash(&self) -> PathBuf {
        self.opts.data_root.join("containers").join(".trash")
    }
    pub(crate) fn container_run_dir(&self, id: &str) -> PathBuf {
        self.opts.exec_root.join("containers").join(id)
    }
    /// The static init containers run with `--init` (installed by [`Engine::open`]).
    pub(crate) fn init_path(&self) -> PathBuf {
        self.opts.exec_root.join(pier_init::FILE_NAME)
    }
    pub(crate) fn runtime_root(&self) -> PathBuf {
        self.opts.exec_root.join("runtime")
    }

    /// The runtime a container named (`HostConfig.Runtime`): None for the built-in one, or a
    /// configured binary; docker's 400 for a name the daemon does not know.
    pub(crate) fn oci_runtime(&self, name: &str) -> Result<Option<&crate::engine::OciRuntime>> {
        if name.is_empty() || crate::engine::BUILTIN_RUNTIMES.contains(&name) {
            return Ok(None);
        }
        self.opts.runtimes.get(name).map(Some).ok_or_else(|| {
            EngineError::InvalidParameter(format!("unknown or invalid runtime name: {name}"))
        })
    }
    pub(crate) fn log_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }

    /// Loads the containers recorded in the store (at open).
    pub(crate) fn load_containers(&self) -> Result<()> {
        let mut map = self
            .containers
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (id, text) in self.store.containers()? {
            match serde_json::from_str::<Record>(&text) {
                Ok(rec) => {
                    map.insert(id, new_ctr(rec));
                }
                Err(e) => {
                    tracing::warn!(%id, error = %e, "skipping an unreadable container record")
                }
            }
        }
        Ok(())
    }

    /// docker's container lookup: full ID, exact name, then a unique ID prefix.
    pub fn container(&self, name: &str) -> Result<Arc<Ctr>> {
        let map = self
            .containers
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if name.is_empty() {
            return Err(EngineError::NoSuchContainer(name.to_string()));
        }
        if let Some(c) = map.get(name) {
            return Ok(c.clone());
        }
        let slashed = if name.starts_with('/') {
            name.to_string()
        } else {
            format!("/{name}")
        };
        if let Some(c) = map.values().find(|c| c.rec().name == slashed) {
            return Ok(c.clone());
        }
        let found: Vec<&Arc<Ctr>> = map.values().filter(|c| c.id.starts_with(name)).collect();
        match found.len() {
            1 => Ok(found[0].clone()),
            0 => Err(EngineError::NoSuchContainer(name.to_string())),
            _ => Err(EngineError::InvalidParameter(format!(
                "multiple IDs found with provided prefix: {name}"
            ))),
        }
    }

    /// Writes a container's record to the store.
    pub(crate) fn save(&self, rec: &Record) -> Result<()> {
        let text =
            serde_json::to_string(rec).map_err(|e| EngineError::system("encode container", e))?;
        self.store.update_container(&rec.id, &rec.name, &text)?;
        Ok(())
    }

    pub(crate) fn container_event(&self, rec: &Record, action: &str, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::new();
        if let Some(l) = rec.config["Labels"].as_object() {
            for (k, v) in l {
                attrs.insert(k.clone(), v.as_str().unwrap_or("").to_string());
            }
        }
        attrs.insert(
            "image".into(),
            rec.config["Image"].as_str().unwrap_or("").to_string(),
        );
        attrs.insert("name".into(), rec.name.trim_start_matches('/').to_string());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.publish("container", action, &rec.id, attrs);
    }

    /// `POST /containers/create`: returns the new ID and warnings.
    pub fn create_container(&self, req: CreateRequest) -> Result<(String, Vec<String>)> {
        let mut body = req.body;
        if !body.is_object() {
            return Err(EngineError::InvalidParameter(
                "config cannot be empty in order to create a container".into(),
            ));
        }
        let obj = body.as_object_mut().expect("object");
        let mut hc = obj.remove("HostConfig").unwrap_or_else(|| json!({}));
        if !hc.is_object() {
            hc = json!({});
        }
        let netcfg = obj.remove("NetworkingConfig").unwrap_or(Value::Null);
        let image_name = obj
            .get("Image")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if image_name.is_empty() {
            return Err(EngineError::InvalidParameter("No command specified".into()));
        }
        if !req.name.is_empty() && !valid_name(req.name.trim_start_matches('/')) {
            return Err(EngineError::InvalidParameter(format!(
                "Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                req.name
            )));
        }
        validate_host_config(&hc)?;
        self.oci_runtime(hc["Runtime"].as_str().unwrap_or(""))?;
        let image_id = self.resolve_image(&image_name)?;
        let image = self
            .store
            .image(&image_id)?
            .ok_or_else(|| EngineError::NoSuchImage(image_name.clone()))?;
        let img_cfg: Value = serde_json::from_str(&image.config)
            .map_err(|e| EngineError::system("image config", e))?;
        let id = hex::encode(rand::random::<[u8; 32]>());
        let mut cfg = body;
        merge_image_config(&mut cfg, &img_cfg["config"]);
        if cfg["Hostname"].as_str().unwrap_or("").is_empty() {
            cfg["Hostname"] = json!(id[..12]);
        }
        let mut argv: Vec<String> = strs(&cfg["Entrypoint"]);
        argv.extend(strs(&cfg["Cmd"]));
        if argv.is_empty() {
            return Err(EngineError::InvalidParameter("no command specified".into()));
        }
        normalize_host_config(&mut hc);
        let endpoints = self.net_on_create(&cfg, &hc, &netcfg)?;
        let name = if req.name.is_empty() {
            loop {
                let n = format!("/{}", random_name());
                if self.store.container_by_name(&n)?.is_none() {
                    break n;
                }
            }
        } else {
            format!("/{}", req.name.trim_start_matches('/'))
        };
        let rec = Record {
            id: id.clone(),
            name: name.clone(),
            created: now_rfc3339(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config: cfg,
            host_config: hc,
            image: image_id,
            state: State::default(),
            restart_count: 0,
            manually_stopped: false,
            has_been_started: false,
            exec_ids: Vec::new(),
        };
        let dir = self.container_dir(&id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| EngineError::system("create container dir", e))?;
        let text =
            serde_json::to_string(&rec).map_err(|e| EngineError::system("encode container", e))?;
        if !self.store.insert_container(&id, &name, &text, &rec.image)? {
            let _ = std::fs::remove_dir_all(&dir);
            let other = self.store.container_by_name(&name)?.unwrap_or_default();
            return Err(EngineError::Conflict(format!(
                "Conflict. The container name \"{name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        self.net_record(&id, endpoints)?;
        self.container_event(&rec, "create", &[]);
        self.containers
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), new_ctr(rec));
        Ok((id, Vec::new()))
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect_container(&self, name: &str, size: bool) -> Result<Value> {
        let c = self.container(name)?;
        let rec = c.snapshot();
        let dir = self.container_dir(&rec.id);
        let mut state = serde_json::to_value(&rec.state).expect("state");
        if !rec.state.running && rec.state.status == "running" {
            state["Status"] = json!("exited");
        }
        let layers = self.store.container_layers(&rec.id).unwrap_or_default();
        let lower: Vec<String> = layers
            .iter()
            .rev()
            .filter_map(|(chain, _)| chain.parse().ok())
            .map(|d| self.snapshots.layer_dir(&d).display().to_string())
            .collect();
        let mut host_config = rec.host_config.clone();
        if host_config.get("Links").is_some() {
            host_config["Links"] = self.net_inspect_links(&rec);
        }
        let mut v = json!({
            "Id": rec.id,
            "Created": rec.created,
            "Path": rec.path,
            "Args": rec.args,
            "State": state,
            "Image": rec.image,
            "ResolvConfPath": dir.join("resolv.conf").display().to_string(),
            "HostnamePath": dir.join("hostname").display().to_string(),
            "HostsPath": dir.join("hosts").display().to_string(),
            "LogPath": self.log_path(&rec.id).display().to_string(),
            "Name": rec.name,
            "RestartCount": rec.restart_count,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": if rec.exec_ids.is_empty() { Value::Null } else { json!(rec.exec_ids) },
            "HostConfig": host_config,
            "GraphDriver": {
                "Data": {
                    "LowerDir": lower.join(":"),
                    "MergedDir": self.container_run_dir(&rec.id).join("bundle/rootfs").display().to_string(),
                    "UpperDir": dir.join("upper").display().to_string(),
                    "WorkDir": dir.join("work").display().to_string(),
                },
                "Name": "overlay2",
            },
            "Mounts": mounts_of(&rec.host_config),
            "Config": rec.config,
            "NetworkSettings": self.net_settings(&rec),
        });
        if size {
            let rw = dir_size(&dir.join("upper"));
            v["SizeRw"] = json!(rw);
            v["SizeRootFs"] = json!(rw + layers.iter().map(|(_, size)| size).sum::<i64>());
        }
        Ok(v)
    }

    /// `GET /containers/json`.
    pub fn list_containers(&self, opts: &ListOptions) -> Result<Vec<Value>> {
        for k in opts.filters.keys() {
            if !matches!(
                k.as_str(),
                "id" | "name"
                    | "label"
                    | "status"
                    | "ancestor"
                    | "exited"
                    | "before"
                    | "since"
                    | "health"
                    | "network"
                    | "volume"
                    | "publish"
                    | "expose"
                    | "isolation"
                    | "is-task"
            ) {
                return Err(EngineError::InvalidParameter(format!(
                    "invalid filter '{k}'"
                )));
            }
        }
        if let Some(st) = opts.filters.get("status") {
            for s in st {
                if !matches!(
                    s.as_str(),
                    "created"
                        | "restarting"
                        | "running"
                        | "removing"
                        | "paused"
                        | "exited"
                        | "dead"
                ) {
                    return Err(EngineError::InvalidParameter(format!(
                        "invalid filter 'status={s}'"
                    )));
                }
            }
        }
        let all: Vec<Record> = {
            let map = self
                .containers
                .map
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            map.values().map(|c| c.snapshot()).collect()
        };
        let mut all = all;
        all.sort_by(|a, b| b.created.cmp(&a.created));
        // A legacy link gives its target a second name, `/<linker>/<alias>` (docker's
        // registerLinks); `ps` lists it among the target's names.
        let mut link_names: HashMap<String, Vec<String>> = HashMap::new();
        for rec in &all {
            for (target, name) in self.net_link_names(rec) {
                link_names.entry(target).or_default().push(name);
            }
        }
        let f = &opts.filters;
        let created_of =
            |name: &str| -> Result<String> { Ok(self.container(name)?.rec().created.clone()) };
        let before = f
            .get("before")
            .and_then(|v| v.first())
            .map(|n| created_of(n))
            .transpose()?;
        let since = f
            .get("since")
            .and_then(|v| v.first())
            .map(|n| created_of(n))
            .transpose()?;
        let ancestors: Vec<String> = f
            .get("ancestor")
            .map(|v| {
                v.iter()
                    .filter_map(|a| self.resolve_image(a).ok())
                    .collect()
            })
            .unwrap_or_default();
        let mut out = Vec::new();
        for rec in all {
            let status = display_status(&rec.state);
            let all_implied = opts.all
                || f.contains_key("status")
                || f.contains_key("exited")
                || opts.limit.is_some();
            if !all_implied && !rec.state.running {
                continue;
            }
            if let Some(ids) = f.get("id") {
                if !ids.iter().any(|i| rec.id.starts_with(i.as_str())) {
                    continue;
                }
            }
            if let Some(names) = f.get("name") {
                let n = rec.name.trim_start_matches('/');
                if !names.iter().any(|p| {
                    regex::Regex::new(p.trim_start_matches('/'))
                        .map(|r| r.is_match(n))
                        .unwrap_or(false)
                }) {
                    continue;
                }
            }
            if let Some(labels) = f.get("label") {
                let l = &rec.config["Labels"];
                if !labels.iter().all(|want| match want.split_once('=') {
                    Some((k, v)) => l[k].as_str() == Some(v),
                    None => l.get(want.as_str()).is_some(),
                }) {
                    continue;
                }
            }
            if let Some(st) = f.get("status") {
                if !st.contains(&status) {
                    continue;
                }
            }
            if let Some(ex) = f.get("exited") {
                if status != "exited"
                    || !ex
                        .iter()
                        .any(|e| e.parse::<i64>().ok() == Some(rec.state.exit_code))
                {
                    continue;
                }
            }
            if let Some(b) = &before {
                if rec.created >= *b {
                    continue;
                }
            }
            if let Some(s) = &since {
                if rec.created <= *s {
                    continue;
                }
            }
            if f.contains_key("ancestor") && !ancestors.contains(&rec.image) {
                continue;
            }
            if let Some(nets) = f.get("network") {
                if !self.net_matches(&rec.id, nets) {
                    continue;
                }
            }
            let mut names = link_names.remove(&rec.id).unwrap_or_default();
            names.push(rec.name.clone());
            // In name order, as docker's name index lists them.
            names.sort();
            out.push(self.summary(&rec, names, opts.size));
            if opts.limit.is_some_and(|l| l > 0 && out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }

    fn summary(&self, rec: &Record, names: Vec<String>, size: bool) -> Value {
        let mut command = shell_join(&rec.path);
        for a in &rec.args {
            command.push(' ');
            command.push_str(&shell_join(a));
        }
        let created = crate::engine::time::parse(&rec.created).map_or(0, |t| t.timestamp());
        let network_mode = rec.host_config["NetworkMode"]
            .as_str()
            .unwrap_or("bridge")
            .to_string();
        let (ports, net_settings) = self.net_summary(rec);
        let mut v = json!({
            "Id": rec.id,
            "Names": names,
            "Image": rec.config["Image"],
            "ImageID": rec.image,
            "Command": command,
            "Created": created,
            "Ports": ports,
            "Labels": if rec.config["Labels"].is_object() { rec.config["Labels"].clone() } else { json!({}) },
            "State": display_status(&rec.state),
            "Status": status_text(&rec.state),
            "HostConfig": {"NetworkMode": network_mode},
            "NetworkSettings": net_settings,
            "Mounts": mounts_of(&rec.host_config),
        });
        if size {
            let rw = dir_size(&self.container_dir(&rec.id).join("upper"));
            let layers: i64 = self
                .store
                .container_layers(&rec.id)
                .unwrap_or_default()
                .iter()
                .map(|(_, size)| size)
                .sum();
            v["SizeRw"] = json!(rw);
            v["SizeRootFs"] = json!(rw + layers);
        }
        v
    }

    /// Counts for `/info`: (total, running, paused, stopped).
    pub fn container_counts(&self) -> (i64, i64, i64, i64) {
        let map = self
            .containers
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (mut r, mut p, mut s) = (0, 0, 0);
        for c in map.values() {
            let st = c.rec().state.clone();
            if st.paused {
                p += 1;
            } else if st.running {
                r += 1;
            } else {
                s += 1;
            }
        }
        (map.len() as i64, r, p, s)
    }
}

pub(crate) fn validate_host_config(hc: &Value) -> Result<()> {
    let rp = &hc["RestartPolicy"];
    let name = rp["Name"].as_str().unwrap_or("");
    let max = rp["MaximumRetryCount"].as_i64().unwrap_or(0);
    match name {
        "" | "no" | "always" | "unless-stopped" | "on-failure" => {}
        other => {
            return Err(EngineError::InvalidParameter(format!(
                "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
            )))
        }
    }
    if max != 0 && name != "on-failure" {
        return Err(EngineError::InvalidParameter(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                .to_string(),
        ));
    }
    if max < 0 {
        return Err(EngineError::InvalidParameter(
            "invalid restart policy: maximum retry count must be a positive integer".into(),
        ));
    }
    if hc["AutoRemove"].as_bool().unwrap_or(false) && !matches!(name, "" | "no") {
        return Err(EngineError::InvalidParameter(
            "can't create 'AutoRemove' container with restart policy".into(),
        ));
    }
    let mem = hc["Memory"].as_i64().unwrap_or(0);
    if mem < 0 {
        return Err(EngineError::InvalidParameter("invalid memory limit".into()));
    }
    if mem > 0 && mem < 6 * 1024 * 1024 {
        return Err(EngineError::InvalidParameter(
            "Minimum memory limit allowed is 6MB".into(),
        ));
    }
    let swap = hc["MemorySwap"].as_i64().unwrap_or(0);
    if mem > 0 && swap > 0 && swap < mem {
        return Err(EngineError::InvalidParameter(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        ));
    }
    Ok(())
}

/// The HostConfig as docker shows it in inspect (defaults filled in).
fn normalize_host_config(hc: &mut Value) {
    let o = hc.as_object_mut().expect("object");
    let nm = o.get("NetworkMode").and_then(Value::as_str).unwrap_or("");
    if nm.is_empty() || nm == "default" {
        o.insert("NetworkMode".into(), json!("bridge"));
    }
    let lc = o.entry("LogConfig").or_insert_with(|| json!({}));
    if lc["Type"].as_str().unwrap_or("").is_empty() {
        lc["Type"] = json!("json-file");
    }
    if !lc["Config"].is_object() {
        lc["Config"] = json!({});
    }
    let rp = o.entry("RestartPolicy").or_insert_with(|| json!({}));
    if rp["Name"].as_str().unwrap_or("").is_empty() {
        rp["Name"] = json!("no");
    }
    if !rp["MaximumRetryCount"].is_number() {
        rp["MaximumRetryCount"] = json!(0);
    }
    if o.get("ShmSize").and_then(Value::as_i64).unwrap_or(0) == 0 {
        o.insert("ShmSize".into(), json!(67108864));
    }
    o.entry("Runtime").or_insert(json!("runc"));
    if o.get("Runtime").and_then(Value::as_str) == Some("") {
        o.insert("Runtime".into(), json!("runc"));
    }
    for (k, v) in [
        ("CgroupnsMode", json!("private")),
        ("IpcMode", json!("private")),
        ("Isolation", json!("")),
        ("PidMode", json!("")),
        ("Privileged", json!(false)),
        ("ReadonlyRootfs", json!(false)),
        ("AutoRemove", json!(false)),
        ("ConsoleSize", json!([0, 0])),
    ] {
        let cur = o.entry(k).or_insert(v.clone());
        if cur.is_null() || cur.as_str() == Some("") {
            *cur = v;
        }
    }
    o.insert(
        "MaskedPaths".into(),
        json!([
            "/proc/asound",
            "/proc/acpi",
            "/proc/interrupts",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/proc/scsi",
            "/sys/firmware",
            "/sys/devices/virtual/powercap"
        ]),
    );
    o.insert(
        "ReadonlyPaths".into(),
        json!([
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger"
        ]),
    );
}

fn mounts_of(hc: &Value) -> Value {
    let mut out = Vec::new();
    for b in strs(&hc["Binds"]) {
        let p: Vec<&str> = b.split(':').collect();
        if p.len() >= 2 {
            let mode = p.get(2).copied().unwrap_or("");
            out.push(json!({
                "Type": "bind", "Source": p[0], "Destination": p[1], "Mode": mode,
                "RW": !mode.split(',').any(|m| m == "ro"), "Propagation": "rprivate",
            }));
        }
    }
    json!(out)
}

fn dir_size(p: &std::path::Path) -> i64 {
    let mut total = 0i64;
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    for e in rd.flatten() {
        let Ok(md) = e.metadata() else { continue };
        if md.is_dir() {
            total += dir_size(&e.path());
        } else if md.is_file() {
            total += md.len() as i64;
        }
    }
    total
}

/// docker's `State` string of `ps` / filters.
pub fn display_status(s: &State) -> String {
    if s.paused {
        "paused".into()
    } else if s.restarting {
        "restarting".into()
    } else if s.running {
        "running".into()
    } else if s.dead {
        "dead".into()
    } else if s.status == "created" {
        "created".into()
    } else {
        "exited".into()
    }
}

/// docker's `units.HumanDuration`.
pub fn human_duration(d: chrono::Duration) -> String {
    pier_api::units::human_duration(d.num_milliseconds() as f64 / 1000.0)
}

fn since(t: &str) -> chrono::Duration {
    crate::engine::time::parse(t).map_or(chrono::Duration::zero(), |t| {
        chrono::Utc::now().signed_duration_since(t)
    })
}

/// docker's `Status` column: "Up 2 seconds", "Exited (0) 3 seconds ago", "Created".
pub fn status_text(s: &State) -> String {
    if s.running {
        if s.paused {
            return format!("Up {} (Paused)", human_duration(since(&s.started_at)));
        }
        if s.restarting {
            return format!(
                "Restarting ({}) {} ago",
                s.exit_code,
                human_duration(since(&s.finished_at))
            );
        }
        return format!("Up {}", human_duration(since(&s.started_at)));
    }
    if s.restarting {
        return format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            human_duration(since(&s.finished_at))
        );
    }
    if s.dead {
        return "Dead".into();
    }
    if s.status == "created" || s.finished_at == ZERO_TIME {
        return "Created".into();
    }
    format!(
        "Exited ({}) {} ago",
        s.exit_code,
        human_duration(since(&s.finished_at))
    )
}

fn shell_join(s: &str) -> String {
    if s.is_empty() || s.contains(char::is_whitespace) {
        format!("'{}'", s.replace('\'', "'\\''"))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_follows_docker() {
        let img = json!({"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "WorkingDir": "/w", "Labels": {"x": "1"}});
        let mut c =
            json!({"Image": "busybox", "Cmd": ["echo", "hi"], "Env": ["A=2"], "Entrypoint": null});
        merge_image_config(&mut c, &img);
        assert_eq!(c["Cmd"], json!(["echo", "hi"]));
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=2"]));
        assert_eq!(c["WorkingDir"], "/w");
        assert_eq!(c["Labels"]["x"], "1");
        let mut c = json!({"Image": "busybox", "Cmd": null});
        merge_image_config(&mut c, &img);
        assert_eq!(c["Cmd"], json!(["sh"]));
        let img = json!({"Entrypoint": ["/e"], "Cmd": ["a"]});
        let mut c = json!({"Entrypoint": ["/x"], "Cmd": null});
        merge_image_config(&mut c, &img);
        assert_eq!(c["Cmd"], Value::Null);
        assert_eq!(c["Entrypoint"], json!(["/x"]));
    }

    #[test]
    fn statuses_read_like_docker() {
        assert_eq!(human_duration(chrono::Duration::seconds(2)), "2 seconds");
        assert_eq!(
            human_duration(chrono::Duration::seconds(90)),
            "About a minute"
        );
        assert_eq!(human_duration(chrono::Duration::minutes(5)), "5 minutes");
        let s = State::default();
        assert_eq!(status_text(&s), "Created");
        assert_eq!(display_status(&s), "created");
        assert!(valid_name("ab") && !valid_name("-a") && !valid_name("a b"));
        assert!(validate_host_config(&json!({"RestartPolicy": {"Name": "sometimes"}})).is_err());
        assert!(validate_host_config(&json!({"Memory": 1024})).is_err());
    }
}
