//! The engine: every decision pierd makes lives here, one module per noun (and, for images, one
//! file per verb). It owns the metadata [`Store`] and the on-disk components (content store,
//! snapshots, registry client) and answers the API layer with plain values or an
//! [`EngineError`]. It knows nothing of HTTP.

pub mod auth;
pub mod containers;
pub mod error;
pub mod events;
pub mod filters;
pub mod host;
pub mod images;
pub mod networks;
pub mod reconcile;
pub mod system;
pub mod time;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pier_image::{ContentStore, Digest, Snapshots};
use pier_registry::{Client, ClientOptions};

pub use error::{EngineError, Result};

use crate::store::Store;

/// What the engine needs to know about the daemon's configuration.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub insecure_registries: Vec<String>,
    pub debug: bool,
    /// The cgroup every container's cgroup goes under (`--cgroup-parent`, default "/pier").
    pub cgroup_parent: String,
    /// OCI runtimes besides the built-in one (`runtimes` in daemon.json, `--add-runtime`).
    pub runtimes: BTreeMap<String, OciRuntime>,
    pub net: networks::NetOptions,
}

/// A runc-compatible runtime binary a container may choose with `--runtime NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRuntime {
    /// The binary (a bare name is looked up in PATH).
    pub path: PathBuf,
    /// Global options given before the command (daemon.json `runtimeArgs`).
    pub args: Vec<String>,
}

/// The runtime names that mean pier's built-in runtime (dockerd's stock names).
pub const BUILTIN_RUNTIMES: &[&str] = &["runc", "io.containerd.runc.v2"];

pub struct Engine {
    pub(crate) opts: EngineOptions,
    pub(crate) store: Store,
    pub(crate) content: ContentStore,
    pub(crate) snapshots: Snapshots,
    pub(crate) registry: Client,
    pub(crate) engine_id: String,
    pub(crate) events: events::EventBus,
    /// One lock per layer (chain ID) being unpacked, so concurrent pulls sharing a layer unpack
    /// it once.
    layer_locks: Mutex<HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
    /// Serializes deletions and the recording of new images, so a delete never removes a layer
    /// a pull is about to record.
    pub(crate) image_lock: tokio::sync::Mutex<()>,
    pub(crate) containers: containers::Containers,
    pub(crate) networks: networks::Networks,
}

impl Engine {
    /// Opens the data root (`pier.db`, `content/`, `snapshots/`), cleaning what a crash may have
    /// left (see [`reconcile`]).
    pub fn open(opts: EngineOptions) -> Result<Engine> {
        let root = &opts.data_root;
        create_dir(root)?;
        create_dir(&opts.exec_root)?;
        pier_init::install(&opts.exec_root)
            .map_err(|e| EngineError::system("install the container init (pier-init)", e))?;
        let store = Store::open(&root.join("pier.db"))?;
        let content = ContentStore::open(root.join("content"))?;
        let snapshots = Snapshots::open(root.join("snapshots"))?;
        let registry = Client::new(ClientOptions {
            insecure_registries: opts.insecure_registries.clone(),
            user_agent: format!(
                "pier/{} (docker-compatible; engine {})",
                system::PIER_VERSION,
                system::ENGINE_VERSION
            ),
        })?;
        let engine_id = match store.setting("engine-id")? {
            Some(id) => id,
            None => {
                let id = new_uuid();
                store.set_setting("engine-id", &id)?;
                id
            }
        };
        let networks = networks::Networks::new(opts.net.clone());
        let engine = Engine {
            opts,
            networks,
            store,
            content,
            snapshots,
            registry,
            engine_id,
            events: events::EventBus::default(),
            layer_locks: Mutex::new(HashMap::new()),
            image_lock: tokio::sync::Mutex::new(()),
            containers: containers::Containers::default(),
        };
        engine.reconcile()?;
        engine.load_containers()?;
        Ok(engine)
    }

    /// The lock for unpacking the layer `chain`.
    pub(crate) fn layer_lock(&self, chain: &Digest) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.layer_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(chain.clone()).or_default().clone()
    }
}

fn create_dir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p)
        .map_err(|e| EngineError::system(&format!("create {}", p.display()), e))
}

/// A random (version 4) UUID, as dockerd's engine ID.
fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Runs blocking work (disk, SQLite) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EngineError::system("blocking task", e))?
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn engine(dir: &Path) -> Engine {
        Engine::open(EngineOptions {
            data_root: dir.join("data"),
            exec_root: dir.join("exec"),
            insecure_registries: vec!["reg.local:5000".into(), "10.0.0.0/8".into()],
            debug: false,
            cgroup_parent: "/pier-unit".into(),
            runtimes: BTreeMap::new(),
            net: networks::NetOptions::disabled(),
        })
        .unwrap()
    }

    #[test]
    fn engine_id_is_a_stable_uuid() {
        let dir = tempfile::tempdir().unwrap();
        let id = engine(dir.path()).engine_id.clone();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_eq!(engine(dir.path()).engine_id, id);
    }

    #[test]
    fn info_reports_store_and_registries() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(dir.path());
        let info = e.info().unwrap();
        assert_eq!(info.images, 0);
        assert_eq!(info.driver, "overlay2");
        assert_eq!(
            info.docker_root_dir,
            dir.path().join("data").display().to_string()
        );
        assert!(info.ncpu >= 1);
        assert!(info.mem_total > 0);
        assert!(["1", "2"].contains(&info.cgroup_version.as_str()));
        let rc = &info.registry_config;
        assert_eq!(
            rc.insecure_registry_cidrs,
            vec!["::1/128", "127.0.0.0/8", "10.0.0.0/8"]
        );
        assert!(!rc.index_configs["reg.local:5000"].secure);
        assert!(rc.index_configs["docker.io"].official);
        let v = serde_json::to_value(&info).unwrap();
        assert_eq!(v["Swarm"]["LocalNodeState"], "inactive");
        let ver = serde_json::to_value(e.version()).unwrap();
        assert_eq!(ver["ApiVersion"], "1.50");
        assert_eq!(ver["MinAPIVersion"], "1.24");
        assert_eq!(ver["Components"][0]["Name"], "Engine");
    }
}
