//! Image responses: `GET /images/json` ([`ImageSummary`]), `GET /images/{name}/json`
//! ([`ImageInspect`]), `GET /images/{name}/history` ([`HistoryItem`]), `DELETE /images/{name}`
//! ([`DeleteItem`]) and `POST /images/prune` ([`PruneReport`]); and [`ImageConfig`], the `config`
//! object of an image configuration blob as docker and OCI define it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{is_empty_str, is_none_or_empty_map, is_none_or_empty_vec};

/// One entry of `GET /images/json` (docker 28's `image.Summary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSummary {
    #[serde(rename = "Containers")]
    pub containers: i64,
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "ParentId")]
    pub parent_id: String,
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Vec<String>,
    #[serde(rename = "RepoTags")]
    pub repo_tags: Vec<String>,
    #[serde(rename = "SharedSize")]
    pub shared_size: i64,
    #[serde(rename = "Size")]
    pub size: i64,
    /// Only for API < 1.44 (equal to `Size`).
    #[serde(
        rename = "VirtualSize",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub virtual_size: Option<i64>,
}

/// The `config` object of an image configuration (OCI `config` plus docker's extensions).
/// Serialized as docker 28.2+ does for API >= 1.50: empty fields omitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(rename = "User", default, skip_serializing_if = "is_empty_str")]
    pub user: String,
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "is_none_or_empty_map"
    )]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "Env", default, skip_serializing_if = "is_none_or_empty_vec")]
    pub env: Option<Vec<String>>,
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "is_none_or_empty_vec"
    )]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "is_none_or_empty_vec")]
    pub cmd: Option<Vec<String>>,
    #[serde(
        rename = "Volumes",
        default,
        skip_serializing_if = "is_none_or_empty_map"
    )]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "WorkingDir", default, skip_serializing_if = "is_empty_str")]
    pub working_dir: String,
    #[serde(
        rename = "Labels",
        default,
        skip_serializing_if = "is_none_or_empty_map"
    )]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "StopSignal", default, skip_serializing_if = "is_empty_str")]
    pub stop_signal: String,
    #[serde(
        rename = "ArgsEscaped",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub args_escaped: bool,
    #[serde(
        rename = "Healthcheck",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthcheck: Option<serde_json::Value>,
    #[serde(
        rename = "OnBuild",
        default,
        skip_serializing_if = "is_none_or_empty_vec"
    )]
    pub on_build: Option<Vec<String>>,
    #[serde(
        rename = "Shell",
        default,
        skip_serializing_if = "is_none_or_empty_vec"
    )]
    pub shell: Option<Vec<String>>,
}

impl ImageConfig {
    /// The shape dockerd sent before API 1.50: the container `Config` object with its
    /// non-image fields present and empty, `null` for unset lists and maps.
    pub fn to_legacy(&self) -> LegacyImageConfig {
        LegacyImageConfig {
            hostname: String::new(),
            domainname: String::new(),
            user: self.user.clone(),
            attach_stdin: false,
            attach_stdout: false,
            attach_stderr: false,
            exposed_ports: self.exposed_ports.clone().filter(|p| !p.is_empty()),
            tty: false,
            open_stdin: false,
            stdin_once: false,
            env: self.env.clone(),
            cmd: self.cmd.clone(),
            healthcheck: self.healthcheck.clone(),
            args_escaped: self.args_escaped,
            image: String::new(),
            volumes: self.volumes.clone(),
            working_dir: self.working_dir.clone(),
            entrypoint: self.entrypoint.clone(),
            on_build: self.on_build.clone(),
            labels: self.labels.clone(),
            stop_signal: self.stop_signal.clone(),
            shell: self.shell.clone().filter(|s| !s.is_empty()),
        }
    }
}

/// An image's `Config` as dockerd sent it before API 1.50 (docker's container `Config` shape).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LegacyImageConfig {
    #[serde(rename = "Hostname")]
    pub hostname: String,
    #[serde(rename = "Domainname")]
    pub domainname: String,
    #[serde(rename = "User")]
    pub user: String,
    #[serde(rename = "AttachStdin")]
    pub attach_stdin: bool,
    #[serde(rename = "AttachStdout")]
    pub attach_stdout: bool,
    #[serde(rename = "AttachStderr")]
    pub attach_stderr: bool,
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "Tty")]
    pub tty: bool,
    #[serde(rename = "OpenStdin")]
    pub open_stdin: bool,
    #[serde(rename = "StdinOnce")]
    pub stdin_once: bool,
    #[serde(rename = "Env")]
    pub env: Option<Vec<String>>,
    #[serde(rename = "Cmd")]
    pub cmd: Option<Vec<String>>,
    #[serde(
        rename = "Healthcheck",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthcheck: Option<serde_json::Value>,
    #[serde(
        rename = "ArgsEscaped",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub args_escaped: bool,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "Volumes")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "WorkingDir")]
    pub working_dir: String,
    #[serde(rename = "Entrypoint")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "OnBuild")]
    pub on_build: Option<Vec<String>>,
    #[serde(rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "StopSignal", default, skip_serializing_if = "is_empty_str")]
    pub stop_signal: String,
    #[serde(rename = "Shell", default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// `Config` of an inspect response, in the shape of the API version asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InspectConfig {
    /// API < 1.50 (tried first when reading: it has the more specific shape).
    Legacy(LegacyImageConfig),
    /// API >= 1.50.
    Current(ImageConfig),
}

