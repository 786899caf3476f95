//! `docker version` and `docker info`: what pier is and what the host and the store hold.

use std::collections::BTreeMap;

use pier_api::models::system::{
    Commit, ComponentVersion, FirewallInfo, IndexInfo, PlatformName, PluginsInfo, RegistryConfig,
    RuntimeInfo, SwarmInfo, SystemInfo, SystemVersion,
};
use pier_api::{API_VERSION, MIN_API_VERSION};

use super::{host, time, Engine, Result};

/// The Docker Engine release whose API and behaviour pier follows; the docker CLI and tools
/// that look at the server version see a docker 28.2 compatible engine, marked as pier.
pub const ENGINE_VERSION: &str = "28.2.2-pier";
pub const PIER_VERSION: &str = env!("CARGO_PKG_VERSION");

impl Engine {
    pub fn version(&self) -> SystemVersion {
        let kernel = host::kernel_version();
        let mut details = BTreeMap::new();
        details.insert("ApiVersion".into(), API_VERSION.into());
        details.insert("Arch".into(), host::go_arch().into());
        details.insert("BuildTime".into(), String::new());
        details.insert("Experimental".into(), "false".into());
        details.insert("GitCommit".into(), String::new());
        details.insert("GoVersion".into(), "rust".into());
        details.insert("KernelVersion".into(), kernel.clone());
        details.insert("MinAPIVersion".into(), MIN_API_VERSION.into());
        details.insert("Os".into(), "linux".into());
        details.insert("PierVersion".into(), PIER_VERSION.into());
        SystemVersion {
            platform: PlatformName {
                name: format!("Pier Engine {PIER_VERSION}"),
            },
            components: vec![ComponentVersion {
                name: "Engine".into(),
                version: ENGINE_VERSION.into(),
                details,
            }],
            version: ENGINE_VERSION.into(),
            api_version: API_VERSION.into(),
            min_api_version: MIN_API_VERSION.into(),
            git_commit: String::new(),
            go_version: "rust".into(),
            os: "linux".into(),
            arch: host::go_arch().into(),
            kernel_version: kernel,
            build_time: String::new(),
        }
    }

    pub fn info(&self) -> Result<SystemInfo> {
        let images = self.store.count_images()?;
        let counts = self.container_counts();
        let (operating_system, os_version) = host::operating_system();
        let data_root = self.opts.data_root.display().to_string();
        let mut runtimes = BTreeMap::new();
        runtimes.insert(
            "runc".to_string(),
            RuntimeInfo {
                path: "runc".into(),
                runtime_args: Vec::new(),
                status: None,
            },
        );
        for (name, rt) in &self.opts.runtimes {
            runtimes.insert(
                name.clone(),
                RuntimeInfo {
                    path: rt.path.display().to_string(),
                    runtime_args: rt.args.clone(),
                    status: None,
                },
            );
        }
        Ok(SystemInfo {
            id: self.engine_id.clone(),
            containers: counts.0,
            containers_running: counts.1,
            containers_paused: counts.2,
            containers_stopped: counts.3,
            images,
            driver: "overlay2".into(),
            driver_status: vec![
                [
                    "Backing Filesystem".into(),
                    host::backing_filesystem(&self.opts.data_root),
                ],
                ["Supports d_type".into(), "true".into()],
                ["Using metacopy".into(), "false".into()],
                ["Native Overlay Diff".into(), "true".into()],
                ["userxattr".into(), "false".into()],
            ],
            plugins: PluginsInfo {
                volume: vec!["local".into()],
                network: vec!["bridge".into(), "host".into(), "null".into()],
                authorization: None,
                log: vec!["json-file".into()],
            },
            memory_limit: true,
            swap_limit: true,
            cpu_cfs_period: true,
            cpu_cfs_quota: true,
            cpu_shares: true,
            cpu_set: true,
            pids_limit: true,
            ipv4_forwarding: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                .map(|s| s.trim() == "1")
                .unwrap_or(false),
            debug: self.opts.debug,
            nfd: std::fs::read_dir("/proc/self/fd")
                .map(|d| d.count() as i64)
                .unwrap_or(0),
            oom_kill_disable: false,
            ngoroutines: std::fs::read_dir("/proc/self/task")
                .map(|d| d.count() as i64)
                .unwrap_or(0),
            system_time: time::now_rfc3339_nano(),
            logging_driver: "json-file".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: host::cgroup_version(),
            nevents_listener: 0,
            kernel_version: host::kernel_version(),
            operating_system,
            os_version,
            os_type: "linux".into(),
            architecture: host::architecture().into(),
            index_server_address: "https://index.docker.io/v1/".into(),
            registry_config: self.registry_config(),
            ncpu: host::ncpu(),
            mem_total: host::mem_total(),
            generic_resources: None,
            docker_root_dir: data_root,
            http_proxy: std::env::var("HTTP_PROXY").unwrap_or_default(),
            https_proxy: std::env::var("HTTPS_PROXY").unwrap_or_default(),
            no_proxy: std::env::var("NO_PROXY").unwrap_or_default(),
            name: host::hostname(),
            labels: Vec::new(),
            experimental_build: false,
            server_version: ENGINE_VERSION.into(),
            runtimes,
            default_runtime: "runc".into(),
            swarm: SwarmInfo::inactive(),
            live_restore_enabled: false,
            isolation: String::new(),
            init_binary: "docker-init".into(),
            containerd_commit: Commit::default(),
            runc_commit: Commit::default(),
            init_commit: Commit::default(),
            security_options: vec!["name=seccomp,profile=builtin".into()],
            cdi_spec_dirs: Vec::new(),
            firewall_backend: self.networks.backend().map(|b| FirewallInfo {
                driver: b.as_str().into(),
                info: Vec::new(),
            }),
            warnings: None,
        })
    }

    /// docker's registry view: loopback CIDRs are always insecure; `--insecure-registry` values
    /// are CIDRs (added to the list) or host[:port] names (an insecure index each).
    fn registry_config(&self) -> RegistryConfig {
        let mut cidrs = vec!["::1/128".to_string(), "127.0.0.0/8".to_string()];
        let mut index_configs = BTreeMap::new();
        index_configs.insert(
            "docker.io".to_string(),
            IndexInfo {
                mirrors: Vec::new(),
                name: "docker.io".into(),
                official: true,
                secure: true,
            },
        );
        for r in &self.opts.insecure_registries {
            if r.contains('/') {
                if !cidrs.contains(r) {
                    cidrs.push(r.clone());
                }
            } else {
                index_configs.insert(
                    r.clone(),
                    IndexInfo {
                        mirrors: Vec::new(),
                        name: r.clone(),
                        official: false,
                        secure: false,
                    },
                );
            }
        }
        RegistryConfig {
            index_configs,
            insecure_registry_cidrs: cidrs,
            mirrors: None,
        }
    }
}