impl InspectConfig {
    /// The image config proper, whatever the shape.
    pub fn image_config(&self) -> ImageConfig {
        match self {
            InspectConfig::Current(c) => c.clone(),
            InspectConfig::Legacy(l) => ImageConfig {
                user: l.user.clone(),
                exposed_ports: l.exposed_ports.clone(),
                env: l.env.clone(),
                entrypoint: l.entrypoint.clone(),
                cmd: l.cmd.clone(),
                volumes: l.volumes.clone(),
                working_dir: l.working_dir.clone(),
                labels: l.labels.clone(),
                stop_signal: l.stop_signal.clone(),
                args_escaped: l.args_escaped,
                healthcheck: l.healthcheck.clone(),
                on_build: l.on_build.clone(),
                shell: l.shell.clone(),
            },
        }
    }
}

/// `GET /images/{name}/json` (docker 28.2's `image.InspectResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageInspect {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "RepoTags")]
    pub repo_tags: Vec<String>,
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Vec<String>,
    #[serde(rename = "Parent")]
    pub parent: String,
    #[serde(rename = "Comment")]
    pub comment: String,
    #[serde(rename = "Created", default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(rename = "DockerVersion")]
    pub docker_version: String,
    #[serde(rename = "Author")]
    pub author: String,
    #[serde(rename = "Config")]
    pub config: InspectConfig,
    #[serde(rename = "Architecture")]
    pub architecture: String,
    #[serde(rename = "Variant", default, skip_serializing_if = "is_empty_str")]
    pub variant: String,
    #[serde(rename = "Os")]
    pub os: String,
    #[serde(rename = "OsVersion", default, skip_serializing_if = "is_empty_str")]
    pub os_version: String,
    #[serde(rename = "Size")]
    pub size: i64,
    /// Only for API < 1.44 (equal to `Size`).
    #[serde(
        rename = "VirtualSize",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub virtual_size: Option<i64>,
    #[serde(rename = "GraphDriver")]
    pub graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    #[serde(rename = "Metadata")]
    pub metadata: ImageMetadata,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphDriver {
    #[serde(rename = "Data")]
    pub data: BTreeMap<String, String>,
    #[serde(rename = "Name")]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Layers", default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageMetadata {
    /// RFC 3339 with nanoseconds; `0001-01-01T00:00:00Z` when never tagged locally.
    #[serde(rename = "LastTagTime")]
    pub last_tag_time: String,
}

/// One entry of `GET /images/{name}/history`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryItem {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "CreatedBy")]
    pub created_by: String,
    #[serde(rename = "Tags")]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "Size")]
    pub size: i64,
    #[serde(rename = "Comment")]
    pub comment: String,
}

/// One entry of `DELETE /images/{name}` and of [`PruneReport::images_deleted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeleteItem {
    Untagged(String),
    Deleted(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    #[serde(rename = "ImagesDeleted")]
    pub images_deleted: Option<Vec<DeleteItem>>,
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_items_serialize_as_docker() {
        let v = vec![
            DeleteItem::Untagged("busybox:latest".into()),
            DeleteItem::Deleted("sha256:abc".into()),
        ];
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"[{"Untagged":"busybox:latest"},{"Deleted":"sha256:abc"}]"#
        );
    }

    #[test]
    fn config_omits_empty_fields_and_legacy_keeps_them() {
        let c: ImageConfig = serde_json::from_str(
            r#"{"Env":["PATH=/bin"],"Cmd":["sh"],"WorkingDir":"","Labels":null}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"Env":["PATH=/bin"],"Cmd":["sh"]}"#
        );
        let legacy = serde_json::to_value(InspectConfig::Legacy(c.to_legacy())).unwrap();
        assert_eq!(legacy["Hostname"], "");
        assert!(legacy["Entrypoint"].is_null());
        assert!(legacy["Labels"].is_null());
        assert_eq!(legacy["Cmd"][0], "sh");
        assert!(legacy.get("ExposedPorts").is_none());
        let text = serde_json::to_string(&c.to_legacy()).unwrap();
        assert!(
            text.starts_with(r#"{"Hostname":"","Domainname":"","User":"""#),
            "{text}"
        );
    }
}
